//! The container's view of files: a root tree plus mounted trees, with path resolution.
//!
//! A [`SharedTree`] is one mutable tree behind a lock (a container's writable root layer, or a
//! volume). A [`Vfs`] combines a root tree and mounts (volume, subPath, readOnly) and offers the
//! operations programs need: stat, read, write, mkdir, readdir, remove, rename, symlink. Locks
//! are held only inside one operation, never across an await, and never two at once.

mod node;

pub use node::{DirNode, FileNode, Kind, Node, SymlinkNode};

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use jiff::Timestamp;

/// A filesystem error, rendered like the messages of coreutils (`path: No such file or directory`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    /// The path or one of its parents does not exist.
    #[error("{0}: No such file or directory")]
    NotFound(String),
    /// A parent component is not a directory.
    #[error("{0}: Not a directory")]
    NotADir(String),
    /// A directory was used where a file is needed.
    #[error("{0}: Is a directory")]
    IsADir(String),
    /// The entry already exists.
    #[error("{0}: File exists")]
    Exists(String),
    /// The path lies in a read-only mount.
    #[error("{0}: Read-only file system")]
    ReadOnly(String),
    /// A directory that must be empty is not.
    #[error("{0}: Directory not empty")]
    NotEmpty(String),
    /// Too many levels of symbolic links.
    #[error("{0}: Too many levels of symbolic links")]
    Loop(String),
    /// Moving or removing a mount point.
    #[error("{0}: Device or resource busy")]
    Busy(String),
}

/// Result of a filesystem operation.
pub type FsResult<T> = Result<T, FsError>;

/// One mutable tree shared by everything that mounts it (a container root layer or a volume).
#[derive(Clone, Debug)]
pub struct SharedTree(Arc<Mutex<Arc<Node>>>);

impl SharedTree {
    /// A tree whose root is `root`.
    pub fn new(root: Arc<Node>) -> Self {
        SharedTree(Arc::new(Mutex::new(root)))
    }

    /// An empty directory tree (a fresh emptyDir or PV).
    pub fn empty(mtime: Timestamp) -> Self {
        Self::new(Arc::new(Node::empty_dir(0o777, mtime)))
    }

    fn lock(&self) -> MutexGuard<'_, Arc<Node>> {
        // A panic while holding the lock leaves a consistent tree (every change is one assignment).
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A snapshot of the whole tree (cheap: shares every node).
    pub fn snapshot(&self) -> Arc<Node> {
        self.lock().clone()
    }

    /// Replaces the whole tree (a container restart resets its writable layer this way).
    pub fn replace(&self, root: Arc<Node>) {
        *self.lock() = root;
    }

    /// Whether two handles refer to the same tree.
    pub fn same(&self, other: &SharedTree) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Runs `f` on the mutable node at `path` (creating nothing); the path must exist.
    fn with_mut<R>(
        &self,
        path: &[String],
        shown: &str,
        f: impl FnOnce(&mut Node) -> FsResult<R>,
    ) -> FsResult<R> {
        let mut root = self.lock();
        let mut cur: &mut Node = Arc::make_mut(&mut root);
        for name in path {
            cur = match cur {
                Node::Dir(d) => match d.entries.get_mut(name) {
                    Some(child) => Arc::make_mut(child),
                    None => return Err(FsError::NotFound(shown.to_string())),
                },
                _ => return Err(FsError::NotADir(shown.to_string())),
            };
        }
        f(cur)
    }
}

/// A volume mounted into a container.
#[derive(Clone, Debug)]
pub struct Mount {
    /// Absolute mount point, as components.
    pub at: Vec<String>,
    /// The mounted tree.
    pub tree: SharedTree,
    /// Path inside the tree that is mounted (subPath), as components.
    pub sub: Vec<String>,
    /// Whether writes are refused.
    pub read_only: bool,
}

/// Metadata of an entry (what `stat` returns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// File, directory or symlink.
    pub kind: Kind,
    /// Permission bits.
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time.
    pub mtime: Timestamp,
}

