//! The pod printer: READY, STATUS and RESTARTS computed from the pod's status exactly as the
//! API server's `printPod` does (`Init:1/2`, `Init:Error`, `Init:CrashLoopBackOff`,
//! `PodInitializing`, `CrashLoopBackOff`, `Completed`, `NotReady`, `Terminating`, ...).

use jiff::Timestamp;
use serde_json::Value;

use super::{Column, Printer, age, arr, col, i, name, s, timestamp, wide};

const COLUMNS: &[Column] = &[
    col("Name", "string", "Name must be unique within a namespace."),
    col(
        "Ready",
        "string",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    col(
        "Status",
        "string",
        "The aggregate status of the containers in this pod.",
    ),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    col(
        "Age",
        "string",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    ),
    wide("IP", "string", "The IP address assigned to the pod"),
    wide(
        "Node",
        "string",
        "The name of the node the pod is scheduled to",
    ),
    wide(
        "Nominated Node",
        "string",
        "The node the scheduler nominated for this pod",
    ),
    wide(
        "Readiness Gates",
        "string",
        "The readiness gates of the pod and how many are satisfied",
    ),
];

/// The pod printer.
pub const PRINTER: Printer = Printer {
    columns: COLUMNS,
    cells,
};

fn is_restartable_init(pod: &Value, container: &str) -> bool {
    arr(pod, "/spec/initContainers").iter().any(|c| {
        c.get("name").and_then(Value::as_str) == Some(container)
            && c.get("restartPolicy").and_then(Value::as_str) == Some("Always")
    })
}

fn condition_true(pod: &Value, ty: &str) -> bool {
    arr(pod, "/status/conditions").iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some(ty)
            && c.get("status").and_then(Value::as_str) == Some("True")
    })
}

fn has_condition(pod: &Value, ty: &str) -> bool {
    arr(pod, "/status/conditions")
        .iter()
        .any(|c| c.get("type").and_then(Value::as_str) == Some(ty))
}

/// The finish time of a container's last termination, if any.
fn last_terminated(cs: &Value) -> Option<Timestamp> {
    timestamp(cs.pointer("/lastState/terminated/finishedAt"))
}

fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn terminated_reason(term: &Value, prefix: &str) -> String {
    let reason = s(term, "/reason");
    if !reason.is_empty() {
        return format!("{prefix}{reason}");
    }
    let signal = i(term, "/signal");
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        format!("{prefix}ExitCode:{}", i(term, "/exitCode"))
    }
}

/// READY, STATUS, RESTARTS (count and time of the last restart) of a pod.
pub struct Summary {
    /// Ready containers.
    pub ready: usize,
    /// Containers counted (app containers plus restartable init containers).
    pub total: usize,
    /// The STATUS column.
    pub reason: String,
    /// Restarts counted.
    pub restarts: i64,
    /// When the last counted restart happened.
    pub last_restart: Option<Timestamp>,
}

/// Computes the pod's summary like `printPod`.
pub fn summarize(pod: &Value) -> Summary {
    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    let mut ready = 0;
    let mut last_restart = None;
    let mut last_sidecar_restart = None;
    let mut total = arr(pod, "/spec/containers").len();
    let phase = s(pod, "/status/phase");
    let mut reason = match s(pod, "/status/reason") {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    if arr(pod, "/status/conditions").iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some("PodScheduled")
            && c.get("reason").and_then(Value::as_str) == Some("SchedulingGated")
    }) {
        reason = "SchedulingGated".into();
    }
    let init_specs = arr(pod, "/spec/initContainers");
    total += init_specs
        .iter()
        .filter(|c| c.get("restartPolicy").and_then(Value::as_str) == Some("Always"))
        .count();

    let mut initializing = false;
    for (idx, cs) in arr(pod, "/status/initContainerStatuses").iter().enumerate() {
        let cname = s(cs, "/name");
        let restartable = is_restartable_init(pod, cname);
        restarts += i(cs, "/restartCount");
        last_restart = later(last_restart, last_terminated(cs));
        if restartable {
            sidecar_restarts += i(cs, "/restartCount");
            last_sidecar_restart = later(last_sidecar_restart, last_terminated(cs));
        }
        let terminated = cs.pointer("/state/terminated");
        let waiting_reason = s(cs, "/state/waiting/reason");
        if terminated.is_some_and(|t| i(t, "/exitCode") == 0) {
            continue;
        }
        if restartable && cs.get("started").and_then(Value::as_bool) == Some(true) {
            if cs.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            reason = terminated_reason(t, "Init:");
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{idx}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for cs in arr(pod, "/status/containerStatuses").iter().rev() {
            restarts += i(cs, "/restartCount");
            last_restart = later(last_restart, last_terminated(cs));
            let waiting = s(cs, "/state/waiting/reason");
            let terminated = cs.pointer("/state/terminated");
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = terminated {
                reason = terminated_reason(t, "");
            } else if cs.get("ready").and_then(Value::as_bool) == Some(true)
                && cs.pointer("/state/running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if has_condition(pod, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    let deleting = pod.pointer("/metadata/deletionTimestamp").is_some();
    if deleting && s(pod, "/status/reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && !matches!(phase, "Succeeded" | "Failed") {
        reason = "Terminating".into();
    }
    Summary {
        ready,
        total,
        reason,
        restarts,
        last_restart,
    }
}

fn cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let sum = summarize(pod);
    let restarts = match sum.last_restart {
        Some(t) if sum.restarts != 0 => format!(
            "{} ({} ago)",
            sum.restarts,
            super::human_duration(now.as_second() - t.as_second())
        ),
        _ => sum.restarts.to_string(),
    };
    let none = |v: &str| {
        if v.is_empty() {
            "<none>".to_string()
        } else {
            v.to_string()
        }
    };
    let ip = arr(pod, "/status/podIPs")
        .first()
        .map(|p| s(p, "/ip"))
        .unwrap_or_default();
    let gates = arr(pod, "/spec/readinessGates");
    let gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let ok = gates
            .iter()
            .filter(|g| condition_true(pod, s(g, "/conditionType")))
            .count();
        format!("{ok}/{}", gates.len())
    };
    vec![
        name(pod),
        Value::String(format!("{}/{}", sum.ready, sum.total)),
        Value::String(sum.reason),
        Value::String(restarts),
        age(pod, now),
        Value::String(none(ip)),
        Value::String(none(s(pod, "/spec/nodeName"))),
        Value::String(none(s(pod, "/status/nominatedNodeName"))),
        Value::String(gates),
    ]
}
