//! BuildConfigs and Builds (`build.openshift.io/v1`).
//!
//! - A BuildConfig with a `ConfigChange` trigger starts build 1 when it is created; the
//!   `instantiate` endpoint starts the next one, `instantiatebinary` a binary one. Each build
//!   is a Build `<bc>-<n>` (labels `buildconfig`, `openshift.io/build-config.name`,
//!   annotation `openshift.io/build.number`), and `status.lastVersion` of the BuildConfig
//!   counts them.
//! - A Build goes New -> Pending (its build pod `<build>-build` is created) -> Running (the
//!   pod runs) -> Complete (the pod exited 0) or Failed (it did not), with start and
//!   completion timestamps and the duration; `status.cancelled: true` (`oc cancel-build`)
//!   deletes the pod and ends it Cancelled.
//! - The source: a Git source must be a local directory (`file:///path` or `/path`); its
//!   working tree (without `.git`, `contextDir` applied) is packed when the build starts. A
//!   binary build's upload is written by `instantiatebinary`. Either way it is a tar in the
//!   ConfigMap `<build>-source`, mounted into the build pod.
//! - Source strategy: the build pod runs in the builder image (`sourceStrategy.from`, an
//!   ImageStreamTag resolved to its current image, or a DockerImage); its script unpacks the
//!   source into `/tmp/src` and runs the builder's `assemble` (`sourceStrategy.scripts` or
//!   `/usr/libexec/s2i`) as the image's user in its working dir. On success the container's
//!   `/opt/app-root` (and the builder's labelled deployments dir) is committed into a new
//!   catalogue image derived from the builder (its
//!   command the `run` script) and pushed to `output.to` (an ImageStreamTag): a new history
//!   entry `<registry>/<ns>/<stream>@sha256:...` whose digest is derived from the Build's UID,
//!   which fires the ImageChange triggers of DeploymentConfigs watching that tag. `assemble`
//!   failing fails the build with `AssembleFailed`.
//! - Docker strategy, reduced: no Dockerfile is interpreted; the source is copied to
//!   `/opt/app-root/src` of the `from` image and that is the output image.
//! - Incremental Source builds (`sourceStrategy.incremental: true`): when the output
//!   ImageStreamTag already has an image, the build pod's init container runs that image's
//!   `save-artifacts` (a tar on stdout, into an emptyDir) and the build restores it into
//!   `/tmp/artifacts` before `assemble` (the log says so); the image used is named by the
//!   build pod's `PREVIOUS_IMAGE`.
//! - A Git source with `ref` (branch, tag or commit) is that ref of the local repository,
//!   checked out by the `git` command into a scratch clone; an unknown ref (or no `git`)
//!   fails the build with FetchSourceFailed and git's message.
//! - Not modelled: Custom strategy (run as Source), pushes to DockerImage outputs, remote
//!   Git sources.

//!
//! The rooms: [`trigger`] (which builds start: ConfigChange and ImageChange triggers),
//! [`source`] (the source archive: local Git trees, refs checked out by `git`, uploads),
//! [`pod`] (the build pod, its script and the builder image) and [`output`] (committing and
//! pushing the built image); this module holds the Build object and drives its phases.

mod output;
mod pod;
mod source;
mod trigger;

use std::sync::Arc;

use serde_json::{Value, json};

use super::{cached, images};
use crate::cluster::World;
use crate::controllers::{controller_ref, write_status};
use crate::store::{ObjKey, WriteOptions, meta};
use output::push_output;
use pod::{build_pod, builder_image, previous_image};
use source::stage_git_source;

pub use pod::PREVIOUS_IMAGE;
pub use source::{
    INPUTS_DIR, SOURCE_KEY, local_source, pack_dir, source_config_map, source_object,
};
pub(crate) use trigger::{
    image_trigger_streams, reconcile_config, record_current_images, trigger_statuses,
};

/// Annotation on builds and build pods: the build's name.
pub const BUILD_NAME: &str = "openshift.io/build.name";
/// Annotation on builds: the build's number.
pub const BUILD_NUMBER: &str = "openshift.io/build.number";
/// Label and annotation naming a build's BuildConfig.
pub const BUILD_CONFIG: &str = "openshift.io/build-config.name";
/// The file the build script writes a failure reason to.
pub const RESULT_FILE: &str = "/tmp/termination-log";
/// The build pod's container.
pub const BUILD_CONTAINER: &str = "sti-build";
/// What the S2I build commits from the build container.
pub const APP_ROOT: &str = "/opt/app-root";

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
    b["status"] = json!({"phase": "New"});
    if let Some(o) = output {
        let (stream, tag) = o.split_once(':').unwrap_or((o, "latest"));
        b["status"]["outputDockerImageReference"] =
            json!(format!("{}:{tag}", images::stream_repository(ns, stream)));
    }
    b
}

