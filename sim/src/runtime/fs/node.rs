//! The in-memory file tree: files, directories and symlinks as persistent nodes.
//!
//! Directories hold their children as `Arc<Node>`, so a tree is shared cheaply and copied only
//! along the path that is written (`Arc::make_mut`): this is how an image's immutable layer is
//! shared by every container while each container writes into its own copy-on-write layer.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use jiff::Timestamp;

/// One entry of the file tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A regular file.
    File(FileNode),
    /// A directory with its children by name (ordered).
    Dir(DirNode),
    /// A symbolic link and the path it points to (not resolved at creation).
    Symlink(SymlinkNode),
}

/// A regular file's content and metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileNode {
    /// The bytes of the file.
    pub data: Bytes,
    /// Permission bits (e.g. 0o644).
    pub mode: u32,
    /// Last modification time.
    pub mtime: Timestamp,
}

/// A directory's children and metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirNode {
    /// Children by name.
    pub entries: BTreeMap<String, Arc<Node>>,
    /// Permission bits (e.g. 0o755).
    pub mode: u32,
    /// Last modification time.
    pub mtime: Timestamp,
}

/// A symlink's target and metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymlinkNode {
    /// The link target as written (absolute or relative to the link's directory).
    pub target: String,
    /// Last modification time.
    pub mtime: Timestamp,
}

/// What kind of entry a node is (for `ls`, `test -d` and tar headers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
}

impl Node {
    /// An empty directory with the given mode and time.
    pub fn empty_dir(mode: u32, mtime: Timestamp) -> Self {
        Node::Dir(DirNode {
            entries: BTreeMap::new(),
            mode,
            mtime,
        })
    }

    /// A file with the given bytes, mode and time.
    pub fn file(data: impl Into<Bytes>, mode: u32, mtime: Timestamp) -> Self {
        Node::File(FileNode {
            data: data.into(),
            mode,
            mtime,
        })
    }

    /// A symlink to `target`.
    pub fn symlink(target: impl Into<String>, mtime: Timestamp) -> Self {
        Node::Symlink(SymlinkNode {
            target: target.into(),
            mtime,
        })
    }

    /// The kind of this node.
    pub fn kind(&self) -> Kind {
        match self {
            Node::File(_) => Kind::File,
            Node::Dir(_) => Kind::Dir,
            Node::Symlink(_) => Kind::Symlink,
        }
    }

    /// Permission bits (symlinks report 0o777 as Linux does).
    pub fn mode(&self) -> u32 {
        match self {
            Node::File(f) => f.mode,
            Node::Dir(d) => d.mode,
            Node::Symlink(_) => 0o777,
        }
    }

    /// Modification time.
    pub fn mtime(&self) -> Timestamp {
        match self {
            Node::File(f) => f.mtime,
            Node::Dir(d) => d.mtime,
            Node::Symlink(s) => s.mtime,
        }
    }

    /// Size in bytes as `ls -l`/tar report it (directories report 4096 like ext4).
    pub fn size(&self) -> u64 {
        match self {
            Node::File(f) => f.data.len() as u64,
            Node::Dir(_) => 4096,
            Node::Symlink(s) => s.target.len() as u64,
        }
    }

    /// Sets the permission bits (no effect on symlinks).
    pub fn set_mode(&mut self, mode: u32) {
        match self {
            Node::File(f) => f.mode = mode,
            Node::Dir(d) => d.mode = mode,
            Node::Symlink(_) => {}
        }
    }

    /// Sets the modification time.
    pub fn set_mtime(&mut self, t: Timestamp) {
        match self {
            Node::File(f) => f.mtime = t,
            Node::Dir(d) => d.mtime = t,
            Node::Symlink(s) => s.mtime = t,
        }
    }

    /// The child named `name`, if this is a directory holding it.
    pub fn child(&self, name: &str) -> Option<&Arc<Node>> {
        match self {
            Node::Dir(d) => d.entries.get(name),
            _ => None,
        }
    }

    /// The node at `path` below this one, following no symlinks.
    pub fn get(self: &Arc<Self>, path: &[String]) -> Option<Arc<Node>> {
        let mut cur = self.clone();
        for name in path {
            let next = cur.child(name)?.clone();
            cur = next;
        }
        Some(cur)
    }

    /// Counts regular files in this subtree (used by tests and invariants).
    pub fn file_count(&self) -> usize {
        match self {
            Node::File(_) => 1,
            Node::Symlink(_) => 0,
            Node::Dir(d) => d.entries.values().map(|n| n.file_count()).sum(),
        }
    }

    /// Every regular file in this subtree as (relative path, bytes), in path order.
    pub fn files(&self) -> Vec<(String, Bytes)> {
        let mut out = Vec::new();
        fn walk(node: &Node, prefix: &str, out: &mut Vec<(String, Bytes)>) {
            match node {
                Node::File(f) => out.push((prefix.to_string(), f.data.clone())),
                Node::Symlink(_) => {}
                Node::Dir(d) => {
                    for (name, child) in &d.entries {
                        let p = if prefix.is_empty() {
                            name.clone()
                        } else {
                            format!("{prefix}/{name}")
                        };
                        walk(child, &p, out);
                    }
                }
            }
        }
        walk(self, "", &mut out);
        out
    }
}
