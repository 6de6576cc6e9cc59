//! Projects and ProjectRequests: a project is a Namespace with a display name and a
//! description (annotations `openshift.io/display-name`, `openshift.io/description`).
//!
//! - `projectrequests` POST creates the Namespace (409 when it exists), records the caller in
//!   `openshift.io/requester` and answers with the Project; GET answers `Success` (the caller
//!   may request projects).
//! - `projects` GET/LIST/WATCH are views of Namespaces; POST creates one; DELETE deletes the
//!   Namespace (which then terminates as namespaces do).
//! - Who sees what ([`crate::api::auth`] names the caller): an admin sees every project; any
//!   other user lists and watches only the projects it requested, and a GET or DELETE of
//!   another one (or of one that does not exist) is 403 Forbidden, as RBAC answers on
//!   OpenShift; only an admin may POST `projects` directly. Roles granted in a project
//!   (RoleBindings) are not modelled: a project is its requester's alone.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Request, respond, success};
use crate::api::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::store::{ListQuery, ListResult, WatchQuery, WriteOptions, meta};

/// Annotation holding a project's display name.
pub const DISPLAY_NAME: &str = "openshift.io/display-name";
/// Annotation holding a project's description.
pub const DESCRIPTION: &str = "openshift.io/description";
/// Annotation naming who requested a project.
pub const REQUESTER: &str = "openshift.io/requester";

/// Whether `user` may see the project of Namespace `ns`.
fn visible(user: &User, ns: &Value) -> bool {
    user.is_admin()
        || ns
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(REQUESTER))
            .and_then(Value::as_str)
            == Some(user.name.as_str())
}

/// 403 for `verb` on project `name` by a user it is hidden from.
fn forbidden(user: &User, verb: &str, name: &str) -> ApiError {
    ApiError::forbidden(
        "project.openshift.io",
        "projects",
        name,
        format!(
            "projects.project.openshift.io \"{name}\" is forbidden: User \"{}\" cannot {verb} resource \"projects\" in API group \"project.openshift.io\" in the namespace \"{name}\"",
            user.name
        ),
    )
}

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
    requester: Option<&str>,
) -> ApiResult<Value> {
    let ns_tid = req.tid("", "namespaces")?;
    let mut annotations = json!({});
    if let Some(r) = requester {
        annotations[REQUESTER] = json!(r);
    }
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
            let requester = Some(req.user.name.as_str());
            let p = create_namespace(
                req,
                &name,
                s("displayName"),
                s("description"),
                None,
                requester,
            )?;
            respond(StatusCode::CREATED, &p)
        }
        _ => Err(req.verb_not_allowed()),
    }
}

/// The one name a field selector pins (`metadata.name=X` or `==X`), if it pins one.
fn named_by_field_selector(selector: Option<&str>) -> Option<String> {
    selector?.split(',').find_map(|term| {
        let term = term.trim();
        let value = term
            .strip_prefix("metadata.name==")
            .or_else(|| term.strip_prefix("metadata.name="))?;
        (!value.is_empty()).then(|| value.to_string())
    })
}

pub(super) fn projects(req: &Request<'_>) -> ApiResult<Response> {
    let ns_tid = req.tid("", "namespaces")?;
    let store = req.store;
    let params = req.params;
    let user = req.user.clone();
    match (req.method.as_str(), req.target.name.as_deref()) {
        ("GET", None) if params.watch || req.target.legacy_watch => {
            // `oc get project X -w` watches one project by name: authorized like a get of it.
            if let Some(name) = named_by_field_selector(params.get("fieldSelector"))
                && !user.is_admin()
                && !store
                    .get(ns_tid, "", &name)
                    .is_ok_and(|ns| visible(&user, &ns))
            {
                return Err(forbidden(&user, "watch", &name));
            }
            let q = WatchQuery {
                labels: params.label_selector()?,
                fields: params.field_selector("Namespace")?,
                resource_version: params.get("resourceVersion").map(str::to_string),
                send_initial_events: params.flag("sendInitialEvents"),
                allow_bookmarks: params.flag("allowWatchBookmarks"),
            };
            let w = store.watch(ns_tid, None, &q)?;
            let tf: crate::api::watch::Transform = std::sync::Arc::new(|o: &Value| project_of(o));
            let keep: crate::api::watch::Filter =
                std::sync::Arc::new(move |o: &Value| visible(&user, o));
            Ok(crate::api::watch::respond_filtered(
                w,
                &req.target.rt,
                params.timeout_seconds(),
                Some(tf),
                Some(keep),
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
                .filter(|n| visible(&user, n))
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
            let ns = store.get(ns_tid, "", name).ok();
            let ns = match ns {
                Some(ns) if visible(&user, &ns) => ns,
                _ if !user.is_admin() => return Err(forbidden(&user, "get", name)),
                _ => return Err(req.not_found(name)),
            };
            let p = project_of(&ns);
            let include = crate::api::table::IncludeObject::parse(params.get("includeObject"));
            let body = crate::api::render_one(store, &req.target.rt, &p, req.repr, include);
            respond(StatusCode::OK, &body)
        }
        ("POST", None) => {
            let body = req.body()?;
            if !user.is_admin() {
                return Err(ApiError::forbidden(
                    "project.openshift.io",
                    "projects",
                    meta::name(&body),
                    format!(
                        "projects.project.openshift.io is forbidden: User \"{}\" cannot create resource \"projects\" in API group \"project.openshift.io\" at the cluster scope",
                        user.name
                    ),
                ));
            }
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
                None,
            )?;
            respond(StatusCode::CREATED, &p)
        }
        ("DELETE", Some(name)) => {
            if !user.is_admin()
                && !store
                    .get(ns_tid, "", name)
                    .is_ok_and(|ns| visible(&user, &ns))
            {
                return Err(forbidden(&user, "delete", name));
            }
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
