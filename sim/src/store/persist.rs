//! Durability for `odo-sim serve --state DIR`: a snapshot plus a write-ahead log.
//!
//! Every committed change is appended to `wal.log` as one framed record (length, CRC-32,
//! JSON) and `fsync`ed before the request is acknowledged. When the log grows past a limit the
//! whole state is written to `snapshot.json.tmp`, synced, and renamed over `snapshot.json`
//! (an atomic replacement), then the log restarts empty. On start the snapshot is loaded and
//! the log replayed. A record cut short at the end of the log is a write that was never
//! acknowledged (the process died inside `write`), so it is dropped with a warning; any other
//! damage is an error naming the file, never a silently empty cluster.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

/// How many log records trigger a snapshot.
const SNAPSHOT_EVERY: usize = 4096;

/// A failure to open or restore the state directory.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A damaged state file.
    #[error(
        "{path}: state file is corrupt: {why}. Move it away to start an empty cluster, or restore it from a backup"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PersistError + '_ {
    move |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What was on disk.
#[derive(Debug, Default)]
pub struct Restored {
    /// The resourceVersion of the last durable write.
    pub rv: u64,
    /// Objects as `(apiVersion, plural, object)`, CRDs first.
    pub objects: Vec<(String, String, Value)>,
}

/// The open write-ahead log.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    file: File,
    records: usize,
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

