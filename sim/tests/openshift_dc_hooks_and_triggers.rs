//! DeploymentConfigs on the OpenShift flavor, continued: lifecycle hooks (`execNewPod` pods,
//! `tagImages`), `instantiate` with `excludeTriggers`, and the containers an ImageChange
//! trigger fills.

mod openshift_support;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

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
