//! The extracted facts decide as reading the JSON on each check did: a reference filter that
//! walks the node and pod objects (the scheduler's former code path) is compared with
//! [`misfit`] and [`candidates`](crate::kubelet::scheduler::candidates) over generated nodes
//! and pods.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::json_ptr::Ptr;
use crate::kubelet::scheduler::candidates;

/// The reference: a toleration check straight on the JSON.
fn ref_tolerates(pod: &Value, taint: &Value) -> bool {
    let key = taint.get("key").and_then(Value::as_str).unwrap_or_default();
    let effect = taint
        .get("effect")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = taint
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    pod.ptr("/spec/tolerations")
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

/// The reference filter: every field read through JSON pointers at the check.
fn ref_misfit(pod: &Value, node: &Value, usage: (u64, u64, u64)) -> Option<&'static str> {
    let req = requests(pod);
    let ready = node
        .ptr("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        });
    if !ready {
        return Some("node(s) were not ready");
    }
    if node.ptr("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        return Some("node(s) were unschedulable");
    }
    let taints = node
        .ptr("/spec/taints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if taints.iter().any(|t| {
        matches!(
            t.get("effect").and_then(Value::as_str),
            Some("NoSchedule" | "NoExecute")
        ) && !ref_tolerates(pod, t)
    }) {
        return Some("node(s) had untolerated taint(s)");
    }
    let labels = node
        .ptr("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(sel) = pod.ptr("/spec/nodeSelector").and_then(Value::as_object)
        && !sel.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return Some("node(s) didn't match Pod's node affinity/selector");
    }
    let alloc = |r: &str| {
        node.ptr(&format!("/status/allocatable/{r}"))
            .and_then(quantity_milli)
    };
    if let Some(pods) = alloc("pods")
        && usage.0 * 1000 >= pods
    {
        return Some("Too many pods");
    }
    if let Some(cpu) = alloc("cpu")
        && usage.1 + req.0 > cpu
    {
        return Some("Insufficient cpu");
    }
    if let Some(mem) = alloc("memory")
        && (usage.2 + req.1) * 1000 > mem
    {
        return Some("Insufficient memory");
    }
    None
}

/// A string field that may be absent.
fn maybe(
    field: &'static str,
    values: &'static [&'static str],
) -> BoxedStrategy<Option<(String, Value)>> {
    prop_oneof![
        Just(None),
        proptest::sample::select(values).prop_map(move |v| Some((field.to_string(), json!(v)))),
    ]
    .boxed()
}

fn object(fields: Vec<Option<(String, Value)>>) -> Value {
    Value::Object(fields.into_iter().flatten().collect::<Map<String, Value>>())
}

fn taint() -> impl Strategy<Value = Value> {
    (
        maybe("key", &["a", "b", ""]),
        maybe(
            "effect",
            &["NoSchedule", "NoExecute", "PreferNoSchedule", ""],
        ),
        maybe("value", &["x", "y", ""]),
    )
        .prop_map(|(k, e, v)| object(vec![k, e, v]))
}

fn toleration() -> impl Strategy<Value = Value> {
    (
        maybe("key", &["a", "b", ""]),
        maybe("operator", &["Exists", "Equal"]),
        maybe("effect", &["NoSchedule", "NoExecute", ""]),
        maybe("value", &["x", "y", ""]),
    )
        .prop_map(|(k, o, e, v)| object(vec![k, o, e, v]))
}

fn labels() -> impl Strategy<Value = Value> {
    (maybe("zone", &["a", "b"]), maybe("disk", &["ssd", "hdd"]))
        .prop_map(|(z, d)| object(vec![z, d]))
}

