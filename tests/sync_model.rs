//! Model-based property test of the indexer and the sync.
//!
//! Random sequences of create / modify / modify keeping size and mtime / delete / rename / chmod
//! / mkdir / rmdir / symlink / clock ticks / pushes run against a temporary tree and a simple
//! in-memory model of it. After every step the indexer's added/modified/deleted lists must equal
//! what the model says changed since the last push; every push goes through the real archive and
//! the system's GNU tar into a local directory, which must then equal the model minus ignored
//! paths, byte for byte (content, modes, nanosecond mtimes, symlink targets).
//!
//! Cases: 64 by default, `PROPTEST_CASES` for more. File mtimes come from a test clock so the
//! racy-timestamp rule is exercised deterministically.

use std::collections::BTreeMap;
use std::fs::{self, File, FileTimes};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use odo::indexer::testtree::{Node, snapshot};
use odo::indexer::{Changes, IgnoreConfig, ScanOptions, scan_tree};
use odo::sync::{LocalExec, PushRequest, SyncTarget, push_changes};
use proptest::prelude::*;

const NAMES: [&str; 8] = ["a", "b", "c d", "-x", "é", "n.log", "keep.log", "build"];
const GITIGNORE: &str = "*.log\n!keep.log\n/build/\n";
const WINDOW: i64 = 2_000_000_000;
const SEC: i64 = 1_000_000_000;

/// The model's ignore rules, written independently of the `ignore` crate.
fn ignored(rel: &str, is_dir: bool) -> bool {
    let comps: Vec<&str> = rel.split('/').collect();
    for i in 0..comps.len() {
        let name = comps[i];
        let dir = i + 1 < comps.len() || is_dir;
        if (name.ends_with(".log") && name != "keep.log") || (i == 0 && name == "build" && dir) {
            return true;
        }
    }
    false
}

#[derive(Debug, Clone)]
enum Op {
    Create(Vec<usize>, u8, usize),
    Modify(usize, u8, usize),
    ModifyKeepStat(usize, u8),
    Delete(usize),
    Rename(usize, Vec<usize>),
    Chmod(usize, u32),
    Mkdir(Vec<usize>),
    Rmdir(usize),
    Symlink(Vec<usize>, usize),
    Tick(i64),
    Push,
}

fn path_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..NAMES.len(), 1..=3)
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (path_strategy(), any::<u8>(), 0..300usize).prop_map(|(p, s, l)| Op::Create(p, s, l)),
        3 => (any::<usize>(), any::<u8>(), 0..300usize).prop_map(|(i, s, l)| Op::Modify(i, s, l)),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, s)| Op::ModifyKeepStat(i, s)),
        2 => any::<usize>().prop_map(Op::Delete),
        2 => (any::<usize>(), path_strategy()).prop_map(|(i, p)| Op::Rename(i, p)),
        2 => (any::<usize>(), prop::sample::select(vec![0o644u32, 0o600, 0o755, 0o750, 0o700])).prop_map(|(i, m)| Op::Chmod(i, m)),
        1 => path_strategy().prop_map(Op::Mkdir),
        1 => any::<usize>().prop_map(Op::Rmdir),
        1 => (path_strategy(), 0..4usize).prop_map(|(p, t)| Op::Symlink(p, t)),
        2 => (0..4i64).prop_map(Op::Tick),
        3 => Just(Op::Push),
    ]
}

struct World {
    src: tempfile::TempDir,
    dst: tempfile::TempDir,
    model: BTreeMap<String, Node>,
    synced: BTreeMap<String, Node>,
    synced_at: Option<i64>,
    clock: i64,
    writes: i64,
    rt: tokio::runtime::Runtime,
}

fn join(p: &[usize]) -> String {
    p.iter().map(|&i| NAMES[i]).collect::<Vec<_>>().join("/")
}

impl World {
    fn new() -> Self {
        let src = tempfile::tempdir().expect("tmp");
        let dst = tempfile::tempdir().expect("tmp");
        fs::write(src.path().join(".gitignore"), GITIGNORE).expect("gitignore");
        let mut w = Self {
            src,
            dst,
            model: BTreeMap::new(),
            synced: BTreeMap::new(),
            synced_at: None,
            clock: 1_700_000_000 * SEC,
            writes: 0,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        };
        w.write_file(".gitignore", GITIGNORE.as_bytes().to_vec());
        w
    }

    fn abs(&self, rel: &str) -> PathBuf {
        self.src.path().join(rel)
    }

    /// Reference time of a scan: the end of the current test-clock second.
    fn now(&self) -> i64 {
        self.clock + SEC - 1
    }

    fn fresh_mtime(&mut self) -> i64 {
        self.writes += 1;
        self.clock + self.writes
    }

    fn set_mtime(&self, rel: &str, mtime: i64) {
        let t = UNIX_EPOCH + Duration::from_nanos(u64::try_from(mtime).expect("positive"));
        File::options()
            .write(true)
            .open(self.abs(rel))
            .expect("open")
            .set_times(FileTimes::new().set_modified(t))
            .expect("mtime");
    }

