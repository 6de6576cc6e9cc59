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
use crate::json_ptr::Ptr;
use crate::runtime::resources::Quantity;
use crate::store::{ObjKey, Part, WriteOptions, meta};

pub(crate) use super::sched_facts::NodeFacts;
use super::sched_facts::{PodDemand, misfit, requests};

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

/// What the scheduler remembers between reconciles.
#[derive(Debug, Default)]
pub(crate) struct SchedulerState {
    /// Pods that did not fit anywhere, retried on changes.
    pub unschedulable: BTreeSet<ObjKey>,
    /// Pods placed on nodes and what they use: key -> (node, cpu, mem).
    assigned: crate::lookup::LookupMap<ObjKey, (String, u64, u64)>,
    /// node -> (pods, cpu, mem).
    usage: BTreeMap<String, (u64, u64, u64)>,
}

impl SchedulerState {
    /// Counts a pod against its node (idempotent).
    pub fn assume(&mut self, key: &ObjKey, node: &str, pod: &Value) {
        let (cpu, mem) = requests(pod);
        self.assume_use(key, node, cpu, mem);
    }

    /// Counts a pod using `cpu` millicores and `mem` bytes against its node (idempotent).
    fn assume_use(&mut self, key: &ObjKey, node: &str, cpu: u64, mem: u64) {
        if self.assigned.contains_key(key) {
            return;
        }
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

/// The nodes a pod fits on with the fewest pods (their positions in `nodes`, in order), and
/// why the others do not fit (reason -> number of nodes). `usage` is by node name.
pub(crate) fn candidates(
    pod: &PodDemand<'_>,
    nodes: &BTreeMap<String, NodeFacts>,
    usage: &BTreeMap<String, (u64, u64, u64)>,
) -> (Vec<usize>, BTreeMap<&'static str, usize>) {
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut best: Vec<usize> = Vec::new();
    let mut best_load = u64::MAX;
    // Both maps are sorted by node name: walk them together instead of a lookup per node.
    let mut used = usage.iter().peekable();
    for (i, (name, facts)) in nodes.iter().enumerate() {
        while used.next_if(|(n, _)| n.as_str() < name.as_str()).is_some() {}
        let u = used
            .next_if(|(n, _)| *n == name)
            .map(|(_, u)| *u)
            .unwrap_or_default();
        match misfit(pod, facts, u) {
            Some(r) => *reasons.entry(r).or_default() += 1,
            None => {
                if u.0 < best_load {
                    best_load = u.0;
                    best.clear();
                }
                if u.0 == best_load {
                    best.push(i);
                }
            }
        }
    }
    (best, reasons)
}

/// A claim problem that keeps the pod off every node.
fn claim_problem(w: &World<'_>, pod: &Value) -> Option<String> {
    let ns = meta::namespace(pod);
    let cache = w.cache();
    for v in pod
        .ptr("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(claim) = v
            .ptr("/persistentVolumeClaim/claimName")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let Some(pvc) = cache.pvc.get(&(ns.to_string(), claim.to_string())) else {
            return Some(format!("persistentvolumeclaim \"{claim}\" not found"));
        };
        let bound = pvc.ptr("/status/phase").and_then(Value::as_str) == Some("Bound");
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
        .ptr("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let ours = pod
        .ptr("/spec/schedulerName")
        .and_then(Value::as_str)
        .is_none_or(|s| s == "default-scheduler");
    if bound || meta::is_deleting(&pod) || !ours {
        w.st.sched.unschedulable.remove(key);
        return;
    }
    let demand = PodDemand::of(&pod);
    let claim = claim_problem(w, &pod);
    let (best, reasons, node_count) = {
        let cache = w.cache();
        let (best, reasons) = if claim.is_none() {
            candidates(&demand, &cache.node_facts, &w.st.sched.usage)
        } else {
            (Vec::new(), BTreeMap::new())
        };
        (best, reasons, cache.node_facts.len())
    };
    // The tie break draws from the RNG, which the cache lock above keeps borrowed.
    let pick = (!best.is_empty())
        .then(|| best[(w.st.rng.next_u32() as usize) % best.len()])
        .and_then(|i| w.cache().node_facts.keys().nth(i).cloned());
    let Some(pick) = pick else {
        let msg = match claim {
            Some(c) => format!("0/{} nodes are available: {c}.", node_count),
            None => {
                let mut parts: Vec<String> =
                    reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
                parts.sort();
                format!(
                    "0/{} nodes are available: {}.",
                    node_count,
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
            .ptr("/status/conditions/0/message")
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
    };
    match w.store.bind_pod(&key.0, &key.1, &pick) {
        Ok(_) => {
            w.st.sched.unschedulable.remove(key);
            // Binding sets only spec.nodeName: the containers' requests are the pod's.
            w.st.sched.assume_use(key, &pick, demand.cpu, demand.mem);
            w.event(
                &pod,
                false,
                "Scheduled",
                format!("Successfully assigned {}/{} to {pick}", key.0, key.1),
                "default-scheduler",
            );
            // Claims waiting for their first consumer can now be provisioned.
            for v in pod
                .ptr("/spec/volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(c) = v
                    .ptr("/persistentVolumeClaim/claimName")
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
