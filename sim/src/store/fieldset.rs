//! Field-set algebra for managedFields: what a write changed, what the writing manager owns
//! afterwards, and what the other managers keep.
//!
//! Every update runs these, so they walk the objects once and build `fieldsV1` trees
//! directly, instead of listing every leaf of the object as a path and looking each path up
//! again (the simple formulation, kept in the tests as the model these are checked against).
//! A leaf is what [`patch::fields_v1`](super::patch::fields_v1) ends a branch at: a scalar,
//! an empty object or list, a list of scalars, or a list of objects without a merge key.
//! Items of merge-keyed lists are named `k:{"<key>":<value>}` and found by that key; lists
//! with two items under one key (invalid for the built-in types) use the first; items
//! without the key are not named.

use serde_json::{Map, Value};

use super::patch::{SYSTEM_META, field_key, merge_key};

/// The leaves of `new` whose value differs from `old`'s at the same path (missing in `old`
/// counts as different), as a fieldsV1 tree: what an update sets or changes.
pub(super) fn changed(old: &Value, new: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(m) = new.as_object() {
        for (k, v) in m {
            if k == "apiVersion" || k == "kind" {
                continue;
            }
            if let Some(t) = node(old.get(k), v, k, k == "metadata") {
                out.insert(field_key(k), t);
            }
        }
    }
    out
}

/// The changed fields under one node of `new` (`old` is the same path in the old object),
/// or `None` when nothing under it changed.
fn node(old: Option<&Value>, new: &Value, field: &str, top_meta: bool) -> Option<Value> {
    let leaf = |old: Option<&Value>| (old != Some(new)).then(|| Value::Object(Map::new()));
    match new {
        Value::Object(m) => {
            let mut out = Map::new();
            let mut interior = false;
            for (k, child) in m {
                if top_meta && SYSTEM_META.contains(&k.as_str()) {
                    continue;
                }
                interior = true;
                if let Some(t) = node(old.and_then(|o| o.get(k)), child, k, false) {
                    out.insert(field_key(k), t);
                }
            }
            if !interior {
                return leaf(old);
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let Some(key) = merge_key(field, items) else {
                return leaf(old);
            };
            let olds = old.and_then(Value::as_array);
            let mut out = Map::new();
            for item in items {
                // Items without their key are unnamed (the built-in types require it).
                let Some(id) = item.get(key) else { continue };
                let name = item_name(key, id);
                if out.contains_key(&name) {
                    continue;
                }
                let before = olds.and_then(|o| first_with(o, key, id));
                if let Some(t) = node(before, item, "", false) {
                    out.insert(name, t);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        _ => leaf(old),
    }
}

/// The first item of a list whose `key` field is `id`.
fn first_with<'a>(items: &'a [Value], key: &str, id: &Value) -> Option<&'a Value> {
    items.iter().find(|i| i.get(key) == Some(id))
}

/// A merge-keyed list item's name in a fieldsV1 tree.
fn item_name(key: &str, id: &Value) -> String {
    let mut m = Map::with_capacity(1);
    m.insert(key.to_string(), id.clone());
    format!("k:{}", Value::Object(m))
}

/// One step down a fieldsV1 tree: the child of `obj` that a fieldsV1 key names (`f:` a
/// field, `k:` a list item by key), its normalized key, or `None` when `obj` has no such
/// child. Other keys (`.`, `v:`) stand for the node itself, as the model treats them.
enum Step<'a> {
    Child(Option<&'a Value>, String),
    Same,
}

fn step<'a>(obj: Option<&'a Value>, key: &str) -> Step<'a> {
    if let Some(f) = key.strip_prefix("f:") {
        Step::Child(obj.and_then(|o| o.get(f)), key.to_string())
    } else if let Some(j) = key.strip_prefix("k:") {
        let parsed: Option<Value> = serde_json::from_str(j).ok();
        let Some((name, id)) = parsed
            .as_ref()
            .and_then(Value::as_object)
            .and_then(|m| m.iter().next())
        else {
            // An unparsable or empty key finds nothing.
            return Step::Child(None, key.to_string());
        };
        let normalized = format!("k:{}", parsed.as_ref().unwrap_or(&Value::Null));
        let found = obj
            .and_then(Value::as_array)
            .and_then(|items| items.iter().find(|i| i.get(name) == Some(id)));
        Step::Child(found, normalized)
    } else {
        Step::Same
    }
}

