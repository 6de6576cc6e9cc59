//! DeploymentConfig subresources.
//!
//! - `instantiate` (a `DeploymentRequest`, what `oc rollout latest` sends), as
//!   openshift-apiserver's `instantiate` REST does it: with `latest` the ImageChange
//!   triggers are resolved to their tags' current images (the automatic ones; all of them
//!   with `force`), unless `excludeTriggers` names `ImageChange`: then no image is
//!   re-resolved and the rollout uses the template's current image. Any ImageChange trigger
//!   still without a `lastTriggeredImage` is a 400 ("unresolved images"). `force` raises
//!   `status.latestVersion` with the cause `Manual`; without it a trigger that fired here
//!   does so with the cause `ImageChange`. The controller rolls the new version out.
//!   A paused DeploymentConfig is a 422 (`spec.paused`); a request while the latest
//!   version is still being deployed a 409.
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
    Resolved, bump_version, encoded_config, image_triggers, phase_of, resolve_triggers, version_of,
};
use crate::error::{ApiError, ApiResult, Cause};
use crate::store::{Part, WriteOptions, meta};

fn dc_name<'a>(req: &'a Request<'_>) -> &'a str {
    req.target.name.as_deref().unwrap_or_default()
}

/// The trigger types of a request's `excludeTriggers`. The real server decodes the field
/// as a list of strings (a value of another JSON type fails decoding: 400) and does not
/// check the names: a type it does not know simply matches no trigger.
fn exclude_triggers(body: &Value) -> ApiResult<Vec<String>> {
    let bad = |v: &Value| {
        ApiError::bad_request(format!(
            "DeploymentRequest in version \"v1\" cannot be handled as a DeploymentRequest: excludeTriggers: expected a list of trigger type strings, got {v}"
        ))
    };
    match body.get("excludeTriggers") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(v)))
            .collect(),
        Some(v) => Err(bad(v)),
    }
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
    // Validated first, as the real server's ValidateRequestForDeploymentConfig.
    if dc.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return Err(ApiError::invalid(
            "apps.openshift.io",
            "DeploymentRequest",
            name,
            vec![Cause::invalid(
                "spec.paused",
                "true",
                format!(
                    "deployment config \"{name}\" is paused - unpause to request a new deployment"
                ),
            )],
        ));
    }
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
    let excluded = exclude_triggers(&body)?;
    let is_tid = req.tid("image.openshift.io", "imagestreams")?;
    // The real server processes triggers only for `latest`, and skips the ImageChange ones
    // when `excludeTriggers` lists that type (ConfigChange has nothing to process here).
    let resolved = if latest && !excluded.iter().any(|t| t == "ImageChange") {
        resolve_triggers(&dc, force, &|k| store.get(is_tid, &k.0, &k.1).ok())
    } else {
        Resolved {
            dc: (*dc).clone(),
            causes: Vec::new(),
            complete: true,
        }
    };
    // As the real `canTrigger`: every ImageChange trigger (excluded, manual or not) must
    // have been resolved once.
    let unresolved = image_triggers(&resolved.dc).any(|p| {
        p.get("lastTriggeredImage")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    });
    if unresolved {
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
    let causes = if force {
        vec![json!({"type": "Manual"})]
    } else if !resolved.causes.is_empty() {
        resolved.causes
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
