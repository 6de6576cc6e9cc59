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
//! Reading: the exact form this module writes is parsed by a small hand-written fast path (the
//! no-change re-index of a large tree is dominated by it otherwise); anything else (odo's own
//! output, pretty-printed JSON, escapes in names) goes through `serde_json`.

use std::borrow::Cow;
use std::fmt;
use std::hash::BuildHasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use hashbrown::HashTable;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::timefmt::{UnixNanos, format_rfc3339_nanos, parse_rfc3339_nanos};

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

    /// Inserts or replaces the entry of `path`.
    pub fn insert(&mut self, path: &str, meta: Meta) {
        if let Some(i) = self.position(path) {
            self.slots[i].entry = IndexEntry::new(meta);
            return;
        }
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
        self.names.push_str(path);
        self.slots.push(Slot {
            off,
            len,
            entry: IndexEntry::new(meta),
        });
        let (names, slots) = (&self.names, &self.slots);
        self.table.insert_unique(hash_key(path), pos, |&i| {
            hash_key(key_of(names, &slots[i as usize]))
        });
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

    /// Parses the JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        if let Some(index) = fast::parse(bytes) {
            return Ok(index);
        }
        Self::from_json_general(bytes)
    }

    /// The general (serde) parser, used when the fast path declines.
    fn from_json_general(bytes: &[u8]) -> Result<Self, String> {
        let raw: RawIndex<'_> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if let Some(kind) = &raw.kind
            && kind != "FileIndex"
        {
            return Err(format!("kind is {kind:?}, expected \"FileIndex\""));
        }
        let mut index = raw.files.0;
        raw.tail.apply(&mut index);
        Ok(index)
    }

    /// Serialises to the JSON form, entries sorted by path.
    pub fn to_json(&self) -> Vec<u8> {
        let mut slots: Vec<&Slot> = self.slots.iter().filter(|s| s.len != REMOVED).collect();
        let names = &self.names;
        if !slots.is_sorted_by(|a, b| key_of(names, a) <= key_of(names, b)) {
            slots.sort_unstable_by(|a, b| key_of(names, a).cmp(key_of(names, b)));
        }
        let mut out = Vec::with_capacity(64 + self.names.len() + self.len() * 100);
        out.extend_from_slice(br#"{"kind":"FileIndex","apiVersion":"v1","Files":{"#);
        let mut date = String::with_capacity(40);
        for (i, slot) in slots.into_iter().enumerate() {
            let key = key_of(&self.names, slot);
            let meta = &slot.entry.meta;
            if i > 0 {
                out.push(b',');
            }
            write_json_str(&mut out, key);
            date.clear();
            format_rfc3339_nanos(meta.mtime, &mut date);
            let _ = write!(
                out,
                r#":{{"Size":{},"LastModifiedDate":"{date}""#,
                meta.size
            );
            if meta.mode != UNKNOWN_MODE {
                let _ = write!(out, r#","Mode":{}"#, meta.mode);
            }
            match meta.kind {
                EntryKind::Dir => out.extend_from_slice(br#","Type":"dir""#),
                EntryKind::Symlink => out.extend_from_slice(br#","Type":"symlink""#),
                EntryKind::File | EntryKind::Unknown => {}
            }
            if let Some(h) = &meta.hash {
                let _ = write!(out, r#","Sha256":"{}""#, hex::encode(h.as_ref()));
            }
            out.push(b'}');
        }
        out.push(b'}');
        let mut opt_str = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                let _ = write!(out, r#","{name}":"#);
                write_json_str(&mut out, v);
            }
        };
        opt_str("PodUID", &self.pod_uid);
        opt_str("ContainerID", &self.container_id);
        opt_str("TargetDir", &self.target_dir);
        for (name, v) in [
            ("ScannedAt", self.scanned_at),
            ("WrittenAt", self.written_at),
        ] {
            if let Some(v) = v {
                date.clear();
                format_rfc3339_nanos(v, &mut date);
                let _ = write!(out, r#","{name}":"{date}""#);
            }
        }
        out.push(b'}');
        out
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

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else if let Ok(quoted) = serde_json::to_string(s) {
        out.extend_from_slice(quoted.as_bytes());
    }
}

#[derive(Deserialize)]
struct RawIndex<'a> {
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "Files", default)]
    files: RawFiles,
    #[serde(flatten, borrow)]
    tail: RawTail<'a>,
}

/// The top-level fields after `Files`.
#[derive(Deserialize, Default)]
struct RawTail<'a> {
    #[serde(rename = "PodUID", default)]
    pod_uid: Option<String>,
    #[serde(rename = "ContainerID", default)]
    container_id: Option<String>,
    #[serde(rename = "TargetDir", default)]
    target_dir: Option<String>,
    #[serde(rename = "ScannedAt", default, borrow)]
    scanned_at: Option<Cow<'a, str>>,
    #[serde(rename = "WrittenAt", default, borrow)]
    written_at: Option<Cow<'a, str>>,
}

impl RawTail<'_> {
    fn apply(self, index: &mut FileIndex) {
        let date = |s: Option<Cow<'_, str>>| s.and_then(|s| parse_rfc3339_nanos(&s));
        index.pod_uid = self.pod_uid;
        index.container_id = self.container_id;
        index.target_dir = self.target_dir;
        index.scanned_at = date(self.scanned_at);
        index.written_at = date(self.written_at);
    }
}

