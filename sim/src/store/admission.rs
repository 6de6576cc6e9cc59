//! Admission: what the real API server does to an object between decoding and storing it:
//! schema checks against the k8s-openapi types, defaulting, kind-specific validation,
//! immutable fields, ClusterIP and NodePort allocation, and registration of CRDs.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use rand::RngCore;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Inner, meta};
use crate::error::{ApiError, ApiResult, Cause};
use crate::resources::{NameRule, ResourceType};

/// The service ClusterIP range (`--service-cluster-ip-range`).
pub const SERVICE_CIDR: (Ipv4Addr, u32) = (Ipv4Addr::new(10, 96, 0, 0), 12);
/// The NodePort range (`--service-node-port-range`).
pub const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

fn decode_as<T: DeserializeOwned>(rt: &ResourceType, obj: &Value) -> ApiResult<()> {
    T::deserialize(obj).map(|_| ()).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            rt.kind, rt.version, rt.kind
        ))
    })
}

/// Checks the object against its schema (where k8s-openapi has the type).
fn check_schema(rt: &ResourceType, obj: &Value) -> ApiResult<()> {
    use k8s_openapi::api::{apps, batch, core::v1 as core, networking, storage};
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => decode_as::<core::Pod>(rt, obj),
        ("", "Service") => decode_as::<core::Service>(rt, obj),
        ("", "ConfigMap") => decode_as::<core::ConfigMap>(rt, obj),
        ("", "Secret") => decode_as::<core::Secret>(rt, obj),
        ("", "Namespace") => decode_as::<core::Namespace>(rt, obj),
        ("", "Node") => decode_as::<core::Node>(rt, obj),
        ("", "PersistentVolume") => decode_as::<core::PersistentVolume>(rt, obj),
        ("", "PersistentVolumeClaim") => decode_as::<core::PersistentVolumeClaim>(rt, obj),
        ("", "ReplicationController") => decode_as::<core::ReplicationController>(rt, obj),
        ("", "Endpoints") => decode_as::<core::Endpoints>(rt, obj),
        ("", "ServiceAccount") => decode_as::<core::ServiceAccount>(rt, obj),
        ("", "Event") => decode_as::<core::Event>(rt, obj),
        ("apps", "Deployment") => decode_as::<apps::v1::Deployment>(rt, obj),
        ("apps", "ReplicaSet") => decode_as::<apps::v1::ReplicaSet>(rt, obj),
        ("apps", "StatefulSet") => decode_as::<apps::v1::StatefulSet>(rt, obj),
        ("apps", "DaemonSet") => decode_as::<apps::v1::DaemonSet>(rt, obj),
        ("batch", "Job") => decode_as::<batch::v1::Job>(rt, obj),
        ("batch", "CronJob") => decode_as::<batch::v1::CronJob>(rt, obj),
        ("networking.k8s.io", "Ingress") => decode_as::<networking::v1::Ingress>(rt, obj),
        ("storage.k8s.io", "StorageClass") => decode_as::<storage::v1::StorageClass>(rt, obj),
        _ => Ok(()),
    }
}

