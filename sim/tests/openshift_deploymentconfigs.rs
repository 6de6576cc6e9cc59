//! DeploymentConfigs on the OpenShift flavor: the ConfigChange and ImageChange triggers roll
//! out ReplicationControllers `<dc>-<n>` through a deployer pod, Rolling and Recreate
//! strategies, `instantiate`, rollback and revision history. Lifecycle hooks, `instantiate`
//! with excluded triggers and `containerNames` are in `openshift_dc_hooks_and_triggers.rs`.

mod openshift_support;

use std::time::Duration;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::json;

#[tokio::test]
async fn config_change_rolls_out_the_first_version_and_every_template_edit() {
    let sim = sim();
    create(
        &sim,
        &dc(),
        "default",
        dc_body(
            "frontend",
            2,
            json!({"type": "Rolling"}),
            json!([{"type": "ConfigChange"}]),
            "openshift/hello-openshift",
        ),
    )
    .await;
    sim.settle();
    let rc1 = get(&sim, &rc(), "default", "frontend-1").await;
    assert_eq!(
        annotation(&rc1, "openshift.io/deployment-config.name"),
        "frontend"
    );
    assert_eq!(
        annotation(&rc1, "openshift.io/deployment-config.latest-version"),
        "1"
    );
    assert_eq!(
        annotation(&rc1, "openshift.io/deployment.phase"),
        "Complete"
    );
    assert_eq!(
        rc1["metadata"]["labels"]["openshift.io/deployment-config.name"],
        "frontend"
    );
    assert_eq!(rc1["metadata"]["labels"]["app"], "frontend");
    assert_eq!(
        rc1["spec"]["selector"],
        json!({"name": "frontend", "deployment": "frontend-1", "deploymentconfig": "frontend"})
    );
    assert_eq!(
        rc1["metadata"]["ownerReferences"][0]["kind"],
        "DeploymentConfig"
    );
    assert_eq!(replicas(&rc1), 2);
    assert_eq!(version_pods(&sim, "frontend-1").await, (2, 2));
    let app_pod = &list(&sim, &pod(), "default", "deployment=frontend-1").await[0];
    assert_eq!(
        app_pod["metadata"]["labels"]["deploymentconfig"],
        "frontend"
    );
    assert_eq!(
        annotation(app_pod, "openshift.io/deployment.name"),
        "frontend-1"
    );
    // The deployer pod ran and completed.
    let deployer = get(&sim, &pod(), "default", "frontend-1-deploy").await;
    assert_eq!(deployer["status"]["phase"], "Succeeded", "{deployer}");
    assert_eq!(
        deployer["metadata"]["labels"]["openshift.io/deployer-pod-for.name"],
        "frontend-1"
    );
    assert_eq!(
        deployer["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        0
    );
    let st = dc_status(&sim, "frontend").await;
    assert_eq!(st["latestVersion"], 1);
    assert_eq!(st["availableReplicas"], 2);
    assert_eq!(st["details"]["causes"][0]["type"], "ConfigChange");
    assert_eq!(
        condition(&st, "Progressing")["reason"],
        "NewReplicationControllerAvailable"
    );
    assert_eq!(condition(&st, "Available")["status"], "True");

    // A template edit is a new version; the previous one is kept, scaled to zero.
    merge(&sim, &dc(), "default", "frontend", json!({"spec": {"template": {"spec": {"containers": [
        {"name": "helloworld", "image": "openshift/hello-openshift", "env": [{"name": "A", "value": "1"}]}]}}}}))
    .await;
    sim.settle();
    let all = rcs(&sim).await;
    let names: Vec<&str> = all
        .iter()
        .map(|r| {
            r["metadata"]["name"]
                .as_str()
                .expect("test data has this shape")
        })
        .collect();
    assert_eq!(names, ["frontend-1", "frontend-2"]);
    assert_eq!(replicas(&all[0]), 0);
    assert_eq!(replicas(&all[1]), 2);
    assert_eq!(
        annotation(&all[1], "openshift.io/deployment.phase"),
        "Complete"
    );
    assert_eq!(version_pods(&sim, "frontend-1").await.0, 0);
    assert_eq!(version_pods(&sim, "frontend-2").await, (2, 2));
    assert_eq!(dc_status(&sim, "frontend").await["latestVersion"], 2);

    // A metadata-only change is not a new version; scaling the DC scales the active RC.
    merge(
        &sim,
        &dc(),
        "default",
        "frontend",
        json!({"metadata": {"annotations": {"note": "x"}}, "spec": {"replicas": 3}}),
    )
    .await;
    sim.settle();
    assert_eq!(rcs(&sim).await.len(), 2);
    assert_eq!(version_pods(&sim, "frontend-2").await, (3, 3));
}

#[tokio::test]
async fn a_new_image_on_the_tag_rolls_out_a_new_replication_controller() {
    let sim = sim();
    let trigger = json!([
        {"type": "ConfigChange"},
        {"type": "ImageChange", "imageChangeParams": {"automatic": true, "containerNames": ["helloworld"],
            "from": {"kind": "ImageStreamTag", "name": "hello:latest"}}}
    ]);
    create(
        &sim,
        &dc(),
        "default",
        dc_body("hello", 1, json!({"type": "Rolling"}), trigger, " "),
    )
    .await;
    sim.settle();
    // The tag does not exist yet: no deployment.
    assert!(rcs(&sim).await.is_empty());
    assert_eq!(dc_status(&sim, "hello").await["latestVersion"], 0);

    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "hello"},
        "spec": {"tags": [{"name": "latest", "from": {"kind": "DockerImage", "name": "openshift/hello-openshift:v1"}}]}})).await;
    sim.settle();
    let stream = get(&sim, &is(), "default", "hello").await;
    let first = stream["status"]["tags"][0]["items"][0]["dockerImageReference"]
        .as_str()
        .expect("test data has this shape")
        .to_string();
    assert!(
        first.starts_with("openshift/hello-openshift@sha256:"),
        "{first}"
    );
    let rc1 = get(&sim, &rc(), "default", "hello-1").await;
    assert_eq!(
        rc1["spec"]["template"]["spec"]["containers"][0]["image"],
        first
    );
    let d = get(&sim, &dc(), "default", "hello").await;
    assert_eq!(
        d["spec"]["triggers"][1]["imageChangeParams"]["lastTriggeredImage"],
        first
    );
    assert_eq!(d["status"]["details"]["causes"][0]["type"], "ImageChange");

    // `oc tag openshift/hello-openshift:v2 hello:latest`: a new image on the tag.
    merge(&sim, &is(), "default", "hello", json!({"spec": {"tags": [
        {"name": "latest", "from": {"kind": "DockerImage", "name": "openshift/hello-openshift:v2"}}]}})).await;
    sim.settle();
    let stream = get(&sim, &is(), "default", "hello").await;
    let items = stream["status"]["tags"][0]["items"]
        .as_array()
        .expect("test data has this shape");
    assert_eq!(
        items.len(),
        2,
        "history keeps the previous image: {items:?}"
    );
    let second = items[0]["dockerImageReference"]
        .as_str()
        .expect("test data has this shape");
    assert_ne!(second, first);
    assert_eq!(items[1]["dockerImageReference"], first);
    let rc2 = get(&sim, &rc(), "default", "hello-2").await;
    assert_eq!(
        rc2["spec"]["template"]["spec"]["containers"][0]["image"],
        second
    );
    assert_eq!(
        annotation(&rc2, "openshift.io/deployment.phase"),
        "Complete"
    );
    assert_eq!(replicas(&get(&sim, &rc(), "default", "hello-1").await), 0);
    let pods = list(&sim, &pod(), "default", "deploymentconfig=hello").await;
    let live = live_pods(&pods);
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["spec"]["containers"][0]["image"], second);

    // A manual trigger does not follow the tag.
    let mut d = get(&sim, &dc(), "default", "hello").await;
    d["spec"]["triggers"][1]["imageChangeParams"]["automatic"] = json!(false);
    replace(&sim, &dc(), "default", "hello", d).await;
    merge(&sim, &is(), "default", "hello", json!({"spec": {"tags": [
        {"name": "latest", "from": {"kind": "DockerImage", "name": "openshift/hello-openshift:v3"}}]}})).await;
    sim.settle();
    assert_eq!(rcs(&sim).await.len(), 2);
    let third =
        get(&sim, &istag(), "default", "hello:latest").await["image"]["dockerImageReference"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    assert_ne!(
        third, second,
        "the tag moved even though nothing rolled out"
    );
    // `oc rollout latest hello`: the manual trigger is resolved now and version 3 runs the
    // image the tag points at.
    post_subresource(
        &sim,
        &dc(),
        "default",
        "hello",
        "instantiate",
        json!({"kind": "DeploymentRequest", "apiVersion": "apps.openshift.io/v1", "name": "hello",
            "latest": true, "force": true}),
    )
    .await
    .expect("instantiate");
    sim.settle();
    let rc3 = get(&sim, &rc(), "default", "hello-3").await;
    assert_eq!(
        rc3["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(third)
    );
    let pods = list(&sim, &pod(), "default", "deploymentconfig=hello").await;
    let live = live_pods(&pods);
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["spec"]["containers"][0]["image"], json!(third));
}

