//! Startup, liveness and readiness probes (exec, httpGet, tcpSocket) on the simulated kubelet
//! with the real container runtime: failure thresholds, kills and restarts with back-off.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, PostParams};
use odo_sim::Sim;
use odo_sim::runtime::Catalogue;
use serde_json::{Value, json};

fn sim() -> Sim {
    Sim::builder()
        .seed(21)
        .real_runtime(Catalogue::builtin().expect("catalogue"))
        .build()
        .expect("sim")
}

async fn create(sim: &Sim, name: &str, container: Value) -> Api<Pod> {
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let p: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": 2, "containers": [container]}
    }))
    .expect("pod json");
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create");
    pods
}

async fn status(pods: &Api<Pod>, name: &str) -> Value {
    let p = serde_json::to_value(pods.get(name).await.expect("get")).expect("json");
    p["status"]["containerStatuses"][0].clone()
}

async fn events(sim: &Sim, reason: &str) -> Vec<String> {
    let api: Api<Event> = Api::namespaced(sim.client(), "default");
    api.list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| e.message.unwrap_or_default())
        .collect()
}

/// The Kubernetes documentation's liveness example: healthy for 20 s, then the probe fails.
#[tokio::test]
async fn exec_liveness_probe_restarts_the_container_after_the_threshold() {
    let sim = sim();
    let pods = create(
        &sim,
        "liveness-exec",
        json!({"name": "liveness", "image": "busybox", "imagePullPolicy": "IfNotPresent",
               "args": ["/bin/sh", "-c", "touch /tmp/healthy; sleep 20; rm -f /tmp/healthy; sleep 600"],
               "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]},
                                 "initialDelaySeconds": 5, "periodSeconds": 5}}),
    )
    .await;
    sim.advance(Duration::from_secs(25));
    let st = status(&pods, "liveness-exec").await;
    assert_eq!(st["restartCount"], 0, "{st}");
    assert!(events(&sim, "Unhealthy").await.is_empty());
    // rm at 21 s; probes fail at 26, 31, 36; then SIGTERM, ignored by sh, SIGKILL at 38
    sim.advance(Duration::from_secs(15));
    let st = status(&pods, "liveness-exec").await;
    assert_eq!(st["restartCount"], 1, "{st}\n{}", sim.trace_text());
    assert_eq!(st["lastState"]["terminated"]["exitCode"], 137);
    assert_eq!(st["ready"], true, "the new instance is live again");
    let unhealthy = events(&sim, "Unhealthy").await;
    assert!(
        unhealthy[0].starts_with("Liveness probe failed"),
        "{unhealthy:?}"
    );
    assert_eq!(
        events(&sim, "Killing").await,
        ["Container liveness failed liveness probe, will be restarted"]
    );
}

#[tokio::test]
async fn tcp_liveness_probe_on_a_closed_port_kills_and_backs_off() {
    let sim = sim();
    let pods = create(
        &sim,
        "closed",
        json!({"name": "c", "image": "openshift/hello-openshift:latest",
               "livenessProbe": {"tcpSocket": {"port": 9999}, "periodSeconds": 3, "failureThreshold": 2}}),
    )
    .await;
    sim.advance(Duration::from_secs(60));
    let st = status(&pods, "closed").await;
    assert!(st["restartCount"].as_u64().expect("count") >= 2, "{st}");
    let unhealthy = events(&sim, "Unhealthy").await;
    assert!(
        unhealthy[0].contains("dial tcp")
            && unhealthy[0].contains(":9999: connect: connection refused"),
        "{unhealthy:?}"
    );
    // the same probe on a served port never fails
    let pods = create(
        &sim,
        "open",
        json!({"name": "c", "image": "openshift/hello-openshift:latest",
               "livenessProbe": {"httpGet": {"port": 8080, "path": "/"}, "periodSeconds": 3, "failureThreshold": 1},
               "readinessProbe": {"httpGet": {"port": 8888}}}),
    )
    .await;
    sim.advance(Duration::from_secs(30));
    let st = status(&pods, "open").await;
    assert_eq!(
        (st["restartCount"].clone(), st["ready"].clone()),
        (json!(0), json!(true)),
        "{st}"
    );
}

#[tokio::test]
async fn startup_probe_holds_readiness_and_liveness_until_it_passes() {
    let sim = sim();
    let pods = create(
        &sim,
        "slow",
        json!({"name": "app", "image": "busybox", "imagePullPolicy": "IfNotPresent",
               "command": ["sh", "-c", "sleep 8; touch /tmp/up; sleep 600"],
               "startupProbe": {"exec": {"command": ["test", "-f", "/tmp/up"]}, "periodSeconds": 2, "failureThreshold": 10},
               "livenessProbe": {"exec": {"command": ["test", "-f", "/tmp/up"]}, "periodSeconds": 2, "failureThreshold": 1}}),
    )
    .await;
    sim.advance(Duration::from_secs(5));
    let st = status(&pods, "slow").await;
    assert_eq!(
        (
            st["started"].clone(),
            st["ready"].clone(),
            st["restartCount"].clone()
        ),
        (json!(false), json!(false), json!(0)),
        "{st}"
    );
    sim.advance(Duration::from_secs(10));
    let st = status(&pods, "slow").await;
    assert_eq!(
        (
            st["started"].clone(),
            st["ready"].clone(),
            st["restartCount"].clone()
        ),
        (json!(true), json!(true), json!(0)),
        "{st}"
    );
    // a startup probe that never passes kills the container after failureThreshold tries
    let pods = create(
        &sim,
        "never",
        json!({"name": "app", "image": "busybox", "imagePullPolicy": "IfNotPresent",
               "command": ["sleep", "600"],
               "startupProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 3}}),
    )
    .await;
    sim.advance(Duration::from_secs(8));
    let st = status(&pods, "never").await;
    assert!(st["restartCount"].as_u64().expect("count") >= 1, "{st}");
    assert!(
        events(&sim, "Killing")
            .await
            .contains(&"Container app failed startup probe, will be restarted".to_string())
    );
}
