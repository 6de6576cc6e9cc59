//! The deployer: what the deployer pod `<dc>-<n>-deploy` does on a real cluster, run by the
//! controller while that pod runs, one step per reconcile.
//!
//! Phases of a version (annotation `openshift.io/deployment.phase`): `New` (deployer pod
//! created) -> `Pending` (waiting for it to run) -> `Running` (the strategy scales
//! ReplicationControllers) -> `Complete` once the new version has all its replicas available
//! and the deployer process exited 0, or `Failed` when the deployer pod failed or the
//! strategy's `timeoutSeconds` passed (the deployer then exits 1, the new version is scaled
//! to zero and the previous one back up).
//!
//! As the real deployer, the strategy works from the last complete version (`from`);
//! older versions still up are scaled down first (`--> Scaled older deployment ...`).
//!
//! - Recreate: scale `from` to zero, wait for the pods of older versions to be gone, then
//!   scale the new one up; after a previous version, to 1 first and, once that pod is
//!   available (the acceptance check), to its replicas.
//! - Rolling: scale the new version up within `maxSurge` and older ones down while at least
//!   `replicas - maxUnavailable` pods stay available. Without a complete version to roll
//!   from, it rolls out as Recreate does without one.
//!
//! The deployer container runs `sleep infinity` in the simulator; its exit is reported
//! through the runtime's exit channel when the rollout ends, so pod phases, container states
//! and exit codes are what a real deployer pod shows. What the real deployer prints is
//! appended to that container's log as each step is taken ([`super::deployer_log`]).
//!
//! Lifecycle hooks (`pre`, `mid` for Recreate, `post`) are run by [`super::hooks`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::deployer_log::{self, DEPLOYER_CONTAINER, DeployerLog};
use super::deploymentconfig::{DEPLOYMENT_NAME, PHASE, REPLICAS, STATUS_REASON, phase_of};
use super::hooks::{Hook, hook};
use super::{DC_NAME, DEPLOYER_FOR};
use crate::cluster::{Timer, World};
use crate::controllers::cache::Work;
use crate::controllers::write;
use crate::store::{WriteOptions, meta};

/// The image of deployer pods (the busybox base in the simulator's catalogue).
pub const DEPLOYER_IMAGE: &str = "quay.io/openshift/origin-deployer:latest";

fn i(o: &Value, p: &str) -> i64 {
    o.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn int_or_percent(v: Option<&Value>, total: i64, round_up: bool) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => {
            let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(0.0);
            let x = pct * total as f64 / 100.0;
            if round_up {
                x.ceil() as i64
            } else {
                x.floor() as i64
            }
        }
        _ => 0,
    }
}

/// Whether `dc` rolls out with the Recreate strategy.
pub(super) fn recreate(dc: &Value) -> bool {
    dc.pointer("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate")
}

/// Pods that may be unavailable during a rollout of `dc` to `desired` replicas.
pub(crate) fn max_unavailable(dc: &Value, desired: i64) -> i64 {
    if recreate(dc) {
        return desired;
    }
    let p = |f: &str| dc.pointer(&format!("/spec/strategy/rollingParams/{f}"));
    let surge = int_or_percent(p("maxSurge"), desired, true);
    let unavail = int_or_percent(p("maxUnavailable"), desired, false);
    if surge == 0 && unavail == 0 {
        1
    } else {
        unavail.min(desired)
    }
}

fn timeout(dc: &Value) -> Duration {
    let p = if recreate(dc) {
        "/spec/strategy/recreateParams/timeoutSeconds"
    } else {
        "/spec/strategy/rollingParams/timeoutSeconds"
    };
    Duration::from_secs(dc.pointer(p).and_then(Value::as_u64).unwrap_or(600))
}

fn set_phase(
    w: &mut World<'_>,
    rc: &Value,
    phase: &str,
    reason: Option<&str>,
) -> Option<Arc<Value>> {
    let mut o = rc.clone();
    o["metadata"]["annotations"][PHASE] = json!(phase);
    if let Some(r) = reason {
        o["metadata"]["annotations"][STATUS_REASON] = json!(r);
    }
    if phase == "Complete" {
        o["metadata"]["annotations"][REPLICAS] = json!(i(rc, "/spec/replicas").to_string());
    }
    let out = write(w, w.kinds.rc, o);
    if out.is_some() {
        w.trace(|| {
            format!(
                "deployment {}/{} {phase}",
                meta::namespace(rc),
                meta::name(rc)
            )
        });
    }
    out
}

