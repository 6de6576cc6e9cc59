//! What the scheduler reads of nodes and pods, taken out of their JSON once.
//!
//! A scheduling pass checks one pod against every node. Reading a node's readiness, taints,
//! labels and allocatable resources (and the pod's nodeSelector and tolerations) through
//! JSON pointers on each of those checks cost more than the rest of the pass, so node facts
//! are extracted by the cache's store hook when a node changes ([`NodeFacts`]) and pod
//! demands once per scheduling attempt ([`PodDemand`]); the filter is then comparisons over
//! these fields ([`misfit`]).

use serde_json::Value;

use super::scheduler::quantity_milli;
use crate::json_ptr::Ptr;

/// A taint that keeps pods off a node (effect `NoSchedule` or `NoExecute`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Taint {
    key: String,
    effect: String,
    value: String,
}

/// What the scheduler needs of a node, parsed once per node version.
#[derive(Debug, Clone)]
pub(crate) struct NodeFacts {
    ready: bool,
    unschedulable: bool,
    /// Only the taints whose effect repels pods; the others never filter.
    taints: Vec<Taint>,
    labels: serde_json::Map<String, Value>,
    /// Allocatable pods, CPU and memory, in thousandths of their unit.
    pods: Option<u64>,
    cpu: Option<u64>,
    mem: Option<u64>,
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

impl NodeFacts {
    /// Reads the facts out of a node object.
    pub(crate) fn of(node: &Value) -> Self {
        let alloc = |r: &str| {
            node.get("status")
                .and_then(|s| s.get("allocatable"))
                .and_then(|a| a.get(r))
                .and_then(quantity_milli)
        };
        let spec = node.get("spec");
        Self {
            ready: node
                .ptr("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.get("type").and_then(Value::as_str) == Some("Ready")
                            && c.get("status").and_then(Value::as_str) == Some("True")
                    })
                }),
            unschedulable: spec
                .and_then(|s| s.get("unschedulable"))
                .and_then(Value::as_bool)
                == Some(true),
            taints: spec
                .and_then(|s| s.get("taints"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|t| {
                    matches!(
                        t.get("effect").and_then(Value::as_str),
                        Some("NoSchedule" | "NoExecute")
                    )
                })
                .map(|t| Taint {
                    key: str_of(t, "key").to_string(),
                    effect: str_of(t, "effect").to_string(),
                    value: str_of(t, "value").to_string(),
                })
                .collect(),
            labels: node
                .ptr("/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            pods: alloc("pods"),
            cpu: alloc("cpu"),
            mem: alloc("memory"),
        }
    }
}

/// One toleration of a pod, with the API's defaults (operator `Equal`, empty strings).
#[derive(Debug, Clone, Copy)]
struct Toleration<'a> {
    key: &'a str,
    effect: &'a str,
    exists: bool,
    value: &'a str,
}

impl Toleration<'_> {
    fn tolerates(&self, t: &Taint) -> bool {
        (self.key.is_empty() && self.exists || self.key == t.key)
            && (self.effect.is_empty() || self.effect == t.effect)
            && (self.exists || self.value == t.value)
    }
}

/// What a pod asks of a node, read once per scheduling attempt.
#[derive(Debug, Clone)]
pub(crate) struct PodDemand<'a> {
    /// Requested CPU in millicores, summed over the app containers.
    pub cpu: u64,
    /// Requested memory in bytes, summed over the app containers.
    pub mem: u64,
    tolerations: Vec<Toleration<'a>>,
    selector: Option<&'a serde_json::Map<String, Value>>,
}

impl<'a> PodDemand<'a> {
    /// Reads the demand out of a pod object.
    pub(crate) fn of(pod: &'a Value) -> Self {
        let (cpu, mem) = requests(pod);
        let spec = pod.get("spec");
        Self {
            cpu,
            mem,
            tolerations: spec
                .and_then(|s| s.get("tolerations"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|t| Toleration {
                    key: str_of(t, "key"),
                    effect: str_of(t, "effect"),
                    exists: t.get("operator").and_then(Value::as_str) == Some("Exists"),
                    value: str_of(t, "value"),
                })
                .collect(),
            selector: spec
                .and_then(|s| s.get("nodeSelector"))
                .and_then(Value::as_object),
        }
    }
}

/// Resources a pod asks for: (CPU millicores, memory bytes).
pub(crate) fn requests(pod: &Value) -> (u64, u64) {
    let mut cpu = 0;
    let mut mem = 0;
    for c in pod
        .get("spec")
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = c.get("resources").and_then(|r| r.get("requests")) {
            cpu += r.get("cpu").and_then(quantity_milli).unwrap_or(0);
            mem += r.get("memory").and_then(quantity_milli).unwrap_or(0) / 1000;
        }
    }
    (cpu, mem)
}

/// Why a node does not fit a pod, or `None` when it does; `usage` is what the pods already
/// on the node use: (pods, CPU millicores, memory bytes).
pub(crate) fn misfit(
    pod: &PodDemand<'_>,
    node: &NodeFacts,
    usage: (u64, u64, u64),
) -> Option<&'static str> {
    if !node.ready {
        return Some("node(s) were not ready");
    }
    if node.unschedulable {
        return Some("node(s) were unschedulable");
    }
    if node
        .taints
        .iter()
        .any(|t| !pod.tolerations.iter().any(|tol| tol.tolerates(t)))
    {
        return Some("node(s) had untolerated taint(s)");
    }
    if let Some(sel) = pod.selector
        && !sel.iter().all(|(k, v)| node.labels.get(k) == Some(v))
    {
        return Some("node(s) didn't match Pod's node affinity/selector");
    }
    if let Some(pods) = node.pods
        && usage.0 * 1000 >= pods
    {
        return Some("Too many pods");
    }
    if let Some(cpu) = node.cpu
        && usage.1 + pod.cpu > cpu
    {
        return Some("Insufficient cpu");
    }
    if let Some(mem) = node.mem
        && (usage.2 + pod.mem) * 1000 > mem
    {
        return Some("Insufficient memory");
    }
    None
}

#[cfg(test)]
#[path = "sched_facts_tests.rs"]
mod tests;