/// Steps virtual time and records (old live, new live, total ready) after every step.
async fn observe_rollout(sim: &Sim, old: &str, new: &str) -> Vec<(usize, usize, usize)> {
    let mut seen = Vec::new();
    for _ in 0..120 {
        sim.advance(Duration::from_millis(250));
        let (o, or) = version_pods(sim, old).await;
        let (n, nr) = version_pods(sim, new).await;
        seen.push((o, n, or + nr));
        let rc_new = get_opt(sim, &rc(), "default", new).await;
        if rc_new.is_some_and(|r| annotation(&r, "openshift.io/deployment.phase") == "Complete") {
            break;
        }
    }
    seen
}

#[tokio::test]
async fn recreate_stops_the_old_version_before_the_new_one_starts() {
    let sim = sim();
    create(
        &sim,
        &dc(),
        "default",
        dc_body(
            "db",
            3,
            json!({"type": "Recreate"}),
            json!([{"type": "ConfigChange"}]),
            "busybox:1",
        ),
    )
    .await;
    sim.settle();
    assert_eq!(version_pods(&sim, "db-1").await, (3, 3));
    merge(
        &sim,
        &dc(),
        "default",
        "db",
        json!({"spec": {"template": {"spec": {"containers": [
        {"name": "helloworld", "image": "busybox:2"}]}}}}),
    )
    .await;
    let seen = observe_rollout(&sim, "db-1", "db-2").await;
    assert!(
        seen.iter().all(|(o, n, _)| *o == 0 || *n == 0),
        "old and new overlapped: {seen:?}"
    );
    assert!(
        seen.iter().any(|(_, _, ready)| *ready == 0),
        "recreate has downtime: {seen:?}"
    );
    sim.settle();
    assert_eq!(version_pods(&sim, "db-2").await, (3, 3));
    assert_eq!(
        annotation(
            &get(&sim, &rc(), "default", "db-2").await,
            "openshift.io/deployment.phase"
        ),
        "Complete"
    );
}

