//! The log of the deployer pod `<rc>-deploy` on the OpenShift flavor: what the deployer
//! did, line by line, as the real deployer prints it (Recreate, Rolling, lifecycle hooks,
//! failed rollouts), read through the pod's `log` subresource and
//! `deploymentconfigs/<name>/log`, with virtual-clock timestamps.

mod openshift_support;

use std::time::Duration;

use kube::api::{Api, LogParams};
use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

/// The lines of pod `name`'s log (timestamps first when `timestamps`).
async fn log_lines(sim: &Sim, name: &str, timestamps: bool) -> Vec<String> {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(sim.client(), "default");
    let params = LogParams {
        timestamps,
        ..LogParams::default()
    };
    let text = pods.logs(name, &params).await.expect("pod log");
    text.lines().map(str::to_string).collect()
}

/// The lines of `GET deploymentconfigs/<dc>/log` (the latest version).
async fn dc_log_lines(sim: &Sim, dc_name: &str) -> Vec<String> {
    let path =
        format!("/apis/apps.openshift.io/v1/namespaces/default/deploymentconfigs/{dc_name}/log");
    let text = sim
        .client()
        .request_text(http::Request::get(path).body(Vec::new()).expect("request"))
        .await
        .expect("deployment log");
    text.lines().map(str::to_string).collect()
}

/// Gives the container `helloworld` of DeploymentConfig `name` another image: a new
/// version through the ConfigChange trigger.
async fn new_image(sim: &Sim, name: &str, image: &str) {
    merge(
        sim,
        &dc(),
        "default",
        name,
        json!({"spec": {"template": {"spec": {"containers": [
        {"name": "helloworld", "image": image}]}}}}),
    )
    .await;
}

async fn phase(sim: &Sim, rc_name: &str) -> String {
    annotation(
        &get(sim, &rc(), "default", rc_name).await,
        "openshift.io/deployment.phase",
    )
    .to_string()
}

/// The virtual time of a `timestamps=true` log line.
fn time_of(line: &str) -> jiff::Timestamp {
    line.split_once(' ')
        .and_then(|(t, _)| t.parse().ok())
        .unwrap_or_else(|| panic!("no timestamp in {line:?}"))
}

/// A Recreate DeploymentConfig `web` of 3 replicas rolled out twice; the deployer logs of
/// both versions, with timestamps.
async fn recreate_run() -> (Vec<String>, Vec<String>) {
    let sim = sim();
    let body = dc_body(
        "web",
        3,
        json!({"type": "Recreate"}),
        json!([{"type": "ConfigChange"}]),
        "busybox:1",
    );
    create(&sim, &dc(), "default", body).await;
    sim.settle();
    new_image(&sim, "web", "busybox:2").await;
    sim.settle();
    assert_eq!(phase(&sim, "web-2").await, "Complete");
    assert_eq!(version_pods(&sim, "web-2").await, (3, 3));
    (
        log_lines(&sim, "web-1-deploy", true).await,
        log_lines(&sim, "web-2-deploy", true).await,
    )
}

fn without_times(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l.split_once(' ').map_or(l.as_str(), |(_, rest)| rest))
        .collect()
}

#[tokio::test]
async fn recreate_logs_the_scale_down_the_acceptance_check_and_the_scale_up() {
    let (first, second) = recreate_run().await;
    assert_eq!(
        without_times(&first),
        ["--> Scaling web-1 to 3", "--> Success"]
    );
    assert_eq!(
        without_times(&second),
        [
            "--> Scaling web-1 down to zero",
            "--> Scaling web-2 to 1 before performing acceptance check",
            "--> Scaling web-2 to 3",
            "--> Success",
        ]
    );
    // Each line carries the virtual instant its step was taken: the full scale-up waits
    // for the first pod to be available.
    let times: Vec<jiff::Timestamp> = second.iter().map(|l| time_of(l)).collect();
    assert!(times.windows(2).all(|t| t[0] <= t[1]), "{second:?}");
    assert!(
        times[1] < times[2],
        "no wait for the acceptance check: {second:?}"
    );
    // Same seed, same log, timestamps included.
    assert_eq!((first, second), recreate_run().await);
}

#[tokio::test]
async fn rolling_logs_the_updater_lines_under_its_first_one() {
    let sim = sim();
    let body = dc_body(
        "web",
        1,
        json!({"type": "Rolling"}),
        json!([{"type": "ConfigChange"}]),
        "busybox:1",
    );
    create(&sim, &dc(), "default", body).await;
    sim.settle();
    // The first version has nothing to roll from: it is scaled up as Recreate does.
    assert_eq!(
        log_lines(&sim, "web-1-deploy", false).await,
        ["--> Scaling web-1 to 1", "--> Success"]
    );
    new_image(&sim, "web", "busybox:2").await;
    let header = "--> Scaling up web-2 from 0 to 1, scaling down web-1 from 1 to 0 (keep 1 pods available, don't exceed 2 pods)";
    // While the rollout runs, the DeploymentConfig's log is the deployer's log so far.
    let mut during = Vec::new();
    for _ in 0..40 {
        sim.advance(Duration::from_millis(250));
        if get_opt(&sim, &rc(), "default", "web-2").await.is_some()
            && phase(&sim, "web-2").await == "Running"
        {
            during = dc_log_lines(&sim, "web").await;
            if !during.is_empty() {
                break;
            }
        }
    }
    assert_eq!(
        during.first().map(String::as_str),
        Some(header),
        "{during:?}"
    );
    assert!(!during.iter().any(|l| l == "--> Success"), "{during:?}");
    sim.settle();
    assert_eq!(phase(&sim, "web-2").await, "Complete");
    assert_eq!(
        log_lines(&sim, "web-2-deploy", false).await,
        [
            header,
            "    Scaling web-2 up to 1",
            "    Scaling web-1 down to 0",
            "--> Success",
        ]
    );
}