fn arr<'a>(obj: &'a Value, ptr: &str) -> &'a [Value] {
    obj.pointer(ptr)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn validate_pod_spec(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    let containers = arr(spec, "/containers");
    if containers.is_empty() {
        causes.push(Cause::required(format!("{path}.containers")));
    }
    let mut names = BTreeSet::new();
    for (list, field) in [
        (arr(spec, "/initContainers"), "initContainers"),
        (containers, "containers"),
    ] {
        for (i, c) in list.iter().enumerate() {
            let p = format!("{path}.{field}[{i}]");
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            if let Some(cause) = meta::validate_name(NameRule::Label, name, &format!("{p}.name")) {
                causes.push(cause);
            } else if !names.insert(name.to_string()) {
                causes.push(Cause::duplicate(format!("{p}.name"), name));
            }
            if c.get("image")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                causes.push(Cause::required(format!("{p}.image")));
            }
            for (j, port) in arr(c, "/ports").iter().enumerate() {
                let n = port
                    .get("containerPort")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if !(1..=65535).contains(&n) {
                    causes.push(Cause::invalid(
                        format!("{p}.ports[{j}].containerPort"),
                        &n.to_string(),
                        "must be between 1 and 65535, inclusive",
                    ));
                }
            }
        }
    }
    if let Some(rp) = spec.get("restartPolicy").and_then(Value::as_str)
        && !["Always", "OnFailure", "Never"].contains(&rp)
    {
        causes.push(Cause::not_supported(
            format!("{path}.restartPolicy"),
            rp,
            &["Always", "OnFailure", "Never"],
        ));
    }
    for (i, v) in arr(spec, "/volumes").iter().enumerate() {
        validate_volume_source(v, &format!("{path}.volumes[{i}]"), causes);
    }
    let vols: Vec<&str> = arr(spec, "/volumes")
        .iter()
        .filter_map(|v| v.get("name")?.as_str())
        .collect();
    for (list, field) in [
        (arr(spec, "/initContainers"), "initContainers"),
        (containers, "containers"),
    ] {
        for (i, c) in list.iter().enumerate() {
            for (j, m) in arr(c, "/volumeMounts").iter().enumerate() {
                let n = m.get("name").and_then(Value::as_str).unwrap_or_default();
                if !vols.contains(&n) {
                    causes.push(Cause {
                        reason: "FieldValueNotFound".into(),
                        message: format!("Not found: \"{n}\""),
                        field: format!("{path}.{field}[{i}].volumeMounts[{j}].name"),
                    });
                }
            }
        }
    }
}

/// The volume sources, in the order the real validation checks them: (JSON field, the name
/// its "more than 1 volume type" error gives, typos included).
const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

/// A volume names exactly one source: every source after the first is forbidden.
fn validate_volume_source(volume: &Value, path: &str, causes: &mut Vec<Cause>) {
    let mut seen = false;
    for (field, reported) in VOLUME_SOURCES {
        if volume.get(*field).is_none_or(Value::is_null) {
            continue;
        }
        if seen {
            causes.push(Cause::forbidden(
                format!("{path}.{reported}"),
                "may not specify more than 1 volume type",
            ));
        }
        seen = true;
    }
}

/// A Deployment's strategy: `rollingUpdate` only with `type: RollingUpdate`.
fn validate_deployment_strategy(obj: &Value, causes: &mut Vec<Cause>) {
    let Some(strategy) = obj.pointer("/spec/strategy") else {
        return;
    };
    if strategy.get("type").and_then(Value::as_str) == Some("Recreate")
        && strategy.get("rollingUpdate").is_some_and(|r| !r.is_null())
    {
        causes.push(Cause::forbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        ));
    }
}

fn validate_selector_matches_template(obj: &Value, causes: &mut Vec<Cause>, required: bool) {
    let Some(sel) = obj.pointer("/spec/selector") else {
        if required {
            causes.push(Cause::required("spec.selector"));
        }
        return;
    };
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let selector = if sel.get("matchLabels").is_some() || sel.get("matchExpressions").is_some() {
        super::LabelSelector::from_object(sel)
    } else {
        sel.as_object().map(super::LabelSelector::from_map)
    };
    match selector {
        Some(s) if s.is_empty() => causes.push(Cause::invalid(
            "spec.selector",
            "{}",
            "empty selector is invalid for deployment",
        )),
        Some(s) if !s.matches_labels(&labels) => causes.push(Cause::invalid(
            "spec.template.metadata.labels",
            &serde_json::to_string(&labels).unwrap_or_default(),
            "`selector` does not match template `labels`",
        )),
        Some(_) => {}
        None => causes.push(Cause::invalid(
            "spec.selector",
            "",
            "invalid label selector",
        )),
    }
}

