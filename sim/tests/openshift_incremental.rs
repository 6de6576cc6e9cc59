//! Incremental S2I builds: with `sourceStrategy.incremental: true` the second build runs the
//! previous output image's `save-artifacts` and restores its tar into `/tmp/artifacts`
//! before `assemble`, which reuses node_modules; without it nothing is restored.

mod openshift_support;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

fn write_app(dir: &std::path::Path, dep: &str) {
    std::fs::write(
        dir.join("package.json"),
        format!(r#"{{"name": "app", "scripts": {{"start": "node server.js"}}, "dependencies": {{"{dep}": "1.0.0"}}}}"#),
    )
    .expect("write");
    std::fs::write(dir.join("server.js"), "console.log('hi');\n").expect("write");
}

/// The dependencies installed in the image build `build` pushed.
async fn modules_of(sim: &Sim, name: &str) -> Vec<&'static str> {
    let b = get(sim, &build(), "default", name).await;
    assert_eq!(b["status"]["phase"], "Complete", "{b}");
    let digest = b["status"]["output"]["to"]["imageDigest"]
        .as_str()
        .unwrap_or_default();
    let reference =
        format!("image-registry.openshift-image-registry.svc:5000/default/app@{digest}");
    let fs = pushed_image_fs(sim, &reference);
    ["first-dep", "second-dep"]
        .into_iter()
        .filter(|d| fs.exists(&format!("/opt/app-root/src/node_modules/{d}/package.json")))
        .collect()
}

async fn two_builds(incremental: bool) -> (Sim, Value, String) {
    let sim = sim();
    let src = tempfile::tempdir().expect("dir");
    write_app(src.path(), "first-dep");
    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "nodejs"},
        "spec": {"tags": [{"name": "14", "from": {"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}}]}})).await;
    sim.settle();
    create(
        &sim,
        &bc(),
        "default",
        json!({
        "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": "app"},
        "spec": {
            "source": {"type": "Git", "git": {"uri": format!("file://{}", src.path().display())}},
            "strategy": {"type": "Source", "sourceStrategy": {"incremental": incremental,
                "from": {"kind": "ImageStreamTag", "name": "nodejs:14"}}},
            "output": {"to": {"kind": "ImageStreamTag", "name": "app:latest"}},
            "triggers": [{"type": "ConfigChange"}],
        }}),
    )
    .await;
    sim.settle();
    assert_eq!(modules_of(&sim, "app-1").await, vec!["first-dep"]);
    let first = pod_log(&sim, "app-1-build").await;
    assert!(!first.contains("Saving build artifacts"), "{first}");
    // The app now depends on something else: build 2 installs only that.
    write_app(src.path(), "second-dep");
    post_subresource(&sim, &bc(), "default", "app", "instantiate",
        json!({"apiVersion": "build.openshift.io/v1", "kind": "BuildRequest", "metadata": {"name": "app"}}))
        .await
        .expect("instantiate");
    sim.settle();
    let pod_ = get(&sim, &pod(), "default", "app-2-build").await;
    let log = pod_log(&sim, "app-2-build").await;
    (sim, pod_, log)
}

#[tokio::test]
async fn an_incremental_build_restores_the_artifacts_of_the_previous_image() {
    let (sim, pod_, log) = two_builds(true).await;
    let first_image =
        get(&sim, &build(), "default", "app-1").await["status"]["output"]["to"]["imageDigest"]
            .as_str()
            .unwrap_or("?")
            .to_string();
    let init = &pod_["spec"]["initContainers"][0];
    assert_eq!(init["name"], "save-artifacts");
    assert!(
        init["image"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&first_image),
        "{init}"
    );
    for line in [
        "Saving build artifacts from image ",
        "Restored build artifacts into /tmp/artifacts",
        "---> Restoring build artifacts ...",
    ] {
        assert!(log.contains(line), "{line:?} not in the build log:\n{log}");
    }
    // The restored node_modules of build 1 are still there beside what build 2 installed.
    assert_eq!(
        modules_of(&sim, "app-2").await,
        vec!["first-dep", "second-dep"]
    );
}

#[tokio::test]
async fn a_non_incremental_build_restores_nothing() {
    let (sim, pod_, log) = two_builds(false).await;
    assert!(pod_["spec"]["initContainers"].is_null(), "{pod_}");
    assert!(!log.contains("artifacts"), "{log}");
    assert_eq!(modules_of(&sim, "app-2").await, vec!["second-dep"]);
}
