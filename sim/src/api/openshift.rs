//! The OpenShift API endpoints that are not plain stored objects (flavor openshift):
//!
//! - [`deploy`][]: `deploymentconfigs/<name>/instantiate` and `/rollback`
//! - [`build`][]: `buildconfigs/<name>/instantiate` (`oc start-build`) and
//!   `/instantiatebinary` (`oc start-build --from-dir/--from-file/--from-archive`)
//! - [`images`][]: `imagestreamtags` and `imagestreamimages` (views of ImageStreams, and tag
//!   add/move/remove as `oc tag` does them) and `imagestreammappings` (an image pushed to a tag)
//! - [`project`][]: `projects` (views of Namespaces) and `projectrequests`
//! - [`template`][]: `processedtemplates` (parameters, generated values, substitution, labels)
//!
//! The log subresources `builds/<name>/log` and `deploymentconfigs/<name>/log` stream, so
//! they live with the other streams in [`crate::api::stream::openshift_log`].
//!
//! [`handle`] claims the requests these serve; everything else goes to the generic REST code.

mod build;
mod deploy;
mod images;
mod project;
mod template;
mod zip_upload;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::path::Target;
use super::request::Params;
use super::table::Representation;
use crate::error::{ApiError, ApiResult};
use crate::store::{Part, Store, WriteOptions, meta};

/// Serves the request if it is one of the OpenShift endpoints above (None otherwise).
#[allow(clippy::too_many_arguments)] // the parts of one request, passed through once
pub(super) fn handle(
    store: &Arc<Store>,
    user: &super::auth::User,
    method: &Method,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
    repr: Representation,
) -> Option<ApiResult<Response>> {
    let rt = &target.rt;
    if !rt.group.ends_with(".openshift.io") {
        return None;
    }
    let req = Request {
        store,
        user,
        method,
        target,
        params,
        headers,
        body,
        repr,
    };
    Some(match (rt.plural.as_str(), target.subresource.as_deref()) {
        ("deploymentconfigs", Some("instantiate")) => deploy::instantiate(&req),
        ("deploymentconfigs", Some("rollback")) => deploy::rollback(&req),
        ("buildconfigs", Some("instantiate")) => build::instantiate(&req),
        ("buildconfigs", Some("instantiatebinary")) => build::instantiate_binary(&req),
        ("imagestreamtags", None) => images::tags(&req),
        ("imagestreamimages", None) => images::image(&req),
        ("imagestreammappings", None) => images::mapping(&req),
        ("projects", None) => project::projects(&req),
        ("projectrequests", None) => project::request(&req),
        ("processedtemplates", None) => template::process(&req),
        _ => return None,
    })
}

/// One request to an OpenShift endpoint.
struct Request<'a> {
    store: &'a Arc<Store>,
    /// Who is calling.
    user: &'a super::auth::User,
    method: &'a Method,
    target: &'a Target,
    params: &'a Params,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    repr: Representation,
}

impl Request<'_> {
    fn ns(&self) -> &str {
        self.target.namespace.as_deref().unwrap_or_default()
    }

    fn body(&self) -> ApiResult<Value> {
        super::request::decode_body(self.body, self.headers, &self.target.rt)
    }

    fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(&self.target.rt.group, &self.target.rt.plural, name)
    }

    fn verb_not_allowed(&self) -> ApiError {
        ApiError::method_not_allowed(self.method.as_str(), &self.target.rt.plural)
    }

    /// The type handle of another served resource.
    fn tid(&self, group: &str, plural: &str) -> ApiResult<crate::resources::TypeId> {
        self.store
            .resolve(group, "v1", plural)
            .map(|(t, _)| t)
            .ok_or_else(|| ApiError::internal(format!("{plural}.{group} is not served")))
    }
}

fn respond(code: StatusCode, v: &Value) -> ApiResult<Response> {
    Ok(super::json_response(code, v))
}

fn success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}

/// Read-modify-write of a stored object, retried when a controller wrote in between.
fn modify(
    store: &Store,
    tid: crate::resources::TypeId,
    ns: &str,
    name: &str,
    part: Part,
    mut f: impl FnMut(&mut Value) -> ApiResult<()>,
) -> ApiResult<Arc<Value>> {
    let mut last = None;
    for _ in 0..5 {
        let mut o = (*store.get(tid, ns, name)?).clone();
        f(&mut o)?;
        match store.update(tid, ns, name, o, part, &WriteOptions::default()) {
            Err(e) if e.code == 409 => last = Some(e),
            other => return other,
        }
    }
    Err(last.unwrap_or_else(|| ApiError::internal(format!("{name}: too many conflicting writes"))))
}

/// `metadata` of a view object built from a stored one.
fn view_meta(of: &Value, name: &str) -> Value {
    json!({
        "name": name,
        "namespace": meta::namespace(of),
        "uid": meta::uid(of),
        "resourceVersion": meta::resource_version(of),
        "creationTimestamp": of.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null),
    })
}
