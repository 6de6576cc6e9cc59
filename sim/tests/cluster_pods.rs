//! Pods on the simulated kubelet: init containers, restart policies, back-off, phases.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use odo_sim::Sim;
use serde_json::{Value, json};

fn sim() -> Sim {
    Sim::builder().seed(7).nodes(2).build().expect("sim")
}

async fn create(sim: &Sim, pod: Value) -> Api<Pod> {
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let p: Pod = serde_json::from_value(pod).expect("pod json");
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create pod");
    pods
}

fn pod(name: &str, policy: &str, init: Vec<Value>, app: Vec<Value>) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": policy, "initContainers": init, "containers": app},
    })
}

fn c(name: &str, script: &str) -> Value {
    json!({"name": name, "image": "busybox:latest", "command": ["sh", "-c", script]})
}

fn server(name: &str) -> Value {
    json!({"name": name, "image": "openshift/hello-openshift:latest"})
}

async fn get(pods: &Api<Pod>, name: &str) -> Value {
    serde_json::to_value(pods.get(name).await.expect("get pod")).expect("to json")
}

fn phase(p: &Value) -> &str {
    p.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn cond(p: &Value, ty: &str) -> String {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string()
}

fn cstatus<'a>(p: &'a Value, list: &str, name: &str) -> &'a Value {
    p.pointer(&format!("/status/{list}"))
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn init_containers_run_in_order_then_app_becomes_ready() {
    let sim = sim();
    let pods = create(
        &sim,
        pod(
            "web",
            "Always",
            vec![c("one", "sleep 2"), c("two", "sleep 3")],
            vec![server("app")],
        ),
    )
    .await;
    sim.advance(Duration::from_millis(1500));
    let p = get(&pods, "web").await;
    assert_eq!(phase(&p), "Pending");
    assert!(
        cstatus(&p, "initContainerStatuses", "one")["state"]["running"].is_object(),
        "{p:#}"
    );
    assert!(cstatus(&p, "initContainerStatuses", "two")["state"]["waiting"].is_object());
    assert_eq!(cond(&p, "Initialized"), "False");
    let s = sim.settle();
    assert!(s.idle, "a running server leaves nothing pending");
    let p = get(&pods, "web").await;
    assert_eq!(phase(&p), "Running");
    assert_eq!(cond(&p, "Initialized"), "True");
    assert_eq!(cond(&p, "Ready"), "True");
    assert_eq!(cond(&p, "PodScheduled"), "True");
    assert_eq!(
        cstatus(&p, "initContainerStatuses", "one")["state"]["terminated"]["reason"],
        "Completed"
    );
    assert_eq!(cstatus(&p, "containerStatuses", "app")["ready"], true);
    assert!(
        p["status"]["podIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.244."))
    );
    // The trace shows the order: one exits before two starts, two before app starts.
    let trace = sim.trace_text();
    let pos = |s: &str| {
        trace
            .find(s)
            .unwrap_or_else(|| panic!("{s} missing in\n{trace}"))
    };
    assert!(pos("container-exit default/web/one") < pos("Started container two"));
    assert!(pos("container-exit default/web/two") < pos("Started container app"));
}

/// Init container failure: Never -> pod Failed, app never starts; Always/OnFailure -> the init
/// container restarts with back-off and the app waits.
#[tokio::test]
async fn init_failure_per_restart_policy() {
    for policy in ["Never", "OnFailure", "Always"] {
        let sim = sim();
        let name = format!("p-{}", policy.to_lowercase());
        let pods = create(
            &sim,
            pod(
                &name,
                policy,
                vec![c("init", "exit 3")],
                vec![server("app")],
            ),
        )
        .await;
        sim.advance(Duration::from_secs(5));
        let p = get(&pods, &name).await;
        let init = cstatus(&p, "initContainerStatuses", "init");
        let app = cstatus(&p, "containerStatuses", "app");
        assert!(
            app["state"]["waiting"].is_object(),
            "{policy}: app must not start: {p:#}"
        );
        assert!(
            !sim.trace_text().contains("Started container app"),
            "{policy}"
        );
        match policy {
            "Never" => {
                assert_eq!(phase(&p), "Failed", "{p:#}");
                assert_eq!(init["state"]["terminated"]["exitCode"], 3);
                assert_eq!(init["restartCount"], 0);
            }
            _ => {
                assert_eq!(phase(&p), "Pending", "{policy}: {p:#}");
                // First restart immediate, then CrashLoopBackOff 10 s.
                assert_eq!(init["restartCount"], 1, "{policy}: {p:#}");
                assert_eq!(
                    init["state"]["waiting"]["reason"], "CrashLoopBackOff",
                    "{policy}"
                );
                assert_eq!(init["lastState"]["terminated"]["exitCode"], 3);
            }
        }
    }
}

