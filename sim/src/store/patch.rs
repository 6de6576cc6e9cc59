//! Patch types: JSON patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge patch
//! (lists merged by the built-in types' merge keys, `$patch`, `$retainKeys`,
//! `$deleteFromPrimitiveList`), and server-side apply (managed fields, conflicts between
//! managers, `force`).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::WriteOptions;
use crate::error::{ApiError, ApiResult, Cause};
use crate::json_ptr::Ptr;
use crate::resources::ResourceType;

/// The patch formats, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchKind {
    /// The patch kind for a `Content-Type`, or a 415.
    pub fn from_content_type(ct: &str) -> ApiResult<Self> {
        let base = ct.split(';').next().unwrap_or_default().trim();
        match base {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml"
            | "application/apply-patch+json"
            | "application/apply-patch+cbor" => Ok(Self::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }
}

fn parse_body(body: &[u8], yaml: bool) -> ApiResult<Value> {
    let parsed: Result<Value, String> = if yaml {
        serde_yaml::from_slice::<Value>(body).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
}

/// The operations of a JSON patch body, or the 400 the real server gives for a body that is
/// not an array of objects (its decoder accepts any members; they are checked on apply).
fn decode_json_patch(body: &[u8]) -> ApiResult<Vec<Value>> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let go_type = |v: &Value| match v {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
    };
    let Value::Array(ops) = doc else {
        return Err(ApiError::bad_request(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            go_type(&doc)
        )));
    };
    if let Some(bad) = ops.iter().find(|op| !op.is_object() && !op.is_null()) {
        return Err(ApiError::bad_request(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
            go_type(bad)
        )));
    }
    Ok(ops)
}

/// Applies a patch of `kind` to `current`, returning the patched object (not yet validated).
pub fn apply_patch(
    kind: PatchKind,
    current: &Value,
    body: &[u8],
    rt: &ResourceType,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    match kind {
        PatchKind::Json => {
            let ops = decode_json_patch(body)?;
            let mut doc = current.clone();
            // The real server answers every patch that does not apply (a failed `test`, a
            // missing path, a bad index, an unknown op) with the same bare 422.
            let applied = serde_json::from_value::<json_patch::Patch>(Value::Array(ops))
                .map_err(|e| e.to_string())
                .and_then(|p| json_patch::patch(&mut doc, &p).map_err(|e| e.to_string()));
            if let Err(why) = applied {
                tracing::debug!(
                    name = super::meta::name(current),
                    "JSON patch does not apply: {why}"
                );
                return Err(ApiError::patch_not_applicable());
            }
            Ok(doc)
        }
        PatchKind::Merge => {
            let patch = parse_body(body, false)?;
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "error decoding patch: a merge patch must be a JSON object",
                ));
            }
            let mut doc = current.clone();
            json_patch::merge(&mut doc, &patch);
            Ok(doc)
        }
        PatchKind::Strategic => {
            let patch = parse_body(body, false)?;
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "error decoding patch: a strategic merge patch must be a JSON object",
                ));
            }
            if !is_builtin(rt) {
                return Err(ApiError::unsupported_media_type(
                    "application/strategic-merge-patch+json is not supported for custom resources",
                ));
            }
            let mut doc = current.clone();
            strategic_merge(&mut doc, &patch);
            Ok(doc)
        }
        PatchKind::Apply => {
            let applied = parse_body(body, true)?;
            let Some(_) = applied.as_object() else {
                return Err(ApiError::bad_request(
                    "error decoding patch: the applied configuration must be an object",
                ));
            };
            check_apply_conflicts(current, &applied, opts, rt)?;
            let mut doc = current.clone();
            strategic_merge(&mut doc, &applied);
            remove_dropped_fields(&mut doc, current, &applied, opts);
            Ok(doc)
        }
    }
}

/// The configuration of a server-side apply request.
pub(super) fn parse_applied(body: &[u8]) -> ApiResult<Value> {
    parse_body(body, true)
}

