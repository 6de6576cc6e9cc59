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

use std::sync::Arc;

use serde_json::{Value, json};
use sha2::Digest;

use super::{cached, images};
use crate::cluster::World;
use crate::controllers::{controller_ref, write_status};
use crate::store::{ObjKey, Part, WriteOptions, meta};

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
    b["status"] = json!({"phase": "New"});
    if let Some(o) = output {
        let (stream, tag) = o.split_once(':').unwrap_or((o, "latest"));
        b["status"]["outputDockerImageReference"] =
            json!(format!("{}:{tag}", images::stream_repository(ns, stream)));
    }
    b
}

/// The ImageStreamTag an ImageChange trigger of a BuildConfig watches: its own `from`, else
/// the strategy's builder image (namespace defaulted to the BuildConfig's).
fn trigger_from(bc: &Value, trigger: &Value) -> Option<Value> {
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
        .filter_map(|f| super::referenced_stream(&f, meta::namespace(bc)))
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

/// The ConfigMap holding a build's source as a tar archive (key [`SOURCE_KEY`]), mounted
/// into the build pod at [`INPUTS_DIR`]. For binary builds `instantiatebinary` writes it;
/// for Git builds the controller packs the local directory the URI names.
pub fn source_config_map(build: &str) -> String {
    format!("{build}-source")
}
/// The key of the source archive in the source ConfigMap.
pub const SOURCE_KEY: &str = "source.tar";
/// Where the build pod sees its inputs.
pub const INPUTS_DIR: &str = "/tmp/build/inputs";
/// The file the build script writes a failure reason to.
pub const RESULT_FILE: &str = "/tmp/termination-log";
/// The build pod's container.
pub const BUILD_CONTAINER: &str = "sti-build";
/// What the S2I build commits from the build container.
pub const APP_ROOT: &str = "/opt/app-root";

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

/// The strategy of a build: `Source` or `Docker` (Custom and others run as Source).
fn strategy_type(b: &Value) -> &str {
    match b.pointer("/spec/strategy/type").and_then(Value::as_str) {
        Some("Docker") => "Docker",
        _ if b.pointer("/spec/strategy/dockerStrategy").is_some()
            && b.pointer("/spec/strategy/sourceStrategy").is_none() =>
        {
            "Docker"
        }
        _ => "Source",
    }
}

/// The directory of the S2I scripts: `sourceStrategy.scripts` (an `image://` URL) or the
/// builder images' `io.openshift.s2i.scripts-url`, `/usr/libexec/s2i`.
fn scripts_dir(b: &Value) -> String {
    b.pointer("/spec/strategy/sourceStrategy/scripts")
        .and_then(Value::as_str)
        .map(|u| {
            u.strip_prefix("image://")
                .unwrap_or(u)
                .trim_end_matches('/')
        })
        .filter(|d| d.starts_with('/'))
        .unwrap_or("/usr/libexec/s2i")
        .to_string()
}

/// The shell script the build container runs (the simulator's `openshift-sti-build`).
fn build_script(b: &Value) -> String {
    let unpack = format!(
        "mkdir -p /tmp/src\n\
         if [ -f {INPUTS_DIR}/{SOURCE_KEY} ]; then\n\
         \x20 tar -xf {INPUTS_DIR}/{SOURCE_KEY} -C /tmp/src || {{ echo \"error: failed to unpack the build source\"; echo FetchSourceFailed > {RESULT_FILE}; exit 1; }}\n\
         fi\n"
    );
    let fetch = if b.pointer("/spec/source/binary").is_some()
        || b.pointer("/spec/source/type").and_then(Value::as_str) == Some("Binary")
    {
        "echo \"Receiving source from STDIN as archive ...\"\n".to_string()
    } else if b.pointer("/spec/source/git").is_some() {
        "echo \"Cloning \\\"$SOURCE_REPOSITORY\\\" ...\"\n".to_string()
    } else {
        String::new()
    };
    if strategy_type(b) == "Docker" {
        // Reduced Docker strategy: no Dockerfile is interpreted; the source is the app.
        return format!(
            "{fetch}{unpack}echo \"STEP 1/2: FROM $BUILDER_IMAGE\"\n\
             echo \"STEP 2/2: COPY . {APP_ROOT}/src\"\n\
             mkdir -p {APP_ROOT}/src && cp -r /tmp/src/. {APP_ROOT}/src/ || {{ echo GenericBuildFailed > {RESULT_FILE}; exit 1; }}\n\
             echo \"Pushing image $OUTPUT_IMAGE ...\"\n"
        );
    }
    let s2i = scripts_dir(b);
    // The BuildConfig's `scripts` come first, then `.s2i/bin/assemble` of the source, then
    // the builder's own (as S2I picks them).
    let own = if b.pointer("/spec/strategy/sourceStrategy/scripts").is_some() {
        String::new()
    } else {
        "if [ -x /tmp/src/.s2i/bin/assemble ]; then ASSEMBLE=/tmp/src/.s2i/bin/assemble; fi\n"
            .to_string()
    };
    // An incremental build: the init container saved the previous image's artifacts.
    let restore = if previous_output(b).is_some() {
        format!(
            "echo \"Saving build artifacts from image $PREVIOUS_IMAGE ...\"\n\
             if [ -s {ARTIFACTS_VOLUME}/{ARTIFACTS_TAR} ]; then\n\
             \x20 mkdir -p /tmp/artifacts && tar -xf {ARTIFACTS_VOLUME}/{ARTIFACTS_TAR} -C /tmp/artifacts || {{ echo \"error: restoring the build artifacts failed\"; echo GenericBuildFailed > {RESULT_FILE}; exit 1; }}\n\
             \x20 echo \"Restored build artifacts into /tmp/artifacts\"\n\
             else\n\
             \x20 echo \"No build artifacts were saved by $PREVIOUS_IMAGE\"\n\
             fi\n"
        )
    } else {
        String::new()
    };
    format!(
        "{fetch}{unpack}echo \"Generating dockerfile with builder image $BUILDER_IMAGE\"\n\
         ASSEMBLE={s2i}/assemble\n\
         {own}{restore}\
         echo \"STEP: RUN $ASSEMBLE\"\n\
         if [ ! -x \"$ASSEMBLE\" ]; then\n\
         \x20 echo \"error: build error: $ASSEMBLE: no such file in the builder image\"; echo AssembleFailed > {RESULT_FILE}; exit 1\n\
         fi\n\
         \"$ASSEMBLE\"\n\
         rc=$?\n\
         if [ $rc -ne 0 ]; then\n\
         \x20 echo \"error: build error: error building at STEP \\\"RUN $ASSEMBLE\\\": exit status $rc\"\n\
         \x20 echo AssembleFailed > {RESULT_FILE}\n\
         \x20 exit 1\n\
         fi\n\
         echo \"Pushing image $OUTPUT_IMAGE ...\"\n"
    )
}

/// Where a build pushes its image: (namespace, stream, tag) of an ImageStreamTag output.
fn output_tag(b: &Value) -> Option<(String, String, String)> {
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
fn output_digest(b: &Value) -> String {
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(meta::uid(b).as_bytes()))
    )
}

