//! Container probes: startup, liveness and readiness, run through the container runtime
//! ([`super::ContainerRuntime::probe`]) with the kubelet's timing rules: `initialDelaySeconds`
//! from the container's start, one run per `periodSeconds`, `failureThreshold` consecutive
//! failures. A startup probe holds the other two back until it passes; a failed startup or
//! liveness probe kills the container (SIGTERM, grace period) and the restart policy and
//! back-off take it from there; readiness only decides the Ready condition.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use super::pod::{CState, PodRt, cid};
use crate::clock::after;
use crate::cluster::{Timer, World};
use crate::controllers::cache::Work;
use crate::json_ptr::Ptr;
use crate::store::ObjKey;

/// Probe state of one container instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProbeState {
    /// The startup probe passed (or there is none).
    pub started: bool,
    /// Consecutive startup-probe failures.
    pub startup_failures: u32,
    /// Consecutive liveness-probe failures.
    pub live_failures: u32,
    /// When the startup or liveness probe runs next.
    pub next: Option<Timestamp>,
    /// The container is being killed after a failed probe.
    pub killing: bool,
}

impl ProbeState {
    /// The state of a container instance that just started.
    pub fn fresh(spec: &Value) -> Self {
        Self {
            started: spec.get("startupProbe").is_none(),
            ..Self::default()
        }
    }
}

fn secs(probe: &Value, field: &str, default: u64) -> u64 {
    probe.get(field).and_then(Value::as_u64).unwrap_or(default)
}

/// What a failing probe reports, as the kubelet words it.
fn failure_message(probe: &Value, ip: &str) -> String {
    let port = |v: &Value| match v.get("port") {
        Some(Value::String(s)) => s.clone(),
        Some(p) => p.to_string(),
        None => String::new(),
    };
    if let Some(h) = probe.get("httpGet") {
        let path = h.get("path").and_then(Value::as_str).unwrap_or("/");
        let scheme = h
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or("HTTP")
            .to_lowercase();
        format!(
            "Get \"{scheme}://{ip}:{}{path}\": dial tcp {ip}:{}: connect: connection refused",
            port(h),
            port(h)
        )
    } else if let Some(t) = probe.get("tcpSocket") {
        format!("dial tcp {ip}:{}: connect: connection refused", port(t))
    } else if probe.get("exec").is_some() {
        "command failed with a non-zero exit code".to_string()
    } else {
        "probe failed".to_string()
    }
}

/// Runs the startup and liveness probes of running app container `i` when due; returns
/// false when the container must not be considered for readiness (not started yet, or
/// being killed).
pub(super) fn startup_and_liveness(
    w: &mut World<'_>,
    key: &ObjKey,
    pod: &Value,
    rt: &mut PodRt,
    i: usize,
) -> bool {
    let CState::Running { since } = rt.app[i].state else {
        return false;
    };
    if rt.app[i].probes.killing {
        return false;
    }
    let (kind, spec) = if rt.app[i].probes.started {
        match rt.app[i].spec.get("livenessProbe") {
            Some(p) => ("Liveness", p.clone()),
            None => return true,
        }
    } else {
        match rt.app[i].spec.get("startupProbe") {
            Some(p) => ("Startup", p.clone()),
            None => return true,
        }
    };
    let first = after(
        since,
        Duration::from_secs(secs(&spec, "initialDelaySeconds", 0)),
    );
    let due = rt.app[i].probes.next.unwrap_or(first);
    if due > w.now {
        w.at_instant(due, Timer::Work(Work::Pod(key.clone())));
        return rt.app[i].probes.started;
    }
    let period = Duration::from_secs(secs(&spec, "periodSeconds", 10).max(1));
    let threshold = secs(&spec, "failureThreshold", 3).max(1) as u32;
    let id = cid(key, rt, false, i);
    let ok = w.runtime.probe(&id, &spec);
    let next = after(w.now, period);
    let c = &mut rt.app[i];
    c.probes.next = Some(next);
    let failures = if kind == "Startup" {
        &mut c.probes.startup_failures
    } else {
        &mut c.probes.live_failures
    };
    if ok {
        *failures = 0;
        if kind == "Startup" {
            c.probes.started = true;
            c.probes.next = None;
            let name = c.name.clone();
            w.trace(|| format!("startup {}/{}/{name} passed", key.0, key.1));
            // Liveness starts counting now.
            return startup_and_liveness(w, key, pod, rt, i);
        }
        w.at_instant(next, Timer::Work(Work::Pod(key.clone())));
        return true;
    }
    *failures += 1;
    let failed = *failures;
    let name = c.name.clone();
    let ip = rt.ip.as_ref().map(|x| x.0.clone()).unwrap_or_default();
    w.event(
        pod,
        true,
        "Unhealthy",
        format!("{kind} probe failed: {}", failure_message(&spec, &ip)),
        "kubelet",
    );
    if failed < threshold {
        w.at_instant(next, Timer::Work(Work::Pod(key.clone())));
        return rt.app[i].probes.started;
    }
    rt.app[i].probes.killing = true;
    let grace = Duration::from_secs(
        pod.ptr("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_u64)
            .unwrap_or(30),
    );
    let what = if kind == "Startup" {
        "startup"
    } else {
        "liveness"
    };
    w.event(
        pod,
        false,
        "Killing",
        format!("Container {name} failed {what} probe, will be restarted"),
        "kubelet",
    );
    w.trace(|| format!("{what}-kill {}/{}/{name}", key.0, key.1));
    let took = w.runtime.stop(&id, &rt.app[i].spec, grace);
    let (delay, code) = if took >= grace {
        (grace, 137)
    } else {
        (took, 143)
    };
    w.at(
        delay,
        Timer::ContainerExit {
            pod: key.clone(),
            uid: rt.uid.clone(),
            init: false,
            index: i,
            instance: id.instance,
            code,
            reason: "Error",
        },
    );
    false
}

/// Runs the readiness probe of a running app container through the runtime; a failing
/// probe is retried every `periodSeconds` (default 10).
pub(super) fn readiness(w: &mut World<'_>, key: &ObjKey, rt: &mut PodRt, i: usize) {
    let Some(spec) = rt.app[i].spec.get("readinessProbe").cloned() else {
        return;
    };
    let id = cid(key, rt, false, i);
    let ok = w.runtime.probe(&id, &spec);
    if !ok {
        let period = secs(&spec, "periodSeconds", 10);
        w.at(
            Duration::from_secs(period.max(1)),
            Timer::Work(Work::Pod(key.clone())),
        );
    }
    if rt.app[i].probe_ok != ok {
        let name = rt.app[i].name.clone();
        w.trace(|| format!("readiness {}/{}/{name} {ok}", key.0, key.1));
    }
    rt.app[i].probe_ok = ok;
}
