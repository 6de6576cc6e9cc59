//! The build pod `<build>-build`: the builder image it runs, the script of its build
//! container (unpack, assemble or the reduced Docker copy) and, for incremental Source
//! builds, the init container restoring the previous image's artifacts.

use serde_json::{Value, json};

use super::super::{cached, images};
use super::output::{output_digest, output_tag};
use super::source::{INPUTS_DIR, SOURCE_KEY, source_config_map};
use super::{APP_ROOT, BUILD_CONTAINER, BUILD_NAME, RESULT_FILE};
use crate::cluster::World;
use crate::controllers::controller_ref;
use crate::store::meta;

pub(super) fn builder_image(w: &World<'_>, b: &Value) -> String {
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

/// The strategy of a build: `Source` or `Docker` (Custom and others run as Source).
pub(super) fn strategy_type(b: &Value) -> &str {
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
pub(super) fn scripts_dir(b: &Value) -> String {
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
pub(super) fn build_script(b: &Value) -> String {
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

/// Where an incremental build's init container leaves the saved artifacts (an emptyDir).
pub(super) const ARTIFACTS_VOLUME: &str = "/var/run/openshift.io/artifacts";
/// The tar `save-artifacts` wrote.
pub(super) const ARTIFACTS_TAR: &str = "artifacts.tar";
/// The annotation on a build recording the image an incremental build saves artifacts from.
pub const PREVIOUS_IMAGE: &str = "openshift.io/build.previous-image";

/// Whether a build is an incremental Source build.
pub(super) fn incremental(b: &Value) -> bool {
    strategy_type(b) == "Source"
        && b.pointer("/spec/strategy/sourceStrategy/incremental")
            .and_then(Value::as_bool)
            == Some(true)
}

/// The previous output image of an incremental Source build (set when the build pod is
/// created, from the output ImageStreamTag's head); None for other builds.
pub(super) fn previous_output(b: &Value) -> Option<&str> {
    if !incremental(b) {
        return None;
    }
    b.pointer("/metadata/annotations")
        .and_then(|a| a.get(PREVIOUS_IMAGE))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The head image of an incremental build's output tag, when an earlier build pushed it.
pub(super) fn previous_image(w: &World<'_>, b: &Value) -> Option<String> {
    if !incremental(b) {
        return None;
    }
    let (ns, stream, tag) = output_tag(b)?;
    let is = cached(&w.cache().openshift.is, &(ns, stream))?;
    images::head_reference(&is, &tag)
}

pub(super) fn build_pod(b: &Value, image: &str) -> Value {
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