/// Merges into `into` the leaves of `fields` that `obj` still has and that `drop` does not
/// hold as a leaf at the same path. Returns whether a leaf at this node itself was kept
/// (a `.` or `v:` key directly under it).
fn keep_present(
    fields: &Value,
    obj: Option<&Value>,
    drop: Option<&Map<String, Value>>,
    into: &mut Map<String, Value>,
) -> bool {
    let Some(m) = fields.as_object() else {
        return false;
    };
    let is_leaf = |v: &Value| v.as_object().is_none_or(Map::is_empty);
    let mut kept_self = false;
    for (k, child) in m {
        match step(obj, k) {
            Step::Same if is_leaf(child) => kept_self |= !drop.is_some_and(Map::is_empty),
            Step::Same => kept_self |= keep_present(child, obj, drop, into),
            Step::Child(None, _) => {}
            Step::Child(Some(next), name) => {
                let below = drop.and_then(|d| d.get(&name)).and_then(Value::as_object);
                if is_leaf(child) {
                    if !below.is_some_and(Map::is_empty) {
                        into.entry(name)
                            .or_insert_with(|| Value::Object(Map::new()));
                    }
                    continue;
                }
                let fresh = !into.contains_key(&name);
                let slot = into
                    .entry(name.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                let Some(sub) = slot.as_object_mut() else {
                    continue;
                };
                let here = keep_present(child, Some(next), below, sub);
                if fresh && !here && sub.is_empty() {
                    into.remove(&name);
                }
            }
        }
    }
    kept_self
}

/// What an update leaves its manager with: the `changed` leaves, plus the leaves it owned
/// `before` that `new` still has.
pub(super) fn owned_after_update(
    mut changed: Map<String, Value>,
    before: Option<&Value>,
    new: &Value,
) -> Map<String, Value> {
    if let Some(before) = before {
        keep_present(before, Some(new), None, &mut changed);
    }
    changed
}

/// What another manager still owns after a write: its `fields` without the leaves the write
/// `taken` over and without leaves `new` no longer has, as the real field manager moves
/// ownership.
pub(super) fn released(fields: &Value, taken: &Map<String, Value>, new: &Value) -> Value {
    let mut out = Map::new();
    // Nothing taken must not read as "the root is a taken leaf".
    let drop = (!taken.is_empty()).then_some(taken);
    keep_present(fields, Some(new), drop, &mut out);
    Value::Object(out)
}

/// The changed fields of a write confined to the top-level field `scope` (a status write:
/// every other field is the stored object's): [`changed`] without walking the rest.
pub(super) fn changed_in(old: &Value, new: &Value, scope: &str) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(v) = new.get(scope)
        && let Some(t) = node(old.get(scope), v, scope, false)
    {
        out.insert(format!("f:{scope}"), t);
    }
    out
}

/// Whether a field set is a plain tree at its root (only `f:` keys), which the scoped forms
/// below need: they treat each root field on its own.
fn plain_root(fields: &Map<String, Value>) -> bool {
    fields.keys().all(|k| k.starts_with("f:"))
}

/// [`released`] in place for a write confined to `scope`: only the `f:<scope>` subtree of
/// `fields` is walked, the other subtrees stay as they are (a write that changed nothing
/// there neither takes nor removes anything there; the real field manager removes from other
/// managers only what a write removed or took over). Returns false, leaving `fields` alone,
/// when `fields` is not a plain tree; the caller then uses [`released`].
pub(super) fn release_in(
    fields: &mut Value,
    taken: &Map<String, Value>,
    new: &Value,
    scope: &str,
) -> bool {
    let Some(m) = fields.as_object_mut() else {
        return false;
    };
    if !plain_root(m) {
        return false;
    }
    let key = format!("f:{scope}");
    let Some(sub) = m.get_mut(&key).map(Value::take) else {
        return true;
    };
    let mut one = Map::with_capacity(1);
    one.insert(key.clone(), sub);
    let kept = match released(&Value::Object(one), taken, new) {
        Value::Object(mut k) => k.remove(&key),
        _ => None,
    };
    match kept {
        Some(v) => m[&key] = v,
        None => {
            m.shift_remove(&key);
        }
    }
    true
}

