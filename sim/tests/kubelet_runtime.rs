//! The simulated kubelet driving the real container runtime: processes in virtual time,
//! logs per container instance (with `previous`), exec into running containers, probes.

use std::time::Duration;

use bytes::Bytes;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use odo_sim::Sim;
use odo_sim::clock::TimeMode;
use odo_sim::kubelet::ContainerId;
use odo_sim::kubelet::streams::{ExecExit, SessionIo, StreamError, StreamKind};
use odo_sim::runtime::Catalogue;
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn sim() -> Sim {
    Sim::builder()
        .seed(11)
        .real_runtime(Catalogue::builtin().expect("catalogue"))
        .build()
        .expect("sim")
}

async fn create(sim: &Sim, pod: Value) -> Api<Pod> {
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let p: Pod = serde_json::from_value(pod).expect("pod json");
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create pod");
    pods
}

fn pod(name: &str, containers: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": containers}})
}

async fn get(pods: &Api<Pod>, name: &str) -> Value {
    serde_json::to_value(pods.get(name).await.expect("get pod")).expect("to json")
}

fn cstatus<'a>(p: &'a Value, name: &str) -> &'a Value {
    p.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}

fn id(p: &Value, container: &str, instance: u32) -> ContainerId {
    ContainerId {
        namespace: "default".into(),
        pod: p["metadata"]["name"].as_str().expect("name").into(),
        pod_uid: p["metadata"]["uid"].as_str().expect("uid").into(),
        container: container.into(),
        instance,
        init: false,
    }
}

fn log_text(sim: &Sim, id: &ContainerId) -> String {
    let s = sim.container_runtime().logs(id).expect("logs");
    s.history
        .iter()
        .map(|l| String::from_utf8_lossy(&l.bytes).into_owned())
        .collect()
}

/// Runs `argv` in a container and returns (stdout, stderr, exit).
async fn exec(
    sim: &Sim,
    id: &ContainerId,
    argv: &[&str],
    stdin: Option<Vec<u8>>,
) -> (String, String, ExecExit) {
    let (out_tx, mut out_rx) = mpsc::channel(16);
    let (err_tx, mut err_rx) = mpsc::channel(16);
    let stdin_rx = stdin.map(|data| {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            for chunk in data.chunks(1000) {
                let _ = tx.send(Bytes::copy_from_slice(chunk)).await;
            }
        });
        rx
    });
    let session = sim
        .container_runtime()
        .exec(
            id,
            argv.iter().map(|s| s.to_string()).collect(),
            SessionIo {
                stdin: stdin_rx,
                stdout: Some(out_tx),
                stderr: Some(err_tx),
                tty: false,
                resize: None,
            },
        )
        .expect("exec starts");
    let collect_out = tokio::spawn(async move {
        let mut v = Vec::new();
        while let Some(b) = out_rx.recv().await {
            v.extend_from_slice(&b);
        }
        String::from_utf8_lossy(&v).into_owned()
    });
    let collect_err = tokio::spawn(async move {
        let mut v = Vec::new();
        while let Some(b) = err_rx.recv().await {
            v.extend_from_slice(&b);
        }
        String::from_utf8_lossy(&v).into_owned()
    });
    let exit = session.await;
    (
        collect_out.await.expect("stdout"),
        collect_err.await.expect("stderr"),
        exit,
    )
}

