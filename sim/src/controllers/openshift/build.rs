//! BuildConfigs and Builds (`build.openshift.io/v1`), reduced to what the simulator can
//! model without running a real S2I build.
//!
//! - A BuildConfig with a `ConfigChange` trigger starts build 1 when it is created; the
//!   `instantiate` endpoint starts the next one. Each build is a Build `<bc>-<n>` (labels
//!   `buildconfig`, `openshift.io/build-config.name`, annotation `openshift.io/build.number`),
//!   and `status.lastVersion` of the BuildConfig counts them.
//! - A Build goes New -> Pending (its build pod `<build>-build` is created) -> Running (the
//!   pod runs) -> Complete (the pod exited 0) or Failed (it did not), with start and
//!   completion timestamps and the duration.
//! - What is modelled of the Source strategy: the build pod runs the builder image
//!   (`strategy.sourceStrategy.from`, an ImageStreamTag resolved to its current image, or a
//!   DockerImage) for [`BUILD_SECONDS`] of virtual time instead of running `assemble` over
//!   the source; on completion the built image is pushed to `output.to` (an ImageStreamTag):
//!   a new history entry whose digest is derived from the Build's UID, which fires the
//!   ImageChange triggers of DeploymentConfigs watching that tag. Docker and Custom
//!   strategies are treated the same way; source contents, binary uploads, build logs and
//!   incremental builds are not modelled.

use std::sync::Arc;

use serde_json::{Value, json};
use sha2::Digest;

use super::{cached, images};
use crate::cluster::World;
use crate::controllers::{controller_ref, write_status};
use crate::store::{ObjKey, Part, WriteOptions, meta};

/// How long a build pod runs, in virtual seconds.
pub const BUILD_SECONDS: u64 = 5;
/// Annotation on builds and build pods: the build's name.
pub const BUILD_NAME: &str = "openshift.io/build.name";
/// Annotation on builds: the build's number.
pub const BUILD_NUMBER: &str = "openshift.io/build.number";
/// Label and annotation naming a build's BuildConfig.
pub const BUILD_CONFIG: &str = "openshift.io/build-config.name";

fn has_config_trigger(bc: &Value) -> bool {
    bc.pointer("/spec/triggers")
        .and_then(Value::as_array)
        .is_some_and(|ts| {
            ts.iter()
                .any(|t| t.get("type").and_then(Value::as_str) == Some("ConfigChange"))
        })
}

/// The Build object for build `n` of a BuildConfig.
pub fn build_for(bc: &Value, n: i64, cause: &str) -> Value {
    let name = format!("{}-{n}", meta::name(bc));
    let ns = meta::namespace(bc);
    let spec = bc.get("spec").cloned().unwrap_or_default();
    let output = spec.pointer("/output/to/name").and_then(Value::as_str);
    let mut b = json!({
        "apiVersion": "build.openshift.io/v1",
        "kind": "Build",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"buildconfig": meta::name(bc), BUILD_CONFIG: meta::name(bc),
                "openshift.io/build.start-policy": spec.get("runPolicy").cloned().unwrap_or(json!("Serial"))},
            "annotations": {BUILD_CONFIG: meta::name(bc), BUILD_NUMBER: n.to_string(),
                "openshift.io/build.pod-name": format!("{name}-build")},
            "ownerReferences": [controller_ref(bc)],
        },
        "spec": {
            "serviceAccount": spec.get("serviceAccount").cloned().unwrap_or(json!("builder")),
            "source": spec.get("source").cloned().unwrap_or(json!({})),
            "strategy": spec.get("strategy").cloned().unwrap_or(json!({})),
            "output": spec.get("output").cloned().unwrap_or(json!({})),
            "triggeredBy": [{"message": cause}],
        },
    });
    if let Some(o) = output {
        let (stream, tag) = o.split_once(':').unwrap_or((o, "latest"));
        b["status"] = json!({"outputDockerImageReference":
            format!("{}:{tag}", images::stream_repository(ns, stream))});
    }
    b
}

