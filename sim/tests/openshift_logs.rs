//! The OpenShift log subresources over both ways in (in-process and HTTP, through kube-rs):
//! `builds/<name>/log` with `previous`, `nowait` and `version`, and
//! `deploymentconfigs/<name>/log` with `version`, `previous` and `nowait`.

mod common;
mod openshift_support;

use std::time::Duration;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

async fn get_text(client: &kube::Client, path: &str) -> Result<String, kube::Error> {
    client
        .request_text(http::Request::get(path).body(Vec::new()).expect("request"))
        .await
}

/// [`get_text`] that must answer without waiting for the simulator to move on.
async fn get_at_once(client: &kube::Client, path: &str) -> Result<String, kube::Error> {
    tokio::time::timeout(Duration::from_secs(5), get_text(client, path))
        .await
        .unwrap_or_else(|_| panic!("{path} waited instead of answering at once"))
}

fn build_log_path(build: &str, query: &str) -> String {
    format!("/apis/build.openshift.io/v1/namespaces/default/builds/{build}/log{query}")
}

fn dc_log_path(dc: &str, query: &str) -> String {
    format!("/apis/apps.openshift.io/v1/namespaces/default/deploymentconfigs/{dc}/log{query}")
}

/// The field of the first cause of a 422.
fn first_field(e: &kube::core::Status) -> Option<String> {
    e.details
        .as_ref()
        .and_then(|d| d.causes.first())
        .map(|c| c.field.clone())
}

