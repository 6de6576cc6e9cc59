//! Field validation (`fieldValidation=Strict|Warn|Ignore`): request bodies are checked
//! against the kind's schema for fields it does not declare, as the API server does. Strict
//! rejects the request (400, `strict decoding error: unknown field "spec.foo"`), Warn (the
//! default) answers with `Warning` headers, which kubectl prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
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

/// A kind's schema reduced to what field validation needs: which fields each object
/// declares, with `$ref`s resolved once. Walking a body over it costs one ordered-map lookup
/// per field, instead of the several JSON-map lookups a walk over the raw schema takes.
#[derive(Debug, Default)]
struct Shapes {
    nodes: Vec<Shape>,
}

/// One schema node.
#[derive(Debug, Default)]
struct Shape {
    /// `x-kubernetes-preserve-unknown-fields`, or an object without declared fields:
    /// anything goes below.
    open: bool,
    /// Declared properties and the node of each.
    props: BTreeMap<String, usize>,
    /// The node of `additionalProperties` (maps such as labels).
    additional: Option<usize>,
    /// The node of array items.
    items: Option<usize>,
}

impl Shapes {
    /// Compiles the schema `root` names in `defs`.
    fn compile(root: &str, defs: &Map<String, Value>) -> Option<Self> {
        let schema = defs.get(root)?;
        let mut shapes = Self::default();
        let mut by_ref = BTreeMap::new();
        shapes.node(defs, schema, &mut by_ref, 0);
        Some(shapes)
    }

    /// The node for `schema` (its index); `by_ref` memoizes named components, which also
    /// ties recursive schemas (JSONSchemaProps) into loops instead of infinite trees.
    fn node<'a>(
        &mut self,
        defs: &'a Map<String, Value>,
        mut schema: &'a Value,
        by_ref: &mut BTreeMap<&'a str, usize>,
        depth: usize,
    ) -> usize {
        let mut named = None;
        for _ in 0..8 {
            if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
                let Some(name) = r.strip_prefix("#/components/schemas/") else {
                    break;
                };
                if let Some(&id) = by_ref.get(name) {
                    return id;
                }
                match defs.get(name) {
                    Some(t) => {
                        named.get_or_insert(name);
                        schema = t;
                    }
                    None => break,
                }
            } else if let Some([one]) = schema
                .get("allOf")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
            {
                schema = one;
            } else {
                break;
            }
        }
        let id = self.nodes.len();
        self.nodes.push(Shape::default());
        if let Some(name) = named {
            by_ref.insert(name, id);
        }
        let preserve = schema
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            == Some(true);
        let props = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties").filter(|a| a.is_object());
        if preserve || depth > 64 {
            self.nodes[id].open = true;
            return id;
        }
        let mut shape = Shape {
            open: props.is_none() && additional.is_none(),
            ..Shape::default()
        };
        for (k, child) in props.into_iter().flatten() {
            let c = self.node(defs, child, by_ref, depth + 1);
            shape.props.insert(k.clone(), c);
        }
        if let Some(a) = additional {
            shape.additional = Some(self.node(defs, a, by_ref, depth + 1));
        }
        if let Some(items) = schema.get("items") {
            shape.items = Some(self.node(defs, items, by_ref, depth + 1));
        }
        self.nodes[id] = shape;
        id
    }

    /// Appends to `out` the paths below `path` of the fields in `v` that node `id` does not
    /// declare. `path` is a scratch buffer, restored on return.
    fn walk(&self, id: usize, v: &Value, path: &mut String, out: &mut Vec<String>, depth: usize) {
        let shape = &self.nodes[id];
        if depth > 64 {
            return;
        }
        match v {
            Value::Object(m) if !shape.open => {
                for (k, child) in m {
                    if k.starts_with('$') {
                        continue;
                    }
                    let len = path.len();
                    if len > 0 {
                        path.push('.');
                    }
                    path.push_str(k);
                    match shape.props.get(k.as_str()).copied().or(shape.additional) {
                        Some(c) => self.walk(c, child, path, out, depth + 1),
                        None => out.push(path.clone()),
                    }
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                if let Some(c) = shape.items {
                    for (i, item) in items.iter().enumerate() {
                        let len = path.len();
                        // Writing into a String cannot fail.
                        let _ = write!(path, "[{i}]");
                        self.walk(c, item, path, out, depth + 1);
                        path.truncate(len);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Compiled shapes of the built-in kinds, by group and kind: their schemas never change.
type ShapeCache = BTreeMap<String, BTreeMap<String, Arc<Shapes>>>;
static BUILTIN: Mutex<ShapeCache> = Mutex::new(BTreeMap::new());

fn shapes_for(store: &Store, t: &ResourceType) -> Option<Arc<Shapes>> {
    let cache = || {
        BUILTIN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some(d) = cache().get(&t.group).and_then(|g| g.get(&t.kind)) {
        return Some(d.clone());
    }
    let mut schemas = Schemas::new();
    let (root, builtin) = schemas.add(store, t);
    let shapes = Arc::new(Shapes::compile(&root, &schemas.finish())?);
    if builtin {
        cache()
            .entry(t.group.clone())
            .or_default()
            .insert(t.kind.clone(), shapes.clone());
    }
    Some(shapes)
}

/// The paths of the fields in `body` that the schema of `t` does not declare (`$`-prefixed
/// patch directives are not fields).
pub fn unknown_fields(store: &Store, t: &ResourceType, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(shapes) = shapes_for(store, t) {
        shapes.walk(0, body, &mut String::new(), &mut out, 0);
    }
    out
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
    object: Option<&Value>,
) -> ApiResult<Vec<String>> {
    let mode = Mode::parse(params.get("fieldValidation"));
    if mode == Mode::Ignore || target.subresource.is_some() || body.is_empty() {
        return Ok(Vec::new());
    }
    let parsed: Option<Value>;
    let value: Option<&Value> = match (method.as_str(), &target.name) {
        // Undecodable bodies are reported by the handler itself.
        ("POST", None) | ("PUT", Some(_)) => object,
        ("PATCH", Some(_)) => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            parsed = match PatchKind::from_content_type(ct) {
                Ok(PatchKind::Merge | PatchKind::Strategic) => serde_json::from_slice(body).ok(),
                Ok(PatchKind::Apply) => serde_yaml::from_slice(body).ok(),
                _ => None,
            };
            parsed.as_ref()
        }
        _ => None,
    };
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let unknown: Vec<String> = unknown_fields(store, &target.rt, value)
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

    #[test]
    fn recursive_schemas_are_walked_to_any_depth() {
        let store = Store::new(StoreConfig::default(), Arc::new(ManualTime::default()));
        let (_, crd) = store
            .resolve("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .expect("crds");
        // JSONSchemaProps refers to itself: the compiled shapes loop rather than recurse.
        let nested = json!({"type": "object", "properties": {"a": {"type": "object",
            "properties": {"b": {"type": "string", "typo": 1}}}}});
        let body = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "xs.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "xs", "kind": "X"},
                     "versions": [{"name": "v1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": nested}}]}
        });
        assert_eq!(
            unknown_fields(&store, &crd, &body),
            ["spec.versions[0].schema.openAPIV3Schema.properties.a.properties.b.typo"]
        );
    }
}