    fn write_file(&mut self, rel: &str, content: Vec<u8>) {
        let mtime = self.fresh_mtime();
        self.write_with_mtime(rel, content, mtime);
    }

    fn write_with_mtime(&mut self, rel: &str, content: Vec<u8>, mtime: i64) {
        fs::write(self.abs(rel), &content).expect("write");
        self.set_mtime(rel, mtime);
        let mode = match self.model.get(rel) {
            Some(Node::File { mode, .. }) => *mode,
            _ => 0o644,
        };
        fs::set_permissions(self.abs(rel), fs::Permissions::from_mode(mode)).expect("chmod");
        self.model.insert(
            rel.to_string(),
            Node::File {
                content,
                mode,
                mtime,
            },
        );
    }

    /// Creates missing parent directories; false if a parent is not a directory.
    fn make_parents(&mut self, rel: &str) -> bool {
        let comps: Vec<&str> = rel.split('/').collect();
        for i in 1..comps.len() {
            let p = comps[..i].join("/");
            match self.model.get(&p) {
                Some(Node::Dir { .. }) => {}
                Some(_) => return false,
                None => {
                    fs::create_dir(self.abs(&p)).expect("mkdir");
                    fs::set_permissions(self.abs(&p), fs::Permissions::from_mode(0o755))
                        .expect("chmod");
                    self.model.insert(p, Node::Dir { mode: 0o755 });
                }
            }
        }
        true
    }

    fn free(&self, rel: &str) -> bool {
        !self.model.contains_key(rel) && rel != ".gitignore"
    }

    fn pick(&self, i: usize, f: impl Fn(&Node) -> bool) -> Option<String> {
        let v: Vec<&String> = self
            .model
            .iter()
            .filter(|(k, n)| *k != ".gitignore" && f(n))
            .map(|(k, _)| k)
            .collect();
        if v.is_empty() {
            None
        } else {
            Some(v[i % v.len()].clone())
        }
    }

