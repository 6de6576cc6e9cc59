//! Tables of custom resources: the columns a CRD declares in `additionalPrinterColumns`
//! (JSONPath into each object: fields, `[n]`, `[*]` and `[?(@.key=="value")]` filters), with
//! `date` columns shown as ages, as the API server's CRD table convertor does.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{IncludeObject, partial_metadata, since};
use crate::resources::ResourceType;
use crate::store::Store;

/// One `additionalPrinterColumns` entry.
#[derive(Debug, Clone)]
pub struct PrinterColumn {
    name: String,
    ty: String,
    format: String,
    description: String,
    priority: i64,
    json_path: String,
}

/// The printer columns of a custom resource's version, or None for kinds without a CRD.
pub fn columns(store: &Store, rt: &ResourceType) -> Option<Vec<PrinterColumn>> {
    if !rt.group.contains('.') {
        return None;
    }
    let (tid, _) = store.resolve("apiextensions.k8s.io", "v1", "customresourcedefinitions")?;
    let crd = store.get(tid, "", &rt.qualified_plural()).ok()?;
    let version = crd
        .pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(rt.version.as_str()))?;
    let declared = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array);
    let text = |c: &Value, k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some(match declared {
        Some(cols) => cols
            .iter()
            .map(|c| PrinterColumn {
                name: text(c, "name"),
                ty: text(c, "type"),
                format: text(c, "format"),
                description: text(c, "description"),
                priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                json_path: text(c, "jsonPath"),
            })
            .collect(),
        None => vec![PrinterColumn {
            name: "Age".into(),
            ty: "date".into(),
            format: String::new(),
            description: "CreationTimestamp is a timestamp representing the server time when this object was created.".into(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        }],
    })
}

/// A Table of custom resources with the CRD's columns (after NAME).
pub fn table(
    cols: &[PrinterColumn],
    items: &[&Value],
    list_meta: Value,
    now: Timestamp,
    include: IncludeObject,
    version: &str,
) -> Value {
    let mut defs = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    defs.extend(cols.iter().map(|c| {
        json!({"name": c.name, "type": c.ty, "format": c.format, "description": c.description, "priority": c.priority})
    }));
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut cells = vec![o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
            cells.extend(cols.iter().map(|c| cell(o, c, now)));
            let mut r = json!({"cells": cells});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => r["object"] = partial_metadata(o, version),
                IncludeObject::Object => r["object"] = (*o).clone(),
            }
            r
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": list_meta,
        "columnDefinitions": defs,
        "rows": rows,
    })
}

fn cell(obj: &Value, c: &PrinterColumn, now: Timestamp) -> Value {
    let found = eval(obj, &c.json_path);
    let Some(first) = found.first() else {
        return Value::Null;
    };
    if c.ty == "date" {
        return Value::String(since(Some(first), now));
    }
    if found.len() == 1 {
        return (*first).clone();
    }
    let parts: Vec<String> = found
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    Value::String(parts.join(","))
}

/// Evaluates a JSONPath subset: `.a.b`, `.a[0]`, `.a[*].b`, `.a[?(@.k=="v")].b`.
pub fn eval<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut current = vec![obj];
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            rest = &r[end..];
            if key.is_empty() {
                continue;
            }
            current = current.into_iter().filter_map(|v| v.get(key)).collect();
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return Vec::new();
            };
            let sel = &r[..end];
            rest = &r[end + 1..];
            current = current.into_iter().flat_map(|v| select(v, sel)).collect();
        } else {
            return Vec::new();
        }
    }
    current
}

fn select<'a>(v: &'a Value, sel: &str) -> Vec<&'a Value> {
    let Some(items) = v.as_array() else {
        return Vec::new();
    };
    if sel == "*" {
        return items.iter().collect();
    }
    if let Ok(i) = sel.parse::<i64>() {
        let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
        let idx = if i < 0 { len + i } else { i };
        return usize::try_from(idx)
            .ok()
            .and_then(|i| items.get(i))
            .into_iter()
            .collect();
    }
    // [?(@.key=="value")]
    let Some(cond) = sel.strip_prefix("?(@.").and_then(|c| c.strip_suffix(')')) else {
        return Vec::new();
    };
    let Some((key, want)) = cond.split_once("==") else {
        return Vec::new();
    };
    let want = want.trim().trim_matches(|c| c == '"' || c == '\'');
    items
        .iter()
        .filter(|i| {
            eval(i, &format!(".{}", key.trim()))
                .first()
                .is_some_and(|v| match v {
                    Value::String(s) => s == want,
                    Value::Number(n) => want.parse::<f64>().ok() == n.as_f64(),
                    Value::Bool(b) => want.parse::<bool>().ok() == Some(*b),
                    _ => false,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_subset() {
        let o = json!({"spec": {"size": 3, "tags": ["a", "b"]},
                       "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}});
        assert_eq!(eval(&o, ".spec.size"), [&json!(3)]);
        assert_eq!(eval(&o, "{.spec.tags[1]}"), [&json!("b")]);
        assert_eq!(eval(&o, ".spec.tags[-1]"), [&json!("b")]);
        assert_eq!(eval(&o, ".spec.tags[*]"), [&json!("a"), &json!("b")]);
        assert_eq!(
            eval(&o, r#".status.conditions[?(@.type=="Ready")].status"#),
            [&json!("True")]
        );
        assert!(eval(&o, ".spec.missing").is_empty());
        assert!(eval(&o, ".spec.tags[9]").is_empty());
        assert!(eval(&o, "spec[").is_empty());
    }
}