/// The object a server-side apply creates when nothing exists yet.
pub fn apply_to_new(body: &[u8], name: &str) -> ApiResult<Value> {
    let mut applied = parse_body(body, true)?;
    if !applied.is_object() {
        return Err(ApiError::bad_request(
            "error decoding patch: the applied configuration must be an object",
        ));
    }
    let n = super::meta::name(&applied);
    if !n.is_empty() && n != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        )));
    }
    super::meta::meta_mut(&mut applied).insert("name".into(), json!(name));
    Ok(applied)
}

fn is_builtin(rt: &ResourceType) -> bool {
    !rt.group.contains('.') || rt.group.ends_with(".k8s.io") || rt.group.ends_with(".openshift.io")
}

/// The merge key of a list field in the built-in types, judged by the field name and the
/// shape of its elements (as the types' `patchMergeKey` tags declare).
pub(super) fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let has = |k: &str| items.iter().all(|i| i.get(k).is_some());
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "hostAliases"
        | "readinessGates" => {
            if field == "hostAliases" {
                Some("ip")
            } else if field == "readinessGates" {
                Some("conditionType")
            } else {
                Some("name")
            }
        }
        "ports" if has("containerPort") => Some("containerPort"),
        "ports" if has("port") => Some("port"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "envFrom" | "tolerations" | "args" | "command" => None,
        _ => None,
    }
}

/// Lists of scalars that merge as sets rather than being replaced.
fn is_set_list(field: &str) -> bool {
    matches!(field, "finalizers")
}

/// Strategic merge of `patch` into `doc`, in place.
pub fn strategic_merge(doc: &mut Value, patch: &Value) {
    let Some(p) = patch.as_object() else {
        *doc = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replacement = patch.clone();
        if let Some(m) = replacement.as_object_mut() {
            m.remove("$patch");
        }
        *doc = replacement;
        return;
    }
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let Some(d) = doc.as_object_mut() else { return };
    if let Some(keep) = p.get("$retainKeys").and_then(Value::as_array) {
        let keep: BTreeSet<&str> = keep.iter().filter_map(Value::as_str).collect();
        d.retain(|k, _| keep.contains(k.as_str()));
    }
    for (key, value) in p {
        if key == "$patch" || key == "$retainKeys" || key.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(remove)) = (d.get_mut(field), value.as_array()) {
                list.retain(|v| !remove.contains(v));
            }
            continue;
        }
        match value {
            Value::Null => {
                d.remove(key);
            }
            Value::Object(_) => {
                if value.get("$patch").and_then(Value::as_str) == Some("delete") {
                    d.remove(key);
                    continue;
                }
                let slot = d.entry(key.clone()).or_insert(Value::Null);
                strategic_merge(slot, value);
            }
            Value::Array(items) => {
                let slot = d
                    .entry(key.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                merge_list(key, slot, items);
            }
            other => {
                d.insert(key.clone(), other.clone());
            }
        }
    }
}

fn merge_list(field: &str, slot: &mut Value, items: &[Value]) {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *slot = Value::Array(
            items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .cloned()
                .collect(),
        );
        return;
    }
    if is_set_list(field) {
        let mut list = slot.as_array().cloned().unwrap_or_default();
        for i in items {
            if !list.contains(i) {
                list.push(i.clone());
            }
        }
        *slot = Value::Array(list);
        return;
    }
    let Some(key) = merge_key(field, items) else {
        *slot = Value::Array(items.to_vec());
        return;
    };
    let mut list = slot.as_array().cloned().unwrap_or_default();
    for item in items {
        let id = item.get(key).cloned();
        let pos = list.iter().position(|e| e.get(key).cloned() == id);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                list.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut list[i], item),
            (None, false) => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, item);
                list.push(fresh);
            }
        }
    }
    *slot = Value::Array(list);
}

pub(super) const SYSTEM_META: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// The fieldsV1 key of a field: `f:<name>` (built without the formatting machinery: it
/// runs for every field of every write).
pub(super) fn field_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len() + 2);
    key.push_str("f:");
    key.push_str(name);
    key
}