fn exec_hook(script: &str, policy: &str) -> Value {
    json!({"failurePolicy": policy, "execNewPod": {"containerName": "helloworld",
        "command": ["/bin/sh", "-c", script]}})
}

#[tokio::test]
async fn a_pre_hook_writes_its_pod_and_its_output_into_the_deployer_log() {
    let sim = sim();
    let strategy = json!({"type": "Recreate", "recreateParams": {
        "pre": exec_hook("echo migrating for $OPENSHIFT_DEPLOYMENT_NAME", "Abort"),
        "post": {"failurePolicy": "Abort", "tagImages": [{"containerName": "helloworld",
            "to": {"kind": "ImageStreamTag", "name": "web:deployed", "namespace": "default"}}]}}});
    let body = dc_body(
        "web",
        1,
        strategy,
        json!([{"type": "ConfigChange"}]),
        "busybox:1",
    );
    create(&sim, &dc(), "default", body).await;
    sim.settle();
    assert_eq!(phase(&sim, "web-1").await, "Complete");
    assert_eq!(
        log_lines(&sim, "web-1-deploy", false).await,
        [
            "--> pre: Running hook pod ...",
            "migrating for web-1",
            "--> pre: Success",
            "--> Scaling web-1 to 1",
            "--> post: Tagged \"busybox:1\" into default/web:deployed",
            "--> Success",
        ]
    );

    // A pre hook that fails with Abort fails the version: its output, then why.
    let mut d = get(&sim, &dc(), "default", "web").await;
    d["spec"]["strategy"]["recreateParams"]["pre"] =
        exec_hook("echo cannot migrate; exit 1", "Abort");
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:2");
    replace(&sim, &dc(), "default", "web", d).await;
    sim.settle();
    assert_eq!(phase(&sim, "web-2").await, "Failed");
    let expected = [
        "--> pre: Running hook pod ...",
        "cannot migrate",
        "--> pre: Failed",
        "error: pre hook failed: the pre hook failed: , aborting rollout of default/web-2",
    ];
    assert_eq!(log_lines(&sim, "web-2-deploy", false).await, expected);
    assert_eq!(dc_log_lines(&sim, "web").await, expected);
}

#[tokio::test]
async fn a_rollout_past_its_timeout_says_why_it_failed() {
    let sim = sim();
    sim.inject(odo_sim::Fault::ImagePullFailure {
        image: "busybox:2".into(),
        active: true,
    })
    .expect("fault");
    // A first version that never becomes available: the acceptance check fails.
    let first = dc_body(
        "one",
        1,
        json!({"type": "Recreate", "recreateParams": {"timeoutSeconds": 30}}),
        json!([{"type": "ConfigChange"}]),
        "busybox:2",
    );
    // A rolling update whose new pods never become available: no progress.
    let rolling = dc_body(
        "svc",
        2,
        json!({"type": "Rolling", "rollingParams": {"timeoutSeconds": 30}}),
        json!([{"type": "ConfigChange"}]),
        "busybox:1",
    );
    create(&sim, &dc(), "default", first).await;
    create(&sim, &dc(), "default", rolling).await;
    sim.settle_for(Duration::from_secs(60));
    new_image(&sim, "svc", "busybox:2").await;
    sim.settle_for(Duration::from_secs(120));
    assert_eq!(phase(&sim, "one-1").await, "Failed");
    assert_eq!(
        dc_log_lines(&sim, "one").await,
        [
            "--> Scaling one-1 to 1",
            "error: update acceptor rejected one-1: pods for rc 'default/one-1' took longer than 30 seconds to become available",
        ]
    );
    assert_eq!(phase(&sim, "svc-2").await, "Failed");
    let expected = [
        "--> Scaling up svc-2 from 0 to 2, scaling down svc-1 from 2 to 0 (keep 2 pods available, don't exceed 3 pods)",
        "    Scaling svc-2 up to 1",
        "error: timed out waiting for any update progress to be made",
    ];
    assert_eq!(dc_log_lines(&sim, "svc").await, expected);
    assert_eq!(log_lines(&sim, "svc-2-deploy", false).await, expected);
    // The failed deployer pod exited 1 after its last line.
    let deployer = get(&sim, &pod(), "default", "svc-2-deploy").await;
    assert_eq!(
        deployer["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        1
    );
}
