//! The parallel walk that compares a source tree with its index.
//!
//! One pass of `ignore`'s parallel walker: every walker thread stats its entries, looks each one
//! up in the (read-only, shared) previous index, marks it seen, and keeps only what changed. No
//! list of the whole tree is built: the unchanged case allocates nothing per file. Deletions are
//! the index entries nobody marked. Files are hashed only when their timestamps cannot be trusted
//! (see [`ScanOptions::racy_window`]).
//!
//! The previous index is read and parsed on a thread of its own while the walk starts (on a
//! large tree the parse is a sizeable share of a no-change re-index). Entries the walk reaches
//! before the index is ready are kept aside and compared as soon as it is; the result is the
//! same as a walk that waited.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};
use sha2::{Digest as _, Sha256};

use super::Changes;
use super::index::{
    Cursor, Digest, EntryKind, FileIndex, IndexEntry, Meta, UNKNOWN_MODE, now_nanos,
};
use super::rules::IgnoreRules;
use super::timefmt::UnixNanos;

/// How a scan treats time and the previous index.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Reference time of this scan (nanoseconds); `None` = the clock when the walk starts.
    /// Tests set it to make the racy-timestamp rule deterministic.
    pub now: Option<UnixNanos>,
    /// A file whose mtime is within this many nanoseconds before the scan (or later) has a
    /// timestamp that a same-tick edit could repeat: its content is hashed. Covers coarse kernel
    /// clocks and 1–2 s file-system granularity. Default 2 s.
    pub racy_window: i64,
    /// Report every present path as added or modified (forced push), still computing deletions.
    pub resend_all: bool,
    /// Walker threads; 0 = the `ignore` crate's default (available parallelism).
    pub threads: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            now: None,
            racy_window: 2_000_000_000,
            resend_all: false,
            threads: 0,
        }
    }
}

/// How a path differs from the previous index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Not in the previous index.
    Added,
    /// In the index but different; `type_changed` when it was another kind of object (or an
    /// entry of unknown kind), which the remote side must remove before extracting.
    Modified {
        /// The old object must be removed first.
        type_changed: bool,
    },
    /// Same content, but the recorded metadata should be refreshed (e.g. a directory's mtime).
    Refresh,
}

/// One path whose index entry changes, with its new metadata.
#[derive(Debug, Clone)]
pub struct Update {
    /// Relative path, forward slashes.
    pub path: String,
    /// Metadata just read from disk.
    pub meta: Meta,
    /// Why it is listed.
    pub change: ChangeKind,
}

/// Result of comparing a tree with its index: the changes plus what is needed to write the next
/// index and to build the tar stream.
#[derive(Debug)]
pub struct Scan {
    /// Sorted lists and totals.
    pub changes: Changes,
    /// Added, modified and refreshed paths with their metadata, sorted by path.
    pub updates: Vec<Update>,
    /// Paths that changed kind (file/dir/symlink) and must be removed remotely before extraction.
    pub type_changed: Vec<String>,
    /// Reference time of this scan.
    pub scanned_at: UnixNanos,
    /// The previous index (its `seen` marks set by the walk).
    pub previous: FileIndex,
}

impl Scan {
    /// Added and modified entries (what the tar stream carries), sorted by path.
    pub fn to_send(&self) -> impl Iterator<Item = &Update> {
        self.updates
            .iter()
            .filter(|u| u.change != ChangeKind::Refresh)
    }

    /// The index to write once everything was synced. `unsent` paths (files that could not be
    /// read while building the archive) keep their previous entry, so they stay pending.
    pub fn into_new_index(self, unsent: &[String]) -> FileIndex {
        let mut index = self.previous;
        for path in &self.changes.deleted {
            index.remove(path);
        }
        for u in self.updates {
            if unsent.binary_search(&u.path).is_ok() {
                continue;
            }
            index.insert(&u.path, u.meta);
        }
        index.scanned_at = Some(self.scanned_at);
        index
    }
}