/// Waits (real time, briefly) until the simulator has `n` more watches than `before`, or the
/// task ended: a log request that waits has opened its watches.
async fn until_waiting<T>(sim: &Sim, before: usize, n: usize, task: &tokio::task::JoinHandle<T>) {
    for _ in 0..1000 {
        if sim.store().watch_count() >= before + n || task.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A source tree whose `.s2i/bin/assemble` prints `word`: each build's log says which
/// source it built.
fn write_source(dir: &std::path::Path, word: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir.join(".s2i/bin")).expect("mkdir");
    let script = dir.join(".s2i/bin/assemble");
    std::fs::write(&script, format!("#!/bin/sh\necho \"assembling {word}\"\n")).expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(dir.join("server.js"), "console.log('ok');\n").expect("write");
}

#[tokio::test]
async fn build_logs_of_the_previous_build_without_waiting_and_with_a_version() {
    for mode in common::MODES {
        let h = common::harness_with(
            mode,
            Sim::builder().seed(7).flavor(odo_sim::Flavor::Openshift),
        )
        .await;
        let (sim, client) = (&h.sim, &h.client);
        let src = tempfile::tempdir().expect("dir");
        write_source(src.path(), "one");
        create(sim, &bc(), "default", json!({
            "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": "app"},
            "spec": {
                "source": {"type": "Git", "git": {"uri": src.path().display().to_string()}},
                "strategy": {"type": "Source", "sourceStrategy": {"from": {"kind": "DockerImage",
                    "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}}},
                "output": {"to": {"kind": "ImageStreamTag", "name": "app:latest"}},
                "triggers": [{"type": "ConfigChange"}],
            }})).await;
        sim.settle();
        write_source(src.path(), "two");
        post_subresource(sim, &bc(), "default", "app", "instantiate",
            json!({"apiVersion": "build.openshift.io/v1", "kind": "BuildRequest", "metadata": {"name": "app"}}))
            .await
            .expect("instantiate");
        sim.settle();
        for b in ["app-1", "app-2"] {
            let o = get(sim, &build(), "default", b).await;
            assert_eq!(o["status"]["phase"], "Complete", "{mode:?}: {o}");
        }
        let one = get_text(client, &build_log_path("app-1", ""))
            .await
            .expect("log 1");
        let two = get_text(client, &build_log_path("app-2", ""))
            .await
            .expect("log 2");
        assert!(
            one.contains("assembling one") && !one.contains("assembling two"),
            "{mode:?}: {one}"
        );
        assert!(two.contains("assembling two"), "{mode:?}: {two}");

        // `previous`: the build before this one of the same BuildConfig.
        let prev = get_text(client, &build_log_path("app-2", "?previous=true"))
            .await
            .expect("previous");
        assert_eq!(prev, one, "{mode:?}");
        let e = common::api_err(get_text(client, &build_log_path("app-1", "?previous=true")).await);
        assert_eq!(
            (e.code, e.reason.as_str()),
            (404, "NotFound"),
            "{mode:?}: {e:?}"
        );
        assert!(e.message.contains("app-0"), "{mode:?}: {e:?}");
        // Pod log options still apply to the build's log.
        let tail = get_text(
            client,
            &build_log_path("app-2", "?previous=true&tailLines=1"),
        )
        .await
        .expect("tail");
        assert_eq!(tail.lines().count(), 1, "{mode:?}: {tail}");
        assert!(one.ends_with(&tail), "{mode:?}: {tail}");

        // `version` is validated; the real server otherwise serves the named build.
        let v = get_text(client, &build_log_path("app-2", "?version=1"))
            .await
            .expect("version");
        assert_eq!(v, two, "{mode:?}");
        let e = common::api_err(get_text(client, &build_log_path("app-2", "?version=0")).await);
        assert_eq!(e.code, 422, "{mode:?}: {e:?}");
        assert_eq!(first_field(&e).as_deref(), Some("version"), "{mode:?}");
        assert!(
            e.message.contains("build version must be greater than 0"),
            "{e:?}"
        );
        let e = common::api_err(
            get_text(client, &build_log_path("app-2", "?version=1&previous=true")).await,
        );
        assert_eq!(e.code, 422, "{mode:?}: {e:?}");
        assert_eq!(first_field(&e).as_deref(), Some("previous"), "{mode:?}");
        let e = common::api_err(get_text(client, &build_log_path("app-2", "?version=x")).await);
        assert_eq!(e.code, 400, "{mode:?}: {e:?}");

        // `nowait`: a build that has not started answers an empty log at once. A binary
        // build started without its upload waits in New.
        create(sim, &bc(), "default", json!({
            "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": "bin"},
            "spec": {
                "source": {"type": "Binary", "binary": {}},
                "strategy": {"type": "Source", "sourceStrategy": {"from": {"kind": "DockerImage",
                    "name": "registry.access.redhat.com/ubi8/python-38:latest"}}},
                "output": {"to": {"kind": "ImageStreamTag", "name": "bin:latest"}},
            }})).await;
        post_subresource(sim, &bc(), "default", "bin", "instantiate",
            json!({"apiVersion": "build.openshift.io/v1", "kind": "BuildRequest", "metadata": {"name": "bin"}}))
            .await
            .expect("instantiate bin");
        sim.settle();
        assert_eq!(
            get(sim, &build(), "default", "bin-1").await["status"]["phase"],
            "New"
        );
        let empty = get_at_once(client, &build_log_path("bin-1", "?nowait=true"))
            .await
            .expect("nowait");
        assert_eq!(empty, "", "{mode:?}");
        // Without `nowait` (and without `follow`) the request waits for the build to run,
        // as the real server does; cancelling the build ends the wait with its 400.
        let watches = sim.store().watch_count();
        let waiting = {
            let client = client.clone();
            tokio::spawn(async move { get_text(&client, &build_log_path("bin-1", "")).await })
        };
        until_waiting(sim, watches, 2, &waiting).await;
        assert!(
            !waiting.is_finished(),
            "{mode:?}: the log of a New build is waited for"
        );
        let mut b = get(sim, &build(), "default", "bin-1").await;
        b["status"]["cancelled"] = json!(true);
        replace(sim, &build(), "default", "bin-1", b).await;
        sim.settle();
        assert_eq!(
            get(sim, &build(), "default", "bin-1").await["status"]["phase"],
            "Cancelled"
        );
        let e = common::api_err(waiting.await.expect("log task"));
        assert_eq!(
            (e.code, e.message.as_str()),
            (400, "build bin-1 was cancelled: No logs are available."),
            "{mode:?}: {e:?}"
        );
        // Asked once the build is Cancelled: refused at once, in the real server's words.
        let e = common::api_err(get_at_once(client, &build_log_path("bin-1", "")).await);
        assert_eq!(
            (e.code, e.message.as_str()),
            (400, "build bin-1 was cancelled. No logs are available."),
            "{mode:?}: {e:?}"
        );
    }
}

/// DeploymentConfig `logs` whose container prints `word` and stays up.
fn printing_dc(word: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig", "metadata": {"name": "logs"},
        "spec": {"replicas": 1, "selector": {"name": "logs"},
            "strategy": {"type": "Rolling", "rollingParams": {"timeoutSeconds": 30}},
            "triggers": [],
            "template": {"metadata": {"labels": {"name": "logs"}}, "spec": {"containers": [{
                "name": "app", "image": image,
                "command": ["sh", "-c", format!("echo hello from {word}; sleep 3600")]}]}}}})
}

