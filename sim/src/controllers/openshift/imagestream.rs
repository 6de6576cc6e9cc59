//! ImageStreams: resolves each `spec.tags` entry into `status.tags` history, newest first.
//!
//! - `from: DockerImage` imports the upstream image (simulated digest, see [`super::images`])
//!   when the tag is new or its spec changed (`generation`); `reference: true` tags are not
//!   imported and point at the reference as written.
//! - `from: ImageStreamTag` tracks another tag (same stream or another one, what
//!   `oc tag --alias` makes): whenever that tag's image changes, this one follows.
//! - `from: ImageStreamImage` pins a tag to one image of a stream's history.
//! - `importPolicy.scheduled: true` re-imports the tag every 15 minutes of virtual time
//!   ([`SCHEDULED_IMPORT_PERIOD`], the cluster default) and stamps the stream's
//!   `openshift.io/image.dockerRepositoryCheck` annotation; since upstream images of the
//!   simulator never change, a re-import finds the same digest and adds no history.
//!
//! Status tags without a spec tag (images pushed by builds or ImageStreamMappings) are kept.

use std::time::Duration;

use serde_json::{Value, json};

use super::images::{self, by_digest, digest_of, stream_repository};
use super::{Work as OsWork, cached, referenced_stream};
use crate::cluster::{Timer, World};
use crate::controllers::cache::Work;
use crate::controllers::{write, write_status};
use crate::store::{ObjKey, meta};

/// How often tags with `importPolicy.scheduled` are re-imported.
pub const SCHEDULED_IMPORT_PERIOD: Duration = Duration::from_secs(15 * 60);
/// Annotation recording the last check of the upstream repository.
pub const REPOSITORY_CHECK: &str = "openshift.io/image.dockerRepositoryCheck";

fn head_in(status: &Value, tag: &str) -> Option<Value> {
    status
        .get("tags")?
        .as_array()?
        .iter()
        .find(|t| t.get("tag").and_then(Value::as_str) == Some(tag))?
        .get("items")?
        .as_array()?
        .first()
        .cloned()
}

fn generation_of(item: &Value) -> i64 {
    item.get("generation").and_then(Value::as_i64).unwrap_or(0)
}

/// What a spec tag should have at the head of its history now, if anything new.
fn wanted(
    w: &World<'_>,
    key: &ObjKey,
    status: &Value,
    tag: &Value,
    rescheduled: bool,
    now: &str,
) -> Option<Value> {
    let name = tag.get("name").and_then(Value::as_str)?;
    let tag_gen = tag.get("generation").and_then(Value::as_i64).unwrap_or(0);
    let from = tag.get("from")?;
    let src = from.get("name").and_then(Value::as_str)?;
    let head = head_in(status, name);
    let stale = head.as_ref().is_none_or(|h| generation_of(h) < tag_gen);
    let item = match from.get("kind").and_then(Value::as_str)? {
        "DockerImage" => {
            if tag.get("reference").and_then(Value::as_bool) == Some(true) {
                json!({"created": now, "dockerImageReference": src, "image": "", "generation": tag_gen})
            } else {
                if !stale && !rescheduled {
                    return None;
                }
                let d = digest_of(src);
                json!({"created": now, "dockerImageReference": by_digest(src, &d), "image": d, "generation": tag_gen})
            }
        }
        kind @ ("ImageStreamTag" | "ImageStreamImage") => {
            let with_stream = if kind == "ImageStreamTag" && !src.contains(':') {
                format!("{}:{src}", key.1)
            } else {
                src.to_string()
            };
            let from =
                json!({"kind": kind, "name": with_stream, "namespace": from.get("namespace")});
            let stream = referenced_stream(&from, &key.0)?;
            let source_status = if stream == *key {
                status.clone()
            } else {
                cached(&w.cache().openshift.is, &stream)?
                    .get("status")
                    .cloned()
                    .unwrap_or_default()
            };
            let mut it = if kind == "ImageStreamTag" {
                let src_tag = with_stream.split_once(':').map(|(_, t)| t)?;
                head_in(&source_status, src_tag)?
            } else {
                let digest = with_stream.split_once('@').map(|(_, d)| d)?;
                images::find_image(&json!({"status": source_status}), digest)?.clone()
            };
            it["created"] = json!(now);
            it["generation"] = json!(tag_gen);
            it
        }
        _ => return None,
    };
    let same = head.as_ref().is_some_and(|h| {
        h.get("image") == item.get("image")
            && h.get("dockerImageReference") == item.get("dockerImageReference")
            && !stale
    });
    (!same).then_some(item)
}

/// Reconciles one stream; `rescheduled` names a tag whose scheduled import fell due.
pub(crate) fn reconcile(w: &mut World<'_>, key: &ObjKey, rescheduled: Option<&str>) {
    let Some(is) = cached(&w.cache().openshift.is, key) else {
        return;
    };
    if meta::is_deleting(&is) {
        return;
    }
    let now = crate::clock::rfc3339(w.now);
    let mut status = is.get("status").cloned().unwrap_or_else(|| json!({}));
    if !status.is_object() {
        status = json!({});
    }
    status["dockerImageRepository"] = json!(stream_repository(&key.0, &key.1));
    let spec_tags: Vec<Value> = is
        .pointer("/spec/tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut imported = false;
    // Tags may track each other within the stream: iterate to a fixed point.
    for _ in 0..=spec_tags.len() {
        let mut changed = false;
        for t in &spec_tags {
            let Some(name) = t.get("name").and_then(Value::as_str) else {
                continue;
            };
            let due = rescheduled == Some(name);
            if let Some(item) = wanted(w, key, &status, t, due, &now) {
                images::push_item(&mut status, name, item);
                changed = true;
                imported |= t.pointer("/from/kind").and_then(Value::as_str) == Some("DockerImage");
            }
        }
        if !changed {
            break;
        }
    }
    if imported || rescheduled.is_some() {
        let mut o = (*is).clone();
        o["metadata"]["annotations"][REPOSITORY_CHECK] = json!(now);
        if let Some(s) = write(w, w.kinds.openshift.is, o) {
            write_status(w, w.kinds.openshift.is, &s, status);
        }
        w.trace(|| {
            format!(
                "imagestream {}/{} scheduled import of {}",
                key.0,
                key.1,
                rescheduled.unwrap_or_default()
            )
        });
    } else {
        write_status(w, w.kinds.openshift.is, &is, status);
    }
    schedule_imports(w, key, &spec_tags);
}

fn schedule_imports(w: &mut World<'_>, key: &ObjKey, spec_tags: &[Value]) {
    for t in spec_tags {
        let scheduled = t
            .pointer("/importPolicy/scheduled")
            .and_then(Value::as_bool)
            == Some(true)
            && t.pointer("/from/kind").and_then(Value::as_str) == Some("DockerImage")
            && t.get("reference").and_then(Value::as_bool) != Some(true);
        let Some(name) = t.get("name").and_then(Value::as_str) else {
            continue;
        };
        let slot = (key.clone(), name.to_string());
        if !scheduled || w.cache().openshift.imports.contains_key(&slot) {
            continue;
        }
        let at = crate::clock::after(w.now, SCHEDULED_IMPORT_PERIOD);
        w.cache().openshift.imports.insert(slot, at);
        w.at(
            SCHEDULED_IMPORT_PERIOD,
            Timer::Work(Work::OpenShift(OsWork::ScheduledImport(
                key.clone(),
                name.to_string(),
            ))),
        );
    }
}
