//! Projects and ProjectRequests: a project is a Namespace with a display name and a
//! description (annotations `openshift.io/display-name`, `openshift.io/description`).
//!
//! - `projectrequests` POST creates the Namespace (409 when it exists) and answers with the
//!   Project; GET answers `Success` (the caller may request projects).
//! - `projects` GET/LIST/WATCH are views of Namespaces; POST creates one; DELETE deletes the
//!   Namespace (which then terminates as namespaces do). Every caller sees every project: the
//!   simulator has no users, so "only the requester's projects" is not modelled.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Request, respond, success};
use crate::error::{ApiError, ApiResult};
use crate::store::{ListQuery, ListResult, WatchQuery, WriteOptions, meta};

/// Annotation holding a project's display name.
pub const DISPLAY_NAME: &str = "openshift.io/display-name";
/// Annotation holding a project's description.
pub const DESCRIPTION: &str = "openshift.io/description";
/// Annotation naming who requested a project.
pub const REQUESTER: &str = "openshift.io/requester";

/// The Project view of a Namespace.
fn project_of(ns: &Value) -> Value {
    let mut metadata = ns.get("metadata").cloned().unwrap_or_else(|| json!({}));
    if let Some(m) = metadata.as_object_mut() {
        m.remove("managedFields");
    }
    json!({
        "kind": "Project",
        "apiVersion": "project.openshift.io/v1",
        "metadata": metadata,
        "spec": ns.get("spec").cloned().unwrap_or_else(|| json!({})),
        "status": ns.get("status").cloned().unwrap_or_else(|| json!({})),
    })
}

fn create_namespace(
    req: &Request<'_>,
    name: &str,
    display: Option<&str>,
    description: Option<&str>,
    labels: Option<&Value>,
) -> ApiResult<Value> {
    let ns_tid = req.tid("", "namespaces")?;
    let mut annotations = json!({REQUESTER: "developer"});
    if let Some(d) = display.filter(|d| !d.is_empty()) {
        annotations[DISPLAY_NAME] = json!(d);
    }
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        annotations[DESCRIPTION] = json!(d);
    }
    let mut obj = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "annotations": annotations}});
    if let Some(l) = labels.filter(|l| l.is_object()) {
        obj["metadata"]["labels"] = l.clone();
    }
    match req.store.create(ns_tid, "", obj, &WriteOptions::default()) {
        Ok(ns) => Ok(project_of(&ns)),
        Err(e) if e.code == 409 => Err(ApiError::already_exists(
            "project.openshift.io",
            "project",
            name,
        )),
        Err(e) => {
            let mut e = e;
            e.group = "project.openshift.io".into();
            e.kind = "Project".into();
            Err(e)
        }
    }
}

pub(super) fn request(req: &Request<'_>) -> ApiResult<Response> {
    match req.method.as_str() {
        "GET" => respond(StatusCode::OK, &success(200)),
        "POST" => {
            let body = req.body()?;
            let name = meta::name(&body).to_string();
            let s = |f: &str| body.get(f).and_then(Value::as_str);
            let p = create_namespace(req, &name, s("displayName"), s("description"), None)?;
            respond(StatusCode::CREATED, &p)
        }
        _ => Err(req.verb_not_allowed()),
    }
}

pub(super) fn projects(req: &Request<'_>) -> ApiResult<Response> {
    let ns_tid = req.tid("", "namespaces")?;
    let store = req.store;
    let params = req.params;
    match (req.method.as_str(), req.target.name.as_deref()) {
        ("GET", None) if params.watch || req.target.legacy_watch => {
            let q = WatchQuery {
                labels: params.label_selector()?,
                fields: params.field_selector("Namespace")?,
                resource_version: params.get("resourceVersion").map(str::to_string),
                send_initial_events: params.flag("sendInitialEvents"),
                allow_bookmarks: params.flag("allowWatchBookmarks"),
            };
            let w = store.watch(ns_tid, None, &q)?;
            let tf: crate::api::watch::Transform = std::sync::Arc::new(|o: &Value| project_of(o));
            Ok(crate::api::watch::respond(
                w,
                &req.target.rt,
                params.timeout_seconds(),
                Some(tf),
            ))
        }
        ("GET", None) => {
            let q = ListQuery {
                labels: params.label_selector()?,
                fields: params.field_selector("Namespace")?,
                ..ListQuery::default()
            };
            let list = store.list(ns_tid, None, &q)?;
            let items = list
                .items
                .iter()
                .map(|n| std::sync::Arc::new(project_of(n)))
                .collect();
            let result = ListResult {
                items,
                rv: list.rv,
                continue_token: None,
                remaining: None,
            };
            let body = crate::api::render_list(store, req.target, &result, req.repr, req.params);
            respond(StatusCode::OK, &body)
        }
        ("GET", Some(name)) => {
            let ns = store
                .get(ns_tid, "", name)
                .map_err(|_| req.not_found(name))?;
            let p = project_of(&ns);
            let include = crate::api::table::IncludeObject::parse(params.get("includeObject"));
            let body = crate::api::render_one(store, &req.target.rt, &p, req.repr, include);
            respond(StatusCode::OK, &body)
        }
        ("POST", None) => {
            let body = req.body()?;
            let name = meta::name(&body).to_string();
            let a = |k: &str| {
                body.pointer("/metadata/annotations")
                    .and_then(|a| a.get(k))
                    .and_then(Value::as_str)
            };
            let p = create_namespace(
                req,
                &name,
                a(DISPLAY_NAME),
                a(DESCRIPTION),
                body.pointer("/metadata/labels"),
            )?;
            respond(StatusCode::CREATED, &p)
        }
        ("DELETE", Some(name)) => {
            store
                .delete(ns_tid, "", name, &crate::store::DeleteOptions::default())
                .map_err(|e| {
                    if e.code == 404 {
                        req.not_found(name)
                    } else {
                        e
                    }
                })?;
            respond(StatusCode::OK, &success(200))
        }
        _ => Err(req.verb_not_allowed()),
    }
}
