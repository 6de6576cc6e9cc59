//! ImageStreamTags, ImageStreamImages and ImageStreamMappings: not stored objects but views
//! of (and writes to) ImageStreams, as the OpenShift API server serves them.
//!
//! - `imagestreamtags/<stream>:<tag>`: GET shows the tag's current image (404 until the tag
//!   has one); LIST shows every tag with an image; POST/PUT set the stream's spec tag from
//!   the body's `tag` (what `oc tag` does: a DockerImage import, a pinned ImageStreamImage, or
//!   a tracking ImageStreamTag with `--alias`), creating the stream when missing; DELETE
//!   removes the tag from spec and status (`oc tag -d`).
//! - `imagestreamimages/<stream>@sha256:...`: one image of the stream's history.
//! - `imagestreammappings` (POST): puts an image at the head of a tag's history, as the
//!   registry does when an image is pushed (and builds do on completion).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Request, modify, respond, success, view_meta};
use crate::controllers::openshift::images as img;
use crate::error::{ApiError, ApiResult, Cause};
use crate::store::{ListQuery, Part, Store, WriteOptions, meta};

const GROUP: &str = "image.openshift.io";

fn split_tag(name: &str) -> ApiResult<(&str, &str)> {
    name.split_once(':')
        .filter(|(s, t)| !s.is_empty() && !t.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "\"{name}\": imagestreamtags must be addressed as <stream name>:<tag>"
            ))
        })
}

/// The ImageStreamTag view of one tag of a stream (None when the tag has no image yet and
/// `require_image`).
fn istag_view(is: &Value, tag: &str, require_image: bool) -> Option<Value> {
    let head = img::head(is, tag);
    if head.is_none() && require_image {
        return None;
    }
    let name = format!("{}:{tag}", meta::name(is));
    let mut m = view_meta(is, &name);
    if let Some(h) = head {
        m["creationTimestamp"] = h.get("created").cloned().unwrap_or(Value::Null);
    }
    let conditions = img::status_tag(is, tag)
        .and_then(|t| t.get("conditions"))
        .cloned();
    let mut v = json!({
        "kind": "ImageStreamTag",
        "apiVersion": "image.openshift.io/v1",
        "metadata": m,
        "tag": img::spec_tag(is, tag).cloned().unwrap_or(Value::Null),
        "generation": head.and_then(|h| h.get("generation")).cloned().unwrap_or(json!(0)),
        "lookupPolicy": is.pointer("/spec/lookupPolicy").cloned().unwrap_or(json!({"local": false})),
        "image": head.map(img::image_object).unwrap_or(Value::Null),
    });
    if let Some(c) = conditions {
        v["conditions"] = c;
    }
    Some(v)
}

fn stream_tid(req: &Request<'_>) -> ApiResult<crate::resources::TypeId> {
    req.tid(GROUP, "imagestreams")
}

