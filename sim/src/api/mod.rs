//! The HTTP face of the simulator: one axum router that serves discovery, the REST verbs,
//! subresources and watches over a [`Store`], and renders every failure as a `Status`.
//!
//! The same router serves kubectl over TCP ([`crate::server`]) and kube-rs in-process
//! ([`crate::Sim::client`]), so both see exactly the same behaviour.

pub mod auth;
pub mod discovery;
pub mod openapi;
mod openshift;
pub mod path;
pub mod protobuf;
mod request;
pub mod stream;
pub mod table;
mod watch;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::store::{ListQuery, Part, PatchKind, Store, WatchQuery, meta};
use path::{Route, Target};
use request::Params;
use table::{IncludeObject, Representation};

/// Settings of the HTTP API.
#[derive(Clone, Default)]
pub struct ApiOptions {
    /// The bearer tokens and their users; when any is set, every request must carry one
    /// (see [`auth`]).
    pub users: auth::Users,
    /// The container runtime behind `pods/exec`, `pods/attach`, `pods/log` and
    /// `pods/portforward` (none: those answer 400 as for a pod on a node without a runtime).
    pub runtime: Option<Arc<dyn crate::kubelet::ContainerRuntime>>,
}

impl std::fmt::Debug for ApiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiOptions")
            .field("users", &"<redacted>")
            .field("runtime", &self.runtime.is_some())
            .finish()
    }
}

struct ApiState {
    store: Arc<Store>,
    options: ApiOptions,
}

/// The largest request body accepted (the real server's limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// The largest upload of a binary build (`instantiatebinary` streams it on a real server, so
/// the 3 MiB limit does not apply there: a jar is often bigger).
pub const MAX_BINARY_UPLOAD: usize = 256 * 1024 * 1024;

