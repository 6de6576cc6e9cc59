//! What of an object a trace keeps: the parts a user observes (phases, container states,
//! replica counts, allocated-or-not addresses), not bookkeeping (resourceVersions, managed
//! fields, timestamps), so that a state change in a trace is a change someone could see.

use std::ops::RangeInclusive;

use serde_json::{Map, Value, json};

/// The NodePort range of a default cluster.
pub const NODE_PORTS: RangeInclusive<i64> = 30000..=32767;

/// The observable summary of an object of `kind` (given as JSON).
pub fn summarise(kind: &str, obj: &Value) -> Value {
    let mut out = match kind {
        "Pod" => pod(obj),
        "Service" => service(obj),
        "Endpoints" => endpoints(obj),
        "ConfigMap" => json!({ "data": obj.get("data").cloned().unwrap_or(json!({})) }),
        "Secret" => secret(obj),
        "ReplicationController" | "ReplicaSet" | "Deployment" => workload(obj),
        "PersistentVolumeClaim" | "Namespace" => json!({ "phase": obj.pointer("/status/phase") }),
        _ => json!({}),
    };
    if obj.pointer("/metadata/deletionTimestamp").is_some()
        && let Some(m) = out.as_object_mut()
    {
        m.insert("deleting".into(), json!(true));
    }
    out
}

fn container_state(status: &Value) -> String {
    let Some(state) = status.get("state").and_then(Value::as_object) else {
        return "unknown".into();
    };
    if let Some(w) = state.get("waiting") {
        let reason = w.get("reason").and_then(Value::as_str).unwrap_or("");
        return format!("waiting:{reason}");
    }
    if state.contains_key("running") {
        return "running".into();
    }
    if let Some(t) = state.get("terminated") {
        let reason = t.get("reason").and_then(Value::as_str).unwrap_or("");
        let code = t.get("exitCode").and_then(Value::as_i64).unwrap_or(-1);
        return format!("terminated:{reason}:{code}");
    }
    "unknown".into()
}

fn statuses(obj: &Value, field: &str) -> Value {
    let list = obj
        .pointer(&format!("/status/{field}"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Value::Array(
        list.iter()
            .map(|s| {
                let name = s.get("name").and_then(Value::as_str).unwrap_or("?");
                let restarts = s.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
                let ready = s.get("ready").and_then(Value::as_bool).unwrap_or(false);
                json!(format!(
                    "{name} {} restarts={restarts}{}",
                    container_state(s),
                    if ready { " ready" } else { "" }
                ))
            })
            .collect(),
    )
}

fn pod(obj: &Value) -> Value {
    json!({
        "phase": obj.pointer("/status/phase"),
        "scheduled": obj.pointer("/spec/nodeName").is_some(),
        "init": statuses(obj, "initContainerStatuses"),
        "containers": statuses(obj, "containerStatuses"),
    })
}

fn service(obj: &Value) -> Value {
    let cluster_ip = match obj.pointer("/spec/clusterIP").and_then(Value::as_str) {
        Some("None") => "None",
        Some("") | None => "unset",
        Some(_) => "allocated",
    };
    let ports: Vec<Value> = obj
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let mut m = Map::new();
            for k in ["name", "port", "targetPort", "protocol"] {
                if let Some(v) = p.get(k) {
                    m.insert(k.into(), v.clone());
                }
            }
            if let Some(np) = p.get("nodePort").and_then(Value::as_i64) {
                let v = if NODE_PORTS.contains(&np) {
                    "in-range".to_string()
                } else {
                    format!("out-of-range:{np}")
                };
                m.insert("nodePort".into(), json!(v));
            }
            Value::Object(m)
        })
        .collect();
    json!({
        "type": obj.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP"),
        "clusterIP": cluster_ip,
        "ports": ports,
    })
}

fn endpoints(obj: &Value) -> Value {
    let subsets: Vec<Value> = obj
        .get("subsets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let count = |k: &str| s.get(k).and_then(Value::as_array).map_or(0, Vec::len);
            let ports: Vec<Value> = s
                .get("ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| json!(p.get("port")))
                .collect();
            json!({
                "ready": count("addresses"),
                "notReady": count("notReadyAddresses"),
                "ports": ports,
            })
        })
        .collect();
    json!({ "subsets": subsets })
}

fn secret(obj: &Value) -> Value {
    let mut keys: Vec<&str> = obj
        .get("data")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    json!({ "type": obj.get("type"), "keys": keys })
}

fn workload(obj: &Value) -> Value {
    let n = |p: &str| obj.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    json!({
        "spec": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1),
        "replicas": n("/status/replicas"),
        "ready": n("/status/readyReplicas"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_summary_keeps_container_states_in_order() {
        let pod = json!({
            "metadata": {"name": "p", "resourceVersion": "9"},
            "spec": {"nodeName": "n1"},
            "status": {
                "phase": "Pending",
                "initContainerStatuses": [
                    {"name": "a", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}, "restartCount": 0},
                    {"name": "b", "state": {"running": {}}, "restartCount": 1}
                ],
                "containerStatuses": [
                    {"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}, "ready": false}
                ]
            }
        });
        assert_eq!(
            summarise("Pod", &pod),
            json!({
                "phase": "Pending",
                "scheduled": true,
                "init": ["a terminated:Completed:0 restarts=0", "b running restarts=1"],
                "containers": ["app waiting:PodInitializing restarts=0"]
            })
        );
    }

    #[test]
    fn service_summary_hides_allocated_values_but_checks_the_range() {
        let svc = json!({
            "spec": {"type": "NodePort", "clusterIP": "10.96.4.2",
                     "ports": [{"port": 80, "nodePort": 31000}, {"port": 81, "nodePort": 80}]}
        });
        assert_eq!(
            summarise("Service", &svc),
            json!({"type": "NodePort", "clusterIP": "allocated",
                   "ports": [{"port": 80, "nodePort": "in-range"}, {"port": 81, "nodePort": "out-of-range:80"}]})
        );
        let headless = json!({"spec": {"clusterIP": "None", "ports": []},
                              "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(
            summarise("Service", &headless),
            json!({"type": "ClusterIP", "clusterIP": "None", "ports": [], "deleting": true})
        );
    }

    #[test]
    fn secrets_show_keys_only() {
        let s = json!({"type": "Opaque", "data": {"b": "eA==", "a": "eQ=="}});
        assert_eq!(
            summarise("Secret", &s),
            json!({"type": "Opaque", "keys": ["a", "b"]})
        );
    }

    #[test]
    fn workloads_and_endpoints_count() {
        let rs = json!({"spec": {"replicas": 3}, "status": {"replicas": 3, "readyReplicas": 2}});
        assert_eq!(
            summarise("ReplicaSet", &rs),
            json!({"spec": 3, "replicas": 3, "ready": 2})
        );
        let ep = json!({"subsets": [{"addresses": [{"ip": "1"}, {"ip": "2"}], "ports": [{"port": 8080}]}]});
        assert_eq!(
            summarise("Endpoints", &ep),
            json!({"subsets": [{"ready": 2, "notReady": 0, "ports": [8080]}]})
        );
    }
}
