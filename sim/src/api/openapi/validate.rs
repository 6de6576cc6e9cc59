//! Field validation (`fieldValidation=Strict|Warn|Ignore`): request bodies are checked
//! against the kind's schema for fields it does not declare, as the API server does. Strict
//! rejects the request (400, `strict decoding error: unknown field "spec.foo"`), Warn (the
//! default) answers with `Warning` headers, which kubectl prints.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, header};
use serde_json::{Map, Value};

use super::kinds::Schemas;
use crate::api::path::Target;
use crate::api::request::Params;
use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceType;
use crate::store::{PatchKind, Store};

/// What to do about unknown fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accept silently.
    Ignore,
    /// Accept, with a warning per unknown field.
    Warn,
    /// Reject the request.
    Strict,
}

impl Mode {
    /// The `fieldValidation` query parameter (absent means Warn).
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("Ignore") => Self::Ignore,
            Some("Strict") => Self::Strict,
            _ => Self::Warn,
        }
    }
}

type Defs = Arc<(String, Map<String, Value>)>;

static BUILTIN: Mutex<BTreeMap<(String, String), Defs>> = Mutex::new(BTreeMap::new());

fn defs_for(store: &Store, t: &ResourceType) -> Option<Defs> {
    let key = (t.group.clone(), t.kind.clone());
    if let Some(d) = BUILTIN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
    {
        return Some(d.clone());
    }
    let mut schemas = Schemas::new();
    let (root, builtin) = schemas.add(store, t);
    let defs = Arc::new((root, schemas.finish()));
    if builtin {
        BUILTIN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, defs.clone());
    }
    Some(defs)
}

/// The paths of the fields in `body` that the schema of `t` does not declare (`$`-prefixed
/// patch directives are not fields).
pub fn unknown_fields(store: &Store, t: &ResourceType, body: &Value) -> Vec<String> {
    let Some(defs) = defs_for(store, t) else {
        return Vec::new();
    };
    let (root, map) = &*defs;
    let mut out = Vec::new();
    if let Some(schema) = map.get(root) {
        walk(map, schema, body, "", &mut out, 0);
    }
    out
}

fn resolve<'a>(defs: &'a Map<String, Value>, mut s: &'a Value) -> &'a Value {
    for _ in 0..8 {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            match r
                .strip_prefix("#/components/schemas/")
                .and_then(|n| defs.get(n))
            {
                Some(t) => s = t,
                None => return s,
            }
        } else if let Some([one]) = s.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            s = one;
        } else {
            return s;
        }
    }
    s
}

fn walk(
    defs: &Map<String, Value>,
    schema: &Value,
    v: &Value,
    path: &str,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    let s = resolve(defs, schema);
    if s.get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return;
    }
    match v {
        Value::Object(m) => {
            let props = s.get("properties").and_then(Value::as_object);
            let additional = s.get("additionalProperties").filter(|a| a.is_object());
            if props.is_none() && additional.is_none() {
                return; // a free-form object
            }
            for (k, child) in m {
                if k.starts_with('$') {
                    continue;
                }
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match props.and_then(|p| p.get(k)).or(additional) {
                    Some(cs) => walk(defs, cs, child, &sub, out, depth + 1),
                    None => out.push(sub),
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(defs, is, item, &format!("{path}[{i}]"), out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Checks a write's body for fields the kind's schema does not declare (`fieldValidation`):
/// an error under Strict, the warnings to send otherwise.
pub(crate) fn check(
    store: &Store,
    method: &Method,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Vec<String>> {
    let mode = Mode::parse(params.get("fieldValidation"));
    if mode == Mode::Ignore || target.subresource.is_some() || body.is_empty() {
        return Ok(Vec::new());
    }
    let value: Option<Value> = match (method.as_str(), &target.name) {
        // Undecodable bodies are reported by the handler itself.
        ("POST", None) | ("PUT", Some(_)) => {
            crate::api::request::decode_body(body, headers, &target.rt).ok()
        }
        ("PATCH", Some(_)) => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            match PatchKind::from_content_type(ct) {
                Ok(PatchKind::Merge | PatchKind::Strategic) => serde_json::from_slice(body).ok(),
                Ok(PatchKind::Apply) => serde_yaml::from_slice(body).ok(),
                _ => None,
            }
        }
        _ => None,
    };
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let unknown: Vec<String> = unknown_fields(store, &target.rt, &value)
        .into_iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    if mode == Mode::Strict && !unknown.is_empty() {
        let rt = &target.rt;
        let what = if method == Method::PATCH {
            "error decoding patch".to_string()
        } else {
            format!(
                "{} in version \"{}\" cannot be handled as a {}",
                rt.kind, rt.version, rt.kind
            )
        };
        return Err(ApiError::bad_request(format!(
            "{what}: strict decoding error: {}",
            unknown.join(", ")
        )));
    }
    Ok(unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualTime;
    use crate::store::StoreConfig;
    use serde_json::json;

    #[test]
    fn finds_fields_the_schema_does_not_declare() {
        let store = Store::new(StoreConfig::default(), Arc::new(ManualTime::default()));
        let (_, rt) = store
            .resolve("apps", "v1", "deployments")
            .expect("deployments");
        let body = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"any": "label"}, "bogus": 1},
            "spec": {"replicas": 1, "replica": 2, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                        "containers": [{"name": "c", "image": "i", "imagePullPolicyy": "Always",
                                        "resources": {"limits": {"cpu": "1"}}}],
                        "$setElementOrder/containers": [{"name": "c"}]}}}
        });
        assert_eq!(
            unknown_fields(&store, &rt, &body),
            [
                "metadata.bogus",
                "spec.replica",
                "spec.template.spec.containers[0].imagePullPolicyy"
            ]
        );
        let (_, cm) = store.resolve("", "v1", "configmaps").expect("configmaps");
        let ok = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}});
        assert!(unknown_fields(&store, &cm, &ok).is_empty());
    }
}
