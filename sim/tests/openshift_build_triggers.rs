//! ImageChange triggers of BuildConfigs on the OpenShift flavor: a new image on the builder's
//! tag or on a trigger's own tag starts one build, recorded in `lastTriggeredImageID` and
//! `status.imageChangeTriggers`; a build started by hand records the triggers' images too;
//! a paused trigger starts nothing.

mod openshift_support;

use std::time::Duration;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::json;

#[tokio::test]
async fn a_new_image_on_the_builder_tag_starts_a_build() {
    let sim = sim();
    let src = node_app();
    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "nodejs"},
        "spec": {"tags": [{"name": "14", "from": {"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}}]}})).await;
    sim.settle();
    let first = get(&sim, &istag(), "default", "nodejs:14").await["image"]["dockerImageReference"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut spec = git_bc(
        "app",
        &format!("file://{}", src.path().display()),
        json!({"kind": "ImageStreamTag", "name": "nodejs:14"}),
    );
    spec["spec"]["triggers"] = json!([{"type": "ImageChange", "imageChange": {}}]);
    create(&sim, &bc(), "default", spec).await;
    sim.settle();
    // The image on the tag when the BuildConfig is created starts build 1.
    let b1 = get(&sim, &build(), "default", "app-1").await;
    assert_eq!(b1["status"]["phase"], "Complete", "{b1}");
    assert_eq!(b1["spec"]["triggeredBy"][0]["message"], "Image change");
    assert_eq!(
        b1["spec"]["triggeredBy"][0]["imageChangeBuild"]["imageID"],
        json!(first)
    );
    let cfg = get(&sim, &bc(), "default", "app").await;
    assert_eq!(
        cfg["spec"]["triggers"][0]["imageChange"]["lastTriggeredImageID"],
        json!(first)
    );
    // Nothing new on the tag: nothing more is built.
    sim.settle_for(Duration::from_secs(600));
    assert_eq!(list(&sim, &build(), "default", "").await.len(), 1);

    // `oc tag` moves nodejs:14 to another image: build 2 runs on it.
    let mut is_ = get(&sim, &is(), "default", "nodejs").await;
    is_["spec"]["tags"][0]["from"]["name"] = json!("centos/nodejs-14-centos7:latest");
    replace(&sim, &is(), "default", "nodejs", is_).await;
    sim.settle();
    let second = get(&sim, &istag(), "default", "nodejs:14").await["image"]["dockerImageReference"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(first, second);
    let b2 = get(&sim, &build(), "default", "app-2").await;
    assert_eq!(b2["status"]["phase"], "Complete", "{b2}");
    assert_eq!(
        b2["spec"]["triggeredBy"][0]["imageChangeBuild"]["imageID"],
        json!(second)
    );
    assert_eq!(
        get(&sim, &pod(), "default", "app-2-build").await["spec"]["containers"][0]["image"],
        json!(second)
    );
    let cfg = get(&sim, &bc(), "default", "app").await;
    assert_eq!(cfg["status"]["lastVersion"], 2);
    assert_eq!(
        cfg["spec"]["triggers"][0]["imageChange"]["lastTriggeredImageID"],
        json!(second)
    );
    let st = &cfg["status"]["imageChangeTriggers"][0];
    assert_eq!(st["lastTriggeredImageID"], json!(second), "{cfg}");
    assert!(
        st.get("from").is_none() && st["lastTriggerTime"].is_string(),
        "{st}"
    );
    assert_eq!(list(&sim, &build(), "default", "").await.len(), 2);

    // ConfigChange and ImageChange together: one build at creation, not two.
    let mut both = git_bc(
        "both",
        &format!("file://{}", src.path().display()),
        json!({"kind": "ImageStreamTag", "name": "nodejs:14"}),
    );
    both["spec"]["triggers"] =
        json!([{"type": "ConfigChange"}, {"type": "ImageChange", "imageChange": {}}]);
    create(&sim, &bc(), "default", both).await;
    sim.settle();
    let builds = list(&sim, &build(), "default", "buildconfig=both").await;
    assert_eq!(builds.len(), 1, "{builds:?}");
    assert_eq!(
        builds[0]["spec"]["triggeredBy"][0]["message"],
        "Build configuration change"
    );
    let cfg = get(&sim, &bc(), "default", "both").await;
    assert_eq!(
        cfg["spec"]["triggers"][1]["imageChange"]["lastTriggeredImageID"],
        json!(second)
    );
}

/// `oc start-build` before the BuildConfig's ImageChange trigger was reconciled: the
/// instantiate records the tag's current image in the trigger (spec and status, as the real
/// build generator does), so the trigger does not start a second build of the same image; a
/// new image on the tag still does.
#[tokio::test]
async fn a_manual_build_records_the_triggers_images_and_is_not_built_twice() {
    let sim = sim();
    let src = node_app();
    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "nodejs"},
        "spec": {"tags": [{"name": "14", "from": {"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}}]}})).await;
    sim.settle();
    let first = get(&sim, &istag(), "default", "nodejs:14").await["image"]["dockerImageReference"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut spec = git_bc(
        "app",
        &format!("file://{}", src.path().display()),
        json!({"kind": "ImageStreamTag", "name": "nodejs:14"}),
    );
    spec["spec"]["triggers"] = json!([{"type": "ImageChange", "imageChange": {}}]);
    create(&sim, &bc(), "default", spec).await;
    // No time passes: the trigger has not been looked at when the build is asked for.
    let b1 = post_subresource(&sim, &bc(), "default", "app", "instantiate",
        json!({"apiVersion": "build.openshift.io/v1", "kind": "BuildRequest", "metadata": {"name": "app"}}))
        .await
        .expect("instantiate");
    assert_eq!(b1["metadata"]["name"], "app-1");
    let cfg = get(&sim, &bc(), "default", "app").await;
    assert_eq!(
        cfg["spec"]["triggers"][0]["imageChange"]["lastTriggeredImageID"],
        json!(first),
        "{cfg}"
    );
    assert_eq!(
        cfg["status"]["imageChangeTriggers"],
        json!([{"lastTriggeredImageID": first}]),
        "no trigger time: the trigger did not start the build"
    );
    sim.settle();
    let builds = list(&sim, &build(), "default", "buildconfig=app").await;
    assert_eq!(builds.len(), 1, "one build of the image: {builds:?}");
    assert_eq!(builds[0]["status"]["phase"], "Complete");
    assert_eq!(
        get(&sim, &pod(), "default", "app-1-build").await["spec"]["containers"][0]["image"],
        json!(first)
    );

    // A new image on the tag is a new build, by the trigger.
    let mut is_ = get(&sim, &is(), "default", "nodejs").await;
    is_["spec"]["tags"][0]["from"]["name"] = json!("centos/nodejs-14-centos7:latest");
    replace(&sim, &is(), "default", "nodejs", is_).await;
    sim.settle();
    let b2 = get(&sim, &build(), "default", "app-2").await;
    assert_eq!(b2["spec"]["triggeredBy"][0]["message"], "Image change");
    assert_eq!(list(&sim, &build(), "default", "").await.len(), 2);
}

/// A paused ImageChange trigger starts no build while its tag moves; unpaused, the image the
/// tag has then starts one. The ConfigChange build records the paused trigger's image too.
#[tokio::test]
async fn a_paused_image_change_trigger_starts_nothing_until_unpaused() {
    let sim = sim();
    let src = node_app();
    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "base"},
        "spec": {"tags": [{"name": "v1", "from": {"kind": "DockerImage", "name": "openshift/hello-openshift:v1"}}]}})).await;
    sim.settle();
    let tag_image = |sim: &Sim| {
        let sim = sim.clone();
        async move {
            get(&sim, &istag(), "default", "base:v1").await["image"]["dockerImageReference"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    let first = tag_image(&sim).await;
    let mut spec = git_bc(
        "app",
        &format!("file://{}", src.path().display()),
        json!({"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}),
    );
    spec["spec"]["triggers"] = json!([{"type": "ConfigChange"},
        {"type": "ImageChange", "imageChange": {"paused": true,
            "from": {"kind": "ImageStreamTag", "name": "base:v1"}}}]);
    create(&sim, &bc(), "default", spec).await;
    sim.settle();
    let cfg = get(&sim, &bc(), "default", "app").await;
    assert_eq!(
        cfg["spec"]["triggers"][1]["imageChange"]["lastTriggeredImageID"],
        json!(first),
        "{cfg}"
    );
    assert_eq!(cfg["status"]["imageChangeTriggers"][0]["paused"], true);

    merge(
        &sim,
        &is(),
        "default",
        "base",
        json!({"spec": {"tags": [
        {"name": "v1", "from": {"kind": "DockerImage", "name": "openshift/hello-openshift:v2"}}]}}),
    )
    .await;
    sim.settle();
    let second = tag_image(&sim).await;
    assert_ne!(first, second);
    assert_eq!(
        list(&sim, &build(), "default", "buildconfig=app")
            .await
            .len(),
        1,
        "paused: no build of the new image"
    );

    let mut cfg = get(&sim, &bc(), "default", "app").await;
    cfg["spec"]["triggers"][1]["imageChange"]["paused"] = json!(false);
    replace(&sim, &bc(), "default", "app", cfg).await;
    sim.settle();
    let b2 = get(&sim, &build(), "default", "app-2").await;
    assert_eq!(b2["spec"]["triggeredBy"][0]["message"], "Image change");
    assert_eq!(
        b2["spec"]["triggeredBy"][0]["imageChangeBuild"]["imageID"],
        json!(second)
    );
    let cfg = get(&sim, &bc(), "default", "app").await;
    assert!(
        cfg["status"]["imageChangeTriggers"][0]
            .get("paused")
            .is_none(),
        "{cfg}"
    );
}

#[tokio::test]
async fn a_new_image_on_an_explicit_trigger_tag_starts_a_build_once() {
    let sim = sim();
    let src = node_app();
    let builder = "registry.access.redhat.com/ubi8/nodejs-14:latest";
    // `base:v1` is not the builder: e.g. a runtime image the app is layered on.
    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "base"},
        "spec": {"tags": [{"name": "v1", "from": {"kind": "DockerImage", "name": "openshift/hello-openshift:v1"}}]}})).await;
    sim.settle();
    let first = get(&sim, &istag(), "default", "base:v1").await["image"]["dockerImageReference"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut spec = git_bc(
        "app",
        &format!("file://{}", src.path().display()),
        json!({"kind": "DockerImage", "name": builder}),
    );
    let from = json!({"kind": "ImageStreamTag", "name": "base:v1"});
    spec["spec"]["triggers"] = json!([{"type": "ConfigChange"},
        {"type": "ImageChange", "imageChange": {"from": from}}]);
    create(&sim, &bc(), "default", spec).await;
    sim.settle();
    // Build 1 is the ConfigChange one; the trigger records the image its tag had then.
    let builds = list(&sim, &build(), "default", "buildconfig=app").await;
    assert_eq!(builds.len(), 1, "{builds:?}");
    assert_eq!(
        builds[0]["spec"]["triggeredBy"][0]["message"],
        "Build configuration change"
    );
    let cfg = get(&sim, &bc(), "default", "app").await;
    assert_eq!(
        cfg["spec"]["triggers"][1]["imageChange"]["lastTriggeredImageID"],
        json!(first)
    );
    // OpenShift 4.8+ keeps the same in status.imageChangeTriggers (no trigger time yet:
    // this trigger did not start the build).
    assert_eq!(
        cfg["status"]["imageChangeTriggers"],
        json!([{"lastTriggeredImageID": first, "from": {"name": "base:v1", "namespace": "default"}}])
    );

    // A new image on base:v1 starts build 2, on the builder image as before.
    merge(
        &sim,
        &is(),
        "default",
        "base",
        json!({"spec": {"tags": [
        {"name": "v1", "from": {"kind": "DockerImage", "name": "openshift/hello-openshift:v2"}}]}}),
    )
    .await;
    sim.settle();
    let second = get(&sim, &istag(), "default", "base:v1").await["image"]["dockerImageReference"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(first, second);
    let b2 = get(&sim, &build(), "default", "app-2").await;
    assert_eq!(b2["status"]["phase"], "Complete", "{b2}");
    let cause = &b2["spec"]["triggeredBy"][0];
    assert_eq!(cause["message"], "Image change");
    assert_eq!(cause["imageChangeBuild"]["imageID"], json!(second));
    assert_eq!(cause["imageChangeBuild"]["fromRef"]["name"], "base:v1");
    let pod_image =
        get(&sim, &pod(), "default", "app-2-build").await["spec"]["containers"][0]["image"].clone();
    assert_ne!(
        pod_image,
        json!(second),
        "the trigger's tag is not the builder"
    );
    let cfg = get(&sim, &bc(), "default", "app").await;
    assert_eq!(
        cfg["spec"]["triggers"][1]["imageChange"]["lastTriggeredImageID"],
        json!(second)
    );
    assert_eq!(cfg["status"]["lastVersion"], 2);
    let fired_at = cfg["status"]["imageChangeTriggers"][0]["lastTriggerTime"].clone();
    assert!(fired_at.is_string(), "{cfg}");
    assert_eq!(
        cfg["status"]["imageChangeTriggers"][0]["lastTriggeredImageID"],
        json!(second)
    );

    // The recorded image does not start a second build, however long and whatever else
    // happens to the BuildConfig (a label edit reconciles it again).
    sim.settle_for(Duration::from_secs(600));
    merge(
        &sim,
        &bc(),
        "default",
        "app",
        json!({"metadata": {"labels": {"touched": "yes"}}}),
    )
    .await;
    sim.settle();
    assert_eq!(
        list(&sim, &build(), "default", "buildconfig=app")
            .await
            .len(),
        2
    );

    // A second stream on another trigger of the same BuildConfig moves on its own.
    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "extra"},
        "spec": {"tags": [{"name": "v1", "from": {"kind": "DockerImage", "name": "openshift/hello-openshift:v3"}}]}})).await;
    sim.settle();
    let mut cfg = get(&sim, &bc(), "default", "app").await;
    if let Some(ts) = cfg["spec"]["triggers"].as_array_mut() {
        ts.push(json!({"type": "ImageChange", "imageChange": {"from": {"kind": "ImageStreamTag", "name": "extra:v1"}}}));
    }
    replace(&sim, &bc(), "default", "app", cfg).await;
    sim.settle();
    let extra = get(&sim, &istag(), "default", "extra:v1").await["image"]["dockerImageReference"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let b3 = get(&sim, &build(), "default", "app-3").await;
    assert_eq!(
        b3["spec"]["triggeredBy"][0]["imageChangeBuild"]["fromRef"]["name"],
        "extra:v1"
    );
    let cfg = get(&sim, &bc(), "default", "app").await;
    assert_eq!(
        cfg["spec"]["triggers"][1]["imageChange"]["lastTriggeredImageID"],
        json!(second)
    );
    assert_eq!(
        cfg["spec"]["triggers"][2]["imageChange"]["lastTriggeredImageID"],
        json!(extra)
    );
    let st = &cfg["status"]["imageChangeTriggers"];
    assert_eq!(st[0]["lastTriggerTime"], fired_at, "kept: {st}");
    assert_eq!(st[1]["lastTriggeredImageID"], json!(extra));
    assert_eq!(st[1]["from"]["name"], "extra:v1");
    assert!(st[1]["lastTriggerTime"].is_string(), "{st}");
    sim.settle_for(Duration::from_secs(60));
    assert_eq!(
        list(&sim, &build(), "default", "buildconfig=app")
            .await
            .len(),
        3
    );
}