fn scale(w: &mut World<'_>, dc: &Value, rc: &Value, to: i64) -> Option<Arc<Value>> {
    let from = i(rc, "/spec/replicas");
    if from == to {
        return None;
    }
    let mut o = rc.clone();
    o["spec"]["replicas"] = json!(to);
    let out = write(w, w.kinds.rc, o);
    if out.is_some() {
        let dir = if to > from { "up" } else { "down" };
        w.event(
            dc,
            false,
            "ReplicationControllerScaled",
            format!(
                "Scaled replication controller \"{}\" {dir} from {from} to {to}",
                meta::name(rc)
            ),
            "deployer",
        );
    }
    out
}

fn deployer_pod(dc: &Value, rc: &Value) -> Value {
    let rc_name = meta::name(rc);
    let ns = meta::namespace(rc);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{rc_name}-deploy"),
            "namespace": ns,
            "labels": {DEPLOYER_FOR: rc_name},
            "annotations": {DEPLOYMENT_NAME: rc_name, DC_NAME: meta::name(dc)},
            "ownerReferences": [{
                "apiVersion": "v1",
                "kind": "ReplicationController",
                "name": rc_name,
                "uid": meta::uid(rc),
            }],
        },
        "spec": {
            "containers": [{
                "name": DEPLOYER_CONTAINER,
                "image": DEPLOYER_IMAGE,
                "command": ["sleep", "infinity"],
                "env": [
                    {"name": "OPENSHIFT_DEPLOYMENT_NAME", "value": rc_name},
                    {"name": "OPENSHIFT_DEPLOYMENT_NAMESPACE", "value": ns},
                ],
            }],
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "activeDeadlineSeconds": dc.pointer("/spec/strategy/activeDeadlineSeconds").cloned().unwrap_or(json!(21600)),
            "serviceAccountName": "deployer",
        },
    })
}

/// Ends the deployer process (once: only while its container runs and it has not said
/// how the rollout ended yet): its last line, then its exit, 0 or 1 as `outcome` says.
fn finish_deployer(w: &mut World<'_>, pod: &Value, log: &DeployerLog, outcome: Result<(), String>) {
    if pod
        .pointer("/status/containerStatuses/0/state/running")
        .is_none()
        || log.ended()
    {
        return;
    }
    let Some(id) = deployer_log::instance_of(pod, DEPLOYER_CONTAINER) else {
        return;
    };
    log.end(w, &outcome);
    w.exits.exited(id, if outcome.is_ok() { 0 } else { 1 });
}

/// The last complete version before the new one: what the strategy rolls over from.
fn last_complete(olds: &[Arc<Value>]) -> Option<&Arc<Value>> {
    olds.iter().rev().find(|r| phase_of(r) == "Complete")
}

/// Why the rollout failed when `timeoutSeconds` passed, as the real deployer says it: the
/// rolling updater made no progress, or the new version's pods did not become available.
fn timeout_message(dc: &Value, rc: &Value, olds: &[Arc<Value>]) -> String {
    if !recreate(dc) && last_complete(olds).is_some() {
        return "timed out waiting for any update progress to be made".into();
    }
    let name = meta::name(rc);
    format!(
        "update acceptor rejected {name}: pods for rc '{}/{name}' took longer than {} seconds to become available",
        meta::namespace(rc),
        timeout(dc).as_secs()
    )
}

