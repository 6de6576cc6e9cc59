//! Faults and time modes: API errors and latency seen by a real client, kills and OOM,
//! recorded Events, and the auto time mode driving a client that just waits.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use odo_sim::{Fault, Sim, TimeMode};
use serde_json::{Value, json};

fn pod(name: &str, command: Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36", "command": command}]}}))
    .expect("pod")
}

#[tokio::test]
async fn api_errors_hit_clients_until_cleared() {
    let sim = Sim::builder().seed(3).build().expect("sim");
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    sim.inject(Fault::ApiErrors {
        verb: Some("list".into()),
        resource: Some("pods".into()),
        code: 503,
        rate: 1.0,
    })
    .expect("inject");
    let err = pods
        .list(&ListParams::default())
        .await
        .expect_err("list fails");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 503),
        "{err:?}"
    );
    // Other verbs are untouched.
    pods.create(
        &PostParams::default(),
        &pod("a", json!(["sleep", "infinity"])),
    )
    .await
    .expect("create works");
    sim.inject(Fault::ClearApiFaults).expect("clear");
    assert_eq!(
        pods.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );
    assert!(
        sim.inject(Fault::ApiErrors {
            verb: None,
            resource: None,
            code: 500,
            rate: 1.5
        })
        .is_err()
    );
    assert!(sim.trace_text().contains(
        r#"fault {"type":"ApiErrors","verb":"list","resource":"pods","code":503,"rate":1.0}"#
    ));
}

#[tokio::test]
async fn api_latency_delays_requests() {
    let sim = Sim::builder().seed(3).build().expect("sim");
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    sim.inject(Fault::ApiLatency {
        verb: Some("get".into()),
        resource: None,
        latency: Duration::from_millis(50),
    })
    .expect("inject");
    let t = std::time::Instant::now();
    let _ = pods.get_opt("missing").await.expect("get");
    assert!(t.elapsed() >= Duration::from_millis(50));
}

#[tokio::test]
async fn oom_kill_restarts_with_reason_and_events_are_recorded() {
    let sim = Sim::builder().seed(3).build().expect("sim");
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    pods.create(
        &PostParams::default(),
        &pod("m", json!(["sleep", "infinity"])),
    )
    .await
    .expect("create");
    sim.settle();
    sim.inject(Fault::KillContainer {
        namespace: "default".into(),
        pod: "m".into(),
        container: Some("app".into()),
        oom: true,
    })
    .expect("kill");
    sim.settle();
    let p = serde_json::to_value(pods.get("m").await.expect("get")).expect("json");
    let cs = &p["status"]["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 1);
    assert_eq!(cs["lastState"]["terminated"]["reason"], "OOMKilled");
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 137);
    assert!(cs["state"]["running"].is_object());
    let err = sim
        .inject(Fault::KillContainer {
            namespace: "default".into(),
            pod: "nope".into(),
            container: None,
            oom: false,
        })
        .expect_err("no such pod");
    assert!(
        err.to_string()
            .contains("pod default/nope has no running container"),
        "{err}"
    );
    let events: Api<Event> = Api::namespaced(sim.client(), "default");
    let reasons: Vec<String> = events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some("m"))
        .filter_map(|e| e.reason)
        .collect();
    for r in ["Scheduled", "Pulling", "Pulled", "Created", "Started"] {
        assert!(
            reasons.iter().any(|x| x == r),
            "{r} missing from {reasons:?}"
        );
    }
}

#[tokio::test]
async fn watch_drop_closes_watches() {
    let sim = Sim::builder().seed(3).build().expect("sim");
    let w = sim
        .store()
        .watch(
            sim.store().type_id_of::<Pod>().expect("pods"),
            None,
            &Default::default(),
        )
        .expect("watch");
    assert_eq!(sim.store().watch_count(), 1);
    sim.inject(Fault::WatchDrop).expect("drop");
    assert_eq!(sim.store().watch_count(), 0);
    drop(w);
}

/// In auto mode a client that only waits sees the pod become Running: the driver runs work
/// as it arrives and jumps virtual time over the one-second image pull.
#[tokio::test]
async fn auto_mode_drives_time_for_waiting_clients() {
    let sim = Sim::builder()
        .seed(3)
        .time_mode(TimeMode::Auto {
            horizon: Duration::from_secs(3600),
        })
        .build()
        .expect("sim");
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let mut p = pod("auto", json!(["sh", "-c", "sleep 120; exit 0"]));
    if let Some(spec) = p.spec.as_mut() {
        spec.restart_policy = Some("Never".into());
    }
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create");
    let running = tokio::time::timeout(
        Duration::from_secs(20),
        await_condition(pods.clone(), "auto", conditions::is_pod_running()),
    )
    .await;
    assert!(matches!(running, Ok(Ok(Some(_)))), "{running:?}");
    let done = tokio::time::timeout(
        Duration::from_secs(20),
        await_condition(pods.clone(), "auto", |p: Option<&Pod>| {
            p.and_then(|p| p.status.as_ref()?.phase.as_deref()) == Some("Succeeded")
        }),
    )
    .await;
    assert!(matches!(done, Ok(Ok(Some(_)))), "{done:?}");
    assert!(
        sim.now()
            .duration_since(jiff::Timestamp::from_second(odo_sim::clock::EPOCH_SECONDS).expect("t"))
            .as_secs()
            >= 121
    );
}

/// A runtime plugged in through the kubelet's trait: scripted behaviour, with a readiness
/// probe whose answer the test controls.
struct ProbeRuntime {
    inner: odo_sim::kubelet::ScriptedRuntime,
    healthy: std::sync::atomic::AtomicBool,
}

impl odo_sim::kubelet::ContainerRuntime for ProbeRuntime {
    fn pull(&self, image: &str, node: &str) -> Result<Duration, odo_sim::kubelet::PullError> {
        self.inner.pull(image, node)
    }
    fn start(
        &self,
        req: odo_sim::kubelet::StartRequest<'_>,
        exits: odo_sim::kubelet::ExitSender,
    ) -> Result<odo_sim::kubelet::Outcome, odo_sim::kubelet::StartError> {
        self.inner.start(req, exits)
    }
    fn stop(
        &self,
        id: &odo_sim::kubelet::ContainerId,
        container: &Value,
        grace: Duration,
    ) -> Duration {
        self.inner.stop(id, container, grace)
    }
    fn probe(&self, _id: &odo_sim::kubelet::ContainerId, _probe: &Value) -> bool {
        self.healthy.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn readiness_probe_gates_ready_through_the_runtime() {
    let rt = std::sync::Arc::new(ProbeRuntime {
        inner: odo_sim::kubelet::ScriptedRuntime::new(),
        healthy: std::sync::atomic::AtomicBool::new(false),
    });
    let sim = Sim::builder()
        .seed(3)
        .runtime(rt.clone())
        .build()
        .expect("sim");
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": "probed"},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36", "command": ["sleep", "infinity"],
            "readinessProbe": {"initialDelaySeconds": 5, "periodSeconds": 3, "exec": {"command": ["true"]}}}]}}))
    .expect("pod");
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create");
    let ready = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    sim.advance(Duration::from_secs(20));
    assert!(
        !ready(&pods.get("probed").await.expect("get")),
        "failing probe: not ready"
    );
    rt.healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    sim.advance(Duration::from_secs(3));
    assert!(
        ready(&pods.get("probed").await.expect("get")),
        "probe passes at the next period"
    );
}