/// Errors that stop a scan (everything else becomes a warning).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The context directory does not exist or is not a directory.
    #[error("source directory {path} cannot be read: {cause}; check --context")]
    Root {
        /// The context directory.
        path: PathBuf,
        /// I/O error.
        cause: std::io::Error,
    },
}

/// The previous index as a scan compares against it: the loader of [`scan_with`] returns it.
#[derive(Debug)]
pub struct Previous<T> {
    /// The index of the last push.
    pub index: FileIndex,
    /// Report every present path as added or modified (overrides [`ScanOptions::resend_all`],
    /// so the decision can depend on the index).
    pub resend_all: bool,
    /// Anything else the loader wants to hand back (a warning, a reason).
    pub extra: T,
}

/// Walks `root` and compares it with `previous`.
pub fn scan(
    root: &Path,
    rules: &IgnoreRules,
    previous: FileIndex,
    opts: &ScanOptions,
) -> Result<Scan, ScanError> {
    let resend_all = opts.resend_all;
    let load = move || Previous {
        index: previous,
        resend_all,
        extra: (),
    };
    scan_with(root, rules, opts, load).map(|(scan, ())| scan)
}

/// Walks `root` and compares it with the index `load` returns; `load` runs on its own thread,
/// concurrently with the walk. Returns the scan and the loader's `extra`.
pub fn scan_with<T: Send>(
    root: &Path,
    rules: &IgnoreRules,
    opts: &ScanOptions,
    load: impl FnOnce() -> Previous<T> + Send,
) -> Result<(Scan, T), ScanError> {
    let md = std::fs::metadata(root).map_err(|cause| ScanError::Root {
        path: root.to_path_buf(),
        cause,
    })?;
    if !md.is_dir() {
        let cause = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory");
        return Err(ScanError::Root {
            path: root.to_path_buf(),
            cause,
        });
    }
    let now = opts.now.unwrap_or_else(now_nanos);
    let root_bytes = root.as_os_str().as_encoded_bytes();
    let loaded = OnceLock::new();
    let ctx = Ctx {
        root,
        root_bytes: root_bytes.strip_suffix(b"/").unwrap_or(root_bytes),
        rules,
        previous: &loaded,
        new_racy_from: now.saturating_sub(opts.racy_window),
    };
    let sink = Mutex::new(Vec::new());
    let extra = std::thread::scope(|s| {
        let loader = s.spawn(|| {
            let p = load();
            let _ = loaded.set(Loaded {
                old_racy_from: p
                    .index
                    .scanned_at
                    .map(|t| t.saturating_sub(opts.racy_window)),
                index: p.index,
                resend_all: p.resend_all,
            });
            p.extra
        });
        let mut builder = VisitorBuilder {
            ctx: &ctx,
            sink: &sink,
        };
        walker(root, opts.threads)
            .build_parallel()
            .visit(&mut builder);
        loader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    // What the walk reached before the index was ready.
    let mut parts = sink.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(prev) = loaded.get() {
        let mut late = Part::default();
        for part in &mut parts {
            for d in std::mem::take(&mut part.deferred) {
                let old = prev.index.get(&d.rel);
                late.compare(&ctx, prev, old, &d.rel, &d.path, d.meta);
            }
        }
        parts.push(late);
    }
    let Loaded {
        index: previous, ..
    } = loaded
        .into_inner()
        .unwrap_or_else(|| unreachable!("the loader thread sets the index before it ends"));

    let mut updates = Vec::new();
    let mut warnings = Vec::new();
    let mut errored = Vec::new();
    for part in parts {
        updates.extend(part.updates);
        warnings.extend(part.warnings);
        errored.extend(part.errored);
    }
    updates.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    warnings.sort();
    errored.sort();

    let mut changes = Changes {
        warnings,
        ..Changes::default()
    };
    let mut type_changed = Vec::new();
    for u in &updates {
        let bytes = if u.meta.kind == EntryKind::File {
            u.meta.size
        } else {
            0
        };
        match u.change {
            ChangeKind::Added => {
                changes.added.push(u.path.clone());
                changes.added_bytes += bytes;
            }
            ChangeKind::Modified { type_changed: tc } => {
                changes.modified.push(u.path.clone());
                changes.modified_bytes += bytes;
                if tc {
                    type_changed.push(u.path.clone());
                }
            }
            ChangeKind::Refresh => {}
        }
    }
    for (path, entry) in previous.iter() {
        if entry.was_seen() || is_under_any(path, &errored) {
            continue;
        }
        changes.deleted.push(path.to_string());
        if matches!(entry.meta.kind, EntryKind::File | EntryKind::Unknown) {
            changes.deleted_bytes += entry.meta.size;
        }
    }
    changes.deleted.sort_unstable();
    let scan = Scan {
        changes,
        updates,
        type_changed,
        scanned_at: now,
        previous,
    };
    Ok((scan, extra))
}

/// The walker configuration shared by the scan and the stat-only floor benchmark: no standard
/// filters (ignore rules are applied by the visitor), symlinks not followed.
pub fn walker(root: &Path, threads: usize) -> WalkBuilder {
    let mut b = WalkBuilder::new(root);
    b.standard_filters(false)
        .hidden(false)
        .parents(false)
        .follow_links(false)
        .threads(threads);
    b
}

fn is_under_any(path: &str, dirs: &[String]) -> bool {
    dirs.iter().any(|d| {
        path == d || (path.starts_with(d.as_str()) && path.as_bytes().get(d.len()) == Some(&b'/'))
    })
}

struct Ctx<'a> {
    root: &'a Path,
    root_bytes: &'a [u8],
    rules: &'a IgnoreRules,
    /// Set by the loader thread once the previous index is parsed.
    previous: &'a OnceLock<Loaded>,
    new_racy_from: UnixNanos,
}

/// The previous index and what follows from it.
struct Loaded {
    index: FileIndex,
    old_racy_from: Option<UnixNanos>,
    resend_all: bool,
}

/// An entry stat'ed before the previous index was ready.
struct Deferred {
    rel: String,
    path: PathBuf,
    meta: Meta,
}

/// What one walker thread found.
#[derive(Default)]
struct Part {
    updates: Vec<Update>,
    warnings: Vec<String>,
    errored: Vec<String>,
    deferred: Vec<Deferred>,
}

struct VisitorBuilder<'a> {
    ctx: &'a Ctx<'a>,
    sink: &'a Mutex<Vec<Part>>,
}

