//! BuildConfigs and Builds on the OpenShift flavor: a ConfigChange trigger starts build 1,
//! `instantiate` starts the next; the build pod runs the builder image's `assemble` over the
//! source, the assembled image is pushed to the output ImageStreamTag (and the image
//! catalogue), and the DeploymentConfig watching that tag runs it.

mod openshift_support;

use std::time::Duration;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

async fn phase(sim: &Sim, name: &str) -> String {
    get(sim, &build(), "default", name).await["status"]["phase"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A Node.js app on disk: what a `file://` Git source of a BuildConfig points at.
fn node_app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("package.json"),
        r#"{"name": "app", "scripts": {"start": "node server.js"}, "dependencies": {"express": "^4.17.1"}}"#,
    )
    .expect("write");
    std::fs::write(
        dir.path().join("server.js"),
        "console.log('app built from source');\nrequire('http').createServer((q, r) => r.end('ok')).listen(8080);\n",
    )
    .expect("write");
    std::fs::create_dir(dir.path().join(".git")).expect("mkdir");
    std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").expect("write");
    dir
}

fn git_bc(name: &str, uri: &str, builder: Value) -> Value {
    json!({
    "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": name},
    "spec": {
        "source": {"type": "Git", "git": {"uri": uri}},
        "strategy": {"type": "Source", "sourceStrategy": {"from": builder}},
        "output": {"to": {"kind": "ImageStreamTag", "name": format!("{name}:latest")}},
        "triggers": [{"type": "ConfigChange"}],
    }})
}

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
    assert_eq!(phase(&sim, "app-2").await, "Complete");
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

mod common;

fn raw(method: &str, uri: &str, content_type: &str, body: Vec<u8>) -> http::Request<Vec<u8>> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("Content-Type", content_type)
        .body(body)
        .expect("request")
}

fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut ar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        ar.append_data(&mut h, name, content.as_bytes())
            .expect("append");
    }
    ar.into_inner()
        .and_then(flate2::write::GzEncoder::finish)
        .expect("tar.gz")
}

/// A zip archive of the files (deflated), as `zip -r` makes for `--from-archive`.
fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in files {
        w.start_file(*name, opts).expect("zip entry");
        w.write_all(content.as_bytes()).expect("zip write");
    }
    w.finish().expect("zip").into_inner()
}

const BINARY_BUILDS: &str = "/apis/build.openshift.io/v1/namespaces/default/buildconfigs";

async fn log_of(client: &kube::Client, build: &str, query: &str) -> String {
    client
        .request_text(
            http::Request::get(format!(
                "/apis/build.openshift.io/v1/namespaces/default/builds/{build}/log{query}"
            ))
            .body(Vec::new())
            .expect("request"),
        )
        .await
        .expect("build log")
}