pub(super) fn tags(req: &Request<'_>) -> ApiResult<Response> {
    let is_tid = stream_tid(req)?;
    let store = req.store;
    let ns = req.ns();
    match (req.method.as_str(), req.target.name.as_deref()) {
        ("GET", None) => {
            let list = store.list(
                is_tid,
                req.target.namespace.as_deref(),
                &ListQuery::default(),
            )?;
            let mut items = Vec::new();
            for is in &list.items {
                let names: Vec<String> = is
                    .pointer("/status/tags")
                    .and_then(Value::as_array)
                    .map(|ts| {
                        ts.iter()
                            .filter_map(|t| t.get("tag")?.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                items.extend(names.iter().filter_map(|t| istag_view(is, t, true)));
            }
            respond(
                StatusCode::OK,
                &json!({"kind": "ImageStreamTagList", "apiVersion": "image.openshift.io/v1",
                    "metadata": {"resourceVersion": list.rv.to_string()}, "items": items}),
            )
        }
        ("GET", Some(name)) => {
            let (s, t) = split_tag(name)?;
            let is = store.get(is_tid, ns, s).map_err(|_| req.not_found(name))?;
            let v = istag_view(&is, t, true).ok_or_else(|| req.not_found(name))?;
            respond(StatusCode::OK, &v)
        }
        ("POST", None) => {
            let body = req.body()?;
            let name = meta::name(&body).to_string();
            let out = set_tag(req, store, is_tid, &name, &body, true)?;
            respond(StatusCode::CREATED, &out)
        }
        ("PUT", Some(name)) => {
            let body = req.body()?;
            let out = set_tag(req, store, is_tid, name, &body, false)?;
            respond(StatusCode::OK, &out)
        }
        ("DELETE", Some(name)) => {
            let (s, t) = split_tag(name)?;
            let is = store.get(is_tid, ns, s).map_err(|_| req.not_found(name))?;
            if img::spec_tag(&is, t).is_none() && img::status_tag(&is, t).is_none() {
                return Err(req.not_found(name));
            }
            modify(store, is_tid, ns, s, Part::Main, |o| {
                if let Some(ts) = o.pointer_mut("/spec/tags").and_then(Value::as_array_mut) {
                    ts.retain(|x| x.get("name").and_then(Value::as_str) != Some(t));
                }
                Ok(())
            })?;
            modify(store, is_tid, ns, s, Part::Status, |o| {
                if let Some(ts) = o.pointer_mut("/status/tags").and_then(Value::as_array_mut) {
                    ts.retain(|x| x.get("tag").and_then(Value::as_str) != Some(t));
                }
                Ok(())
            })?;
            respond(StatusCode::OK, &success(200))
        }
        _ => Err(req.verb_not_allowed()),
    }
}

/// Sets a spec tag from an ImageStreamTag body; creates the stream when missing.
fn set_tag(
    req: &Request<'_>,
    store: &Store,
    is_tid: crate::resources::TypeId,
    name: &str,
    body: &Value,
    create: bool,
) -> ApiResult<Value> {
    let ns = req.ns();
    let (s, t) = split_tag(name)?;
    let Some(tag) = body.get("tag").filter(|t| t.is_object()) else {
        return Err(ApiError::invalid(
            GROUP,
            "ImageStreamTag",
            name,
            vec![Cause::required("tag")],
        ));
    };
    let mut tag = tag.clone();
    tag["name"] = json!(t);
    if let Some(m) = tag.as_object_mut() {
        m.remove("generation");
    }
    let existing = store.get(is_tid, ns, s).ok();
    let is: Arc<Value> = match existing {
        None => store.create(
            is_tid,
            ns,
            json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
                "metadata": {"name": s, "namespace": ns}, "spec": {"tags": [tag]}}),
            &WriteOptions::default(),
        )?,
        Some(is) => {
            if create && img::spec_tag(&is, t).is_some() {
                return Err(ApiError::already_exists(GROUP, "imagestreamtags", name));
            }
            modify(store, is_tid, ns, s, Part::Main, |o| {
                if let Some(x) = img::spec_tag_mut(o, t) {
                    *x = tag.clone();
                }
                Ok(())
            })?
        }
    };
    Ok(istag_view(&is, t, false).unwrap_or(Value::Null))
}

pub(super) fn image(req: &Request<'_>) -> ApiResult<Response> {
    let Some(name) = req.target.name.as_deref() else {
        return Err(req.verb_not_allowed());
    };
    if req.method != "GET" {
        return Err(req.verb_not_allowed());
    }
    let (s, digest) = name.split_once('@').ok_or_else(|| {
        ApiError::bad_request(format!(
            "\"{name}\": imagestreamimages must be addressed as <stream name>@<digest>"
        ))
    })?;
    let is = req
        .store
        .get(stream_tid(req)?, req.ns(), s)
        .map_err(|_| req.not_found(name))?;
    let item = img::find_image(&is, digest).ok_or_else(|| req.not_found(name))?;
    let mut m = view_meta(&is, name);
    m["creationTimestamp"] = item.get("created").cloned().unwrap_or(Value::Null);
    respond(
        StatusCode::OK,
        &json!({"kind": "ImageStreamImage", "apiVersion": "image.openshift.io/v1",
            "metadata": m, "image": img::image_object(item)}),
    )
}

pub(super) fn mapping(req: &Request<'_>) -> ApiResult<Response> {
    if req.method != "POST" || req.target.name.is_some() {
        return Err(req.verb_not_allowed());
    }
    let body = req.body()?;
    let name = meta::name(&body).to_string();
    let tag = body.get("tag").and_then(Value::as_str).unwrap_or_default();
    let reference = body
        .pointer("/image/dockerImageReference")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // The image's name is its digest; without one, the reference's digest names it.
    let digest = body
        .pointer("/image/metadata/name")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .or_else(|| reference.split_once('@').map(|(_, d)| d))
        .unwrap_or_default();
    let mut causes = Vec::new();
    for (v, f) in [
        (name.as_str(), "metadata.name"),
        (tag, "tag"),
        (digest, "image.metadata.name"),
        (reference, "image.dockerImageReference"),
    ] {
        if v.is_empty() {
            causes.push(Cause::required(f));
        }
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(
            GROUP,
            "ImageStreamMapping",
            &name,
            causes,
        ));
    }
    let is_tid = stream_tid(req)?;
    let ns = req.ns();
    if req.store.get(is_tid, ns, &name).is_err() {
        req.store.create(
            is_tid,
            ns,
            json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream", "metadata": {"name": name, "namespace": ns}}),
            &WriteOptions::default(),
        )?;
    }
    let now = crate::clock::rfc3339(req.store.now());
    modify(req.store, is_tid, ns, &name, Part::Status, |o| {
        let generation = o
            .pointer("/metadata/generation")
            .cloned()
            .unwrap_or(json!(1));
        if !o.get("status").is_some_and(Value::is_object) {
            o["status"] = json!({});
        }
        img::push_item(
            &mut o["status"],
            tag,
            json!({"created": now, "dockerImageReference": reference, "image": digest, "generation": generation}),
        );
        Ok(())
    })?;
    respond(StatusCode::CREATED, &success(201))
}
