//! Publishing a finished build: the build container's app committed into a new catalogue
//! image and pushed to the output ImageStreamTag (a new history entry whose digest derives
//! from the Build's UID), which fires the ImageChange triggers watching that tag.

use serde_json::{Value, json};
use sha2::Digest;

use super::super::{cached, images};
use super::pod::{scripts_dir, strategy_type};
use super::{APP_ROOT, BUILD_CONTAINER};
use crate::cluster::World;
use crate::store::{Part, WriteOptions, meta};

/// Where a build pushes its image: (namespace, stream, tag) of an ImageStreamTag output.
pub(super) fn output_tag(b: &Value) -> Option<(String, String, String)> {
    let to = b.pointer("/spec/output/to")?;
    if to.get("kind").and_then(Value::as_str) != Some("ImageStreamTag") {
        return None;
    }
    let ns = to
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(meta::namespace(b))
        .to_string();
    let name = to.get("name").and_then(Value::as_str)?;
    let (stream, tag) = name.split_once(':').unwrap_or((name, "latest"));
    Some((ns, stream.to_string(), tag.to_string()))
}

/// The digest of a build's output image (derived from the Build's UID: one build, one image).
pub(super) fn output_digest(b: &Value) -> String {
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(meta::uid(b).as_bytes()))
    )
}

/// Commits the assembled app of a finished build pod into a new image (the builder image
/// with the build's `/opt/app-root`, its `run` script as command) and records it in the
/// output ImageStreamTag's history. Ok(None): the build has no ImageStreamTag output.
pub(super) fn push_output(
    w: &mut World<'_>,
    b: &Value,
    pod: &Value,
) -> Result<Option<String>, String> {
    let Some((ns, stream, tag)) = output_tag(b) else {
        return Ok(None);
    };
    let tid = w.kinds.openshift.is.ok_or("imagestreams are not served")?;
    let digest = output_digest(b);
    let repo = images::stream_repository(&ns, &stream);
    let reference = format!("{repo}@{digest}");
    let cmd = if strategy_type(b) == "Docker" {
        Vec::new()
    } else {
        vec![format!("{}/run", scripts_dir(b))]
    };
    let labels = [
        ("io.openshift.build.name", meta::name(b).to_string()),
        (
            "io.openshift.build.namespace",
            meta::namespace(b).to_string(),
        ),
        (
            "io.openshift.build.image",
            pod.pointer("/spec/containers/0/image")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let path = if strategy_type(b) == "Docker" {
        format!("{APP_ROOT}/src")
    } else {
        APP_ROOT.to_string()
    };
    let commit = crate::kubelet::Commit {
        path,
        references: vec![reference.clone(), format!("{repo}:{tag}")],
        cmd,
        labels,
    };
    w.runtime.commit(meta::uid(pod), BUILD_CONTAINER, &commit)?;
    let key = (ns.clone(), stream.clone());
    // Not inside the match: the cache lock must be released before the store is written.
    let existing = cached(&w.cache().openshift.is, &key);
    let is = match existing {
        Some(is) => is,
        None => w
            .store
            .create(
                tid,
                &ns,
                json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream", "metadata": {"name": stream}}),
                &WriteOptions::default(),
            )
            .map_err(|e| e.message.clone())?,
    };
    let mut st = is.get("status").cloned().unwrap_or_else(|| json!({}));
    let generation = is
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    images::push_item(
        &mut st,
        &tag,
        json!({"created": crate::clock::rfc3339(w.now), "dockerImageReference": reference,
            "image": digest, "generation": generation}),
    );
    let mut o = (*is).clone();
    o["status"] = st;
    w.store
        .update(tid, &ns, &stream, o, Part::Status, &WriteOptions::default())
        .map_err(|e| e.message.clone())?;
    Ok(Some(digest))
}
