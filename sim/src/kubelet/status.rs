//! Renders a pod's `status` from the kubelet's record: phase (the kubelet's `getPhase`),
//! conditions with stable transition times, and container statuses with state, lastState,
//! restartCount, readiness and IDs.

use serde_json::{Map, Value, json};

use super::pod::{CState, Ctr, PodRt, Policy, init_failed, initialized};
use crate::clock::rfc3339;
use crate::cluster::World;
use crate::json_build::object;
use crate::json_ptr::Ptr;

fn term_json(t: &super::pod::Term) -> Value {
    json!({"terminated": {
        "exitCode": t.code,
        "reason": t.reason,
        "startedAt": rfc3339(t.started),
        "finishedAt": rfc3339(t.finished),
        "containerID": t.id,
    }})
}

fn container_status(w: &World<'_>, rt: &PodRt, c: &Ctr, init: bool, key: (&str, &str)) -> Value {
    let state = match (&c.state, c.backoff_until) {
        (CState::Terminated(_), Some(_)) => {
            let period = c.backoff.period().map(|p| p.as_secs()).unwrap_or(10);
            let m = if period >= 60 {
                format!("{}m{}s", period / 60, period % 60)
            } else {
                format!("{period}s")
            };
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!(
                "back-off {m} restarting failed container={} pod={}_{}({})",
                c.name, key.1, key.0, rt.uid
            )}})
        }
        (CState::Terminated(t), None) => term_json(t),
        (CState::Running { since }, _) => json!({"running": {"startedAt": rfc3339(*since)}}),
        (CState::Waiting { reason, message }, _) => {
            // A container of a pod with init containers that was never created shows
            // PodInitializing, as the kubelet's default waiting state for such pods.
            let reason = if reason == "ContainerCreating"
                && !rt.init.is_empty()
                && !c.started_once
                && c.last.is_none()
            {
                "PodInitializing"
            } else {
                reason.as_str()
            };
            let mut m = Map::new();
            m.insert("reason".into(), json!(reason));
            if let Some(msg) = message {
                m.insert("message".into(), json!(msg));
            }
            object([("waiting", Value::Object(m))])
        }
    };
    let last_term = match (&c.state, c.backoff_until) {
        (CState::Terminated(t), Some(_)) => Some(t),
        _ => c.last.as_ref(),
    };
    let ready = ready(w, c, init);
    let image_id = if c.started_once {
        format!(
            "{}@sha256:{}",
            c.image.split(':').next().unwrap_or_default(),
            "0".repeat(64)
        )
    } else {
        String::new()
    };
    let mut s = object([
        ("name", Value::String(c.name.clone())),
        ("state", state),
        (
            "lastState",
            last_term.map_or_else(|| Value::Object(Map::new()), term_json),
        ),
        ("ready", Value::Bool(ready)),
        ("restartCount", json!(c.restarts)),
        ("image", Value::String(c.image.clone())),
        ("imageID", Value::String(image_id)),
        ("started", Value::Bool(c.running() && c.probes.started)),
    ]);
    if c.started_once || matches!(c.state, CState::Terminated(_)) {
        let id = match &c.state {
            CState::Terminated(t) => t.id.clone(),
            _ => super::ContainerId {
                namespace: key.0.to_string(),
                pod: key.1.to_string(),
                pod_uid: rt.uid.clone(),
                container: c.name.clone(),
                instance: c.instance,
                init,
            }
            .runtime_id(),
        };
        s["containerID"] = Value::String(id);
    }
    s
}

/// Whether an app container counts as ready now.
pub(crate) fn ready(w: &World<'_>, c: &Ctr, init: bool) -> bool {
    if init {
        return matches!(&c.state, CState::Terminated(t) if t.code == 0);
    }
    c.running() && c.probe_ok && c.ready_at.is_none_or(|at| at <= w.now)
}

/// The kubelet's phase rule.
fn phase(rt: &PodRt) -> &'static str {
    if !initialized(rt) {
        return if init_failed(rt) { "Failed" } else { "Pending" };
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in &rt.app {
        match &c.state {
            CState::Running { .. } => running += 1,
            CState::Terminated(t) => {
                stopped += 1;
                if t.code == 0 {
                    succeeded += 1;
                }
            }
            CState::Waiting { .. } => {
                if c.last.is_some() {
                    stopped += 1;
                } else {
                    waiting += 1;
                }
            }
        }
    }
    if waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        return match rt.policy {
            Policy::Always => "Running",
            _ if stopped == succeeded => "Succeeded",
            Policy::OnFailure => "Running",
            Policy::Never => "Failed",
        };
    }
    "Pending"
}