/// Where an incremental build's init container leaves the saved artifacts (an emptyDir).
const ARTIFACTS_VOLUME: &str = "/var/run/openshift.io/artifacts";
/// The tar `save-artifacts` wrote.
const ARTIFACTS_TAR: &str = "artifacts.tar";
/// The annotation on a build recording the image an incremental build saves artifacts from.
pub const PREVIOUS_IMAGE: &str = "openshift.io/build.previous-image";

/// Whether a build is an incremental Source build.
fn incremental(b: &Value) -> bool {
    strategy_type(b) == "Source"
        && b.pointer("/spec/strategy/sourceStrategy/incremental")
            .and_then(Value::as_bool)
            == Some(true)
}

/// The previous output image of an incremental Source build (set when the build pod is
/// created, from the output ImageStreamTag's head); None for other builds.
fn previous_output(b: &Value) -> Option<&str> {
    if !incremental(b) {
        return None;
    }
    b.pointer("/metadata/annotations")
        .and_then(|a| a.get(PREVIOUS_IMAGE))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The head image of an incremental build's output tag, when an earlier build pushed it.
fn previous_image(w: &World<'_>, b: &Value) -> Option<String> {
    if !incremental(b) {
        return None;
    }
    let (ns, stream, tag) = output_tag(b)?;
    let is = cached(&w.cache().openshift.is, &(ns, stream))?;
    images::head_reference(&is, &tag)
}

fn build_pod(b: &Value, image: &str) -> Value {
    let name = meta::name(b);
    let source_uri = b
        .pointer("/spec/source/git/uri")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let output = output_tag(b)
        .map(|(ns, s, _)| {
            format!(
                "{}@{}",
                images::stream_repository(&ns, &s),
                output_digest(b)
            )
        })
        .unwrap_or_default();
    let mut pod = json!({
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
                "name": BUILD_CONTAINER,
                "image": image,
                "command": ["/bin/sh", "-c", build_script(b)],
                "env": [
                    {"name": "BUILD", "value": name},
                    {"name": "BUILDER_IMAGE", "value": image},
                    {"name": "SOURCE_REPOSITORY", "value": source_uri},
                    {"name": "SOURCE_URI", "value": source_uri},
                    {"name": "OUTPUT_REGISTRY", "value": images::REGISTRY},
                    {"name": "OUTPUT_IMAGE", "value": output},
                ],
                "volumeMounts": [{"name": "build-inputs", "mountPath": INPUTS_DIR, "readOnly": true}],
            }],
            "volumes": [{"name": "build-inputs", "configMap": {"name": source_config_map(name), "optional": true}}],
            "restartPolicy": "Never",
            "serviceAccountName": "builder",
        },
    });
    if let Some(prev) = previous_output(b) {
        // As S2I does: the previous image's `save-artifacts` streams a tar, restored into
        // /tmp/artifacts before assemble runs.
        let s2i = scripts_dir(b);
        let save = format!(
            "if [ -x {s2i}/save-artifacts ]; then {s2i}/save-artifacts > {ARTIFACTS_VOLUME}/{ARTIFACTS_TAR}; fi"
        );
        pod["spec"]["initContainers"] = json!([{
            "name": "save-artifacts",
            "image": prev,
            "command": ["/bin/sh", "-c", save],
            "volumeMounts": [{"name": "build-artifacts", "mountPath": ARTIFACTS_VOLUME}],
        }]);
        if let Some(v) = pod["spec"]["volumes"].as_array_mut() {
            v.push(json!({"name": "build-artifacts", "emptyDir": {}}));
        }
        if let Some(c) = pod.pointer_mut("/spec/containers/0") {
            if let Some(e) = c["env"].as_array_mut() {
                e.push(json!({"name": "PREVIOUS_IMAGE", "value": prev}));
            }
            if let Some(v) = c["volumeMounts"].as_array_mut() {
                v.push(json!({"name": "build-artifacts", "mountPath": ARTIFACTS_VOLUME, "readOnly": true}));
            }
        }
    }
    pod
}

