//! The real `kubectl` against `odo-sim serve` with a test container runtime: exec (with
//! stdin, exit codes), logs (-f, --previous, --timestamps, --tail, --since, -c), cp both
//! ways, port-forward; over WebSocket (kubectl's default) and forced to SPDY. Skipped (with
//! a notice) only where no `kubectl` is installed, and then failed under `ODO_REQUIRE_CLIENTS=1`.

#![allow(clippy::unwrap_used)]

mod api_stream_common;
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use api_stream_common::{ECHO_PORT, sim_with_pods};

/// kubectl forced to SPDY (`spdy = true`) or left at its WebSocket default.
struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
    spdy: bool,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.env("KUBECONFIG", &self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        if self.spdy {
            c.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")
                .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false");
        }
        c
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Out {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin).expect("write stdin");
        drop(input);
        let out = child.wait_with_output().expect("kubectl ends");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Out {
        self.run_with_stdin(args, b"")
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("join")
}

fn exec_checks(k: &Kubectl) {
    let mode = if k.spdy { "SPDY" } else { "WebSocket" };
    // The transport really is the one asked for (kubectl logs its upgrade requests).
    let o = k.run(&["-v=8", "exec", "solo", "--", "echo", "x"]);
    assert!(
        o.stderr.contains("101 Switching Protocols"),
        "{mode}: {}",
        o.stderr
    );
    if k.spdy {
        assert!(o.stderr.contains("Upgrade: SPDY/3.1"), "{}", o.stderr);
        assert!(
            o.stderr
                .contains("X-Stream-Protocol-Version: v4.channel.k8s.io")
        );
    } else {
        assert!(
            o.stderr.contains("The subprotocol is v5.channel.k8s.io"),
            "{}",
            o.stderr
        );
    }
    let o = k.run(&["exec", "solo", "--", "echo", "hello", "world"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "hello world\n"),
        "{mode}: {}",
        o.stderr
    );

    let o = k.run_with_stdin(
        &["exec", "-i", "solo", "--", "cat"],
        b"from stdin\nsecond line\n",
    );
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "from stdin\nsecond line\n"),
        "{mode}: {}",
        o.stderr
    );

    let big: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let o = k.run_with_stdin(&["exec", "-i", "solo", "--", "wc", "-c"], &big);
    assert_eq!(o.stdout, "200000\n", "{mode}: {}", o.stderr);

    let o = k.run(&["exec", "p", "--", "exit", "3"]);
    assert_eq!(o.code, 3, "{mode}: exit codes propagate: {}", o.stderr);
    assert!(o.stderr.contains("exiting with 3"), "{mode}: {}", o.stderr);
    assert!(
        o.stderr.contains("command terminated with exit code 3"),
        "{mode}: {}",
        o.stderr
    );

    let o = k.run(&["exec", "p", "-c", "side", "--", "both"]);
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        ("to stdout\n", "to stderr\n"),
        "{mode}"
    );

    let o = k.run_with_stdin(&["attach", "-i", "solo"], b"shout\n");
    assert_eq!(o.code, 0, "{mode}: attach: {}", o.stderr);
    assert!(o.stdout.contains("SHOUT"), "{mode}: attach: {}", o.stdout);

    let o = k.run(&["exec", "p", "-c", "nope", "--", "echo"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("container nope is not valid for pod p"),
        "{mode}: {}",
        o.stderr
    );
}

fn cp_checks(k: &Kubectl, dir: &Path, rt: &api_stream_common::TestRuntime) {
    let mode = if k.spdy { "SPDY" } else { "WebSocket" };
    let local = dir.join(format!("upload-{}.txt", k.spdy));
    std::fs::write(&local, "copied content\n").expect("write local file");
    let dest = format!("solo:/data/{mode}.txt");
    let o = k.run(&["cp", &local.display().to_string(), &dest]);
    assert_eq!(o.code, 0, "{mode}: cp to the pod: {}", o.stderr);
    let stored = rt
        .files
        .lock()
        .unwrap()
        .get(&format!("/data/{mode}.txt"))
        .cloned();
    assert_eq!(stored.as_deref(), Some(&b"copied content\n"[..]), "{mode}");

    let back = dir.join(format!("download-{}.txt", k.spdy));
    let o = k.run(&[
        "cp",
        &format!("solo:/data/{mode}.txt"),
        &back.display().to_string(),
    ]);
    assert_eq!(o.code, 0, "{mode}: cp from the pod: {}", o.stderr);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "copied content\n");
}