impl<'s> ParallelVisitorBuilder<'s> for VisitorBuilder<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            ctx: self.ctx,
            sink: self.sink,
            part: Part::default(),
            cursor: None,
        })
    }
}

struct Visitor<'a> {
    ctx: &'a Ctx<'a>,
    sink: &'a Mutex<Vec<Part>>,
    part: Part,
    /// This thread's lookups into the previous index, once it is loaded.
    cursor: Option<Cursor<'a>>,
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let part = std::mem::take(&mut self.part);
        match self.sink.lock() {
            Ok(mut v) => v.push(part),
            Err(p) => p.into_inner().push(part),
        }
    }
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        match entry {
            Ok(entry) => self.visit_entry(&entry),
            Err(err) => {
                self.on_walk_error(&err);
                WalkState::Continue
            }
        }
    }
}

impl Visitor<'_> {
    /// `path` relative to the root, as UTF-8 (`None` if not UTF-8). The walker builds every path
    /// as `root.join(..)`, so a byte-prefix strip is exact; `Path::strip_prefix` is the fallback.
    fn rel<'p>(&self, path: &'p Path) -> Option<&'p str> {
        let bytes = path.as_os_str().as_encoded_bytes();
        if let Some(rest) = bytes.strip_prefix(self.ctx.root_bytes)
            && let Some(rest) = rest.strip_prefix(b"/")
        {
            return std::str::from_utf8(rest).ok();
        }
        path.strip_prefix(self.ctx.root).ok()?.to_str()
    }

    fn on_walk_error(&mut self, err: &ignore::Error) {
        let path = error_path(err);
        if let Some(rel) = path
            .as_deref()
            .and_then(|p| self.rel(p))
            .filter(|r| !r.is_empty())
        {
            self.part.errored.push(rel.to_string());
        }
        self.part.warnings.push(format!("skipped: {err}"));
    }

    fn visit_entry(&mut self, entry: &DirEntry) -> WalkState {
        if entry.depth() == 0 {
            return WalkState::Continue;
        }
        let path = entry.path();
        let Some(rel) = self.rel(path) else {
            self.part.warnings.push(format!(
                "skipped {}: the name is not valid UTF-8",
                path.display()
            ));
            return WalkState::Skip;
        };
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if self.ctx.rules.is_ignored_entry(rel, is_dir) {
            return WalkState::Skip;
        }
        let md = match entry.metadata() {
            Ok(md) => md,
            Err(err) => {
                if err
                    .io_error()
                    .is_none_or(|e| e.kind() != std::io::ErrorKind::NotFound)
                {
                    self.part.errored.push(rel.to_string());
                    self.part.warnings.push(format!("skipped {rel}: {err}"));
                }
                return WalkState::Skip;
            }
        };
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_file() {
            EntryKind::File
        } else if ft.is_symlink() {
            EntryKind::Symlink
        } else {
            self.part.warnings.push(format!(
                "skipped {rel}: not a regular file, directory or symlink"
            ));
            return WalkState::Continue;
        };
        let mut meta = Meta {
            size: md.len(),
            mtime: mtime_nanos(&md),
            hash: None,
            mode: mode_bits(&md),
            kind,
        };
        if kind == EntryKind::Symlink {
            match std::fs::read_link(path) {
                Ok(target) => {
                    meta.hash = Some(Box::new(sha256_bytes(
                        target.as_os_str().as_encoded_bytes(),
                    )))
                }
                Err(err) => {
                    self.part.errored.push(rel.to_string());
                    self.part
                        .warnings
                        .push(format!("skipped symlink {rel}: {err}"));
                    return WalkState::Continue;
                }
            }
        }
        let Some(prev) = self.ctx.previous.get() else {
            self.part.deferred.push(Deferred {
                rel: rel.to_string(),
                path: path.to_path_buf(),
                meta,
            });
            return WalkState::Continue;
        };
        let cursor = self.cursor.get_or_insert_with(|| Cursor::new(&prev.index));
        if !self.part.deferred.is_empty() {
            for d in std::mem::take(&mut self.part.deferred) {
                let old = cursor.get(&d.rel);
                self.part
                    .compare(self.ctx, prev, old, &d.rel, &d.path, d.meta);
            }
        }
        let old = cursor.get(rel);
        self.part.compare(self.ctx, prev, old, rel, path, meta);
        WalkState::Continue
    }
}

