//! Printers of cluster plumbing kinds: StorageClasses, ResourceQuotas, LimitRanges, Leases,
//! EndpointSlices and CustomResourceDefinitions.

use jiff::Timestamp;
use serde_json::Value;

use super::columns::{AGE, NAME, st};
use super::{Column, age, arr, col, name, or_none, s};

/// StorageClass columns.
pub(super) const STORAGECLASS: &[Column] = &[
    NAME,
    col(
        "Provisioner",
        "string",
        "Provisioner indicates the type of the provisioner.",
    ),
    col(
        "ReclaimPolicy",
        "string",
        "Dynamically provisioned PersistentVolumes of this storage class are created with this reclaimPolicy.",
    ),
    col(
        "VolumeBindingMode",
        "string",
        "VolumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.",
    ),
    col(
        "AllowVolumeExpansion",
        "string",
        "AllowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE,
];

/// A StorageClass's cells (`(default)` after the name of the default class).
pub(super) fn storageclass(o: &Value, now: Timestamp) -> Vec<Value> {
    let default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|a| {
        o.pointer("/metadata/annotations")
            .and_then(|m| m.get(*a))
            .and_then(Value::as_str)
            == Some("true")
    });
    let mut n = s(o, "/metadata/name").to_string();
    if default {
        n.push_str(" (default)");
    }
    let or = |p: &str, d: &str| {
        let v = s(o, p);
        if v.is_empty() {
            d.to_string()
        } else {
            v.to_string()
        }
    };
    let expand = o.pointer("/allowVolumeExpansion").and_then(Value::as_bool) == Some(true);
    vec![
        st(n),
        st(s(o, "/provisioner")),
        st(or("/reclaimPolicy", "Delete")),
        st(or("/volumeBindingMode", "Immediate")),
        st(if expand { "true" } else { "false" }),
        age(o, now),
    ]
}

/// ResourceQuota columns.
pub(super) const RESOURCEQUOTA: &[Column] = &[
    NAME,
    AGE,
    col(
        "Request",
        "string",
        "Request represents a minimum amount of cpu/memory that a container may consume.",
    ),
    col(
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    ),
];

/// A ResourceQuota's cells: `resource: used/hard` for each hard limit, limits apart.
pub(super) fn resourcequota(o: &Value, now: Timestamp) -> Vec<Value> {
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    if let Some(hard) = o.pointer("/status/hard").and_then(Value::as_object) {
        for (res, h) in hard {
            let used = o
                .pointer("/status/used")
                .and_then(|u| u.get(res))
                .and_then(Value::as_str)
                .unwrap_or("0");
            let entry = format!("{res}: {used}/{}", h.as_str().unwrap_or_default());
            if res.starts_with("limits.") {
                limits.push(entry);
            } else {
                requests.push(entry);
            }
        }
    }
    vec![
        name(o),
        age(o, now),
        st(requests.join(", ")),
        st(limits.join(", ")),
    ]
}

/// Columns of kinds printed with their creation time (LimitRanges, CRDs).
pub(super) const CREATED_AT: &[Column] = &[
    NAME,
    col(
        "Created At",
        "date",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    ),
];

/// Name and creation timestamp.
pub(super) fn created_at(o: &Value, _now: Timestamp) -> Vec<Value> {
    vec![name(o), st(s(o, "/metadata/creationTimestamp"))]
}

/// Lease columns.
pub(super) const LEASE: &[Column] = &[
    NAME,
    col("Holder", "string", "The holder of the lease."),
    AGE,
];

/// A Lease's cells.
pub(super) fn lease(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), st(s(o, "/spec/holderIdentity")), age(o, now)]
}

/// EndpointSlice columns.
pub(super) const ENDPOINTSLICE: &[Column] = &[
    NAME,
    col(
        "AddressType",
        "string",
        "The type of address carried by this EndpointSlice.",
    ),
    col("Ports", "string", "The ports of this EndpointSlice."),
    col("Endpoints", "string", "The addresses of the endpoints."),
    AGE,
];

/// An EndpointSlice's cells (at most three addresses, then `+ N more...`).
pub(super) fn endpointslice(o: &Value, now: Timestamp) -> Vec<Value> {
    let ports: Vec<String> = arr(o, "/ports")
        .iter()
        .map(|p| p.get("port").map_or_else(String::new, Value::to_string))
        .collect();
    let ports = if ports.is_empty() {
        "<unset>".to_string()
    } else {
        ports.join(",")
    };
    let addrs: Vec<&str> = arr(o, "/endpoints")
        .iter()
        .flat_map(|e| arr(e, "/addresses").iter().filter_map(Value::as_str))
        .collect();
    let endpoints = if addrs.len() > 3 {
        format!("{} + {} more...", addrs[..3].join(","), addrs.len() - 3)
    } else {
        addrs.join(",")
    };
    vec![
        name(o),
        st(s(o, "/addressType")),
        st(ports),
        or_none(endpoints),
        age(o, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quota_and_storage_class_cells() {
        let now = Timestamp::UNIX_EPOCH;
        let q = json!({"metadata": {"name": "q"}, "status": {"hard": {"limits.cpu": "2", "pods": "10", "requests.cpu": "1"}, "used": {"pods": "3"}}});
        let cells = resourcequota(&q, now);
        assert_eq!(cells[2], "pods: 3/10, requests.cpu: 0/1");
        assert_eq!(cells[3], "limits.cpu: 0/2");
        let sc = json!({"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"});
        let cells = storageclass(&sc, now);
        assert_eq!(
            cells[..5],
            [
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!("false")
            ]
        );
    }
}
