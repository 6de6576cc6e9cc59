//! A Deployment's rollout bookkeeping beside the scaling: the `Progressing` condition of a
//! paused or resumed rollout (`checkPausedConditions`) and the pruning of old ReplicaSets
//! past `revisionHistoryLimit` (`cleanupDeployment`).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::cluster::World;
use crate::json_ptr::Ptr;
use crate::store::{DeleteOptions, meta};

const REVISION: &str = "deployment.kubernetes.io/revision";

/// The revision a ReplicaSet (or Deployment) carries, 0 without one.
pub(super) fn revision(o: &Value) -> i64 {
    o.ptr("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn progressing(d: &Value) -> Option<&Value> {
    d.ptr("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing"))
}

fn unknown(prev: Option<&Value>, reason: &str, message: &str, now: &str) -> Value {
    let since = prev
        .filter(|c| c["status"] == "Unknown")
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(now));
    json!({"type": "Progressing", "status": "Unknown", "lastUpdateTime": now,
        "lastTransitionTime": since, "reason": reason, "message": message})
}

/// The Progressing condition of a paused Deployment: `Unknown`/`DeploymentPaused` once
/// paused, kept while it stays paused; a rollout that already timed out keeps saying so.
pub(super) fn paused_condition(d: &Value, now: &str) -> Value {
    match progressing(d) {
        Some(c)
            if c["reason"] == "ProgressDeadlineExceeded" || c["reason"] == "DeploymentPaused" =>
        {
            c.clone()
        }
        prev => unknown(prev, "DeploymentPaused", "Deployment is paused", now),
    }
}

/// A Deployment no longer paused whose condition still says DeploymentPaused gets
/// `Unknown`/`DeploymentResumed` (the start of its progress deadline) before the rollout's
/// own estimate: a copy carrying it, for the estimate to start from; `None` otherwise.
pub(super) fn resumed(d: &Value, now: &str) -> Option<Value> {
    let c = progressing(d).filter(|c| c["reason"] == "DeploymentPaused")?;
    let cond = unknown(Some(c), "DeploymentResumed", "Deployment is resumed", now);
    let mut o = d.clone();
    if let Some(Value::Array(cs)) = o.pointer_mut("/status/conditions") {
        for c in cs.iter_mut().filter(|c| c["type"] == "Progressing") {
            *c = cond.clone();
        }
    }
    Some(o)
}

fn int(o: &Value, ptr: &str) -> i64 {
    o.ptr(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// Deletes the oldest old ReplicaSets beyond `revisionHistoryLimit`: of the old ones not being
/// deleted, as many as exceed the limit are looked at, oldest revision first (then oldest
/// created), and each is deleted only if it has no replicas (spec and status) and its status
/// has seen its generation. `olds` never holds the current ReplicaSet.
pub(super) fn cleanup(w: &mut World<'_>, d: &Value, olds: &[Arc<Value>]) {
    let Some(limit) = d
        .ptr("/spec/revisionHistoryLimit")
        .and_then(Value::as_i64)
        .filter(|l| *l < i64::from(i32::MAX))
    else {
        return;
    };
    let mut alive: Vec<&Arc<Value>> = olds.iter().filter(|r| !meta::is_deleting(r)).collect();
    let extra = alive.len() as i64 - limit;
    if extra <= 0 {
        return;
    }
    alive.sort_by_key(|r| {
        (
            revision(r),
            meta::meta_str(r, "creationTimestamp").to_string(),
            meta::name(r).to_string(),
        )
    });
    for r in alive.into_iter().take(usize::try_from(extra).unwrap_or(0)) {
        let busy = int(r, "/spec/replicas") != 0
            || int(r, "/status/replicas") != 0
            || int(r, "/metadata/generation") > int(r, "/status/observedGeneration");
        if busy {
            continue;
        }
        if let Some(tid) = w.kinds.rs {
            let _ = w.store.delete(
                tid,
                meta::namespace(r),
                meta::name(r),
                &DeleteOptions::default(),
            );
        }
    }
}
