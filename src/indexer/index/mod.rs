//! The index file `.odo/odo-file-index.json`: the in-memory index and its JSON form.
//!
//! The JSON is what odo v1/v2 reads and writes (`pkg/util/file_indexer.go`):
//! `{"kind":"FileIndex","apiVersion":"v1","Files":{"rel/path":{"Size":1,"LastModifiedDate":"…"}}}`
//! with forward-slash relative keys and RFC 3339 nanosecond dates. Our additions, which odo's
//! decoder ignores: per entry `Mode` (permission bits), `Type` (`dir`/`symlink`, absent for files)
//! and `Sha256` (content hash of files whose timestamp was too recent to trust, link target hash
//! of symlinks); at the top `PodUID`, `ContainerID` and `TargetDir` of the last successful sync, `ScannedAt` (when
//! the walk that produced the index began) and `WrittenAt`.
//!
//! Memory: all paths live in one string arena, the entries (offset, length, [`IndexEntry`]) in one
//! vector in file order, and the hash table holds only 4-byte positions into it, so a loaded
//! index costs about 50–60 bytes per file beyond the path bytes (slack included), and dropping it
//! frees three allocations, not one per file. The split is for the walk: the table (5 bytes per
//! file) stays in cache, and the entries of one directory, which the walk looks up together, sit
//! next to each other, as the file is sorted; a table of whole entries made every lookup a cache
//! miss.
//!
//! Modules: this one holds the in-memory index and reads/writes the file; [`json`] is the
//! on-disk form (a fast parser for our own output, `serde_json` for anything else); [`lookup`]
//! is the walk's [`Cursor`], which finds a path among its directory's entries without hashing
//! it when the index is sorted (as one read from disk is).

mod json;
mod lookup;

use std::hash::BuildHasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use serde::{Deserialize, Serialize};

use super::timefmt::UnixNanos;

pub use lookup::Cursor;

/// Directory (under the context) that holds odo's local state.
pub const ODO_DIR: &str = ".odo";
/// File name of the index inside [`ODO_DIR`].
pub const INDEX_FILE: &str = "odo-file-index.json";

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// What kind of file-system object an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (synced as a link, never followed).
    Symlink,
    /// Written by odo itself, which records neither type nor mode: file or directory.
    Unknown,
}

/// Metadata of one path, as recorded in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Size in bytes (`st_size`; for a symlink the length of its target).
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime: UnixNanos,
    /// Content hash (files written recently) or link-target hash (symlinks).
    pub hash: Option<Box<Digest>>,
    /// Permission bits (`st_mode & 0o7777`); `u32::MAX` when unknown (odo-written index).
    pub mode: u32,
    /// File, directory or symlink.
    pub kind: EntryKind,
}

/// Sentinel for an unknown mode.
pub const UNKNOWN_MODE: u32 = u32::MAX;

/// One slot of the in-memory index: the metadata plus a flag the walk sets when it sees the path.
#[derive(Debug)]
pub struct IndexEntry {
    /// Recorded metadata.
    pub meta: Meta,
    seen: AtomicBool,
}

impl IndexEntry {
    /// A slot not yet seen by a walk.
    pub fn new(meta: Meta) -> Self {
        Self {
            meta,
            seen: AtomicBool::new(false),
        }
    }

    /// Marks the path as present in the tree being walked (callable from walker threads).
    pub fn mark_seen(&self) {
        self.seen.store(true, Ordering::Relaxed);
    }

    /// Whether [`IndexEntry::mark_seen`] was called.
    pub fn was_seen(&self) -> bool {
        self.seen.load(Ordering::Relaxed)
    }
}

impl Clone for IndexEntry {
    fn clone(&self) -> Self {
        Self::new(self.meta.clone())
    }
}

