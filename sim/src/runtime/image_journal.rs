//! Images pushed by builds, kept across restarts of `odo-sim serve --state DIR`.
//!
//! A pushed image is its base image plus the directories the build committed and a
//! configuration. Each push is appended to `DIR/images.jsonl` (one JSON line, synced before
//! the push counts) as exactly that: the base image's reference, the committed trees and the
//! config. On start the file is replayed in order over the catalogue, so an ImageStream tag
//! restored from the store points at an image the runtime knows again, byte for byte the
//! same tree. A line cut short at the end is a push that never completed and is dropped
//! with a warning; any other damage is an error naming the file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::fs::{DirNode, FileNode, SymlinkNode};
use super::{Image, ImageConfig, Node, SharedTree, Vfs};

/// The journal's file name inside the state directory.
pub const FILE: &str = "images.jsonl";

/// One push: what the image is made of.
#[derive(Debug, Clone)]
pub struct PushRecord {
    /// The references the image is pushed under (the first is its own).
    pub references: Vec<String>,
    /// The reference of the image the build ran on.
    pub base: String,
    /// The committed directories, each replacing that path of the base.
    pub layers: Vec<(String, Node)>,
    /// The new image's configuration.
    pub config: ImageConfig,
    /// The time parents of the layers were created at, if missing from the base.
    pub time: Timestamp,
}

impl PushRecord {
    /// The image: `base` with the layers put in place and the record's config.
    pub fn assemble(&self, base: &Image) -> Result<Image, String> {
        let tree = SharedTree::new(base.root.clone());
        let fs = Vfs::new(tree.clone(), vec![]);
        for (path, node) in &self.layers {
            let parent = super::fs::absolute(path, "..");
            let _ = fs.remove(path, true, self.time);
            fs.mkdir(&parent, true, 0o755, self.time)
                .and_then(|()| fs.put(path, node.clone(), true))
                .map_err(|e| format!("writing {path} of the new image: {e}"))?;
        }
        Ok(Image {
            reference: base.reference.clone(),
            root: tree.snapshot(),
            config: self.config.clone(),
        })
    }

    fn to_json(&self) -> Result<Value, String> {
        let config = serde_json::to_value(&self.config).map_err(|e| e.to_string())?;
        Ok(json!({
            "references": self.references,
            "base": self.base,
            "time": self.time.to_string(),
            "layers": self.layers.iter().map(|(p, n)| json!({"path": p, "tree": node_json(n)})).collect::<Vec<_>>(),
            "config": config,
        }))
    }

    fn from_json(v: &Value) -> Result<Self, String> {
        let strs = |k: &str| -> Result<Vec<String>, String> {
            v.get(k)
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{k} is missing"))?
                .iter()
                .map(|s| {
                    s.as_str()
                        .map(str::to_string)
                        .ok_or(format!("{k}: not a string"))
                })
                .collect()
        };
        let layers = v
            .get("layers")
            .and_then(Value::as_array)
            .ok_or("layers is missing")?
            .iter()
            .map(|l| {
                let path = l.get("path").and_then(Value::as_str).ok_or("layer path")?;
                Ok((
                    path.to_string(),
                    node_from(l.get("tree").unwrap_or(&Value::Null))?,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            references: strs("references")?,
            base: v
                .get("base")
                .and_then(Value::as_str)
                .ok_or("base is missing")?
                .to_string(),
            layers,
            config: serde_json::from_value(v.get("config").cloned().unwrap_or(Value::Null))
                .map_err(|e| format!("config: {e}"))?,
            time: time_from(v.get("time"))?,
        })
    }
}

fn time_from(v: Option<&Value>) -> Result<Timestamp, String> {
    v.and_then(Value::as_str)
        .ok_or("time is missing")?
        .parse()
        .map_err(|e| format!("time: {e}"))
}

fn node_json(n: &Node) -> Value {
    match n {
        Node::File(f) => json!({"file": base64::engine::general_purpose::STANDARD.encode(&f.data),
            "mode": f.mode, "mtime": f.mtime.to_string()}),
        Node::Symlink(s) => json!({"link": s.target, "mtime": s.mtime.to_string()}),
        Node::Dir(d) => {
            let entries: serde_json::Map<String, Value> = d
                .entries
                .iter()
                .map(|(k, c)| (k.clone(), node_json(c)))
                .collect();
            json!({"dir": entries, "mode": d.mode, "mtime": d.mtime.to_string()})
        }
    }
}

fn node_from(v: &Value) -> Result<Node, String> {
    let mtime = time_from(v.get("mtime"))?;
    let mode = || {
        v.get("mode")
            .and_then(Value::as_u64)
            .and_then(|m| u32::try_from(m).ok())
            .ok_or("mode is missing".to_string())
    };
    if let Some(data) = v.get("file").and_then(Value::as_str) {
        let data = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("file data: {e}"))?;
        return Ok(Node::File(FileNode {
            data: data.into(),
            mode: mode()?,
            mtime,
        }));
    }
    if let Some(target) = v.get("link").and_then(Value::as_str) {
        return Ok(Node::Symlink(SymlinkNode {
            target: target.to_string(),
            mtime,
        }));
    }
    let entries = v
        .get("dir")
        .and_then(Value::as_object)
        .ok_or("a node is neither file, link nor dir")?
        .iter()
        .map(|(k, c)| Ok((k.clone(), Arc::new(node_from(c)?))))
        .collect::<Result<_, String>>()?;
    Ok(Node::Dir(DirNode {
        entries,
        mode: mode()?,
        mtime,
    }))
}

/// The open journal of a state directory.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
}