/// Validates an object (and, on update, the transition from `old`): a 422 with every cause.
pub(super) fn validate(rt: &ResourceType, obj: &Value, old: Option<&Arc<Value>>) -> ApiResult<()> {
    check_schema(rt, obj)?;
    let mut causes = Vec::new();
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => {
            if let Some(spec) = obj.get("spec") {
                validate_pod_spec(spec, "spec", &mut causes);
            } else {
                causes.push(Cause::required("spec.containers"));
            }
            if let Some(old) = old {
                let strip = |v: &Value| {
                    let mut s = v.get("spec").cloned().unwrap_or_default();
                    for list in ["containers", "initContainers"] {
                        if let Some(Value::Array(cs)) = s.get_mut(list) {
                            for c in cs {
                                if let Some(m) = c.as_object_mut() {
                                    m.remove("image");
                                }
                            }
                        }
                    }
                    if let Some(m) = s.as_object_mut() {
                        for f in [
                            "activeDeadlineSeconds",
                            "tolerations",
                            "terminationGracePeriodSeconds",
                            "nodeName",
                        ] {
                            m.remove(f);
                        }
                    }
                    s
                };
                if strip(obj) != strip(old) {
                    causes.push(Cause {
                        reason: "FieldValueForbidden".into(),
                        message: "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)".into(),
                        field: "spec".into(),
                    });
                }
            }
        }
        ("", "ReplicationController") => {
            if let Some(t) = obj.pointer("/spec/template/spec") {
                validate_pod_spec(t, "spec.template.spec", &mut causes);
            }
            validate_selector_matches_template(obj, &mut causes, false);
        }
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") | ("batch", "Job") => {
            match obj.pointer("/spec/template/spec") {
                Some(t) => validate_pod_spec(t, "spec.template.spec", &mut causes),
                None => causes.push(Cause::required("spec.template.spec.containers")),
            }
            validate_selector_matches_template(obj, &mut causes, rt.group == "apps");
            if rt.kind == "Deployment" {
                validate_deployment_strategy(obj, &mut causes);
            }
            if let Some(old) = old
                && obj.pointer("/spec/selector") != old.pointer("/spec/selector")
            {
                causes.push(Cause::invalid(
                    "spec.selector",
                    &obj.pointer("/spec/selector")
                        .map(Value::to_string)
                        .unwrap_or_default(),
                    "field is immutable",
                ));
            }
            if let Some(r) = obj.pointer("/spec/replicas").and_then(Value::as_i64)
                && r < 0
            {
                causes.push(Cause::invalid(
                    "spec.replicas",
                    &r.to_string(),
                    "must be greater than or equal to 0",
                ));
            }
        }
        ("", "Service") => validate_service(obj, old, &mut causes),
        (g, kind) if g.ends_with(".openshift.io") => {
            if kind == "DeploymentConfig"
                && let Some(t) = obj.pointer("/spec/template/spec")
            {
                validate_pod_spec(t, "spec.template.spec", &mut causes);
            }
            crate::controllers::openshift::admission::validate(rt, obj, &mut causes);
        }
        ("", "ConfigMap" | "Secret") => {
            if let Some(old) = old
                && old.get("immutable").and_then(Value::as_bool) == Some(true)
                && (obj.get("data") != old.get("data")
                    || obj.get("binaryData") != old.get("binaryData"))
            {
                causes.push(Cause {
                    reason: "FieldValueForbidden".into(),
                    message: "Forbidden: field is immutable when `immutable` is set".into(),
                    field: "data".into(),
                });
            }
        }
        ("", "PersistentVolumeClaim") => {
            if arr(obj, "/spec/accessModes").is_empty() {
                causes.push(Cause::required("spec.accessModes"));
            }
            if obj.pointer("/spec/resources/requests/storage").is_none()
                && obj.pointer("/spec/volumeName").is_none()
            {
                causes.push(Cause::required("spec.resources[storage]"));
            }
            if let Some(old) = old {
                let strip = |v: &Value| {
                    let mut s = v.get("spec").cloned().unwrap_or_default();
                    if let Some(m) = s.as_object_mut() {
                        m.remove("resources");
                        m.remove("volumeName");
                    }
                    s
                };
                if strip(obj) != strip(old) {
                    causes.push(Cause {
                        reason: "FieldValueForbidden".into(),
                        message: "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims".into(),
                        field: "spec".into(),
                    });
                }
            }
        }
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            &rt.group,
            &rt.kind,
            meta::name(obj),
            causes,
        ))
    }
}

