//! DeploymentConfigs on the OpenShift flavor: the ConfigChange and ImageChange triggers roll
//! out ReplicationControllers `<dc>-<n>` through a deployer pod, Rolling and Recreate
//! strategies, `instantiate`, rollback and revision history.

mod openshift_support;

use std::time::Duration;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

fn dc_body(name: &str, replicas: i64, strategy: Value, triggers: Value, image: &str) -> Value {
    json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"name": name},
            "strategy": strategy,
            "triggers": triggers,
            "template": {"metadata": {"labels": {"name": name}},
                "spec": {"containers": [{"name": "helloworld", "image": image, "ports": [{"containerPort": 8080}]}]}},
        }
    })
}

async fn rcs(sim: &Sim) -> Vec<Value> {
    list(sim, &rc(), "default", "").await
}

async fn dc_status(sim: &Sim, name: &str) -> Value {
    get(sim, &dc(), "default", name).await["status"].clone()
}

fn condition<'a>(status: &'a Value, ty: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
        .unwrap_or(&Value::Null)
}

/// Pods of one version that are live, and how many of those are ready.
async fn version_pods(sim: &Sim, rc_name: &str) -> (usize, usize) {
    let pods = list(sim, &pod(), "default", &format!("deployment={rc_name}")).await;
    let live = live_pods(&pods);
    let ready = live
        .iter()
        .filter(|p| {
            p["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .count();
    (live.len(), ready)
}

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

#[tokio::test]
async fn tag_images_hooks_tag_the_version_image_and_are_validated() {
    let sim = sim();
    let tag_into = |container: &str, to: &str| {
        json!({"failurePolicy": "Abort", "tagImages": [
            {"containerName": container, "to": {"kind": "ImageStreamTag", "name": to}}]})
    };
    let strategy = json!({"type": "Rolling", "rollingParams": {"post": tag_into("helloworld", "web:deployed")}});
    create(
        &sim,
        &dc(),
        "default",
        dc_body(
            "web",
            1,
            strategy,
            json!([{"type": "ConfigChange"}]),
            "openshift/hello-openshift",
        ),
    )
    .await;
    sim.settle();
    let phase = |rc: &Value| annotation(rc, "openshift.io/deployment.phase").to_string();
    assert_eq!(
        phase(&get(&sim, &rc(), "default", "web-1").await),
        "Complete"
    );
    let stream = get(&sim, &is(), "default", "web").await;
    let tag = &stream["spec"]["tags"][0];
    assert_eq!(tag["name"], "deployed", "{stream}");
    assert_eq!(
        tag["from"],
        json!({"kind": "DockerImage", "name": "openshift/hello-openshift"})
    );
    let history = |s: &Value| -> Vec<String> {
        s["status"]["tags"][0]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                i["dockerImageReference"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    let first = history(&stream);
    assert_eq!(first.len(), 1, "{stream}");
    assert!(first[0].contains("hello-openshift@sha256:"), "{first:?}");

    // The next version's image moves the tag; the history keeps the previous one.
    let mut d = get(&sim, &dc(), "default", "web").await;
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:1");
    replace(&sim, &dc(), "default", "web", d).await;
    sim.settle();
    assert_eq!(
        phase(&get(&sim, &rc(), "default", "web-2").await),
        "Complete"
    );
    let stream = get(&sim, &is(), "default", "web").await;
    assert_eq!(stream["spec"]["tags"][0]["from"]["name"], "busybox:1");
    let second = history(&stream);
    assert_eq!(second.len(), 2, "{stream}");
    assert!(second[0].contains("busybox@sha256:"), "{second:?}");
    assert_eq!(second[1], first[0]);

    // A hook naming no container of the template, or with two actions, is refused.
    let refused = |strategy: Value| {
        dc_body(
            "bad",
            1,
            strategy,
            json!([{"type": "ConfigChange"}]),
            "busybox:1",
        )
    };
    let err = create_err(
        &sim,
        &dc(),
        "default",
        refused(json!({"type": "Rolling", "rollingParams": {"pre": tag_into("nope", "web:x")}})),
    )
    .await;
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"), "{err:?}");
    assert!(
        err.message
            .contains("spec.strategy.rollingParams.pre.tagImages[0].containerName")
            && err
                .message
                .contains("there are no containers named \"nope\""),
        "{}",
        err.message
    );
    let mut both = tag_into("helloworld", "web:x");
    both["execNewPod"] = json!({"containerName": "helloworld", "command": ["true"]});
    let err = create_err(
        &sim,
        &dc(),
        "default",
        refused(json!({"type": "Rolling", "rollingParams": {"post": both}})),
    )
    .await;
    assert!(
        err.message.contains("only one of execNewPod or tagImages"),
        "{}",
        err.message
    );

    // A tag that cannot be written (its namespace does not exist) fails the version (Abort).
    let mut d = get(&sim, &dc(), "default", "web").await;
    let mut pre = tag_into("helloworld", "web:never");
    pre["tagImages"][0]["to"]["namespace"] = json!("missing");
    d["spec"]["strategy"]["rollingParams"]["pre"] = pre;
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:2");
    replace(&sim, &dc(), "default", "web", d).await;
    sim.settle();
    assert_eq!(phase(&get(&sim, &rc(), "default", "web-3").await), "Failed");
    assert_eq!(version_pods(&sim, "web-2").await, (1, 1));
    let events = list(&sim, &ar("", "v1", "Event", "events"), "default", "").await;
    let failed = events
        .iter()
        .find(|e| e["reason"] == "FailedTagImages")
        .expect("a FailedTagImages event");
    assert_eq!(failed["involvedObject"]["name"], "web-3");
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("web:never") && m.contains("missing")),
        "{failed}"
    );
    let stream = get(&sim, &is(), "default", "web").await;
    assert_eq!(
        stream["spec"]["tags"].as_array().map(Vec::len),
        Some(1),
        "{stream}"
    );
}

#[tokio::test]
async fn lifecycle_hooks_run_as_pods_and_abort_fails_the_version() {
    let sim = sim();
    let hook = |cmd: &str, policy: &str| {
        json!({"failurePolicy": policy, "execNewPod": {"containerName": "helloworld",
            "command": ["/bin/sh", "-c", cmd], "env": [{"name": "STAGE", "value": "hook"}]}})
    };
    let strategy = json!({"type": "Recreate", "recreateParams": {
        "pre": hook("sleep 2", "Abort"), "mid": hook("exit 0", "Abort"), "post": hook("exit 3", "Ignore")}});
    create(
        &sim,
        &dc(),
        "default",
        dc_body(
            "db",
            1,
            strategy,
            json!([{"type": "ConfigChange"}]),
            "busybox:1",
        ),
    )
    .await;
    sim.settle();
    assert_eq!(
        annotation(
            &get(&sim, &rc(), "default", "db-1").await,
            "openshift.io/deployment.phase"
        ),
        "Complete"
    );
    for (stage, phase) in [
        ("pre", "Succeeded"),
        ("mid", "Succeeded"),
        ("post", "Failed"),
    ] {
        let p = get(&sim, &pod(), "default", &format!("db-1-hook-{stage}")).await;
        assert_eq!(p["status"]["phase"], phase, "{stage}: {p}");
        assert_eq!(p["spec"]["containers"][0]["image"], "busybox:1");
        assert_eq!(p["spec"]["containers"][0]["env"][0]["name"], "STAGE");
    }
    // The pre hook finished before the first pod of the version was created.
    let pre_done = get(&sim, &pod(), "default", "db-1-hook-pre").await["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let app = &list(&sim, &pod(), "default", "deployment=db-1").await[0];
    let created = app["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap_or_default();
    assert!(pre_done.as_str() <= created, "{pre_done} > {created}");

    // A failing pre hook with Abort fails version 2; version 1 keeps serving.
    let mut d = get(&sim, &dc(), "default", "db").await;
    d["spec"]["strategy"]["recreateParams"]["pre"] = hook("exit 1", "Abort");
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:2");
    replace(&sim, &dc(), "default", "db", d).await;
    sim.settle();
    let rc2 = get(&sim, &rc(), "default", "db-2").await;
    assert_eq!(annotation(&rc2, "openshift.io/deployment.phase"), "Failed");
    assert_eq!(replicas(&rc2), 0);
    assert_eq!(version_pods(&sim, "db-1").await, (1, 1));
    assert!(
        get_opt(&sim, &pod(), "default", "db-2-hook-mid")
            .await
            .is_none()
    );
}

/// `POST deploymentconfigs/<name>/instantiate` with `body`; the API error when refused.
async fn instantiate(sim: &Sim, name: &str, body: Value) -> Result<Value, kube::core::Status> {
    let mut req =
        json!({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentRequest", "name": name});
    if let (Some(r), Some(b)) = (req.as_object_mut(), body.as_object()) {
        r.extend(b.clone());
    }
    match post_subresource(sim, &dc(), "default", name, "instantiate", req).await {
        Ok(v) => Ok(v),
        Err(kube::Error::Api(s)) => Err(*s),
        Err(e) => panic!("instantiate {name}: {e}"),
    }
}

async fn tag_image(sim: &Sim, tag: &str) -> String {
    get(sim, &istag(), "default", tag).await["image"]["dockerImageReference"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn move_hello_tag(sim: &Sim, to: &str) {
    merge(
        sim,
        &is(),
        "default",
        "hello",
        json!({"spec": {"tags": [
        {"name": "latest", "from": {"kind": "DockerImage", "name": to}}]}}),
    )
    .await;
    sim.settle();
}

#[tokio::test]
async fn instantiate_with_excluded_image_triggers_rolls_out_the_template_image() {
    let sim = sim();
    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "hello"},
        "spec": {"tags": [{"name": "latest", "from": {"kind": "DockerImage", "name": "openshift/hello-openshift:v1"}}]}})).await;
    sim.settle();
    let first = tag_image(&sim, "hello:latest").await;
    // A manual ImageChange trigger: only `oc rollout latest` resolves it.
    let trigger = json!([{"type": "ImageChange", "imageChangeParams": {"automatic": false,
        "containerNames": ["helloworld"], "from": {"kind": "ImageStreamTag", "name": "hello:latest"}}}]);
    create(
        &sim,
        &dc(),
        "default",
        dc_body("hello", 1, json!({"type": "Recreate"}), trigger, " "),
    )
    .await;
    sim.settle();
    assert!(rcs(&sim).await.is_empty());

    // Excluding ImageChange before the trigger was ever resolved: nothing to deploy.
    let e = instantiate(
        &sim,
        "hello",
        json!({"latest": true, "force": true, "excludeTriggers": ["ImageChange"]}),
    )
    .await
    .expect_err("unresolved");
    assert_eq!(e.code, 400, "{e:?}");
    assert!(e.message.contains("unresolved images"), "{e:?}");
    // `latest` without `force` leaves a manual trigger alone: still unresolved.
    let e = instantiate(&sim, "hello", json!({"latest": true}))
        .await
        .expect_err("manual trigger not resolved without force");
    assert_eq!(e.code, 400, "{e:?}");

    // `oc rollout latest`: the manual trigger is resolved, version 1 runs the tag's image.
    let out = instantiate(&sim, "hello", json!({"latest": true, "force": true}))
        .await
        .expect("instantiate 1");
    assert_eq!(out["status"]["latestVersion"], 1);
    assert_eq!(out["status"]["details"]["causes"][0]["type"], "Manual");
    assert_eq!(
        out["spec"]["triggers"][0]["imageChangeParams"]["lastTriggeredImage"],
        json!(first)
    );
    sim.settle();
    let rc1 = get(&sim, &rc(), "default", "hello-1").await;
    assert_eq!(
        rc1["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(first)
    );

    // The tag moves; `excludeTriggers: [ImageChange]` keeps the template's image.
    move_hello_tag(&sim, "openshift/hello-openshift:v2").await;
    let second = tag_image(&sim, "hello:latest").await;
    assert_ne!(second, first);
    let out = instantiate(
        &sim,
        "hello",
        json!({"latest": true, "force": true, "excludeTriggers": ["ImageChange"]}),
    )
    .await
    .expect("instantiate 2");
    assert_eq!(out["status"]["latestVersion"], 2);
    assert_eq!(
        out["spec"]["triggers"][0]["imageChangeParams"]["lastTriggeredImage"],
        json!(first),
        "the excluded trigger is not processed"
    );
    sim.settle();
    let rc2 = get(&sim, &rc(), "default", "hello-2").await;
    assert_eq!(
        rc2["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(first)
    );
    assert_eq!(
        annotation(&rc2, "openshift.io/deployment.phase"),
        "Complete"
    );

    // Excluding only ConfigChange (and a type the server does not know: it decodes any
    // string and matches it against nothing) still processes the ImageChange trigger.
    let out = instantiate(
        &sim,
        "hello",
        json!({"latest": true, "force": true, "excludeTriggers": ["ConfigChange", "NoSuchTrigger"]}),
    )
    .await
    .expect("instantiate 3");
    assert_eq!(out["status"]["latestVersion"], 3);
    sim.settle();
    let rc3 = get(&sim, &rc(), "default", "hello-3").await;
    assert_eq!(
        rc3["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(second)
    );

    // A field that is not a list of strings does not decode: 400, nothing changes.
    for bad in [
        json!("ImageChange"),
        json!([1]),
        json!({"type": "ImageChange"}),
    ] {
        let e = instantiate(
            &sim,
            "hello",
            json!({"latest": true, "force": true, "excludeTriggers": bad}),
        )
        .await
        .expect_err("bad excludeTriggers");
        assert_eq!(e.code, 400, "{bad}: {e:?}");
        assert!(e.message.contains("excludeTriggers"), "{e:?}");
    }
    assert_eq!(dc_status(&sim, "hello").await["latestVersion"], 3);

    // A paused DeploymentConfig cannot be instantiated: 422 naming spec.paused.
    merge(
        &sim,
        &dc(),
        "default",
        "hello",
        json!({"spec": {"paused": true}}),
    )
    .await;
    let e = instantiate(&sim, "hello", json!({"latest": true, "force": true}))
        .await
        .expect_err("paused");
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{e:?}");
    let field = e
        .details
        .as_ref()
        .and_then(|d| d.causes.first())
        .map(|c| c.field.clone());
    assert_eq!(field.as_deref(), Some("spec.paused"), "{e:?}");
    assert_eq!(dc_status(&sim, "hello").await["latestVersion"], 3);
}

/// An ImageChange trigger fills only the containers it names: a sidecar keeps its image.
#[tokio::test]
async fn an_image_change_trigger_fills_only_its_container_names() {
    let sim = sim();
    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "hello"},
        "spec": {"tags": [{"name": "latest", "from": {"kind": "DockerImage", "name": "openshift/hello-openshift:v1"}}]}})).await;
    sim.settle();
    let image = tag_image(&sim, "hello:latest").await;
    let trigger = json!([{"type": "ConfigChange"},
        {"type": "ImageChange", "imageChangeParams": {"automatic": true, "containerNames": ["helloworld"],
            "from": {"kind": "ImageStreamTag", "name": "hello:latest"}}}]);
    let mut body = dc_body("hello", 1, json!({"type": "Rolling"}), trigger, " ");
    body["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("test data has this shape")
        .push(json!({"name": "sidecar", "image": "busybox:1", "command": ["sleep", "3600"]}));
    create(&sim, &dc(), "default", body).await;
    sim.settle();
    let rc1 = get(&sim, &rc(), "default", "hello-1").await;
    let images: Vec<(&str, &str)> = rc1["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("test data has this shape")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default(),
                c["image"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        images,
        [("helloworld", image.as_str()), ("sidecar", "busybox:1")]
    );
    assert_eq!(version_pods(&sim, "hello-1").await, (1, 1));
}
