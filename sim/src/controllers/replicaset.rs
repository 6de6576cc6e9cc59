//! ReplicaSets and ReplicationControllers: adopt matching orphans, release pods that stopped
//! matching, create pods up to `replicas` (at most 500 per pass, like `burstReplicas`),
//! delete the least valuable extra pods, and report replica counts in status.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::cache::{Cache, Work, selector_of};
use super::pod_facts::OwnedPod;
use super::{controller_ref, pod_terminal, write, write_status};
use crate::cluster::{Timer, World};
use crate::json_ptr::Ptr;
use crate::store::{DeleteOptions, ObjKey, WriteOptions, meta};

/// Which of the two kinds is reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// v1 ReplicationController.
    ReplicationController,
}

const BURST: i64 = 500;

/// The replica counts of a ReplicaSet's status, from the pods it owns.
struct Counts {
    active: usize,
    terminating: usize,
    fully_labeled: usize,
    ready: usize,
    available: usize,
    /// When the next Ready pod becomes available (minReadySeconds > 0).
    next_available: Option<jiff::Timestamp>,
}

/// Counts the owned pods from their facts, without reading the pods themselves.
fn count_owned(
    c: &Cache,
    uid: &str,
    labels: &serde_json::Map<String, Value>,
    min_ready: i64,
    now: jiff::Timestamp,
) -> Counts {
    let mut n = Counts {
        active: 0,
        terminating: 0,
        fully_labeled: 0,
        ready: 0,
        available: 0,
        next_available: None,
    };
    for o in c.owned_pods(uid) {
        let f = &o.facts;
        n.terminating += usize::from(f.deleting);
        if !f.active() {
            continue;
        }
        n.active += 1;
        n.fully_labeled += usize::from(f.has_labels(labels));
        n.ready += usize::from(f.ready());
        if f.available(min_ready, now) {
            n.available += 1;
        } else if let Some(since) = f.ready_since {
            let at = crate::clock::after(since, Duration::from_secs(min_ready.unsigned_abs()));
            n.next_available = Some(n.next_available.map_or(at, |t| t.min(at)));
        }
    }
    n
}

