//! BuildConfigs and Builds on the OpenShift flavor (the reduced Source strategy of the
//! simulator): a ConfigChange trigger starts build 1, `instantiate` starts the next, a build
//! goes New -> Pending -> Running -> Complete with its build pod, and the image it pushes to
//! its output ImageStreamTag rolls out the DeploymentConfig watching that tag.

mod openshift_support;

use std::time::Duration;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

fn bc() -> kube::api::ApiResource {
    ar("build.openshift.io", "v1", "BuildConfig", "buildconfigs")
}

fn build() -> kube::api::ApiResource {
    ar("build.openshift.io", "v1", "Build", "builds")
}

async fn phase(sim: &Sim, name: &str) -> String {
    get(sim, &build(), "default", name).await["status"]["phase"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_completed_build_rolls_out_the_deployment_config_watching_its_output() {
    let sim = sim();
    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "nodejs"},
        "spec": {"tags": [{"name": "14", "from": {"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}}]}})).await;
    create(&sim, &dc(), "default", json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig", "metadata": {"name": "app"},
        "spec": {"replicas": 1, "selector": {"app": "app"},
            "triggers": [{"type": "ConfigChange"}, {"type": "ImageChange", "imageChangeParams": {"automatic": true,
                "containerNames": ["app"], "from": {"kind": "ImageStreamTag", "name": "app:latest"}}}],
            "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "app", "image": " "}]}}}})).await;
    sim.settle();
    create(&sim, &bc(), "default", json!({
        "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": "app"},
        "spec": {
            "source": {"type": "Git", "git": {"uri": "file:///src/app"}},
            "strategy": {"type": "Source", "sourceStrategy": {"from": {"kind": "ImageStreamTag", "name": "nodejs:14"}}},
            "output": {"to": {"kind": "ImageStreamTag", "name": "app:latest"}},
            "triggers": [{"type": "ConfigChange"}],
        }})).await;
    sim.advance(Duration::from_millis(10));
    assert_eq!(phase(&sim, "app-1").await, "Pending");
    let b = get(&sim, &build(), "default", "app-1").await;
    assert_eq!(b["metadata"]["labels"]["buildconfig"], "app");
    assert_eq!(annotation(&b, "openshift.io/build.number"), "1");
    assert_eq!(
        b["status"]["outputDockerImageReference"],
        "image-registry.openshift-image-registry.svc:5000/default/app:latest"
    );
    let pod_ = get(&sim, &pod(), "default", "app-1-build").await;
    let builder = pod_["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default();
    assert!(
        builder.starts_with("registry.access.redhat.com/ubi8/nodejs-14@sha256:"),
        "{builder}"
    );
    sim.advance(Duration::from_secs(2));
    assert_eq!(phase(&sim, "app-1").await, "Running");
    sim.settle();
    let b = get(&sim, &build(), "default", "app-1").await;
    assert_eq!(b["status"]["phase"], "Complete", "{b}");
    let digest = b["status"]["output"]["to"]["imageDigest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(digest.starts_with("sha256:"));
    assert_eq!(b["status"]["duration"].as_u64(), Some(5_000_000_000));
    let tag = get(&sim, &istag(), "default", "app:latest").await;
    let reference =
        format!("image-registry.openshift-image-registry.svc:5000/default/app@{digest}");
    assert_eq!(tag["image"]["dockerImageReference"], json!(reference));
    let rc1 = get(&sim, &rc(), "default", "app-1").await;
    assert_eq!(
        rc1["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(reference)
    );
    assert_eq!(
        annotation(&rc1, "openshift.io/deployment.phase"),
        "Complete"
    );
    assert_eq!(
        get(&sim, &bc(), "default", "app").await["status"]["lastVersion"],
        1
    );

    // `oc start-build app`: build 2 pushes another image, which is version 2 of the app.
    let b2 = post_subresource(&sim, &bc(), "default", "app", "instantiate",
        json!({"apiVersion": "build.openshift.io/v1", "kind": "BuildRequest", "metadata": {"name": "app"}}))
        .await
        .expect("instantiate");
    assert_eq!(b2["metadata"]["name"], "app-2");
    sim.settle();
    assert_eq!(phase(&sim, "app-2").await, "Complete");
    let rc2 = get(&sim, &rc(), "default", "app-2").await;
    let image2 = rc2["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default();
    assert!(
        image2.ends_with(
            get(&sim, &build(), "default", "app-2").await["status"]["output"]["to"]["imageDigest"]
                .as_str()
                .unwrap_or("?")
        ),
        "{image2}"
    );
    assert_ne!(image2, reference);
    let hist = get(&sim, &is(), "default", "app").await["status"]["tags"][0]["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(hist, 2);
}

#[tokio::test]
async fn a_failing_build_pod_fails_the_build_and_pushes_nothing() {
    let sim = sim();
    create(&sim, &bc(), "default", json!({
        "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": "broken"},
        "spec": {
            "strategy": {"type": "Source", "sourceStrategy": {"from": {"kind": "DockerImage", "name": "builder:missing"}}},
            "output": {"to": {"kind": "ImageStreamTag", "name": "broken:latest"}},
        }})).await;
    sim.settle();
    // No ConfigChange trigger: nothing is built until asked.
    assert!(list(&sim, &build(), "default", "").await.is_empty());
    sim.inject(odo_sim::Fault::ImagePullFailure {
        image: "builder:missing".into(),
        active: true,
    })
    .expect("fault");
    post_subresource(&sim, &bc(), "default", "broken", "instantiate",
        json!({"apiVersion": "build.openshift.io/v1", "kind": "BuildRequest", "metadata": {"name": "broken"}}))
        .await
        .expect("instantiate");
    sim.settle_for(Duration::from_secs(60));
    assert_eq!(
        phase(&sim, "broken-1").await,
        "Pending",
        "the build waits on its pod's image"
    );
    // The build pod is deleted before it could run.
    delete(&sim, &pod(), "default", "broken-1-build").await;
    sim.settle_for(Duration::from_secs(60));
    let b: Value = get(&sim, &build(), "default", "broken-1").await;
    assert_eq!(b["status"]["phase"], "Error", "{b}");
    assert_eq!(b["status"]["reason"], "BuildPodDeleted");
    assert!(get_opt(&sim, &is(), "default", "broken").await.is_none());
}