fn port_forward_check(k: &Kubectl) {
    let mode = if k.spdy { "SPDY" } else { "WebSocket tunnel" };
    // Port 9 has no listener in the pod: its connections fail with the kubelet's message.
    let mut child = k
        .command(&[
            "-v=8",
            "port-forward",
            "pod/solo",
            &format!(":{ECHO_PORT}"),
            ":9",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("port-forward");
    let mut stderr = child.stderr.take().expect("stderr");
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    // "Forwarding from 127.0.0.1:LOCAL -> REMOTE", per port (and per address family).
    let mut local = std::collections::BTreeMap::new();
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    while local.len() < 2 {
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(!line.is_empty(), "{mode}: port-forward ended early");
        let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") else {
            continue;
        };
        let mut parts = rest.split(" -> ");
        let l: u16 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .expect("local port");
        let r: u16 = parts
            .next()
            .and_then(|p| p.trim().parse().ok())
            .expect("remote port");
        local.insert(r, l);
    }
    for round in 0..2 {
        let mut conn =
            std::net::TcpStream::connect(("127.0.0.1", local[&ECHO_PORT])).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let msg = format!("ping {round} over {mode}");
        conn.write_all(msg.as_bytes()).unwrap();
        let mut buf = vec![0u8; msg.len()];
        conn.read_exact(&mut buf).expect("echo comes back");
        assert_eq!(String::from_utf8_lossy(&buf), msg);
    }
    let mut refused = std::net::TcpStream::connect(("127.0.0.1", local[&9])).expect("connect");
    refused
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = refused.write_all(b"anyone there?");
    let mut buf = Vec::new();
    let _ = refused.read_to_end(&mut buf);
    assert!(buf.is_empty(), "{mode}: nothing answers on port 9");
    let _ = child.kill();
    let _ = child.wait();
    let log = log.join().unwrap_or_default();
    let upgrade = if k.spdy {
        "Upgrade: SPDY/3.1"
    } else {
        "Sec-Websocket-Protocol: SPDY/3.1+portforward.k8s.io"
    };
    assert!(log.contains(upgrade), "{mode}: {log}");
    assert!(
        log.contains("error forwarding port 9 to pod solo, uid ")
            && log.contains("connection refused"),
        "{mode}: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_streams_over_websocket_and_spdy() {
    if !common::kubectl_available() {
        return;
    }
    let (sim, rt) = sim_with_pods().await;
    let dir = tempfile::tempdir().expect("dir");
    let (kc, _server) = common::serve(&sim, dir.path(), None).await;
    for spdy in [false, true] {
        let k = Kubectl {
            kubeconfig: kc.clone(),
            cache: dir.path().join("cache"),
            spdy,
        };
        let k = blocking(move || {
            exec_checks(&k);
            k
        })
        .await;
        let (rt2, d) = (rt.clone(), dir.path().to_path_buf());
        let k = blocking(move || {
            cp_checks(&k, &d, &rt2);
            k
        })
        .await;
        blocking(move || port_forward_check(&k)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_with_options() {
    if !common::kubectl_available() {
        return;
    }
    let (sim, rt) = sim_with_pods().await;
    let dir = tempfile::tempdir().expect("dir");
    let (kc, _server) = common::serve(&sim, dir.path(), None).await;
    let k = std::sync::Arc::new(Kubectl {
        kubeconfig: kc,
        cache: dir.path().join("cache"),
        spdy: false,
    });
    let t0 = sim.now();
    let at = |s: i64| t0.checked_add(jiff::SignedDuration::from_secs(s)).unwrap();
    sim.advance(Duration::from_secs(600));
    rt.log("p", "main", 0, at(10), "early");
    rt.log("p", "main", 0, at(590), "late");
    rt.log("p", "side", 0, at(20), "from side");
    let run = |args: &'static [&'static str]| {
        let k = k.clone();
        blocking(move || k.run(args))
    };
    let o = run(&["logs", "p"]).await;
    assert_eq!(o.stdout, "early\nlate\n", "default container: {}", o.stderr);
    assert_eq!(
        run(&["logs", "p", "-c", "side"]).await.stdout,
        "from side\n"
    );
    assert_eq!(run(&["logs", "p", "--tail=1"]).await.stdout, "late\n");
    assert_eq!(run(&["logs", "p", "--since=1m"]).await.stdout, "late\n");
    assert_eq!(
        run(&["logs", "p", "--timestamps", "--tail=1"]).await.stdout,
        format!("{} late\n", at(590))
    );
    let o = run(&["logs", "p", "-c", "bad"]).await;
    assert!(
        o.stderr.contains("container bad is not valid for pod p"),
        "{}",
        o.stderr
    );
    let o = run(&["logs", "solo", "--previous"]).await;
    assert!(
        o.stderr
            .contains("previous terminated container \"only\" in pod \"solo\" not found"),
        "{}",
        o.stderr
    );

    // -f: history, then lines as they come, until the container's log ends.
    rt.log("solo", "only", 0, at(599), "before follow");
    let mut child = k
        .command(&["logs", "-f", "solo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("logs -f");
    let stdout = child.stdout.take().expect("stdout");
    let reader = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    while rt.followers("solo", "only", 0) == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rt.log("solo", "only", 0, at(600), "while following");
    rt.end_log("solo", "only", 0);
    let lines = reader.await.expect("reader");
    assert_eq!(lines, vec!["before follow", "while following"]);
    assert!(child.wait().expect("kubectl ends").success());

    // --previous after a restart.
    sim.inject(odo_sim::Fault::KillContainer {
        namespace: "default".into(),
        pod: "solo".into(),
        container: None,
        oom: false,
    })
    .unwrap();
    sim.settle();
    let o = run(&["logs", "solo", "--previous"]).await;
    assert_eq!(o.stdout, "before follow\nwhile following\n", "{}", o.stderr);
}
