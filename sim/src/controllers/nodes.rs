//! Node lifecycle: a node whose kubelet stops reporting becomes `Ready=Unknown` after the
//! monitor grace period (40 s) and gets the `unreachable` taints; its pods turn unready; after
//! the eviction timeout (300 s, the default toleration) they are deleted. They stay
//! Terminating until the node returns, as on a real cluster, while their controllers create
//! replacements elsewhere; bare pods are not replaced. A node coming back is Ready again and
//! its kubelet finishes what was pending.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Timer, World};
use crate::controllers::cache::{Cache, Work};
use crate::json_ptr::Ptr;
use crate::store::{DeleteOptions, Part, WriteOptions, meta};

/// How long a silent node stays Ready (`node-monitor-grace-period`).
pub const MONITOR_GRACE: Duration = Duration::from_secs(40);
/// How long pods tolerate an unreachable node (`default-unreachable-toleration-seconds`).
pub const EVICTION_TIMEOUT: Duration = Duration::from_secs(300);

const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

fn set_ready(w: &mut World<'_>, node: &str, ready: bool) {
    let Some(tid) = w.kinds.node else { return };
    let Ok(cur) = w.store.get(tid, "", node) else {
        return;
    };
    let now = crate::clock::rfc3339(w.now);
    let mut o = (*cur).clone();
    let (status, reason, msg) = if ready {
        ("True", "KubeletReady", "kubelet is posting ready status")
    } else {
        (
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        )
    };
    if let Some(cs) = o
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        for c in cs.iter_mut() {
            if c.get("type").and_then(Value::as_str) == Some("Ready") {
                *c = json!({"type": "Ready", "status": status, "reason": reason, "message": msg,
                    "lastHeartbeatTime": c.get("lastHeartbeatTime").cloned().unwrap_or(json!(now)), "lastTransitionTime": now});
            }
        }
    }
    let Ok(updated) = w
        .store
        .update(tid, "", node, o, Part::Status, &WriteOptions::default())
    else {
        return;
    };
    let mut o = (*updated).clone();
    let mut taints: Vec<Value> = o
        .ptr("/spec/taints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    taints.retain(|t| t.get("key").and_then(Value::as_str) != Some(UNREACHABLE));
    if !ready {
        taints.push(json!({"key": UNREACHABLE, "effect": "NoSchedule", "timeAdded": now}));
        taints.push(json!({"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": now}));
    }
    if taints.is_empty() {
        if let Some(s) = o.get_mut("spec").and_then(Value::as_object_mut) {
            s.remove("taints");
        }
    } else {
        o["spec"]["taints"] = json!(taints);
    }
    let _ = w
        .store
        .update(tid, "", node, o, Part::Main, &WriteOptions::default());
    w.event(
        &updated,
        !ready,
        if ready { "NodeReady" } else { "NodeNotReady" },
        format!(
            "Node {node} status is now: {}",
            if ready { "NodeReady" } else { "NodeNotReady" }
        ),
        "node-controller",
    );
}

/// The kubelet on `node` stops (fault).
pub(crate) fn down(w: &mut World<'_>, node: &str) {
    let n = w.st.kubelet.node(node);
    if !n.up {
        return;
    }
    n.up = false;
    n.epoch += 1;
    let epoch = n.epoch;
    w.at(
        MONITOR_GRACE,
        Timer::NodeMonitor {
            node: node.to_string(),
            epoch,
        },
    );
}

/// The kubelet on `node` comes back (fault).
pub(crate) fn up(w: &mut World<'_>, node: &str) {
    let n = w.st.kubelet.node(node);
    if n.up {
        return;
    }
    n.up = true;
    n.epoch += 1;
    set_ready(w, node, true);
    // In key order: the kubelet's map is walked in hash order.
    let mut keys: Vec<_> =
        w.st.kubelet
            .pods
            .iter()
            .filter(|(_, p)| p.node == node)
            .map(|(k, _)| k.clone())
            .collect();
    keys.sort();
    for k in keys {
        w.enqueue(Work::Pod(k));
    }
    let bound: Vec<_> = Cache::in_ns_all(&w.cache().pods, node);
    for k in bound {
        w.enqueue(Work::Pod(k));
    }
}

/// The node controller notices the silence (timer).
pub(crate) fn monitor(w: &mut World<'_>, node: &str, epoch: u64) {
    if w.st.kubelet.node(node).epoch != epoch {
        return;
    }
    set_ready(w, node, false);
    // Pods on the node are no longer ready.
    let pods: Vec<_> = w
        .cache()
        .pods
        .values()
        .filter(|p| {
            p.ptr("/spec/nodeName").and_then(Value::as_str) == Some(node) && !meta::is_deleting(p)
        })
        .cloned()
        .collect();
    let now = crate::clock::rfc3339(w.now);
    for p in pods {
        let mut o = (*p).clone();
        if let Some(cs) = o
            .pointer_mut("/status/conditions")
            .and_then(Value::as_array_mut)
        {
            for c in cs.iter_mut() {
                if c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
                {
                    *c = json!({"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": now, "reason": "NodeNotReady"});
                }
            }
        }
        if let Some(t) = w.kinds.pod {
            let _ = w.store.update(
                t,
                meta::namespace(&p),
                meta::name(&p),
                o,
                Part::Status,
                &WriteOptions::default(),
            );
        }
    }
    w.at(
        EVICTION_TIMEOUT,
        Timer::Evict {
            node: node.to_string(),
            epoch,
        },
    );
}

/// Pods on a still-unreachable node are evicted (timer).
pub(crate) fn evict(w: &mut World<'_>, node: &str, epoch: u64) {
    if w.st.kubelet.node(node).epoch != epoch {
        return;
    }
    let pods: Vec<_> = w
        .cache()
        .pods
        .values()
        .filter(|p| {
            p.ptr("/spec/nodeName").and_then(Value::as_str) == Some(node) && !meta::is_deleting(p)
        })
        .cloned()
        .collect();
    for p in pods {
        w.event(
            &p,
            false,
            "TaintManagerEviction",
            format!(
                "Marking for deletion Pod {}/{}",
                meta::namespace(&p),
                meta::name(&p)
            ),
            "taint-eviction-controller",
        );
        if let Some(t) = w.kinds.pod {
            let _ = w.store.delete(
                t,
                meta::namespace(&p),
                meta::name(&p),
                &DeleteOptions::default(),
            );
        }
    }
}

impl Cache {
    /// Keys of the pods bound to `node`.
    pub(crate) fn in_ns_all(
        pods: &crate::controllers::cache::Objects,
        node: &str,
    ) -> Vec<crate::store::ObjKey> {
        pods.iter()
            .filter(|(_, p)| p.ptr("/spec/nodeName").and_then(Value::as_str) == Some(node))
            .map(|(k, _)| k.clone())
            .collect()
    }
}