#[tokio::test]
async fn binary_builds_from_a_file_or_an_archive_and_their_logs_over_both_ways_in() {
    for mode in common::MODES {
        let h = common::harness_with(
            mode,
            Sim::builder().seed(7).flavor(odo_sim::Flavor::Openshift),
        )
        .await;
        let (sim, client) = (&h.sim, &h.client);
        create(sim, &bc(), "default", json!({
            "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": "bin"},
            "spec": {
                "source": {"type": "Binary", "binary": {}},
                "strategy": {"type": "Source", "sourceStrategy": {"from": {"kind": "DockerImage",
                    "name": "registry.access.redhat.com/ubi8/python-38:latest"}}},
                "output": {"to": {"kind": "ImageStreamTag", "name": "bin:latest"}},
            }})).await;
        create(sim, &bc(), "default", git_bc("gitbc", "/nonexistent",
            json!({"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/python-38:latest"}))).await;
        sim.settle();

        // `oc start-build bin --from-file=app.py`
        let b: Value = client
            .request(raw(
                "POST",
                &format!("{BINARY_BUILDS}/bin/instantiatebinary?asFile=app.py"),
                "application/octet-stream",
                b"print('hello from a binary build')\n".to_vec(),
            ))
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: instantiatebinary: {e}"));
        assert_eq!(b["kind"], "Build");
        assert_eq!(b["metadata"]["name"], "bin-1");
        assert_eq!(b["spec"]["source"]["binary"]["asFile"], "app.py");
        assert_eq!(b["status"]["phase"], "New");
        assert_eq!(
            get(sim, &bc(), "default", "bin").await["status"]["lastVersion"],
            1
        );
        // The log of a build whose pod has not started waits for it, with follow (`oc
        // start-build --follow`: then it streams) and without (then it answers the log so
        // far once the build runs).
        let watches = sim.store().watch_count();
        let follow = {
            let client = client.clone();
            tokio::spawn(async move { log_of(&client, "bin-1", "?follow=true").await })
        };
        let plain = {
            let client = client.clone();
            tokio::spawn(async move { log_of(&client, "bin-1", "").await })
        };
        for _ in 0..1000 {
            if sim.store().watch_count() >= watches + 4
                || follow.is_finished()
                || plain.is_finished()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert!(
            !follow.is_finished() && !plain.is_finished(),
            "both requests wait for the build pod"
        );
        sim.settle();
        let so_far = plain.await.expect("log task");
        assert!(
            so_far.contains("Receiving source from STDIN as archive ..."),
            "{mode:?}: {so_far}"
        );
        let done = get(sim, &build(), "default", "bin-1").await;
        assert_eq!(done["status"]["phase"], "Complete", "{mode:?}: {done}");
        let log = follow.await.expect("follow task");
        assert!(
            log.contains("Receiving source from STDIN as archive ...")
                && log.contains("---> Installing application source ..."),
            "{mode:?}: {log}"
        );
        assert!(!log.contains("Installing dependencies"), "{log}");

        // A pod of the output image runs the uploaded file through the image's `run`.
        let tag = get(sim, &istag(), "default", "bin:latest").await;
        let image = tag["image"]["dockerImageReference"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(image.contains("/default/bin@sha256:"), "{image}");
        create(
            sim,
            &pod(),
            "default",
            json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "runner"},
            "spec": {"containers": [{"name": "app", "image": image}]}}),
        )
        .await;
        sim.settle_for(Duration::from_secs(5));
        let run_log = pod_log(sim, "runner").await;
        assert!(
            run_log.contains("---> Running application from Python script (app.py) ...")
                && run_log.contains("hello from a binary build"),
            "{mode:?}: {run_log}"
        );

        // `oc start-build bin --from-dir=.`: a tar.gz of a directory.
        let archive = tar_gz(&[
            ("app.py", "print('second upload')\n"),
            ("requirements.txt", "flask\n"),
        ]);
        let b2: Value = client
            .request(raw(
                "POST",
                &format!("{BINARY_BUILDS}/bin/instantiatebinary"),
                "application/octet-stream",
                archive,
            ))
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: instantiatebinary archive: {e}"));
        assert_eq!(b2["metadata"]["name"], "bin-2");
        sim.settle();
        assert_eq!(phase(sim, "bin-2").await, "Complete");
        let log2 = log_of(client, "bin-2", "").await;
        assert!(
            log2.contains("---> Installing dependencies ..."),
            "{mode:?}: {log2}"
        );
        assert!(!log2.contains("hello from a binary build"));
        let hist = get(sim, &is(), "default", "bin").await["status"]["tags"][0]["items"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(hist, 2, "{mode:?}");

        // An upload over the API's 3 MiB body limit (a jar often is) is still taken.
        let big = vec![7u8; 4 * 1024 * 1024];
        let b3: Value = client
            .request(raw(
                "POST",
                &format!("{BINARY_BUILDS}/bin/instantiatebinary?asFile=app.jar"),
                "application/octet-stream",
                big,
            ))
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: a 4 MiB upload: {e}"));
        assert_eq!(b3["metadata"]["name"], "bin-3");

        // What the server refuses: a body that is no archive, and a BuildConfig without a
        // binary source.
        let e = common::api_err(
            client
                .request::<Value>(raw(
                    "POST",
                    &format!("{BINARY_BUILDS}/bin/instantiatebinary"),
                    "application/octet-stream",
                    b"just some bytes".to_vec(),
                ))
                .await,
        );
        assert_eq!(e.code, 400, "{mode:?}: {e:?}");
        assert!(
            e.message.contains("not a tar, tar.gz or zip archive"),
            "{}",
            e.message
        );
        // `oc start-build --from-archive app.zip` with an entry that climbs out of the source
        // directory: refused by the entry's name, and no build starts.
        let evil = zip_of(&[("app.py", "print('ok')\n"), ("../../etc/profile", "x\n")]);
        let e = common::api_err(
            client
                .request::<Value>(raw(
                    "POST",
                    &format!("{BINARY_BUILDS}/bin/instantiatebinary"),
                    "application/octet-stream",
                    evil,
                ))
                .await,
        );
        assert_eq!(e.code, 400, "{mode:?}: {e:?}");
        assert!(
            e.message.contains("\"../../etc/profile\"") && e.message.contains("unsafe path"),
            "{}",
            e.message
        );
        let e = common::api_err(
            client
                .request::<Value>(raw(
                    "POST",
                    &format!("{BINARY_BUILDS}/gitbc/instantiatebinary?asFile=x"),
                    "application/octet-stream",
                    b"x".to_vec(),
                ))
                .await,
        );
        assert_eq!(e.code, 400, "{mode:?}: {e:?}");
        assert!(e.message.contains("is not of type Binary"), "{}", e.message);
        assert_eq!(
            get(sim, &bc(), "default", "bin").await["status"]["lastVersion"],
            3,
            "refused uploads start no build"
        );
        assert!(
            list(sim, &ar("", "v1", "ConfigMap", "configmaps"), "default", "")
                .await
                .iter()
                .all(|c| c["metadata"]["name"] != "bin-4-source"),
            "a refused upload leaves no source behind"
        );

        // A good zip (`oc start-build --from-archive app.zip`) builds like a tar.gz: its
        // requirements are installed and its script is what the image runs.
        let good = zip_of(&[
            ("app.py", "print('hello from a zip upload')\n"),
            ("requirements.txt", "flask\n"),
        ]);
        let b4: Value = client
            .request(raw(
                "POST",
                &format!("{BINARY_BUILDS}/bin/instantiatebinary"),
                "application/octet-stream",
                good,
            ))
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: instantiatebinary zip: {e}"));
        assert_eq!(b4["metadata"]["name"], "bin-4");
        sim.settle();
        assert_eq!(phase(sim, "bin-4").await, "Complete");
        let log4 = log_of(client, "bin-4", "").await;
        assert!(
            log4.contains("---> Installing dependencies ..."),
            "{mode:?}: {log4}"
        );
        let image =
            get(sim, &istag(), "default", "bin:latest").await["image"]["dockerImageReference"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        create(
            sim,
            &pod(),
            "default",
            json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "zip-runner"},
            "spec": {"containers": [{"name": "app", "image": image}]}}),
        )
        .await;
        sim.settle_for(Duration::from_secs(5));
        let run_log = pod_log(sim, "zip-runner").await;
        assert!(
            run_log.contains("hello from a zip upload"),
            "{mode:?}: {run_log}"
        );
        // The log of a build that does not exist is a 404.
        let e = common::api_err(
            client
                .request_text(
                    http::Request::get(
                        "/apis/build.openshift.io/v1/namespaces/default/builds/nope-1/log",
                    )
                    .body(Vec::new())
                    .expect("request"),
                )
                .await,
        );
        assert_eq!(e.code, 404, "{mode:?}");
    }
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
    assert_eq!(phase(&sim, "slow-1").await, "Pending");
    sim.advance(Duration::from_secs(5));
    assert_eq!(phase(&sim, "slow-1").await, "Running");
    assert!(
        pod_log(&sim, "slow-1-build")
            .await
            .contains("custom assemble from the source")
    );
    sim.advance(Duration::from_secs(20));
    assert_eq!(
        phase(&sim, "slow-1").await,
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
    assert_eq!(phase(&sim, "slow-2").await, "Running");
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

/// A binary build with the Java builder: assemble copies the uploaded jar into /deployments,
/// outside /opt/app-root; the output image carries it (the image's deployments-dir label), so
/// the deployment runs the jar.
#[tokio::test]
async fn a_java_binary_build_keeps_the_jar_in_the_deployments_dir_of_the_image() {
    let sim = sim();
    create(
        &sim,
        &bc(),
        "default",
        json!({
        "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": "jar"},
        "spec": {
            "source": {"type": "Binary", "binary": {"asFile": "app.jar"}},
            "strategy": {"type": "Source", "sourceStrategy": {"from": {"kind": "DockerImage",
                "name": "registry.access.redhat.com/ubi8/openjdk-11:latest"}}},
            "output": {"to": {"kind": "ImageStreamTag", "name": "jar:latest"}},
        }}),
    )
    .await;
    sim.settle();
    let b: Value = sim
        .client()
        .request(raw(
            "POST",
            &format!("{BINARY_BUILDS}/jar/instantiatebinary?asFile=app.jar"),
            "application/octet-stream",
            b"SIMJAR\nPrints: hello from the jar\n".to_vec(),
        ))
        .await
        .expect("instantiatebinary");
    assert_eq!(b["metadata"]["name"], "jar-1");
    sim.settle();
    assert_eq!(phase(&sim, "jar-1").await, "Complete");
    let tag = get(&sim, &istag(), "default", "jar:latest").await;
    let reference = tag["image"]["dockerImageReference"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let fs = pushed_image_fs(&sim, &reference);
    assert_eq!(
        fs.read("/deployments/app.jar").ok().map(|b| b.to_vec()),
        Some(b"SIMJAR\nPrints: hello from the jar\n".to_vec())
    );
}