fn validate_service(obj: &Value, old: Option<&Arc<Value>>, causes: &mut Vec<Cause>) {
    let ty = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(&ty) {
        causes.push(Cause::not_supported(
            "spec.type",
            ty,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        ));
    }
    let headless = obj.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None");
    let ports = arr(obj, "/spec/ports");
    if ports.is_empty() && !headless && ty != "ExternalName" {
        causes.push(Cause::required("spec.ports"));
    }
    let mut seen = BTreeSet::new();
    let mut node_ports = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=65535).contains(&port) {
            causes.push(Cause::invalid(
                format!("spec.ports[{i}].port"),
                &port.to_string(),
                "must be between 1 and 65535, inclusive",
            ));
        }
        let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
        if !seen.insert((port, proto.to_string())) {
            causes.push(Cause::duplicate(
                format!("spec.ports[{i}]"),
                &format!("{{{proto} {port}}}"),
            ));
        }
        if ports.len() > 1
            && p.get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            causes.push(Cause::required(format!("spec.ports[{i}].name")));
        }
        let node_port = p
            .get("nodePort")
            .and_then(Value::as_i64)
            .filter(|np| *np != 0);
        if let Some(np) = node_port {
            let field = format!("spec.ports[{i}].nodePort");
            if ty == "ClusterIP" {
                causes.push(Cause::forbidden(
                    field,
                    "may not be used when `type` is 'ClusterIP'",
                ));
            } else if !NODE_PORTS.contains(&np) {
                causes.push(Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!(
                        "Invalid value: {np}: provided port is not in the valid range. The range of valid ports is {}-{}",
                        NODE_PORTS.start(),
                        NODE_PORTS.end()
                    ),
                    field,
                });
            } else if !node_ports.insert((np, proto.to_string())) {
                causes.push(Cause {
                    reason: "FieldValueDuplicate".into(),
                    message: format!("Duplicate value: {np}"),
                    field,
                });
            }
        }
    }
    if let Some(old) = old {
        let before = old
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let after = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !before.is_empty() && before != after {
            causes.push(Cause::invalid(
                "spec.clusterIPs[0]",
                after,
                "may not change once set",
            ));
        }
    }
}

fn default_container(c: &mut Value) {
    let Some(m) = c.as_object_mut() else { return };
    let image = m
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let last = image.rsplit('/').next().unwrap_or_default();
    let tagged = last.contains(':') && !last.ends_with(":latest");
    let digest = image.contains('@');
    m.entry("imagePullPolicy").or_insert_with(|| {
        json!(if tagged || digest {
            "IfNotPresent"
        } else {
            "Always"
        })
    });
    m.entry("terminationMessagePath")
        .or_insert_with(|| json!("/dev/termination-log"));
    m.entry("terminationMessagePolicy")
        .or_insert_with(|| json!("File"));
    m.entry("resources").or_insert_with(|| json!({}));
    if let Some(Value::Array(ports)) = m.get_mut("ports") {
        for p in ports {
            if let Some(pm) = p.as_object_mut() {
                pm.entry("protocol").or_insert_with(|| json!("TCP"));
            }
        }
    }
}

fn default_pod_spec(spec: &mut Value) {
    let Some(m) = spec.as_object_mut() else {
        return;
    };
    m.entry("restartPolicy").or_insert_with(|| json!("Always"));
    m.entry("terminationGracePeriodSeconds")
        .or_insert_with(|| json!(30));
    m.entry("dnsPolicy")
        .or_insert_with(|| json!("ClusterFirst"));
    m.entry("schedulerName")
        .or_insert_with(|| json!("default-scheduler"));
    m.entry("securityContext").or_insert_with(|| json!({}));
    for list in ["initContainers", "containers"] {
        if let Some(Value::Array(cs)) = m.get_mut(list) {
            cs.iter_mut().for_each(default_container);
        }
    }
    if let Some(Value::Array(vols)) = m.get_mut("volumes") {
        for v in vols {
            for src in ["configMap", "secret"] {
                if let Some(s) = v.get_mut(src).and_then(Value::as_object_mut) {
                    s.entry("defaultMode").or_insert_with(|| json!(420));
                }
            }
        }
    }
}

