//! The examples of the OpenShift core-concepts document (seed 003), kept in
//! `fixtures/openshift/` (see its README for the one change: the API groups), run on the
//! openshift flavor with the behaviour the document describes.

mod openshift_support;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

fn fixture(text: &str) -> Value {
    serde_yaml::from_str(text).expect("fixture yaml")
}

async fn post(sim: &Sim, uri: &str, body: &Value) -> Value {
    let r: Result<Value, kube::Error> = sim
        .client()
        .request(
            http::Request::post(uri)
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body).expect("test data has this shape"))
                .expect("test data has this shape"),
        )
        .await;
    r.unwrap_or_else(|e| panic!("POST {uri}: {e}"))
}

async fn new_project(sim: &Sim, name: &str) {
    post(
        sim,
        "/apis/project.openshift.io/v1/projectrequests",
        &json!({"apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest", "metadata": {"name": name}}),
    )
    .await;
}

/// `oc tag <from> <stream>:<tag>` for an external image.
async fn oc_tag(sim: &Sim, ns: &str, from: &str, to: &str) {
    create(
        sim,
        &istag(),
        ns,
        json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStreamTag",
        "metadata": {"name": to}, "tag": {"from": {"kind": "DockerImage", "name": from}}}),
    )
    .await;
}

#[tokio::test]
async fn the_deployment_config_example_waits_for_its_tag_then_rolls_out_five_pods() {
    let sim = sim();
    create(
        &sim,
        &dc(),
        "default",
        fixture(include_str!("../../fixtures/openshift/frontend-dc.yaml")),
    )
    .await;
    sim.settle();
    // "If the ImageStreamTag of an ImageChange trigger does not exist yet, the first
    // deployment starts as soon as an image is imported or pushed to it."
    assert!(
        get_opt(&sim, &rc(), "default", "frontend-1")
            .await
            .is_none()
    );
    oc_tag(
        &sim,
        "default",
        "openshift/hello-openshift:latest",
        "hello-openshift:latest",
    )
    .await;
    sim.settle();
    let rc1 = get(&sim, &rc(), "default", "frontend-1").await;
    assert_eq!(replicas(&rc1), 5);
    assert_eq!(
        annotation(&rc1, "openshift.io/deployment.phase"),
        "Complete"
    );
    let image = rc1["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .expect("test data has this shape");
    assert!(
        image.starts_with("openshift/hello-openshift@sha256:"),
        "{image}"
    );
    let pods = list(&sim, &pod(), "default", "deploymentconfig=frontend").await;
    let live = live_pods(&pods);
    assert_eq!(live.len(), 5);
    for p in live {
        // Named like the document's `frontend-1-287hw`.
        let name = p["metadata"]["name"]
            .as_str()
            .expect("test data has this shape");
        assert!(
            name.starts_with("frontend-1-") && name.len() == "frontend-1-".len() + 5,
            "{name}"
        );
        assert_eq!(p["metadata"]["labels"]["deployment"], "frontend-1");
        assert_eq!(p["status"]["phase"], "Running");
    }
}

#[tokio::test]
async fn the_image_stream_mapping_example_tags_the_pushed_image() {
    let sim = sim();
    new_project(&sim, "test").await;
    let mapping = fixture(include_str!(
        "../../fixtures/openshift/origin-ruby-sample-mapping.yaml"
    ));
    let status = post(
        &sim,
        "/apis/image.openshift.io/v1/namespaces/test/imagestreammappings",
        &mapping,
    )
    .await;
    assert_eq!(status["status"], "Success");
    let reference = "172.30.56.218:5000/test/origin-ruby-sample@sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d";
    let tag = get(&sim, &istag(), "test", "origin-ruby-sample:latest").await;
    assert_eq!(tag["image"]["dockerImageReference"], reference);
    assert_eq!(
        tag["image"]["metadata"]["name"],
        "sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d"
    );
    // The ImageStreamImage `origin-ruby-sample@sha256:47463...` of the document.
    let isimage = ar(
        "image.openshift.io",
        "v1",
        "ImageStreamImage",
        "imagestreamimages",
    );
    let img = get(&sim, &isimage, "test",
        "origin-ruby-sample@sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d").await;
    assert_eq!(img["image"]["dockerImageReference"], reference);
    let s = get(&sim, &is(), "test", "origin-ruby-sample").await;
    assert_eq!(
        s["status"]["dockerImageRepository"],
        "image-registry.openshift-image-registry.svc:5000/test/origin-ruby-sample"
    );
}

#[tokio::test]
async fn the_image_change_trigger_example_follows_a_tag_in_another_project() {
    let sim = sim();
    new_project(&sim, "myproject").await;
    create(
        &sim,
        &dc(),
        "default",
        fixture(include_str!(
            "../../fixtures/openshift/helloworld-imagechange-dc.yaml"
        )),
    )
    .await;
    sim.settle();
    assert!(
        get_opt(&sim, &rc(), "default", "helloworld-1")
            .await
            .is_none()
    );
    oc_tag(
        &sim,
        "myproject",
        "centos/ruby-22-centos7",
        "origin-ruby-sample:latest",
    )
    .await;
    sim.settle();
    let rc1 = get(&sim, &rc(), "default", "helloworld-1").await;
    let first = rc1["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .expect("test data has this shape")
        .to_string();
    assert!(
        first.starts_with("centos/ruby-22-centos7@sha256:"),
        "{first}"
    );
    // "... a new replication controller is created with the helloworld container's new image".
    let mut t = get(&sim, &istag(), "myproject", "origin-ruby-sample:latest").await;
    t["tag"]["from"]["name"] = json!("centos/ruby-25-centos7");
    replace(&sim, &istag(), "myproject", "origin-ruby-sample:latest", t).await;
    sim.settle();
    let rc2 = get(&sim, &rc(), "default", "helloworld-2").await;
    let second = rc2["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .expect("test data has this shape");
    assert!(
        second.starts_with("centos/ruby-25-centos7@sha256:"),
        "{second}"
    );
    assert_eq!(
        annotation(&rc2, "openshift.io/deployment.phase"),
        "Complete"
    );
    assert_eq!(
        replicas(&get(&sim, &rc(), "default", "helloworld-1").await),
        0
    );
}

#[tokio::test]
async fn the_oc_tag_walkthrough_of_the_document() {
    let sim = sim();
    // oc tag centos/python-35-centos7 python:3.5 (the stream is created with the tag)
    oc_tag(&sim, "default", "centos/python-35-centos7", "python:3.5").await;
    sim.settle();
    let d35 = get(&sim, &istag(), "default", "python:3.5").await["image"]["metadata"]["name"]
        .as_str()
        .expect("test data has this shape")
        .to_string();
    // oc tag python:3.5 python:latest -> "Tag python:latest set to python@sha256:..."
    create(&sim, &istag(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStreamTag",
        "metadata": {"name": "python:latest"}, "tag": {"from": {"kind": "ImageStreamImage", "name": format!("python@{d35}")}}})).await;
    // oc tag docker.io/python:3.6.0 python:3.6 --scheduled
    create(&sim, &istag(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStreamTag",
        "metadata": {"name": "python:3.6"}, "tag": {"from": {"kind": "DockerImage", "name": "docker.io/python:3.6.0"},
            "importPolicy": {"scheduled": true}}})).await;
    sim.advance(std::time::Duration::from_secs(1));
    let s = get(&sim, &is(), "default", "python").await;
    let unique: std::collections::BTreeSet<&str> = s["status"]["tags"]
        .as_array()
        .expect("test data has this shape")
        .iter()
        .map(|t| {
            t["items"][0]["image"]
                .as_str()
                .expect("test data has this shape")
        })
        .collect();
    assert_eq!(unique.len(), 2, "3.5 and latest share one image: {s}");
    // oc tag python:3.6 python:latest (update)
    let d36 = get(&sim, &istag(), "default", "python:3.6").await["image"]["metadata"]["name"]
        .as_str()
        .expect("test data has this shape")
        .to_string();
    let mut t = get(&sim, &istag(), "default", "python:latest").await;
    t["tag"]["from"] = json!({"kind": "ImageStreamImage", "name": format!("python@{d36}")});
    replace(&sim, &istag(), "default", "python:latest", t).await;
    sim.advance(std::time::Duration::from_secs(1));
    assert_eq!(
        get(&sim, &istag(), "default", "python:latest").await["image"]["metadata"]["name"],
        json!(d36)
    );
    // oc tag -d python:3.5 -> "Deleted tag default/python:3.5."
    delete(&sim, &istag(), "default", "python:3.5").await;
    assert!(
        get_opt(&sim, &istag(), "default", "python:3.5")
            .await
            .is_none()
    );
    assert_eq!(list(&sim, &istag(), "default", "").await.len(), 2);
}
