//! The scheduler: filters nodes (Ready, schedulable, taints, nodeSelector, pod count,
//! requested CPU and memory, claims), picks the least loaded, breaks ties with the seeded
//! RNG, and binds through the `binding` path. A pod that fits nowhere gets
//! `PodScheduled=False` with reason `Unschedulable` and a `FailedScheduling` event, and is
//! retried whenever nodes, claims or capacity change.

use std::collections::{BTreeMap, BTreeSet};

use rand::RngCore;
use serde_json::{Value, json};

use crate::cluster::World;
use crate::controllers::cache::Work;
use crate::runtime::resources::Quantity;
use crate::store::{ObjKey, Part, WriteOptions, meta};

/// Resources a pod asks for: (CPU millicores, memory bytes).
fn requests(pod: &Value) -> (u64, u64) {
    let mut cpu = 0;
    let mut mem = 0;
    for c in pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = c.pointer("/resources/requests") {
            cpu += r.get("cpu").and_then(quantity_milli).unwrap_or(0);
            mem += r.get("memory").and_then(quantity_milli).unwrap_or(0) / 1000;
        }
    }
    (cpu, mem)
}

/// Parses a resource quantity into thousandths of its unit (`"100m"` -> 100, `"1Gi"` ->
/// 1024^3 * 1000), exactly, with the runtime's quantity parser; `None` for what does not parse
/// or is negative.
pub fn quantity_milli(v: &Value) -> Option<u64> {
    let q = match v {
        Value::String(s) => Quantity::parse(s),
        Value::Number(n) => Quantity::parse(&n.to_string()),
        _ => return None,
    };
    u64::try_from(q.ok()?.milli_value()).ok()
}

/// What the scheduler needs of a node, parsed once per node version.
#[derive(Debug, Clone)]
struct NodeFacts {
    rv: String,
    ready: bool,
    unschedulable: bool,
    taints: Vec<Value>,
    labels: serde_json::Map<String, Value>,
    pods: Option<u64>,
    cpu: Option<u64>,
    mem: Option<u64>,
}

impl NodeFacts {
    fn of(node: &Value) -> Self {
        let alloc = |r: &str| {
            node.get("status")
                .and_then(|s| s.get("allocatable"))
                .and_then(|a| a.get(r))
                .and_then(quantity_milli)
        };
        Self {
            rv: meta::resource_version(node).to_string(),
            ready: node_ready(node),
            unschedulable: node.pointer("/spec/unschedulable").and_then(Value::as_bool)
                == Some(true),
            taints: node
                .pointer("/spec/taints")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            labels: node
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            pods: alloc("pods"),
            cpu: alloc("cpu"),
            mem: alloc("memory"),
        }
    }
}

/// What the scheduler remembers between reconciles.
#[derive(Debug, Default)]
pub(crate) struct SchedulerState {
    /// Parsed node facts by node name.
    facts: BTreeMap<String, NodeFacts>,
    /// Pods that did not fit anywhere, retried on changes.
    pub unschedulable: BTreeSet<ObjKey>,
    /// Pods placed on nodes and what they use: key -> (node, cpu, mem).
    assigned: BTreeMap<ObjKey, (String, u64, u64)>,
    /// node -> (pods, cpu, mem).
    usage: BTreeMap<String, (u64, u64, u64)>,
}

impl SchedulerState {
    /// Counts a pod against its node (idempotent).
    pub fn assume(&mut self, key: &ObjKey, node: &str, pod: &Value) {
        if self.assigned.contains_key(key) {
            return;
        }
        let (cpu, mem) = requests(pod);
        self.assigned
            .insert(key.clone(), (node.to_string(), cpu, mem));
        let u = self.usage.entry(node.to_string()).or_default();
        u.0 += 1;
        u.1 += cpu;
        u.2 += mem;
    }

