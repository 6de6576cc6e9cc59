//! Services at admission: defaulting, validation of type, ports and nodePorts, ClusterIP
//! allocation, and NodePort allocation as the apiserver's allocator does it (shared by the
//! TCP/UDP ports of one number, kept across updates, dropped on a change to ClusterIP).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use rand::RngCore;
use serde_json::{Value, json};

use super::admission::arr;
use super::{Inner, meta};
use crate::error::{ApiError, ApiResult, Cause};
use crate::json_ptr::Ptr;

/// The service ClusterIP range (`--service-cluster-ip-range`).
pub const SERVICE_CIDR: (Ipv4Addr, u32) = (Ipv4Addr::new(10, 96, 0, 0), 12);
/// The NodePort range (`--service-node-port-range`).
pub const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

/// Validates a Service (and, on update, the transition from `old`) into `causes`.
pub(super) fn validate(obj: &Value, old: Option<&Arc<Value>>, causes: &mut Vec<Cause>) {
    let ty = obj
        .ptr("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(&ty) {
        causes.push(Cause::not_supported(
            "spec.type",
            ty,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        ));
    }
    let headless = obj.ptr("/spec/clusterIP").and_then(Value::as_str) == Some("None");
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
            .ptr("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let after = obj
            .ptr("/spec/clusterIP")
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

fn random_cluster_ip(inner: &mut Inner) -> Option<String> {
    let taken: BTreeSet<String> = inner
        .find_type("", "services")
        .map(|t| {
            inner
                .objects_of(t)
                .values()
                .filter_map(|s| {
                    s.ptr("/spec/clusterIP")
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
        svc.ptr("/spec/type").and_then(Value::as_str),
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
pub(super) fn drop_node_ports(old: &Value, obj: &mut Value) {
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

/// Allocates the ClusterIP and the nodePorts of a Service being written.
pub(super) fn allocate(inner: &mut Inner, obj: &mut Value, old: Option<&Value>) -> ApiResult<()> {
    let name = meta::name(obj).to_string();
    let ty = obj
        .ptr("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if ty != "ExternalName" {
        let ip = obj
            .ptr("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let ip = if ip.is_empty() {
            match old
                .and_then(|o| o.ptr("/spec/clusterIP"))
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

/// The defaults of a Service's spec and status.
pub(super) fn default(obj: &mut Value) {
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
