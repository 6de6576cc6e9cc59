//! DeploymentConfig subresources.
//!
//! - `instantiate` (a `DeploymentRequest`, what `oc rollout latest` sends): with `latest`
//!   every ImageChange trigger (automatic or not) is resolved to its tag's current image;
//!   a fired trigger or `force` raises `status.latestVersion` (cause `ImageChange` or
//!   `Manual`) and the controller rolls the new version out. Refused with 409 while the
//!   latest version is still being deployed. `excludeTriggers` is not modelled.
//! - `rollback` (a `DeploymentConfigRollback`, what `oc rollback` sends): returns, without
//!   storing it, the DeploymentConfig with the template (`includeTemplate`), triggers
//!   (`includeTriggers`, otherwise ImageChange triggers are made manual), replicas and
//!   selector (`includeReplicationMeta`) and strategy (`includeStrategy`) of an earlier
//!   version (`spec.revision`, else `spec.from.name`, else the one before the latest); the
//!   client stores it and the ConfigChange trigger rolls it out.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Request, respond};
use crate::controllers::openshift::deploymentconfig::{
    bump_version, encoded_config, phase_of, resolve_triggers, version_of,
};
use crate::error::{ApiError, ApiResult};
use crate::store::{Part, WriteOptions, meta};

fn dc_name<'a>(req: &'a Request<'_>) -> &'a str {
    req.target.name.as_deref().unwrap_or_default()
}

pub(super) fn instantiate(req: &Request<'_>) -> ApiResult<Response> {
    if req.method != "POST" {
        return Err(req.verb_not_allowed());
    }
    let body = req.body()?;
    let name = dc_name(req);
    let tid = req.target.tid;
    let store = req.store;
    let dc = store.get(tid, req.ns(), name)?;
    let rc_tid = req.tid("", "replicationcontrollers")?;
    let latest_v = dc
        .pointer("/status/latestVersion")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    // A version the controller has not made yet counts as New.
    let phase = match store.get(rc_tid, req.ns(), &format!("{name}-{latest_v}")) {
        Ok(rc) => phase_of(&rc).to_string(),
        Err(_) if latest_v > 0 => "New".to_string(),
        Err(_) => "Complete".to_string(),
    };
    if !matches!(phase.as_str(), "Complete" | "Failed") {
        return Err(ApiError::conflict(
            "apps.openshift.io",
            "deploymentconfigs",
            name,
            &format!("#{latest_v} is already in progress ({phase})"),
        ));
    }
    let latest = body.get("latest").and_then(Value::as_bool) == Some(true);
    let force = body.get("force").and_then(Value::as_bool) == Some(true);
    let is_tid = req.tid("image.openshift.io", "imagestreams")?;
    let resolved = resolve_triggers(&dc, latest, &|k| store.get(is_tid, &k.0, &k.1).ok());
    if !resolved.complete {
        return Err(ApiError::bad_request(format!(
            "cannot trigger a deployment for \"{name}\" because it contains unresolved images"
        )));
    }
    let dc = if resolved.dc != *dc {
        store.update(
            tid,
            req.ns(),
            name,
            resolved.dc,
            Part::Main,
            &WriteOptions::default(),
        )?
    } else {
        dc
    };
    let causes = if !resolved.causes.is_empty() {
        resolved.causes
    } else if force {
        vec![json!({"type": "Manual"})]
    } else {
        return respond(StatusCode::CREATED, &dc);
    };
    let out = bump_version(store, tid, &dc, causes)?;
    respond(StatusCode::CREATED, &out)
}

pub(super) fn rollback(req: &Request<'_>) -> ApiResult<Response> {
    if req.method != "POST" {
        return Err(req.verb_not_allowed());
    }
    let body = req.body()?;
    let name = dc_name(req);
    let dc = req.store.get(req.target.tid, req.ns(), name)?;
    let rc_tid = req.tid("", "replicationcontrollers")?;
    let latest_v = dc
        .pointer("/status/latestVersion")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let spec = body.get("spec").cloned().unwrap_or_default();
    let flag = |f: &str| spec.get(f).and_then(Value::as_bool) == Some(true);
    let rc_name = match spec
        .get("revision")
        .and_then(Value::as_i64)
        .filter(|r| *r > 0)
    {
        Some(r) => format!("{name}-{r}"),
        None => match spec.pointer("/from/name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ if latest_v > 1 => format!("{name}-{}", latest_v - 1),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "no previous deployment of \"{name}\" to roll back to"
                )));
            }
        },
    };
    let rc = req.store.get(rc_tid, req.ns(), &rc_name)?;
    if meta::namespace(&rc) != req.ns() || version_of(&rc) == 0 {
        return Err(ApiError::bad_request(format!(
            "{rc_name} is not a deployment of \"{name}\""
        )));
    }
    let Some(from) = encoded_config(&rc) else {
        return Err(ApiError::bad_request(format!(
            "{rc_name} has no recorded deployment config to roll back to"
        )));
    };
    let mut out = (*dc).clone();
    let copy = |out: &mut Value, f: &str| {
        if let Some(v) = from.pointer(&format!("/spec/{f}")) {
            out["spec"][f] = v.clone();
        }
    };
    if flag("includeTemplate") {
        copy(&mut out, "template");
    }
    if flag("includeReplicationMeta") {
        copy(&mut out, "replicas");
        copy(&mut out, "selector");
    }
    if flag("includeStrategy") {
        copy(&mut out, "strategy");
    }
    if flag("includeTriggers") {
        copy(&mut out, "triggers");
    } else if let Some(ts) = out
        .pointer_mut("/spec/triggers")
        .and_then(Value::as_array_mut)
    {
        for t in ts {
            if let Some(p) = t
                .get_mut("imageChangeParams")
                .and_then(Value::as_object_mut)
            {
                p.insert("automatic".into(), json!(false));
            }
        }
    }
    respond(StatusCode::OK, &out)
}