impl Meta {
    fn of(n: &Node) -> Self {
        Meta {
            kind: n.kind(),
            mode: n.mode(),
            size: n.size(),
            mtime: n.mtime(),
        }
    }
}

/// Splits a path into components, dropping empty ones and `.`.
pub fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

/// Joins `path` onto `cwd` unless it is absolute; the result is lexically normalised.
pub fn absolute(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    let mut out: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

fn show(comps: &[String]) -> String {
    format!("/{}", comps.join("/"))
}

/// A container's filesystem: its root layer plus mounts.
#[derive(Clone, Debug)]
pub struct Vfs {
    root: SharedTree,
    mounts: Vec<Mount>,
}

/// Where a canonical path lives: which tree, the path inside it, and whether it is writable.
struct Located {
    tree: SharedTree,
    inner: Vec<String>,
    read_only: bool,
    /// True when the path is exactly a mount point.
    is_mount_point: bool,
}

impl Vfs {
    /// A filesystem over `root` with `mounts` (the longest mount point wins).
    pub fn new(root: SharedTree, mut mounts: Vec<Mount>) -> Self {
        mounts.sort_by_key(|m| std::cmp::Reverse(m.at.len()));
        Vfs { root, mounts }
    }

    /// The root layer.
    pub fn root(&self) -> &SharedTree {
        &self.root
    }

    /// The mounts, longest mount point first.
    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    fn locate(&self, canon: &[String]) -> Located {
        for m in &self.mounts {
            if canon.len() >= m.at.len() && canon[..m.at.len()] == m.at[..] {
                let mut inner = m.sub.clone();
                inner.extend(canon[m.at.len()..].iter().cloned());
                return Located {
                    tree: m.tree.clone(),
                    inner,
                    read_only: m.read_only,
                    is_mount_point: canon.len() == m.at.len(),
                };
            }
        }
        Located {
            tree: self.root.clone(),
            inner: canon.to_vec(),
            read_only: false,
            is_mount_point: false,
        }
    }

    fn lookup_canon(&self, canon: &[String]) -> Option<Arc<Node>> {
        let loc = self.locate(canon);
        loc.tree.snapshot().get(&loc.inner).or_else(|| {
            // A directory that only exists because something is mounted below it.
            self.mounts
                .iter()
                .any(|m| m.at.len() > canon.len() && m.at[..canon.len()] == *canon)
                .then(|| Arc::new(Node::empty_dir(0o755, Timestamp::UNIX_EPOCH)))
        })
    }

    /// Resolves `path` (absolute) to canonical components, following symlinks in every component
    /// but the last unless `follow_last`. The last component need not exist.
    pub fn canonicalize(&self, path: &str, follow_last: bool) -> FsResult<Vec<String>> {
        let mut pending: Vec<String> = components(path);
        pending.reverse();
        let mut out: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            if c == ".." {
                out.pop();
                continue;
            }
            out.push(c);
            let is_last = pending.is_empty();
            match self.lookup_canon(&out) {
                Some(n) => match &*n {
                    Node::Symlink(s) if !is_last || follow_last => {
                        hops += 1;
                        if hops > 40 {
                            return Err(FsError::Loop(path.to_string()));
                        }
                        out.pop();
                        if s.target.starts_with('/') {
                            out.clear();
                        }
                        let mut t = components(&s.target);
                        t.reverse();
                        pending.extend(t);
                    }
                    Node::Dir(_) | Node::Symlink(_) => {}
                    Node::File(_) if !is_last => return Err(FsError::NotADir(path.to_string())),
                    Node::File(_) => {}
                },
                None if !is_last => return Err(FsError::NotFound(path.to_string())),
                None => {}
            }
        }
        Ok(out)
    }

    /// The node at `path`, following symlinks (including the last component).
    pub fn node(&self, path: &str) -> FsResult<Arc<Node>> {
        let canon = self.canonicalize(path, true)?;
        self.lookup_canon(&canon)
            .ok_or_else(|| FsError::NotFound(path.to_string()))
    }

    /// The node at `path` without following a final symlink (what `lstat` sees).
    pub fn lnode(&self, path: &str) -> FsResult<Arc<Node>> {
        let canon = self.canonicalize(path, false)?;
        self.lookup_canon(&canon)
            .ok_or_else(|| FsError::NotFound(path.to_string()))
    }

    /// Metadata, following symlinks.
    pub fn stat(&self, path: &str) -> FsResult<Meta> {
        self.node(path).map(|n| Meta::of(&n))
    }

    /// Metadata of the entry itself.
    pub fn lstat(&self, path: &str) -> FsResult<Meta> {
        self.lnode(path).map(|n| Meta::of(&n))
    }

    /// Whether `path` exists (following symlinks).
    pub fn exists(&self, path: &str) -> bool {
        self.node(path).is_ok()
    }

    /// Whether `path` is a directory (following symlinks).
    pub fn is_dir(&self, path: &str) -> bool {
        matches!(self.node(path).as_deref(), Ok(Node::Dir(_)))
    }

    /// The bytes of the file at `path`.
    pub fn read(&self, path: &str) -> FsResult<Bytes> {
        match &*self.node(path)? {
            Node::File(f) => Ok(f.data.clone()),
            Node::Dir(_) => Err(FsError::IsADir(path.to_string())),
            Node::Symlink(_) => Err(FsError::Loop(path.to_string())),
        }
    }

    /// The entries of the directory at `path`, by name.
    pub fn read_dir(&self, path: &str) -> FsResult<Vec<(String, Meta)>> {
        let canon = self.canonicalize(path, true)?;
        let node = self
            .lookup_canon(&canon)
            .ok_or_else(|| FsError::NotFound(path.to_string()))?;
        match &*node {
            Node::Dir(d) => {
                let mut out = Vec::with_capacity(d.entries.len());
                for name in d.entries.keys() {
                    let mut child = canon.clone();
                    child.push(name.clone());
                    // A mount point shows the mounted tree's root, not the placeholder below it.
                    if let Some(n) = self.lookup_canon(&child) {
                        out.push((name.clone(), Meta::of(&n)));
                    }
                }
                Ok(out)
            }
            _ => Err(FsError::NotADir(path.to_string())),
        }
    }

    /// Splits `path` into its located parent and the final name, for creating entries.
    fn parent_of(&self, path: &str) -> FsResult<(Located, String, Vec<String>)> {
        let canon = self.canonicalize(path, false)?;
        let Some((name, parent)) = canon.split_last() else {
            return Err(FsError::Busy(path.to_string()));
        };
        let loc = self.locate(&canon);
        if loc.is_mount_point {
            return Err(FsError::Busy(path.to_string()));
        }
        let ploc = self.locate(parent);
        if ploc.read_only {
            return Err(FsError::ReadOnly(path.to_string()));
        }
        Ok((ploc, name.clone(), canon))
    }

    /// Inserts `node` as `path` (replacing a non-directory entry or an empty directory unless
    /// `replace_any`); the parent must be an existing directory. A final symlink is not followed.
    pub fn put(&self, path: &str, node: Node, replace_any: bool) -> FsResult<()> {
        let (ploc, name, _) = self.parent_of(path)?;
        let now = node.mtime();
        ploc.tree
            .with_mut(&ploc.inner, path, |parent| match parent {
                Node::Dir(d) => {
                    if !replace_any
                        && let Some(existing) = d.entries.get(&name)
                        && let Node::Dir(ed) = &**existing
                    {
                        if !matches!(node, Node::Dir(_)) {
                            return Err(FsError::IsADir(path.to_string()));
                        }
                        if !ed.entries.is_empty() {
                            return Err(FsError::NotEmpty(path.to_string()));
                        }
                    }
                    d.entries.insert(name, Arc::new(node));
                    d.mtime = now;
                    Ok(())
                }
                _ => Err(FsError::NotADir(path.to_string())),
            })
    }

    /// Writes `data` to the file at `path` (following symlinks), creating it with `mode` if absent;
    /// appends when `append`.
    pub fn write(
        &self,
        path: &str,
        data: &[u8],
        append: bool,
        mode: u32,
        now: Timestamp,
    ) -> FsResult<()> {
        if matches!(path, "/dev/null" | "/dev/stdout" | "/dev/stderr") {
            return Ok(());
        }
        let canon = self.canonicalize(path, true)?;
        let loc = self.locate(&canon);
        if loc.read_only {
            return Err(FsError::ReadOnly(path.to_string()));
        }
        let existing = loc.tree.snapshot().get(&loc.inner);
        match existing.as_deref() {
            Some(Node::Dir(_)) => Err(FsError::IsADir(path.to_string())),
            Some(Node::File(_)) => loc.tree.with_mut(&loc.inner, path, |n| {
                if let Node::File(f) = n {
                    if append {
                        let mut v = Vec::with_capacity(f.data.len() + data.len());
                        v.extend_from_slice(&f.data);
                        v.extend_from_slice(data);
                        f.data = Bytes::from(v);
                    } else {
                        f.data = Bytes::copy_from_slice(data);
                    }
                    f.mtime = now;
                }
                Ok(())
            }),
            _ => self.put(&show(&canon), Node::file(data.to_vec(), mode, now), false),
        }
    }

    /// Creates a directory (and its parents when `parents`, where existing ones are fine).
    pub fn mkdir(&self, path: &str, parents: bool, mode: u32, now: Timestamp) -> FsResult<()> {
        if parents {
            let comps = components(path);
            let mut cur = String::new();
            for c in comps {
                cur.push('/');
                cur.push_str(&c);
                match self.node(&cur) {
                    Ok(n) if matches!(*n, Node::Dir(_)) => continue,
                    Ok(_) => return Err(FsError::Exists(cur)),
                    Err(FsError::NotFound(_)) => {
                        self.put(&cur, Node::empty_dir(mode, now), false)?
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        } else {
            if self.lnode(path).is_ok() {
                return Err(FsError::Exists(path.to_string()));
            }
            self.put(path, Node::empty_dir(mode, now), false)
        }
    }

    /// Removes the entry at `path` (not following a final symlink); directories need `recursive`
    /// unless empty.
    pub fn remove(&self, path: &str, recursive: bool, now: Timestamp) -> FsResult<()> {
        let node = self.lnode(path)?;
        if let Node::Dir(d) = &*node
            && !recursive
            && !d.entries.is_empty()
        {
            return Err(FsError::NotEmpty(path.to_string()));
        }
        let canon = self.canonicalize(path, false)?;
        // Mounts below the removed directory stay (as on Linux: they are busy).
        if self.locate(&canon).is_mount_point {
            return Err(FsError::Busy(path.to_string()));
        }
        let (ploc, name, _) = self.parent_of(path)?;
        ploc.tree
            .with_mut(&ploc.inner, path, |parent| match parent {
                Node::Dir(d) => {
                    d.entries.remove(&name);
                    d.mtime = now;
                    Ok(())
                }
                _ => Err(FsError::NotADir(path.to_string())),
            })
    }

    /// Moves `from` to `to` (copying across mounts); `to` is replaced if it is not a non-empty dir.
    pub fn rename(&self, from: &str, to: &str, now: Timestamp) -> FsResult<()> {
        let node = self.lnode(from)?;
        self.put(to, (*node).clone(), false)?;
        self.remove(from, true, now)
    }

    /// Creates a symlink at `path` pointing to `target`.
    pub fn symlink(&self, target: &str, path: &str, now: Timestamp) -> FsResult<()> {
        if self.lnode(path).is_ok() {
            return Err(FsError::Exists(path.to_string()));
        }
        self.put(path, Node::symlink(target, now), false)
    }

    /// Applies `f` to the entry at `path` (following symlinks), e.g. to chmod or touch it.
    pub fn modify(&self, path: &str, f: impl FnOnce(&mut Node)) -> FsResult<()> {
        let canon = self.canonicalize(path, true)?;
        let loc = self.locate(&canon);
        if loc.read_only {
            return Err(FsError::ReadOnly(path.to_string()));
        }
        loc.tree.with_mut(&loc.inner, path, |n| {
            f(n);
            Ok(())
        })
    }

    /// A copy of the subtree at `path` with mounted trees below it grafted in (what `cp -r` and
    /// `tar c` read). Follows a final symlink only when `follow`.
    pub fn subtree(&self, path: &str, follow: bool) -> FsResult<Node> {
        let canon = self.canonicalize(path, follow)?;
        let node = self
            .lookup_canon(&canon)
            .ok_or_else(|| FsError::NotFound(path.to_string()))?;
        let mut node = (*node).clone();
        for m in self.mounts.iter().rev() {
            if m.at.len() > canon.len() && m.at[..canon.len()] == canon[..] {
                let rel = &m.at[canon.len()..];
                if let Some(mounted) = self.lookup_canon(&m.at) {
                    graft(&mut node, rel, mounted);
                }
            }
        }
        Ok(node)
    }
}

fn graft(node: &mut Node, rel: &[String], mounted: Arc<Node>) {
    let Some((first, rest)) = rel.split_first() else {
        *node = (*mounted).clone();
        return;
    };
    if let Node::Dir(d) = node {
        let child = d
            .entries
            .entry(first.clone())
            .or_insert_with(|| Arc::new(Node::empty_dir(0o755, mounted.mtime())));
        graft(Arc::make_mut(child), rest, mounted);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        Timestamp::UNIX_EPOCH
    }

    #[test]
    fn write_read_and_symlinks() {
        let vfs = Vfs::new(SharedTree::empty(t0()), vec![]);
        vfs.mkdir("/a/b", true, 0o755, t0()).unwrap();
        vfs.write("/a/b/f", b"hi", false, 0o644, t0()).unwrap();
        vfs.symlink("b", "/a/l", t0()).unwrap();
        assert_eq!(vfs.read("/a/l/f").unwrap(), Bytes::from_static(b"hi"));
        assert_eq!(vfs.lstat("/a/l").unwrap().kind, Kind::Symlink);
        assert_eq!(
            vfs.read("/a/x/f").unwrap_err(),
            FsError::NotFound("/a/x/f".into())
        );
    }

    #[test]
    fn mounts_and_read_only() {
        let vol = SharedTree::empty(t0());
        let ro = SharedTree::empty(t0());
        let vfs = Vfs::new(
            SharedTree::empty(t0()),
            vec![
                Mount {
                    at: components("/data"),
                    tree: vol.clone(),
                    sub: components("sub"),
                    read_only: false,
                },
                Mount {
                    at: components("/etc/cfg"),
                    tree: ro,
                    sub: vec![],
                    read_only: true,
                },
            ],
        );
        // subPath directory must exist in the volume
        vol.replace(Arc::new({
            let mut n = Node::empty_dir(0o777, t0());
            if let Node::Dir(d) = &mut n {
                d.entries
                    .insert("sub".into(), Arc::new(Node::empty_dir(0o777, t0())));
            }
            n
        }));
        vfs.write("/data/x", b"1", false, 0o644, t0()).unwrap();
        assert_eq!(
            vol.snapshot().files(),
            vec![("sub/x".to_string(), Bytes::from_static(b"1"))]
        );
        assert!(matches!(
            vfs.write("/etc/cfg/y", b"1", false, 0o644, t0()),
            Err(FsError::ReadOnly(_))
        ));
        assert!(matches!(
            vfs.remove("/data", true, t0()),
            Err(FsError::Busy(_))
        ));
    }
}