#[tokio::test]
async fn deployment_config_logs_by_version_previous_and_without_waiting() {
    for mode in common::MODES {
        let h = common::harness_with(
            mode,
            Sim::builder().seed(7).flavor(odo_sim::Flavor::Openshift),
        )
        .await;
        let (sim, client) = (&h.sim, &h.client);
        let e = common::api_err(get_text(client, &dc_log_path("logs", "")).await);
        assert_eq!(e.code, 404, "{mode:?}: {e:?}");
        create(sim, &dc(), "default", printing_dc("v1", "busybox:1")).await;
        sim.settle();
        let e = common::api_err(get_text(client, &dc_log_path("logs", "")).await);
        assert_eq!(e.code, 400, "{mode:?}: {e:?}");
        assert!(
            e.message
                .contains("no deployment exists for deploymentConfig \"logs\""),
            "{e:?}"
        );

        // `oc rollout latest`: version 1 is New; `nowait` answers at once, without it the
        // request waits for the deployment and then reads the pod's log.
        let req = json!({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentRequest",
            "name": "logs", "latest": true, "force": true});
        post_subresource(sim, &dc(), "default", "logs", "instantiate", req.clone())
            .await
            .expect("instantiate 1");
        let empty = get_at_once(client, &dc_log_path("logs", "?nowait=true"))
            .await
            .expect("nowait");
        assert_eq!(empty, "", "{mode:?}");
        let watches = sim.store().watch_count();
        let waiting = {
            let client = client.clone();
            tokio::spawn(async move { get_text(&client, &dc_log_path("logs", "")).await })
        };
        until_waiting(sim, watches, 2, &waiting).await;
        assert!(
            !waiting.is_finished(),
            "{mode:?}: the request waits for the deployment"
        );
        sim.settle_for(Duration::from_secs(10));
        let rc1 = get(sim, &rc(), "default", "logs-1").await;
        assert_eq!(
            annotation(&rc1, "openshift.io/deployment.phase"),
            "Complete",
            "{mode:?}"
        );
        let log = waiting.await.expect("task").expect("log");
        assert_eq!(log, "hello from v1\n", "{mode:?}");

        // Version 2 cannot pull its image: it fails and version 1 is scaled back up.
        replace(sim, &dc(), "default", "logs", {
            let mut d = get(sim, &dc(), "default", "logs").await;
            d["spec"]["template"] = printing_dc("v2", "busybox:2")["spec"]["template"].clone();
            d
        })
        .await;
        sim.inject(odo_sim::Fault::ImagePullFailure {
            image: "busybox:2".into(),
            active: true,
        })
        .expect("fault");
        post_subresource(sim, &dc(), "default", "logs", "instantiate", req)
            .await
            .expect("instantiate 2");
        sim.settle_for(Duration::from_secs(120));
        let rc2 = get(sim, &rc(), "default", "logs-2").await;
        assert_eq!(
            annotation(&rc2, "openshift.io/deployment.phase"),
            "Failed",
            "{mode:?}"
        );
        sim.settle_for(Duration::from_secs(10));

        // The latest (failed) version's log is its deployer pod's.
        let latest = get_text(client, &dc_log_path("logs", ""))
            .await
            .expect("latest");
        assert_eq!(latest, pod_log(sim, "logs-2-deploy").await, "{mode:?}");
        let v2 = get_text(client, &dc_log_path("logs", "?version=2"))
            .await
            .expect("v2");
        assert_eq!(v2, latest, "{mode:?}");
        // `previous` and `version=1`: the complete version 1, read from its running pod.
        for q in [
            "?previous=true",
            "?version=1",
            "?version=1&timestamps=true&tailLines=1",
        ] {
            let old = get_text(client, &dc_log_path("logs", q)).await.expect("v1");
            assert!(old.ends_with("hello from v1\n"), "{mode:?} {q}: {old}");
        }
        // Options the real server refuses, with its wording.
        let e = common::api_err(get_text(client, &dc_log_path("logs", "?version=3")).await);
        assert_eq!(e.code, 400, "{mode:?}: {e:?}");
        assert!(
            e.message
                .contains("invalid version for deploymentConfig \"logs\": 3"),
            "{e:?}"
        );
        let e = common::api_err(get_text(client, &dc_log_path("logs", "?version=0")).await);
        assert_eq!(
            (e.code, first_field(&e).as_deref()),
            (422, Some("version")),
            "{e:?}"
        );
        assert!(
            e.message
                .contains("deployment version must be greater than 0"),
            "{e:?}"
        );
        let e = common::api_err(
            get_text(client, &dc_log_path("logs", "?version=1&previous=true")).await,
        );
        assert_eq!(
            (e.code, first_field(&e).as_deref()),
            (422, Some("previous")),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn the_first_deployment_has_no_previous_log() {
    let sim = sim();
    create(&sim, &dc(), "default", printing_dc("v1", "busybox:1")).await;
    post_subresource(
        &sim,
        &dc(),
        "default",
        "logs",
        "instantiate",
        json!({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentRequest",
            "name": "logs", "latest": true, "force": true}),
    )
    .await
    .expect("instantiate");
    sim.settle();
    let client = sim.client();
    let e = common::api_err(get_text(&client, &dc_log_path("logs", "?previous=true")).await);
    assert_eq!(e.code, 400, "{e:?}");
    assert!(
        e.message
            .contains("no previous deployment exists for deploymentConfig \"logs\""),
        "{e:?}"
    );
    let log = get_text(&client, &dc_log_path("logs", ""))
        .await
        .expect("log");
    assert_eq!(log, "hello from v1\n");
}
