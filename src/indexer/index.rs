//! The index file `.odo/odo-file-index.json`: the in-memory index and its JSON form.
//!
//! The JSON is what odo v1/v2 reads and writes (`pkg/util/file_indexer.go`):
//! `{"kind":"FileIndex","apiVersion":"v1","Files":{"rel/path":{"Size":1,"LastModifiedDate":"…"}}}`
//! with forward-slash relative keys and RFC 3339 nanosecond dates. Our additions, which odo's
//! decoder ignores: per entry `Mode` (permission bits), `Type` (`dir`/`symlink`, absent for files)
//! and `Sha256` (content hash of files whose timestamp was too recent to trust, link target hash
//! of symlinks); at the top `PodUID` and `TargetDir` of the last successful sync, `ScannedAt` (when
//! the walk that produced the index began) and `WrittenAt`.
//!
//! Memory: one [`IndexEntry`] is 40 bytes and the key a boxed `str`, so a loaded index costs about
//! 60–70 bytes per file beyond the path bytes (hash table slack included).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Relative path (forward slashes) to entry.
    pub entries: HashMap<Box<str>, IndexEntry>,
    /// UID of the pod the tree was last synced into.
    pub pod_uid: Option<String>,
    /// Directory inside the container the tree was last extracted into.
    pub target_dir: Option<String>,
    /// When the walk that produced this index began (the racy-timestamp reference).
    pub scanned_at: Option<UnixNanos>,
    /// When the index was written.
    pub written_at: Option<UnixNanos>,
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
        let raw: RawIndex<'_> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if let Some(kind) = &raw.kind
            && kind != "FileIndex"
        {
            return Err(format!("kind is {kind:?}, expected \"FileIndex\""));
        }
        let date = |s: Option<Cow<'_, str>>| s.and_then(|s| parse_rfc3339_nanos(&s));
        Ok(Self {
            entries: raw.files.0,
            pod_uid: raw.pod_uid,
            target_dir: raw.target_dir,
            scanned_at: date(raw.scanned_at),
            written_at: date(raw.written_at),
        })
    }

    /// Serialises to the JSON form, entries sorted by path.
    pub fn to_json(&self) -> Vec<u8> {
        let mut keys: Vec<&Box<str>> = self.entries.keys().collect();
        keys.sort_unstable();
        let mut out = Vec::with_capacity(64 + self.entries.len() * 128);
        out.extend_from_slice(br#"{"kind":"FileIndex","apiVersion":"v1","Files":{"#);
        let mut date = String::with_capacity(40);
        for (i, key) in keys.into_iter().enumerate() {
            let Some(entry) = self.entries.get(key) else {
                continue;
            };
            let meta = &entry.meta;
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
    #[serde(rename = "PodUID", default)]
    pod_uid: Option<String>,
    #[serde(rename = "TargetDir", default)]
    target_dir: Option<String>,
    #[serde(rename = "ScannedAt", default, borrow)]
    scanned_at: Option<Cow<'a, str>>,
    #[serde(rename = "WrittenAt", default, borrow)]
    written_at: Option<Cow<'a, str>>,
}

#[derive(Default)]
struct RawFiles(HashMap<Box<str>, IndexEntry>);

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
                let mut out = HashMap::with_capacity(map.size_hint().unwrap_or(1024));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let raw: RawFile<'de> = map.next_value()?;
                    let meta =
                        raw_to_meta(raw).map_err(|m| de::Error::custom(format!("{key}: {m}")))?;
                    out.insert(Box::from(key.as_ref()), IndexEntry::new(meta));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_index_written_by_odo() {
        let json = br#"{"kind":"FileIndex","apiVersion":"v1","Files":{"a/b.txt":{"Size":12,"LastModifiedDate":"2020-05-05T12:00:00.5+02:00"},"a":{"Size":4096,"LastModifiedDate":"2020-05-05T10:00:00Z"}}}"#;
        let idx = FileIndex::from_json(json).expect("valid odo index");
        let e = &idx.entries["a/b.txt"].meta;
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
        idx.entries
            .insert("x \"y\".txt".into(), IndexEntry::new(meta.clone()));
        idx.entries.insert(
            "d".into(),
            IndexEntry::new(Meta {
                kind: EntryKind::Dir,
                mode: 0o755,
                hash: None,
                ..meta.clone()
            }),
        );
        let json = idx.to_json();
        let back = FileIndex::from_json(&json).expect("own output parses");
        assert_eq!(back.entries["x \"y\".txt"].meta, meta);
        assert_eq!(back.entries["d"].meta.kind, EntryKind::Dir);
        assert_eq!(back.pod_uid.as_deref(), Some("uid-1"));
        assert_eq!(back.scanned_at, Some(5));
        let v: serde_json::Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(v["kind"], "FileIndex");
        assert_eq!(v["Files"]["d"]["Type"], "dir");
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
}