/// The `fieldsV1` set of an object: every leaf field it sets, with list items of merge-keyed
/// lists named by key (`k:{"name":"app"}`), as managedFields records them.
pub fn fields_v1(obj: &Value) -> Value {
    fn walk(v: &Value, field: &str, top_meta: bool) -> Value {
        match v {
            Value::Object(m) => {
                let mut out = Map::with_capacity(m.len());
                for (k, child) in m {
                    if top_meta && SYSTEM_META.contains(&k.as_str()) {
                        continue;
                    }
                    out.insert(field_key(k), walk(child, k, false));
                }
                Value::Object(out)
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
                match merge_key(field, items) {
                    Some(key) => {
                        let mut out = Map::with_capacity(items.len());
                        for i in items {
                            let id = json!({ key: i.get(key).cloned().unwrap_or(Value::Null) });
                            out.insert(format!("k:{id}"), walk(i, "", false));
                        }
                        Value::Object(out)
                    }
                    None => json!({}),
                }
            }
            _ => json!({}),
        }
    }
    let mut out = Map::with_capacity(obj.as_object().map_or(0, Map::len));
    if let Some(m) = obj.as_object() {
        for (k, v) in m {
            if k == "apiVersion" || k == "kind" {
                continue;
            }
            out.insert(field_key(k), walk(v, k, k == "metadata"));
        }
    }
    Value::Object(out)
}

/// Flattens a fieldsV1 set into leaf paths like `.spec.replicas`.
fn leaf_paths(fields: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match fields.as_object() {
        Some(m) if !m.is_empty() => {
            for (k, child) in m {
                let seg = k.strip_prefix("f:").map_or_else(
                    || format!("[{}]", k.trim_start_matches("k:")),
                    |f| format!(".{f}"),
                );
                leaf_paths(child, &format!("{prefix}{seg}"), out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

pub(super) fn value_at<'a>(
    obj: &'a Value,
    fields_path: &[(String, Option<Value>)],
) -> Option<&'a Value> {
    let mut cur = obj;
    for (seg, key) in fields_path {
        cur = match key {
            None => cur.get(seg)?,
            Some(k) => {
                let (kname, kval) = k.as_object()?.iter().next()?;
                cur.as_array()?
                    .iter()
                    .find(|i| i.get(kname) == Some(kval))?
            }
        };
    }
    Some(cur)
}

pub(super) fn leaf_segments(
    fields: &Value,
    prefix: Vec<(String, Option<Value>)>,
    out: &mut Vec<Vec<(String, Option<Value>)>>,
) {
    match fields.as_object() {
        Some(m) if !m.is_empty() => {
            for (k, child) in m {
                let mut p = prefix.clone();
                if let Some(f) = k.strip_prefix("f:") {
                    p.push((f.to_string(), None));
                } else if let Some(j) = k.strip_prefix("k:") {
                    p.push((String::new(), serde_json::from_str(j).ok()));
                }
                leaf_segments(child, p, out);
            }
        }
        _ => out.push(prefix),
    }
}

pub(super) fn render_path(seg: &[(String, Option<Value>)]) -> String {
    seg.iter()
        .map(|(f, k)| match k {
            None => format!(".{f}"),
            Some(k) => format!("[{k}]"),
        })
        .collect()
}

pub(super) type Segments = Vec<(String, Option<Value>)>;

/// Server-side apply's removal rule: a field the applying manager set in its previous apply
/// and leaves out of this one is removed, unless another manager owns it too; a list item or
/// object under which nobody owns anything any more goes as a whole.
fn remove_dropped_fields(doc: &mut Value, current: &Value, applied: &Value, opts: &WriteOptions) {
    let manager = opts.field_manager.clone().unwrap_or_default();
    let entries = current
        .ptr("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_mine = |e: &Value| {
        e.get("manager").and_then(Value::as_str) == Some(manager.as_str())
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
    };
    let Some(mine) = entries.iter().find(|e| is_mine(e)) else {
        return;
    };
    let mut kept = BTreeSet::new();
    leaf_paths(&fields_v1(applied), "", &mut kept);
    for e in entries.iter().filter(|e| !is_mine(e)) {
        leaf_paths(e.get("fieldsV1").unwrap_or(&Value::Null), "", &mut kept);
    }
    let owned_below = |prefix: &str| {
        kept.iter().any(|p| {
            p == prefix
                || p.starts_with(&format!("{prefix}."))
                || p.starts_with(&format!("{prefix}["))
        })
    };
    let mut before: Vec<Segments> = Vec::new();
    leaf_segments(
        mine.get("fieldsV1").unwrap_or(&Value::Null),
        Vec::new(),
        &mut before,
    );
    for seg in before {
        if render_path(&seg).starts_with(".metadata.managedFields") {
            continue;
        }
        // Remove the largest subtree that holds this leaf and nothing anyone keeps: a whole
        // list item or object goes at once (its key fields are needed to find it).
        if let Some(depth) = (1..=seg.len()).find(|&d| !owned_below(&render_path(&seg[..d]))) {
            remove_at(doc, &seg[..depth]);
        }
    }
}

fn value_at_mut<'a>(
    obj: &'a mut Value,
    fields_path: &[(String, Option<Value>)],
) -> Option<&'a mut Value> {
    let mut cur = obj;
    for (seg, key) in fields_path {
        cur = match key {
            None => cur.get_mut(seg)?,
            Some(k) => {
                let (kname, kval) = k.as_object()?.iter().next()?;
                cur.as_array_mut()?
                    .iter_mut()
                    .find(|i| i.get(kname) == Some(kval))?
            }
        };
    }
    Some(cur)
}

/// Removes the field or keyed list item `seg` names (nothing when it is not there).
fn remove_at(doc: &mut Value, seg: &[(String, Option<Value>)]) {
    let Some(((field, key), parent)) = seg.split_last() else {
        return;
    };
    let Some(parent) = value_at_mut(doc, parent) else {
        return;
    };
    match key {
        None => {
            if let Some(m) = parent.as_object_mut() {
                m.remove(field);
            }
        }
        Some(k) => {
            let Some((kname, kval)) = k.as_object().and_then(|o| o.iter().next()) else {
                return;
            };
            if let Some(items) = parent.as_array_mut() {
                items.retain(|i| i.get(kname) != Some(kval));
            }
        }
    }
}

/// A managedFields entry as the real server names it in conflicts: `"alice"` for an applier,
/// `"bob" using apps/v1` for an updater, with ` with subresource "status"` when it has one.
fn print_manager(entry: &Value) -> String {
    let field = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut out = format!("{:?}", field("manager"));
    if !field("subresource").is_empty() {
        out.push_str(&format!(" with subresource {:?}", field("subresource")));
    }
    if field("operation") == "Update" {
        out.push_str(&format!(" using {}", field("apiVersion")));
    }
    out
}

/// A fields path as structured-merge-diff prints it: `.spec.containers[name="app"].image`.
fn display_path(seg: &[(String, Option<Value>)]) -> String {
    seg.iter()
        .map(|(f, k)| match k {
            None => format!(".{f}"),
            Some(Value::Object(keys)) => {
                let keys: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}]", keys.join(","))
            }
            Some(v) => format!("[={v}]"),
        })
        .collect()
}