pub(crate) fn reconcile(w: &mut World<'_>, key: &ObjKey, flavor: Flavor) {
    let (tid, obj) = {
        let c = w.cache();
        match flavor {
            Flavor::ReplicaSet => (w.kinds.rs, c.rs.get(key).cloned()),
            Flavor::ReplicationController => (w.kinds.rc, c.rc.get(key).cloned()),
        }
    };
    let Some(obj) = obj else { return };
    let Some(selector) = selector_of(&obj) else {
        return;
    };
    if selector.is_empty() {
        return;
    }
    let uid = meta::uid(&obj).to_string();
    let kind = match flavor {
        Flavor::ReplicaSet => "ReplicaSet",
        Flavor::ReplicationController => "ReplicationController",
    };
    let deleting = meta::is_deleting(&obj);
    // Adopt orphans that match; release owned pods that no longer match.
    if !deleting {
        let orphans = w.cache().orphan_pods_in(&key.0);
        for p in orphans {
            if meta::is_deleting(&p) || pod_terminal(&p) || !selector.matches(&p) {
                continue;
            }
            let mut np = (*p).clone();
            let refs = np["metadata"]["ownerReferences"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut refs = refs;
            refs.push(controller_ref(&obj));
            np["metadata"]["ownerReferences"] = json!(refs);
            if write(w, w.kinds.pod, np).is_some() {
                w.trace(|| format!("adopt {kind} {}/{} pod {}", key.0, key.1, meta::name(&p)));
            }
        }
    }
    // Release owned pods that stopped matching; count the active ones that match.
    let (released, active_count) = {
        let c = w.cache();
        let mut released = Vec::new();
        let mut active_count = 0_i64;
        for o in c.owned_pods(&uid) {
            if selector.matches_sorted(&o.facts.labels) {
                active_count += i64::from(o.facts.active());
            } else if !o.facts.deleting {
                released.push(o.pod.clone());
            }
        }
        (released, active_count)
    };
    for p in released {
        let mut np = (*p).clone();
        if let Some(refs) = np["metadata"]["ownerReferences"].as_array_mut() {
            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
        }
        write(w, w.kinds.pod, np);
    }
    let replicas = obj
        .ptr("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let diff = replicas - active_count;
    if !deleting && diff > 0 {
        let n = diff.min(BURST);
        let template = obj.ptr("/spec/template").cloned().unwrap_or_default();
        for _ in 0..n {
            create_pod(w, &obj, &template, key, kind);
        }
        if diff > BURST {
            w.enqueue(match flavor {
                Flavor::ReplicaSet => Work::ReplicaSet(key.clone()),
                Flavor::ReplicationController => Work::ReplicationController(key.clone()),
            });
        }
    } else if diff < 0 {
        let victims: Vec<Arc<Value>> = {
            let c = w.cache();
            let mut act: Vec<&OwnedPod> = c
                .owned_pods(&uid)
                .filter(|o| o.facts.active() && selector.matches_sorted(&o.facts.labels))
                .collect();
            act.sort_by(|a, b| a.deletion_rank().cmp(&b.deletion_rank()));
            act.into_iter()
                .take(diff.unsigned_abs().try_into().unwrap_or(usize::MAX))
                .map(|o| o.pod.clone())
                .collect()
        };
        for p in victims {
            if let Some(pt) = w.kinds.pod
                && w.store
                    .delete(pt, &key.0, meta::name(&p), &DeleteOptions::default())
                    .is_ok()
            {
                w.event(
                    &obj,
                    false,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", meta::name(&p)),
                    controller_name(flavor),
                );
            }
        }
    }
    // Status, from a fresh read of what we own.
    let obj = {
        let c = w.cache();
        match flavor {
            Flavor::ReplicaSet => c.rs.get(key).cloned(),
            Flavor::ReplicationController => c.rc.get(key).cloned(),
        }
    };
    let Some(obj) = obj else { return };
    let labels = obj
        .ptr("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let min_ready = obj
        .ptr("/spec/minReadySeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let counts = count_owned(&w.cache(), &uid, &labels, min_ready, w.now);
    if counts.available < counts.ready
        && let Some(t) = counts.next_available
    {
        // Recheck when the next pod becomes available.
        w.at_instant(
            t,
            Timer::Work(match flavor {
                Flavor::ReplicaSet => Work::ReplicaSet(key.clone()),
                Flavor::ReplicationController => Work::ReplicationController(key.clone()),
            }),
        );
    }
    let mut status = json!({
        "replicas": counts.active,
        "fullyLabeledReplicas": counts.fully_labeled,
        "readyReplicas": counts.ready,
        "availableReplicas": counts.available,
        "observedGeneration": obj.ptr("/metadata/generation").cloned().unwrap_or(json!(1)),
    });
    if flavor == Flavor::ReplicaSet {
        status["terminatingReplicas"] = json!(counts.terminating);
    }
    if let Some(m) = status.as_object_mut() {
        for f in [
            "readyReplicas",
            "availableReplicas",
            "fullyLabeledReplicas",
            "terminatingReplicas",
        ] {
            if m.get(f).and_then(Value::as_u64) == Some(0) && f != "fullyLabeledReplicas" {
                m.remove(f);
            }
        }
    }
    write_status(w, tid, &obj, status);
}

fn controller_name(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::ReplicaSet => "replicaset-controller",
        Flavor::ReplicationController => "replication-controller",
    }
}

fn create_pod(w: &mut World<'_>, owner: &Value, template: &Value, key: &ObjKey, kind: &str) {
    let Some(pt) = w.kinds.pod else { return };
    let mut metadata = template
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata["generateName"] = json!(format!("{}-", key.1));
    metadata["namespace"] = json!(key.0);
    metadata["ownerReferences"] = Value::Array(vec![controller_ref(owner)]);
    if let Some(m) = metadata.as_object_mut() {
        m.remove("name");
    }
    let pod = crate::json_build::object([
        ("apiVersion", json!("v1")),
        ("kind", json!("Pod")),
        ("metadata", metadata),
        (
            "spec",
            template.get("spec").cloned().unwrap_or_else(|| json!({})),
        ),
    ]);
    let flavor = if kind == "ReplicaSet" {
        Flavor::ReplicaSet
    } else {
        Flavor::ReplicationController
    };
    match w.store.create(pt, &key.0, pod, &WriteOptions::default()) {
        Ok(p) => {
            let name = meta::name(&p).to_string();
            w.event(
                owner,
                false,
                "SuccessfulCreate",
                format!("Created pod: {name}"),
                controller_name(flavor),
            );
        }
        Err(e) => {
            let msg = e.message.clone();
            w.event(
                owner,
                true,
                "FailedCreate",
                format!("Error creating: {msg}"),
                controller_name(flavor),
            );
        }
    }
}
