//! OpenAPI documents: `/openapi/v3` (the index of group-versions), `/openapi/v3/api/v1` and
//! `/openapi/v3/apis/<g>/<v>` (paths and component schemas), and `/openapi/v2` (Swagger 2.0,
//! JSON or protobuf: [`v2`]).
//!
//! kubectl reads them for three things: `apply` checks that PATCH on the kind declares the
//! `fieldValidation` query parameter (server-side validation) and computes strategic merge
//! patches from the schemas' `x-kubernetes-patch-*` extensions; `explain` prints field docs.
//! The schemas of built-in kinds come from k8s-openapi's JSON schemas (with the upstream
//! descriptions); custom resources use their CRD's `openAPIV3Schema`; other kinds (the
//! OpenShift groups) get an open object schema.

mod kinds;
pub mod v2;
pub mod validate;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::resources::{Registry, ResourceType};
use crate::store::Store;

/// What a client's `Accept` header lets `/openapi/<rest>` answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Json,
    /// gnostic's `openapi.v2.Document` (only `/openapi/v2` has it), labelled with this
    /// content type.
    ProtoV2(&'static str),
}

/// The first type in `accept`, in the client's order, that the document at `rest` is served
/// in. An empty header means JSON. The v3 protobuf encoding is not served: clients that ask
/// for it also list JSON.
fn negotiate(accept: &str, rest: &str) -> Option<Encoding> {
    if accept.trim().is_empty() {
        return Some(Encoding::Json);
    }
    accept
        .split(',')
        .find_map(|a| match a.split(';').next().unwrap_or_default().trim() {
            "application/json" | "*/*" | "application/*" => Some(Encoding::Json),
            t @ (v2::PROTO_MEDIA_TYPE | v2::PROTO_MEDIA_TYPE_DOTTED) if rest == "v2" => {
                Some(Encoding::ProtoV2(v2::proto_content_type(t)))
            }
            _ => None,
        })
}

/// Serves `/openapi/<rest>`: JSON, or for `/openapi/v2` also protobuf when the client asks
/// for it (client-go's Swagger reader accepts nothing else); other types get a 406.
pub(crate) fn respond(
    store: &Store,
    rest: &str,
    headers: &HeaderMap,
    uri: &Uri,
) -> ApiResult<Response> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(encoding) = negotiate(accept, rest) else {
        return Err(ApiError::not_acceptable(accept));
    };
    let doc = match rest {
        "v2" => Arc::new(v2::document(store)),
        "v3" => Arc::new(v3_index(&store.registry())),
        other => other
            .strip_prefix("v3/")
            .and_then(|gv| v3_group_version(store, gv))
            .ok_or_else(|| ApiError::no_route(uri.path()))?,
    };
    let mut resp = match encoding {
        Encoding::Json => crate::api::json_response(StatusCode::OK, &doc),
        Encoding::ProtoV2(content_type) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type)],
            v2::encode(&doc),
        )
            .into_response(),
    };
    if uri.query().is_some_and(|q| q.contains("hash=")) {
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("public, immutable"),
        );
    }
    Ok(resp)
}

/// The `/openapi/v3` index: one entry per served group-version, with a content hash in the
/// URL so clients cache each document until it changes.
pub fn v3_index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (g, v) in registry.group_versions() {
        let key = gv_path(&g, &v);
        let hash = gv_hash(registry, &g, &v);
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn types_of<'a>(registry: &'a Registry, group: &str, version: &str) -> Vec<&'a ResourceType> {
    registry
        .iter()
        .map(|(_, t)| t)
        .filter(|t| t.group == group && t.version == version)
        .collect()
}

fn gv_hash(registry: &Registry, group: &str, version: &str) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    for t in types_of(registry, group, version) {
        h.update(format!("{}/{}/{:?};", t.kind, t.plural, t.subresources));
    }
    hex::encode_upper(&h.finalize()[..16])
}

/// Caches generated documents by group-version hash (they are large and clients fetch them
/// on every `kubectl apply`).
static CACHE: Mutex<BTreeMap<String, Arc<Value>>> = Mutex::new(BTreeMap::new());

/// `/openapi/v3/<path>` for a group-version path such as `api/v1` or `apis/apps/v1`, or None
/// when no such group-version is served.
pub fn v3_group_version(store: &Store, path: &str) -> Option<Arc<Value>> {
    let registry = store.registry();
    let (group, version) = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["api", v] => (String::new(), (*v).to_string()),
        ["apis", g, v] => ((*g).to_string(), (*v).to_string()),
        _ => return None,
    };
    let types = types_of(&registry, &group, &version);
    if types.is_empty() {
        return None;
    }
    let has_crds = types.iter().any(|t| kinds::is_custom(t));
    let key = format!("{group}/{version}/{}", gv_hash(&registry, &group, &version));
    if !has_crds
        && let Some(doc) = CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
    {
        return Some(doc.clone());
    }
    let doc = Arc::new(build_v3(store, &types));
    if !has_crds {
        CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, doc.clone());
    }
    Some(doc)
}

