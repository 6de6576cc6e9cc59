//! What the OpenShift API server does to its own kinds between decoding and storing them:
//! DeploymentConfig, ImageStream and Route defaults (the `apps.openshift.io/v1` defaulting
//! functions, Route host generation) and their validation. Called from the store's admission
//! (`crate::store::admission`) for groups ending in `.openshift.io`.

use serde_json::{Map, Value, json};

use crate::error::Cause;
use crate::resources::{NameRule, ResourceType};
use crate::store::meta;

/// The router's wildcard domain: a Route without a host gets `<name>-<namespace>.<domain>`.
pub const ROUTER_DOMAIN: &str = "apps.odo-sim.local";
/// Annotation set on Routes whose host the server generated.
pub const HOST_GENERATED: &str = "openshift.io/host.generated";

fn obj_mut<'a>(v: &'a mut Value, field: &str) -> Option<&'a mut Map<String, Value>> {
    let m = v.as_object_mut()?;
    let e = m.entry(field).or_insert_with(|| json!({}));
    if !e.is_object() {
        *e = json!({});
    }
    e.as_object_mut()
}

/// Defaults of a DeploymentConfig spec (`SetDefaults_DeploymentConfigSpec` and friends).
fn default_dc(obj: &mut Value) {
    let labels = obj.pointer("/spec/template/metadata/labels").cloned();
    let Some(spec) = obj_mut(obj, "spec") else {
        return;
    };
    spec.entry("replicas").or_insert_with(|| json!(1));
    spec.entry("revisionHistoryLimit")
        .or_insert_with(|| json!(10));
    spec.entry("test").or_insert_with(|| json!(false));
    if spec.get("triggers").is_none_or(Value::is_null) {
        spec.insert("triggers".into(), json!([{"type": "ConfigChange"}]));
    }
    if spec
        .get("selector")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
        && let Some(l) = labels
    {
        spec.insert("selector".into(), l);
    }
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if let Some(s) = strategy.as_object_mut() {
        let ty = s
            .entry("type")
            .or_insert_with(|| json!("Rolling"))
            .as_str()
            .unwrap_or("Rolling")
            .to_string();
        s.entry("activeDeadlineSeconds")
            .or_insert_with(|| json!(21600));
        s.entry("resources").or_insert_with(|| json!({}));
        match ty.as_str() {
            "Rolling" => {
                let p = s.entry("rollingParams").or_insert_with(|| json!({}));
                if let Some(p) = p.as_object_mut() {
                    p.entry("updatePeriodSeconds").or_insert_with(|| json!(1));
                    p.entry("intervalSeconds").or_insert_with(|| json!(1));
                    p.entry("timeoutSeconds").or_insert_with(|| json!(600));
                    if !p.contains_key("maxSurge") && !p.contains_key("maxUnavailable") {
                        p.insert("maxSurge".into(), json!("25%"));
                        p.insert("maxUnavailable".into(), json!("25%"));
                    }
                    p.entry("maxSurge").or_insert_with(|| json!(0));
                    p.entry("maxUnavailable").or_insert_with(|| json!(0));
                }
            }
            "Recreate" => {
                let p = s.entry("recreateParams").or_insert_with(|| json!({}));
                if let Some(p) = p.as_object_mut() {
                    p.entry("timeoutSeconds").or_insert_with(|| json!(600));
                }
            }
            _ => {}
        }
    }
}

/// Gives every spec tag of a stream a `generation`: kept when the tag did not change, the
/// stream's next generation when it is new or changed (so the controller knows to import).
fn tag_generations(obj: &mut Value, old: Option<&Value>) {
    let next = old
        .and_then(|o| o.pointer("/metadata/generation"))
        .and_then(Value::as_i64)
        .map_or(1, |g| g + 1);
    let strip = |t: &Value| {
        let mut t = t.clone();
        if let Some(m) = t.as_object_mut() {
            m.remove("generation");
        }
        t
    };
    let Some(tags) = obj.pointer_mut("/spec/tags").and_then(Value::as_array_mut) else {
        return;
    };
    for t in tags {
        let name = t.get("name").and_then(Value::as_str).unwrap_or_default();
        let prev = old.and_then(|o| super::images::spec_tag(o, name));
        let tag_gen = match prev {
            Some(p) if strip(p) == strip(t) => p.get("generation").cloned().unwrap_or(json!(next)),
            _ => json!(next),
        };
        if let Some(m) = t.as_object_mut() {
            m.insert("generation".into(), tag_gen);
            m.entry("referencePolicy")
                .or_insert_with(|| json!({"type": "Source"}));
            m.entry("importPolicy").or_insert_with(|| json!({}));
        }
    }
}

