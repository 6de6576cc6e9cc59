//! Test support for the streaming subresources: [`TestRuntime`], a container runtime whose
//! processes are tiny Rust functions (echo, cat, exit codes, stderr, a tar-speaking file
//! store for `kubectl cp`), whose logs the test writes, and whose ports echo.

#![allow(dead_code)] // each test binary uses a different part of this module
#![allow(clippy::unwrap_used)] // test support: a poisoned lock is a failed test

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use odo_sim::kubelet::streams::{
    ExecExit, LogLine, LogStream, Session, SessionIo, StreamError, StreamKind,
};
use odo_sim::kubelet::{
    ContainerId, ContainerRuntime, ExitSender, Outcome, PullError, ScriptedRuntime, StartError,
    StartRequest,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// The port on which every pod runs an echo server.
pub const ECHO_PORT: u16 = 7;

/// Logs of one container instance: lines so far and, while it runs, a follow channel.
#[derive(Default)]
struct Log {
    lines: Vec<LogLine>,
    followers: Vec<mpsc::UnboundedSender<LogLine>>,
    ended: bool,
}

/// Key of a container instance's log: (pod, container, instance).
type LogKey = (String, String, u32);

/// A runtime for streaming tests; processes are Rust functions of their command line.
#[derive(Default)]
pub struct TestRuntime {
    scripted: ScriptedRuntime,
    logs: Mutex<BTreeMap<LogKey, Log>>,
    /// Files written by `tar x` in any container, by path.
    pub files: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Every exec: (container, command).
    pub execs: Mutex<Vec<(String, Vec<String>)>>,
}

fn key(id: &ContainerId) -> LogKey {
    (id.pod.clone(), id.container.clone(), id.instance)
}

impl TestRuntime {
    /// A runtime with no logs yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Appends a line to the log of `pod`/`container` instance `instance`, sending it to
    /// followers.
    pub fn log(&self, pod: &str, container: &str, instance: u32, time: Timestamp, text: &str) {
        let line = LogLine {
            time,
            stream: StreamKind::Stdout,
            bytes: Bytes::from(format!("{text}\n")),
        };
        let mut logs = self.logs.lock().unwrap();
        let log = logs
            .entry((pod.into(), container.into(), instance))
            .or_default();
        log.followers.retain(|f| f.send(line.clone()).is_ok());
        log.lines.push(line);
    }

    /// Ends the instance's log (its followers see the end).
    pub fn end_log(&self, pod: &str, container: &str, instance: u32) {
        let mut logs = self.logs.lock().unwrap();
        let log = logs
            .entry((pod.into(), container.into(), instance))
            .or_default();
        log.followers.clear();
        log.ended = true;
    }

    /// How many followers the instance's log has now.
    pub fn followers(&self, pod: &str, container: &str, instance: u32) -> usize {
        let mut logs = self.logs.lock().unwrap();
        logs.get_mut(&(pod.into(), container.into(), instance))
            .map_or(0, |l| {
                l.followers.retain(|f| !f.is_closed());
                l.followers.len()
            })
    }
}

async fn write(tx: &Option<mpsc::Sender<Bytes>>, b: impl Into<Bytes>) {
    if let Some(tx) = tx {
        let _ = tx.send(b.into()).await;
    }
}

async fn read_all(rx: &mut Option<mpsc::Receiver<Bytes>>) -> Vec<u8> {
    let mut all = Vec::new();
    if let Some(rx) = rx {
        while let Some(b) = rx.recv().await {
            all.extend_from_slice(&b);
        }
    }
    all
}

/// `tar cf - PATH`: the files under PATH as a tar stream.
fn tar_create(files: &BTreeMap<String, Vec<u8>>, root: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let root = root.trim_end_matches('/');
    for (path, data) in files {
        if path == root || path.starts_with(&format!("{root}/")) {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            let _ = b.append_data(&mut h, path.trim_start_matches('/'), data.as_slice());
        }
    }
    b.into_inner().unwrap_or_default()
}

/// `tar xf - -C DIR`: stores the archive's files under DIR.
fn tar_extract(files: &mut BTreeMap<String, Vec<u8>>, archive: &[u8], dir: &str) -> bool {
    let mut a = tar::Archive::new(archive);
    let Ok(entries) = a.entries() else {
        return false;
    };
    for e in entries {
        let Ok(mut e) = e else { return false };
        if e.header().entry_type().is_dir() {
            continue;
        }
        let Ok(p) = e.path() else { return false };
        let path = format!("{}/{}", dir.trim_end_matches('/'), p.display());
        let mut data = Vec::new();
        if e.read_to_end(&mut data).is_err() {
            return false;
        }
        files.insert(path, data);
    }
    true
}

impl TestRuntime {
    async fn run(self: Arc<Self>, command: Vec<String>, mut io: SessionIo) -> ExecExit {
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        let code = match args.as_slice() {
            ["echo", rest @ ..] => {
                write(&io.stdout, format!("{}\n", rest.join(" "))).await;
                0
            }
            ["cat"] => {
                if let Some(rx) = &mut io.stdin {
                    while let Some(b) = rx.recv().await {
                        write(&io.stdout, b).await;
                    }
                }
                0
            }
            ["wc", "-c"] => {
                let n = read_all(&mut io.stdin).await.len();
                write(&io.stdout, format!("{n}\n")).await;
                0
            }
            ["tty"] => {
                let t = if io.tty {
                    "/dev/pts/0\n"
                } else {
                    "not a tty\n"
                };
                write(&io.stdout, t).await;
                if let Some(rx) = &mut io.resize
                    && let Some((w, h)) = rx.recv().await
                {
                    write(&io.stdout, format!("size {w}x{h}\n")).await;
                }
                0
            }
            ["both"] => {
                write(&io.stdout, "to stdout\n").await;
                write(&io.stderr, "to stderr\n").await;
                0
            }
            ["exit", n] => {
                write(&io.stderr, format!("exiting with {n}\n")).await;
                n.parse().unwrap_or(1)
            }
            ["tar", flags, "-", rest @ ..] if flags.contains('x') => {
                let data = read_all(&mut io.stdin).await;
                let dir = match rest {
                    ["-C", dir, ..] => (*dir).to_string(),
                    _ => "/".to_string(),
                };
                let ok = tar_extract(&mut self.files.lock().unwrap(), &data, &dir);
                if ok {
                    0
                } else {
                    write(&io.stderr, "tar: invalid archive\n").await;
                    2
                }
            }
            ["tar", "cf", "-", path] => {
                let data = tar_create(&self.files.lock().unwrap(), path);
                for chunk in data.chunks(10_000) {
                    write(&io.stdout, Bytes::copy_from_slice(chunk)).await;
                }
                0
            }
            [other, ..] => {
                return ExecExit::StartFailed(format!(
                    "exec: \"{other}\": executable file not found in $PATH"
                ));
            }
            [] => return ExecExit::StartFailed("no command".into()),
        };
        ExecExit::Code(code)
    }
}

fn running(pod: &Value, id: &ContainerId) -> Result<(), StreamError> {
    let _ = pod;
    if id.container == "stopped" {
        return Err(StreamError::NotRunning(format!(
            "container {} is not running",
            id.container
        )));
    }
    Ok(())
}

/// A `ContainerRuntime` over an `Arc<TestRuntime>` (the trait needs `'static` sessions).
#[derive(Clone)]
pub struct Shared(pub Arc<TestRuntime>);

impl ContainerRuntime for Shared {
    fn pull(&self, image: &str, node: &str) -> Result<Duration, PullError> {
        self.0.scripted.pull(image, node)
    }

    fn start(&self, req: StartRequest<'_>, exits: ExitSender) -> Result<Outcome, StartError> {
        self.0.scripted.start(req, exits)
    }

    fn stop(&self, id: &ContainerId, container: &Value, grace: Duration) -> Duration {
        self.0.scripted.stop(id, container, grace)
    }

    fn exec(
        &self,
        id: &ContainerId,
        command: Vec<String>,
        io: SessionIo,
    ) -> Result<Session, StreamError> {
        running(&Value::Null, id)?;
        self.0
            .execs
            .lock()
            .unwrap()
            .push((id.container.clone(), command.clone()));
        let rt = self.0.clone();
        Ok(Box::pin(rt.run(command, io)))
    }

    fn attach(&self, id: &ContainerId, mut io: SessionIo) -> Result<Session, StreamError> {
        running(&Value::Null, id)?;
        let name = id.container.clone();
        Ok(Box::pin(async move {
            write(&io.stdout, format!("attached to {name}\n")).await;
            if let Some(rx) = &mut io.stdin {
                while let Some(b) = rx.recv().await {
                    write(&io.stdout, b.to_ascii_uppercase()).await;
                }
            }
            ExecExit::Code(0)
        }))
    }

    fn logs(&self, id: &ContainerId) -> Result<LogStream, StreamError> {
        let mut logs = self.0.logs.lock().unwrap();
        let Some(log) = logs.get_mut(&key(id)) else {
            return Err(StreamError::NotFound(format!(
                "no log for container {:?} instance {} in pod {:?}",
                id.container, id.instance, id.pod
            )));
        };
        let follow = (!log.ended).then(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            log.followers.push(tx);
            rx
        });
        Ok(LogStream {
            history: log.lines.clone(),
            follow,
        })
    }

    fn connect(&self, _pod_uid: &str, port: u16) -> Result<tokio::io::DuplexStream, StreamError> {
        if port != ECHO_PORT {
            return Err(StreamError::PortClosed(format!(
                "failed to connect to localhost:{port} inside namespace: connection refused"
            )));
        }
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            loop {
                match server.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if server.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = server.shutdown().await;
        });
        Ok(client)
    }
}

/// A simulator with the test runtime and a running pod `p` (containers `main` and `side`,
/// default container `main`) and a single-container pod `solo`; settled.
pub async fn sim_with_pods() -> (odo_sim::Sim, Arc<TestRuntime>) {
    let rt = TestRuntime::new();
    let sim = odo_sim::Sim::builder()
        .seed(7)
        .runtime(Arc::new(Shared(rt.clone())))
        .build()
        .expect("sim");
    let client = sim.client();
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client, "default");
    let p = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "annotations": {"kubectl.kubernetes.io/default-container": "main"}},
        "spec": {"containers": [
            {"name": "main", "image": "busybox:latest", "command": ["server"]},
            {"name": "side", "image": "busybox:latest", "command": ["server"]},
        ]},
    });
    let solo = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "solo"},
        "spec": {"containers": [{"name": "only", "image": "busybox:latest", "command": ["server"]}]},
    });
    for obj in [p, solo] {
        pods.create(
            &kube::api::PostParams::default(),
            &serde_json::from_value(obj).expect("pod"),
        )
        .await
        .expect("create pod");
    }
    sim.settle();
    (sim, rt)
}
