//! Binary builds on the OpenShift flavor (`instantiatebinary`, what `oc start-build
//! --from-file/--from-dir/--from-archive` sends): the upload is the build's source, the
//! build's log over both ways in, and what the server refuses.

mod openshift_support;

use std::time::Duration;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

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
        assert_eq!(build_phase(sim, "bin-2").await, "Complete");
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
        assert_eq!(build_phase(sim, "bin-4").await, "Complete");
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
    assert_eq!(build_phase(&sim, "jar-1").await, "Complete");
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
