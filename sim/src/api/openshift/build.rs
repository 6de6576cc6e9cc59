//! `buildconfigs/<name>/instantiate`: a `BuildRequest` (what `oc start-build` sends) starts
//! the next build of a BuildConfig: `status.lastVersion` goes up by one and the Build
//! `<bc>-<n>` is created and returned (201). As the real build generator does, each
//! ImageChange trigger of the BuildConfig first records the image its tag points at now
//! (`lastTriggeredImageID`, in the spec and in `status.imageChangeTriggers`): the build runs
//! on that image, and the trigger does not start another build of it.
//!
//! `buildconfigs/<name>/instantiatebinary` starts a binary build of a BuildConfig whose
//! source is `Binary`: the body is a tar archive (gzip or not; `oc start-build --from-dir`
//! and `--from-archive`), a zip archive (`--from-archive=app.zip`, see [`super::zip_upload`]) or, with `?asFile=<name>`, one file (`--from-file`). The upload is
//! kept as a tar in the build's source ConfigMap, which the build pod unpacks into
//! `/tmp/src`. Unlike the real server the request does not wait for the build pod: the
//! Build is returned at once and the build starts with the upload already in place.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Request, modify, respond};
use crate::controllers::openshift::build::{
    build_for, record_current_images, source_object, trigger_statuses,
};
use crate::controllers::openshift::images;
use crate::error::{ApiError, ApiResult};
use crate::store::{Part, WriteOptions};

/// The next version of a BuildConfig, as the real build generator makes it: its
/// ImageChange triggers record the images their tags point at now (the build's builder
/// among them: see [`record_current_images`]), in `spec.triggers` and in
/// `status.imageChangeTriggers` (trigger times kept), and `status.lastVersion` goes up by
/// one.
fn next_version(req: &Request<'_>, name: &str) -> ApiResult<(std::sync::Arc<Value>, i64)> {
    let is_tid = req.tid("image.openshift.io", "imagestreams")?;
    let head = |ns: &str, stream: &str, tag: &str| {
        req.store
            .get(is_tid, ns, stream)
            .ok()
            .and_then(|is| images::head_reference(&is, tag))
    };
    // A write that records nothing new changes nothing: the store answers it without a
    // new resourceVersion.
    modify(req.store, req.target.tid, req.ns(), name, Part::Main, |o| {
        record_current_images(o, head);
        Ok(())
    })?;
    let mut n = 0;
    let now = crate::clock::rfc3339(req.store.now());
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
            let statuses = trigger_statuses(o, None, &now);
            if statuses.as_array().is_some_and(|s| !s.is_empty()) {
                o["status"]["imageChangeTriggers"] = statuses;
            }
            Ok(())
        },
    )?;
    Ok((bc, n))
}

/// The upload of a binary build as a tar archive (a zip upload is repacked as one).
fn binary_archive(body: &[u8], as_file: Option<&str>) -> ApiResult<Vec<u8>> {
    if let Some(file) = as_file {
        if file.is_empty() || file.contains('/') || file == "." || file == ".." {
            return Err(ApiError::bad_request(format!(
                "asFile {file:?} must be a plain file name"
            )));
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        let mut ar = tar::Builder::new(Vec::new());
        ar.append_data(&mut h, file, body)
            .and_then(|()| ar.into_inner())
            .map_err(|e| ApiError::internal(format!("packing {file}: {e}")))
    } else {
        let data = if body.starts_with(&[0x1f, 0x8b]) {
            crate::runtime::programs::archive::gunzip_bytes(body).map_err(|e| {
                ApiError::bad_request(format!("the uploaded archive is not valid gzip: {e}"))
            })?
        } else {
            body.to_vec()
        };
        if super::zip_upload::is_zip(&data) {
            return super::zip_upload::zip_to_tar(&data);
        }
        let is_tar = data.len() >= 262 && &data[257..262] == b"ustar";
        if !is_tar {
            return Err(ApiError::bad_request(
                "the uploaded body is not a tar, tar.gz or zip archive (to upload one file, pass ?asFile=<name>)",
            ));
        }
        Ok(data)
    }
}

pub(super) fn instantiate_binary(req: &Request<'_>) -> ApiResult<Response> {
    if req.method != "POST" {
        return Err(req.verb_not_allowed());
    }
    let name = req.target.name.as_deref().unwrap_or_default();
    let current = req.store.get(req.target.tid, req.ns(), name)?;
    let binary_source = current.pointer("/spec/source/type").and_then(Value::as_str)
        == Some("Binary")
        || current.pointer("/spec/source/binary").is_some();
    if !binary_source {
        return Err(ApiError::bad_request(format!(
            "cannot upload file to build config {name}: its spec.source is not of type Binary"
        )));
    }
    let as_file = req.params.get("asFile").filter(|f| !f.is_empty());
    let archive = binary_archive(req.body, as_file)?;
    let (bc, n) = next_version(req, name)?;
    let mut b = build_for(&bc, n, "Manually triggered");
    b["spec"]["source"]["type"] = json!("Binary");
    b["spec"]["source"]["binary"] = match as_file {
        Some(f) => json!({"asFile": f}),
        None => json!({}),
    };
    let build_name = format!("{name}-{n}");
    let cm_tid = req.tid("", "configmaps")?;
    req.store.create(
        cm_tid,
        req.ns(),
        source_object(&build_name, &archive, None),
        &WriteOptions::default(),
    )?;
    let b_tid = req.tid("build.openshift.io", "builds")?;
    let build = match req
        .store
        .create(b_tid, req.ns(), b, &WriteOptions::default())
    {
        Ok(b) => b,
        Err(e) => {
            let _ = req.store.delete(
                cm_tid,
                req.ns(),
                &crate::controllers::openshift::build::source_config_map(&build_name),
                &crate::store::DeleteOptions::default(),
            );
            return Err(e);
        }
    };
    // The upload lives as long as its build.
    let owner = crate::controllers::controller_ref(&build);
    let cm_name = crate::controllers::openshift::build::source_config_map(&build_name);
    if let Err(e) = modify(req.store, cm_tid, req.ns(), &cm_name, Part::Main, |o| {
        o["metadata"]["ownerReferences"] = json!([owner.clone()]);
        Ok(())
    }) {
        tracing::debug!(build = %build_name, error = %e.message, "source owner not set");
    }
    respond(StatusCode::CREATED, &build)
}

pub(super) fn instantiate(req: &Request<'_>) -> ApiResult<Response> {
    if req.method != "POST" {
        return Err(req.verb_not_allowed());
    }
    let _request = req.body()?;
    let name = req.target.name.as_deref().unwrap_or_default();
    let (bc, n) = next_version(req, name)?;
    let b_tid = req.tid("build.openshift.io", "builds")?;
    let build = req.store.create(
        b_tid,
        req.ns(),
        build_for(&bc, n, "Manually triggered"),
        &WriteOptions::default(),
    )?;
    respond(StatusCode::CREATED, &build)
}
