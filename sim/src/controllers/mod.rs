//! The controllers: each an idempotent reconcile of one object, run from the cluster's work
//! queue ([`cache::Work`]), reading the cache and writing through the store.
//!
//! - [`replicaset`][]: ReplicaSets and ReplicationControllers (adoption, scale, replace, status)
//! - [`deployment`][]: Deployments (ReplicaSet per template hash, RollingUpdate, Recreate)
//! - [`endpoints`][]: Endpoints and EndpointSlices of Services
//! - [`job`][]: Jobs (completions, parallelism, backoffLimit, conditions)
//! - [`volumes`][]: the PVC binder and dynamic provisioning with the default StorageClass
//! - [`nodes`][]: node lifecycle (NotReady after silence, eviction after a timeout)
//! - [`openshift`][]: DeploymentConfigs, ImageStreams and Routes (flavor openshift)
//! - [`event_correlation`][]: what the recorders do before an Event is written (spam
//!   filter, aggregation of similar events, deduplication)

pub mod cache;
pub(crate) mod deployment;
pub(crate) mod endpoints;
pub mod event_correlation;
pub(crate) mod job;
pub(crate) mod nodes;
pub mod openshift;
pub mod pod_facts;
pub(crate) mod replicaset;
mod rollout;
pub(crate) mod volumes;

use std::sync::Arc;

use serde_json::{Value, json};

use crate::cluster::World;
use crate::json_ptr::Ptr;
use crate::resources::TypeId;
use crate::store::{ObjKey, Part, WriteOptions, meta};
use cache::Work;

/// Runs one reconcile.
pub(crate) fn reconcile(w: &mut World<'_>, work: Work) {
    match work {
        Work::Pod(k) => crate::kubelet::pod::sync(w, &k),
        Work::Schedule(k) => crate::kubelet::scheduler::schedule(w, &k),
        Work::Reschedule => crate::kubelet::scheduler::reschedule(w),
        Work::ReplicaSet(k) => replicaset::reconcile(w, &k, replicaset::Flavor::ReplicaSet),
        Work::ReplicationController(k) => {
            replicaset::reconcile(w, &k, replicaset::Flavor::ReplicationController)
        }
        Work::Deployment(k) => deployment::reconcile(w, &k),
        Work::Endpoints(k) => endpoints::reconcile(w, &k),
        Work::Job(k) => job::reconcile(w, &k),
        Work::Claim(k) => volumes::reconcile_claim(w, &k),
        Work::OpenShift(o) => openshift::reconcile(w, o),
    }
}

/// An ownerReference naming `owner` as controller.
pub(crate) fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": owner.get("kind").cloned().unwrap_or(Value::Null),
        "name": meta::name(owner),
        "uid": meta::uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Writes `status` of an object when it differs from the stored one.
pub(crate) fn write_status(
    w: &mut World<'_>,
    tid: Option<TypeId>,
    obj: &Arc<Value>,
    status: Value,
) {
    let Some(tid) = tid else { return };
    if obj.get("status") == Some(&status) {
        return;
    }
    let mut o = (**obj).clone();
    o["status"] = status;
    let key = (
        meta::namespace(obj).to_string(),
        meta::name(obj).to_string(),
    );
    if let Err(e) = w.store.update(
        tid,
        &key.0,
        &key.1,
        o,
        Part::Status,
        &WriteOptions::default(),
    ) {
        tracing::debug!(name = %key.1, error = %e.message, "status update failed");
    }
}

/// Replaces an object's main part (spec, metadata); returns the stored result.
pub(crate) fn write(w: &mut World<'_>, tid: Option<TypeId>, obj: Value) -> Option<Arc<Value>> {
    let tid = tid?;
    let key: ObjKey = (
        meta::namespace(&obj).to_string(),
        meta::name(&obj).to_string(),
    );
    match w.store.update(
        tid,
        &key.0,
        &key.1,
        obj,
        Part::Main,
        &WriteOptions::default(),
    ) {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::debug!(name = %key.1, error = %e.message, "update failed");
            None
        }
    }
}

/// Whether a pod has finished for good.
pub(crate) fn pod_terminal(pod: &Value) -> bool {
    matches!(
        pod.ptr("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// Whether a pod's Ready condition is True (no timestamp parsing).
pub(crate) fn pod_ready(pod: &Value) -> bool {
    pod.get("status")
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// Whether a pod is Ready, and since when.
pub(crate) fn pod_ready_since(pod: &Value) -> Option<jiff::Timestamp> {
    pod.ptr("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        .filter(|c| c.get("status").and_then(Value::as_str) == Some("True"))
        .map(|c| {
            c.get("lastTransitionTime")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        })
}

/// A condition entry with the transition time kept when the status did not change.
pub(crate) fn condition(
    old: Option<&Value>,
    ty: &str,
    ok: bool,
    reason: &str,
    message: &str,
    now: &str,
) -> Value {
    let status = if ok { "True" } else { "False" };
    let prev = old
        .and_then(|o| o.ptr("/status/conditions"))
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
        });
    let (since, update) = match prev {
        Some(p) if p.get("status").and_then(Value::as_str) == Some(status) => {
            let since = p
                .get("lastTransitionTime")
                .cloned()
                .unwrap_or_else(|| json!(now));
            let same_reason = p.get("reason").and_then(Value::as_str) == Some(reason);
            let upd = if same_reason {
                p.get("lastUpdateTime")
                    .cloned()
                    .unwrap_or_else(|| json!(now))
            } else {
                json!(now)
            };
            (since, upd)
        }
        _ => (json!(now), json!(now)),
    };
    json!({"type": ty, "status": status, "lastUpdateTime": update, "lastTransitionTime": since, "reason": reason, "message": message})
}
