//! The nodes of a simulated cluster, registered Ready at start.

use serde_json::json;

use super::{Store, WriteOptions};

/// The name of the `i`-th node (0-based).
pub fn node_name(i: usize) -> String {
    format!("sim-node-{}", i + 1)
}

/// Creates nodes `sim-node-1..=n` that do not exist yet, each Ready with capacity.
pub fn ensure_nodes(store: &Store, n: usize) {
    let Some(tid) = store.type_id_of::<k8s_openapi::api::core::v1::Node>() else {
        return;
    };
    let now = crate::clock::rfc3339(store.now());
    for i in 0..n {
        let name = node_name(i);
        if store.get(tid, "", &name).is_ok() {
            continue;
        }
        let node = json!({
            "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/worker": ""
            }},
            "spec": {},
            "status": {
                "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now}],
                "addresses": [{"type": "InternalIP", "address": format!("172.18.0.{}", i + 2)}, {"type": "Hostname", "address": name}],
                "nodeInfo": {"kubeletVersion": "v1.35.0", "containerRuntimeVersion": "odo-sim://0.1", "operatingSystem": "linux", "architecture": "amd64", "osImage": "odo-sim", "kernelVersion": "6.0.0", "kubeProxyVersion": "v1.35.0", "machineID": "", "systemUUID": "", "bootID": ""}
            }
        });
        let created = store.create(tid, "", node.clone(), &WriteOptions::default());
        if let Ok(obj) = created {
            // Status is dropped on create (status subresource); set it as a kubelet would.
            let mut with_status = (*obj).clone();
            with_status["status"] = node["status"].clone();
            let _ = store.update(
                tid,
                "",
                &name,
                with_status,
                super::Part::Status,
                &WriteOptions::default(),
            );
        }
    }
}