/// Builds the router serving `store`.
pub fn router(store: Arc<Store>, options: ApiOptions) -> Router {
    let state = Arc::new(ApiState { store, options });
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// A JSON response.
pub(crate) fn json_response(code: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (code, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// The `Status` response for an error.
pub(crate) fn error_response(err: &ApiError) -> Response {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(code, &err.to_status());
    if let Some(secs) = err.retry_after
        && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

async fn handle(State(state): State<Arc<ApiState>>, req: axum::extract::Request) -> Response {
    use axum::extract::FromRequest;
    let user = match state.options.users.authenticate(req.headers()) {
        Ok(u) => u,
        Err(e) => return error_response(&e),
    };
    // Streaming subresources take the whole request: they may upgrade the connection.
    let last_segment = req.uri().path().rsplit('/').next().unwrap_or_default();
    if stream::SUBRESOURCES.contains(&last_segment)
        && let Ok(path::Route::Resource(target)) = path::parse(&state.store, req.uri().path())
        && stream::is_stream(&target)
    {
        let runtime = state.options.runtime.clone();
        return match stream::serve(state.store.clone(), runtime, *target, req).await {
            Ok(resp) => resp,
            Err(err) => error_response(&err),
        };
    }
    let method = req.method().clone();
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    let body = if last_segment == "instantiatebinary" {
        match axum::body::to_bytes(req.into_body(), MAX_BINARY_UPLOAD).await {
            Ok(b) => b,
            Err(e) => {
                return error_response(&ApiError::too_large(format!(
                    "the binary build upload could not be read (at most {MAX_BINARY_UPLOAD} bytes): {e}"
                )));
            }
        }
    } else {
        match Bytes::from_request(req, &()).await {
            Ok(b) => b,
            Err(rejection) => return rejection.into_response(),
        }
    };
    match dispatch(&state, &user, &method, &uri, &headers, &body) {
        Ok(resp) => resp,
        Err(err) => error_response(&err),
    }
}

fn dispatch(
    state: &ApiState,
    user: &auth::User,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Response> {
    let store = &state.store;
    let route = path::parse(store, uri.path())?;
    let params = Params::parse(uri.query().unwrap_or_default())?;
    let ok = |v: Value| Ok(json_response(StatusCode::OK, &v));
    match route {
        Route::Version => ok(discovery::version()),
        Route::CoreVersions => ok(discovery::core_versions()),
        Route::Groups => ok(discovery::groups(&store.registry())),
        Route::Group(g) => discovery::group(&store.registry(), &g)
            .map_or_else(|| Err(ApiError::no_route(uri.path())), ok),
        Route::Resources(g, v) => discovery::resources(&store.registry(), &g, &v)
            .map_or_else(|| Err(ApiError::no_route(uri.path())), ok),
        Route::Health => Ok((StatusCode::OK, "ok").into_response()),
        Route::OpenApi(rest) => openapi::respond(store, &rest, headers, uri),
        Route::Resource(target) => {
            let repr = request::negotiate(headers)?;
            // The object of a create or replace, decoded once for validation and the handler.
            let object = match (method.as_str(), &target.name, target.subresource.as_deref()) {
                ("POST", None, None) | ("PUT", Some(_), None | Some("status" | "finalize")) => {
                    Some(request::decode_body(body, headers, &target.rt))
                }
                _ => None,
            };
            let valid = object.as_ref().and_then(|o| o.as_ref().ok());
            let warnings =
                openapi::validate::check(store, method, &target, &params, headers, body, valid)?;
            let os = openshift::handle(store, user, method, &target, &params, headers, body, repr);
            let mut resp = match os {
                Some(r) => r?,
                None => {
                    let req = Req {
                        method,
                        target: &target,
                        params: &params,
                        headers,
                        body,
                        object,
                    };
                    resource(store, req, repr)?
                }
            };
            for w in warnings {
                let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
                if let Ok(v) = header::HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
                    resp.headers_mut().append(header::WARNING, v);
                }
            }
            Ok(resp)
        }
    }
}

fn list_meta(result: &crate::store::ListResult) -> Value {
    let mut metadata = json!({"resourceVersion": result.rv.to_string()});
    if let Some(c) = &result.continue_token {
        metadata["continue"] = json!(c);
    }
    if let Some(r) = result.remaining {
        metadata["remainingItemCount"] = json!(r);
    }
    metadata
}

fn list_body(target: &Target, result: &crate::store::ListResult) -> Value {
    let items: Vec<&Value> = result.items.iter().map(AsRef::as_ref).collect();
    json!({
        "kind": format!("{}List", target.rt.kind),
        "apiVersion": target.rt.api_version(),
        "metadata": list_meta(result),
        "items": items,
    })
}

/// A list in the negotiated representation.
fn render_list(
    store: &Store,
    target: &Target,
    result: &crate::store::ListResult,
    repr: Representation,
    params: &Params,
) -> Value {
    let items: Vec<&Value> = result.items.iter().map(AsRef::as_ref).collect();
    match repr {
        Representation::Object => list_body(target, result),
        Representation::Table(v) => table::table(
            store,
            &target.rt,
            &items,
            list_meta(result),
            IncludeObject::parse(params.get("includeObject")),
            v,
        ),
        Representation::Metadata(v) => table::partial_metadata_list(&items, list_meta(result), v),
    }
}

/// One object in the negotiated representation.
fn render_one(
    store: &Store,
    rt: &crate::resources::ResourceType,
    obj: &Value,
    repr: Representation,
    include: IncludeObject,
) -> Value {
    match repr {
        Representation::Object => obj.clone(),
        Representation::Table(v) => table::table(
            store,
            rt,
            &[obj],
            json!({"resourceVersion": meta::resource_version(obj)}),
            include,
            v,
        ),
        Representation::Metadata(v) => table::partial_metadata(obj, v),
    }
}

/// The per-event transformation of a watch in the negotiated representation.
fn watch_transform(
    store: &Arc<Store>,
    rt: &crate::resources::ResourceType,
    repr: Representation,
    params: &Params,
) -> Option<watch::Transform> {
    if repr == Representation::Object {
        return None;
    }
    let store = store.clone();
    let rt = rt.clone();
    let include = IncludeObject::parse(params.get("includeObject"));
    Some(Arc::new(move |obj: &Value| {
        render_one(&store, &rt, obj, repr, include)
    }))
}

/// A request to a resource, as the handler sees it.
struct Req<'a> {
    method: &'a Method,
    target: &'a Target,
    params: &'a Params,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    /// The decoded object of a create or replace.
    object: Option<ApiResult<Value>>,
}

fn resource(store: &Arc<Store>, req: Req<'_>, repr: Representation) -> ApiResult<Response> {
    let Req {
        method,
        target,
        params,
        headers,
        body,
        object,
    } = req;
    let decoded = || object.unwrap_or_else(|| request::decode_body(body, headers, &target.rt));
    let tid = target.tid;
    let ns = target.namespace.as_deref().unwrap_or_default();
    let rt = &target.rt;
    let write = params.write_options();
    let ok = |v: &Value| Ok(json_response(StatusCode::OK, v));
    let created = |v: &Value| Ok(json_response(StatusCode::CREATED, v));
    let sub = target.subresource.as_deref();
    match (method.as_str(), &target.name, sub) {
        ("GET", None, None) => {
            if params.watch || target.legacy_watch {
                let q = WatchQuery {
                    labels: params.label_selector()?,
                    fields: params.field_selector(&rt.kind)?,
                    resource_version: params.get("resourceVersion").map(str::to_string),
                    send_initial_events: params.flag("sendInitialEvents"),
                    allow_bookmarks: params.flag("allowWatchBookmarks"),
                };
                let w = store.watch(tid, target.namespace.as_deref(), &q)?;
                let tf = watch_transform(store, rt, repr, params);
                return Ok(watch::respond(w, rt, params.timeout_seconds(), tf));
            }
            let q = ListQuery {
                labels: params.label_selector()?,
                fields: params.field_selector(&rt.kind)?,
                limit: params.limit()?,
                continue_token: params
                    .get("continue")
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
                exact_rv: params.exact_resource_version()?,
            };
            let result = store.list(tid, target.namespace.as_deref(), &q)?;
            ok(&render_list(store, target, &result, repr, params))
        }
        ("GET", Some(name), None | Some("status")) if params.watch || target.legacy_watch => {
            let q = WatchQuery {
                fields: crate::store::FieldSelector::parse(
                    &format!("metadata.name={name}"),
                    &rt.kind,
                )?,
                resource_version: params.get("resourceVersion").map(str::to_string),
                allow_bookmarks: params.flag("allowWatchBookmarks"),
                ..WatchQuery::default()
            };
            let w = store.watch(tid, target.namespace.as_deref(), &q)?;
            let tf = watch_transform(store, rt, repr, params);
            Ok(watch::respond(w, rt, params.timeout_seconds(), tf))
        }
        ("GET", Some(name), None | Some("status")) => {
            let obj = store.get(tid, ns, name)?;
            let include = IncludeObject::parse(params.get("includeObject"));
            ok(&render_one(store, rt, &obj, repr, include))
        }
        ("GET", Some(name), Some("scale")) => ok(&scale_of(store.get(tid, ns, name)?.as_ref())),
        ("POST", None, None) => {
            let obj = decoded()?;
            let v = store.create(tid, ns, obj, &write)?;
            created(&v)
        }
        ("PUT", Some(name), None | Some("status") | Some("finalize")) => {
            let obj = decoded()?;
            let part = if sub == Some("status") {
                Part::Status
            } else {
                Part::Main
            };
            ok(store.update(tid, ns, name, obj, part, &write)?.as_ref())
        }
        ("PUT", Some(name), Some("scale")) => {
            let scale = request::decode_any(body, headers)?;
            ok(&set_scale(store, target, name, &scale, &write)?)
        }
        ("PATCH", Some(name), None | Some("status")) => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let kind = PatchKind::from_content_type(ct)?;
            if kind == PatchKind::Apply && write.field_manager.as_deref().is_none_or(str::is_empty)
            {
                return Err(ApiError::bad_request(
                    "PATCH /apply requires a non-empty fieldManager query parameter",
                ));
            }
            let part = if sub == Some("status") {
                Part::Status
            } else {
                Part::Main
            };
            ok(store
                .patch(tid, ns, name, kind, body, part, &write)?
                .as_ref())
        }
        ("PATCH", Some(name), Some("scale")) => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let kind = PatchKind::from_content_type(ct)?;
            let current = scale_of(store.get(tid, ns, name)?.as_ref());
            let patched = crate::store::patch::apply_patch(kind, &current, body, rt, &write)?;
            ok(&set_scale(store, target, name, &patched, &write)?)
        }
        ("DELETE", Some(name), None) => {
            let opts = request::delete_options(params, body)?;
            let d = store.delete(tid, ns, name, &opts)?;
            ok(&d.object)
        }
        ("DELETE", None, None) => {
            let opts = request::delete_options(params, body)?;
            let q = ListQuery {
                labels: params.label_selector()?,
                fields: params.field_selector(&rt.kind)?,
                ..ListQuery::default()
            };
            let items = store.delete_collection(tid, target.namespace.as_deref(), &q, &opts)?;
            let result = crate::store::ListResult {
                items,
                rv: store.current_rv(),
                continue_token: None,
                remaining: None,
            };
            ok(&list_body(target, &result))
        }
        ("POST", Some(name), Some("binding")) => {
            let binding = request::decode_any(body, headers)?;
            let node = binding
                .pointer("/target/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if node.is_empty() {
                return Err(ApiError::invalid(
                    "",
                    "Binding",
                    name,
                    vec![crate::error::Cause::required("target.name")],
                ));
            }
            let pod = store.get(tid, ns, name)?;
            if pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty())
            {
                return Err(ApiError::conflict(
                    "",
                    "pods",
                    name,
                    &format!("pod {name} is already assigned to node {node:?}"),
                ));
            }
            store.bind_pod(ns, name, node)?;
            created(
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            )
        }
        ("POST", Some(name), Some("eviction")) => {
            store.delete(tid, ns, name, &crate::store::DeleteOptions::default())?;
            created(
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            )
        }
        (m, _, _) => Err(ApiError::method_not_allowed(m, &rt.plural)),
    }
}