fn default_route(obj: &mut Value, old: Option<&Value>) {
    let name = meta::name(obj).to_string();
    let ns = meta::namespace(obj).to_string();
    let old_host = old
        .and_then(|o| o.pointer("/spec/host"))
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .map(str::to_string);
    let mut generated = false;
    if let Some(spec) = obj_mut(obj, "spec") {
        let empty = spec
            .get("host")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if empty {
            let host = old_host.unwrap_or_else(|| {
                generated = true;
                format!("{name}-{ns}.{ROUTER_DOMAIN}")
            });
            spec.insert("host".into(), json!(host));
        }
        spec.entry("wildcardPolicy")
            .or_insert_with(|| json!("None"));
        if let Some(to) = spec.get_mut("to").and_then(Value::as_object_mut) {
            to.entry("kind").or_insert_with(|| json!("Service"));
            to.entry("weight").or_insert_with(|| json!(100));
        }
    }
    if generated {
        let ann = meta::meta_mut(obj)
            .entry("annotations")
            .or_insert_with(|| json!({}));
        ann[HOST_GENERATED] = json!("true");
    }
}

/// Defaulting on create for the OpenShift kinds.
pub fn on_create(rt: &ResourceType, obj: &mut Value) {
    match rt.kind.as_str() {
        "DeploymentConfig" => {
            default_dc(obj);
            obj["status"] = json!({"latestVersion": 0, "observedGeneration": 0, "replicas": 0,
                "updatedReplicas": 0, "availableReplicas": 0, "unavailableReplicas": 0});
        }
        "ImageStream" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                spec.entry("lookupPolicy")
                    .or_insert_with(|| json!({"local": false}));
            }
            tag_generations(obj, None);
            let repo = super::images::stream_repository(meta::namespace(obj), meta::name(obj));
            obj["status"] = json!({"dockerImageRepository": repo});
        }
        "Route" => default_route(obj, None),
        "BuildConfig" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                spec.entry("runPolicy").or_insert_with(|| json!("Serial"));
                spec.entry("successfulBuildsHistoryLimit")
                    .or_insert_with(|| json!(5));
                spec.entry("failedBuildsHistoryLimit")
                    .or_insert_with(|| json!(5));
                spec.entry("triggers").or_insert_with(|| json!([]));
            }
            obj["status"] = json!({"lastVersion": 0});
        }
        "Build" => {
            if let Some(st) = obj_mut(obj, "status") {
                st.entry("phase").or_insert_with(|| json!("New"));
            }
        }
        _ => {}
    }
}

/// Defaulting on update for the OpenShift kinds.
pub fn on_update(rt: &ResourceType, old: &Value, obj: &mut Value) {
    match rt.kind.as_str() {
        "DeploymentConfig" => default_dc(obj),
        "ImageStream" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                spec.entry("lookupPolicy")
                    .or_insert_with(|| json!({"local": false}));
            }
            tag_generations(obj, Some(old));
        }
        "Route" => default_route(obj, Some(old)),
        _ => {}
    }
}

fn validate_dc(obj: &Value, causes: &mut Vec<Cause>) {
    if obj.pointer("/spec/template").is_none() {
        causes.push(Cause::required("spec.template"));
    }
    // Containers whose image an ImageChange trigger fills may leave it empty.
    let triggered: Vec<&str> = obj
        .pointer("/spec/triggers")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter_map(|t| t.pointer("/imageChangeParams/containerNames"))
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_str)
                .collect()
        })
        .unwrap_or_default();
    let containers: Vec<&str> = obj
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| c.get("name").and_then(Value::as_str).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    causes.retain(|c| {
        let Some(i) = c
            .field
            .strip_prefix("spec.template.spec.containers[")
            .and_then(|r| r.strip_suffix("].image"))
            .and_then(|i| i.parse::<usize>().ok())
        else {
            return true;
        };
        !containers.get(i).is_some_and(|n| triggered.contains(n))
    });
    if let Some(r) = obj.pointer("/spec/replicas").and_then(Value::as_i64)
        && r < 0
    {
        causes.push(Cause::invalid(
            "spec.replicas",
            &r.to_string(),
            "must be greater than or equal to 0",
        ));
    }
    let ty = obj
        .pointer("/spec/strategy/type")
        .and_then(Value::as_str)
        .unwrap_or("Rolling");
    if !["Rolling", "Recreate", "Custom"].contains(&ty) {
        causes.push(Cause::not_supported(
            "spec.strategy.type",
            ty,
            &["Rolling", "Recreate", "Custom"],
        ));
    }
    let sel = obj.pointer("/spec/selector").and_then(Value::as_object);
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object);
    if let Some(sel) = sel
        && !sel
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    {
        causes.push(Cause::invalid(
            "spec.template.metadata.labels",
            &labels
                .map(|l| Value::Object(l.clone()).to_string())
                .unwrap_or_default(),
            "`selector` does not match template `labels`",
        ));
    }
    validate_hooks(obj, &containers, causes);
    for (i, t) in obj
        .pointer("/spec/triggers")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .enumerate()
    {
        let ty = t.get("type").and_then(Value::as_str).unwrap_or_default();
        match ty {
            "ConfigChange" => {}
            "ImageChange" => {
                let p = format!("spec.triggers[{i}].imageChangeParams");
                let Some(params) = t.get("imageChangeParams") else {
                    causes.push(Cause::required(p));
                    continue;
                };
                check_istag_ref(&format!("{p}.from"), params.get("from"), "", causes);
                for (j, c) in params
                    .get("containerNames")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .enumerate()
                {
                    let c = c.as_str().unwrap_or_default();
                    if !containers.contains(&c) {
                        causes.push(Cause::invalid(
                            format!("{p}.containerNames[{j}]"),
                            c,
                            format!("there are no containers named {c:?}"),
                        ));
                    }
                }
            }
            other => causes.push(Cause::not_supported(
                format!("spec.triggers[{i}].type"),
                other,
                &["ConfigChange", "ImageChange"],
            )),
        }
    }
}