    fn content(seed: u8, len: usize, salt: i64) -> Vec<u8> {
        (0..len)
            .map(|k| b'a' + ((k as i64 * 7 + i64::from(seed) + salt) % 26) as u8)
            .collect()
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Create(p, seed, len) => {
                let rel = join(p);
                if self.free(&rel) && self.make_parents(&rel) {
                    let c = Self::content(*seed, *len, self.writes);
                    self.write_file(&rel, c);
                }
            }
            Op::Modify(i, seed, len) => {
                if let Some(rel) = self.pick(*i, |n| matches!(n, Node::File { .. })) {
                    let c = Self::content(*seed, *len, self.writes + 1);
                    self.write_file(&rel, c);
                }
            }
            Op::ModifyKeepStat(i, seed) => {
                let Some(rel) = self.pick(*i, |n| matches!(n, Node::File { .. })) else {
                    return;
                };
                let Some(Node::File { content, mtime, .. }) = self.model.get(&rel).cloned() else {
                    return;
                };
                let mut new = content.clone();
                for (k, b) in new.iter_mut().enumerate() {
                    *b = b'A' + ((k + usize::from(*seed)) % 26) as u8;
                }
                // An edit that repeats size and mtime is only possible within one clock tick of
                // the last scan (the racy window); outside it, real edits move the mtime.
                let racy = self.synced_at.is_none_or(|at| mtime >= at - WINDOW)
                    || !matches!(self.synced.get(&rel), Some(Node::File { mtime: m, .. }) if *m == mtime);
                if racy {
                    self.write_with_mtime(&rel, new, mtime);
                } else {
                    self.write_file(&rel, new);
                }
            }
            Op::Delete(i) => {
                if let Some(rel) = self.pick(*i, |n| !matches!(n, Node::Dir { .. })) {
                    fs::remove_file(self.abs(&rel)).expect("rm");
                    self.model.remove(&rel);
                }
            }
            Op::Rename(i, p) => {
                let to = join(p);
                let Some(from) = self.pick(*i, |n| matches!(n, Node::File { .. })) else {
                    return;
                };
                if self.free(&to) && self.make_parents(&to) {
                    fs::rename(self.abs(&from), self.abs(&to)).expect("rename");
                    let node = self.model.remove(&from).expect("in model");
                    self.model.insert(to, node);
                }
            }
            Op::Chmod(i, mode) => {
                if let Some(rel) = self.pick(*i, |n| !matches!(n, Node::Symlink { .. })) {
                    let mode = match self.model.get_mut(&rel) {
                        Some(Node::File { mode: m, .. }) => {
                            *m = *mode;
                            *mode
                        }
                        Some(Node::Dir { mode: m }) => {
                            *m = *mode | 0o700;
                            *m
                        }
                        _ => return,
                    };
                    fs::set_permissions(self.abs(&rel), fs::Permissions::from_mode(mode))
                        .expect("chmod");
                }
            }
            Op::Mkdir(p) => {
                let rel = join(p);
                if self.free(&rel) && self.make_parents(&rel) {
                    fs::create_dir(self.abs(&rel)).expect("mkdir");
                    fs::set_permissions(self.abs(&rel), fs::Permissions::from_mode(0o755))
                        .expect("chmod");
                    self.model.insert(rel, Node::Dir { mode: 0o755 });
                }
            }
            Op::Rmdir(i) => {
                if let Some(rel) = self.pick(*i, |n| matches!(n, Node::Dir { .. })) {
                    fs::remove_dir_all(self.abs(&rel)).expect("rm -r");
                    let prefix = format!("{rel}/");
                    self.model
                        .retain(|k, _| *k != rel && !k.starts_with(&prefix));
                }
            }
            Op::Symlink(p, t) => {
                let rel = join(p);
                let target = ["a", "../outside", "/etc/hostname", "missing dir/x"][*t];
                if self.free(&rel) && self.make_parents(&rel) {
                    symlink(target, self.abs(&rel)).expect("symlink");
                    self.model.insert(
                        rel,
                        Node::Symlink {
                            target: PathBuf::from(target),
                        },
                    );
                }
            }
            Op::Tick(s) => self.clock += s * SEC,
            Op::Push => {}
        }
    }

    fn visible(&self) -> BTreeMap<String, Node> {
        self.model
            .iter()
            .filter(|(k, n)| !ignored(k, matches!(n, Node::Dir { .. })))
            .map(|(k, n)| (k.clone(), n.clone()))
            .collect()
    }

    /// What the model says changed since the last push.
    fn expected(&self) -> Changes {
        let now = self.visible();
        let mut c = Changes::default();
        let size = |n: &Node| {
            if let Node::File { content, .. } = n {
                content.len() as u64
            } else {
                0
            }
        };
        for (k, n) in &now {
            match self.synced.get(k) {
                None => {
                    c.added.push(k.clone());
                    c.added_bytes += size(n);
                }
                Some(old)
                    if old != n
                        && !matches!((old, n), (Node::Dir { mode: a }, Node::Dir { mode: b }) if a == b) =>
                {
                    c.modified.push(k.clone());
                    c.modified_bytes += size(n);
                }
                Some(_) => {}
            }
        }
        for (k, n) in &self.synced {
            if !now.contains_key(k) {
                c.deleted.push(k.clone());
                c.deleted_bytes += size(n);
            }
        }
        c
    }

    fn scan(&self) -> Changes {
        let opts = ScanOptions {
            now: Some(self.now()),
            ..ScanOptions::default()
        };
        scan_tree(self.src.path(), &IgnoreConfig::default(), &opts)
            .expect("scan")
            .changes
    }

    fn push(&mut self) -> Changes {
        let ignore = IgnoreConfig::default();
        let target = SyncTarget::new(self.dst.path().to_str().expect("utf-8"));
        let mut req = PushRequest::new(self.src.path(), &ignore, &target, "pod-uid");
        req.scan.now = Some(self.now());
        let report = self
            .rt
            .block_on(push_changes(
                &LocalExec::new(),
                &req,
                odo::sync::no_assemble,
            ))
            .expect("push");
        assert!(report.unsent.is_empty(), "{:?}", report.unsent);
        self.synced = self.visible();
        self.synced_at = Some(self.now());
        report.changes
    }

    fn target(&self) -> BTreeMap<String, Node> {
        snapshot(self.dst.path(), &|_, _| false).expect("target snapshot")
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn strip_warnings(mut c: Changes) -> Changes {
    c.warnings.clear();
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn indexer_and_sync_agree_with_the_model(ops in prop::collection::vec(op_strategy(), 1..30)) {
        let mut w = World::new();
        for op in ops.iter().chain(std::iter::once(&Op::Push)) {
            w.apply(op);
            let expected = w.expected();
            prop_assert_eq!(strip_warnings(w.scan()), expected.clone(), "scan after {:?}", op);
            if matches!(op, Op::Push) {
                let pushed = w.push();
                prop_assert_eq!(strip_warnings(pushed), expected, "push changes");
                prop_assert_eq!(w.target(), w.visible(), "target tree after push");
                prop_assert_eq!(strip_warnings(w.scan()), Changes::default(), "nothing pending after push");
            }
        }
    }
}

#[test]
fn model_ignore_rules_match_the_gitignore_file() {
    let dir = tempfile::tempdir().expect("tmp");
    fs::write(dir.path().join(".gitignore"), GITIGNORE).expect("write");
    let rules =
        odo::indexer::IgnoreRules::load(dir.path(), &IgnoreConfig::default()).expect("rules");
    for a in NAMES {
        for b in NAMES {
            for rel in [a.to_string(), format!("{a}/{b}")] {
                for is_dir in [false, true] {
                    assert_eq!(
                        rules.is_ignored_path(&rel, is_dir),
                        ignored(&rel, is_dir),
                        "{rel} dir={is_dir}"
                    );
                }
            }
        }
    }
}

#[test]
fn racy_edit_right_after_a_push() {
    let mut w = World::new();
    for op in [
        Op::Create(vec![0], 1, 10),
        Op::Push,
        Op::ModifyKeepStat(0, 3),
    ] {
        w.apply(&op);
        if matches!(op, Op::Push) {
            w.push();
        }
    }
    assert_eq!(w.expected().modified, ["a"]);
    assert_eq!(w.scan(), w.expected());
}
