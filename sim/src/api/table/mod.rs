//! Server-side printing: the `meta.k8s.io` Table (and PartialObjectMetadata) representations
//! that kubectl asks for with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! kubectl prints whatever columns the server sends, so the columns here are those of the
//! real API server's printers (`pkg/printers/internalversion`), kind by kind, computed from
//! the stored objects and the store's clock. Columns with priority 1 are the `-o wide` ones.

mod cluster;
mod columns;
mod crd;
mod openshift;
mod pod;
mod workloads;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::resources::ResourceType;
use crate::store::Store;

/// How a response represents objects, as negotiated from the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// The objects themselves.
    Object,
    /// A `meta.k8s.io` Table of the given version (`v1` or `v1beta1`).
    Table(&'static str),
    /// `PartialObjectMetadata` / `PartialObjectMetadataList` of the given version.
    Metadata(&'static str),
}

/// What each Table row carries in `object` (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The full object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter (unknown values mean the default).
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// One column of a Table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header as the server names it (kubectl upper-cases it).
    pub name: &'static str,
    /// OpenAPI type: `string`, `integer`, `date`.
    pub ty: &'static str,
    /// 1 for the columns only `-o wide` shows.
    pub priority: u8,
    /// What the column shows.
    pub description: &'static str,
}

/// A column shown by default.
pub(crate) const fn col(name: &'static str, ty: &'static str, description: &'static str) -> Column {
    Column {
        name,
        ty,
        priority: 0,
        description,
    }
}

/// A column shown only with `-o wide`.
pub(crate) const fn wide(
    name: &'static str,
    ty: &'static str,
    description: &'static str,
) -> Column {
    Column {
        name,
        ty,
        priority: 1,
        description,
    }
}

/// Computes the cells of one object at an instant, one per column.
pub type Cells = fn(&Value, Timestamp) -> Vec<Value>;

/// The columns of a kind and how to compute a row's cells.
#[derive(Clone, Copy)]
pub struct Printer {
    /// Column definitions, in order.
    pub columns: &'static [Column],
    /// Cells of one object at instant `now`, one per column.
    pub cells: Cells,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("columns", &self.columns.len())
            .finish_non_exhaustive()
    }
}

/// The printer for objects of a resource type.
pub fn printer_for(rt: &ResourceType) -> Printer {
    if rt.group.is_empty() && rt.kind == "Pod" {
        return pod::PRINTER;
    }
    columns::printer_for(&rt.group, &rt.kind)
}

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A `PartialObjectMetadataList` of objects, with the list's metadata.
pub fn partial_metadata_list(items: &[&Value], list_meta: Value, version: &str) -> Value {
    let items: Vec<Value> = items.iter().map(|o| partial_metadata(o, version)).collect();
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": list_meta,
        "items": items,
    })
}

fn column_definitions(printer: &Printer) -> Vec<Value> {
    printer
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "name": c.name,
                "type": c.ty,
                "format": if i == 0 && c.name == "Name" { "name" } else { "" },
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect()
}

fn row(printer: &Printer, obj: &Value, now: Timestamp, include: IncludeObject, v: &str) -> Value {
    let mut cells = (printer.cells)(obj, now);
    cells.resize(printer.columns.len(), Value::String(String::new()));
    let mut r = json!({"cells": cells});
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => r["object"] = partial_metadata(obj, v),
        IncludeObject::Object => r["object"] = obj.clone(),
    }
    r
}

/// A Table of `items` for objects of `rt`, with the list's metadata: a custom resource's
/// printer columns come from its CRD, other kinds have built-in printers.
pub fn table(
    store: &Store,
    rt: &ResourceType,
    items: &[&Value],
    list_meta: Value,
    include: IncludeObject,
    version: &str,
) -> Value {
    let now = store.now();
    match crd::columns(store, rt) {
        Some(cols) => crd::table(&cols, items, list_meta, now, include, version),
        None => builtin_table(rt, items, list_meta, now, include, version),
    }
}

/// A Table of `items` with the built-in printer of `rt`.
pub fn builtin_table(
    rt: &ResourceType,
    items: &[&Value],
    list_meta: Value,
    now: Timestamp,
    include: IncludeObject,
    version: &str,
) -> Value {
    let printer = printer_for(rt);
    let rows: Vec<Value> = items
        .iter()
        .map(|o| row(&printer, o, now, include, version))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": list_meta,
        "columnDefinitions": column_definitions(&printer),
        "rows": rows,
    })
}

/// Formats a duration like kubectl's `duration.HumanDuration` (`5s`, `3m2s`, `4h`, `2d`).
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Parses an RFC 3339 timestamp field.
pub(crate) fn timestamp(v: Option<&Value>) -> Option<Timestamp> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<Timestamp>().ok())
}

/// The age of a timestamp field at `now` (`<unknown>` when it is unset), like kubectl's
/// `translateTimestampSince`.
pub(crate) fn since(v: Option<&Value>, now: Timestamp) -> String {
    match timestamp(v) {
        Some(t) => human_duration(now.as_second() - t.as_second()),
        None => "<unknown>".into(),
    }
}

/// The age of the object (`metadata.creationTimestamp`).
pub(crate) fn age(obj: &Value, now: Timestamp) -> Value {
    Value::String(since(obj.pointer("/metadata/creationTimestamp"), now))
}

/// A string field, or "".
pub(crate) fn s<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// An integer field, or 0.
pub(crate) fn i(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// An array field, or empty.
pub(crate) fn arr<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The object's name cell.
pub(crate) fn name(obj: &Value) -> Value {
    Value::String(s(obj, "/metadata/name").to_string())
}

/// `s` or `<none>` when empty.
pub(crate) fn or_none(s: impl Into<String>) -> Value {
    let s = s.into();
    Value::String(if s.is_empty() { "<none>".into() } else { s })
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn durations_read_like_kubectl() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (182, "3m2s"),
            (599, "9m59s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (4 * 3600 + 5 * 60, "4h5m"),
            (8 * 3600 + 5 * 60, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (10 * 86400, "10d"),
            (800 * 86400, "2y70d"),
            (3000 * 86400, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{IncludeObject, builtin_table};
    use crate::resources::{Flavor, Registry};

    /// Arbitrary JSON, biased towards the field names the printers read.
    fn value() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("metadata".to_string()),
            Just("spec".to_string()),
            Just("status".to_string()),
            Just("containers".to_string()),
            Just("conditions".to_string()),
            Just("subsets".to_string()),
            Just("ports".to_string()),
            Just("addresses".to_string()),
            Just("rules".to_string()),
            Just("state".to_string()),
            Just("containerStatuses".to_string()),
            Just("initContainerStatuses".to_string()),
            Just("creationTimestamp".to_string()),
            Just("name".to_string()),
            "[a-zA-Z]{1,8}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            Just(json!("2026-01-01T00:00:00Z")),
            Just(json!("True")),
            "[ -~]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map(key.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_object_makes_a_printer_panic(obj in value()) {
            let registry = Registry::for_flavor(Flavor::Openshift);
            let now = jiff::Timestamp::UNIX_EPOCH;
            for (_, rt) in registry.iter() {
                let t = builtin_table(rt, &[&obj], json!({}), now, IncludeObject::Object, "v1");
                let cols = t["columnDefinitions"].as_array().map_or(0, Vec::len);
                prop_assert_eq!(t["rows"][0]["cells"].as_array().map_or(0, Vec::len), cols);
            }
        }
    }
}
