//! Starting, restarting and stopping one container: image pulls with their back-off, the
//! runtime's start and its outcome, CrashLoopBackOff waits, and SIGTERM with the grace period
//! on deletion. [`super::pod`] decides which container is next; this module carries it out.

use std::time::Duration;

use serde_json::Value;

use super::pod::{CState, Ctr, PodRt, Term, cid};
use super::{Outcome, StartRequest};
use crate::cluster::{Timer, World};
use crate::controllers::cache::Work;
use crate::json_ptr::Ptr;
use crate::store::{ObjKey, meta};

pub(super) fn ctr(rt: &mut PodRt, init: bool, i: usize) -> &mut Ctr {
    if init {
        &mut rt.init[i]
    } else {
        &mut rt.app[i]
    }
}

pub(super) fn restart(
    w: &mut World<'_>,
    key: &ObjKey,
    pod: &Value,
    rt: &mut PodRt,
    init: bool,
    i: usize,
    t: Term,
) {
    let now = w.now;
    let c = ctr(rt, init, i);
    if let Some(until) = c.backoff.wait_until(now, t.finished) {
        if c.backoff_until != Some(until) {
            c.backoff_until = Some(until);
            let name = c.name.clone();
            w.at_instant(until, Timer::Work(Work::Pod(key.clone())));
            w.event(
                pod,
                true,
                "BackOff",
                format!(
                    "Back-off restarting failed container {name} in pod {}_{}({})",
                    key.1,
                    key.0,
                    meta::uid(pod)
                ),
                "kubelet",
            );
        }
        return;
    }
    c.backoff.next(now);
    c.backoff_until = None;
    c.last = Some(t);
    c.instance += 1;
    c.restarts += 1;
    if c.pull_always() {
        c.image_ok = false;
    }
    c.state = CState::Waiting {
        reason: "ContainerCreating".into(),
        message: None,
    };
    try_start(w, key, pod, rt, init, i);
}