/// The local directory a Git source URI names: `file:///path` or an absolute path (the
/// simulator clones nothing: it reads the working tree as it is, without `.git`).
pub fn local_source(uri: &str) -> Option<std::path::PathBuf> {
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    path.starts_with('/')
        .then(|| std::path::PathBuf::from(path))
}

/// Packs a directory into a tar archive (entries sorted by name, `.git` left out, times
/// set to `mtime` so that the same tree always packs the same bytes).
pub fn pack_dir(dir: &std::path::Path, mtime: u64) -> Result<Vec<u8>, String> {
    fn walk(
        ar: &mut tar::Builder<Vec<u8>>,
        dir: &std::path::Path,
        rel: &str,
        mtime: u64,
    ) -> Result<(), String> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            let path = e.path();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let md = std::fs::symlink_metadata(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            let mode = {
                use std::os::unix::fs::PermissionsExt;
                md.permissions().mode() & 0o7777
            };
            let mut h = tar::Header::new_gnu();
            h.set_mtime(mtime);
            h.set_mode(mode);
            if md.file_type().is_symlink() {
                let target = std::fs::read_link(&path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                ar.append_link(&mut h, &rel, &target)
                    .map_err(|e| format!("packing {rel}: {e}"))?;
            } else if md.is_dir() {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                ar.append_data(&mut h, format!("{rel}/"), std::io::empty())
                    .map_err(|e| format!("packing {rel}: {e}"))?;
                walk(ar, &path, &rel, mtime)?;
            } else {
                let data =
                    std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                ar.append_data(&mut h, &rel, data.as_slice())
                    .map_err(|e| format!("packing {rel}: {e}"))?;
            }
        }
        Ok(())
    }
    let mut ar = tar::Builder::new(Vec::new());
    walk(&mut ar, dir, "", mtime)?;
    ar.into_inner().map_err(|e| format!("packing: {e}"))
}