/// The in-memory file index of one context directory.
#[derive(Debug, Clone, Default)]
pub struct FileIndex {
    /// Every key, concatenated (slots point into it).
    names: String,
    /// The entries, in insertion order (file order: sorted); removed ones are tombstones.
    slots: Vec<Slot>,
    /// Path -> position in `slots`, keyed by ranges of `names`.
    table: HashTable<u32>,
    /// Tombstones in `slots`.
    removed: usize,
    /// Set once `slots` may not be strictly ascending by key or holds a tombstone; while clear,
    /// a [`Cursor`] may binary-search it.
    unsorted: bool,
    /// UID of the pod the tree was last synced into.
    pub pod_uid: Option<String>,
    /// `containerID` of the container instance the tree was last extracted into (a restarted
    /// container has a fresh writable layer, so what was extracted there is gone).
    pub container_id: Option<String>,
    /// Directory inside the container the tree was last extracted into.
    pub target_dir: Option<String>,
    /// When the walk that produced this index began (the racy-timestamp reference).
    pub scanned_at: Option<UnixNanos>,
    /// When the index was written.
    pub written_at: Option<UnixNanos>,
}

#[derive(Debug, Clone)]
struct Slot {
    off: u32,
    /// Path length; [`REMOVED`] for a tombstone.
    len: u32,
    entry: IndexEntry,
}

/// The `len` of a removed slot.
const REMOVED: u32 = u32::MAX;

/// Bytes of one entry plus its table position (the per-file cost beyond the path bytes, before
/// slack).
pub const SLOT_BYTES: usize = std::mem::size_of::<Slot>() + std::mem::size_of::<u32>();

fn hash_key(key: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x6f64_6f2d_7273).hash_one(key)
}

fn key_of<'a>(names: &'a str, slot: &Slot) -> &'a str {
    &names[slot.off as usize..(slot.off + slot.len) as usize]
}

impl FileIndex {
    /// An empty index with room for `n` entries of about `name_bytes` path bytes in total.
    pub fn with_capacity(n: usize, name_bytes: usize) -> Self {
        Self {
            names: String::with_capacity(name_bytes),
            slots: Vec::with_capacity(n),
            table: HashTable::with_capacity(n),
            ..Self::default()
        }
    }

    /// Gives back spare capacity beyond a quarter (after a parse whose size was estimated).
    fn shrink_to_fit(&mut self) {
        if self.slots.capacity() > self.slots.len() + self.slots.len() / 4 {
            self.slots.shrink_to_fit();
        }
        if self.names.capacity() > self.names.len() + self.names.len() / 4 {
            self.names.shrink_to_fit();
        }
    }

    fn position(&self, path: &str) -> Option<usize> {
        let (names, slots) = (&self.names, &self.slots);
        self.table
            .find(hash_key(path), |&i| {
                key_of(names, &slots[i as usize]) == path
            })
            .map(|&i| i as usize)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when the index has no entries.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The entry of `path`.
    pub fn get(&self, path: &str) -> Option<&IndexEntry> {
        self.position(path).map(|i| &self.slots[i].entry)
    }

    /// Inserts or replaces the entry of `path` (one probe of the table).
    pub fn insert(&mut self, path: &str, meta: Meta) {
        let (Ok(off), Ok(len), Ok(pos)) = (
            u32::try_from(self.names.len()),
            u32::try_from(path.len()),
            u32::try_from(self.slots.len()),
        ) else {
            // Over 4 GiB of path names: not a source tree this index is meant for; the entry is
            // left out, which only means the path is resent.
            return;
        };
        if len == REMOVED {
            return; // a 4 GiB path, as above
        }
        let (names, slots) = (&self.names, &self.slots);
        let entry = self.table.entry(
            hash_key(path),
            |&i| key_of(names, &slots[i as usize]) == path,
            |&i| hash_key(key_of(names, &slots[i as usize])),
        );
        match entry {
            Entry::Occupied(e) => {
                let i = *e.get() as usize;
                self.slots[i].entry = IndexEntry::new(meta);
            }
            Entry::Vacant(v) => {
                v.insert(pos);
                if let Some(last) = self.slots.last()
                    && (last.len == REMOVED || key_of(&self.names, last) >= path)
                {
                    self.unsorted = true;
                }
                self.names.push_str(path);
                self.slots.push(Slot {
                    off,
                    len,
                    entry: IndexEntry::new(meta),
                });
            }
        }
    }

    /// Removes the entry of `path`, returning its metadata.
    pub fn remove(&mut self, path: &str) -> Option<Meta> {
        let (names, slots) = (&self.names, &self.slots);
        let i = match self.table.find_entry(hash_key(path), |&i| {
            key_of(names, &slots[i as usize]) == path
        }) {
            Ok(e) => e.remove().0 as usize,
            Err(_) => return None,
        };
        self.removed += 1;
        self.unsorted = true;
        let slot = &mut self.slots[i];
        slot.len = REMOVED;
        let tombstone = Meta {
            size: 0,
            mtime: 0,
            hash: None,
            mode: UNKNOWN_MODE,
            kind: EntryKind::Unknown,
        };
        Some(std::mem::replace(&mut slot.entry, IndexEntry::new(tombstone)).meta)
    }

    /// Every (path, entry), in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &IndexEntry)> {
        self.slots
            .iter()
            .filter(|s| s.len != REMOVED)
            .map(|s| (key_of(&self.names, s), &s.entry))
    }

