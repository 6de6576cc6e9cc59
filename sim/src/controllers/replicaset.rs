//! ReplicaSets and ReplicationControllers: adopt matching orphans, release pods that stopped
//! matching, create pods up to `replicas` (at most 500 per pass, like `burstReplicas`),
//! delete the least valuable extra pods, and report replica counts in status.

use std::sync::Arc;

use serde_json::{Value, json};

use super::cache::{Work, selector_of};
use super::{controller_ref, pod_ready, pod_ready_since, pod_terminal, write, write_status};
use crate::cluster::{Timer, World};
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

fn active(p: &Value) -> bool {
    !meta::is_deleting(p) && !pod_terminal(p)
}

/// Sort key for deletion: lower goes first (unscheduled, pending, not ready, restarts, newer).
fn deletion_rank(p: &Value) -> (u8, u8, u8, i64, std::cmp::Reverse<String>) {
    let scheduled = p
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let running = p.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
    let ready = pod_ready(p);
    let restarts: i64 = p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("restartCount")?.as_i64())
                .sum()
        })
        .unwrap_or(0);
    (
        u8::from(scheduled),
        u8::from(running),
        u8::from(ready),
        -restarts,
        std::cmp::Reverse(meta::meta_str(p, "creationTimestamp").to_string() + meta::name(p)),
    )
}

/// Whether a ready pod has been ready for `min_ready` seconds at `now`.
pub(crate) fn available(p: &Value, min_ready: i64, now: jiff::Timestamp) -> bool {
    if min_ready <= 0 {
        return pod_ready(p);
    }
    pod_ready_since(p).is_some_and(|since| {
        crate::clock::after(
            since,
            std::time::Duration::from_secs(min_ready.max(0) as u64),
        ) <= now
    })
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
            if !active(&p) || !selector.matches(&p) {
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
    let owned = w.cache().pods_of(&uid);
    let mut pods = Vec::new();
    for p in owned {
        if selector.matches(&p) {
            pods.push(p);
        } else if !meta::is_deleting(&p) {
            let mut np = (*p).clone();
            if let Some(refs) = np["metadata"]["ownerReferences"].as_array_mut() {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
            }
            write(w, w.kinds.pod, np);
        }
    }
    let replicas = obj
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let act: Vec<&Arc<Value>> = pods.iter().filter(|p| active(p)).collect();
    let diff = replicas - act.len() as i64;
    if !deleting && diff > 0 {
        let n = diff.min(BURST);
        let template = obj.pointer("/spec/template").cloned().unwrap_or_default();
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
        let mut victims: Vec<&Arc<Value>> = act.clone();
        victims.sort_by_key(|p| deletion_rank(p));
        for p in victims.into_iter().take((-diff) as usize) {
            if let Some(pt) = w.kinds.pod
                && w.store
                    .delete(pt, &key.0, meta::name(p), &DeleteOptions::default())
                    .is_ok()
            {
                w.event(
                    &obj,
                    false,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", meta::name(p)),
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
    let owned = w.cache().pods_of(&uid);
    let terminating = owned.iter().filter(|p| meta::is_deleting(p)).count();
    let pods: Vec<Arc<Value>> = owned.into_iter().filter(|p| active(p)).collect();
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let min_ready = obj
        .pointer("/spec/minReadySeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let fully = pods
        .iter()
        .filter(|p| {
            let pl = p.pointer("/metadata/labels").and_then(Value::as_object);
            labels
                .iter()
                .all(|(k, v)| pl.and_then(|m| m.get(k)) == Some(v))
        })
        .count();
    let ready = pods.iter().filter(|p| pod_ready(p)).count();
    let avail = pods
        .iter()
        .filter(|p| available(p, min_ready, w.now))
        .count();
    if avail < ready && min_ready > 0 {
        // Recheck when the next pod becomes available.
        let next = pods
            .iter()
            .filter_map(|p| pod_ready_since(p))
            .map(|s| crate::clock::after(s, std::time::Duration::from_secs(min_ready as u64)))
            .filter(|t| *t > w.now)
            .min();
        if let Some(t) = next {
            w.at_instant(
                t,
                Timer::Work(match flavor {
                    Flavor::ReplicaSet => Work::ReplicaSet(key.clone()),
                    Flavor::ReplicationController => Work::ReplicationController(key.clone()),
                }),
            );
        }
    }
    let mut status = json!({
        "replicas": pods.len(),
        "fullyLabeledReplicas": fully,
        "readyReplicas": ready,
        "availableReplicas": avail,
        "observedGeneration": obj.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
    });
    if flavor == Flavor::ReplicaSet {
        status["terminatingReplicas"] = json!(terminating);
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
    metadata["ownerReferences"] = json!([controller_ref(owner)]);
    if let Some(m) = metadata.as_object_mut() {
        m.remove("name");
    }
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    });
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
