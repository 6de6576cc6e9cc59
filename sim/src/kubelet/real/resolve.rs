//! What the kubelet reads from the API before it starts a container: ConfigMap and Secret
//! data, bound PV names, downward-API fields and resources (with the node's allocatable) for
//! volumes and env, and the Service variables (`<SVC>_SERVICE_HOST`, `<SVC>_PORT_...`) every
//! container gets.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

use crate::runtime::{ContainerResources, PodResources, VolumeData};
use crate::store::{ListQuery, Store};

/// The names of the ConfigMaps and Secrets a pod refers to (volumes, projected sources, env).
fn references(pod: &Value) -> (Vec<String>, Vec<String>) {
    let mut cms = Vec::new();
    let mut secrets = Vec::new();
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let mut visit = |v: &Value| {
        walk(v, &mut |k, obj| match k {
            "configMap" | "configMapRef" | "configMapKeyRef" => {
                if let Some(n) = obj.get("name").and_then(Value::as_str) {
                    cms.push(n.to_string());
                }
            }
            "secret" | "secretRef" | "secretKeyRef" => {
                let n = obj
                    .get("secretName")
                    .or_else(|| obj.get("name"))
                    .and_then(Value::as_str);
                if let Some(n) = n {
                    secrets.push(n.to_string());
                }
            }
            _ => {}
        });
    };
    for f in ["volumes", "containers", "initContainers"] {
        if let Some(v) = spec.get(f) {
            visit(v);
        }
    }
    cms.sort();
    cms.dedup();
    secrets.sort();
    secrets.dedup();
    (cms, secrets)
}

fn walk(v: &Value, f: &mut impl FnMut(&str, &Value)) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if child.is_object() {
                    f(k, child);
                }
                walk(child, f);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| walk(c, f)),
        _ => {}
    }
}

fn bytes_map(
    obj: &Value,
    text: &str,
    binary: &str,
    decode_text: bool,
) -> BTreeMap<String, Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = BTreeMap::new();
    for (k, v) in obj
        .get(text)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let s = v.as_str().unwrap_or_default();
        let data = if decode_text {
            b64.decode(s).unwrap_or_else(|_| s.as_bytes().to_vec())
        } else {
            s.as_bytes().to_vec()
        };
        out.insert(k.clone(), data);
    }
    for (k, v) in obj
        .get(binary)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Ok(d) = b64.decode(v.as_str().unwrap_or_default()) {
            out.insert(k.clone(), d);
        }
    }
    out
}

fn labels_text(v: Option<&Value>) -> String {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Reads everything the runtime needs for `pod`'s volumes and env from the store.
pub(crate) fn volume_data(store: &Store, pod: &Value, node: &str, pod_ip: &str) -> VolumeData {
    use k8s_openapi::api::core::v1 as core;
    let ns = crate::store::meta::namespace(pod);
    let mut data = VolumeData::default();
    let (cms, secrets) = references(pod);
    if let Some(tid) = store.type_id_of::<core::ConfigMap>() {
        for n in cms {
            if let Ok(cm) = store.get(tid, ns, &n) {
                data.config_maps
                    .insert(n, bytes_map(&cm, "data", "binaryData", false));
            }
        }
    }
    if let Some(tid) = store.type_id_of::<core::Secret>() {
        for n in secrets {
            if let Ok(s) = store.get(tid, ns, &n) {
                let mut m = bytes_map(&s, "data", "binaryData", true);
                for (k, v) in s
                    .get("stringData")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    m.insert(
                        k.clone(),
                        v.as_str().unwrap_or_default().as_bytes().to_vec(),
                    );
                }
                data.secrets.insert(n, m);
            }
        }
    }
    if let Some(tid) = store.type_id_of::<core::PersistentVolumeClaim>() {
        let claims = pod
            .pointer("/spec/volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.pointer("/persistentVolumeClaim/claimName")?.as_str());
        for claim in claims {
            if let Ok(pvc) = store.get(tid, ns, claim)
                && let Some(pv) = pvc.pointer("/spec/volumeName").and_then(Value::as_str)
                && !pv.is_empty()
            {
                data.claims.insert(claim.to_string(), pv.to_string());
            }
        }
    }
    let s = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or_default();
    for (field, value) in [
        ("metadata.name", s("/metadata/name").to_string()),
        ("metadata.namespace", ns.to_string()),
        ("metadata.uid", s("/metadata/uid").to_string()),
        ("spec.nodeName", node.to_string()),
        (
            "spec.serviceAccountName",
            s("/spec/serviceAccountName").to_string(),
        ),
        ("status.podIP", pod_ip.to_string()),
        ("status.hostIP", s("/status/hostIP").to_string()),
        (
            "metadata.labels",
            labels_text(pod.pointer("/metadata/labels")),
        ),
        (
            "metadata.annotations",
            labels_text(pod.pointer("/metadata/annotations")),
        ),
    ] {
        data.fields.insert(field.to_string(), value);
    }
    for (k, v) in pod
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        data.fields.insert(
            format!("metadata.labels['{k}']"),
            v.as_str().unwrap_or_default().to_string(),
        );
    }
    data.resources = pod_resources(store, pod, node);
    data
}

