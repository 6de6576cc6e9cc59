//! Which builds of a BuildConfig start: build 1 of a `ConfigChange` trigger, and one build
//! per new image on the ImageStreamTag of an `ImageChange` trigger (its own `from`, else the
//! strategy's builder), each recorded in the trigger's `lastTriggeredImageID`.

use serde_json::{Value, json};

use super::super::{cached, images};
use super::build_for;
use crate::cluster::World;
use crate::store::{ObjKey, Part, WriteOptions, meta};

pub(super) fn has_config_trigger(bc: &Value) -> bool {
    bc.pointer("/spec/triggers")
        .and_then(Value::as_array)
        .is_some_and(|ts| {
            ts.iter()
                .any(|t| t.get("type").and_then(Value::as_str) == Some("ConfigChange"))
        })
}

/// The ImageStreamTag an ImageChange trigger of a BuildConfig watches: its own `from`, else
/// the strategy's builder image (namespace defaulted to the BuildConfig's).
pub(super) fn trigger_from(bc: &Value, trigger: &Value) -> Option<Value> {
    let from = trigger
        .pointer("/imageChange/from")
        .or_else(|| bc.pointer("/spec/strategy/sourceStrategy/from"))
        .or_else(|| bc.pointer("/spec/strategy/dockerStrategy/from"))?;
    (from.get("kind").and_then(Value::as_str) == Some("ImageStreamTag")).then(|| from.clone())
}

/// The ImageStreams whose new images start builds of this BuildConfig.
pub(crate) fn image_trigger_streams(bc: &Value) -> Vec<ObjKey> {
    bc.pointer("/spec/triggers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("ImageChange"))
        .filter_map(|t| trigger_from(bc, t))
        .filter_map(|f| super::super::referenced_stream(&f, meta::namespace(bc)))
        .collect()
}

/// Reconciles a BuildConfig: the first build of a ConfigChange trigger, and a build for each
/// new image on the ImageStreamTag of an ImageChange trigger (its `lastTriggeredImageID`
/// records the image; the image present when the BuildConfig is created starts a build
/// unless the ConfigChange build does).
pub(crate) fn reconcile_config(w: &mut World<'_>, key: &ObjKey) {
    let Some(mut bc) = cached(&w.cache().openshift.bcs, key) else {
        return;
    };
    let (Some(bc_tid), Some(b_tid)) = (w.kinds.openshift.bc, w.kinds.openshift.build) else {
        return;
    };
    if meta::is_deleting(&bc) {
        return;
    }
    let last = bc
        .pointer("/status/lastVersion")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut cause: Option<Value> = (last == 0 && has_config_trigger(&bc))
        .then(|| json!({"message": "Build configuration change"}));
    let mut triggers: Vec<Value> = bc
        .pointer("/spec/triggers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut recorded = false;
    for t in &mut triggers {
        if t.get("type").and_then(Value::as_str) != Some("ImageChange") {
            continue;
        }
        let Some(from) = trigger_from(&bc, t) else {
            continue;
        };
        let name = from.get("name").and_then(Value::as_str).unwrap_or_default();
        let (stream, tag) = name.split_once(':').unwrap_or((name, "latest"));
        let ns = from
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(&key.0)
            .to_string();
        let Some(current) = cached(&w.cache().openshift.is, &(ns, stream.to_string()))
            .and_then(|is| images::head_reference(&is, tag))
        else {
            continue;
        };
        let seen = t
            .pointer("/imageChange/lastTriggeredImageID")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if seen == current {
            continue;
        }
        if !t.get("imageChange").is_some_and(Value::is_object) {
            t["imageChange"] = json!({});
        }
        t["imageChange"]["lastTriggeredImageID"] = json!(current);
        recorded = true;
        if cause.is_none() {
            cause = Some(json!({"message": "Image change",
                "imageChangeBuild": {"imageID": current, "fromRef": from}}));
        }
    }
    if recorded {
        let mut o = (*bc).clone();
        o["spec"]["triggers"] = json!(triggers);
        match w.store.update(
            bc_tid,
            &key.0,
            &key.1,
            o,
            Part::Main,
            &WriteOptions::default(),
        ) {
            Ok(updated) => bc = updated,
            Err(e) => {
                // The next event of the BuildConfig retries.
                tracing::debug!(bc = %key.1, error = %e.message, "lastTriggeredImageID not recorded");
                return;
            }
        }
    }
    let Some(cause) = cause else { return };
    let n = last + 1;
    let mut b = build_for(&bc, n, "");
    b["spec"]["triggeredBy"] = json!([cause]);
    match w.store.create(b_tid, &key.0, b, &WriteOptions::default()) {
        Ok(_) => {
            let mut o = (*bc).clone();
            if !o.get("status").is_some_and(Value::is_object) {
                o["status"] = json!({});
            }
            o["status"]["lastVersion"] = json!(n);
            if let Err(e) = w.store.update(
                bc_tid,
                &key.0,
                &key.1,
                o,
                Part::Status,
                &WriteOptions::default(),
            ) {
                tracing::debug!(bc = %key.1, error = %e.message, "lastVersion not recorded");
            }
        }
        Err(e) => tracing::debug!(bc = %key.1, error = %e.message, "build not created"),
    }
}