/// Reconciles a BuildConfig: the first build of a ConfigChange trigger.
pub(crate) fn reconcile_config(w: &mut World<'_>, key: &ObjKey) {
    let Some(bc) = cached(&w.cache().openshift.bcs, key) else {
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
    if last == 0 && has_config_trigger(&bc) {
        let b = build_for(&bc, 1, "Build configuration change");
        match w.store.create(b_tid, &key.0, b, &WriteOptions::default()) {
            Ok(_) => {
                let mut o = (*bc).clone();
                o["status"] = json!({"lastVersion": 1});
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
}

fn builder_image(w: &World<'_>, b: &Value) -> String {
    let from = b
        .pointer("/spec/strategy/sourceStrategy/from")
        .or_else(|| b.pointer("/spec/strategy/dockerStrategy/from"))
        .cloned()
        .unwrap_or_default();
    let name = from
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("busybox");
    match from.get("kind").and_then(Value::as_str) {
        Some("ImageStreamTag") => {
            let ns = from
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or(meta::namespace(b));
            let (s, t) = name.split_once(':').unwrap_or((name, "latest"));
            cached(&w.cache().openshift.is, &(ns.to_string(), s.to_string()))
                .and_then(|is| images::head_reference(&is, t))
                .unwrap_or_else(|| name.to_string())
        }
        _ => name.to_string(),
    }
}

fn build_pod(b: &Value, image: &str) -> Value {
    let name = meta::name(b);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{name}-build"),
            "namespace": meta::namespace(b),
            "labels": {BUILD_NAME: name},
            "annotations": {BUILD_NAME: name},
            "ownerReferences": [controller_ref(b)],
        },
        "spec": {
            "containers": [{
                "name": "sti-build",
                "image": image,
                "command": ["/bin/sh", "-c", format!("sleep {BUILD_SECONDS}")],
                "env": [{"name": "BUILD", "value": name}],
            }],
            "restartPolicy": "Never",
            "serviceAccountName": "builder",
        },
    })
}

fn set_status(w: &mut World<'_>, b: &Arc<Value>, f: impl FnOnce(&mut Value)) {
    let mut st = b.get("status").cloned().unwrap_or_else(|| json!({}));
    if !st.is_object() {
        st = json!({});
    }
    f(&mut st);
    write_status(w, w.kinds.openshift.build, b, st);
}

/// Pushes the built image to the output ImageStreamTag.
fn push_output(w: &mut World<'_>, b: &Value) -> Option<String> {
    let to = b.pointer("/spec/output/to")?;
    if to.get("kind").and_then(Value::as_str) != Some("ImageStreamTag") {
        return None;
    }
    let ns = to
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(meta::namespace(b))
        .to_string();
    let name = to.get("name").and_then(Value::as_str)?;
    let (stream, tag) = name.split_once(':').unwrap_or((name, "latest"));
    let tid = w.kinds.openshift.is?;
    let digest = format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(meta::uid(b).as_bytes()))
    );
    let reference = format!("{}@{digest}", images::stream_repository(&ns, stream));
    let key = (ns.clone(), stream.to_string());
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
            .ok()?,
    };
    let mut st = is.get("status").cloned().unwrap_or_else(|| json!({}));
    let generation = is
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    images::push_item(
        &mut st,
        tag,
        json!({"created": crate::clock::rfc3339(w.now), "dockerImageReference": reference,
            "image": digest, "generation": generation}),
    );
    let mut o = (*is).clone();
    o["status"] = st;
    w.store
        .update(tid, &ns, stream, o, Part::Status, &WriteOptions::default())
        .ok()?;
    Some(digest)
}

/// Reconciles a Build through its phases.
pub(crate) fn reconcile_build(w: &mut World<'_>, key: &ObjKey) {
    let Some(b) = cached(&w.cache().openshift.builds, key) else {
        return;
    };
    if meta::is_deleting(&b) {
        return;
    }
    let now = crate::clock::rfc3339(w.now);
    let phase = b
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("New")
        .to_string();
    let pod_key = (key.0.clone(), format!("{}-build", key.1));
    let pod = w.cache().pods.get(&pod_key).cloned();
    let pod_phase = pod
        .as_ref()
        .and_then(|p| p.pointer("/status/phase"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match phase.as_str() {
        "New" => {
            if pod.is_none() {
                let image = builder_image(w, &b);
                let Some(pt) = w.kinds.pod else { return };
                if let Err(e) =
                    w.store
                        .create(pt, &key.0, build_pod(&b, &image), &WriteOptions::default())
                {
                    tracing::debug!(build = %key.1, error = %e.message, "build pod not created");
                    return;
                }
            }
            set_status(w, &b, |st| st["phase"] = json!("Pending"));
        }
        "Pending" | "Running" => match pod_phase.as_str() {
            "Running" if phase == "Pending" => set_status(w, &b, |st| {
                st["phase"] = json!("Running");
                st["startTimestamp"] = json!(now);
            }),
            "Succeeded" => {
                let digest = push_output(w, &b);
                let started = b
                    .pointer("/status/startTimestamp")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                    .unwrap_or(w.now);
                let nanos = crate::clock::since(w.now, started).as_nanos() as u64;
                set_status(w, &b, |st| {
                    st["phase"] = json!("Complete");
                    st["completionTimestamp"] = json!(now);
                    st["duration"] = json!(nanos);
                    if let Some(d) = digest {
                        st["output"] = json!({"to": {"imageDigest": d}});
                    }
                });
                let msg = format!("Build {}/{} completed successfully", key.0, key.1);
                w.event(&b, false, "BuildCompleted", msg, "build-controller");
            }
            "Failed" => {
                set_status(w, &b, |st| {
                    st["phase"] = json!("Failed");
                    st["reason"] = json!("GenericBuildFailed");
                    st["message"] = json!("Generic Build failure - check logs for details.");
                    st["completionTimestamp"] = json!(now);
                });
            }
            _ if pod.is_none() => set_status(w, &b, |st| {
                st["phase"] = json!("Error");
                st["reason"] = json!("BuildPodDeleted");
                st["message"] =
                    json!("The pod for this build was deleted before the build completed.");
            }),
            _ => {}
        },
        _ => {}
    }
}
