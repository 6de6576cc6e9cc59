//! Printers of every kind but pods: the columns of the API server's printers for services,
//! workloads, config, storage, nodes, events, endpoints and ingresses, and NAME/AGE for the rest.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::cluster::{
    CREATED_AT, ENDPOINTSLICE, LEASE, RESOURCEQUOTA, STORAGECLASS, created_at, endpointslice,
    lease, resourcequota, storageclass,
};
use super::openshift::{DEPLOYMENTCONFIG, ROUTE, deploymentconfig, route};
use super::workloads::{
    CRONJOB, DAEMONSET, DEPLOYMENT, JOB, REPLICASET, STATEFULSET, cronjob, daemonset, deployment,
    job, replicaset, statefulset,
};
use super::{Cells, Column, Printer, age, arr, col, i, name, or_none, s, since, wide};

pub(super) const NAME: Column = col("Name", "string", "Name must be unique within a namespace.");
pub(super) const AGE: Column = col(
    "Age",
    "string",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);
/// The printer for a kind other than Pod.
pub fn printer_for(group: &str, kind: &str) -> Printer {
    let (columns, cells): (&'static [Column], Cells) = match (group, kind) {
        ("", "Service") => (SERVICE, service),
        ("apps", "Deployment") => (DEPLOYMENT, deployment),
        ("apps", "ReplicaSet") => (REPLICASET, replicaset),
        ("", "ReplicationController") => (REPLICASET, replicaset),
        ("apps", "StatefulSet") => (STATEFULSET, statefulset),
        ("apps", "DaemonSet") => (DAEMONSET, daemonset),
        ("batch", "Job") => (JOB, job),
        ("batch", "CronJob") => (CRONJOB, cronjob),
        ("", "ConfigMap") => (CONFIGMAP, configmap),
        ("", "Secret") => (SECRET, secret),
        ("", "ServiceAccount") => (SERVICEACCOUNT, serviceaccount),
        ("", "Namespace") => (NAMESPACE, namespace),
        ("", "Node") => (NODE, node),
        ("", "PersistentVolumeClaim") => (PVC, pvc),
        ("", "PersistentVolume") => (PV, pv),
        ("", "Event") => (EVENT, event),
        ("", "Endpoints") => (ENDPOINTS, endpoints),
        ("networking.k8s.io", "Ingress") => (INGRESS, ingress),
        ("storage.k8s.io", "StorageClass") => (STORAGECLASS, storageclass),
        ("", "ResourceQuota") => (RESOURCEQUOTA, resourcequota),
        ("", "LimitRange") | ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            (CREATED_AT, created_at)
        }
        ("coordination.k8s.io", "Lease") => (LEASE, lease),
        ("discovery.k8s.io", "EndpointSlice") => (ENDPOINTSLICE, endpointslice),
        ("apps.openshift.io", "DeploymentConfig") => (DEPLOYMENTCONFIG, deploymentconfig),
        ("route.openshift.io", "Route") => (ROUTE, route),
        _ => (GENERIC, generic),
    };
    Printer { columns, cells }
}

pub(super) fn st(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

const GENERIC: &[Column] = &[NAME, AGE];

fn generic(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), age(o, now)]
}

/// `k=v,k2=v2` of a label map sorted by key, or `<none>` (`labels.FormatLabels`).
pub(super) fn format_labels(map: Option<&Value>) -> String {
    let Some(m) = map.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let mut pairs: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    pairs.join(",")
}

const SERVICE: &[Column] = &[
    NAME,
    col("Type", "string", "The type of the service."),
    col("Cluster-IP", "string", "The cluster IP of the service."),
    col("External-IP", "string", "The external IPs of the service."),
    col("Port(s)", "string", "The ports the service exposes."),
    AGE,
    wide(
        "Selector",
        "string",
        "Route service traffic to pods with label keys and values matching this selector.",
    ),
];

