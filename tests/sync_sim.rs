//! The sync into a container of the simulator, checked against the source tree: random trees
//! and random edits (writes, deletions, chmods, directories, symlinks, ignored paths) are pushed
//! with the real archive into a running pod (tar over exec, `rm` over exec), then read back out
//! of the container with `tar cf -` and compared with the source minus ignored paths: content,
//! permission bits, symlink targets and mtimes (to the second, what a ustar header holds).
//!
//! Cases: 32 by default, `PROPTEST_CASES` for more.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use odo::indexer::IgnoreConfig;
use odo::indexer::testtree::{Node, snapshot};
use odo::sync::{ExecStdin, PodExec, PushRequest, RemoteExec, SyncTarget, push_changes};
use odo_sim::Sim;
use proptest::prelude::*;

const PATHS: [&str; 9] = [
    "a",
    "b c",
    "-x",
    "é/f",
    "d/e/g",
    "n.log",
    "keep.log",
    "build/out",
    "d/ünï code.txt",
];
const GITIGNORE: &str = "*.log\n!keep.log\n/build/\n";
const TARGET: &str = "/tmp/src";
/// Virtual time per step while a push or a read-back waits on the simulator.
const TICK: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
enum Op {
    Write(usize, u8, usize),
    Delete(usize),
    Chmod(usize, bool),
    Mkdir(usize),
    Symlink(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let i = 0..PATHS.len();
    prop_oneof![
        4 => (i.clone(), any::<u8>(), 0..300usize).prop_map(|(p, s, n)| Op::Write(p, s, n)),
        2 => i.clone().prop_map(Op::Delete),
        1 => (i.clone(), any::<bool>()).prop_map(|(p, x)| Op::Chmod(p, x)),
        1 => i.clone().prop_map(Op::Mkdir),
        1 => (i.clone(), i).prop_map(|(p, t)| Op::Symlink(p, t)),
    ]
}

/// Applies `op` to the tree under `root`; an op that does not fit the tree (a file where a
/// directory is needed, a missing path) is skipped, as a user would not do it either.
fn apply(root: &Path, op: &Op) {
    let path = |i: usize| root.join(PATHS[i]);
    let parents_ok = |p: &Path| {
        let Some(parent) = p.parent() else {
            return false;
        };
        std::fs::create_dir_all(parent).is_ok()
    };
    match *op {
        Op::Write(i, seed, len) => {
            let p = path(i);
            if parents_ok(&p) && !p.is_dir() && !p.is_symlink() {
                let content: Vec<u8> = (0..len).map(|k| seed.wrapping_add(k as u8)).collect();
                let _ = std::fs::write(&p, content);
            }
        }
        Op::Delete(i) => {
            let p = path(i);
            if p.is_symlink() || p.is_file() {
                let _ = std::fs::remove_file(&p);
            } else if p.is_dir() {
                let _ = std::fs::remove_dir_all(&p);
            }
        }
        Op::Chmod(i, exec) => {
            let p = path(i);
            if p.is_file() && !p.is_symlink() {
                let mode = if exec { 0o755 } else { 0o640 };
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
            }
        }
        Op::Mkdir(i) => {
            let p = path(i);
            if parents_ok(&p) && !p.exists() && !p.is_symlink() {
                let _ = std::fs::create_dir(&p);
            }
        }
        Op::Symlink(i, t) => {
            let p = path(i);
            if parents_ok(&p) && !p.exists() && !p.is_symlink() {
                let _ = symlink(PATHS[t], &p);
            }
        }
    }
}

/// The model's ignore rules for [`GITIGNORE`], written independently of the `ignore` crate.
/// `*.log` (files and directories, any depth) except `keep.log`; `/build/` (the directory at
/// the top only).
fn ignored(rel: &str, is_dir: bool) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    (name.ends_with(".log") && name != "keep.log") || (rel == "build" && is_dir)
}

/// What the container must hold: the source minus ignored paths, mtimes to the second.
fn expected(src: &Path) -> BTreeMap<String, Node> {
    let mut tree = snapshot(src, &ignored).expect("source snapshot");
    for n in tree.values_mut() {
        if let Node::File { mtime, .. } = n {
            *mtime -= mtime.rem_euclid(1_000_000_000);
        }
    }
    tree
}

/// The target directory as the container has it, read back through `tar cf -` over exec.
async fn read_back(exec: &PodExec) -> BTreeMap<String, Node> {
    let cmd: Vec<String> = ["tar", "cf", "-", "-C", TARGET, "."]
        .iter()
        .map(ToString::to_string)
        .collect();
    let out = exec.exec(&cmd, None::<ExecStdin>).await.expect("exec tar");
    assert!(out.success(), "tar cf: {}", out.stderr_text());
    let mut tree = BTreeMap::new();
    let mut archive = tar::Archive::new(out.stdout.as_slice());
    for entry in archive.entries().expect("archive") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let rel = path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if rel.is_empty() || rel == "." {
            continue;
        }
        let header = entry.header().clone();
        let mode = header.mode().expect("mode") & 0o7777;
        let node = match header.entry_type() {
            tar::EntryType::Directory => Node::Dir { mode },
            tar::EntryType::Symlink => Node::Symlink {
                target: entry
                    .link_name()
                    .expect("link")
                    .expect("link target")
                    .into_owned(),
            },
            _ => {
                let mut content = Vec::new();
                entry.read_to_end(&mut content).expect("content");
                let secs = i64::try_from(header.mtime().expect("mtime")).expect("mtime fits");
                Node::File {
                    content,
                    mode,
                    mtime: secs * 1_000_000_000,
                }
            }
        };
        tree.insert(rel, node);
    }
    tree
}

/// A pod of the simulator to sync into, running, and an exec into its container.
async fn running_pod(sim: &Sim) -> PodExec {
    let api: Api<Pod> = Api::namespaced(sim.client(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "target"},
        "spec": {"containers": [{"name": "app", "image": "busybox:latest",
                                  "command": ["sh", "-c", "mkdir -p /tmp/src && sleep 100000"]}]}
    }))
    .expect("pod");
    api.create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    sim.settle_for(Duration::from_secs(30));
    PodExec::new(api, "target", Some("app".into()))
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_container_mirrors_the_tree_after_every_push(
        pushes in prop::collection::vec(prop::collection::vec(op(), 1..10), 1..4)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let src = tempfile::tempdir().expect("tmp");
        std::fs::write(src.path().join(".gitignore"), GITIGNORE).expect("gitignore");
        let sim = Sim::builder().build().expect("sim");
        rt.block_on(async {
            let exec = running_pod(&sim).await;
            let ignore = IgnoreConfig::default();
            let target = SyncTarget::new(TARGET);
            for (n, ops) in pushes.iter().enumerate() {
                for op in ops {
                    apply(src.path(), op);
                }
                let req = PushRequest::new(src.path(), &ignore, &target, "uid-1");
                let report = sim.advancing(TICK, push_changes(&exec, &req, odo::sync::no_assemble))
                    .await
                    .expect("push");
                prop_assert!(report.unsent.is_empty(), "{:?}", report.unsent);
                let got = sim.advancing(TICK, read_back(&exec)).await;
                let want = expected(src.path());
                prop_assert_eq!(got, want, "container tree after push {} of {:?}", n + 1, pushes);
            }
            Ok(())
        })?;
    }
}
