//! `buildconfigs/<name>/instantiate`: a `BuildRequest` (what `oc start-build` sends) starts
//! the next build of a BuildConfig: `status.lastVersion` goes up by one and the Build
//! `<bc>-<n>` is created and returned (201). Binary builds (`instantiatebinary`) are not
//! modelled.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Request, modify, respond};
use crate::controllers::openshift::build::build_for;
use crate::error::ApiResult;
use crate::store::{Part, WriteOptions};

pub(super) fn instantiate(req: &Request<'_>) -> ApiResult<Response> {
    if req.method != "POST" {
        return Err(req.verb_not_allowed());
    }
    let _request = req.body()?;
    let name = req.target.name.as_deref().unwrap_or_default();
    let mut n = 0;
    let bc = modify(
        req.store,
        req.target.tid,
        req.ns(),
        name,
        Part::Status,
        |o| {
            n = o
                .pointer("/status/lastVersion")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            if !o.get("status").is_some_and(Value::is_object) {
                o["status"] = json!({});
            }
            o["status"]["lastVersion"] = json!(n);
            Ok(())
        },
    )?;
    let b_tid = req.tid("build.openshift.io", "builds")?;
    let build = req.store.create(
        b_tid,
        req.ns(),
        build_for(&bc, n, "Manually triggered"),
        &WriteOptions::default(),
    )?;
    respond(StatusCode::CREATED, &build)
}
