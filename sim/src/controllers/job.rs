//! Jobs: keep up to `parallelism` pods running until `completions` succeeded; count failed
//! pods against `backoffLimit` (re-creating after a failure with the 10 s doubling delay);
//! end with the `Complete` or `Failed` condition, deleting leftover pods on failure.

use std::time::Duration;

use serde_json::{Value, json};

use super::{controller_ref, pod_terminal, write_status};
use crate::cluster::{Timer, World};
use crate::controllers::cache::Work;
use crate::json_ptr::Ptr;
use crate::store::{DeleteOptions, ObjKey, WriteOptions, meta};

fn phase(p: &Value) -> &str {
    p.ptr("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
}

fn has_condition(job: &Value, ty: &str) -> bool {
    job.ptr("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(ty)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

pub(crate) fn reconcile(w: &mut World<'_>, key: &ObjKey) {
    let job = w.cache().jobs.get(key).cloned();
    let Some(job) = job else { return };
    if meta::is_deleting(&job) {
        return;
    }
    let finished = has_condition(&job, "Complete") || has_condition(&job, "Failed");
    let uid = meta::uid(&job).to_string();
    let pods = w.cache().pods_of(&uid);
    let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
    let failed_pods = pods.iter().filter(|p| phase(p) == "Failed").count() as i64;
    let restarts: i64 = pods
        .iter()
        .filter(|p| p.ptr("/spec/restartPolicy").and_then(Value::as_str) == Some("OnFailure"))
        .flat_map(|p| {
            p.ptr("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
        .sum();
    let failed = failed_pods + restarts;
    let active: Vec<_> = pods
        .iter()
        .filter(|p| !pod_terminal(p) && !meta::is_deleting(p))
        .collect();
    let completions = job
        .ptr("/spec/completions")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let parallelism = job
        .ptr("/spec/parallelism")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let backoff_limit = job
        .ptr("/spec/backoffLimit")
        .and_then(Value::as_i64)
        .unwrap_or(6);
    let suspended = job.ptr("/spec/suspend").and_then(Value::as_bool) == Some(true);
    let now = crate::clock::rfc3339(w.now);
    let mut conditions: Vec<Value> = job
        .ptr("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut completion_time = job.ptr("/status/completionTime").cloned();
    let cond = |ty: &str, reason: &str, msg: &str| json!({"type": ty, "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": reason, "message": msg});
    if !finished {
        if failed > backoff_limit {
            for p in &active {
                if let Some(t) = w.kinds.pod {
                    let _ = w
                        .store
                        .delete(t, &key.0, meta::name(p), &DeleteOptions::default());
                }
            }
            conditions.push(cond(
                "FailureTarget",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ));
            conditions.push(cond(
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ));
            w.event(
                &job,
                true,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit".into(),
                "job-controller",
            );
        } else if succeeded >= completions {
            conditions.push(cond(
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ));
            conditions.push(cond(
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ));
            completion_time = Some(json!(now));
            w.event(
                &job,
                false,
                "Completed",
                "Job completed".into(),
                "job-controller",
            );
        } else if !suspended {
            let want = parallelism.min(completions - succeeded) - active.len() as i64;
            // After failures, new pods wait 10 s, doubling, capped at 6 minutes.
            let delay = if failed > 0 {
                Duration::from_secs((10u64 << (failed - 1).min(6)).min(360))
            } else {
                Duration::ZERO
            };
            let last_fail = pods
                .iter()
                .filter(|p| phase(p) == "Failed")
                .filter_map(|p| {
                    p.ptr("/status/containerStatuses/0/state/terminated/finishedAt")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                })
                .max();
            let ready_at = last_fail.map(|t| crate::clock::after(t, delay));
            if want > 0 {
                match ready_at {
                    Some(at) if at > w.now => w.at_instant(at, Timer::Work(Work::Job(key.clone()))),
                    _ => {
                        for _ in 0..want {
                            create_pod(w, &job, key);
                        }
                    }
                }
            }
        }
    }
    let pods = w.cache().pods_of(&uid);
    let active_n = pods
        .iter()
        .filter(|p| !pod_terminal(p) && !meta::is_deleting(p))
        .count();
    let ready = pods.iter().filter(|p| super::pod_ready(p)).count();
    let terminating = pods.iter().filter(|p| meta::is_deleting(p)).count();
    let mut status = json!({
        "startTime": job.ptr("/status/startTime").cloned().unwrap_or(json!(now)),
        "active": active_n,
        "succeeded": succeeded,
        "failed": failed,
        "ready": ready,
        "terminating": terminating,
        "uncountedTerminatedPods": {},
    });
    if !conditions.is_empty() {
        status["conditions"] = json!(conditions);
    }
    if let Some(t) = completion_time {
        status["completionTime"] = t;
    }
    if let Some(m) = status.as_object_mut() {
        for f in ["active", "succeeded", "failed"] {
            if m.get(f).and_then(Value::as_i64) == Some(0) {
                m.remove(f);
            }
        }
    }
    write_status(w, w.kinds.job, &job, status);
}

fn create_pod(w: &mut World<'_>, job: &Value, key: &ObjKey) {
    let Some(pt) = w.kinds.pod else { return };
    let mut metadata = job
        .ptr("/spec/template/metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if !metadata.is_object() {
        metadata = json!({});
    }
    let uid = meta::uid(job);
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", uid),
        ("controller-uid", uid),
        ("batch.kubernetes.io/job-name", key.1.as_str()),
        ("job-name", key.1.as_str()),
    ] {
        metadata["labels"][k] = json!(v);
    }
    metadata["generateName"] = json!(format!("{}-", key.1));
    metadata["ownerReferences"] = json!([controller_ref(job)]);
    let pod = json!({"metadata": metadata, "spec": job.ptr("/spec/template/spec").cloned().unwrap_or_default()});
    match w.store.create(pt, &key.0, pod, &WriteOptions::default()) {
        Ok(p) => {
            let name = meta::name(&p).to_string();
            w.event(
                job,
                false,
                "SuccessfulCreate",
                format!("Created pod: {name}"),
                "job-controller",
            );
        }
        Err(e) => {
            let m = e.message.clone();
            w.event(
                job,
                true,
                "FailedCreate",
                format!("Error creating: {m}"),
                "job-controller",
            );
        }
    }
}