fn lb_ingress(o: &Value) -> Vec<String> {
    arr(o, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|ing| {
            let ip = s(ing, "/ip");
            let host = s(ing, "/hostname");
            if !ip.is_empty() {
                Some(ip.to_string())
            } else if !host.is_empty() {
                Some(host.to_string())
            } else {
                None
            }
        })
        .collect()
}

fn service(o: &Value, now: Timestamp) -> Vec<Value> {
    let ty = match s(o, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = arr(o, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| s(o, "/spec/clusterIP"));
    let external: Vec<String> = arr(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let external_ip = match ty {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let mut all = lb_ingress(o);
            all.extend(external);
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => s(o, "/spec/externalName").to_string(),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = arr(o, "/spec/ports")
        .iter()
        .map(|p| {
            let proto = match s(p, "/protocol") {
                "" => "TCP",
                x => x,
            };
            match i(p, "/nodePort") {
                0 => format!("{}/{proto}", i(p, "/port")),
                np => format!("{}:{np}/{proto}", i(p, "/port")),
            }
        })
        .collect();
    vec![
        name(o),
        st(ty),
        or_none(cluster_ip),
        st(external_ip),
        or_none(ports.join(",")),
        age(o, now),
        st(format_labels(o.pointer("/spec/selector"))),
    ]
}

fn map_len(o: &Value, pointer: &str) -> usize {
    o.pointer(pointer)
        .and_then(Value::as_object)
        .map_or(0, serde_json::Map::len)
}

const CONFIGMAP: &[Column] = &[
    NAME,
    col("Data", "string", "Data contains the configuration data."),
    AGE,
];

fn configmap(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(o),
        json!(map_len(o, "/data") + map_len(o, "/binaryData")),
        age(o, now),
    ]
}

const SECRET: &[Column] = &[
    NAME,
    col("Type", "string", "The type of the secret"),
    col(
        "Data",
        "string",
        "The number of entries in the secret's data.",
    ),
    AGE,
];

fn secret(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(o),
        st(s(o, "/type")),
        json!(map_len(o, "/data")),
        age(o, now),
    ]
}

const SERVICEACCOUNT: &[Column] = &[
    NAME,
    col(
        "Secrets",
        "string",
        "Secrets is the list of secrets allowed to be used by pods running using this ServiceAccount.",
    ),
    AGE,
];

fn serviceaccount(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), json!(arr(o, "/secrets").len()), age(o, now)]
}

const NAMESPACE: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the namespace"),
    AGE,
];

fn namespace(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), st(s(o, "/status/phase")), age(o, now)]
}

const NODE: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", "Kubelet Version reported by the node."),
    wide(
        "Internal-IP",
        "string",
        "List of addresses reachable to the node. Queried from cloud provider, if available.",
    ),
    wide(
        "External-IP",
        "string",
        "List of addresses reachable to the node. Queried from cloud provider, if available.",
    ),
    wide(
        "OS-Image",
        "string",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
    ),
    wide(
        "Kernel-Version",
        "string",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    ),
    wide(
        "Container-Runtime",
        "string",
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
    ),
];

fn node_address(o: &Value, ty: &str) -> Value {
    or_none(
        arr(o, "/status/addresses")
            .iter()
            .find(|a| s(a, "/type") == ty)
            .map(|a| s(a, "/address"))
            .unwrap_or_default(),
    )
}

fn node(o: &Value, now: Timestamp) -> Vec<Value> {
    let mut status: Vec<&str> = Vec::new();
    match arr(o, "/status/conditions")
        .iter()
        .find(|c| s(c, "/type") == "Ready")
    {
        Some(c) if s(c, "/status") == "True" => status.push("Ready"),
        Some(_) => status.push("NotReady"),
        None => status.push("Unknown"),
    }
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = o.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if k == "kubernetes.io/role"
                && let Some(v) = v.as_str().filter(|v| !v.is_empty())
            {
                roles.push(v.to_string());
            }
        }
    }
    roles.sort();
    roles.dedup();
    vec![
        name(o),
        st(status.join(",")),
        or_none(roles.join(",")),
        age(o, now),
        st(s(o, "/status/nodeInfo/kubeletVersion")),
        node_address(o, "InternalIP"),
        node_address(o, "ExternalIP"),
        or_none(s(o, "/status/nodeInfo/osImage")),
        or_none(s(o, "/status/nodeInfo/kernelVersion")),
        or_none(s(o, "/status/nodeInfo/containerRuntimeVersion")),
    ]
}

