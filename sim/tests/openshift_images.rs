//! ImageStreams on the OpenShift flavor: imports from DockerImage, tag history, the
//! `imagestreamtags`/`imagestreamimages` views, `oc tag` (pin, `--alias`, move, `-d`),
//! scheduled imports on the virtual clock, pushes through `imagestreammappings`, and
//! tracking across streams.

mod openshift_support;

use std::time::Duration;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

fn stream(name: &str, tags: Value) -> Value {
    json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream", "metadata": {"name": name}, "spec": {"tags": tags}})
}

fn istag_body(name: &str, from: Value) -> Value {
    json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStreamTag", "metadata": {"name": name}, "tag": {"from": from}})
}

async fn istag_ref(sim: &Sim, name: &str) -> String {
    get(sim, &istag(), "default", name).await["image"]["dockerImageReference"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn istag_digest(sim: &Sim, name: &str) -> String {
    get(sim, &istag(), "default", name).await["image"]["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn isimage() -> kube::api::ApiResource {
    ar(
        "image.openshift.io",
        "v1",
        "ImageStreamImage",
        "imagestreamimages",
    )
}

#[tokio::test]
async fn oc_tag_pins_aliases_moves_and_deletes_tags() {
    let sim = sim();
    let created = create(&sim, &is(), "default",
        stream("python", json!([{"name": "3.5", "from": {"kind": "DockerImage", "name": "centos/python-35-centos7"}}]))).await;
    assert_eq!(
        created["status"]["dockerImageRepository"],
        "image-registry.openshift-image-registry.svc:5000/default/python"
    );
    assert_eq!(created["spec"]["lookupPolicy"]["local"], false);
    // Not imported before the controller runs.
    assert!(
        get_opt(&sim, &istag(), "default", "python:3.5")
            .await
            .is_none()
    );
    sim.settle();
    let r35 = istag_ref(&sim, "python:3.5").await;
    let d35 = istag_digest(&sim, "python:3.5").await;
    assert!(r35.starts_with("centos/python-35-centos7@sha256:"), "{r35}");
    assert_eq!(r35, format!("centos/python-35-centos7@{d35}"));

    // `oc tag python:3.5 python:latest` pins the current image.
    create(
        &sim,
        &istag(),
        "default",
        istag_body(
            "python:latest",
            json!({"kind": "ImageStreamImage", "name": format!("python@{d35}")}),
        ),
    )
    .await;
    // `oc tag --alias python:3.5 python:current` tracks the tag.
    create(
        &sim,
        &istag(),
        "default",
        istag_body(
            "python:current",
            json!({"kind": "ImageStreamTag", "name": "python:3.5"}),
        ),
    )
    .await;
    sim.settle();
    assert_eq!(istag_ref(&sim, "python:latest").await, r35);
    assert_eq!(istag_ref(&sim, "python:current").await, r35);
    let dup = create_err(
        &sim,
        &istag(),
        "default",
        istag_body(
            "python:current",
            json!({"kind": "ImageStreamTag", "name": "python:3.5"}),
        ),
    )
    .await;
    assert_eq!(dup.code, 409);

    // Moving 3.5 to another image: the alias follows, the pinned tag stays.
    let mut t = get(&sim, &istag(), "default", "python:3.5").await;
    t["tag"]["from"] = json!({"kind": "DockerImage", "name": "docker.io/python:3.6.0"});
    replace(&sim, &istag(), "default", "python:3.5", t).await;
    sim.settle();
    let r36 = istag_ref(&sim, "python:3.5").await;
    assert!(r36.starts_with("docker.io/python@sha256:"), "{r36}");
    assert_eq!(istag_ref(&sim, "python:current").await, r36);
    assert_eq!(istag_ref(&sim, "python:latest").await, r35);
    let s = get(&sim, &is(), "default", "python").await;
    let hist: Vec<&str> = s["status"]["tags"]
        .as_array()
        .expect("test data has this shape")
        .iter()
        .find(|t| t["tag"] == "3.5")
        .expect("test data has this shape")["items"]
        .as_array()
        .expect("test data has this shape")
        .iter()
        .map(|i| {
            i["dockerImageReference"]
                .as_str()
                .expect("test data has this shape")
        })
        .collect();
    assert_eq!(hist, [r36.as_str(), r35.as_str()], "newest first");

    // Every tag with an image is listed; any image of the history is readable.
    let names: Vec<String> = list(&sim, &istag(), "default", "")
        .await
        .iter()
        .map(|t| {
            t["metadata"]["name"]
                .as_str()
                .expect("test data has this shape")
                .to_string()
        })
        .collect();
    assert_eq!(names, ["python:3.5", "python:current", "python:latest"]);
    let img = get(&sim, &isimage(), "default", &format!("python@{d35}")).await;
    assert_eq!(img["image"]["dockerImageReference"], r35);
    assert!(
        get_opt(&sim, &isimage(), "default", "python@sha256:0000")
            .await
            .is_none()
    );

    // `oc tag -d python:3.5`.
    delete(&sim, &istag(), "default", "python:3.5").await;
    assert!(
        get_opt(&sim, &istag(), "default", "python:3.5")
            .await
            .is_none()
    );
    let s = get(&sim, &is(), "default", "python").await;
    assert!(
        s["spec"]["tags"]
            .as_array()
            .expect("test data has this shape")
            .iter()
            .all(|t| t["name"] != "3.5")
    );
    assert!(
        s["status"]["tags"]
            .as_array()
            .expect("test data has this shape")
            .iter()
            .all(|t| t["tag"] != "3.5")
    );
}

#[tokio::test]
async fn scheduled_imports_run_every_fifteen_minutes_of_virtual_time() {
    let sim = sim();
    create(&sim, &is(), "default", stream("ruby", json!([
        {"name": "2.7", "from": {"kind": "DockerImage", "name": "ruby:2.7"}, "importPolicy": {"scheduled": true}},
        {"name": "3.0", "from": {"kind": "DockerImage", "name": "ruby:3.0"}},
    ]))).await;
    sim.advance(Duration::from_secs(1));
    let check = |s: &Value| {
        s.pointer("/metadata/annotations/openshift.io~1image.dockerRepositoryCheck")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let first = check(&get(&sim, &is(), "default", "ruby").await);
    assert!(!first.is_empty());
    sim.advance(Duration::from_secs(14 * 60));
    assert_eq!(check(&get(&sim, &is(), "default", "ruby").await), first);
    sim.advance(Duration::from_secs(60));
    let second = check(&get(&sim, &is(), "default", "ruby").await);
    assert_ne!(second, first, "the scheduled import ran after 15 minutes");
    sim.advance(Duration::from_secs(15 * 60));
    let third = check(&get(&sim, &is(), "default", "ruby").await);
    assert_ne!(third, second);
    // The upstream image did not change: no new history entries.
    let s = get(&sim, &is(), "default", "ruby").await;
    for t in s["status"]["tags"]
        .as_array()
        .expect("test data has this shape")
    {
        assert_eq!(
            t["items"]
                .as_array()
                .expect("test data has this shape")
                .len(),
            1,
            "{t}"
        );
    }
    assert!(
        sim.trace_text()
            .contains("imagestream default/ruby scheduled import of 2.7")
    );
    assert!(!sim.trace_text().contains("scheduled import of 3.0"));
}

#[tokio::test]
async fn a_pushed_image_and_a_tracked_stream_fire_image_change_triggers() {
    let sim = sim();
    // `prod` in stream `app` tracks `base:latest` of another stream.
    create(&sim, &is(), "default", stream("base", json!([]))).await;
    create(
        &sim,
        &is(),
        "default",
        stream(
            "app",
            json!([
        {"name": "prod", "from": {"kind": "ImageStreamTag", "name": "base:latest"}}]),
        ),
    )
    .await;
    create(&sim, &dc(), "default", json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig", "metadata": {"name": "app"},
        "spec": {"replicas": 1, "selector": {"app": "app"},
            "triggers": [{"type": "ImageChange", "imageChangeParams": {"automatic": true, "containerNames": ["app"],
                "from": {"kind": "ImageStreamTag", "name": "app:prod"}}}],
            "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "app", "image": ""}]}}}})).await;
    sim.settle();
    assert!(list(&sim, &rc(), "default", "").await.is_empty());

    // The registry maps a pushed image onto base:latest.
    let push = |digest: &str| {
        json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStreamMapping",
            "metadata": {"name": "base"}, "tag": "latest",
            "image": {"metadata": {"name": digest},
                "dockerImageReference": format!("image-registry.openshift-image-registry.svc:5000/default/base@{digest}")}})
    };
    let d1 = format!("sha256:{}", "1".repeat(64));
    create_mapping(&sim, &push(&d1)).await;
    sim.settle();
    assert_eq!(istag_digest(&sim, "app:prod").await, d1);
    let rc1 = get(&sim, &rc(), "default", "app-1").await;
    assert!(
        rc1["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .expect("test data has this shape")
            .ends_with(&d1)
    );
    assert_eq!(
        annotation(&rc1, "openshift.io/deployment.phase"),
        "Complete"
    );

    let d2 = format!("sha256:{}", "2".repeat(64));
    create_mapping(&sim, &push(&d2)).await;
    sim.settle();
    assert_eq!(istag_digest(&sim, "app:prod").await, d2);
    let rc2 = get(&sim, &rc(), "default", "app-2").await;
    assert!(
        rc2["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .expect("test data has this shape")
            .ends_with(&d2)
    );
    let d = get(&sim, &dc(), "default", "app").await;
    assert_eq!(d["status"]["details"]["causes"][0]["type"], "ImageChange");
    assert_eq!(
        d["status"]["details"]["causes"][0]["imageTrigger"]["from"]["name"],
        "app:prod"
    );
}

/// POSTs an ImageStreamMapping (a `create` without a name in the URL).
async fn create_mapping(sim: &Sim, body: &Value) {
    let mappings = ar(
        "image.openshift.io",
        "v1",
        "ImageStreamMapping",
        "imagestreammappings",
    );
    let r: Result<Value, kube::Error> = sim
        .client()
        .request(
            http::Request::post(format!(
                "/apis/image.openshift.io/v1/namespaces/default/{}",
                mappings.plural
            ))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).expect("test data has this shape"))
            .expect("test data has this shape"),
        )
        .await;
    let status = r.expect("mapping accepted");
    assert_eq!(status["status"], "Success");
}

#[tokio::test]
async fn local_lookup_lets_workloads_name_a_stream_tag() {
    let sim = sim();
    let mut s = stream(
        "ruby",
        json!([{"name": "2.7", "from": {"kind": "DockerImage", "name": "ruby:2.7"}}]),
    );
    s["spec"]["lookupPolicy"] = json!({"local": true});
    create(&sim, &is(), "default", s).await;
    create(
        &sim,
        &is(),
        "default",
        stream(
            "python",
            json!([{"name": "latest", "from": {"kind": "DockerImage", "name": "python:3"}}]),
        ),
    )
    .await;
    sim.settle();
    let ruby = istag_ref(&sim, "ruby:2.7").await;
    let p = create(&sim, &pod(), "default", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "r"},
        "spec": {"containers": [{"name": "a", "image": "ruby:2.7"}, {"name": "b", "image": "python"}, {"name": "c", "image": "ruby:3.0"}]}})).await;
    let images: Vec<&str> = p["spec"]["containers"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["image"].as_str()).collect())
        .unwrap_or_default();
    // Only the local-lookup stream's existing tag is resolved.
    assert_eq!(images, [ruby.as_str(), "python", "ruby:3.0"]);
    let deploy = ar("apps", "v1", "Deployment", "deployments");
    let d = create(&sim, &deploy, "default", json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {"metadata": {"labels": {"app": "d"}},
            "spec": {"containers": [{"name": "a", "image": "ruby:2.7"}]}}}})).await;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(ruby)
    );
}