/// [`owned_after_update`] for a write confined to `scope`: the manager's earlier fields
/// outside the scope are kept as they are, in their order, and only those under it are
/// checked against `new`.
pub(super) fn owned_after_update_in(
    mut changed: Map<String, Value>,
    before: Option<Value>,
    new: &Value,
    scope: &str,
) -> Map<String, Value> {
    let Some(Value::Object(before)) = before else {
        return changed;
    };
    if !plain_root(&before) {
        return owned_after_update(changed, Some(&Value::Object(before)), new);
    }
    let key = format!("f:{scope}");
    for (k, v) in before {
        if k == key {
            let mut one = Map::with_capacity(1);
            one.insert(k, v);
            keep_present(&Value::Object(one), Some(new), None, &mut changed);
        } else if !changed.contains_key(&k) {
            changed.insert(k, v);
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    //! The tree walks against the simple model: list every leaf path, look each one up.

    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::super::patch::{Segments, fields_v1, leaf_segments, render_path, value_at};

    fn from_segments(segs: Vec<Segments>) -> Value {
        let mut out = Value::Object(Map::new());
        for seg in segs {
            let mut cur = &mut out;
            for (field, key) in seg {
                let name = match key {
                    None => format!("f:{field}"),
                    Some(k) => format!("k:{k}"),
                };
                let Some(map) = cur.as_object_mut() else {
                    break;
                };
                cur = map.entry(name).or_insert_with(|| Value::Object(Map::new()));
            }
        }
        out
    }

    fn model_changed_segments(old: &Value, new: &Value) -> Vec<Segments> {
        let mut segs = Vec::new();
        leaf_segments(&fields_v1(new), Vec::new(), &mut segs);
        segs.into_iter()
            .filter(|seg| value_at(old, seg) != value_at(new, seg))
            .collect()
    }

    fn model_owned(old: &Value, new: &Value, before: Option<&Value>) -> Value {
        let mut owned = model_changed_segments(old, new);
        if let Some(before) = before {
            let mut prev = Vec::new();
            leaf_segments(before, Vec::new(), &mut prev);
            owned.extend(prev.into_iter().filter(|seg| value_at(new, seg).is_some()));
        }
        from_segments(owned)
    }

    fn model_released(fields: &Value, old: &Value, new: &Value) -> Value {
        let taken: BTreeSet<String> = model_changed_segments(old, new)
            .iter()
            .map(|s| render_path(s))
            .collect();
        let mut segs = Vec::new();
        leaf_segments(fields, Vec::new(), &mut segs);
        segs.retain(|seg| !taken.contains(&render_path(seg)) && value_at(new, seg).is_some());
        from_segments(segs)
    }

    /// A pod-shaped object: labels, merge-keyed containers with keyed ports and env, a
    /// scalar list, conditions keyed by type, and system metadata that fieldsV1 skips.
    fn pod() -> impl Strategy<Value = Value> {
        let small = || prop::sample::select(vec!["a", "b", "c"]);
        let env = prop::collection::btree_map(small(), prop::option::of(small()), 0..3);
        let ports = prop::collection::btree_set(prop::sample::select(vec![80, 443, 8080]), 0..3);
        let container = (env, ports, small(), prop::collection::vec(small(), 0..3));
        let containers =
            prop::collection::btree_map(prop::sample::select(vec!["web", "side"]), container, 0..3);
        let labels = prop::collection::btree_map(small(), small(), 0..3);
        let conditions = prop::collection::btree_map(
            prop::sample::select(vec!["Ready", "Initialized"]),
            prop::bool::ANY,
            0..3,
        );
        (
            labels,
            containers,
            conditions,
            prop::option::of(small()),
            0u8..3,
        )
            .prop_map(|(labels, containers, conditions, phase, rv)| {
                let containers: Vec<Value> = containers
                    .into_iter()
                    .map(|(name, (env, ports, image, args))| {
                        let env: Vec<Value> = env
                            .into_iter()
                            .map(|(n, v)| match v {
                                Some(v) => json!({"name": n, "value": v}),
                                None => json!({"name": n}),
                            })
                            .collect();
                        let ports: Vec<Value> =
                            ports.into_iter().map(|p| json!({"containerPort": p})).collect();
                        json!({"name": name, "image": image, "env": env, "ports": ports, "args": args})
                    })
                    .collect();
                let conditions: Vec<Value> = conditions
                    .into_iter()
                    .map(|(t, s)| json!({"type": t, "status": if s { "True" } else { "False" }}))
                    .collect();
                let mut status = json!({"conditions": conditions});
                if let Some(p) = phase {
                    status["phase"] = json!(p);
                }
                json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "p", "resourceVersion": rv.to_string(), "labels": labels},
                    "spec": {"containers": containers},
                    "status": status,
                })
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn tree_walks_agree_with_the_leaf_path_model(
            old in pod(),
            new in pod(),
            other in pod(),
            prior in pod(),
        ) {
            let before = fields_v1(&prior);
            let changed = super::changed(&old, &new);
            let owned = super::owned_after_update(changed.clone(), Some(&before), &new);
            prop_assert_eq!(
                Value::Object(owned).to_string(),
                model_owned(&old, &new, Some(&before)).to_string()
            );
            let theirs = fields_v1(&other);
            prop_assert_eq!(
                super::released(&theirs, &changed, &new).to_string(),
                model_released(&theirs, &old, &new).to_string()
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// A status write (`new` is `old` with another status) gives the same field sets
        /// through the scoped walks as through the whole-object ones, for managers whose
        /// fields `old` has (every write leaves the managers so).
        #[test]
        fn scoped_walks_agree_with_the_whole_object_for_status_writes(
            old in pod(),
            status_of in pod(),
            other in pod(),
            prior in pod(),
        ) {
            let mut new = old.clone();
            new["status"] = status_of["status"].clone();
            let present = |f: &Value| super::released(f, &Map::new(), &old);
            let (theirs, before) = (present(&fields_v1(&other)), present(&fields_v1(&prior)));
            let changed = super::changed(&old, &new);
            prop_assert_eq!(&super::changed_in(&old, &new, "status"), &changed);
            let mut scoped = theirs.clone();
            prop_assert!(super::release_in(&mut scoped, &changed, &new, "status"));
            prop_assert_eq!(
                scoped.to_string(),
                super::released(&theirs, &changed, &new).to_string()
            );
            let whole = super::owned_after_update(changed.clone(), Some(&before), &new);
            let scoped = super::owned_after_update_in(changed, Some(before), &new, "status");
            prop_assert_eq!(Value::Object(scoped).to_string(), Value::Object(whole).to_string());
        }
    }

    #[test]
    fn a_status_write_owns_the_changed_condition_and_keeps_what_it_had() {
        let old = json!({"metadata": {"name": "p"}, "status": {"phase": "Pending",
            "conditions": [{"type": "Ready", "status": "False"}]}});
        let new = json!({"metadata": {"name": "p"}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}});
        let before = json!({"f:status": {"f:phase": {}}});
        let owned = super::owned_after_update(super::changed(&old, &new), Some(&before), &new);
        assert_eq!(
            Value::Object(owned),
            json!({"f:status": {"f:phase": {}, "f:conditions": {
                "k:{\"type\":\"Ready\"}": {"f:status": {}}}}})
        );
        let theirs = json!({"f:metadata": {"f:name": {}}, "f:status": {"f:phase": {}}});
        assert_eq!(
            super::released(&theirs, &super::changed(&old, &new), &new),
            json!({"f:metadata": {"f:name": {}}})
        );
    }
}