/// A `resources.limits`/`resources.requests` map of a container as quantity strings.
fn quantities(c: &Value, which: &str) -> BTreeMap<String, String> {
    c.pointer(&format!("/resources/{which}"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let q = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((k.clone(), q))
        })
        .collect()
}

/// The pod's containers' resources and its node's allocatable, for `resourceFieldRef`.
fn pod_resources(store: &Store, pod: &Value, node: &str) -> PodResources {
    use k8s_openapi::api::core::v1 as core;
    let mut r = PodResources::default();
    for list in ["initContainers", "containers"] {
        for c in pod
            .pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = c.get("name").and_then(Value::as_str) {
                r.containers.insert(
                    name.to_string(),
                    ContainerResources {
                        limits: quantities(c, "limits"),
                        requests: quantities(c, "requests"),
                    },
                );
            }
        }
    }
    if let Some(tid) = store.type_id_of::<core::Node>()
        && let Ok(n) = store.get(tid, "", node)
    {
        r.allocatable = n
            .pointer("/status/allocatable")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
    }
    r
}

fn env_name(svc: &str) -> String {
    svc.to_ascii_uppercase().replace('-', "_")
}

/// The Service variables of a container in `pod` (docker-link style included unless
/// `enableServiceLinks: false`; the `kubernetes` Service's always).
pub(crate) fn service_env(store: &Store, pod: &Value) -> Vec<(String, String)> {
    use k8s_openapi::api::core::v1 as core;
    let Some(tid) = store.type_id_of::<core::Service>() else {
        return Vec::new();
    };
    let ns = crate::store::meta::namespace(pod);
    let links = pod
        .pointer("/spec/enableServiceLinks")
        .and_then(Value::as_bool)
        != Some(false);
    let mut services: BTreeMap<String, std::sync::Arc<Value>> = BTreeMap::new();
    if links && let Ok(list) = store.list(tid, Some(ns), &ListQuery::default()) {
        for s in list.items {
            services.insert(crate::store::meta::name(&s).to_string(), s);
        }
    }
    if let Ok(k) = store.get(tid, "default", "kubernetes") {
        services.insert("kubernetes".into(), k);
    }
    let mut out = Vec::new();
    for (name, svc) in services {
        let Some(ip) = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .filter(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
        else {
            continue;
        };
        let ports: Vec<&Value> = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .map(|p| p.iter().collect())
            .unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        let n = env_name(&name);
        let port_of = |p: &Value| p.get("port").and_then(Value::as_u64).unwrap_or(0);
        out.push((format!("{n}_SERVICE_HOST"), ip.to_string()));
        out.push((format!("{n}_SERVICE_PORT"), port_of(first).to_string()));
        for p in &ports {
            if let Some(pn) = p
                .get("name")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                out.push((
                    format!("{n}_SERVICE_PORT_{}", env_name(pn)),
                    port_of(p).to_string(),
                ));
            }
        }
        let proto = |p: &Value| {
            p.get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("TCP")
                .to_string()
        };
        out.push((
            format!("{n}_PORT"),
            format!("{}://{ip}:{}", proto(first).to_lowercase(), port_of(first)),
        ));
        for p in &ports {
            let (port, pr) = (port_of(p), proto(p));
            let base = format!("{n}_PORT_{port}_{pr}");
            out.push((base.clone(), format!("{}://{ip}:{port}", pr.to_lowercase())));
            out.push((format!("{base}_PROTO"), pr.to_lowercase()));
            out.push((format!("{base}_PORT"), port.to_string()));
            out.push((format!("{base}_ADDR"), ip.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_cover_volumes_projected_and_env() {
        let pod = json!({"spec": {
            "volumes": [
                {"name": "a", "configMap": {"name": "cm1"}},
                {"name": "b", "secret": {"secretName": "s1"}},
                {"name": "c", "projected": {"sources": [{"configMap": {"name": "cm2"}}]}}
            ],
            "containers": [{"name": "x",
                "envFrom": [{"secretRef": {"name": "s2"}}],
                "env": [{"name": "E", "valueFrom": {"configMapKeyRef": {"name": "cm1", "key": "k"}}}]
            }]
        }});
        let (cms, secrets) = references(&pod);
        assert_eq!(cms, ["cm1", "cm2"]);
        assert_eq!(secrets, ["s1", "s2"]);
    }
}