    /// Approximate heap bytes per entry beyond the path bytes (table slots with slack, control
    /// bytes, stored hashes).
    pub fn heap_bytes_per_entry(&self) -> usize {
        if self.is_empty() {
            return 0;
        }
        let buckets = (self.table.capacity() * 8 / 7).next_power_of_two();
        let hashes = self.iter().filter(|(_, e)| e.meta.hash.is_some()).count()
            * std::mem::size_of::<Digest>();
        let table = buckets * (std::mem::size_of::<u32>() + 1);
        let slots = self.slots.capacity() * std::mem::size_of::<Slot>();
        (table + slots + hashes) / self.len()
    }
}

/// Errors reading or writing the index file.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The file exists but could not be read.
    #[error("cannot read file index {path}: {cause}")]
    Read {
        /// Index path.
        path: PathBuf,
        /// I/O error.
        cause: std::io::Error,
    },
    /// The file is not a valid index.
    #[error("file index {path} is corrupt ({cause}); it will be rebuilt and every file resent")]
    Corrupt {
        /// Index path.
        path: PathBuf,
        /// What the parser said.
        cause: String,
    },
    /// Writing the new index failed.
    #[error("cannot write file index {path}: {cause}; check that {dir} is writable")]
    Write {
        /// Index path.
        path: PathBuf,
        /// Directory that must be writable.
        dir: PathBuf,
        /// I/O error.
        cause: std::io::Error,
    },
}

/// Path of the index file of a context directory.
pub fn index_path(context: &Path) -> PathBuf {
    context.join(ODO_DIR).join(INDEX_FILE)
}

impl FileIndex {
    /// Reads the index of `context`; a missing file is an empty index.
    pub fn read(context: &Path) -> Result<Self, IndexError> {
        let path = index_path(context);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(cause) => return Err(IndexError::Read { path, cause }),
        };
        Self::from_json(&bytes).map_err(|cause| IndexError::Corrupt { path, cause })
    }

    /// Reads the index, turning an unreadable or corrupt file into an empty index plus one
    /// warning (never fails: a broken index only means a full resync).
    pub fn read_or_empty(context: &Path) -> (Self, Option<String>) {
        match Self::read(context) {
            Ok(index) => (index, None),
            Err(e) => (Self::default(), Some(e.to_string())),
        }
    }

    /// Writes the index atomically (temporary file in `.odo/`, then rename), mode 0600,
    /// stamping [`FileIndex::written_at`] with the current time.
    pub fn write(&mut self, context: &Path) -> Result<(), IndexError> {
        let dir = context.join(ODO_DIR);
        let path = index_path(context);
        let werr = |cause| IndexError::Write {
            path: path.clone(),
            dir: dir.clone(),
            cause,
        };
        std::fs::create_dir_all(&dir).map_err(werr)?;
        self.written_at = Some(now_nanos());
        let bytes = self.to_json();
        let mut tmp = tempfile::Builder::new()
            .prefix(".odo-file-index.")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(werr)?;
        tmp.write_all(&bytes).map_err(werr)?;
        tmp.as_file().sync_all().map_err(werr)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600))
                .map_err(werr)?;
        }
        tmp.persist(&path).map_err(|e| werr(e.error))?;
        Ok(())
    }
}