#[tokio::test]
async fn sleeps_take_virtual_time_and_settle_finishes() {
    let sim = sim();
    let pods = create(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ab"},
               "spec": {"restartPolicy": "Never", "containers": [
                   {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo a; sleep 5; echo b"]}]}}),
    )
    .await;
    let settled = sim.settle();
    assert!(settled.idle, "{settled:?}");
    let p = get(&pods, "ab").await;
    assert_eq!(p["status"]["phase"], "Succeeded");
    let term = &cstatus(&p, "c")["state"]["terminated"];
    assert_eq!(term["exitCode"], 0);
    let logs = sim.container_runtime().logs(&id(&p, "c", 0)).expect("logs");
    let lines: Vec<_> = logs
        .history
        .iter()
        .map(|l| (l.bytes.clone(), l.stream))
        .collect();
    assert_eq!(
        lines,
        [
            (Bytes::from("a\n"), StreamKind::Stdout),
            (Bytes::from("b\n"), StreamKind::Stdout)
        ]
    );
    assert_eq!(
        logs.history[1].time.duration_since(logs.history[0].time),
        jiff::SignedDuration::from_secs(5)
    );
    assert!(logs.follow.is_none(), "the instance has terminated");
    // started and finished 5 virtual seconds apart
    let started: jiff::Timestamp = term["startedAt"]
        .as_str()
        .expect("startedAt")
        .parse()
        .expect("ts");
    let finished: jiff::Timestamp = term["finishedAt"]
        .as_str()
        .expect("finishedAt")
        .parse()
        .expect("ts");
    assert_eq!(
        finished.duration_since(started),
        jiff::SignedDuration::from_secs(5)
    );
}

#[tokio::test]
async fn manual_advance_wakes_sleepers_only_when_due() {
    let sim = sim();
    let pods = create(
        &sim,
        pod("tick", json!([{"name": "c", "image": "busybox",
            "command": ["sh", "-c", "i=0; while [ $i -lt 3 ]; do echo tick $i; i=$((i+1)); sleep 10; done; exit 4"]}])),
    )
    .await;
    sim.advance(Duration::from_secs(2));
    let p = get(&pods, "tick").await;
    let cid = id(&p, "c", 0);
    assert_eq!(log_text(&sim, &cid), "tick 0\n");
    sim.advance(Duration::from_secs(10));
    assert_eq!(
        log_text(&sim, &cid),
        "tick 0\ntick 1\n",
        "{}",
        sim.trace_text()
    );
    sim.advance(Duration::from_secs(30));
    assert_eq!(log_text(&sim, &cid), "tick 0\ntick 1\ntick 2\n");
    let p = get(&pods, "tick").await;
    let st = cstatus(&p, "c");
    // exited 4 at ~31 s; restartPolicy Always: restarted after a 10 s back-off
    assert_eq!(st["restartCount"], 1, "{st}");
    assert_eq!(st["lastState"]["terminated"]["exitCode"], 4);
}

#[tokio::test]
async fn auto_mode_does_not_jump_over_running_processes() {
    let sim = Sim::builder()
        .seed(3)
        .time_mode(TimeMode::Auto {
            horizon: Duration::from_secs(3600),
        })
        .real_runtime(Catalogue::builtin().expect("catalogue"))
        .build()
        .expect("sim");
    let pods = create(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ab"},
               "spec": {"restartPolicy": "Never", "containers": [
                   {"name": "c", "image": "busybox", "command": ["sh", "-c",
                    "echo a; sleep 5; i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo line $i; done; sleep 1; echo b"]}]}}),
    )
    .await;
    let start = sim.now();
    let mut p = get(&pods, "ab").await;
    for _ in 0..500 {
        if p["status"]["phase"] == "Succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        p = get(&pods, "ab").await;
    }
    assert_eq!(p["status"]["phase"], "Succeeded");
    let logs = sim.container_runtime().logs(&id(&p, "c", 0)).expect("logs");
    assert_eq!(logs.history.len(), 202);
    let t = |i: usize| logs.history[i].time.duration_since(start).as_secs();
    // the 200 lines are all written at the instant the first sleep ends
    assert_eq!(t(1), t(200));
    assert_eq!(t(1) - t(0), 5);
    assert_eq!(t(201) - t(200), 1);
}

#[tokio::test]
async fn previous_logs_after_a_crash_restart_and_follow_closes() {
    let sim = sim();
    let pods = create(
        &sim,
        pod(
            "crash",
            json!([{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", "echo run at $(date +%s); echo oops >&2; exit 3"]}]),
        ),
    )
    .await;
    sim.advance(Duration::from_secs(2));
    let p = get(&pods, "crash").await;
    assert_eq!(
        cstatus(&p, "c")["state"]["waiting"]["reason"],
        "CrashLoopBackOff"
    );
    sim.advance(Duration::from_secs(10));
    // the first restart is immediate, the second waits 10 s: three runs by now
    let p = get(&pods, "crash").await;
    assert_eq!(cstatus(&p, "c")["restartCount"], 2, "{}", sim.trace_text());
    let first = sim
        .container_runtime()
        .logs(&id(&p, "c", 0))
        .expect("first run");
    let second = sim
        .container_runtime()
        .logs(&id(&p, "c", 1))
        .expect("previous");
    assert_eq!(first.history.len(), 2);
    assert_eq!(first.history[1].stream, StreamKind::Stderr);
    assert_eq!(first.history[1].bytes, Bytes::from("oops\n"));
    assert_eq!(second.history.len(), 2);
    let third = sim
        .container_runtime()
        .logs(&id(&p, "c", 2))
        .expect("current");
    assert_eq!(first.history[0].bytes, Bytes::from("run at 1767225601\n"));
    assert_eq!(
        third.history[0].bytes,
        Bytes::from("run at 1767225611\n"),
        "each run has its own log"
    );
    match sim.container_runtime().logs(&id(&p, "c", 7)) {
        Err(StreamError::NotRunning(m) | StreamError::NotFound(m)) => {
            assert!(m.contains("\"c\""), "{m}")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn follow_receives_lines_until_the_instance_terminates() {
    let sim = sim();
    let pods = create(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "f"},
               "spec": {"restartPolicy": "Never", "containers": [
                   {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo one; sleep 3; echo two"]}]}}),
    )
    .await;
    sim.advance(Duration::from_secs(1));
    let p = get(&pods, "f").await;
    let mut s = sim.container_runtime().logs(&id(&p, "c", 0)).expect("logs");
    assert_eq!(s.history.len(), 1);
    let mut follow = s.follow.take().expect("running instance can be followed");
    sim.settle();
    assert_eq!(
        follow.recv().await.expect("two").bytes,
        Bytes::from("two\n")
    );
    assert!(
        follow.recv().await.is_none(),
        "closed when the instance ended"
    );
}

#[tokio::test]
async fn exec_runs_in_the_container_and_not_in_a_dead_one() {
    let sim = sim();
    let pods = create(
        &sim,
        pod(
            "srv",
            json!([{"name": "web", "image": "busybox", "command": ["sleep", "infinity"]}]),
        ),
    )
    .await;
    sim.advance(Duration::from_secs(3));
    let p = get(&pods, "srv").await;
    assert_eq!(p["status"]["phase"], "Running");
    let cid = id(&p, "web", 0);
    let (out, err, code) = exec(
        &sim,
        &cid,
        &["sh", "-c", "echo hi; echo bad >&2; exit 2"],
        None,
    )
    .await;
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        ("hi\n", "bad\n", ExecExit::Code(2))
    );
    let (_, _, code) = exec(&sim, &cid, &["nope"], None).await;
    assert_eq!(
        code,
        ExecExit::StartFailed("exec: \"nope\": executable file not found in $PATH".into())
    );
    // stdin reaches the process
    let (out, _, code) = exec(&sim, &cid, &["cat"], Some(b"piped\n".to_vec())).await;
    assert_eq!((out.as_str(), code), ("piped\n", ExecExit::Code(0)));
    // a container that is not running cannot be exec'd into
    let rt = sim.container_runtime().clone();
    let err = rt
        .exec(
            &id(&p, "web", 5),
            vec!["ls".into()],
            SessionIo {
                stdin: None,
                stdout: None,
                stderr: None,
                tty: false,
                resize: None,
            },
        )
        .err()
        .expect("not running");
    assert!(matches!(err, StreamError::NotRunning(_)), "{err:?}");
}

#[tokio::test]
async fn port_forward_reaches_a_listening_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = sim();
    let pods = create(
        &sim,
        pod(
            "srv",
            json!([{"name": "web", "image": "openshift/hello-openshift:latest"}]),
        ),
    )
    .await;
    sim.advance(Duration::from_secs(3));
    let p = get(&pods, "srv").await;
    let uid = p["metadata"]["uid"].as_str().expect("uid");
    let mut conn = sim
        .container_runtime()
        .connect(uid, 8080)
        .expect("8080 listens");
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut resp = String::new();
    conn.read_to_string(&mut resp).await.expect("read");
    assert!(resp.starts_with("HTTP/1.1 200 OK"), "{resp}");
    assert!(resp.ends_with("Hello OpenShift!\n"), "{resp}");
    assert!(matches!(
        sim.container_runtime().connect(uid, 9999),
        Err(StreamError::PortClosed(_))
    ));
}

/// An image outside the catalogue with no command: its unknown entrypoint is taken to be a
/// server, which listens on the container's declared TCP ports until stopped.
#[tokio::test]
async fn an_unknown_image_without_a_command_serves_its_ports() {
    let sim = sim();
    let pods = create(
        &sim,
        pod(
            "web",
            json!([{"name": "nginx", "image": "nginx:1.27",
                    "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}]),
        ),
    )
    .await;
    sim.advance(Duration::from_secs(3));
    let p = get(&pods, "web").await;
    assert_eq!(p["status"]["phase"], "Running", "{p}");
    assert_eq!(log_text(&sim, &id(&p, "nginx", 0)), "serving on 80\n");
    let uid = p["metadata"]["uid"].as_str().expect("uid");
    assert!(
        sim.container_runtime().connect(uid, 80).is_ok(),
        "80 listens"
    );
    assert!(matches!(
        sim.container_runtime().connect(uid, 53),
        Err(StreamError::PortClosed(_))
    ));
}

#[tokio::test]
async fn a_restart_keeps_the_empty_dir_and_resets_the_writable_layer() {
    let sim = sim();
    let pods = create(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "r"},
               "spec": {"volumes": [{"name": "data", "emptyDir": {}}],
                        "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", "ls /tmp/layer 2>/dev/null; touch /tmp/layer; echo run >> /data/runs; cat /data/runs; exit 1"],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}),
    )
    .await;
    sim.advance(Duration::from_secs(2));
    let p = get(&pods, "r").await;
    assert_eq!(log_text(&sim, &id(&p, "c", 0)), "run\n");
    assert_eq!(
        log_text(&sim, &id(&p, "c", 1)),
        "run\nrun\n",
        "the emptyDir survives, /tmp/layer does not"
    );
}

#[tokio::test]
async fn attach_streams_the_main_process_and_feeds_its_stdin() {
    let sim = sim();
    let pods = create(
        &sim,
        pod(
            "cat",
            json!([{"name": "c", "image": "busybox", "stdin": true, "command": ["cat"]}]),
        ),
    )
    .await;
    sim.advance(Duration::from_secs(2));
    let p = get(&pods, "cat").await;
    assert!(cstatus(&p, "c")["state"]["running"].is_object());
    let (in_tx, in_rx) = mpsc::channel(4);
    let (out_tx, mut out_rx) = mpsc::channel(4);
    let session = sim
        .container_runtime()
        .attach(
            &id(&p, "c", 0),
            SessionIo {
                stdin: Some(in_rx),
                stdout: Some(out_tx),
                stderr: None,
                tty: false,
                resize: None,
            },
        )
        .expect("attach");
    let session = tokio::spawn(session);
    in_tx.send(Bytes::from("hello\n")).await.expect("send");
    assert_eq!(out_rx.recv().await, Some(Bytes::from("hello\n")));
    // the attached input also lands in the container log
    assert_eq!(log_text(&sim, &id(&p, "c", 0)), "hello\n");
    drop(in_tx);
    session.abort();
}

#[tokio::test]
async fn real_time_mode_sleeps_follow_the_wall_clock() {
    let sim = Sim::builder()
        .seed(1)
        .time_mode(TimeMode::RealTime { scale: 50.0 })
        .real_runtime(Catalogue::builtin().expect("catalogue"))
        .build()
        .expect("sim");
    let pods = create(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ab"},
               "spec": {"restartPolicy": "Never", "containers": [
                   {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo a; sleep 5; echo b"]}]}}),
    )
    .await;
    let wall = std::time::Instant::now();
    let mut p = get(&pods, "ab").await;
    while p["status"]["phase"] != "Succeeded" {
        assert!(wall.elapsed() < Duration::from_secs(30), "{p}");
        tokio::time::sleep(Duration::from_millis(10)).await;
        p = get(&pods, "ab").await;
    }
    // at 50x, 6 virtual seconds (pull + sleep) take at least 120 ms of wall time
    assert!(wall.elapsed() >= Duration::from_millis(100));
    let logs = sim.container_runtime().logs(&id(&p, "c", 0)).expect("logs");
    assert_eq!(
        logs.history[1].time.duration_since(logs.history[0].time),
        jiff::SignedDuration::from_secs(5)
    );
}

#[tokio::test]
async fn exec_in_auto_mode_sleeps_in_virtual_time() {
    let sim = Sim::builder()
        .seed(5)
        .time_mode(TimeMode::Auto {
            horizon: Duration::from_secs(600),
        })
        .real_runtime(Catalogue::builtin().expect("catalogue"))
        .build()
        .expect("sim");
    let pods = create(
        &sim,
        pod(
            "idle",
            json!([{"name": "c", "image": "busybox", "command": ["sleep", "infinity"]}]),
        ),
    )
    .await;
    let mut p = get(&pods, "idle").await;
    for _ in 0..500 {
        if p["status"]["phase"] == "Running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        p = get(&pods, "idle").await;
    }
    let before = sim.now();
    let (out, _, code) = exec(
        &sim,
        &id(&p, "c", 0),
        &["sh", "-c", "sleep 30; echo done"],
        None,
    )
    .await;
    assert_eq!((out.as_str(), code), ("done\n", ExecExit::Code(0)));
    assert!(sim.now().duration_since(before) >= jiff::SignedDuration::from_secs(30));
}

#[tokio::test]
async fn a_missing_command_is_a_start_error_with_the_runtime_message() {
    let sim = sim();
    let pods = create(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nope"},
               "spec": {"restartPolicy": "Never", "containers": [
                   {"name": "c", "image": "busybox", "command": ["nope", "--flag"]}]}}),
    )
    .await;
    sim.settle();
    let p = get(&pods, "nope").await;
    assert_eq!(p["status"]["phase"], "Failed");
    let term = &cstatus(&p, "c")["state"]["terminated"];
    assert_eq!(
        (term["exitCode"].clone(), term["reason"].clone()),
        (json!(128), json!("StartError"))
    );
    assert_eq!(
        log_text(&sim, &id(&p, "c", 0)),
        "failed to create containerd task: OCI runtime create failed: exec: \"nope\": executable file not found in $PATH\n"
    );
}
