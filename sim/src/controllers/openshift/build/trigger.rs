//! Which builds of a BuildConfig start: build 1 of a `ConfigChange` trigger, and one build
//! per new image on the ImageStreamTag of an `ImageChange` trigger (its own `from`, else the
//! strategy's builder), each recorded in the trigger's `lastTriggeredImageID` and in
//! `status.imageChangeTriggers`. A paused ImageChange trigger starts nothing.

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

/// Whether an ImageChange trigger is paused (`imageChange.paused`).
fn is_paused(trigger: &Value) -> bool {
    trigger
        .pointer("/imageChange/paused")
        .and_then(Value::as_bool)
        == Some(true)
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

/// `status.imageChangeTriggers`, as OpenShift 4.8 and later keep it next to the spec field
/// (which the simulator still fills, as 3.x and 4.7 did): per ImageChange trigger, in spec
/// order, its `lastTriggeredImageID`, `paused` when it is, its `from` tag when the trigger
/// names one (none for the strategy's builder tag) and `lastTriggerTime`, set only when that trigger started
/// the build (`fired`, an index into `spec.triggers`), kept from the earlier status
/// otherwise.
pub(crate) fn trigger_statuses(bc: &Value, fired: Option<usize>, now: &str) -> Value {
    let earlier: Vec<Value> = bc
        .pointer("/status/imageChangeTriggers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let triggers = bc
        .pointer("/spec/triggers")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let out: Vec<Value> = triggers
        .iter()
        .enumerate()
        .filter(|(_, t)| t.get("type").and_then(Value::as_str) == Some("ImageChange"))
        .enumerate()
        .map(|(k, (i, t))| {
            let mut st = json!({});
            if let Some(id) = t
                .pointer("/imageChange/lastTriggeredImageID")
                .and_then(Value::as_str)
            {
                st["lastTriggeredImageID"] = json!(id);
            }
            if is_paused(t) {
                st["paused"] = json!(true);
            }
            if let Some(from) = t.pointer("/imageChange/from") {
                st["from"] = json!({
                    "name": from.get("name").cloned().unwrap_or_default(),
                    "namespace": from.get("namespace").and_then(Value::as_str)
                        .filter(|n| !n.is_empty()).unwrap_or(meta::namespace(bc)),
                });
            }
            let time = if fired == Some(i) {
                Some(json!(now))
            } else {
                earlier
                    .get(k)
                    .and_then(|e| e.get("lastTriggerTime"))
                    .cloned()
            };
            if let Some(time) = time {
                st["lastTriggerTime"] = time;
            }
            st
        })
        .collect();
    json!(out)
}

/// What an instantiate does to a BuildConfig's ImageChange triggers, as the real build
/// generator's `updateImageTriggers` does for a build started by hand: each trigger records
/// the image its ImageStreamTag points at now (`head` resolves namespace, stream and tag to
/// it), the image that build runs on, so the trigger does not start a second build of it.
/// A tag without an image leaves its trigger as it was. Returns whether anything changed.
pub(crate) fn record_current_images(
    bc: &mut Value,
    head: impl Fn(&str, &str, &str) -> Option<String>,
) -> bool {
    let own_ns = meta::namespace(bc).to_string();
    let snapshot = bc.clone();
    let Some(triggers) = bc
        .pointer_mut("/spec/triggers")
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    let mut changed = false;
    for t in triggers.iter_mut() {
        if t.get("type").and_then(Value::as_str) != Some("ImageChange") {
            continue;
        }
        let Some(from) = trigger_from(&snapshot, t) else {
            continue;
        };
        let (ns, stream, tag) = tag_of(&from, &own_ns);
        let Some(current) = head(ns, stream, tag) else {
            continue;
        };
        if t.pointer("/imageChange/lastTriggeredImageID")
            .and_then(Value::as_str)
            == Some(current.as_str())
        {
            continue;
        }
        if !t.get("imageChange").is_some_and(Value::is_object) {
            t["imageChange"] = json!({});
        }
        t["imageChange"]["lastTriggeredImageID"] = json!(current);
        changed = true;
    }
    changed
}

/// The namespace, stream and tag an ImageChange trigger's `from` ImageStreamTag names (the
/// BuildConfig's own namespace and tag `latest` when it leaves them out).
fn tag_of<'a>(from: &'a Value, own_ns: &'a str) -> (&'a str, &'a str, &'a str) {
    let name = from.get("name").and_then(Value::as_str).unwrap_or_default();
    let (stream, tag) = name.split_once(':').unwrap_or((name, "latest"));
    let ns = from
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(own_ns);
    (ns, stream, tag)
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
    // The first trigger, in order, whose tag has an image it has not built yet fires (unless
    // the ConfigChange build comes first); a paused one waits until it is unpaused.
    let triggers = bc
        .pointer("/spec/triggers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut fired = None;
    for (i, t) in triggers.iter().enumerate() {
        if cause.is_some() {
            break;
        }
        if t.get("type").and_then(Value::as_str) != Some("ImageChange") || is_paused(t) {
            continue;
        }
        let Some(from) = trigger_from(&bc, t) else {
            continue;
        };
        let (ns, stream, tag) = tag_of(&from, &key.0);
        let Some(current) = cached(
            &w.cache().openshift.is,
            &(ns.to_string(), stream.to_string()),
        )
        .and_then(|is| images::head_reference(&is, tag)) else {
            continue;
        };
        let seen = t
            .pointer("/imageChange/lastTriggeredImageID")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if seen != current {
            cause = Some(json!({"message": "Image change",
                "imageChangeBuild": {"imageID": current, "fromRef": from}}));
            fired = Some(i);
        }
    }
    // A build starting now is an instantiate: every trigger, a paused one too, records the
    // image its tag has (see [`record_current_images`]).
    let mut o = (*bc).clone();
    let recorded = cause.is_some() && {
        let cache = w.cache();
        let head = |ns: &str, stream: &str, tag: &str| {
            cached(&cache.openshift.is, &(ns.to_string(), stream.to_string()))
                .and_then(|is| images::head_reference(&is, tag))
        };
        record_current_images(&mut o, head)
    };
    if recorded {
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
            o["status"]["imageChangeTriggers"] =
                trigger_statuses(&bc, fired, &crate::clock::rfc3339(w.now));
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
