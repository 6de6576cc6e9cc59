//! kube-rs against the streaming subresources, in-process (`Sim::client`, upgrades over an
//! in-memory connection) and over loopback HTTP: exec and attach (WebSocket v5), logs with
//! every option, port-forward, and the errors of each.

#![allow(clippy::unwrap_used)]

mod api_stream_common;
mod common;

use api_stream_common::{ECHO_PORT, TestRuntime, sim_with_pods};
use common::Mode;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{AttachParams, LogParams};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn client_for(
    sim: &odo_sim::Sim,
    mode: Mode,
    dir: &std::path::Path,
) -> (
    kube::Client,
    Option<tokio::task::JoinHandle<std::io::Result<()>>>,
) {
    match mode {
        Mode::InProcess => (sim.client(), None),
        Mode::Http => {
            let (kc, server) = common::serve(sim, dir, None).await;
            (common::client_from_kubeconfig(&kc).await, Some(server))
        }
    }
}

async fn read_to_string(r: Option<impl tokio::io::AsyncRead + Unpin>) -> String {
    let mut s = String::new();
    if let Some(mut r) = r {
        r.read_to_string(&mut s).await.expect("read");
    }
    s
}

async fn setup(
    mode: Mode,
) -> (
    odo_sim::Sim,
    Arc<TestRuntime>,
    Api<Pod>,
    tempfile::TempDir,
    Option<tokio::task::JoinHandle<std::io::Result<()>>>,
) {
    let (sim, rt) = sim_with_pods().await;
    let dir = tempfile::tempdir().expect("dir");
    let (client, server) = client_for(&sim, mode, dir.path()).await;
    (sim, rt, Api::namespaced(client, "default"), dir, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_streams_and_exit_codes() {
    for mode in common::MODES {
        let (_sim, rt, pods, _dir, _server) = setup(mode).await;

        let mut p = pods
            .exec(
                "solo",
                ["echo", "hello", "world"],
                &AttachParams::default().stderr(true),
            )
            .await
            .expect("exec echo");
        let status = p.take_status().expect("status");
        let out = read_to_string(p.stdout()).await;
        assert_eq!(out, "hello world\n", "{mode:?}");
        let status = status.await.expect("status sent");
        assert_eq!(status.status.as_deref(), Some("Success"), "{mode:?}");
        p.join().await.expect("join");

        // stdin reaches the process and its end (v5 close of channel 0) ends `cat`.
        let mut p = pods
            .exec(
                "solo",
                ["cat"],
                &AttachParams::default().stdin(true).stderr(false),
            )
            .await
            .expect("exec cat");
        let mut stdin = p.stdin().expect("stdin");
        let stdout = p.stdout();
        let status = p.take_status().expect("status");
        stdin
            .write_all(b"line one\nline two\n")
            .await
            .expect("write");
        stdin.shutdown().await.expect("end of stdin");
        assert_eq!(
            read_to_string(stdout).await,
            "line one\nline two\n",
            "{mode:?}"
        );
        assert_eq!(
            status.await.expect("status").status.as_deref(),
            Some("Success")
        );

        // A non-zero exit is a NonZeroExitCode failure with the code as its ExitCode cause.
        let mut p = pods
            .exec("p", ["exit", "3"], &AttachParams::default().stderr(true))
            .await
            .expect("exec exit");
        let status = p.take_status().expect("status");
        let err = read_to_string(p.stderr()).await;
        assert_eq!(err, "exiting with 3\n");
        let status = status.await.expect("status");
        assert_eq!(status.status.as_deref(), Some("Failure"));
        assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
        let cause = &status.details.expect("details").causes.expect("causes")[0];
        assert_eq!(cause.reason.as_deref(), Some("ExitCode"));
        assert_eq!(cause.message.as_deref(), Some("3"));

        // stdout and stderr stay apart.
        let mut p = pods
            .exec("solo", ["both"], &AttachParams::default().stderr(true))
            .await
            .expect("exec both");
        let (o, e) = (p.stdout(), p.stderr());
        let (o, e) = tokio::join!(read_to_string(o), read_to_string(e));
        assert_eq!((o.as_str(), e.as_str()), ("to stdout\n", "to stderr\n"));

        // A command that cannot start: an InternalError status.
        let mut p = pods
            .exec("solo", ["nope"], &AttachParams::default())
            .await
            .expect("exec nope");
        let status = p.take_status().expect("status").await.expect("status");
        assert_eq!(status.reason.as_deref(), Some("InternalError"));
        assert!(
            status
                .message
                .unwrap_or_default()
                .contains("executable file not found"),
            "{mode:?}"
        );

        // The default-container annotation picks `main`; -c picks another.
        for params in [
            AttachParams::default(),
            AttachParams::default().container("side"),
        ] {
            let mut p = pods
                .exec("p", ["echo", "x"], &params)
                .await
                .expect("exec in p");
            assert_eq!(read_to_string(p.stdout()).await, "x\n");
        }
        let execs = rt.execs.lock().unwrap().clone();
        assert_eq!(execs[execs.len() - 2].0, "main");
        assert_eq!(execs[execs.len() - 1].0, "side");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_errors_are_statuses_like_the_api_server() {
    for mode in common::MODES {
        let (sim, _rt, pods, _dir, _server) = setup(mode).await;
        let e = common::api_err(
            pods.exec("p", ["echo"], &AttachParams::default().container("bad"))
                .await
                .map(|_| ()),
        );
        assert_eq!(
            (e.code, e.message.as_str()),
            (400, "container bad is not valid for pod p")
        );
        let e = common::api_err(
            pods.exec("missing", ["echo"], &AttachParams::default())
                .await
                .map(|_| ()),
        );
        assert_eq!(
            (e.code, e.message.as_str()),
            (404, "pods \"missing\" not found")
        );
        // Two containers and no default: the server lists the choices.
        let client = pods.clone();
        let two = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "two"},
            "spec": {"containers": [{"name": "a", "image": "busybox:latest", "command": ["server"]}, {"name": "b", "image": "busybox:latest", "command": ["server"]}]},
        });
        client
            .create(&Default::default(), &serde_json::from_value(two).unwrap())
            .await
            .unwrap();
        let e = common::api_err(
            pods.exec("two", ["echo"], &AttachParams::default().container("a"))
                .await
                .map(|_| ()),
        );
        assert_eq!(
            (e.code, e.message.as_str()),
            (400, "pod two does not have a host assigned")
        );
        sim.settle();
        let e = common::api_err(
            pods.exec("two", ["echo"], &AttachParams::default())
                .await
                .map(|_| ()),
        );
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                400,
                "a container name must be specified for pod two, choose one of: [a b]"
            )
        );
        let e = common::api_err(pods.logs("two", &LogParams::default()).await);
        assert_eq!(e.code, 400);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_reaches_the_main_process() {
    for mode in common::MODES {
        let (_sim, _rt, pods, _dir, _server) = setup(mode).await;
        let mut p = pods
            .attach("solo", &AttachParams::default().stdin(true).stderr(false))
            .await
            .expect("attach");
        let mut stdin = p.stdin().expect("stdin");
        let stdout = p.stdout();
        stdin.write_all(b"shout\n").await.unwrap();
        stdin.shutdown().await.unwrap();
        assert_eq!(
            read_to_string(stdout).await,
            "attached to only\nSHOUT\n",
            "{mode:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_honour_every_option() {
    for mode in common::MODES {
        let (sim, rt, pods, _dir, _server) = setup(mode).await;
        let t0 = sim.now();
        let at = |s: i64| t0.checked_add(jiff::SignedDuration::from_secs(s)).unwrap();
        sim.advance(std::time::Duration::from_secs(100));
        for (i, s) in [10, 20, 30, 90].into_iter().enumerate() {
            rt.log("p", "main", 0, at(s), &format!("main {i}"));
        }
        rt.log("p", "side", 0, at(5), "side 0");

        let all = pods.logs("p", &LogParams::default()).await.expect("logs");
        assert_eq!(
            all, "main 0\nmain 1\nmain 2\nmain 3\n",
            "{mode:?}: default container"
        );
        let side = pods
            .logs(
                "p",
                &LogParams {
                    container: Some("side".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(side, "side 0\n");
        let tail = pods
            .logs(
                "p",
                &LogParams {
                    tail_lines: Some(2),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(tail, "main 2\nmain 3\n");
        // now = t0+100: the last 75 seconds are main 2 (t0+30) and main 3.
        let since = pods
            .logs(
                "p",
                &LogParams {
                    since_seconds: Some(75),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(since, "main 2\nmain 3\n");
        let since_time = pods
            .logs(
                "p",
                &LogParams {
                    since_time: Some(chrono_free(at(20))),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(since_time.unwrap(), "main 1\nmain 2\nmain 3\n");
        let stamped = pods
            .logs(
                "p",
                &LogParams {
                    timestamps: true,
                    tail_lines: Some(1),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(stamped, format!("{} main 3\n", at(90)));
        let limited = pods
            .logs(
                "p",
                &LogParams {
                    limit_bytes: Some(9),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(limited, "main 0\nma");
        let e = common::api_err(
            pods.logs(
                "p",
                &LogParams {
                    since_seconds: Some(0),
                    ..Default::default()
                },
            )
            .await,
        );
        assert_eq!(e.code, 422);

        // Follow: history, then new lines, until the instance's log ends.
        let e = common::api_err(
            pods.log_stream(
                "solo",
                &LogParams {
                    follow: true,
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        );
        assert_eq!(e.code, 404, "solo has no log yet in the runtime: {e:?}");
        rt.log("solo", "only", 0, at(1), "first");
        let lines = pods
            .log_stream(
                "solo",
                &LogParams {
                    follow: true,
                    ..Default::default()
                },
            )
            .await
            .expect("follow");
        let mut lines = futures::io::AsyncBufReadExt::lines(lines);
        assert_eq!(lines.next().await.unwrap().unwrap(), "first");
        while rt.followers("solo", "only", 0) == 0 {
            tokio::task::yield_now().await;
        }
        rt.log("solo", "only", 0, at(2), "second");
        assert_eq!(lines.next().await.unwrap().unwrap(), "second");
        rt.end_log("solo", "only", 0);
        assert!(lines.next().await.is_none(), "follow ends with the log");

        // previous: none before a restart, then the instance before the current one.
        let e = common::api_err(
            pods.logs(
                "solo",
                &LogParams {
                    previous: true,
                    ..Default::default()
                },
            )
            .await,
        );
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                400,
                "previous terminated container \"only\" in pod \"solo\" not found"
            )
        );
        sim.inject(odo_sim::Fault::KillContainer {
            namespace: "default".into(),
            pod: "solo".into(),
            container: None,
            oom: false,
        })
        .unwrap();
        sim.settle();
        rt.log("solo", "only", 1, at(95), "after restart");
        let prev = pods
            .logs(
                "solo",
                &LogParams {
                    previous: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(prev, "first\nsecond\n", "{mode:?}");
        let cur = pods.logs("solo", &LogParams::default()).await.unwrap();
        assert_eq!(cur, "after restart\n");
    }
}

fn chrono_free(t: jiff::Timestamp) -> k8s_openapi::jiff::Timestamp {
    t.to_string().parse().expect("timestamp")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_reaches_the_pod() {
    for mode in common::MODES {
        let (_sim, _rt, pods, _dir, _server) = setup(mode).await;
        let mut pf = pods
            .portforward("solo", &[ECHO_PORT, 9])
            .await
            .expect("portforward");
        let mut conn = pf.take_stream(ECHO_PORT).expect("stream");
        conn.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping", "{mode:?}");
        let err = pf
            .take_error(9)
            .expect("error")
            .await
            .expect("an error for port 9");
        assert!(
            err.starts_with("error forwarding port 9 to pod solo, uid ")
                && err.contains("connection refused"),
            "{err}"
        );
        drop(conn);
        drop(pf.take_stream(9));
        pf.join().await.expect("port-forward ends cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_of_an_unscheduled_pod_is_empty() {
    let (_sim, _rt, pods, _dir, _server) = setup(Mode::InProcess).await;
    let lone = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lone"},
        "spec": {"containers": [{"name": "c", "image": "busybox:latest"}]},
    });
    pods.create(&Default::default(), &serde_json::from_value(lone).unwrap())
        .await
        .unwrap();
    assert_eq!(pods.logs("lone", &LogParams::default()).await.unwrap(), "");
    let mut s = pods
        .log_stream("lone", &LogParams::default())
        .await
        .unwrap();
    let mut all = String::new();
    futures::io::AsyncReadExt::read_to_string(&mut s, &mut all)
        .await
        .unwrap();
    assert_eq!(all, "");
}