/// The default StorageClass, as the DefaultStorageClass admission plugin picks it: among the
/// classes annotated `storageclass.kubernetes.io/is-default-class: "true"`, the newest.
fn default_storage_class(inner: &Inner) -> Option<String> {
    let tid = inner.find_type("storage.k8s.io", "storageclasses")?;
    inner
        .objects_of(tid)
        .values()
        .filter(|c| {
            c.pointer("/metadata/annotations/storageclass.kubernetes.io~1is-default-class")
                .and_then(Value::as_str)
                == Some("true")
        })
        .max_by_key(|c| {
            (
                c.pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                meta::name(c).to_string(),
            )
        })
        .map(|c| meta::name(c).to_string())
}

fn default_workload(obj: &mut Value, kind: &str) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if kind != "Job" && kind != "DaemonSet" {
        spec.entry("replicas").or_insert_with(|| json!(1));
    }
    match kind {
        "Deployment" => {
            let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
            if let Some(strategy) = strategy.as_object_mut() {
                let kind = strategy
                    .entry("type")
                    .or_insert_with(|| json!("RollingUpdate"))
                    .clone();
                if kind == "RollingUpdate" {
                    let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
                    if let Some(rolling) = rolling.as_object_mut() {
                        rolling
                            .entry("maxUnavailable")
                            .or_insert_with(|| json!("25%"));
                        rolling.entry("maxSurge").or_insert_with(|| json!("25%"));
                    }
                }
            }
            spec.entry("revisionHistoryLimit")
                .or_insert_with(|| json!(10));
            spec.entry("progressDeadlineSeconds")
                .or_insert_with(|| json!(600));
        }
        "Job" => {
            spec.entry("completions").or_insert_with(|| json!(1));
            spec.entry("parallelism").or_insert_with(|| json!(1));
            spec.entry("backoffLimit").or_insert_with(|| json!(6));
            spec.entry("completionMode")
                .or_insert_with(|| json!("NonIndexed"));
            if let Some(t) = spec
                .get_mut("template")
                .and_then(|t| t.get_mut("spec"))
                .and_then(Value::as_object_mut)
            {
                t.entry("restartPolicy").or_insert_with(|| json!("Never"));
            }
        }
        "ReplicationController" => {
            if !spec.contains_key("selector")
                && let Some(labels) = spec
                    .get("template")
                    .and_then(|t| t.pointer("/metadata/labels"))
                    .cloned()
            {
                spec.insert("selector".into(), labels);
            }
        }
        _ => {}
    }
    if let Some(t) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
        default_pod_spec(t);
    }
}