/// Advances the deployment of `rc` (the latest version) by one step.
pub(crate) fn drive(w: &mut World<'_>, dc: &Arc<Value>, rc: &Arc<Value>, olds: &[Arc<Value>]) {
    let ns = meta::namespace(rc).to_string();
    let pod_key = (ns.clone(), format!("{}-deploy", meta::name(rc)));
    let pod = w.cache().pods.get(&pod_key).cloned();
    let pod_phase = pod
        .as_ref()
        .and_then(|p| p.pointer("/status/phase"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let desired = i(dc, "/spec/replicas");
    match phase_of(rc) {
        "New" => {
            if pod.is_none()
                && let Some(pt) = w.kinds.pod
                && let Err(e) =
                    w.store
                        .create(pt, &ns, deployer_pod(dc, rc), &WriteOptions::default())
            {
                tracing::debug!(rc = %meta::name(rc), error = %e.message, "deployer pod not created");
                return;
            }
            set_phase(w, rc, "Pending", None);
        }
        "Pending" | "Running" => {
            let Some(pod) = pod else {
                fail(w, dc, rc, olds, "deployer pod no longer exists");
                return;
            };
            match pod_phase.as_str() {
                "Failed" => fail(w, dc, rc, olds, "deployer pod failed"),
                "Succeeded" => {
                    set_phase(w, rc, "Complete", None);
                }
                "Running" => {
                    let rc = if phase_of(rc) == "Pending" {
                        // The rollout's deadline, from the moment the deployer runs.
                        w.at(
                            timeout(dc),
                            Timer::Work(Work::OpenShift(super::Work::DeploymentConfig((
                                ns.clone(),
                                meta::name(dc).to_string(),
                            )))),
                        );
                        match set_phase(w, rc, "Running", None) {
                            Some(r) => r,
                            None => return,
                        }
                    } else {
                        rc.clone()
                    };
                    let started = pod
                        .pointer("/status/startTime")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<jiff::Timestamp>().ok());
                    let log = DeployerLog::of(w, &pod);
                    if started.is_some_and(|s| crate::clock::after(s, timeout(dc)) <= w.now) {
                        let why = timeout_message(dc, &rc, olds);
                        return finish_deployer(w, &pod, &log, Err(why));
                    }
                    match hook(w, dc, &rc, "pre", &log) {
                        Hook::Waiting => return,
                        Hook::Abort(why) => return finish_deployer(w, &pod, &log, Err(why)),
                        Hook::Done => {}
                    }
                    match step(w, dc, &rc, olds, desired, &log) {
                        Hook::Waiting => {}
                        Hook::Abort(why) => finish_deployer(w, &pod, &log, Err(why)),
                        Hook::Done => match hook(w, dc, &rc, "post", &log) {
                            Hook::Waiting => {}
                            Hook::Abort(why) => finish_deployer(w, &pod, &log, Err(why)),
                            Hook::Done => finish_deployer(w, &pod, &log, Ok(())),
                        },
                    }
                }
                _ => {}
            }
        }
        // `oc scale dc` changes the replicas of the active version.
        "Complete" if dc.pointer("/spec/test").and_then(Value::as_bool) != Some(true) => {
            scale(w, dc, rc, desired);
        }
        _ => {}
    }
}

/// One step of the strategy: Done when the new version is fully rolled out. What the
/// deployer does is written to its `log`.
fn step(
    w: &mut World<'_>,
    dc: &Value,
    rc: &Value,
    olds: &[Arc<Value>],
    desired: i64,
    log: &DeployerLog,
) -> Hook {
    let olds_up: Vec<&Arc<Value>> = olds.iter().filter(|r| i(r, "/spec/replicas") > 0).collect();
    let from = last_complete(olds);
    let is_from = |r: &Value| from.is_some_and(|f| meta::name(f) == meta::name(r));
    // Older versions than the last complete one are scaled down before the strategy runs.
    for r in olds_up.iter().filter(|r| !is_from(r)) {
        if scale(w, dc, r, 0).is_some() {
            log.say(
                w,
                &format!("--> Scaled older deployment {} down", meta::name(r)),
            );
        }
    }
    let name = meta::name(rc);
    match from {
        Some(from) if !recreate(dc) => rolling(w, dc, rc, from, olds, desired, log),
        _ => {
            if let Some(f) = from {
                log.say_once(w, &format!("--> Scaling {} down to zero", meta::name(f)));
                scale(w, dc, f, 0);
            }
            let old_pods = olds
                .iter()
                .any(|r| !w.cache().pods_of(meta::uid(r)).is_empty());
            if !olds_up.is_empty() || old_pods {
                return Hook::Waiting;
            }
            if recreate(dc) {
                match hook(w, dc, rc, "mid", log) {
                    Hook::Done => {}
                    other => return other,
                }
            }
            let current = i(rc, "/spec/replicas");
            if desired > 0 && from.is_some() && current == 0 {
                // After a previous version, one pod first: the acceptance check.
                if scale(w, dc, rc, 1).is_some() {
                    log.say(
                        w,
                        &format!("--> Scaling {name} to 1 before performing acceptance check"),
                    );
                }
                return Hook::Waiting;
            }
            let accepted = from.is_none() || i(rc, "/status/availableReplicas") >= 1;
            if desired > 0 && accepted && scale(w, dc, rc, desired).is_some() {
                log.say(w, &format!("--> Scaling {name} to {desired}"));
            }
            rolled_out(w, rc, olds, desired)
        }
    }
}

/// A step of the rolling update from the last complete version `from` (older versions are
/// already being scaled to zero and do not count, as in the real rolling updater): the
/// new version up within `maxSurge`, `from` down while `replicas - maxUnavailable` pods
/// stay available.
fn rolling(
    w: &mut World<'_>,
    dc: &Value,
    rc: &Value,
    from: &Value,
    olds: &[Arc<Value>],
    desired: i64,
    log: &DeployerLog,
) -> Hook {
    let name = meta::name(rc);
    let p = |f: &str| dc.pointer(&format!("/spec/strategy/rollingParams/{f}"));
    let mut surge = int_or_percent(p("maxSurge"), desired, true);
    let unavail = max_unavailable(dc, desired);
    let min_available = if desired == 0 {
        0
    } else {
        (desired - unavail).max(0)
    };
    log.say_once_as(w, &format!("--> Scaling up {name} from "), || {
        format!(
            "--> Scaling up {name} from {} to {desired}, scaling down {} from {} to 0 (keep {min_available} pods available, don't exceed {} pods)",
            i(rc, "/spec/replicas"),
            meta::name(from),
            i(from, "/spec/replicas"),
            desired + surge
        )
    });
    if surge == 0 && unavail == 0 {
        surge = 1;
    }
    let new = i(rc, "/spec/replicas");
    let old = i(from, "/spec/replicas");
    if new < desired && new + old < desired + surge {
        let to = desired.min(desired + surge - old);
        if scale(w, dc, rc, to).is_some() {
            log.say(w, &format!("    Scaling {name} up to {to}"));
        }
    }
    let avail = |r: &Value| i(r, "/status/availableReplicas").min(i(r, "/spec/replicas"));
    let can_down = (avail(rc) + avail(from) - (desired - unavail)).min(old);
    if can_down > 0 && scale(w, dc, from, old - can_down).is_some() {
        log.say(
            w,
            &format!(
                "    Scaling {} down to {}",
                meta::name(from),
                old - can_down
            ),
        );
    }
    rolled_out(w, rc, olds, desired)
}

/// Done once the new version has all its replicas available and older ones none.
fn rolled_out(w: &World<'_>, rc: &Value, olds: &[Arc<Value>], desired: i64) -> Hook {
    let rc_now = w
        .cache()
        .rc
        .get(&(meta::namespace(rc).to_string(), meta::name(rc).to_string()))
        .cloned();
    let olds_done = olds.iter().all(|r| {
        w.cache()
            .rc
            .get(&(meta::namespace(r).to_string(), meta::name(r).to_string()))
            .is_none_or(|r| i(r, "/spec/replicas") == 0)
    });
    let done = rc_now.is_some_and(|r| {
        i(&r, "/spec/replicas") == desired
            && i(&r, "/status/availableReplicas") >= desired
            && i(&r, "/status/replicas") == desired
    }) && olds_done;
    if done { Hook::Done } else { Hook::Waiting }
}

/// Marks the version Failed and goes back to the previous complete version.
fn fail(w: &mut World<'_>, dc: &Value, rc: &Value, olds: &[Arc<Value>], why: &str) {
    let Some(rc) = set_phase(w, rc, "Failed", Some(why)) else {
        return;
    };
    w.event(
        dc,
        true,
        "DeploymentFailed",
        format!("Deployment {} failed: {why}", meta::name(&rc)),
        "deploymentconfig-controller",
    );
    scale(w, dc, &rc, 0);
    if let Some(prev) = olds.iter().rev().find(|r| phase_of(r) == "Complete") {
        scale(w, dc, prev, i(dc, "/spec/replicas"));
    }
}