fn access_modes(modes: &[Value]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if modes.iter().any(|m| m.as_str() == Some(mode)) {
            out.push(short);
        }
    }
    out.join(",")
}

const PVC: &[Column] = &[
    NAME,
    col("Status", "string", "The phase of the claim."),
    col("Volume", "string", "The name of the bound volume."),
    col("Capacity", "string", "The capacity of the bound volume."),
    col(
        "Access Modes",
        "string",
        "The access modes of the bound volume.",
    ),
    col("StorageClass", "string", "The storage class of the claim."),
    col(
        "VolumeAttributesClass",
        "string",
        "The volume attributes class of the claim.",
    ),
    AGE,
    wide("VolumeMode", "string", "The volume mode of the claim."),
];

fn pvc(o: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if o.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else {
        s(o, "/status/phase")
    };
    let volume = s(o, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            s(o, "/status/capacity/storage").to_string(),
            access_modes(arr(o, "/status/accessModes")),
        )
    };
    let unset = |v: &str| {
        if v.is_empty() {
            "<unset>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name(o),
        st(phase),
        st(volume),
        st(capacity),
        st(modes),
        st(s(o, "/spec/storageClassName")),
        st(unset(s(o, "/spec/volumeAttributesClassName"))),
        age(o, now),
        st(unset(s(o, "/spec/volumeMode"))),
    ]
}

const PV: &[Column] = &[
    NAME,
    col("Capacity", "string", "The capacity of the volume."),
    col("Access Modes", "string", "The access modes of the volume."),
    col(
        "Reclaim Policy",
        "string",
        "What happens to the volume when its claim is released.",
    ),
    col("Status", "string", "The phase of the volume."),
    col("Claim", "string", "The claim bound to the volume."),
    col("StorageClass", "string", "The storage class of the volume."),
    col(
        "VolumeAttributesClass",
        "string",
        "The volume attributes class of the volume.",
    ),
    col("Reason", "string", "Why the volume is in its phase."),
    AGE,
    wide("VolumeMode", "string", "The volume mode of the volume."),
];