fn scale_of(obj: &Value) -> Value {
    let selector = obj.pointer("/spec/selector").map(|s| {
        let map = s
            .get("matchLabels")
            .or(Some(s))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        map.iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(",")
    });
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta::name(obj),
            "namespace": meta::namespace(obj),
            "uid": meta::uid(obj),
            "resourceVersion": meta::resource_version(obj),
            "creationTimestamp": obj.pointer("/metadata/creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
        "status": {"replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0), "selector": selector.unwrap_or_default()},
    })
}

fn set_scale(
    store: &Store,
    target: &Target,
    name: &str,
    scale: &Value,
    write: &crate::store::WriteOptions,
) -> ApiResult<Value> {
    let ns = target.namespace.as_deref().unwrap_or_default();
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            ApiError::invalid(
                "autoscaling",
                "Scale",
                name,
                vec![crate::error::Cause::required("spec.replicas")],
            )
        })?;
    let mut patch = json!({"spec": {"replicas": replicas}});
    let rv = meta::resource_version(scale);
    if !rv.is_empty() {
        patch["metadata"] = json!({"resourceVersion": rv});
    }
    let updated = store.patch(
        target.tid,
        ns,
        name,
        PatchKind::Merge,
        patch.to_string().as_bytes(),
        Part::Main,
        write,
    )?;
    Ok(scale_of(&updated))
}

/// Streams a body chunk by chunk (watches, followed logs).
pub(crate) fn streaming_body<S>(stream: S) -> Body
where
    S: futures::Stream<Item = Bytes> + Send + 'static,
{
    use futures::StreamExt;
    Body::from_stream(stream.map(Ok::<_, Infallible>))
}