fn gvk(t: &ResourceType) -> Value {
    json!([{"group": t.group, "version": t.version, "kind": t.kind}])
}

fn query_param(name: &str, description: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": ty, "uniqueItems": true}})
}

fn write_params() -> Vec<Value> {
    vec![
        query_param(
            "dryRun",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
            "string",
        ),
        query_param(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
            "string",
        ),
        query_param(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
            "string",
        ),
    ]
}

fn list_params() -> Vec<Value> {
    [
        ("labelSelector", "A selector to restrict the list of returned objects by their labels."),
        ("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
        ("limit", "limit is a maximum number of responses to return for a list call."),
        ("continue", "The continue option should be set when retrieving more results from the server."),
        ("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from."),
        ("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."),
        ("timeoutSeconds", "Timeout for the list/watch call."),
    ]
    .iter()
    .map(|(n, d)| {
        let ty = match *n {
            "limit" | "timeoutSeconds" => "integer",
            "watch" => "boolean",
            _ => "string",
        };
        query_param(n, d, ty)
    })
    .collect()
}

fn body_of(schema_ref: &Value, types: &[&str]) -> Value {
    let content: Map<String, Value> = types
        .iter()
        .map(|t| ((*t).to_string(), json!({"schema": schema_ref})))
        .collect();
    json!({"content": content, "required": true})
}

fn response(schema_ref: &Value) -> Value {
    json!({"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref}}}, "401": {"description": "Unauthorized"}})
}

fn op(t: &ResourceType, action: &str, id: &str, params: Vec<Value>) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("operationId".into(), json!(id));
    o.insert("tags".into(), json!([t.group.clone() + "_" + &t.version]));
    o.insert("parameters".into(), Value::Array(params));
    o.insert("x-kubernetes-action".into(), json!(action));
    o.insert(
        "x-kubernetes-group-version-kind".into(),
        gvk(t).get(0).cloned().unwrap_or(Value::Null),
    );
    o
}

fn paths_for(t: &ResourceType, schema_ref: &Value, strategic: bool) -> Vec<(String, Value)> {
    let gv = gv_path(&t.group, &t.version);
    let kind = &t.kind;
    let (collection, object) = if t.namespaced {
        (
            format!("/{gv}/namespaces/{{namespace}}/{}", t.plural),
            format!("/{gv}/namespaces/{{namespace}}/{}/{{name}}", t.plural),
        )
    } else {
        (
            format!("/{gv}/{}", t.plural),
            format!("/{gv}/{}/{{name}}", t.plural),
        )
    };
    let mut path_params = vec![];
    if t.namespaced {
        path_params.push(json!({"name": "namespace", "in": "path", "required": true, "description": "object name and auth scope, such as for teams and projects", "schema": {"type": "string", "uniqueItems": true}}));
    }
    let mut out = Vec::new();
    let mut coll = Map::new();
    coll.insert("parameters".into(), Value::Array(path_params.clone()));
    let mut list = op(t, "list", &format!("list{kind}"), list_params());
    list.insert("responses".into(), json!({"200": {"description": "OK"}}));
    coll.insert("get".into(), Value::Object(list));
    let mut post = op(t, "post", &format!("create{kind}"), write_params());
    post.insert(
        "requestBody".into(),
        body_of(
            schema_ref,
            &[
                "application/json",
                "application/yaml",
                "application/vnd.kubernetes.protobuf",
            ],
        ),
    );
    post.insert("responses".into(), response(schema_ref));
    coll.insert("post".into(), Value::Object(post));
    out.push((collection, Value::Object(coll)));

    let mut obj = Map::new();
    let mut params = path_params;
    params.insert(0, json!({"name": "name", "in": "path", "required": true, "description": format!("name of the {kind}"), "schema": {"type": "string", "uniqueItems": true}}));
    obj.insert("parameters".into(), Value::Array(params));
    let mut get = op(t, "get", &format!("read{kind}"), vec![]);
    get.insert("responses".into(), response(schema_ref));
    obj.insert("get".into(), Value::Object(get));
    let mut put = op(t, "put", &format!("replace{kind}"), write_params());
    put.insert(
        "requestBody".into(),
        body_of(
            schema_ref,
            &[
                "application/json",
                "application/yaml",
                "application/vnd.kubernetes.protobuf",
            ],
        ),
    );
    put.insert("responses".into(), response(schema_ref));
    obj.insert("put".into(), Value::Object(put));
    let mut patch_params = write_params();
    patch_params.push(query_param(
        "force",
        "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people.",
        "boolean",
    ));
    let mut patch = op(t, "patch", &format!("patch{kind}"), patch_params);
    let mut patch_types = vec![
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ];
    if strategic {
        patch_types.push("application/strategic-merge-patch+json");
    }
    patch.insert(
        "requestBody".into(),
        body_of(
            &json!({"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}),
            &patch_types,
        ),
    );
    patch.insert("responses".into(), response(schema_ref));
    obj.insert("patch".into(), Value::Object(patch));
    let mut delete = op(
        t,
        "delete",
        &format!("delete{kind}"),
        vec![
            query_param(
                "dryRun",
                "When present, indicates that modifications should not be persisted.",
                "string",
            ),
            query_param(
                "gracePeriodSeconds",
                "The duration in seconds before the object should be deleted.",
                "integer",
            ),
            query_param(
                "propagationPolicy",
                "Whether and how garbage collection will be performed.",
                "string",
            ),
        ],
    );
    delete.insert("responses".into(), json!({"200": {"description": "OK"}}));
    obj.insert("delete".into(), Value::Object(delete));
    out.push((object, Value::Object(obj)));
    out
}

fn build_v3(store: &Store, types: &[&ResourceType]) -> Value {
    let mut schemas = kinds::Schemas::new();
    let mut paths = Map::new();
    for t in types {
        let (name, builtin) = schemas.add(store, t);
        let schema_ref = json!({"$ref": format!("#/components/schemas/{name}")});
        for (p, item) in paths_for(t, &schema_ref, builtin) {
            paths.insert(p, item);
        }
    }
    let components = schemas.finish();
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
        "components": {"schemas": components},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualTime;
    use crate::store::StoreConfig;

    #[test]
    fn accept_picks_the_first_served_encoding() {
        let proto = v2::PROTO_MEDIA_TYPE;
        assert_eq!(negotiate("", "v2"), Some(Encoding::Json));
        assert_eq!(
            negotiate(proto, "v2"),
            Some(Encoding::ProtoV2("application/octet-stream"))
        );
        assert_eq!(
            negotiate(v2::PROTO_MEDIA_TYPE_DOTTED, "v2"),
            Some(Encoding::ProtoV2(v2::PROTO_MEDIA_TYPE_DOTTED))
        );
        assert_eq!(
            negotiate(&format!("application/json;q=0.9, {proto}"), "v2"),
            Some(Encoding::Json)
        );
        assert_eq!(
            negotiate(&format!("text/html, {proto}, */*"), "v2"),
            Some(Encoding::ProtoV2("application/octet-stream"))
        );
        // Only the Swagger document has a protobuf form here.
        assert_eq!(negotiate(proto, "v3/api/v1"), None);
        assert_eq!(negotiate("text/html", "v2"), None);
    }

    #[test]
    fn documents_carry_what_kubectl_reads() {
        let store = Store::new(StoreConfig::default(), Arc::new(ManualTime::default()));
        let index = v3_index(&store.registry());
        let url = index
            .pointer("/paths/apis~1apps~1v1/serverRelativeURL")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{index}");

        let doc = v3_group_version(&store, "apis/apps/v1").expect("apps/v1 document");
        let patch = doc
            .pointer("/paths/~1apis~1apps~1v1~1namespaces~1{namespace}~1deployments~1{name}/patch")
            .expect("PATCH on a deployment");
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        let params: Vec<&str> = patch["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(params.contains(&"fieldValidation"), "{params:?}");
        assert!(
            patch
                .pointer("/requestBody/content/application~1strategic-merge-patch+json")
                .is_some()
        );
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        // The two `retainKeys` fields of the real schema (DaemonSet's updateStrategy is not).
        let volumes = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"];
        assert_eq!(volumes["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
        let spec =
            |d: &str, f: &str| schemas[format!("io.k8s.api.apps.v1.{d}")]["properties"][f].clone();
        assert_eq!(
            spec("DeploymentSpec", "strategy")["x-kubernetes-patch-strategy"],
            "retainKeys"
        );
        assert!(
            spec("DaemonSetSpec", "updateStrategy")
                .get("x-kubernetes-patch-strategy")
                .is_none()
        );
        assert!(
            schemas["io.k8s.api.core.v1.Container"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("single application container"))
        );
        assert!(v3_group_version(&store, "apis/nope/v1").is_none());

        let v2doc = v2::document(&store);
        let r = v2doc.pointer("/definitions/io.k8s.api.core.v1.Pod/properties/spec/$ref");
        assert_eq!(
            r.and_then(Value::as_str),
            Some("#/definitions/io.k8s.api.core.v1.PodSpec")
        );
    }
}
