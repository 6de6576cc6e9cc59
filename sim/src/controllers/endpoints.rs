//! Endpoints and EndpointSlices of Services with a selector: ready pods in `addresses`,
//! unready ones in `notReadyAddresses` (all in `addresses` with
//! `publishNotReadyAddresses`), target ports resolved by name against the pod's containers.
//! Headless Services get the same objects. Both are removed with their Service.

use std::sync::Arc;

use serde_json::{Value, json};

use super::cache::{Cache, selector_of};
use super::{pod_ready as ready_now, pod_terminal};
use crate::cluster::World;
use crate::json_ptr::Ptr;
use crate::store::{DeleteOptions, ObjKey, Part, WriteOptions, meta};

const SLICE_LABEL: &str = "kubernetes.io/service-name";

fn target_port(port: &Value, pod: &Value) -> Option<i64> {
    match port.get("targetPort").or_else(|| port.get("port")) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(name)) => pod
            .ptr("/spec/containers")?
            .as_array()?
            .iter()
            .flat_map(|c| {
                c.get("ports")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .find(|p| p.get("name").and_then(Value::as_str) == Some(name.as_str()))
            .and_then(|p| p.get("containerPort")?.as_i64()),
        _ => None,
    }
}

pub(crate) fn reconcile(w: &mut World<'_>, key: &ObjKey) {
    let svc = w.cache().svc.get(key).cloned();
    let (ep_tid, eps_tid) = (w.kinds.ep, w.kinds.eps);
    let selector = svc.as_ref().and_then(|s| selector_of(s));
    let (Some(svc), Some(selector)) = (svc, selector) else {
        // No Service (or no selector): remove what we manage.
        if let Some(t) = ep_tid
            && w.cache().ep.contains_key(key)
            && !w.cache().svc.contains_key(key)
        {
            let _ = w.store.delete(t, &key.0, &key.1, &DeleteOptions::default());
        }
        return;
    };
    let publish_all = svc
        .ptr("/spec/publishNotReadyAddresses")
        .and_then(Value::as_bool)
        == Some(true);
    let ports: Vec<Value> = svc
        .ptr("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let pods: Vec<Arc<Value>> = Cache::in_ns(&w.cache().pods, &key.0)
        .into_iter()
        .filter(|p| selector.matches(p) && !pod_terminal(p))
        .filter(|p| {
            p.ptr("/status/podIP")
                .and_then(Value::as_str)
                .is_some_and(|ip| !ip.is_empty())
        })
        .collect();
    let mut ready = Vec::new();
    let mut unready = Vec::new();
    let mut slice_eps = Vec::new();
    let mut resolved_ports: Vec<Value> = Vec::new();
    for p in &pods {
        let ip = p.ptr("/status/podIP").cloned().unwrap_or(Value::Null);
        let node = p.ptr("/spec/nodeName").cloned().unwrap_or(Value::Null);
        let target =
            json!({"kind": "Pod", "namespace": key.0, "name": meta::name(p), "uid": meta::uid(p)});
        let addr = json!({"ip": ip, "nodeName": node, "targetRef": target});
        let is_ready = ready_now(p) && !meta::is_deleting(p);
        if is_ready || publish_all {
            ready.push(addr);
        } else {
            unready.push(addr);
        }
        slice_eps.push(json!({
            "addresses": [ip],
            "conditions": {"ready": is_ready || publish_all, "serving": ready_now(p), "terminating": meta::is_deleting(p)},
            "nodeName": node,
            "targetRef": target,
        }));
        if resolved_ports.is_empty() {
            resolved_ports = ports
                .iter()
                .filter_map(|sp| {
                    let mut out = json!({"port": target_port(sp, p)?, "protocol": sp.get("protocol").cloned().unwrap_or(json!("TCP"))});
                    if let Some(n) = sp.get("name") {
                        out["name"] = n.clone();
                    }
                    Some(out)
                })
                .collect();
        }
    }
    let mut subset = json!({});
    if !ready.is_empty() {
        subset["addresses"] = json!(ready);
    }
    if !unready.is_empty() {
        subset["notReadyAddresses"] = json!(unready);
    }
    subset["ports"] = json!(resolved_ports);
    let subsets = if pods.is_empty() {
        json!([])
    } else {
        json!([subset])
    };
    let labels = svc
        .ptr("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(t) = ep_tid {
        let existing = w.cache().ep.get(key).cloned();
        match existing {
            Some(cur) => {
                let cur_subsets = cur.get("subsets").cloned().unwrap_or_else(|| json!([]));
                if cur_subsets != subsets {
                    let mut o = (*cur).clone();
                    if subsets.as_array().is_some_and(Vec::is_empty) {
                        if let Some(m) = o.as_object_mut() {
                            m.remove("subsets");
                        }
                    } else {
                        o["subsets"] = subsets.clone();
                    }
                    let _ =
                        w.store
                            .update(t, &key.0, &key.1, o, Part::Main, &WriteOptions::default());
                }
            }
            None => {
                let mut o =
                    json!({"metadata": {"name": key.1, "namespace": key.0, "labels": labels}});
                if !subsets.as_array().is_some_and(Vec::is_empty) {
                    o["subsets"] = subsets.clone();
                }
                let _ = w.store.create(t, &key.0, o, &WriteOptions::default());
            }
        }
    }
    if let Some(t) = eps_tid {
        let existing = Cache::in_ns(&w.cache().eps, &key.0).into_iter().find(|s| {
            s.ptr(&format!(
                "/metadata/labels/{}",
                SLICE_LABEL.replace('/', "~1")
            ))
            .and_then(Value::as_str)
                == Some(key.1.as_str())
        });
        let body_eps = json!(slice_eps);
        let body_ports = json!(resolved_ports);
        match existing {
            Some(cur) => {
                if cur.get("endpoints") != Some(&body_eps) || cur.get("ports") != Some(&body_ports)
                {
                    let mut o = (*cur).clone();
                    o["endpoints"] = body_eps;
                    o["ports"] = body_ports;
                    let _ = w.store.update(
                        t,
                        &key.0,
                        meta::name(&cur),
                        o,
                        Part::Main,
                        &WriteOptions::default(),
                    );
                }
            }
            None => {
                let mut lbl = labels.clone();
                lbl[SLICE_LABEL] = json!(key.1);
                lbl["endpointslice.kubernetes.io/managed-by"] =
                    json!("endpointslice-controller.k8s.io");
                let o = json!({
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {"generateName": format!("{}-", key.1), "namespace": key.0, "labels": lbl,
                        "ownerReferences": [super::controller_ref(&svc)]},
                    "addressType": "IPv4",
                    "endpoints": body_eps,
                    "ports": body_ports,
                });
                let _ = w.store.create(t, &key.0, o, &WriteOptions::default());
            }
        }
    }
}