    /// Releases what a pod used.
    pub fn forget(&mut self, key: &ObjKey) {
        self.unschedulable.remove(key);
        if let Some((node, cpu, mem)) = self.assigned.remove(key)
            && let Some(u) = self.usage.get_mut(&node)
        {
            u.0 = u.0.saturating_sub(1);
            u.1 = u.1.saturating_sub(cpu);
            u.2 = u.2.saturating_sub(mem);
        }
    }
}

fn node_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

fn tolerates(pod: &Value, taint: &Value) -> bool {
    let key = taint.get("key").and_then(Value::as_str).unwrap_or_default();
    let effect = taint
        .get("effect")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = taint
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    pod.pointer("/spec/tolerations")
        .and_then(Value::as_array)
        .is_some_and(|ts| {
            ts.iter().any(|t| {
                let tk = t.get("key").and_then(Value::as_str).unwrap_or_default();
                let te = t.get("effect").and_then(Value::as_str).unwrap_or_default();
                let op = t.get("operator").and_then(Value::as_str).unwrap_or("Equal");
                let tv = t.get("value").and_then(Value::as_str).unwrap_or_default();
                (tk.is_empty() && op == "Exists" || tk == key)
                    && (te.is_empty() || te == effect)
                    && (op == "Exists" || tv == value)
            })
        })
}

/// Why a node does not fit a pod, or `None` when it does.
fn misfit(
    pod: &Value,
    node: &NodeFacts,
    usage: (u64, u64, u64),
    req: (u64, u64),
) -> Option<&'static str> {
    if !node.ready {
        return Some("node(s) were not ready");
    }
    if node.unschedulable {
        return Some("node(s) were unschedulable");
    }
    if node.taints.iter().any(|t| {
        matches!(
            t.get("effect").and_then(Value::as_str),
            Some("NoSchedule" | "NoExecute")
        ) && !tolerates(pod, t)
    }) {
        return Some("node(s) had untolerated taint(s)");
    }
    if let Some(sel) = pod.pointer("/spec/nodeSelector").and_then(Value::as_object)
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
        && usage.1 + req.0 > cpu
    {
        return Some("Insufficient cpu");
    }
    if let Some(mem) = node.mem
        && (usage.2 + req.1) * 1000 > mem
    {
        return Some("Insufficient memory");
    }
    None
}

/// A claim problem that keeps the pod off every node.
fn claim_problem(w: &World<'_>, pod: &Value) -> Option<String> {
    let ns = meta::namespace(pod);
    let cache = w.cache();
    for v in pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(claim) = v
            .pointer("/persistentVolumeClaim/claimName")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let Some(pvc) = cache.pvc.get(&(ns.to_string(), claim.to_string())) else {
            return Some(format!("persistentvolumeclaim \"{claim}\" not found"));
        };
        let bound = pvc.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
        if !bound && !crate::controllers::volumes::waits_for_consumer(&cache, pvc) {
            return Some("pod has unbound immediate PersistentVolumeClaims".into());
        }
    }
    None
}

