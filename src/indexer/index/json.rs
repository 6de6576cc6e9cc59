//! The JSON form of the index (see the parent module for the format).
//!
//! Reading: the exact form [`FileIndex::to_json`] writes is parsed by a small hand-written fast
//! path (the no-change re-index of a large tree is dominated by it otherwise); anything else
//! (odo's own output, pretty-printed JSON, escapes in names) goes through `serde_json`.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::{Digest, EntryKind, FileIndex, Meta, REMOVED, Slot, UNKNOWN_MODE, key_of};
use crate::indexer::timefmt::{format_rfc3339_nanos, parse_rfc3339_nanos};

impl FileIndex {
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
    fn rejects_garbage() {
        assert!(FileIndex::from_json(b"{not json").is_err());
        assert!(FileIndex::from_json(br#"{"kind":"Pod"}"#).is_err());
        assert!(
            FileIndex::from_json(br#"{"Files":{"a":{"Size":1,"LastModifiedDate":"yesterday"}}}"#)
                .is_err()
        );
    }
}