/// A damaged journal, or one that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {why}")]
pub struct JournalError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub why: String,
}

impl Journal {
    /// Opens `dir/images.jsonl` and returns the pushes recorded in it, in order.
    pub fn open(dir: &Path) -> Result<(Self, Vec<PushRecord>), JournalError> {
        let path = dir.join(FILE);
        let err = |why: String| JournalError {
            path: path.clone(),
            why,
        };
        let text = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(err(e.to_string())),
        };
        let mut records = Vec::new();
        let complete = text.ends_with(b"\n");
        let lines: Vec<&[u8]> = text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        for (i, line) in lines.iter().enumerate() {
            let last = i + 1 == lines.len();
            match serde_json::from_slice::<Value>(line)
                .map_err(|e| e.to_string())
                .and_then(|v| PushRecord::from_json(&v))
            {
                Ok(r) => records.push(r),
                Err(why) if last && !complete => {
                    tracing::warn!(file = %path.display(), %why, "dropping a pushed image cut short by a crash");
                }
                Err(why) => {
                    return Err(err(format!(
                        "line {}: the pushed image record is corrupt: {why}",
                        i + 1
                    )));
                }
            }
        }
        if !complete && !text.is_empty() {
            // Drop the torn tail so the next append starts on a fresh line.
            let keep = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            std::fs::write(&path, &text[..keep]).map_err(|e| err(e.to_string()))?;
        }
        Ok((Self { path }, records))
    }

    /// Appends one push and syncs it to disk.
    pub fn append(&self, record: &PushRecord) -> Result<(), String> {
        let mut line = serde_json::to_vec(&record.to_json()?).map_err(|e| e.to_string())?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        f.write_all(&line)
            .and_then(|()| f.sync_data())
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_through_its_json_line() {
        let t: Timestamp = "2026-01-02T03:04:05.123456789Z".parse().expect("time");
        let mut dir = Node::empty_dir(0o775, t);
        if let Node::Dir(d) = &mut dir {
            d.entries.insert(
                "app.py".into(),
                Arc::new(Node::file(&b"print(1)\n"[..], 0o644, t)),
            );
            d.entries
                .insert("link".into(), Arc::new(Node::symlink("app.py", t)));
        }
        let mut config = ImageConfig {
            cmd: vec!["/usr/libexec/s2i/run".into()],
            ..ImageConfig::default()
        };
        config.labels.insert("k".into(), "v".into());
        config.env.push(("A".into(), "1".into()));
        let r = PushRecord {
            references: vec!["r/ns/app:latest".into(), "r/ns/app@sha256:00".into()],
            base: "docker.io/library/busybox:latest".into(),
            layers: vec![("/opt/app-root/src".into(), dir)],
            config,
            time: t,
        };
        let back = PushRecord::from_json(&r.to_json().expect("json")).expect("parse");
        assert_eq!(back.references, r.references);
        assert_eq!(back.base, r.base);
        assert_eq!(back.config, r.config);
        assert_eq!(back.time, t);
        assert_eq!(back.layers.len(), 1);
        assert_eq!(
            format!("{:?}", back.layers[0]),
            format!("{:?}", r.layers[0])
        );
    }
}
