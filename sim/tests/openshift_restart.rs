//! Images pushed by builds outlive a restart of the simulator on a state directory
//! (`odo-sim serve --state DIR`): the ImageStream tag restored from the store still names an
//! image the runtime can run, with the content the build put in it.

mod openshift_support;

use std::time::Duration;

use odo_sim::{Flavor, Sim};
use openshift_support::*;
use serde_json::{Value, json};

/// An OpenShift simulator on `dir`. Its catalogue runs an unknown image on the busybox base
/// (the deployer image is not in it), so a lost pushed image shows as a pod that runs
/// without the built content: the test looks at the content.
fn sim_on(dir: &std::path::Path) -> Sim {
    Sim::builder()
        .seed(7)
        .flavor(Flavor::Openshift)
        .state_dir(dir)
        .build()
        .expect("sim")
}

async fn the_app_pod(sim: &Sim) -> Value {
    let pods = list(sim, &pod(), "default", "app=app").await;
    live_pods(&pods)
        .first()
        .map(|p| (*p).clone())
        .unwrap_or_else(|| panic!("no live pod of the DeploymentConfig: {pods:?}"))
}

#[tokio::test]
async fn a_built_image_still_runs_after_a_restart_on_the_same_state() {
    let dir = tempfile::tempdir().expect("dir");
    let image = {
        let sim = sim_on(dir.path());
        create(&sim, &bc(), "default", json!({
            "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": "app"},
            "spec": {
                "source": {"type": "Binary", "binary": {"asFile": "app.py"}},
                "strategy": {"type": "Source", "sourceStrategy": {"from": {"kind": "DockerImage",
                    "name": "registry.access.redhat.com/ubi8/python-38:latest"}}},
                "output": {"to": {"kind": "ImageStreamTag", "name": "app:latest"}},
            }})).await;
        create(&sim, &dc(), "default", app_dc()).await;
        sim.settle();
        let _: Value = sim
            .client()
            .request(
                http::Request::post(
                    "/apis/build.openshift.io/v1/namespaces/default/buildconfigs/app/instantiatebinary?asFile=app.py",
                )
                .header("Content-Type", "application/octet-stream")
                .body(b"print('built before the restart')\n".to_vec())
                .expect("request"),
            )
            .await
            .expect("instantiatebinary");
        sim.settle();
        assert_eq!(
            get(&sim, &build(), "default", "app-1").await["status"]["phase"],
            "Complete"
        );
        sim.settle_for(Duration::from_secs(5));
        let p = the_app_pod(&sim).await;
        let name = p["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            pod_log(&sim, &name)
                .await
                .contains("built before the restart"),
            "the first run already runs the built image"
        );
        p["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(image.contains("/default/app@sha256:"), "{image}");

    let sim = sim_on(dir.path());
    let tag = get(&sim, &istag(), "default", "app:latest").await;
    assert_eq!(tag["image"]["dockerImageReference"], json!(image));
    // The pod the restarted cluster runs for the DeploymentConfig (a new one once the old is
    // deleted) pulls the pushed image and runs the built script.
    let old = the_app_pod(&sim).await;
    delete(
        &sim,
        &pod(),
        "default",
        old["metadata"]["name"].as_str().unwrap_or_default(),
    )
    .await;
    sim.settle_for(Duration::from_secs(60));
    let p = the_app_pod(&sim).await;
    assert_ne!(p["metadata"]["uid"], old["metadata"]["uid"]);
    assert_eq!(p["spec"]["containers"][0]["image"], json!(image));
    let waiting = p.pointer("/status/containerStatuses/0/state/waiting/reason");
    assert!(
        waiting.is_none_or(|r| r != "ErrImagePull" && r != "ImagePullBackOff"),
        "{p}"
    );
    let name = p["metadata"]["name"].as_str().unwrap_or_default();
    let log = pod_log(&sim, name).await;
    assert!(log.contains("built before the restart"), "{log}");
    assert!(
        pushed_image_fs(&sim, &image).exists("/opt/app-root/src/app.py"),
        "the restored image holds the uploaded file"
    );
}