/// One apply conflict: the other manager's identity (manager, operation, apiVersion,
/// subresource: the order the real server sorts them in), how it prints, the field's path.
type Conflict = ((String, String, String, String), String, String);

fn check_apply_conflicts(
    current: &Value,
    applied: &Value,
    opts: &WriteOptions,
    rt: &ResourceType,
) -> ApiResult<()> {
    if opts.force {
        return Ok(());
    }
    let manager = opts.field_manager.clone().unwrap_or_default();
    let mut segs = Vec::new();
    leaf_segments(&fields_v1(applied), Vec::new(), &mut segs);
    let mut conflicts: Vec<Conflict> = Vec::new();
    let mut merged = current.clone();
    strategic_merge(&mut merged, applied);
    let entries = current
        .ptr("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for e in entries {
        let field = |k: &str| {
            e.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let other = field("manager");
        if other == manager {
            continue;
        }
        let mut theirs = BTreeSet::new();
        leaf_paths(e.get("fieldsV1").unwrap_or(&Value::Null), "", &mut theirs);
        for seg in &segs {
            let path = render_path(seg);
            if path.starts_with(".metadata") || !theirs.contains(&path) {
                continue;
            }
            if value_at(current, seg) != value_at(&merged, seg) {
                let key = (
                    other.clone(),
                    field("operation"),
                    field("apiVersion"),
                    field("subresource"),
                );
                conflicts.push((key, print_manager(&e), display_path(seg)));
            }
        }
    }
    if conflicts.is_empty() {
        return Ok(());
    }
    // The real server's wording: one conflict inline, several grouped by manager.
    let message = if let [(_, who, path)] = conflicts.as_slice() {
        format!("Apply failed with 1 conflict: conflict with {who}: {path}")
    } else {
        let mut by_manager = conflicts.clone();
        by_manager.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lines = Vec::new();
        let mut last = None;
        for (key, who, path) in &by_manager {
            if last != Some(key) {
                lines.push(format!("conflicts with {who}:"));
                last = Some(key);
            }
            lines.push(format!("- {path}"));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    let mut err = ApiError::conflict(&rt.group, &rt.plural, super::meta::name(current), "");
    err.message = message;
    err.causes = conflicts
        .into_iter()
        .map(|(_, who, path)| Cause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {who}"),
            field: path,
        })
        .collect();
    Err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategic_merge_by_key() {
        let mut doc = json!({"spec": {"containers": [
            {"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}]},
            {"name": "b", "image": "y"}
        ]}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {"containers": [
                {"name": "a", "image": "x2", "env": [{"name": "B", "value": "2"}]},
                {"name": "b", "$patch": "delete"},
                {"name": "c", "image": "z"}
            ]}}),
        );
        assert_eq!(
            doc,
            json!({"spec": {"containers": [
                {"name": "a", "image": "x2", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "c", "image": "z"}
            ]}})
        );
    }

    #[test]
    fn strategic_merge_keys_of_ports_mounts_and_volumes() {
        let mut doc = json!({"spec": {"containers": [{"name": "a",
            "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
            "volumeMounts": [{"name": "v1", "mountPath": "/a"}, {"name": "v2", "mountPath": "/b"}]}],
            "volumes": [{"name": "v1", "emptyDir": {}}, {"name": "v2", "emptyDir": {}}]}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {"containers": [{"name": "a",
                "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 8080}],
                "volumeMounts": [{"mountPath": "/b", "readOnly": true}, {"mountPath": "/a", "$patch": "delete"}]}],
                "volumes": [{"name": "v2", "configMap": {"name": "c"}}]}}),
        );
        assert_eq!(
            doc,
            json!({"spec": {"containers": [{"name": "a",
                "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 443}, {"containerPort": 8080}],
                "volumeMounts": [{"name": "v2", "mountPath": "/b", "readOnly": true}]}],
                "volumes": [{"name": "v1", "emptyDir": {}}, {"name": "v2", "emptyDir": {}, "configMap": {"name": "c"}}]}})
        );
        // A Service's ports merge by port.
        let mut svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
        strategic_merge(
            &mut svc,
            &json!({"spec": {"ports": [{"port": 80, "name": "web"}, {"port": 81}]}}),
        );
        assert_eq!(
            svc,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "web"}, {"port": 81}]}})
        );
    }

    #[test]
    fn strategic_directives() {
        let mut doc =
            json!({"a": {"x": 1, "y": 2}, "b": [1, 2], "metadata": {"finalizers": ["f1"]}});
        strategic_merge(
            &mut doc,
            &json!({
                "a": {"$retainKeys": ["x"], "x": 3},
                "b": [3],
                "metadata": {"finalizers": ["f2"], "$deleteFromPrimitiveList/finalizers": ["f1"]}
            }),
        );
        assert_eq!(
            doc,
            json!({"a": {"x": 3}, "b": [3], "metadata": {"finalizers": ["f2"]}})
        );
        let mut doc = json!({"spec": {"template": {"x": 1, "y": 2}}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {"template": {"$patch": "replace", "z": 3}}}),
        );
        assert_eq!(doc, json!({"spec": {"template": {"z": 3}}}));
    }

    #[test]
    fn fields_v1_names_keyed_items() {
        let f = fields_v1(
            &json!({"apiVersion": "v1", "metadata": {"name": "p", "uid": "u", "labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
        );
        assert_eq!(
            f,
            json!({
                "f:metadata": {"f:name": {}, "f:labels": {"f:a": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {"f:name": {}, "f:image": {}}}}
            })
        );
    }
}
