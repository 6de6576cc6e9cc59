//! What the workload controllers read of a pod they own, taken from its JSON once per change.
//!
//! A ReplicaSet reconcile counts and ranks every pod it owns, and with thousands of pods it
//! runs many times while they start. Reading phase, conditions and restart counts out of each
//! pod's JSON on every pass cost more than the rest of the reconcile; the cache's store hook
//! extracts them here when the pod changes, and the controller reads these few fields.

use std::sync::Arc;

use serde_json::Value;

use super::{pod_ready_since, pod_terminal};
use crate::json_ptr::Ptr;
use crate::store::meta;

/// The facts of one pod a controller needs for counting, availability and deletion order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFacts {
    /// `metadata.labels` sorted by key (string values only), matched against the owner's
    /// selector and template labels without walking the pod's JSON maps.
    pub labels: Box<[(Box<str>, Box<str>)]>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// Phase Succeeded or Failed.
    pub terminal: bool,
    /// Since when the Ready condition has been True (None: not Ready).
    pub ready_since: Option<jiff::Timestamp>,
    /// Bound to a node.
    pub scheduled: bool,
    /// Phase Running.
    pub running: bool,
    /// Restarts summed over the app containers.
    pub restarts: i64,
}

impl PodFacts {
    /// Reads the facts out of a pod object.
    pub fn of(pod: &Value) -> Self {
        let status = pod.get("status");
        let phase = status.and_then(|s| s.get("phase")).and_then(Value::as_str);
        let mut labels: Vec<(Box<str>, Box<str>)> = pod
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str().into(), v.as_str()?.into())))
                    .collect()
            })
            .unwrap_or_default();
        labels.sort_unstable();
        Self {
            labels: labels.into_boxed_slice(),
            deleting: meta::is_deleting(pod),
            terminal: pod_terminal(pod),
            ready_since: pod_ready_since(pod),
            scheduled: pod
                .ptr("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty()),
            running: phase == Some("Running"),
            restarts: status
                .and_then(|s| s.get("containerStatuses"))
                .and_then(Value::as_array)
                .map_or(0, |cs| {
                    cs.iter()
                        .filter_map(|c| c.get("restartCount")?.as_i64())
                        .sum()
                }),
        }
    }

    /// Whether the pod carries every label of `want` with the same value.
    pub fn has_labels(&self, want: &serde_json::Map<String, Value>) -> bool {
        want.iter().all(|(k, v)| {
            self.labels
                .binary_search_by(|(lk, _)| (**lk).cmp(k.as_str()))
                .is_ok_and(|i| v.as_str() == Some(&*self.labels[i].1))
        })
    }

    /// Counts toward replicas: neither being deleted nor finished.
    pub fn active(&self) -> bool {
        !self.deleting && !self.terminal
    }

    /// The Ready condition is True.
    pub fn ready(&self) -> bool {
        self.ready_since.is_some()
    }

    /// Ready for at least `min_ready` seconds at `now` (just Ready when `min_ready` <= 0).
    pub fn available(&self, min_ready: i64, now: jiff::Timestamp) -> bool {
        match self.ready_since {
            Some(since) if min_ready > 0 => {
                crate::clock::after(
                    since,
                    std::time::Duration::from_secs(min_ready.unsigned_abs()),
                ) <= now
            }
            Some(_) => true,
            None => false,
        }
    }
}

/// A pod in the cache's by-owner index, with its facts.
#[derive(Debug, Clone)]
pub struct OwnedPod {
    /// The pod as stored.
    pub pod: Arc<Value>,
    /// What was read of it when it was stored.
    pub facts: PodFacts,
}

impl OwnedPod {
    /// Pairs a stored pod with its facts.
    pub fn new(pod: Arc<Value>) -> Self {
        let facts = PodFacts::of(&pod);
        Self { pod, facts }
    }

    /// Sort key for scale-down, lower goes first: unscheduled, then pending, then not
    /// ready, then more restarts, then newer (the ReplicaSet controller's order).
    pub fn deletion_rank(&self) -> (u8, u8, u8, i64, std::cmp::Reverse<(&str, &str)>) {
        let f = &self.facts;
        (
            u8::from(f.scheduled),
            u8::from(f.running),
            u8::from(f.ready()),
            -f.restarts,
            std::cmp::Reverse((
                meta::meta_str(&self.pod, "creationTimestamp"),
                meta::name(&self.pod),
            )),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn facts_follow_the_pod_json() {
        let pod = json!({
            "metadata": {"name": "p", "deletionTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True",
                    "lastTransitionTime": "2024-01-01T00:00:10Z"}],
                "containerStatuses": [{"restartCount": 2}, {"restartCount": 3}]},
        });
        let f = PodFacts::of(&pod);
        assert!(f.labels.is_empty());
        assert!(f.deleting && !f.terminal && !f.active());
        assert!(f.scheduled && f.running && f.ready());
        assert_eq!(f.restarts, 5);
        let t = |s: &str| s.parse::<jiff::Timestamp>().expect("ts");
        assert!(!f.available(30, t("2024-01-01T00:00:39Z")));
        assert!(f.available(30, t("2024-01-01T00:00:40Z")));
        let pending =
            PodFacts::of(&json!({"metadata": {"name": "q"}, "status": {"phase": "Failed"}}));
        assert!(pending.terminal && !pending.scheduled && !pending.ready());
        assert!(!pending.available(0, t("2024-01-01T00:00:40Z")));
    }

    #[test]
    fn labels_are_matched_like_the_json_map() {
        let pod = json!({"metadata": {"name": "p",
            "labels": {"tier": "web", "app": "big", "n": "1"}}});
        let f = PodFacts::of(&pod);
        let map = |v: Value| v.as_object().cloned().expect("map");
        assert!(f.has_labels(&map(json!({"app": "big", "tier": "web"}))));
        assert!(!f.has_labels(&map(json!({"app": "big", "tier": "db"}))));
        assert!(!f.has_labels(&map(json!({"zone": "a"}))));
        for sel in [
            "app=big",
            "app in (big,small),tier",
            "!zone",
            "app!=small",
            "n notin (2)",
            "app=small",
            "zone",
            "tier notin (web)",
        ] {
            let s = crate::store::LabelSelector::parse(sel).expect("selector");
            assert_eq!(s.matches_sorted(&f.labels), s.matches(&pod), "{sel}");
        }
    }

    #[test]
    fn deletion_rank_puts_the_least_valuable_first() {
        let pod = |name: &str, node: &str, phase: &str, created: &str| {
            OwnedPod::new(Arc::new(json!({
                "metadata": {"name": name, "creationTimestamp": created},
                "spec": {"nodeName": node}, "status": {"phase": phase}})))
        };
        let mut pods = [
            pod("old-running", "n", "Running", "2024-01-01T00:00:00Z"),
            pod("unscheduled", "", "Pending", "2024-01-01T00:00:00Z"),
            pod("pending", "n", "Pending", "2024-01-01T00:00:00Z"),
            pod("new-running", "n", "Running", "2024-01-01T00:00:05Z"),
        ];
        pods.sort_by(|a, b| a.deletion_rank().cmp(&b.deletion_rank()));
        let order: Vec<&str> = pods.iter().map(|p| meta::name(&p.pod)).collect();
        assert_eq!(
            order,
            ["unscheduled", "pending", "new-running", "old-running"]
        );
    }
}