impl Part {
    /// Compares one stat'ed entry with its entry `old` in the previous index (looked up by
    /// the caller) and records what changed.
    fn compare(
        &mut self,
        ctx: &Ctx<'_>,
        prev: &Loaded,
        old: Option<&IndexEntry>,
        rel: &str,
        path: &Path,
        mut meta: Meta,
    ) {
        if let Some(e) = old {
            e.mark_seen();
        }
        let change = match classify(prev, path, old.map(|e| &e.meta), &mut meta) {
            Ok(c) => c,
            Err(err) => {
                self.errored.push(rel.to_string());
                self.warnings
                    .push(format!("skipped {rel}: cannot read it: {err}"));
                return;
            }
        };
        if let Some(change) = change {
            if meta.kind == EntryKind::File
                && change != ChangeKind::Refresh
                && meta.hash.is_none()
                && meta.mtime >= ctx.new_racy_from
            {
                match hash_file(path) {
                    Ok(h) => meta.hash = Some(Box::new(h)),
                    Err(err) => self.warnings.push(format!("{rel}: cannot read it: {err}")),
                }
            }
            self.updates.push(Update {
                path: rel.to_string(),
                meta,
                change,
            });
        }
    }
}

/// Decides how `new` (just read from disk) differs from `old`; may hash the file.
fn classify(
    prev: &Loaded,
    path: &Path,
    old: Option<&Meta>,
    new: &mut Meta,
) -> std::io::Result<Option<ChangeKind>> {
    use EntryKind::{Dir, File, Symlink, Unknown};
    let Some(old) = old else {
        return Ok(Some(ChangeKind::Added));
    };
    let same_stat = old.size == new.size && old.mtime == new.mtime;
    let mode_differs = old.mode != UNKNOWN_MODE && old.mode != new.mode;
    let refresh = |stale: bool| {
        if stale {
            Some(ChangeKind::Refresh)
        } else {
            None
        }
    };
    let modified = Some(ChangeKind::Modified {
        type_changed: false,
    });
    if prev.resend_all {
        let type_changed = old.kind != new.kind && !(old.kind == Unknown && new.kind != Symlink);
        return Ok(Some(ChangeKind::Modified { type_changed }));
    }
    Ok(match (old.kind, new.kind) {
        (Dir, Dir) => {
            if mode_differs {
                modified
            } else {
                refresh(!same_stat)
            }
        }
        (Unknown, Dir) => Some(ChangeKind::Refresh),
        (Symlink, Symlink) => {
            if old.hash != new.hash {
                modified
            } else {
                refresh(!same_stat || old.mode != new.mode)
            }
        }
        (File | Unknown, File) => {
            if !same_stat || mode_differs {
                modified
            } else if prev.old_racy_from.is_some_and(|from| old.mtime >= from) {
                let h = hash_file(path)?;
                if old.hash.as_deref() == Some(&h) {
                    refresh(old.mode == UNKNOWN_MODE || old.kind == Unknown)
                } else {
                    new.hash = Some(Box::new(h));
                    modified
                }
            } else {
                refresh(old.mode == UNKNOWN_MODE || old.kind == Unknown)
            }
        }
        _ => Some(ChangeKind::Modified { type_changed: true }),
    }
    .inspect(|c| {
        // A verified-unchanged racy file keeps its recorded hash in the refreshed entry.
        if *c == ChangeKind::Refresh && new.hash.is_none() {
            new.hash.clone_from(&old.hash);
        }
    }))
}

fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        ignore::Error::Partial(errs) => errs.iter().find_map(error_path),
        _ => None,
    }
}

/// Modification time of a `stat` result in nanoseconds since the epoch.
#[cfg(unix)]
pub fn mtime_nanos(md: &std::fs::Metadata) -> UnixNanos {
    use std::os::unix::fs::MetadataExt;
    md.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(md.mtime_nsec())
}

/// Modification time of a `stat` result in nanoseconds since the epoch.
#[cfg(not(unix))]
pub fn mtime_nanos(md: &std::fs::Metadata) -> UnixNanos {
    md.modified()
        .map(super::index::system_time_nanos)
        .unwrap_or(0)
}

/// Permission bits of a `stat` result.
#[cfg(unix)]
pub fn mode_bits(md: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    md.permissions().mode() & 0o7777
}

/// Permission bits of a `stat` result (approximated from the read-only flag).
#[cfg(not(unix))]
pub fn mode_bits(md: &std::fs::Metadata) -> u32 {
    if md.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

/// SHA-256 of a byte string.
pub fn sha256_bytes(bytes: &[u8]) -> Digest {
    Sha256::digest(bytes).into()
}

/// SHA-256 of a file's content, streamed.
pub fn hash_file(path: &Path) -> std::io::Result<Digest> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}