#[tokio::test]
async fn rolling_keeps_the_service_available_within_surge() {
    let sim = sim();
    let strategy =
        json!({"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 0}});
    create(
        &sim,
        &dc(),
        "default",
        dc_body(
            "web",
            3,
            strategy,
            json!([{"type": "ConfigChange"}]),
            "busybox:1",
        ),
    )
    .await;
    sim.settle();
    assert_eq!(version_pods(&sim, "web-1").await, (3, 3));
    merge(
        &sim,
        &dc(),
        "default",
        "web",
        json!({"spec": {"template": {"spec": {"containers": [
        {"name": "helloworld", "image": "busybox:2"}]}}}}),
    )
    .await;
    let seen = observe_rollout(&sim, "web-1", "web-2").await;
    assert!(
        seen.iter().any(|(o, n, _)| *o > 0 && *n > 0),
        "versions never overlapped: {seen:?}"
    );
    assert!(
        seen.iter().all(|(_, _, ready)| *ready >= 3),
        "availability dropped: {seen:?}"
    );
    assert!(
        seen.iter().all(|(o, n, _)| o + n <= 4),
        "more than maxSurge extra pods: {seen:?}"
    );
    sim.settle();
    assert_eq!(version_pods(&sim, "web-2").await, (3, 3));
    assert_eq!(version_pods(&sim, "web-1").await.0, 0);
}

#[tokio::test]
async fn instantiate_rollback_and_revision_history() {
    let sim = sim();
    // No triggers: nothing deploys until `oc rollout latest`.
    let mut body = dc_body(
        "api",
        1,
        json!({"type": "Recreate"}),
        json!([]),
        "busybox:1",
    );
    body["spec"]["revisionHistoryLimit"] = json!(1);
    create(&sim, &dc(), "default", body).await;
    sim.settle();
    assert!(rcs(&sim).await.is_empty());
    let req = json!({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentRequest", "name": "api", "latest": true, "force": true});
    let out = post_subresource(&sim, &dc(), "default", "api", "instantiate", req.clone())
        .await
        .expect("instantiate");
    assert_eq!(out["status"]["latestVersion"], 1);
    assert_eq!(out["status"]["details"]["causes"][0]["type"], "Manual");
    // While version 1 is being deployed a second request is refused.
    let busy = post_subresource(&sim, &dc(), "default", "api", "instantiate", req.clone()).await;
    assert!(
        matches!(busy, Err(kube::Error::Api(ref s)) if s.code == 409),
        "{busy:?}"
    );
    sim.settle();
    assert_eq!(
        annotation(
            &get(&sim, &rc(), "default", "api-1").await,
            "openshift.io/deployment.phase"
        ),
        "Complete"
    );

    // Version 2 with another image.
    merge(
        &sim,
        &dc(),
        "default",
        "api",
        json!({"spec": {"template": {"spec": {"containers": [
        {"name": "helloworld", "image": "busybox:2"}]}}}}),
    )
    .await;
    post_subresource(&sim, &dc(), "default", "api", "instantiate", req.clone())
        .await
        .expect("instantiate 2");
    sim.settle();
    assert_eq!(version_pods(&sim, "api-2").await, (1, 1));

    // `oc rollback api`: the server computes the config of version 1, the client stores it.
    let rb = json!({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfigRollback", "name": "api",
        "spec": {"revision": 1, "includeTemplate": true}});
    let rolled = post_subresource(&sim, &dc(), "default", "api", "rollback", rb.clone())
        .await
        .expect("rollback");
    assert_eq!(
        rolled["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox:1"
    );
    assert_eq!(
        get(&sim, &dc(), "default", "api").await["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox:2",
        "rollback itself stores nothing"
    );
    replace(&sim, &dc(), "default", "api", rolled).await;
    post_subresource(&sim, &dc(), "default", "api", "instantiate", req.clone())
        .await
        .expect("instantiate 3");
    sim.settle();
    let pods = list(&sim, &pod(), "default", "deployment=api-3").await;
    assert_eq!(
        live_pods(&pods)[0]["spec"]["containers"][0]["image"],
        "busybox:1"
    );
    // revisionHistoryLimit 1: the latest version and one previous are kept.
    let names: Vec<String> = rcs(&sim)
        .await
        .iter()
        .map(|r| {
            r["metadata"]["name"]
                .as_str()
                .expect("test data has this shape")
                .to_string()
        })
        .collect();
    assert_eq!(names, ["api-2", "api-3"]);
    let missing = post_subresource(&sim, &dc(), "default", "api", "rollback", json!({"kind": "DeploymentConfigRollback", "name": "api", "spec": {"revision": 1, "includeTemplate": true}}).clone())
        .await;
    assert!(
        matches!(missing, Err(kube::Error::Api(ref s)) if s.code == 404),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_failed_deployer_fails_the_version_and_restores_the_previous_one() {
    let sim = sim();
    create(
        &sim,
        &dc(),
        "default",
        dc_body(
            "svc",
            2,
            json!({"type": "Rolling", "rollingParams": {"timeoutSeconds": 30}}),
            json!([{"type": "ConfigChange"}]),
            "busybox:1",
        ),
    )
    .await;
    sim.settle();
    // Version 2's pods never become ready: their image cannot be pulled.
    merge(
        &sim,
        &dc(),
        "default",
        "svc",
        json!({"spec": {"template": {"spec": {"containers": [
        {"name": "helloworld", "image": "busybox:2"}]}}}}),
    )
    .await;
    sim.inject(odo_sim::Fault::ImagePullFailure {
        image: "busybox:2".into(),
        active: true,
    })
    .expect("fault");
    sim.settle_for(Duration::from_secs(120));
    let rc2 = get(&sim, &rc(), "default", "svc-2").await;
    assert_eq!(
        annotation(&rc2, "openshift.io/deployment.phase"),
        "Failed",
        "{rc2}"
    );
    assert_eq!(replicas(&rc2), 0);
    assert_eq!(replicas(&get(&sim, &rc(), "default", "svc-1").await), 2);
    let deployer = get(&sim, &pod(), "default", "svc-2-deploy").await;
    assert_eq!(deployer["status"]["phase"], "Failed");
    let st = dc_status(&sim, "svc").await;
    assert_eq!(condition(&st, "Progressing")["status"], "False");
    assert_eq!(
        condition(&st, "Progressing")["reason"],
        "ProgressDeadlineExceeded"
    );
}

async fn traced_run() -> String {
    let sim = sim();
    let trigger = json!([{"type": "ConfigChange"}, {"type": "ImageChange", "imageChangeParams": {"automatic": true,
        "containerNames": ["helloworld"], "from": {"kind": "ImageStreamTag", "name": "web:latest"}}}]);
    create(
        &sim,
        &dc(),
        "default",
        dc_body("web", 3, json!({"type": "Rolling"}), trigger, " "),
    )
    .await;
    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "web"}, "spec": {"tags": [{"name": "latest", "from": {"kind": "DockerImage", "name": "busybox:1"}}]}})).await;
    sim.settle();
    merge(
        &sim,
        &is(),
        "default",
        "web",
        json!({"spec": {"tags": [
        {"name": "latest", "from": {"kind": "DockerImage", "name": "busybox:2"}}]}}),
    )
    .await;
    sim.settle();
    sim.trace_text()
}

#[tokio::test]
async fn same_seed_same_openshift_trace() {
    let a = traced_run().await;
    assert!(a.contains("deployment default/web-2 Complete"), "{a}");
    assert_eq!(a, traced_run().await);
}
