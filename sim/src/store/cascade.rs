//! Deletion: finalizers, graceful pod deletion, the garbage collector's propagation policies
//! (Background, Foreground, Orphan) and namespace finalization.
//!
//! The garbage collector runs inside the deleting transaction instead of as a separate loop:
//! the observable outcome (which objects go, in which order, which finalizers appear on the
//! way) is what a real cluster shows once its collector has caught up, and tests need no
//! waiting. An object whose own finalizers block it stays, with its `deletionTimestamp`, until
//! a client removes them; everything waiting on it (foreground owners, a Terminating
//! namespace) completes at that moment.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Change, DeleteOptions, Deleted, Inner, Propagation, meta};
use crate::clock::rfc3339;
use crate::error::ApiResult;
use crate::json_ptr::Ptr;
use crate::resources::TypeId;

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";

pub(super) fn delete(
    inner: &mut Inner,
    tid: TypeId,
    current: &Arc<Value>,
    opts: &DeleteOptions,
    now: jiff::Timestamp,
) -> ApiResult<Deleted> {
    let rt = inner.registry.get(tid).clone();
    if meta::is_deleting(current) {
        return Ok(Deleted {
            object: current.clone(),
            gone: false,
        });
    }
    if rt.kind == "Namespace" && rt.group.is_empty() {
        return delete_namespace(inner, tid, current, now);
    }
    if rt.kind == "Pod" && rt.group.is_empty() && inner.config().graceful_pod_deletion {
        let grace = opts.grace_period.unwrap_or_else(|| {
            current
                .ptr("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30)
        });
        let bound = current
            .ptr("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let finished = current
            .ptr("/status/phase")
            .and_then(Value::as_str)
            .is_some_and(|p| p == "Succeeded" || p == "Failed");
        if bound && grace > 0 && !finished {
            let mut obj = (**current).clone();
            let m = meta::meta_mut(&mut obj);
            let at = now
                .checked_add(jiff::SignedDuration::from_secs(grace))
                .unwrap_or(now);
            m.insert("deletionTimestamp".into(), json!(rfc3339(at)));
            m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            let object = inner.commit(Change::Put(tid, obj), now)?;
            return Ok(Deleted {
                object,
                gone: false,
            });
        }
    }
    let policy = opts.propagation.unwrap_or_default();
    let mut finalizers = meta::finalizers(current);
    match policy {
        Propagation::Foreground if !finalizers.iter().any(|f| f == FOREGROUND) => {
            finalizers.push(FOREGROUND.into())
        }
        Propagation::Orphan if !finalizers.iter().any(|f| f == ORPHAN) => {
            finalizers.push(ORPHAN.into())
        }
        _ => {}
    }
    if finalizers.is_empty() {
        let object = finish(inner, tid, current, now)?;
        return Ok(Deleted { object, gone: true });
    }
    let mut obj = (**current).clone();
    let m = meta::meta_mut(&mut obj);
    m.insert("deletionTimestamp".into(), json!(rfc3339(now)));
    m.insert("deletionGracePeriodSeconds".into(), json!(0));
    m.insert("finalizers".into(), json!(finalizers));
    let marked = inner.commit(Change::Put(tid, obj), now)?;
    let after = run_gc_finalizers(inner, tid, &marked, now)?;
    let gone = inner
        .get(tid, meta::namespace(&marked), meta::name(&marked))
        .is_err();
    Ok(Deleted {
        object: after,
        gone,
    })
}

/// Handles the collector's own finalizers on an object being deleted: orphans dependents or
/// deletes them in the foreground, then removes the finalizer (finishing the delete when it
/// was the last).
fn run_gc_finalizers(
    inner: &mut Inner,
    tid: TypeId,
    obj: &Arc<Value>,
    now: jiff::Timestamp,
) -> ApiResult<Arc<Value>> {
    let finalizers = meta::finalizers(obj);
    let uid = meta::uid(obj).to_string();
    let mut obj = obj.clone();
    if finalizers.iter().any(|f| f == ORPHAN) {
        for (dtid, dep) in inner.dependents_of(&uid) {
            let mut d = (*dep).clone();
            strip_owner(&mut d, &uid);
            inner.commit(Change::Put(dtid, d), now)?;
        }
        obj = remove_finalizer(inner, tid, &obj, ORPHAN, now)?;
    }
    if finalizers.iter().any(|f| f == FOREGROUND) {
        for (dtid, dep) in inner.dependents_of(&uid) {
            if meta::is_deleting(&dep) {
                continue;
            }
            let opts = DeleteOptions {
                propagation: Some(Propagation::Foreground),
                ..DeleteOptions::default()
            };
            delete_dependent(inner, dtid, &dep, &uid, &opts, now)?;
        }
        if inner.dependents_of(&uid).is_empty() {
            obj = remove_finalizer(inner, tid, &obj, FOREGROUND, now)?;
        }
    }
    Ok(obj)
}

fn strip_owner(obj: &mut Value, owner_uid: &str) {
    let m = meta::meta_mut(obj);
    if let Some(Value::Array(refs)) = m.get_mut("ownerReferences") {
        refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
        if refs.is_empty() {
            m.remove("ownerReferences");
        }
    }
}

fn remove_finalizer(
    inner: &mut Inner,
    tid: TypeId,
    obj: &Arc<Value>,
    finalizer: &str,
    now: jiff::Timestamp,
) -> ApiResult<Arc<Value>> {
    let mut o = (**obj).clone();
    let rest: Vec<String> = meta::finalizers(&o)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    let m = meta::meta_mut(&mut o);
    if rest.is_empty() {
        m.remove("finalizers");
    } else {
        m.insert("finalizers".into(), json!(rest));
    }
    let committed = inner.commit(Change::Put(tid, o), now)?;
    if rest.is_empty() && meta::is_deleting(&committed) {
        return finish(inner, tid, &committed, now);
    }
    Ok(committed)
}

/// Whether `ownerRef` still points at a live object (other than the one being deleted).
fn owner_alive(inner: &Inner, dependent_ns: &str, owner_ref: &Value) -> bool {
    let (Some(api_version), Some(kind), Some(name), Some(uid)) = (
        owner_ref.get("apiVersion").and_then(Value::as_str),
        owner_ref.get("kind").and_then(Value::as_str),
        owner_ref.get("name").and_then(Value::as_str),
        owner_ref.get("uid").and_then(Value::as_str),
    ) else {
        return false;
    };
    let Some(otid) = inner.registry.find_kind(api_version, kind) else {
        return false;
    };
    inner
        .get(otid, dependent_ns, name)
        .is_ok_and(|o| meta::uid(&o) == uid && !meta::is_deleting(&o))
}

/// Deletes a dependent of a vanished owner, unless another live owner still holds it (then
/// only the reference to the vanished owner is removed, as the real collector does).
fn delete_dependent(
    inner: &mut Inner,
    dtid: TypeId,
    dep: &Arc<Value>,
    owner_uid: &str,
    opts: &DeleteOptions,
    now: jiff::Timestamp,
) -> ApiResult<()> {
    let ns = meta::namespace(dep).to_string();
    let others_alive = dep
        .ptr("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .filter(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid))
                .any(|r| owner_alive(inner, &ns, r))
        });
    if others_alive {
        let mut d = (**dep).clone();
        strip_owner(&mut d, owner_uid);
        inner.commit(Change::Put(dtid, d), now)?;
        return Ok(());
    }
    match delete(inner, dtid, dep, opts, now) {
        Ok(_) => Ok(()),
        Err(e) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes an object for good, then lets everything that waited on it proceed: its
/// dependents are collected, a foreground owner may complete, a Terminating namespace may end.
pub(super) fn finish(
    inner: &mut Inner,
    tid: TypeId,
    obj: &Arc<Value>,
    now: jiff::Timestamp,
) -> ApiResult<Arc<Value>> {
    let key = (
        meta::namespace(obj).to_string(),
        meta::name(obj).to_string(),
    );
    let uid = meta::uid(obj).to_string();
    let owner_refs: Vec<Value> = obj
        .ptr("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let gone = inner.commit(Change::Delete(tid, key.clone()), now)?;
    for (dtid, dep) in inner.dependents_of(&uid) {
        if meta::is_deleting(&dep) {
            continue;
        }
        delete_dependent(inner, dtid, &dep, &uid, &DeleteOptions::default(), now)?;
    }
    for r in owner_refs {
        let (Some(api_version), Some(kind), Some(name)) = (
            r.get("apiVersion").and_then(Value::as_str),
            r.get("kind").and_then(Value::as_str),
            r.get("name").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Some(otid) = inner.registry.find_kind(api_version, kind) else {
            continue;
        };
        if let Ok(owner) = inner.get(otid, &key.0, name)
            && meta::is_deleting(&owner)
            && meta::finalizers(&owner).iter().any(|f| f == FOREGROUND)
            && inner.dependents_of(meta::uid(&owner)).is_empty()
        {
            remove_finalizer(inner, otid, &owner, FOREGROUND, now)?;
        }
    }
    if !key.0.is_empty() {
        check_namespace(inner, &key.0, now)?;
    }
    Ok(gone)
}

fn delete_namespace(
    inner: &mut Inner,
    tid: TypeId,
    current: &Arc<Value>,
    now: jiff::Timestamp,
) -> ApiResult<Deleted> {
    let mut obj = (**current).clone();
    meta::meta_mut(&mut obj).insert("deletionTimestamp".into(), json!(rfc3339(now)));
    obj["status"] = json!({"phase": "Terminating"});
    let marked = inner.commit(Change::Put(tid, obj), now)?;
    let ns = meta::name(&marked).to_string();
    let namespaced: Vec<TypeId> = inner
        .registry
        .iter()
        .filter(|(_, t)| t.namespaced)
        .map(|(id, _)| id)
        .collect();
    for t in namespaced {
        let items: Vec<Arc<Value>> = inner
            .objects_of(t)
            .range::<super::ObjKey, _>((ns.clone(), String::new())..)
            .take_while(|(k, _)| k.0 == ns)
            .map(|(_, v)| v.clone())
            .collect();
        for item in items {
            // Re-read: an earlier cascade may already have removed or marked it.
            let Ok(fresh) = inner.get(t, &ns, meta::name(&item)) else {
                continue;
            };
            if meta::is_deleting(&fresh) {
                continue;
            }
            delete(inner, t, &fresh, &DeleteOptions::default(), now)?;
        }
    }
    check_namespace(inner, &ns, now)?;
    let object = inner.get(tid, "", &ns).unwrap_or(marked);
    let gone = inner.get(tid, "", &ns).is_err();
    Ok(Deleted { object, gone })
}

/// Ends a Terminating namespace once nothing is left in it.
fn check_namespace(inner: &mut Inner, ns: &str, now: jiff::Timestamp) -> ApiResult<()> {
    let Some(ns_tid) = inner.find_type("", "namespaces") else {
        return Ok(());
    };
    let Ok(nsobj) = inner.get(ns_tid, "", ns) else {
        return Ok(());
    };
    if !meta::is_deleting(&nsobj) {
        return Ok(());
    }
    let remaining = inner
        .registry
        .iter()
        .filter(|(_, t)| t.namespaced)
        .map(|(id, _)| id)
        .collect::<Vec<_>>()
        .into_iter()
        .any(|t| {
            inner
                .objects_of(t)
                .range::<super::ObjKey, _>((ns.to_string(), String::new())..)
                .next()
                .is_some_and(|(k, _)| k.0 == ns)
        });
    if remaining {
        let mut o = (*nsobj).clone();
        let cond = json!([{
            "type": "NamespaceContentRemaining",
            "status": "True",
            "reason": "SomeResourcesRemain",
            "message": "Some resources are remaining, waiting for their finalizers to be removed",
            "lastTransitionTime": rfc3339(now),
        }]);
        if o.ptr("/status/conditions") != Some(&cond) {
            o["status"]["conditions"] = cond;
            inner.commit(Change::Put(ns_tid, o), now)?;
        }
        return Ok(());
    }
    if meta::finalizers(&nsobj).is_empty() {
        inner.commit(Change::Delete(ns_tid, (String::new(), ns.to_string())), now)?;
    }
    Ok(())
}
