//! Request bodies in `application/vnd.kubernetes.protobuf`, as kubectl's typed commands
//! (`kubectl create configmap|secret|deployment|namespace|service|job ...`) send them: the
//! `k8s\0` magic, a `runtime.Unknown` envelope naming apiVersion and kind, and the object's
//! protobuf encoding. The object is decoded field by field from the generated field tables
//! (`schema.txt`) into the JSON shape the rest of the server works with.
//!
//! Any input is handled without panicking: malformed varints, lengths past the end, unknown
//! wire types, invalid UTF-8 and excessive nesting are errors with the failing field's path.

mod schema;

use base64::Engine;
use serde_json::{Map, Value, json};

use schema::{Field, Ty};

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";
const MAX_DEPTH: usize = 64;

/// Why a protobuf body could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    /// The body does not start with the `k8s\0` magic.
    #[error("the body does not start with the Kubernetes protobuf magic \"k8s\\x00\"")]
    NoMagic,
    /// The envelope names a kind the simulator has no protobuf schema for.
    #[error(
        "no protobuf schema for {api_version}/{kind} in this simulator: send the object as application/json instead"
    )]
    UnknownKind {
        /// `apiVersion` of the envelope.
        api_version: String,
        /// `kind` of the envelope.
        kind: String,
    },
    /// The envelope declares a content encoding (none is supported).
    #[error("unsupported protobuf content encoding {0:?}")]
    Encoding(String),
    /// The bytes are not valid protobuf for the message.
    #[error("invalid protobuf at {path}: {what}")]
    Malformed {
        /// Where in the object (JSON field path).
        path: String,
        /// What was wrong.
        what: String,
    },
}

fn bad(path: &str, what: impl Into<String>) -> ProtoError {
    ProtoError::Malformed {
        path: if path.is_empty() {
            ".".into()
        } else {
            path.into()
        },
        what: what.into(),
    }
}

/// Whether a `Content-Type` is Kubernetes protobuf.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or_default().trim() == MEDIA_TYPE
}

/// A protobuf wire value.
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    /// A 32-bit fixed value (no field the simulator decodes has this type).
    Fixed32,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self, path: &str) -> Result<u64, ProtoError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(bad(path, "truncated varint"));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad(path, "varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize, path: &str) -> Result<&'a [u8], ProtoError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| bad(path, format!("length {n} runs past the end of the message")))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn field(&mut self, path: &str) -> Result<(u32, Wire<'a>), ProtoError> {
        let key = self.varint(path)?;
        let tag = u32::try_from(key >> 3).map_err(|_| bad(path, "field number out of range"))?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint(path)?),
            1 => {
                let b = self.take(8, path)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Wire::Fixed64(u64::from_le_bytes(a))
            }
            2 => {
                let n = usize::try_from(self.varint(path)?)
                    .map_err(|_| bad(path, "length out of range"))?;
                Wire::Bytes(self.take(n, path)?)
            }
            5 => {
                self.take(4, path)?;
                Wire::Fixed32
            }
            w => {
                return Err(bad(
                    path,
                    format!("unsupported wire type {w} (field {tag})"),
                ));
            }
        };
        Ok((tag, wire))
    }
}

/// Decodes a whole request body: magic, `runtime.Unknown` envelope, and the object.
pub fn decode(body: &[u8]) -> Result<Value, ProtoError> {
    let rest = body.strip_prefix(MAGIC).ok_or(ProtoError::NoMagic)?;
    let mut r = Reader::new(rest);
    let (mut api_version, mut kind, mut raw, mut encoding) =
        (String::new(), String::new(), &[][..], String::new());
    while !r.done() {
        match r.field("Unknown")? {
            (1, Wire::Bytes(tm)) => {
                let mut t = Reader::new(tm);
                while !t.done() {
                    match t.field("typeMeta")? {
                        (1, Wire::Bytes(b)) => api_version = utf8(b, "apiVersion")?,
                        (2, Wire::Bytes(b)) => kind = utf8(b, "kind")?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = b,
            (3, Wire::Bytes(b)) => encoding = utf8(b, "contentEncoding")?,
            _ => {}
        }
    }
    if !encoding.is_empty() {
        return Err(ProtoError::Encoding(encoding));
    }
    let Some(msg) = schema::message_for(&api_version, &kind) else {
        return Err(ProtoError::UnknownKind { api_version, kind });
    };
    let mut obj = message(&msg, raw, "", 0)?;
    if let Some(m) = obj.as_object_mut() {
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!(kind));
    }
    Ok(obj)
}

fn utf8(b: &[u8], path: &str) -> Result<String, ProtoError> {
    String::from_utf8(b.to_vec()).map_err(|_| bad(path, "string is not valid UTF-8"))
}

/// Integer fields that are pointers in the Go types: a zero there was set on purpose, so it
/// is kept (other zero scalars are what Go's `omitempty` would leave out).
const MEANINGFUL_ZERO: &[&str] = &[
    "replicas",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "backoffLimit",
    "parallelism",
    "completions",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "ttlSecondsAfterFinished",
    "revisionHistoryLimit",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "startingDeadlineSeconds",
    "defaultMode",
    "mode",
    "priority",
    "gracePeriodSeconds",
];

fn is_omitted(path: &str, v: &Value) -> bool {
    let name = path.rsplit('.').next().unwrap_or_default();
    let meaningful = MEANINGFUL_ZERO.contains(&name) && !path.starts_with(".status");
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0) && !meaningful,
        _ => false,
    }
}