#[derive(Default)]
struct RawFiles(FileIndex);

#[derive(Deserialize)]
struct RawFile<'a> {
    #[serde(rename = "Size")]
    size: i64,
    #[serde(rename = "LastModifiedDate", borrow)]
    date: Cow<'a, str>,
    #[serde(rename = "Mode", default)]
    mode: Option<u32>,
    #[serde(rename = "Type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "Sha256", default, borrow)]
    sha256: Option<Cow<'a, str>>,
}

impl<'de> Deserialize<'de> for RawFiles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFiles;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of relative path to file data")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawFiles, E> {
                Ok(RawFiles::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFiles, A::Error> {
                let mut out = FileIndex::with_capacity(map.size_hint().unwrap_or(1024), 0);
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let raw: RawFile<'de> = map.next_value()?;
                    let meta =
                        raw_to_meta(raw).map_err(|m| de::Error::custom(format!("{key}: {m}")))?;
                    out.insert(&key, meta);
                }
                Ok(RawFiles(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn raw_to_meta(raw: RawFile<'_>) -> Result<Meta, String> {
    let mtime = parse_rfc3339_nanos(&raw.date)
        .ok_or_else(|| format!("bad LastModifiedDate {:?}", raw.date))?;
    let kind = match (raw.kind.as_deref(), raw.mode) {
        (Some("dir"), _) => EntryKind::Dir,
        (Some("symlink"), _) => EntryKind::Symlink,
        (Some("file") | None, Some(_)) => EntryKind::File,
        (None, None) => EntryKind::Unknown,
        (Some(other), _) => return Err(format!("unknown Type {other:?}")),
    };
    let hash = match raw.sha256 {
        Some(h) => {
            let mut d: Digest = [0; 32];
            hex::decode_to_slice(h.as_bytes(), &mut d).map_err(|e| format!("bad Sha256: {e}"))?;
            Some(Box::new(d))
        }
        None => None,
    };
    Ok(Meta {
        size: u64::try_from(raw.size).map_err(|_| format!("negative Size {}", raw.size))?,
        mtime,
        hash,
        mode: raw.mode.unwrap_or(UNKNOWN_MODE),
        kind,
    })
}

/// The fast path of [`FileIndex::from_json`]: exactly the byte layout [`FileIndex::to_json`]
/// writes. Returns `None` at the first surprise, and the caller falls back to `serde_json`.
mod fast {
    use super::{Digest, EntryKind, FileIndex, Meta, RawTail, UNKNOWN_MODE, parse_rfc3339_nanos};

    const HEAD: &[u8] = br#"{"kind":"FileIndex","apiVersion":"v1","Files":{"#;

    struct P<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl<'a> P<'a> {
        fn eat(&mut self, lit: &[u8]) -> bool {
            if self.b[self.i..].starts_with(lit) {
                self.i += lit.len();
                true
            } else {
                false
            }
        }

        fn lit(&mut self, lit: &[u8]) -> Option<()> {
            self.eat(lit).then_some(())
        }

        /// Bytes up to the next `"` (which is consumed); `None` on an escape or control byte.
        fn until_quote(&mut self) -> Option<&'a [u8]> {
            let rest = &self.b[self.i..];
            let end = rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
            if rest[end] != b'"' {
                return None;
            }
            self.i += end + 1;
            Some(&rest[..end])
        }

        fn uint(&mut self) -> Option<u64> {
            let rest = &self.b[self.i..];
            let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 19 {
                return None;
            }
            self.i += n;
            std::str::from_utf8(&rest[..n]).ok()?.parse().ok()
        }
    }

    pub(super) fn parse(b: &[u8]) -> Option<FileIndex> {
        if !b.starts_with(HEAD) {
            return None;
        }
        let mut p = P { b, i: HEAD.len() };
        let mut index = FileIndex::with_capacity(b.len() / 96, b.len() / 3);
        if !p.eat(b"}") {
            loop {
                p.lit(b"\"")?;
                let key = std::str::from_utf8(p.until_quote()?).ok()?;
                p.lit(br#":{"Size":"#)?;
                let size = p.uint()?;
                p.lit(br#","LastModifiedDate":""#)?;
                let mtime = parse_rfc3339_nanos(std::str::from_utf8(p.until_quote()?).ok()?)?;
                let mut mode = UNKNOWN_MODE;
                if p.eat(br#","Mode":"#) {
                    mode = u32::try_from(p.uint()?).ok()?;
                }
                let mut kind = if mode == UNKNOWN_MODE {
                    EntryKind::Unknown
                } else {
                    EntryKind::File
                };
                if p.eat(br#","Type":""#) {
                    kind = match p.until_quote()? {
                        b"dir" => EntryKind::Dir,
                        b"symlink" => EntryKind::Symlink,
                        b"file" => EntryKind::File,
                        _ => return None,
                    };
                }
                let mut hash = None;
                if p.eat(br#","Sha256":""#) {
                    let mut d: Digest = [0; 32];
                    hex::decode_to_slice(p.until_quote()?, &mut d).ok()?;
                    hash = Some(Box::new(d));
                }
                p.lit(b"}")?;
                index.insert(
                    key,
                    Meta {
                        size,
                        mtime,
                        hash,
                        mode,
                        kind,
                    },
                );
                if p.eat(b"}") {
                    break;
                }
                p.lit(b",")?;
            }
        }
        index.shrink_to_fit();
        let rest = b[p.i..].trim_ascii_end();
        if rest == b"}" {
            return Some(index);
        }
        let body = rest.strip_prefix(b",")?;
        let mut tail_json = Vec::with_capacity(body.len() + 1);
        tail_json.push(b'{');
        tail_json.extend_from_slice(body);
        let tail: RawTail<'_> = serde_json::from_slice(&tail_json).ok()?;
        tail.apply(&mut index);
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_index_written_by_odo() {
        let json = br#"{"kind":"FileIndex","apiVersion":"v1","Files":{"a/b.txt":{"Size":12,"LastModifiedDate":"2020-05-05T12:00:00.5+02:00"},"a":{"Size":4096,"LastModifiedDate":"2020-05-05T10:00:00Z"}}}"#;
        let idx = FileIndex::from_json(json).expect("valid odo index");
        let e = &idx.get("a/b.txt").expect("entry").meta;
        assert_eq!(e.size, 12);
        assert_eq!(e.mtime, 1_588_672_800_500_000_000);
        assert_eq!(e.kind, EntryKind::Unknown);
        assert_eq!(e.mode, UNKNOWN_MODE);
        assert!(idx.pod_uid.is_none());
    }

    #[test]
    fn round_trips_our_fields() {
        let mut idx = FileIndex {
            pod_uid: Some("uid-1".into()),
            target_dir: Some("/tmp/src".into()),
            scanned_at: Some(5),
            ..Default::default()
        };
        let meta = Meta {
            size: 3,
            mtime: 1_000_000_007,
            hash: Some(Box::new([7; 32])),
            mode: 0o644,
            kind: EntryKind::File,
        };
        idx.insert("x \"y\".txt", meta.clone());
        idx.insert(
            "d",
            Meta {
                kind: EntryKind::Dir,
                mode: 0o755,
                hash: None,
                ..meta.clone()
            },
        );
        let json = idx.to_json();
        let back = FileIndex::from_json(&json).expect("own output parses");
        assert_eq!(back.get("x \"y\".txt").expect("entry").meta, meta);
        assert_eq!(back.get("d").expect("entry").meta.kind, EntryKind::Dir);
        assert_eq!(back.pod_uid.as_deref(), Some("uid-1"));
        assert_eq!(back.scanned_at, Some(5));
        let v: serde_json::Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(v["kind"], "FileIndex");
        assert_eq!(v["Files"]["d"]["Type"], "dir");
    }

    #[test]
    fn fast_path_and_general_parser_agree() {
        let mut idx = FileIndex {
            pod_uid: Some("u".into()),
            written_at: Some(-7),
            ..Default::default()
        };
        for (i, (path, kind, mode)) in [
            ("a", EntryKind::File, 0o644),
            ("d", EntryKind::Dir, 0o755),
            ("l", EntryKind::Symlink, 0o777),
            ("ünï cödé/-x", EntryKind::File, 0o600),
        ]
        .into_iter()
        .enumerate()
        {
            let hash = (i % 2 == 0).then(|| Box::new([i as u8; 32]));
            idx.insert(
                path,
                Meta {
                    size: i as u64 * 1000,
                    mtime: 1_600_000_000_000_000_000 + i as i64,
                    hash,
                    mode,
                    kind,
                },
            );
        }
        let json = idx.to_json();
        let fast = fast::parse(&json).expect("fast path takes our own output");
        let general = FileIndex::from_json_general(&json).expect("general parser");
        for (k, e) in idx.iter() {
            assert_eq!(fast.get(k).map(|x| &x.meta), Some(&e.meta), "{k}");
            assert_eq!(general.get(k).map(|x| &x.meta), Some(&e.meta), "{k}");
        }
        assert_eq!((fast.len(), general.len()), (4, 4));
        assert_eq!(
            (fast.pod_uid.clone(), fast.written_at),
            (Some("u".into()), Some(-7))
        );
        assert_eq!(
            (general.pod_uid, general.written_at),
            (Some("u".into()), Some(-7))
        );
        // Escaped names and pretty-printed JSON go through the general parser.
        let pretty = serde_json::to_vec_pretty(
            &serde_json::from_slice::<serde_json::Value>(&json).expect("json"),
        )
        .expect("pretty");
        assert!(fast::parse(&pretty).is_none());
        assert_eq!(
            FileIndex::from_json(&pretty).expect("pretty parses").len(),
            4
        );
        let mut esc = FileIndex::default();
        esc.insert(
            "quote\"d",
            Meta {
                size: 1,
                mtime: 0,
                hash: None,
                mode: 0o644,
                kind: EntryKind::File,
            },
        );
        let json = esc.to_json();
        assert!(fast::parse(&json).is_none());
        assert!(
            FileIndex::from_json(&json)
                .expect("parses")
                .get("quote\"d")
                .is_some()
        );
    }

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

    #[test]
    fn rejects_garbage() {
        assert!(FileIndex::from_json(b"{not json").is_err());
        assert!(FileIndex::from_json(br#"{"kind":"Pod"}"#).is_err());
        assert!(
            FileIndex::from_json(br#"{"Files":{"a":{"Size":1,"LastModifiedDate":"yesterday"}}}"#)
                .is_err()
        );
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