/// The current wall-clock time in nanoseconds since the epoch.
pub fn now_nanos() -> UnixNanos {
    system_time_nanos(std::time::SystemTime::now())
}

/// Converts a `SystemTime` to nanoseconds since the epoch (saturating).
pub fn system_time_nanos(t: std::time::SystemTime) -> UnixNanos {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos())
            .map(|n| -n)
            .unwrap_or(i64::MIN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_and_reinsert() {
        let mut idx = FileIndex::default();
        let m = Meta {
            size: 1,
            mtime: 0,
            hash: None,
            mode: 0o644,
            kind: EntryKind::File,
        };
        idx.insert("a", m.clone());
        idx.insert("b", m.clone());
        assert_eq!(idx.remove("a"), Some(m.clone()));
        assert_eq!(idx.remove("a"), None);
        idx.insert(
            "b",
            Meta {
                size: 2,
                ..m.clone()
            },
        );
        assert_eq!(idx.len(), 1);
        assert_eq!(idx.get("b").expect("b").meta.size, 2);
    }

    mod model {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::super::{EntryKind, FileIndex, Meta};

        #[derive(Debug, Clone)]
        enum Op {
            Insert(String, u64),
            Remove(String),
        }

        fn path() -> impl Strategy<Value = String> {
            // A few short names, so inserts, replaces and removes hit the same keys.
            proptest::sample::select(vec!["a", "a/b", "a/b/c", "b", "b-x", "c d", "é"])
                .prop_map(str::to_string)
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (path(), 0..1000_u64).prop_map(|(p, n)| Op::Insert(p, n)),
                path().prop_map(Op::Remove),
            ]
        }

        fn meta(size: u64) -> Meta {
            Meta {
                size,
                mtime: i64::try_from(size).unwrap_or_default() * 1_000_000_007,
                hash: None,
                mode: 0o644,
                kind: EntryKind::File,
            }
        }

        proptest! {
            /// Inserts, replaces and removes agree with a map, and so does the index read back
            /// from its JSON form.
            #[test]
            fn index_matches_a_map(ops in proptest::collection::vec(op(), 0..60)) {
                let mut index = FileIndex::default();
                let mut map = BTreeMap::new();
                for op in ops {
                    match op {
                        Op::Insert(p, n) => {
                            index.insert(&p, meta(n));
                            map.insert(p, n);
                        }
                        Op::Remove(p) => {
                            let got = index.remove(&p).map(|m| m.size);
                            prop_assert_eq!(got, map.remove(&p));
                        }
                    }
                    prop_assert_eq!(index.len(), map.len());
                }
                for (p, n) in &map {
                    prop_assert_eq!(index.get(p).map(|e| e.meta.clone()), Some(meta(*n)));
                }
                let mut listed: Vec<(String, u64)> =
                    index.iter().map(|(p, e)| (p.to_string(), e.meta.size)).collect();
                listed.sort();
                let expected: Vec<(String, u64)> = map.clone().into_iter().collect();
                prop_assert_eq!(&listed, &expected);
                let back = FileIndex::from_json(&index.to_json()).expect("own JSON reads back");
                let mut reread: Vec<(String, u64)> =
                    back.iter().map(|(p, e)| (p.to_string(), e.meta.size)).collect();
                reread.sort();
                prop_assert_eq!(reread, expected);
            }
        }
    }
}