fn message(name: &str, buf: &[u8], path: &str, depth: usize) -> Result<Value, ProtoError> {
    if depth > MAX_DEPTH {
        return Err(bad(path, "messages nested too deeply"));
    }
    match name {
        "apimachinery.pkg.apis.meta.v1.Time" | "apimachinery.pkg.apis.meta.v1.MicroTime" => {
            return time(buf, path, name.ends_with("MicroTime"));
        }
        "apimachinery.pkg.util.intstr.IntOrString" => return int_or_string(buf, path),
        "apimachinery.pkg.runtime.RawExtension" | "apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            return raw_json(buf, path);
        }
        "apimachinery.pkg.api.resource.Quantity" => return quantity(buf, path),
        "apimachinery.pkg.apis.meta.v1.Duration" => return duration(buf, path),
        _ => {}
    }
    let fields = schema::message(name).ok_or_else(|| bad(path, format!("no schema for {name}")))?;
    let mut out = Map::new();
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wire) = r.field(path)?;
        let Some(f) = fields.iter().find(|f| f.tag == tag) else {
            continue; // unknown fields are skipped, as protobuf readers do
        };
        let fpath = format!("{path}.{}", f.name);
        if let Ty::Map(vt) = &f.ty {
            let Wire::Bytes(entry) = wire else {
                return Err(bad(&fpath, "map entry is not length-delimited"));
            };
            let (k, v) = map_entry(entry, vt, &fpath, depth)?;
            let m = out
                .entry(f.name)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(m) = m.as_object_mut() {
                m.insert(k, v);
            }
            continue;
        }
        if f.repeated {
            let items = repeated(f, wire, &fpath, depth)?;
            let a = out
                .entry(f.name)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(a) = a.as_array_mut() {
                a.extend(items);
            }
            continue;
        }
        let v = value(&f.ty, wire, &fpath, depth)?;
        if f.inline {
            if let Value::Object(m) = v {
                out.extend(m);
            }
        } else if v.is_null() || (is_omitted(&fpath, &v) && !matches!(f.ty, Ty::Msg(_))) {
            out.remove(f.name);
        } else {
            out.insert(f.name.to_string(), v);
        }
    }
    Ok(Value::Object(out))
}

fn repeated(f: &Field, wire: Wire<'_>, path: &str, depth: usize) -> Result<Vec<Value>, ProtoError> {
    match (&f.ty, wire) {
        // Packed scalars.
        (Ty::Bool | Ty::I32 | Ty::I64, Wire::Bytes(b)) => {
            let mut r = Reader::new(b);
            let mut out = Vec::new();
            while !r.done() {
                out.push(value(&f.ty, Wire::Varint(r.varint(path)?), path, depth)?);
            }
            Ok(out)
        }
        (ty, wire) => Ok(vec![value(ty, wire, path, depth)?]),
    }
}

fn map_entry(buf: &[u8], vt: &Ty, path: &str, depth: usize) -> Result<(String, Value), ProtoError> {
    let mut r = Reader::new(buf);
    let mut key = String::new();
    let mut val = None;
    while !r.done() {
        match r.field(path)? {
            (1, Wire::Bytes(b)) => key = utf8(b, path)?,
            (2, w) => val = Some(value(vt, w, &format!("{path}[{key}]"), depth)?),
            _ => {}
        }
    }
    let val = val.unwrap_or_else(|| match vt {
        Ty::Str | Ty::Bytes => json!(""),
        Ty::Bool => json!(false),
        Ty::I32 | Ty::I64 | Ty::F64 => json!(0),
        Ty::Msg(_) | Ty::Map(_) => json!({}),
    });
    Ok((key, val))
}