pub(super) fn try_start(
    w: &mut World<'_>,
    key: &ObjKey,
    pod: &Value,
    rt: &mut PodRt,
    init: bool,
    i: usize,
) {
    let now = w.now;
    let node = rt.node.clone();
    let present = {
        let c = ctr(rt, init, i);
        let image = c.image.clone();
        c.image_ok || (!c.pull_always() && w.st.kubelet.node(&node).images.contains(&image))
    };
    if !present {
        let c = ctr(rt, init, i);
        if c.pulling {
            return;
        }
        let image = c.image.clone();
        if let Some(failed) = c.pull_failed_at
            && let Some(until) = c.pull_backoff.wait_until(now, failed)
        {
            let msg = format!("Back-off pulling image \"{image}\"");
            let was_backoff =
                matches!(&c.state, CState::Waiting { reason, .. } if reason == "ImagePullBackOff");
            c.state = CState::Waiting {
                reason: "ImagePullBackOff".into(),
                message: Some(msg.clone()),
            };
            if !was_backoff {
                w.at_instant(until, Timer::Work(Work::Pod(key.clone())));
                w.event(pod, false, "BackOff", msg, "kubelet");
            }
            return;
        }
        w.event(
            pod,
            false,
            "Pulling",
            format!("Pulling image \"{image}\""),
            "kubelet",
        );
        let result = if w.st.faults.pull_fails(&image) {
            Err(super::PullError {
                message: format!(
                    "failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": injected pull failure"
                ),
            })
        } else {
            w.runtime.pull(&image, &node)
        };
        let waiting_reason = if init || rt.init.is_empty() {
            "ContainerCreating"
        } else {
            "PodInitializing"
        };
        let c = ctr(rt, init, i);
        match result {
            Ok(d) => {
                c.pulling = true;
                c.state = CState::Waiting {
                    reason: waiting_reason.into(),
                    message: None,
                };
                let instance = ctr(rt, init, i).instance;
                w.at(
                    d,
                    Timer::Pulled {
                        pod: key.clone(),
                        uid: rt.uid.clone(),
                        init,
                        index: i,
                        instance,
                    },
                );
            }
            Err(e) => {
                c.pull_backoff.next(now);
                c.pull_failed_at = Some(now);
                c.state = CState::Waiting {
                    reason: "ErrImagePull".into(),
                    message: Some(e.message.clone()),
                };
                w.at(Duration::from_secs(1), Timer::Work(Work::Pod(key.clone())));
                w.event(
                    pod,
                    true,
                    "Failed",
                    format!("Failed to pull image \"{image}\": {}", e.message),
                    "kubelet",
                );
                w.event(pod, true, "Failed", "Error: ErrImagePull".into(), "kubelet");
            }
        }
        return;
    }
    let already = {
        let c = ctr(rt, init, i);
        let was = c.image_ok;
        c.image_ok = true;
        c.pull_failed_at = None;
        !was
    };
    if already {
        let image = ctr(rt, init, i).image.clone();
        w.event(
            pod,
            false,
            "Pulled",
            format!("Container image \"{image}\" already present on machine"),
            "kubelet",
        );
    }
    let id = cid(key, rt, init, i);
    let ip = rt.ip.as_ref().map(|x| x.0.clone()).unwrap_or_default();
    let spec = ctr(rt, init, i).spec.clone();
    let result = w.runtime.start(
        StartRequest {
            id: &id,
            pod,
            container: &spec,
            node: &node,
            pod_ip: &ip,
        },
        w.exits.clone(),
    );
    let name = id.container.clone();
    match result {
        Err(e) => {
            let c = ctr(rt, init, i);
            c.state = CState::Waiting {
                reason: e.reason.clone(),
                message: Some(e.message.clone()),
            };
            let (reason, message) = e.event();
            w.event(pod, true, reason, message, "kubelet");
            let d = c.backoff.period().unwrap_or(super::backoff::INITIAL);
            c.backoff.next(now);
            w.at(d, Timer::Work(Work::Pod(key.clone())));
        }
        Ok(outcome) => {
            let c = ctr(rt, init, i);
            c.state = CState::Running { since: now };
            c.started_once = true;
            // A container with a readiness probe is unready until its first probe passes.
            c.probe_ok = init
                || (spec.get("readinessProbe").is_none() && spec.get("startupProbe").is_none());
            c.probes = super::probes::ProbeState::fresh(&spec);
            c.ready_at = if init {
                None
            } else {
                let delay = spec
                    .ptr("/readinessProbe/initialDelaySeconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                Some(crate::clock::after(now, Duration::from_secs(delay)))
            };
            let instance = c.instance;
            w.event(
                pod,
                false,
                "Created",
                format!("Created container: {name}"),
                "kubelet",
            );
            w.event(
                pod,
                false,
                "Started",
                format!("Started container {name}"),
                "kubelet",
            );
            if let Outcome::ExitsAfter { after, code } = outcome {
                w.at(
                    after,
                    Timer::ContainerExit {
                        pod: key.clone(),
                        uid: rt.uid.clone(),
                        init,
                        index: i,
                        instance,
                        code,
                        reason: if code == 0 { "Completed" } else { "Error" },
                    },
                );
            }
            let has_probe = ["readinessProbe", "livenessProbe", "startupProbe"]
                .iter()
                .any(|p| spec.get(*p).is_some());
            if let Some(at) = ctr(rt, init, i).ready_at
                && (at > now || has_probe)
            {
                w.at_instant(at, Timer::Work(Work::Pod(key.clone())));
            }
        }
    }
}

/// Stops every running container of a deleted pod; true when none is left running.
pub(super) fn terminate(w: &mut World<'_>, key: &ObjKey, pod: &Value, rt: &mut PodRt) -> bool {
    if !rt.terminating {
        rt.terminating = true;
        let grace = Duration::from_secs(
            pod.ptr("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_u64)
                .unwrap_or(30),
        );
        for init in [true, false] {
            let n = if init { rt.init.len() } else { rt.app.len() };
            for i in 0..n {
                if !ctr(rt, init, i).running() {
                    continue;
                }
                let id = cid(key, rt, init, i);
                let spec = ctr(rt, init, i).spec.clone();
                let took = w.runtime.stop(&id, &spec, grace);
                let (delay, code, reason) = if took >= grace {
                    (grace, 137, "Error")
                } else {
                    (took, 0, "Completed")
                };
                w.event(
                    pod,
                    false,
                    "Killing",
                    format!("Stopping container {}", id.container),
                    "kubelet",
                );
                w.at(
                    delay,
                    Timer::ContainerExit {
                        pod: key.clone(),
                        uid: rt.uid.clone(),
                        init,
                        index: i,
                        instance: id.instance,
                        code,
                        reason,
                    },
                );
            }
        }
    }
    !rt.init.iter().chain(rt.app.iter()).any(Ctr::running)
}