fn node() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(&["True", "False", "Unknown", ""][..]),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        proptest::collection::vec(taint(), 0..3),
        labels(),
        maybe("pods", &["3", "110", "0", "x"]),
        maybe("cpu", &["2", "500m", "4.35", "-1"]),
        maybe("memory", &["1Gi", "128Mi", "1Ki"]),
    )
        .prop_map(
            |(ready, other_cond, unsched, taints, labels, pods, cpu, mem)| {
                let mut conds = vec![json!({"type": "Ready", "status": ready})];
                if other_cond {
                    conds.insert(0, json!({"type": "MemoryPressure", "status": "True"}));
                }
                let mut spec = json!({"taints": taints});
                if let Some(u) = unsched {
                    spec["unschedulable"] = json!(u);
                }
                json!({
                    "metadata": {"labels": labels},
                    "spec": spec,
                    "status": {"conditions": conds, "allocatable": object(vec![pods, cpu, mem])},
                })
            },
        )
}

fn container() -> impl Strategy<Value = Value> {
    (
        maybe("cpu", &["100m", "1", "250m", "bad"]),
        maybe("memory", &["64Mi", "1Gi", "1000"]),
    )
        .prop_map(|(c, m)| json!({"name": "c", "resources": {"requests": object(vec![c, m])}}))
}

fn pod() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec(container(), 0..3),
        proptest::option::of(proptest::collection::vec(toleration(), 0..3)),
        proptest::option::of(labels()),
    )
        .prop_map(|(containers, tols, sel)| {
            let mut spec = json!({"containers": containers});
            if let Some(t) = tols {
                spec["tolerations"] = json!(t);
            }
            if let Some(s) = sel {
                spec["nodeSelector"] = s;
            }
            json!({"spec": spec})
        })
}

fn usage() -> impl Strategy<Value = (u64, u64, u64)> {
    (0u64..5, 0u64..3000, 0u64..(2 << 30))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn extracted_facts_filter_like_the_json(pod in pod(), node in node(), u in usage()) {
        let demand = PodDemand::of(&pod);
        prop_assert_eq!(misfit(&demand, &NodeFacts::of(&node), u), ref_misfit(&pod, &node, u));
    }

    #[test]
    fn candidates_match_a_per_node_json_pass(
        pod in pod(),
        nodes in proptest::collection::vec((node(), proptest::option::of(usage())), 1..8),
    ) {
        let mut facts = BTreeMap::new();
        let mut used = BTreeMap::new();
        // Usage of a node the cache does not have any more must not shift the others.
        used.insert("node-00".to_string(), (9, 9, 9));
        let mut want_best = Vec::new();
        let mut want_reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut best_load = u64::MAX;
        for (i, (n, u)) in nodes.iter().enumerate() {
            let name = format!("node-{:02}", i + 1);
            facts.insert(name.clone(), NodeFacts::of(n));
            if let Some(u) = u {
                used.insert(name.clone(), *u);
            }
            let u = u.unwrap_or_default();
            match ref_misfit(&pod, n, u) {
                Some(r) => *want_reasons.entry(r).or_default() += 1,
                None => {
                    if u.0 < best_load {
                        best_load = u.0;
                        want_best.clear();
                    }
                    if u.0 == best_load {
                        want_best.push(i);
                    }
                }
            }
        }
        used.insert("node-99".to_string(), (0, 0, 0));
        let (best, reasons) = candidates(&PodDemand::of(&pod), &facts, &used);
        prop_assert_eq!(best, want_best);
        prop_assert_eq!(reasons, want_reasons);
    }
}

#[test]
fn a_taint_without_a_repelling_effect_never_filters() {
    let node = json!({
        "spec": {"taints": [{"key": "a", "effect": "PreferNoSchedule"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    });
    let pod = json!({"spec": {"containers": []}});
    assert_eq!(
        misfit(&PodDemand::of(&pod), &NodeFacts::of(&node), (0, 0, 0)),
        None
    );
    let node = json!({
        "spec": {"taints": [{"key": "a", "effect": "NoExecute"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    });
    assert_eq!(
        misfit(&PodDemand::of(&pod), &NodeFacts::of(&node), (0, 0, 0)),
        Some("node(s) had untolerated taint(s)")
    );
}