fn condition(
    old: &Value,
    ty: &str,
    ok: bool,
    reason: Option<&str>,
    message: Option<String>,
    now: &str,
) -> Value {
    let status = if ok { "True" } else { "False" };
    let prev = old
        .ptr("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
        });
    let since = match prev {
        Some(p) if p.get("status").and_then(Value::as_str) == Some(status) => p
            .get("lastTransitionTime")
            .cloned()
            .unwrap_or_else(|| json!(now)),
        _ => json!(now),
    };
    let mut c = object([
        ("type", Value::String(ty.into())),
        ("status", Value::String(status.into())),
        ("lastProbeTime", Value::Null),
        ("lastTransitionTime", since),
    ]);
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    c
}

/// The pod's status as the kubelet would write it now.
pub(crate) fn render(w: &World<'_>, pod: &Value, rt: &PodRt) -> Value {
    let ns = crate::store::meta::namespace(pod);
    let name = crate::store::meta::name(pod);
    let now = rfc3339(w.now);
    let phase = phase(rt);
    let inited = initialized(rt);
    let unready: Vec<&str> = rt
        .app
        .iter()
        .filter(|c| !ready(w, c, false))
        .map(|c| c.name.as_str())
        .collect();
    let incomplete: Vec<&str> = rt
        .init
        .iter()
        .filter(|c| !ready(w, c, true))
        .map(|c| c.name.as_str())
        .collect();
    let terminal = phase == "Succeeded" || phase == "Failed";
    let cready = unready.is_empty() && !terminal;
    let (r_reason, r_msg) = if terminal && phase == "Succeeded" {
        (Some("PodCompleted"), None)
    } else if cready {
        (None, None)
    } else if terminal {
        (Some("PodFailed"), None)
    } else {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    };
    let host_ip = w
        .cache()
        .nodes
        .get(&(String::new(), rt.node.clone()))
        .and_then(|n| {
            n.ptr("/status/addresses")?
                .as_array()?
                .iter()
                .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))
                .and_then(|a| a.get("address").cloned())
        })
        .unwrap_or_else(|| json!("172.18.0.2"));
    let pod_ip = rt
        .ip
        .as_ref()
        .map(|i| json!(i.0))
        .unwrap_or_else(|| host_ip.clone());
    let mut conditions = vec![
        condition(
            pod,
            "PodReadyToStartContainers",
            !terminal,
            None,
            None,
            &now,
        ),
        condition(
            pod,
            "Initialized",
            inited,
            (!inited).then_some("ContainersNotInitialized"),
            (!inited).then(|| {
                format!(
                    "containers with incomplete status: [{}]",
                    incomplete.join(" ")
                )
            }),
            &now,
        ),
        condition(pod, "Ready", cready, r_reason, r_msg.clone(), &now),
        condition(pod, "ContainersReady", cready, r_reason, r_msg, &now),
        condition(pod, "PodScheduled", true, None, None, &now),
    ];
    if rt.init.is_empty() {
        conditions[1] = condition(pod, "Initialized", true, None, None, &now);
    }
    let statuses = rt
        .app
        .iter()
        .map(|c| container_status(w, rt, c, false, (ns, name)))
        .collect();
    let mut status = object([
        ("phase", Value::String(phase.into())),
        ("conditions", Value::Array(conditions)),
        ("hostIP", host_ip.clone()),
        ("hostIPs", Value::Array(vec![object([("ip", host_ip)])])),
        ("podIP", pod_ip.clone()),
        ("podIPs", Value::Array(vec![object([("ip", pod_ip)])])),
        ("startTime", Value::String(rfc3339(rt.start))),
        ("containerStatuses", Value::Array(statuses)),
        (
            "qosClass",
            pod.ptr("/status/qosClass")
                .cloned()
                .unwrap_or_else(|| json!("BestEffort")),
        ),
    ]);
    if !rt.init.is_empty() {
        status["initContainerStatuses"] = Value::Array(
            rt.init
                .iter()
                .map(|c| container_status(w, rt, c, true, (ns, name)))
                .collect(),
        );
    }
    if let Some(n) = pod.ptr("/status/nominatedNodeName") {
        status["nominatedNodeName"] = n.clone();
    }
    status
}