fn pv(o: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match o.pointer("/spec/claimRef") {
        Some(c) if c.is_object() => format!("{}/{}", s(c, "/namespace"), s(c, "/name")),
        _ => String::new(),
    };
    let phase = if o.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else {
        s(o, "/status/phase")
    };
    let unset = |v: &str| {
        if v.is_empty() {
            "<unset>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name(o),
        st(s(o, "/spec/capacity/storage")),
        st(access_modes(arr(o, "/spec/accessModes"))),
        st(s(o, "/spec/persistentVolumeReclaimPolicy")),
        st(phase),
        st(claim),
        st(s(o, "/spec/storageClassName")),
        st(unset(s(o, "/spec/volumeAttributesClassName"))),
        st(s(o, "/status/reason")),
        age(o, now),
        st(unset(s(o, "/spec/volumeMode"))),
    ]
}

const EVENT: &[Column] = &[
    col(
        "Last Seen",
        "string",
        "The last time this event was observed.",
    ),
    col("Type", "string", "Type of this event (Normal, Warning)."),
    col("Reason", "string", "Why the action was taken."),
    col("Object", "string", "The object this event is about."),
    wide(
        "Subobject",
        "string",
        "The part of the object this event is about.",
    ),
    wide("Source", "string", "The component reporting this event."),
    col(
        "Message",
        "string",
        "A human-readable description of the status of this operation.",
    ),
    wide(
        "First Seen",
        "string",
        "The first time this event was observed.",
    ),
    wide(
        "Count",
        "integer",
        "The number of times this event has occurred.",
    ),
    wide("Name", "string", "The name of the event."),
];

fn event(o: &Value, now: Timestamp) -> Vec<Value> {
    let set = |p: &str| o.pointer(p).is_some_and(Value::is_string);
    let first = if set("/firstTimestamp") {
        since(o.pointer("/firstTimestamp"), now)
    } else {
        since(o.pointer("/eventTime"), now)
    };
    let mut last = if set("/lastTimestamp") {
        since(o.pointer("/lastTimestamp"), now)
    } else {
        first.clone()
    };
    let mut count = i(o, "/count");
    if o.pointer("/series").is_some_and(Value::is_object) {
        last = since(o.pointer("/series/lastObservedTime"), now);
        count = i(o, "/series/count");
    } else if count == 0 {
        count = 1;
    }
    let kind = s(o, "/involvedObject/kind").to_lowercase();
    let target = match s(o, "/involvedObject/name") {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let component = s(o, "/source/component");
    let source = if component.is_empty() {
        let ctrl = s(o, "/reportingComponent");
        let inst = s(o, "/reportingInstance");
        if inst.is_empty() {
            ctrl.to_string()
        } else {
            format!("{ctrl}, {inst}")
        }
    } else {
        match s(o, "/source/host") {
            "" => component.to_string(),
            h => format!("{component}, {h}"),
        }
    };
    vec![
        st(last),
        st(s(o, "/type")),
        st(s(o, "/reason")),
        st(target),
        st(s(o, "/involvedObject/fieldPath")),
        st(source),
        st(s(o, "/message").trim()),
        st(first),
        json!(count),
        name(o),
    ]
}

const ENDPOINTS: &[Column] = &[
    NAME,
    col("Endpoints", "string", "Endpoints of the service"),
    AGE,
];

fn endpoints(o: &Value, now: Timestamp) -> Vec<Value> {
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut count = 0;
    let mut more = false;
    for ss in arr(o, "/subsets") {
        let addrs = arr(ss, "/addresses");
        let ports = arr(ss, "/ports");
        if ports.is_empty() {
            count += addrs.len();
            for a in addrs {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(s(a, "/ip").to_string());
            }
            continue;
        }
        for p in ports {
            count += addrs.len();
            for a in addrs {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                let ip = s(a, "/ip");
                let port = i(p, "/port");
                list.push(if ip.contains(':') {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                });
            }
        }
    }
    let joined = list.join(",");
    let cell = if more {
        format!("{joined} + {} more...", count.saturating_sub(MAX))
    } else if joined.is_empty() {
        "<none>".into()
    } else {
        joined
    };
    vec![name(o), st(cell), age(o, now)]
}

const INGRESS: &[Column] = &[
    NAME,
    col("Class", "string", "The name of the IngressClass resource."),
    col(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
        "Address",
        "string",
        "Address is a list containing ingress points for the load-balancer",
    ),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];

fn ingress(o: &Value, now: Timestamp) -> Vec<Value> {
    const MAX: usize = 4;
    let hosts: Vec<&str> = arr(o, "/spec/rules")
        .iter()
        .map(|r| s(r, "/host"))
        .filter(|h| !h.is_empty())
        .collect();
    let hosts = if hosts.is_empty() {
        "*".to_string()
    } else if hosts.len() > MAX {
        format!("{} + {} more...", hosts[..MAX].join(","), hosts.len() - MAX)
    } else {
        hosts.join(",")
    };
    let ports = if arr(o, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(o),
        or_none(s(o, "/spec/ingressClassName")),
        st(hosts),
        st(lb_ingress(o).join(",")),
        st(ports),
        age(o, now),
    ]
}