/// App container exit per restart policy, with and without failure.
#[tokio::test]
async fn app_exit_per_restart_policy() {
    let cases = [
        ("Never", 0, "Succeeded", 0),
        ("Never", 2, "Failed", 0),
        ("OnFailure", 0, "Succeeded", 0),
        ("OnFailure", 2, "Running", 1),
        ("Always", 0, "Running", 1),
        ("Always", 2, "Running", 1),
    ];
    for (policy, code, want_phase, restarts) in cases {
        for with_init in [false, true] {
            let sim = sim();
            let init = if with_init {
                vec![c("init", "true")]
            } else {
                vec![]
            };
            let pods = create(
                &sim,
                pod(
                    "p",
                    policy,
                    init,
                    vec![c("app", &format!("sleep 1; exit {code}"))],
                ),
            )
            .await;
            sim.advance(Duration::from_secs(4));
            let p = get(&pods, "p").await;
            assert_eq!(
                phase(&p),
                want_phase,
                "{policy} exit {code} init {with_init}: {p:#}"
            );
            assert_eq!(
                cstatus(&p, "containerStatuses", "app")["restartCount"],
                restarts,
                "{policy} {code}"
            );
        }
    }
}

/// Restarts follow the kubelet back-off: immediate, then 10, 20, 40, ... s; a container that
/// ran 10 minutes starts over.
#[tokio::test]
async fn crash_loop_backoff_timings_on_the_virtual_clock() {
    let sim = sim();
    // A tagged image is pulled once (IfNotPresent), so restarts are not delayed by pulls.
    let mut app = c("app", "exit 1");
    app["image"] = json!("busybox:1.36");
    let pods = create(&sim, pod("crash", "Always", vec![], vec![app])).await;
    sim.advance(Duration::from_secs(900));
    let starts: Vec<u64> = sim
        .trace()
        .iter()
        .filter(|e| e.what.ends_with("Started container app"))
        .map(|e| e.at_ms)
        .collect();
    let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    // The pull takes 1 s; the first restart is immediate, then 10 s, 20 s, ... up to 300 s.
    assert_eq!(starts.first(), Some(&1000));
    assert_eq!(
        gaps,
        [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000],
        "starts at {starts:?}"
    );
    let p = get(&pods, "crash").await;
    assert_eq!(cstatus(&p, "containerStatuses", "app")["restartCount"], 7);
    let p = get(&pods, "crash").await;
    let st = cstatus(&p, "containerStatuses", "app");
    assert_eq!(st["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert!(
        st["state"]["waiting"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("back-off 5m0s restarting failed container=app pod=crash_default(")
    );
    assert!(
        sim.trace_text()
            .contains("event BackOff Pod default/crash: Back-off restarting failed container app")
    );
}

#[tokio::test]
async fn backoff_resets_after_ten_minutes_of_running() {
    let sim = sim();
    let pods = create(
        &sim,
        pod(
            "slow",
            "Always",
            vec![],
            vec![c("app", "sleep 700; exit 1")],
        ),
    )
    .await;
    let restarts_at = |p: &Value| {
        cstatus(p, "containerStatuses", "app")["restartCount"]
            .as_u64()
            .unwrap_or(0)
    };
    sim.advance(Duration::from_secs(702));
    let p = get(&pods, "slow").await;
    assert_eq!(restarts_at(&p), 1, "first crash: immediate restart");
    sim.advance(Duration::from_secs(701));
    let p = get(&pods, "slow").await;
    // Ran > 10 minutes since the last restart: the back-off expired, restart is immediate.
    assert_eq!(restarts_at(&p), 2, "{p:#}");
    assert!(cstatus(&p, "containerStatuses", "app")["state"]["running"].is_object());
}

#[tokio::test]
async fn unschedulable_pod_gets_condition_and_event() {
    let sim = sim();
    let mut p = pod("nowhere", "Always", vec![], vec![server("app")]);
    p["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    let pods = create(&sim, p).await;
    sim.settle();
    let p = get(&pods, "nowhere").await;
    assert_eq!(phase(&p), "Pending");
    assert_eq!(cond(&p, "PodScheduled"), "False");
    let msg = p
        .pointer("/status/conditions/0/message")
        .and_then(Value::as_str)
        .unwrap_or("");
    assert_eq!(
        msg,
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    );
    assert!(
        sim.trace_text()
            .contains("event FailedScheduling Pod default/nowhere")
    );
}

#[tokio::test]
async fn image_pull_failure_backs_off_and_recovers() {
    let sim = sim();
    sim.inject(odo_sim::Fault::ImagePullFailure {
        image: "busybox:latest".into(),
        active: true,
    })
    .expect("inject");
    let pods = create(
        &sim,
        pod("img", "Always", vec![], vec![c("app", "sleep infinity")]),
    )
    .await;
    sim.advance(Duration::from_millis(10));
    let p = get(&pods, "img").await;
    assert_eq!(
        cstatus(&p, "containerStatuses", "app")["state"]["waiting"]["reason"],
        "ErrImagePull"
    );
    sim.advance(Duration::from_secs(2));
    let p = get(&pods, "img").await;
    assert_eq!(
        cstatus(&p, "containerStatuses", "app")["state"]["waiting"]["reason"],
        "ImagePullBackOff"
    );
    sim.inject(odo_sim::Fault::ImagePullFailure {
        image: "busybox:latest".into(),
        active: false,
    })
    .expect("heal");
    sim.advance(Duration::from_secs(30));
    let p = get(&pods, "img").await;
    assert_eq!(phase(&p), "Running", "{p:#}");
}

#[tokio::test]
async fn graceful_deletion_waits_for_the_grace_period() {
    let sim = sim();
    let pods = create(
        &sim,
        pod("g", "Always", vec![], vec![c("app", "sleep infinity")]),
    )
    .await;
    sim.settle();
    pods.delete("g", &Default::default()).await.expect("delete");
    sim.advance(Duration::from_secs(10));
    let p = get(&pods, "g").await;
    assert!(
        p.pointer("/metadata/deletionTimestamp").is_some(),
        "still terminating: {p:#}"
    );
    // `sh` as PID 1 ignores SIGTERM: killed at the end of the 30 s grace period.
    sim.advance(Duration::from_secs(21));
    assert!(
        pods.get_opt("g").await.expect("get").is_none(),
        "gone after grace period"
    );
    // A server exits on SIGTERM: gone at once.
    let pods = create(&sim, pod("s", "Always", vec![], vec![server("app")])).await;
    sim.settle();
    pods.delete("s", &Default::default()).await.expect("delete");
    sim.advance(Duration::from_millis(1));
    assert!(pods.get_opt("s").await.expect("get").is_none());
}

/// A simulator restored from its state directory finds pods whose containers already ran: the
/// node rebooted under them. As after a real reboot, every container starts again as a new
/// instance (restartCount + 1, a new containerID), init containers first.
#[tokio::test]
async fn a_restored_simulator_restarts_containers_as_a_rebooted_node_does() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = pod(
        "web",
        "Always",
        vec![c("prep", "true")],
        vec![server("app")],
    );
    let before = {
        let sim = Sim::builder()
            .seed(7)
            .state_dir(dir.path())
            .build()
            .expect("sim");
        let pods = create(&sim, spec).await;
        sim.settle();
        get(&pods, "web").await
    };
    assert_eq!(phase(&before), "Running");
    let sim = Sim::builder()
        .seed(7)
        .state_dir(dir.path())
        .build()
        .expect("restored sim");
    sim.settle();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let after = get(&pods, "web").await;
    assert_eq!(phase(&after), "Running");
    assert_eq!(
        after["metadata"]["uid"], before["metadata"]["uid"],
        "same pod"
    );
    for (list, name) in [
        ("initContainerStatuses", "prep"),
        ("containerStatuses", "app"),
    ] {
        let (b, a) = (cstatus(&before, list, name), cstatus(&after, list, name));
        assert_eq!(b["restartCount"], 0, "{name} before");
        assert_eq!(a["restartCount"], 1, "{name} after");
        assert_ne!(
            a["containerID"], b["containerID"],
            "{name} is a new instance"
        );
    }
    assert!(
        cstatus(&after, "containerStatuses", "app")["state"]["running"].is_object(),
        "{after}"
    );
}

/// What an init container does in [`every_restart_policy_with_every_init_and_app_outcome`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Init {
    /// No init container.
    None,
    /// Exits 0.
    Succeeds,
    /// Exits 3, every time.
    Fails,
    /// Exits 3 the first time and 0 after (a marker in an emptyDir survives the restart).
    FailsOnce,
}

/// Every restartPolicy with every init outcome and an app that exits 0 or 1, against the
/// kubelet's rules: a failed init container fails the pod under Never and is restarted under
/// OnFailure and Always, the app starts only after the init container exited 0 and never
/// otherwise, the app is restarted per the policy (Always: any exit; OnFailure: non-zero),
/// the pod ends Succeeded or Failed only where nothing will restart, and an app restart does
/// not run the init container again.
#[tokio::test]
async fn every_restart_policy_with_every_init_and_app_outcome() {
    let mut wrong = Vec::new();
    for policy in ["Always", "OnFailure", "Never"] {
        for init in [Init::None, Init::Succeeds, Init::Fails, Init::FailsOnce] {
            for app_code in [0, 1] {
                let case = format!("{policy} init {init:?} app exit {app_code}");
                let mut check = |ok: bool, what: String| {
                    if !ok {
                        wrong.push(format!("{case}: {what}"));
                    }
                };
                let sim = sim();
                let script = match init {
                    Init::None => None,
                    Init::Succeeds => Some("true"),
                    Init::Fails => Some("exit 3"),
                    Init::FailsOnce => {
                        Some("if [ -f /work/tried ]; then exit 0; fi; touch /work/tried; exit 3")
                    }
                };
                let inits: Vec<Value> = script
                    .map(|s| {
                        let mut i = c("init", s);
                        i["image"] = json!("busybox:1.36");
                        i["volumeMounts"] = json!([{"name": "work", "mountPath": "/work"}]);
                        i
                    })
                    .into_iter()
                    .collect();
                let mut app = c("app", &format!("sleep 1; exit {app_code}"));
                app["image"] = json!("busybox:1.36");
                let mut spec = pod("p", policy, inits, vec![app]);
                spec["spec"]["volumes"] = json!([{"name": "work", "emptyDir": {}}]);
                let pods = create(&sim, spec).await;
                // Long enough for a restarted init container and two app restarts (back-off
                // immediate, then 10 s).
                sim.advance(Duration::from_secs(60));
                let p = get(&pods, "p").await;
                let trace = sim.trace_text();
                let init_st = cstatus(&p, "initContainerStatuses", "init");
                let app_st = cstatus(&p, "containerStatuses", "app");
                let app_restarts = app_st["restartCount"].as_u64().unwrap_or(0);
                let init_ok_at = trace.find("container-exit default/p/init code 0");
                let app_started_at = trace.find("Started container app");

                let init_blocks = matches!(
                    (init, policy),
                    (Init::Fails, _) | (Init::FailsOnce, "Never")
                );
                if init_blocks {
                    check(app_started_at.is_none(), "the app started".into());
                    check(
                        app_st["state"]["waiting"]["reason"] == "PodInitializing",
                        format!("app state {}", app_st["state"]),
                    );
                    check(cond(&p, "Initialized") == "False", "Initialized".into());
                    if policy == "Never" {
                        check(phase(&p) == "Failed", format!("phase {}", phase(&p)));
                        check(
                            init_st["state"]["terminated"]["exitCode"] == 3
                                && init_st["restartCount"] == 0,
                            format!("init {init_st}"),
                        );
                    } else {
                        check(phase(&p) == "Pending", format!("phase {}", phase(&p)));
                        check(
                            init_st["restartCount"].as_u64().unwrap_or(0) >= 2
                                && init_st["lastState"]["terminated"]["exitCode"] == 3,
                            format!("init restarted with back-off: {init_st}"),
                        );
                    }
                    continue;
                }

                // The init container (if any) succeeded, after one restart when it failed once.
                if init != Init::None {
                    check(
                        init_st["state"]["terminated"]["reason"] == "Completed",
                        format!("init state {}", init_st["state"]),
                    );
                    let want = u64::from(init == Init::FailsOnce);
                    check(
                        init_st["restartCount"].as_u64() == Some(want),
                        format!(
                            "init restartCount {} (want {want})",
                            init_st["restartCount"]
                        ),
                    );
                    check(
                        init_ok_at.is_some_and(|i| app_started_at.is_some_and(|a| i < a)),
                        "the app started before the init container exited 0".into(),
                    );
                    check(
                        trace.matches("Started container init").count() == 1 + want as usize,
                        "the init container ran again when the app restarted".into(),
                    );
                }
                check(cond(&p, "Initialized") == "True", "Initialized".into());
                check(app_started_at.is_some(), "the app never started".into());
                let restarts = policy == "Always" || (policy == "OnFailure" && app_code != 0);
                if restarts {
                    check(phase(&p) == "Running", format!("phase {}", phase(&p)));
                    check(
                        app_restarts >= 2
                            && app_st["lastState"]["terminated"]["exitCode"] == app_code,
                        format!("app restarted: {app_st}"),
                    );
                } else {
                    let want = if app_code == 0 { "Succeeded" } else { "Failed" };
                    check(
                        phase(&p) == want,
                        format!("phase {} (want {want})", phase(&p)),
                    );
                    let reason = if app_code == 0 { "Completed" } else { "Error" };
                    check(
                        app_restarts == 0
                            && app_st["state"]["terminated"]["exitCode"] == app_code
                            && app_st["state"]["terminated"]["reason"] == reason,
                        format!("app not restarted: {app_st}"),
                    );
                    check(cond(&p, "Ready") == "False", "Ready".into());
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