fn random_cluster_ip(inner: &mut Inner) -> Option<String> {
    let taken: BTreeSet<String> = inner
        .find_type("", "services")
        .map(|t| {
            inner
                .objects_of(t)
                .values()
                .filter_map(|s| {
                    s.pointer("/spec/clusterIP")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let base = u32::from(SERVICE_CIDR.0);
    let size = 1u32 << (32 - SERVICE_CIDR.1);
    for _ in 0..64 {
        let off = 2 + inner.rng.next_u32() % (size - 3);
        let ip = Ipv4Addr::from(base + off).to_string();
        if !taken.contains(&ip) {
            return Some(ip);
        }
    }
    (2..size - 1)
        .map(|o| Ipv4Addr::from(base + o).to_string())
        .find(|ip| !taken.contains(ip))
}

fn node_ports_taken(inner: &Inner, except_uid: &str) -> BTreeSet<i64> {
    inner
        .find_type("", "services")
        .map(|t| {
            inner
                .objects_of(t)
                .values()
                .filter(|s| meta::uid(s) != except_uid)
                .flat_map(|s| {
                    arr(s, "/spec/ports")
                        .iter()
                        .filter_map(|p| p.get("nodePort")?.as_i64())
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn needs_node_ports(svc: &Value) -> bool {
    matches!(
        svc.pointer("/spec/type").and_then(Value::as_str),
        Some("NodePort" | "LoadBalancer")
    )
}

fn node_ports_of(svc: &Value) -> BTreeSet<i64> {
    arr(svc, "/spec/ports")
        .iter()
        .filter_map(|p| p.get("nodePort")?.as_i64())
        .filter(|np| *np != 0)
        .collect()
}

/// A free port of the NodePort range, picked at random.
fn next_node_port(inner: &mut Inner, busy: &BTreeSet<i64>) -> ApiResult<i64> {
    let span = NODE_PORTS.end() - NODE_PORTS.start() + 1;
    let start = i64::from(inner.rng.next_u32()) % span;
    (0..span)
        .map(|o| NODE_PORTS.start() + (start + o) % span)
        .find(|c| !busy.contains(c))
        .ok_or_else(|| ApiError::internal("the NodePort range is full"))
}

/// The nodePorts of a NodePort or LoadBalancer service, as the apiserver's allocator gives
/// them. On create (or from a type without nodePorts), ports with the same port number (TCP
/// and UDP) share one nodePort, the one any of them asks for, else one allocated. On an update
/// from such a type, a port that leaves its nodePort out keeps the one its namesake had
/// (unless another port now asks for it), a port naming one the service already held keeps
/// it, and every other one is allocated; a number another service holds is "already
/// allocated".
fn allocate_node_ports(
    inner: &mut Inner,
    obj: &mut Value,
    old: Option<&Value>,
) -> ApiResult<Vec<Cause>> {
    let before = old.filter(|o| needs_node_ports(o));
    let held = before.map(node_ports_of).unwrap_or_default();
    let mut busy = node_ports_taken(inner, meta::uid(obj));
    busy.extend(held.iter().copied());
    let mut causes = Vec::new();
    let Some(Value::Array(ports)) = obj.pointer_mut("/spec/ports") else {
        return Ok(causes);
    };
    let explicit = |p: &Value| {
        p.get("nodePort")
            .and_then(Value::as_i64)
            .filter(|n| *n != 0)
    };
    let number = |p: &Value| p.get("port").and_then(Value::as_i64).unwrap_or(0);
    if let Some(before) = before {
        let asked: BTreeSet<i64> = ports.iter().filter_map(explicit).collect();
        let by_name: Vec<(String, i64)> = arr(before, "/spec/ports")
            .iter()
            .filter_map(|p| {
                let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
                Some((name.to_string(), explicit(p)?))
            })
            .collect();
        let mut mine = BTreeSet::new();
        for (i, p) in ports.iter_mut().enumerate() {
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            let kept = by_name
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, np)| *np)
                .filter(|np| !asked.contains(np));
            match explicit(p).or(kept) {
                Some(np) if held.contains(&np) || mine.contains(&np) => p["nodePort"] = json!(np),
                Some(np) if busy.contains(&np) => causes.push(Cause::already_allocated(
                    format!("spec.ports[{i}].nodePort"),
                    &np.to_string(),
                )),
                Some(np) => {
                    busy.insert(np);
                    mine.insert(np);
                    p["nodePort"] = json!(np);
                }
                None => {
                    let np = next_node_port(inner, &busy)?;
                    busy.insert(np);
                    p["nodePort"] = json!(np);
                }
            }
        }
        return Ok(causes);
    }
    let requested: Vec<(i64, Option<i64>)> =
        ports.iter().map(|p| (number(p), explicit(p))).collect();
    let mut shared: BTreeMap<i64, i64> = BTreeMap::new();
    for (i, p) in ports.iter_mut().enumerate() {
        let (port, asked) = requested[i];
        let field = format!("spec.ports[{i}].nodePort");
        match (shared.get(&port).copied(), asked) {
            (Some(np), None) => p["nodePort"] = json!(np),
            (Some(np), Some(a)) if a == np => {}
            (Some(_), Some(a)) => {
                if busy.insert(a) {
                    p["nodePort"] = json!(a);
                } else {
                    causes.push(Cause::already_allocated(field, &a.to_string()));
                }
            }
            (None, _) => {
                let want = asked.or_else(|| {
                    requested
                        .iter()
                        .find(|(n, a)| *n == port && a.is_some())
                        .and_then(|(_, a)| *a)
                });
                let np = match want {
                    Some(w) if busy.contains(&w) => {
                        causes.push(Cause::already_allocated(field, &w.to_string()));
                        continue;
                    }
                    Some(w) => w,
                    None => next_node_port(inner, &busy)?,
                };
                busy.insert(np);
                shared.insert(port, np);
                p["nodePort"] = json!(np);
            }
        }
    }
    Ok(causes)
}

/// An update to a type without nodePorts that names no nodePort the service did not have
/// drops them all (the apiserver's `dropTypeDependentFields`); naming a new one is left to
/// validation to refuse.
fn drop_node_ports(old: &Value, obj: &mut Value) {
    if !needs_node_ports(old) || needs_node_ports(obj) {
        return;
    }
    if !node_ports_of(obj).is_subset(&node_ports_of(old)) {
        return;
    }
    if let Some(Value::Array(ports)) = obj.pointer_mut("/spec/ports") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.remove("nodePort");
        }
    }
}

fn allocate_service(inner: &mut Inner, obj: &mut Value, old: Option<&Value>) -> ApiResult<()> {
    let name = meta::name(obj).to_string();
    let ty = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if ty != "ExternalName" {
        let ip = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let ip = if ip.is_empty() {
            match old
                .and_then(|o| o.pointer("/spec/clusterIP"))
                .and_then(Value::as_str)
            {
                Some(prev) => prev.to_string(),
                None => random_cluster_ip(inner)
                    .ok_or_else(|| ApiError::internal("the service IP range is full"))?,
            }
        } else {
            ip
        };
        obj["spec"]["clusterIP"] = json!(ip);
        obj["spec"]["clusterIPs"] = json!([ip]);
    }
    if needs_node_ports(obj) {
        let causes = allocate_node_ports(inner, obj, old)?;
        if !causes.is_empty() {
            return Err(ApiError::invalid("", "Service", &name, causes));
        }
    }
    Ok(())
}

fn default_service(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    spec.entry("type").or_insert_with(|| json!("ClusterIP"));
    spec.entry("sessionAffinity")
        .or_insert_with(|| json!("None"));
    spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
    spec.entry("ipFamilyPolicy")
        .or_insert_with(|| json!("SingleStack"));
    spec.entry("internalTrafficPolicy")
        .or_insert_with(|| json!("Cluster"));
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports {
            if let Some(pm) = p.as_object_mut() {
                pm.entry("protocol").or_insert_with(|| json!("TCP"));
                if let Some(port) = pm.get("port").cloned() {
                    pm.entry("targetPort").or_insert(port);
                }
            }
        }
    }
    obj.as_object_mut().map(|m| {
        m.entry("status")
            .or_insert_with(|| json!({"loadBalancer": {}}))
    });
}

fn fold_string_data(obj: &mut Value) {
    use base64::Engine;
    let Some(m) = obj.as_object_mut() else { return };
    if let Some(Value::Object(sd)) = m.remove("stringData") {
        let data = m.entry("data").or_insert_with(|| json!({}));
        for (k, v) in sd {
            let s = v.as_str().unwrap_or_default();
            data[k] = json!(base64::engine::general_purpose::STANDARD.encode(s));
        }
    }
    m.entry("type").or_insert_with(|| json!("Opaque"));
}

/// OpenShift's image policy: images naming a local-lookup ImageStream of the namespace.
fn local_image_lookup(inner: &Inner, rt: &ResourceType, obj: &mut Value) {
    let workload = matches!(
        (rt.group.as_str(), rt.kind.as_str()),
        ("", "Pod" | "ReplicationController")
            | (
                "apps",
                "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
            )
            | ("batch", "Job")
    );
    if let Some(tid) = inner
        .registry
        .find("image.openshift.io", "v1", "imagestreams")
        && workload
    {
        let ns = meta::namespace(obj).to_string();
        let lookup = |n: &str| inner.get(tid, &ns, n).ok();
        crate::controllers::openshift::admission::resolve_local_images(obj, &lookup);
    }
}

/// Defaulting and allocation on create.
pub(super) fn on_create(inner: &mut Inner, rt: &ResourceType, obj: &mut Value) -> ApiResult<()> {
    local_image_lookup(inner, rt, obj);
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => {
            let mut qos = "BestEffort";
            if let Some(spec) = obj.get_mut("spec") {
                default_pod_spec(spec);
                super::qos::default_requests_from_limits(spec);
                qos = super::qos::qos_class(spec)?;
            }
            obj["status"] = json!({"phase": "Pending", "qosClass": qos});
        }
        ("", "Namespace") => {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
            let name = meta::name(obj).to_string();
            let labels = meta::meta_mut(obj)
                .entry("labels")
                .or_insert_with(|| json!({}));
            labels["kubernetes.io/metadata.name"] = json!(name);
        }
        ("", "Service") => {
            default_service(obj);
            allocate_service(inner, obj, None)?;
        }
        ("", "Secret") => fold_string_data(obj),
        ("", "PersistentVolumeClaim") => {
            let class = default_storage_class(inner);
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.entry("volumeMode")
                    .or_insert_with(|| json!("Filesystem"));
                // The DefaultStorageClass admission plugin: only an absent class is filled in
                // (an explicit "" asks for no class at all).
                if let Some(class) = class {
                    spec.entry("storageClassName").or_insert(json!(class));
                }
            }
            obj["status"] = json!({"phase": "Pending"});
        }
        ("", "PersistentVolume") => {
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.entry("persistentVolumeReclaimPolicy")
                    .or_insert_with(|| json!("Retain"));
                spec.entry("volumeMode")
                    .or_insert_with(|| json!("Filesystem"));
            }
            obj["status"] = json!({"phase": "Pending"});
        }
        ("", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => {
            default_workload(obj, &rt.kind);
        }
        (g, _) if g.ends_with(".openshift.io") => {
            crate::controllers::openshift::admission::on_create(rt, obj);
            if let Some(t) = obj.pointer_mut("/spec/template/spec") {
                default_pod_spec(t);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Defaulting on update (the fields users may omit when they replace an object).
pub(super) fn on_update(
    inner: &mut Inner,
    rt: &ResourceType,
    old: &Arc<Value>,
    obj: &mut Value,
) -> ApiResult<()> {
    local_image_lookup(inner, rt, obj);
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Secret") => fold_string_data(obj),
        ("", "Service") => {
            default_service(obj);
            drop_node_ports(old, obj);
            allocate_service(inner, obj, Some(old))?;
        }
        ("", "Pod") => {
            if let Some(spec) = obj.get_mut("spec") {
                default_pod_spec(spec);
                super::qos::default_requests_from_limits(spec);
            }
        }
        ("", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => {
            default_workload(obj, &rt.kind);
        }
        (g, _) if g.ends_with(".openshift.io") => {
            crate::controllers::openshift::admission::on_update(rt, old, obj);
            if let Some(t) = obj.pointer_mut("/spec/template/spec") {
                default_pod_spec(t);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Serves the versions a CustomResourceDefinition declares.
pub(super) fn register_crd(inner: &mut Inner, crd: &Value) {
    let Some(spec) = crd.get("spec") else { return };
    let group = spec
        .get("group")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let names = spec.get("names").cloned().unwrap_or_default();
    let plural = names
        .get("plural")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = names
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return;
    }
    let namespaced = spec.get("scope").and_then(Value::as_str) != Some("Cluster");
    let strs = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    for version in arr(crd, "/spec/versions") {
        if version.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let Some(v) = version.get("name").and_then(Value::as_str) else {
            continue;
        };
        let mut subresources = Vec::new();
        if version.pointer("/subresources/status").is_some() {
            subresources.push("status".to_string());
        }
        if version.pointer("/subresources/scale").is_some() {
            subresources.push("scale".to_string());
        }
        inner.registry.add(ResourceType {
            group: group.clone(),
            version: v.to_string(),
            kind: kind.clone(),
            plural: plural.clone(),
            singular: names
                .get("singular")
                .and_then(Value::as_str)
                .map_or_else(|| kind.to_ascii_lowercase(), str::to_string),
            namespaced,
            short_names: strs(names.get("shortNames")),
            categories: strs(names.get("categories")),
            subresources,
            name_rule: NameRule::Subdomain,
            verbs: [
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ]
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
        });
    }
    inner.ensure_type_slots();
}