/// Places one pending pod.
pub(crate) fn schedule(w: &mut World<'_>, key: &ObjKey) {
    let pod = w.cache().pods.get(key).cloned();
    let Some(pod) = pod else {
        w.st.sched.unschedulable.remove(key);
        return;
    };
    let bound = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let ours = pod
        .pointer("/spec/schedulerName")
        .and_then(Value::as_str)
        .is_none_or(|s| s == "default-scheduler");
    if bound || meta::is_deleting(&pod) || !ours {
        w.st.sched.unschedulable.remove(key);
        return;
    }
    let nodes: Vec<(String, std::sync::Arc<Value>)> = w
        .cache()
        .nodes
        .iter()
        .map(|(k, v)| (k.1.clone(), v.clone()))
        .collect();
    let req = requests(&pod);
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut best: Vec<String> = Vec::new();
    let mut best_load = u64::MAX;
    let claim = claim_problem(w, &pod);
    if claim.is_none() {
        for (name, node) in &nodes {
            let usage = w.st.sched.usage.get(name).copied().unwrap_or_default();
            let fresh =
                w.st.sched
                    .facts
                    .get(name)
                    .is_some_and(|f| f.rv == meta::resource_version(node));
            if !fresh {
                w.st.sched.facts.insert(name.clone(), NodeFacts::of(node));
            }
            let Some(facts) = w.st.sched.facts.get(name) else {
                continue;
            };
            match misfit(&pod, facts, usage, req) {
                Some(r) => *reasons.entry(r).or_default() += 1,
                None => {
                    if usage.0 < best_load {
                        best_load = usage.0;
                        best.clear();
                    }
                    if usage.0 == best_load {
                        best.push(name.clone());
                    }
                }
            }
        }
    }
    if best.is_empty() {
        let msg = match claim {
            Some(c) => format!("0/{} nodes are available: {c}.", nodes.len()),
            None => {
                let mut parts: Vec<String> =
                    reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
                parts.sort();
                format!(
                    "0/{} nodes are available: {}.",
                    nodes.len(),
                    if parts.is_empty() {
                        "no nodes registered".to_string()
                    } else {
                        parts.join(", ")
                    }
                )
            }
        };
        let first = w.st.sched.unschedulable.insert(key.clone());
        let cond = json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": msg, "lastProbeTime": null, "lastTransitionTime": crate::clock::rfc3339(w.now)}]);
        let same = pod
            .pointer("/status/conditions/0/message")
            .and_then(Value::as_str)
            == Some(msg.as_str());
        if first || !same {
            w.event(&pod, true, "FailedScheduling", msg, "default-scheduler");
            if let Some(tid) = w.kinds.pod {
                let mut obj = (*pod).clone();
                obj["status"]["conditions"] = cond;
                let _ = w.store.update(
                    tid,
                    &key.0,
                    &key.1,
                    obj,
                    Part::Status,
                    &WriteOptions::default(),
                );
            }
        }
        return;
    }
    let pick = best[(w.st.rng.next_u32() as usize) % best.len()].clone();
    match w.store.bind_pod(&key.0, &key.1, &pick) {
        Ok(bound) => {
            w.st.sched.unschedulable.remove(key);
            w.st.sched.assume(key, &pick, &bound);
            w.event(
                &pod,
                false,
                "Scheduled",
                format!("Successfully assigned {}/{} to {pick}", key.0, key.1),
                "default-scheduler",
            );
            // Claims waiting for their first consumer can now be provisioned.
            for v in pod
                .pointer("/spec/volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(c) = v
                    .pointer("/persistentVolumeClaim/claimName")
                    .and_then(Value::as_str)
                {
                    w.enqueue(Work::Claim((key.0.clone(), c.to_string())));
                }
            }
        }
        Err(e) => tracing::debug!(pod = %key.1, error = %e.message, "binding failed"),
    }
}

/// Retries every pod that did not fit.
pub(crate) fn reschedule(w: &mut World<'_>) {
    let keys: Vec<ObjKey> = w.st.sched.unschedulable.iter().cloned().collect();
    for k in keys {
        schedule(w, &k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(quantity_milli(&json!("100m")), Some(100));
        assert_eq!(quantity_milli(&json!("2")), Some(2000));
        assert_eq!(quantity_milli(&json!(1)), Some(1000));
        assert_eq!(quantity_milli(&json!("1Ki")), Some(1_024_000));
        assert_eq!(quantity_milli(&json!("110")), Some(110_000));
        assert_eq!(quantity_milli(&json!("x")), None);
        // Exact decimal arithmetic: 4.35 * 1000 in floating point is 4349.999...
        assert_eq!(quantity_milli(&json!("4.35")), Some(4350));
        assert_eq!(quantity_milli(&json!(4.35)), Some(4350));
        assert_eq!(quantity_milli(&json!("-1")), None);
    }
}