fn value(ty: &Ty, wire: Wire<'_>, path: &str, depth: usize) -> Result<Value, ProtoError> {
    match (ty, wire) {
        (Ty::Str, Wire::Bytes(b)) => Ok(Value::String(utf8(b, path)?)),
        (Ty::Bytes, Wire::Bytes(b)) => Ok(Value::String(
            base64::engine::general_purpose::STANDARD.encode(b),
        )),
        (Ty::Bool, Wire::Varint(v)) => Ok(Value::Bool(v != 0)),
        #[allow(clippy::cast_possible_truncation)]
        (Ty::I32, Wire::Varint(v)) => Ok(json!(v as i32)),
        #[allow(clippy::cast_possible_wrap)]
        (Ty::I64, Wire::Varint(v)) => Ok(json!(v as i64)),
        (Ty::F64, Wire::Fixed64(v)) => Ok(json!(f64::from_bits(v))),
        (Ty::Msg(m), Wire::Bytes(b)) => message(m, b, path, depth + 1),
        (ty, _) => Err(bad(
            path,
            format!("wire type does not match the field type {ty:?}"),
        )),
    }
}

fn time(buf: &[u8], path: &str, micro: bool) -> Result<Value, ProtoError> {
    let (mut secs, mut nanos) = (0i64, 0i64);
    let mut r = Reader::new(buf);
    while !r.done() {
        match r.field(path)? {
            #[allow(clippy::cast_possible_wrap)]
            (1, Wire::Varint(v)) => secs = v as i64,
            #[allow(clippy::cast_possible_wrap, clippy::cast_possible_truncation)]
            (2, Wire::Varint(v)) => nanos = i64::from(v as i32),
            _ => {}
        }
    }
    if secs == 0 && nanos == 0 {
        return Ok(Value::Null);
    }
    let ts = jiff::Timestamp::new(secs, i32::try_from(nanos).unwrap_or(0))
        .map_err(|e| bad(path, format!("timestamp out of range: {e}")))?;
    let fmt = if micro {
        "%Y-%m-%dT%H:%M:%S.%6fZ"
    } else {
        "%Y-%m-%dT%H:%M:%SZ"
    };
    Ok(Value::String(ts.strftime(fmt).to_string()))
}

fn int_or_string(buf: &[u8], path: &str) -> Result<Value, ProtoError> {
    let (mut ty, mut int, mut s) = (0u64, 0i64, String::new());
    let mut r = Reader::new(buf);
    while !r.done() {
        match r.field(path)? {
            (1, Wire::Varint(v)) => ty = v,
            #[allow(clippy::cast_possible_truncation)]
            (2, Wire::Varint(v)) => int = i64::from(v as i32),
            (3, Wire::Bytes(b)) => s = utf8(b, path)?,
            _ => {}
        }
    }
    Ok(if ty == 1 { json!(s) } else { json!(int) })
}

fn quantity(buf: &[u8], path: &str) -> Result<Value, ProtoError> {
    let mut r = Reader::new(buf);
    let mut s = String::new();
    while !r.done() {
        if let (1, Wire::Bytes(b)) = r.field(path)? {
            s = utf8(b, path)?;
        }
    }
    Ok(Value::String(s))
}

/// A `metav1.Duration` (nanoseconds) as Go's `time.Duration.String()` writes it.
fn duration(buf: &[u8], path: &str) -> Result<Value, ProtoError> {
    let mut r = Reader::new(buf);
    let mut nanos: i64 = 0;
    while !r.done() {
        if let (1, Wire::Varint(v)) = r.field(path)? {
            #[allow(clippy::cast_possible_wrap)]
            {
                nanos = v as i64;
            }
        }
    }
    Ok(Value::String(go_duration(nanos)))
}

fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        let (v, unit) = if n < 1_000 {
            (n as f64, "ns")
        } else if n < 1_000_000 {
            (n as f64 / 1e3, "µs")
        } else {
            (n as f64 / 1e6, "ms")
        };
        return format!("{sign}{v}{unit}");
    }
    let (h, rem) = (n / 3_600_000_000_000, n % 3_600_000_000_000);
    let (m, rem) = (rem / 60_000_000_000, rem % 60_000_000_000);
    let secs = rem as f64 / 1e9;
    let mut out = String::from(sign);
    if h > 0 {
        out.push_str(&format!("{h}h{m}m"));
    } else if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{secs}s"));
    out
}

fn raw_json(buf: &[u8], path: &str) -> Result<Value, ProtoError> {
    let mut r = Reader::new(buf);
    let mut raw: &[u8] = &[];
    while !r.done() {
        if let (1, Wire::Bytes(b)) = r.field(path)? {
            raw = b;
        }
    }
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|e| bad(path, format!("embedded object is not JSON: {e}")))
}

#[cfg(test)]
mod tests;
