//! Admission: what the real API server does to an object between decoding and storing it:
//! schema checks against the k8s-openapi types, defaulting, kind-specific validation,
//! immutable fields, and registration of CRDs (Services: [`super::service`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Inner, meta};
use crate::error::{ApiError, ApiResult, Cause};
use crate::json_ptr::Ptr;
use crate::resources::{NameRule, ResourceType};

pub use super::service::{NODE_PORTS, SERVICE_CIDR};

fn decode_as<T: DeserializeOwned>(rt: &ResourceType, obj: &Value) -> ApiResult<()> {
    T::deserialize(obj).map(|_| ()).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            rt.kind, rt.version, rt.kind
        ))
    })
}

/// Checks a pod's metadata and status against their schema (see `validate`: used when the
/// spec is the stored one). The error reads as it does for the whole object.
fn check_pod_without_spec(rt: &ResourceType, obj: &Value) -> ApiResult<()> {
    use k8s_openapi::api::core::v1 as core;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    if !obj.is_object() {
        return decode_as::<core::Pod>(rt, obj);
    }
    let part = |name: &str| obj.get(name).unwrap_or(&Value::Null);
    decode_as::<Option<ObjectMeta>>(rt, part("metadata"))
        .and_then(|()| decode_as::<Option<core::PodStatus>>(rt, part("status")))
        .map_err(|_| {
            // Decode the whole object for the error message, with the field path in it.
            decode_as::<core::Pod>(rt, obj).err().unwrap_or_else(|| {
                ApiError::bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}",
                    rt.kind, rt.version, rt.kind
                ))
            })
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

pub(super) fn arr<'a>(obj: &'a Value, ptr: &str) -> &'a [Value] {
    obj.ptr(ptr)
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
    let Some(strategy) = obj.ptr("/spec/strategy") else {
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
    let Some(sel) = obj.ptr("/spec/selector") else {
        if required {
            causes.push(Cause::required("spec.selector"));
        }
        return;
    };
    let labels = obj
        .ptr("/spec/template/metadata/labels")
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
    // A pod update that leaves the spec as stored (the kubelet's status writes, label and
    // annotation changes) has nothing new in the spec to check: the stored spec passed these
    // same checks when it was written, so only metadata and status are decoded.
    let pod_spec_kept = rt.group.is_empty()
        && rt.kind == "Pod"
        && old.is_some_and(|o| o.get("spec") == obj.get("spec"));
    if pod_spec_kept {
        check_pod_without_spec(rt, obj)?;
    } else {
        check_schema(rt, obj)?;
    }
    let mut causes = Vec::new();
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") if pod_spec_kept => {}
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
            if let Some(t) = obj.ptr("/spec/template/spec") {
                validate_pod_spec(t, "spec.template.spec", &mut causes);
            }
            validate_selector_matches_template(obj, &mut causes, false);
        }
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") | ("batch", "Job") => {
            match obj.ptr("/spec/template/spec") {
                Some(t) => validate_pod_spec(t, "spec.template.spec", &mut causes),
                None => causes.push(Cause::required("spec.template.spec.containers")),
            }
            validate_selector_matches_template(obj, &mut causes, rt.group == "apps");
            if rt.kind == "Deployment" {
                validate_deployment_strategy(obj, &mut causes);
            }
            if let Some(old) = old
                && obj.ptr("/spec/selector") != old.ptr("/spec/selector")
            {
                causes.push(Cause::invalid(
                    "spec.selector",
                    &obj.ptr("/spec/selector")
                        .map(Value::to_string)
                        .unwrap_or_default(),
                    "field is immutable",
                ));
            }
            if let Some(r) = obj.ptr("/spec/replicas").and_then(Value::as_i64)
                && r < 0
            {
                causes.push(Cause::invalid(
                    "spec.replicas",
                    &r.to_string(),
                    "must be greater than or equal to 0",
                ));
            }
        }
        ("", "Service") => super::service::validate(obj, old, &mut causes),
        (g, kind) if g.ends_with(".openshift.io") => {
            if kind == "DeploymentConfig"
                && let Some(t) = obj.ptr("/spec/template/spec")
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
            if obj.ptr("/spec/resources/requests/storage").is_none()
                && obj.ptr("/spec/volumeName").is_none()
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
            c.ptr("/metadata/annotations/storageclass.kubernetes.io~1is-default-class")
                .and_then(Value::as_str)
                == Some("true")
        })
        .max_by_key(|c| {
            (
                c.ptr("/metadata/creationTimestamp")
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
                    .and_then(|t| t.ptr("/metadata/labels"))
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
            super::service::default(obj);
            super::service::allocate(inner, obj, None)?;
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
            super::service::default(obj);
            super::service::drop_node_ports(old, obj);
            super::service::allocate(inner, obj, Some(old))?;
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
        if version.ptr("/subresources/status").is_some() {
            subresources.push("status".to_string());
        }
        if version.ptr("/subresources/scale").is_some() {
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