/// The source ConfigMap object of a build (owned by it when `owner` is given).
pub fn source_object(build: &str, archive: &[u8], owner: Option<&Value>) -> Value {
    use base64::Engine;
    let mut cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": source_config_map(build), "labels": {BUILD_NAME: build}},
        "binaryData": {SOURCE_KEY: base64::engine::general_purpose::STANDARD.encode(archive)},
    });
    if let Some(o) = owner {
        cm["metadata"]["ownerReferences"] = json!([controller_ref(o)]);
    }
    cm
}

/// Clones the local repository `repo` into a scratch directory and checks out `r` (a
/// branch, tag or commit) with the `git` command; Err says why (unknown ref, no git).
fn checkout_ref(repo: &std::path::Path, r: &str) -> Result<tempfile::TempDir, String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("creating a checkout directory: {e}"))?;
    let git = |args: &[&std::ffi::OsStr]| -> Result<(), String> {
        let out = std::process::Command::new("git")
            .args(["-c", "advice.detachedHead=false"])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .map_err(|e| format!("running git to check out {r:?}: {e} (is git installed?)"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    };
    git(&[
        "clone".as_ref(),
        "--quiet".as_ref(),
        "--no-checkout".as_ref(),
        repo.as_os_str(),
        tmp.path().as_os_str(),
    ])
    .map_err(|e| format!("cloning {}: {e}", repo.display()))?;
    git(&[
        "-C".as_ref(),
        tmp.path().as_os_str(),
        "checkout".as_ref(),
        "--quiet".as_ref(),
        r.as_ref(),
        "--".as_ref(),
    ])
    .map_err(|e| {
        format!(
            "error: unable to check out {r:?} of {}: {e}",
            repo.display()
        )
    })?;
    Ok(tmp)
}

/// Packs a Git build's local source into its source ConfigMap (nothing to do for other
/// sources); Err is the message of a FetchSourceFailed build.
fn stage_git_source(w: &mut World<'_>, b: &Value) -> Result<(), String> {
    let Some(uri) = b.pointer("/spec/source/git/uri").and_then(Value::as_str) else {
        return Ok(());
    };
    let Some(mut dir) = local_source(uri) else {
        return Err(format!(
            "the simulator reads Git sources from local directories only (file:///path or /path), not {uri:?}"
        ));
    };
    // A ref: that commit of the repository, checked out by the `git` command into a scratch
    // clone (the working tree otherwise).
    let checkout;
    if let Some(r) = b
        .pointer("/spec/source/git/ref")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        checkout = checkout_ref(&dir, r)?;
        dir = checkout.path().to_path_buf();
    }
    if let Some(ctx) = b
        .pointer("/spec/source/contextDir")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
    {
        dir = dir.join(ctx.trim_start_matches('/'));
    }
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let mtime = w.now.as_second().max(0) as u64;
    let archive = pack_dir(&dir, mtime)?;
    let cm_tid = w
        .store
        .type_id_of::<k8s_openapi::api::core::v1::ConfigMap>()
        .ok_or("configmaps are not served")?;
    let cm = source_object(meta::name(b), &archive, Some(b));
    match w
        .store
        .create(cm_tid, meta::namespace(b), cm, &WriteOptions::default())
    {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e.message.clone()),
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

/// Commits the assembled app of a finished build pod into a new image (the builder image
/// with the build's `/opt/app-root`, its `run` script as command) and records it in the
/// output ImageStreamTag's history. Ok(None): the build has no ImageStreamTag output.
fn push_output(w: &mut World<'_>, b: &Value, pod: &Value) -> Result<Option<String>, String> {
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
