//! Discovery documents (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`), generated
//! from the registry so every served type is discoverable with its verbs, short names,
//! categories and subresources, as kubectl and kube-rs expect.

use serde_json::{Value, json};

use crate::resources::Registry;

/// The Kubernetes version the simulator reports (the API types it serves are v1.35's).
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "35",
        "emulationMajor": "1",
        "emulationMinor": "35",
        "gitVersion": concat!("v1.35.0+odo-sim.", env!("CARGO_PKG_VERSION")),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
    })
}

fn group_entry(registry: &Registry, group: &str) -> Value {
    let versions: Vec<Value> = registry
        .group_versions()
        .into_iter()
        .filter(|(g, _)| g == group)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

/// `/apis`.
pub fn groups(registry: &Registry) -> Value {
    let mut names: Vec<String> = Vec::new();
    for (g, _) in registry.group_versions() {
        if !g.is_empty() && !names.contains(&g) {
            names.push(g);
        }
    }
    let groups: Vec<Value> = names.iter().map(|g| group_entry(registry, g)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`, or None when the group is not served.
pub fn group(registry: &Registry, group: &str) -> Option<Value> {
    if !registry.group_versions().iter().any(|(g, _)| g == group) {
        return None;
    }
    let mut doc = group_entry(registry, group);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn subresource_entry(parent_kind: &str, plural: &str, namespaced: bool, sub: &str) -> Value {
    let (kind, verbs, group, version): (&str, &[&str], Option<&str>, Option<&str>) = match sub {
        "status" => (parent_kind, &["get", "patch", "update"], None, None),
        "scale" => (
            "Scale",
            &["get", "patch", "update"],
            Some("autoscaling"),
            Some("v1"),
        ),
        "log" => (parent_kind, &["get"], None, None),
        "exec" => ("PodExecOptions", &["create", "get"], None, None),
        "attach" => ("PodAttachOptions", &["create", "get"], None, None),
        "portforward" => ("PodPortForwardOptions", &["create", "get"], None, None),
        "proxy" => (
            "PodProxyOptions",
            &["create", "delete", "get", "patch", "update"],
            None,
            None,
        ),
        "binding" => ("Binding", &["create"], None, None),
        "eviction" => ("Eviction", &["create"], Some("policy"), Some("v1")),
        "finalize" => (parent_kind, &["update"], None, None),
        "token" => (
            "TokenRequest",
            &["create"],
            Some("authentication.k8s.io"),
            Some("v1"),
        ),
        "ephemeralcontainers" => (parent_kind, &["get", "patch", "update"], None, None),
        "instantiate" => ("DeploymentRequest", &["create"], None, None),
        "rollback" => ("DeploymentConfigRollback", &["create"], None, None),
        _ => (parent_kind, &["get"], None, None),
    };
    let mut e = json!({
        "name": format!("{plural}/{sub}"),
        "singularName": "",
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs,
    });
    if let (Some(g), Some(v)) = (group, version) {
        e["group"] = json!(g);
        e["version"] = json!(v);
    }
    e
}

/// `/api/v1` or `/apis/<g>/<v>`, or None when not served.
pub fn resources(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut list = Vec::new();
    for (_, t) in registry
        .iter()
        .filter(|(_, t)| t.group == group && t.version == version)
    {
        let mut e = json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": t.verbs,
        });
        if !t.short_names.is_empty() {
            e["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            e["categories"] = json!(t.categories);
        }
        list.push(e);
        for sub in &t.subresources {
            list.push(subresource_entry(&t.kind, &t.plural, t.namespaced, sub));
        }
    }
    if list.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
    )
}