impl Wal {
    /// Opens (creating if needed) the state in `dir` and returns what it holds.
    pub fn open(dir: &Path) -> Result<(Restored, Self), PersistError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let snap_path = dir.join("snapshot.json");
        let mut state: std::collections::BTreeMap<(String, String, String, String), Value> =
            Default::default();
        let mut order: Vec<(String, String, String, String)> = Vec::new();
        let mut rv = 0u64;
        if snap_path.exists() {
            let raw = fs::read(&snap_path).map_err(io_err(&snap_path))?;
            let snap: Value = serde_json::from_slice(&raw).map_err(|e| PersistError::Corrupt {
                path: snap_path.clone(),
                why: e.to_string(),
            })?;
            rv = snap
                .get("resourceVersion")
                .and_then(Value::as_u64)
                .ok_or_else(|| PersistError::Corrupt {
                    path: snap_path.clone(),
                    why: "missing resourceVersion".into(),
                })?;
            for row in snap
                .get("objects")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(av), Some(pl), Some(obj)) = (
                    row.get("apiVersion").and_then(Value::as_str),
                    row.get("resource").and_then(Value::as_str),
                    row.get("object"),
                ) else {
                    return Err(PersistError::Corrupt {
                        path: snap_path.clone(),
                        why: "an object row lacks apiVersion, resource or object".into(),
                    });
                };
                let key = key_of(av, pl, obj);
                order.push(key.clone());
                state.insert(key, obj.clone());
            }
        }
        let wal_path = dir.join("wal.log");
        let mut records = 0usize;
        if wal_path.exists() {
            let mut raw = Vec::new();
            File::open(&wal_path)
                .and_then(|mut f| f.read_to_end(&mut raw))
                .map_err(io_err(&wal_path))?;
            let mut pos = 0usize;
            let mut good_end = 0usize;
            while pos < raw.len() {
                if raw.len() - pos < 8 {
                    break;
                }
                let len = u32::from_le_bytes([raw[pos], raw[pos + 1], raw[pos + 2], raw[pos + 3]])
                    as usize;
                let crc =
                    u32::from_le_bytes([raw[pos + 4], raw[pos + 5], raw[pos + 6], raw[pos + 7]]);
                let end = pos + 8 + len;
                if end > raw.len() {
                    break;
                }
                let payload = &raw[pos + 8..end];
                if crc32fast::hash(payload) != crc {
                    if end == raw.len() {
                        break;
                    }
                    return Err(PersistError::Corrupt {
                        path: wal_path.clone(),
                        why: format!("checksum mismatch in the record at byte {pos}"),
                    });
                }
                let rec: Value =
                    serde_json::from_slice(payload).map_err(|e| PersistError::Corrupt {
                        path: wal_path.clone(),
                        why: format!("record at byte {pos}: {e}"),
                    })?;
                let rec_rv = rec.get("rv").and_then(Value::as_u64).unwrap_or(0);
                if rec_rv > rv {
                    rv = rec_rv;
                    let av = rec
                        .get("apiVersion")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let pl = rec
                        .get("resource")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    match rec.get("op").and_then(Value::as_str) {
                        Some("put") => {
                            let obj = rec.get("object").cloned().unwrap_or_default();
                            let key = key_of(av, pl, &obj);
                            if !state.contains_key(&key) {
                                order.push(key.clone());
                            }
                            state.insert(key, obj);
                        }
                        Some("delete") => {
                            let ns = rec
                                .get("namespace")
                                .and_then(Value::as_str)
                                .unwrap_or_default();
                            let name = rec.get("name").and_then(Value::as_str).unwrap_or_default();
                            state.remove(&(
                                av.to_string(),
                                pl.to_string(),
                                ns.to_string(),
                                name.to_string(),
                            ));
                        }
                        _ => {
                            return Err(PersistError::Corrupt {
                                path: wal_path.clone(),
                                why: format!("unknown operation in the record at byte {pos}"),
                            });
                        }
                    }
                }
                records += 1;
                pos = end;
                good_end = end;
            }
            if good_end < raw.len() {
                tracing::warn!(file = %wal_path.display(), bytes = raw.len() - good_end, "dropping an incomplete last record (a write that was never acknowledged)");
                let f = OpenOptions::new()
                    .write(true)
                    .open(&wal_path)
                    .map_err(io_err(&wal_path))?;
                f.set_len(good_end as u64).map_err(io_err(&wal_path))?;
                f.sync_all().map_err(io_err(&wal_path))?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&wal_path)
            .map_err(io_err(&wal_path))?;
        sync_dir(dir)?;
        let mut objects: Vec<(String, String, Value)> = order
            .into_iter()
            .filter_map(|k| state.remove(&k).map(|o| (k.0, k.1, o)))
            .collect();
        objects.sort_by_key(|(_, pl, _)| pl != "customresourcedefinitions");
        Ok((
            Restored { rv, objects },
            Self {
                dir: dir.to_path_buf(),
                file,
                records,
            },
        ))
    }

    fn append(&mut self, rec: &Value) -> io::Result<()> {
        let bytes = frame(rec.to_string().as_bytes());
        self.file.write_all(&bytes)?;
        self.file.sync_data()?;
        self.records += 1;
        Ok(())
    }

    /// Logs a create or update.
    pub fn append_put(
        &mut self,
        rv: u64,
        api_version: &str,
        plural: &str,
        obj: &Value,
    ) -> io::Result<()> {
        self.append(&json!({"rv": rv, "op": "put", "apiVersion": api_version, "resource": plural, "object": obj}))
    }

    /// Logs a removal.
    pub fn append_delete(
        &mut self,
        rv: u64,
        api_version: &str,
        plural: &str,
        ns: &str,
        name: &str,
    ) -> io::Result<()> {
        self.append(&json!({"rv": rv, "op": "delete", "apiVersion": api_version, "resource": plural, "namespace": ns, "name": name}))
    }

    /// Whether the log is long enough to fold into a snapshot.
    pub fn wants_snapshot(&self) -> bool {
        self.records >= SNAPSHOT_EVERY
    }

    /// Writes the full state atomically and restarts the log.
    pub fn snapshot(
        &mut self,
        rv: u64,
        rows: &[(String, String, Arc<Value>)],
    ) -> Result<(), PersistError> {
        let tmp = self.dir.join("snapshot.json.tmp");
        let dst = self.dir.join("snapshot.json");
        let objects: Vec<Value> = rows
            .iter()
            .map(|(av, pl, o)| json!({"apiVersion": av, "resource": pl, "object": **o}))
            .collect();
        let body = json!({"resourceVersion": rv, "objects": objects}).to_string();
        {
            let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(body.as_bytes()).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
        }
        fs::rename(&tmp, &dst).map_err(io_err(&dst))?;
        sync_dir(&self.dir)?;
        let wal_path = self.dir.join("wal.log");
        let f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&wal_path)
            .map_err(io_err(&wal_path))?;
        f.sync_all().map_err(io_err(&wal_path))?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&wal_path)
            .map_err(io_err(&wal_path))?;
        self.records = 0;
        Ok(())
    }
}

fn key_of(api_version: &str, plural: &str, obj: &Value) -> (String, String, String, String) {
    (
        api_version.to_string(),
        plural.to_string(),
        super::meta::namespace(obj).to_string(),
        super::meta::name(obj).to_string(),
    )
}