/// The lifecycle hooks of either strategy: a failure policy, exactly one action, and
/// actions that name containers of the template.
fn validate_hooks(obj: &Value, containers: &[&str], causes: &mut Vec<Cause>) {
    for params in ["recreateParams", "rollingParams"] {
        for stage in ["pre", "mid", "post"] {
            let Some(h) = obj.pointer(&format!("/spec/strategy/{params}/{stage}")) else {
                continue;
            };
            let p = format!("spec.strategy.{params}.{stage}");
            match h.get("failurePolicy").and_then(Value::as_str) {
                None | Some("") => causes.push(Cause::required(format!("{p}.failurePolicy"))),
                Some("Abort" | "Retry" | "Ignore") => {}
                Some(other) => causes.push(Cause::not_supported(
                    format!("{p}.failurePolicy"),
                    other,
                    &["Abort", "Retry", "Ignore"],
                )),
            }
            let exec = h.get("execNewPod").filter(|e| !e.is_null());
            let tags = h
                .get("tagImages")
                .and_then(Value::as_array)
                .filter(|t| !t.is_empty());
            match (exec, tags) {
                (None, None) => causes.push(Cause::invalid(
                    p.as_str(),
                    "",
                    "must specify one of execNewPod or tagImages",
                )),
                (Some(_), Some(_)) => causes.push(Cause::invalid(
                    p.as_str(),
                    "",
                    "only one of execNewPod or tagImages may be specified",
                )),
                _ => {}
            }
            let mut container = |field: String, name: &str| {
                if name.is_empty() {
                    causes.push(Cause::required(field));
                } else if !containers.contains(&name) {
                    causes.push(Cause::invalid(
                        field,
                        name,
                        format!("there are no containers named {name:?} in the pod template"),
                    ));
                }
            };
            if let Some(e) = exec {
                let name = e
                    .get("containerName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                container(format!("{p}.execNewPod.containerName"), name);
            }
            for (j, t) in tags.into_iter().flatten().enumerate() {
                let name = t
                    .get("containerName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                container(format!("{p}.tagImages[{j}].containerName"), name);
            }
            for (j, t) in tags.into_iter().flatten().enumerate() {
                let to = format!("{p}.tagImages[{j}].to");
                check_istag_ref(&to, t.get("to"), "ImageStreamTag", causes);
            }
        }
    }
}

/// An `ObjectReference` that must name an ImageStreamTag `<stream>:<tag>` (`from` of an
/// ImageChange trigger, `to` of a `tagImages` hook); `default_kind` stands for a missing kind.
fn check_istag_ref(field: &str, r: Option<&Value>, default_kind: &str, causes: &mut Vec<Cause>) {
    let get = |k: &str| r.and_then(|r| r.get(k)).and_then(Value::as_str);
    let kind = get("kind").unwrap_or(default_kind);
    if kind != "ImageStreamTag" {
        causes.push(Cause::invalid(
            format!("{field}.kind"),
            kind,
            "kind must be an ImageStreamTag",
        ));
    }
    let name = get("name").unwrap_or_default();
    if name
        .split_once(':')
        .is_none_or(|(s, t)| s.is_empty() || t.is_empty())
    {
        causes.push(Cause::invalid(
            format!("{field}.name"),
            name,
            "must be of the form <stream_name>:<tag>",
        ));
    }
}

fn validate_route(obj: &Value, causes: &mut Vec<Cause>) {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or_default();
    if s("/spec/to/name").is_empty() {
        causes.push(Cause::required("spec.to.name"));
    }
    let kind = s("/spec/to/kind");
    if !kind.is_empty() && kind != "Service" {
        causes.push(Cause::not_supported("spec.to.kind", kind, &["Service"]));
    }
    let host = s("/spec/host");
    if !host.is_empty()
        && let Some(c) = meta::validate_name(NameRule::Subdomain, host, "spec.host")
    {
        causes.push(c);
    }
    let Some(tls) = obj.pointer("/spec/tls").filter(|t| !t.is_null()) else {
        return;
    };
    let term = tls
        .get("termination")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let has = |f: &str| {
        tls.get(f)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    };
    match term {
        "edge" | "reencrypt" => {
            if term == "edge" && has("destinationCACertificate") {
                causes.push(Cause::invalid(
                    "spec.tls.destinationCACertificate",
                    "redacted destination ca certificate data",
                    "edge termination does not support destination certificates",
                ));
            }
        }
        "passthrough" => {
            for f in [
                "certificate",
                "key",
                "caCertificate",
                "destinationCACertificate",
            ] {
                if has(f) {
                    causes.push(Cause::invalid(
                        format!("spec.tls.{f}"),
                        "redacted data",
                        "passthrough termination does not support certificates",
                    ));
                }
            }
            if !s("/spec/path").is_empty() {
                causes.push(Cause::invalid(
                    "spec.path",
                    s("/spec/path"),
                    "passthrough termination does not support paths",
                ));
            }
        }
        other => causes.push(Cause::not_supported(
            "spec.tls.termination",
            other,
            &["edge", "passthrough", "reencrypt"],
        )),
    }
    let insecure = tls
        .get("insecureEdgeTerminationPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !["", "None", "Allow", "Redirect"].contains(&insecure) {
        causes.push(Cause::not_supported(
            "spec.tls.insecureEdgeTerminationPolicy",
            insecure,
            &["Allow", "None", "Redirect"],
        ));
    } else if term == "passthrough" && insecure == "Allow" {
        causes.push(Cause::invalid(
            "spec.tls.insecureEdgeTerminationPolicy",
            insecure,
            "InsecureEdgeTerminationPolicy Allow is not supported for passthrough termination",
        ));
    }
}

fn validate_stream(obj: &Value, causes: &mut Vec<Cause>) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in obj
        .pointer("/spec/tags")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .enumerate()
    {
        let name = t.get("name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() {
            causes.push(Cause::required(format!("spec.tags[{i}].name")));
        } else if !seen.insert(name) {
            causes.push(Cause::duplicate(format!("spec.tags[{i}].name"), name));
        }
        if let Some(kind) = t.pointer("/from/kind").and_then(Value::as_str)
            && !["DockerImage", "ImageStreamTag", "ImageStreamImage"].contains(&kind)
        {
            causes.push(Cause::not_supported(
                format!("spec.tags[{i}].from.kind"),
                kind,
                &["DockerImage", "ImageStreamImage", "ImageStreamTag"],
            ));
        }
    }
}

/// Validation of the OpenShift kinds (causes are appended to those of the pod template).
pub fn validate(rt: &ResourceType, obj: &Value, causes: &mut Vec<Cause>) {
    match rt.kind.as_str() {
        "DeploymentConfig" => validate_dc(obj, causes),
        "Route" => validate_route(obj, causes),
        "ImageStream" => validate_stream(obj, causes),
        _ => {}
    }
}

/// Resolves container images that name an ImageStream of the object's namespace whose
/// `lookupPolicy.local` is true (`ruby` or `ruby:2.7`) to that tag's current image, as the
/// image policy admission of OpenShift does for pods and workloads. `lookup` reads a stream
/// of the namespace by name.
pub fn resolve_local_images(
    obj: &mut Value,
    lookup: &dyn Fn(&str) -> Option<std::sync::Arc<Value>>,
) {
    for ptr in [
        "/spec/containers",
        "/spec/initContainers",
        "/spec/template/spec/containers",
        "/spec/template/spec/initContainers",
    ] {
        let Some(cs) = obj.pointer_mut(ptr).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in cs {
            let Some(image) = c.get("image").and_then(Value::as_str) else {
                continue;
            };
            if image.contains('/') || image.contains('@') || image.trim().is_empty() {
                continue;
            }
            let (stream, tag) = image.split_once(':').unwrap_or((image, "latest"));
            let resolved = lookup(stream)
                .filter(|is| {
                    is.pointer("/spec/lookupPolicy/local")
                        .and_then(Value::as_bool)
                        == Some(true)
                })
                .and_then(|is| super::images::head_reference(&is, tag));
            if let Some(r) = resolved {
                c["image"] = json!(r);
            }
        }
    }
}