/// Why a build failed: the `reason` and `message` the real build controller writes.
fn failure(reason: &str) -> (&'static str, &'static str) {
    match reason {
        "AssembleFailed" => ("AssembleFailed", "Assemble failed."),
        "FetchSourceFailed" => ("FetchSourceFailed", "Failed to fetch the input source."),
        "PushImageToRegistryFailed" => (
            "PushImageToRegistryFailed",
            "Failed to push the image to the registry.",
        ),
        _ => (
            "GenericBuildFailed",
            "Generic Build failure - check logs for details.",
        ),
    }
}

fn set_status(w: &mut World<'_>, b: &Arc<Value>, f: impl FnOnce(&mut Value)) {
    let mut st = b.get("status").cloned().unwrap_or_else(|| json!({}));
    if !st.is_object() {
        st = json!({});
    }
    f(&mut st);
    write_status(w, w.kinds.openshift.build, b, st);
}

fn fail(w: &mut World<'_>, b: &Arc<Value>, reason: &str, detail: Option<String>) {
    let (reason, message) = failure(reason);
    let now = crate::clock::rfc3339(w.now);
    set_status(w, b, |st| {
        st["phase"] = json!("Failed");
        st["reason"] = json!(reason);
        st["message"] = json!(message);
        if let Some(d) = &detail {
            st["logSnippet"] = json!(d);
        }
        st["completionTimestamp"] = json!(now);
    });
    let msg = format!(
        "Build {}/{} failed: {message}",
        meta::namespace(b),
        meta::name(b)
    );
    w.event(b, true, "BuildFailed", msg, "build-controller");
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
    let active = matches!(phase.as_str(), "New" | "Pending" | "Running");
    // `oc cancel-build` sets status.cancelled: the build pod is stopped, the build Cancelled.
    if active && b.pointer("/status/cancelled").and_then(Value::as_bool) == Some(true) {
        set_status(w, &b, |st| {
            st["phase"] = json!("Cancelled");
            st["reason"] = json!("CancelledBuild");
            st["message"] = json!("The build was cancelled by the user.");
            st["completionTimestamp"] = json!(now);
        });
        if pod.is_some()
            && let Some(pt) = w.kinds.pod
            && let Err(e) = w.store.delete(
                pt,
                &pod_key.0,
                &pod_key.1,
                &crate::store::DeleteOptions::default(),
            )
        {
            tracing::debug!(build = %key.1, error = %e.message, "build pod not deleted");
        }
        let msg = format!("Build {}/{} was cancelled", key.0, key.1);
        w.event(&b, false, "BuildCancelled", msg, "build-controller");
        return;
    }
    match phase.as_str() {
        "New" => {
            if pod.is_none() {
                let binary = b.pointer("/spec/source/binary").is_some()
                    || b.pointer("/spec/source/type").and_then(Value::as_str) == Some("Binary");
                if binary {
                    // A binary build waits for its upload (instantiatebinary writes it first).
                    let cm = w
                        .store
                        .type_id_of::<k8s_openapi::api::core::v1::ConfigMap>()
                        .and_then(|t| w.store.get(t, &key.0, &source_config_map(&key.1)).ok());
                    if cm.is_none() {
                        return;
                    }
                } else if let Err(e) = stage_git_source(w, &b) {
                    fail(w, &b, "FetchSourceFailed", Some(e));
                    return;
                }
                let image = builder_image(w, &b);
                let mut spec_b = (*b).clone();
                if let Some(prev) = previous_image(w, &b) {
                    spec_b["metadata"]["annotations"][PREVIOUS_IMAGE] = json!(prev);
                }
                let Some(pt) = w.kinds.pod else { return };
                if let Err(e) = w.store.create(
                    pt,
                    &key.0,
                    build_pod(&spec_b, &image),
                    &WriteOptions::default(),
                ) {
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
                let Some(p) = pod.as_ref() else { return };
                let digest = match push_output(w, &b, p) {
                    Ok(d) => d,
                    Err(e) => {
                        fail(w, &b, "PushImageToRegistryFailed", Some(e));
                        return;
                    }
                };
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
                let reason = pod
                    .as_ref()
                    .and_then(|p| {
                        w.runtime
                            .read_file(meta::uid(p), BUILD_CONTAINER, RESULT_FILE)
                    })
                    .map(|r| String::from_utf8_lossy(&r).trim().to_string())
                    .unwrap_or_default();
                fail(w, &b, &reason, None);
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
