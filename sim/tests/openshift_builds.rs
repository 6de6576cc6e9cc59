//! BuildConfigs and Builds on the OpenShift flavor: a ConfigChange trigger starts build 1,
//! `instantiate` starts the next; the build pod runs the builder image's `assemble` over the
//! source, the assembled image is pushed to the output ImageStreamTag (and the image
//! catalogue), and the DeploymentConfig watching that tag runs it. Binary builds are in
//! `openshift_binary_builds.rs`, ImageChange build triggers in `openshift_build_triggers.rs`.

mod openshift_support;

use std::time::Duration;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

/// The first live pod of a DeploymentConfig's version `rc`.
async fn app_pod(sim: &Sim, rc_name: &str) -> Value {
    let pods = list(sim, &pod(), "default", &format!("deployment={rc_name}")).await;
    live_pods(&pods)
        .first()
        .map(|p| (*p).clone())
        .unwrap_or_else(|| panic!("no pod of {rc_name}: {pods:?}"))
}

fn file_in(sim: &Sim, p: &Value, container: &str, path: &str) -> Option<String> {
    let id = odo_sim::kubelet::ContainerId {
        namespace: "default".into(),
        pod: p["metadata"]["name"].as_str().unwrap_or_default().into(),
        pod_uid: p["metadata"]["uid"].as_str().unwrap_or_default().into(),
        container: container.into(),
        instance: 0,
        init: false,
    };
    let inst = sim.real_runtime()?.container(&id)?;
    inst.fs()
        .read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[tokio::test]
async fn an_s2i_build_assembles_the_source_and_the_deployment_runs_the_built_image() {
    let sim = sim();
    let src = node_app();
    create(&sim, &is(), "default", json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "nodejs"},
        "spec": {"tags": [{"name": "14", "from": {"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}}]}})).await;
    create(&sim, &dc(), "default", app_dc()).await;
    sim.settle();
    let uri = format!("file://{}", src.path().display());
    create(
        &sim,
        &bc(),
        "default",
        git_bc(
            "app",
            &uri,
            json!({"kind": "ImageStreamTag", "name": "nodejs:14"}),
        ),
    )
    .await;
    sim.advance(Duration::from_millis(10));
    assert_eq!(build_phase(&sim, "app-1").await, "Pending");
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
    sim.settle();
    let b = get(&sim, &build(), "default", "app-1").await;
    assert_eq!(
        b["status"]["phase"],
        "Complete",
        "{}",
        pod_log(&sim, "app-1-build").await
    );
    assert!(b["status"]["startTimestamp"].is_string(), "{b}");
    let digest = b["status"]["output"]["to"]["imageDigest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(digest.starts_with("sha256:"));
    // The build pod ran the builder's assemble over the source.
    let log = pod_log(&sim, "app-1-build").await;
    for line in [
        "---> Installing application source ...",
        "---> Installing all dependencies",
        "---> Build completed",
    ] {
        assert!(log.contains(line), "{line:?} not in the build log:\n{log}");
    }
    let tag = get(&sim, &istag(), "default", "app:latest").await;
    let reference =
        format!("image-registry.openshift-image-registry.svc:5000/default/app@{digest}");
    assert_eq!(tag["image"]["dockerImageReference"], json!(reference));
    // The output image is in the catalogue: the builder with the assembled app, running `run`.
    let rt = sim.real_runtime().expect("real runtime");
    let image = rt
        .runtime()
        .catalogue()
        .get(&reference)
        .expect("pushed image");
    assert_eq!(image.config.cmd, vec!["/usr/libexec/s2i/run".to_string()]);
    assert_eq!(image.config.labels["io.openshift.build.name"], "app-1");
    assert_eq!(image.config.user.as_deref(), Some("1001"));
    let rc1 = get(&sim, &rc(), "default", "app-1").await;
    assert_eq!(
        rc1["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(reference)
    );
    assert_eq!(
        annotation(&rc1, "openshift.io/deployment.phase"),
        "Complete"
    );
    // The app's pod runs the built image: the assembled files, and the `run` script as PID 1.
    let p = app_pod(&sim, "app-1").await;
    assert_eq!(
        file_in(&sim, &p, "app", "/opt/app-root/src/server.js").as_deref(),
        Some(
            "console.log('app built from source');\nrequire('http').createServer((q, r) => r.end('ok')).listen(8080);\n"
        )
    );
    let app_fs = odo_sim::runtime::Vfs::new(
        odo_sim::runtime::SharedTree::new(image.root.clone()),
        vec![],
    );
    assert!(
        app_fs.is_dir("/opt/app-root/src/node_modules/express"),
        "the npm install of assemble is in the image"
    );
    assert!(
        file_in(&sim, &p, "app", "/opt/app-root/src/.git/HEAD").is_none(),
        ".git is not part of the source"
    );
    let app_log = pod_log(&sim, p["metadata"]["name"].as_str().unwrap_or_default()).await;
    assert!(
        app_log.contains("Launching via npm run start ...")
            && app_log.contains("app built from source"),
        "{app_log}"
    );
    // The builder image itself is unchanged.
    let builder_image = rt
        .runtime()
        .catalogue()
        .get("registry.access.redhat.com/ubi8/nodejs-14:latest")
        .expect("builder");
    let bfs = odo_sim::runtime::Vfs::new(
        odo_sim::runtime::SharedTree::new(builder_image.root.clone()),
        vec![],
    );
    assert!(!bfs.exists("/opt/app-root/src/server.js"));
    assert_eq!(
        get(&sim, &bc(), "default", "app").await["status"]["lastVersion"],
        1
    );

    // `oc start-build app` after the source changed: build 2 pushes another image, which is
    // version 2 of the app.
    std::fs::write(
        src.path().join("server.js"),
        "console.log('second version');\nrequire('http').createServer((q, r) => r.end('ok')).listen(8080);\n",
    )
    .expect("write");
    let b2 = post_subresource(&sim, &bc(), "default", "app", "instantiate",
        json!({"apiVersion": "build.openshift.io/v1", "kind": "BuildRequest", "metadata": {"name": "app"}}))
        .await
        .expect("instantiate");
    assert_eq!(b2["metadata"]["name"], "app-2");
    sim.settle();
    assert_eq!(build_phase(&sim, "app-2").await, "Complete");
    let rc2 = get(&sim, &rc(), "default", "app-2").await;
    let image2 = rc2["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string();
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
    let p2 = app_pod(&sim, "app-2").await;
    assert!(
        pod_log(&sim, p2["metadata"]["name"].as_str().unwrap_or_default())
            .await
            .contains("second version")
    );
}

#[tokio::test]
async fn a_failing_assemble_fails_the_build_with_assemble_failed() {
    let sim = sim();
    // An empty source: the builder's `mv /tmp/src/* ./` fails under `set -e`.
    let src = tempfile::tempdir().expect("dir");
    let uri = src.path().display().to_string();
    create(&sim, &bc(), "default", git_bc("empty", &uri,
        json!({"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}))).await;
    sim.settle();
    let b = get(&sim, &build(), "default", "empty-1").await;
    assert_eq!(b["status"]["phase"], "Failed", "{b}");
    assert_eq!(b["status"]["reason"], "AssembleFailed");
    assert_eq!(b["status"]["message"], "Assemble failed.");
    assert!(b["status"]["completionTimestamp"].is_string());
    let log = pod_log(&sim, "empty-1-build").await;
    assert!(
        log.contains("error: build error: error building at STEP \"RUN /usr/libexec/s2i/assemble\": exit status"),
        "{log}"
    );
    assert!(
        get_opt(&sim, &is(), "default", "empty").await.is_none(),
        "nothing pushed"
    );

    // A source the simulator cannot read fails to fetch.
    create(&sim, &bc(), "default", git_bc("remote", "https://github.com/sclorg/nodejs-ex",
        json!({"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}))).await;
    sim.settle();
    let b = get(&sim, &build(), "default", "remote-1").await;
    assert_eq!(b["status"]["phase"], "Failed", "{b}");
    assert_eq!(b["status"]["reason"], "FetchSourceFailed");
    assert!(
        b["status"]["logSnippet"]
            .as_str()
            .is_some_and(|s| s.contains("local directories only")),
        "{b}"
    );
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
        build_phase(&sim, "broken-1").await,
        "Pending",
        "the build waits on its pod's image"
    );
    // The build pod is deleted before it could run.
    delete(&sim, &pod(), "default", "broken-1-build").await;
    sim.settle_for(Duration::from_secs(60));
    let b: Value = get(&sim, &build(), "default", "broken-1").await;
    assert_eq!(b["status"]["phase"], "Error", "{b}");
    assert_eq!(b["status"]["reason"], "BuildPodDeleted");
    // A build in phase Error has no log to read.
    let e = match sim
        .client()
        .request_text(
            http::Request::get(
                "/apis/build.openshift.io/v1/namespaces/default/builds/broken-1/log",
            )
            .body(Vec::new())
            .expect("request"),
        )
        .await
    {
        Err(kube::Error::Api(s)) => *s,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            400,
            "build broken-1 is in an error state. No logs are available."
        ),
        "{e:?}"
    );
    assert!(get_opt(&sim, &is(), "default", "broken").await.is_none());
}

/// The distinct phases a Build went through, as a watch saw them.
fn phases_seen(w: &mut odo_sim::store::Watch, name: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let items = std::mem::take(&mut w.initial)
        .into_iter()
        .chain(std::iter::from_fn(|| w.rx.try_recv().ok()));
    for it in items {
        if let odo_sim::store::WatchItem::Event(_, o) = it
            && o["metadata"]["name"] == name
        {
            let p = o["status"]["phase"].as_str().unwrap_or("New").to_string();
            if seen.last() != Some(&p) {
                seen.push(p);
            }
        }
    }
    seen
}

#[tokio::test]
async fn a_build_goes_through_its_phases_and_cancelling_it_stops_its_pod() {
    let sim = sim();
    let src = node_app();
    // The source's own assemble (`.s2i/bin/assemble`) takes a while, then runs the builder's.
    std::fs::create_dir_all(src.path().join(".s2i/bin")).expect("mkdir");
    let script = src.path().join(".s2i/bin/assemble");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'custom assemble from the source'\nsleep 30\nexec /usr/libexec/s2i/assemble\n",
    )
    .expect("write");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let b_tid = sim
        .store()
        .resolve("build.openshift.io", "v1", "builds")
        .map(|(t, _)| t)
        .expect("builds served");
    let mut watch = sim
        .store()
        .watch(b_tid, Some("default"), &Default::default())
        .expect("watch");
    let uri = format!("file://{}", src.path().display());
    create(&sim, &bc(), "default", git_bc("slow", &uri,
        json!({"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}))).await;
    sim.advance(Duration::from_millis(10));
    assert_eq!(build_phase(&sim, "slow-1").await, "Pending");
    sim.advance(Duration::from_secs(5));
    assert_eq!(build_phase(&sim, "slow-1").await, "Running");
    assert!(
        pod_log(&sim, "slow-1-build")
            .await
            .contains("custom assemble from the source")
    );
    sim.advance(Duration::from_secs(20));
    assert_eq!(
        build_phase(&sim, "slow-1").await,
        "Running",
        "assemble still sleeps"
    );
    sim.settle();
    let b = get(&sim, &build(), "default", "slow-1").await;
    assert_eq!(b["status"]["phase"], "Complete", "{b}");
    assert_eq!(
        phases_seen(&mut watch, "slow-1"),
        ["New", "Pending", "Running", "Complete"]
    );
    // The build ran from the moment its pod ran to the end of assemble (30s of sleep).
    let secs = b["status"]["duration"].as_u64().unwrap_or_default() / 1_000_000_000;
    assert!((30..=31).contains(&secs), "{b}");

    // `oc cancel-build slow-2`: status.cancelled set by an update of the Build.
    post_subresource(&sim, &bc(), "default", "slow", "instantiate",
        json!({"apiVersion": "build.openshift.io/v1", "kind": "BuildRequest", "metadata": {"name": "slow"}}))
        .await
        .expect("instantiate");
    sim.advance(Duration::from_secs(5));
    assert_eq!(build_phase(&sim, "slow-2").await, "Running");
    let mut b2 = get(&sim, &build(), "default", "slow-2").await;
    b2["status"]["cancelled"] = json!(true);
    replace(&sim, &build(), "default", "slow-2", b2).await;
    sim.settle();
    let b2 = get(&sim, &build(), "default", "slow-2").await;
    assert_eq!(b2["status"]["phase"], "Cancelled", "{b2}");
    assert_eq!(b2["status"]["reason"], "CancelledBuild");
    assert_eq!(
        b2["status"]["message"],
        "The build was cancelled by the user."
    );
    assert!(
        get_opt(&sim, &pod(), "default", "slow-2-build")
            .await
            .is_none(),
        "the pod is gone"
    );
    assert!(b2["status"]["output"].is_null());
    let hist = get(&sim, &is(), "default", "slow").await["status"]["tags"][0]["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(hist, 1, "a cancelled build pushes nothing");
    assert_eq!(
        phases_seen(&mut watch, "slow-2"),
        ["New", "Pending", "Running", "Cancelled"]
    );
}

#[tokio::test]
async fn a_docker_build_is_reduced_to_the_source_copied_into_the_from_image() {
    let sim = sim();
    let src = node_app();
    std::fs::write(
        src.path().join("Dockerfile"),
        "FROM registry.access.redhat.com/ubi8/nodejs-14\nRUN echo never run\n",
    )
    .expect("write");
    create(&sim, &bc(), "default", json!({
        "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": "docker"},
        "spec": {
            "source": {"type": "Git", "git": {"uri": src.path().display().to_string()}},
            "strategy": {"type": "Docker", "dockerStrategy": {"from": {"kind": "DockerImage",
                "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}}},
            "output": {"to": {"kind": "ImageStreamTag", "name": "docker:latest"}},
            "triggers": [{"type": "ConfigChange"}],
        }})).await;
    sim.settle();
    let b = get(&sim, &build(), "default", "docker-1").await;
    assert_eq!(b["status"]["phase"], "Complete", "{b}");
    let log = pod_log(&sim, "docker-1-build").await;
    assert!(log.contains("COPY . /opt/app-root/src"), "{log}");
    assert!(
        !log.contains("never run") && !log.contains("Installing application source"),
        "{log}"
    );
    let reference =
        get(&sim, &istag(), "default", "docker:latest").await["image"]["dockerImageReference"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    let fs = pushed_image_fs(&sim, &reference);
    assert!(fs.exists("/opt/app-root/src/server.js"));
    assert!(fs.exists("/opt/app-root/src/Dockerfile"));
    assert!(
        !fs.exists("/opt/app-root/src/node_modules"),
        "no assemble ran"
    );
    assert_eq!(
        pushed_image(&sim, &reference).config.cmd,
        vec!["/usr/libexec/s2i/usage".to_string()],
        "the from image's command"
    );
}

#[tokio::test]
async fn the_same_build_in_two_simulators_with_one_seed_gives_the_same_image_and_log() {
    let src = node_app();
    let uri = format!("file://{}", src.path().display());
    let mut seen = Vec::new();
    for _ in 0..2 {
        let sim = sim();
        create(&sim, &bc(), "default", git_bc("app", &uri,
            json!({"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}))).await;
        sim.settle();
        let b = get(&sim, &build(), "default", "app-1").await;
        assert_eq!(b["status"]["phase"], "Complete", "{b}");
        let tag = get(&sim, &istag(), "default", "app:latest").await;
        let log = pod_log(&sim, "app-1-build").await;
        let cm = get(
            &sim,
            &ar("", "v1", "ConfigMap", "configmaps"),
            "default",
            "app-1-source",
        )
        .await;
        seen.push((
            tag["image"]["dockerImageReference"].clone(),
            b["status"]["completionTimestamp"].clone(),
            cm["binaryData"]["source.tar"].clone(),
            log,
        ));
    }
    assert!(seen[0].0.is_string() && seen[0].2.is_string());
    assert_eq!(seen[0], seen[1]);
}
