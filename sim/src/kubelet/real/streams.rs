//! The streaming side of [`super::RealRuntime`]: exec and attach sessions, logs, and
//! port-forward connections to ports a container process listens on.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::RealRuntime;
use super::executor::{Executor, TaskId};
use super::key_of;
use crate::kubelet::ContainerId;
use crate::kubelet::streams::{ExecExit, LogStream, Session, SessionIo, StreamError, StreamKind};
use crate::runtime::io::ChannelSink;
use crate::runtime::{ExecError, Input, Out, Stdio};

/// Kills a session's process when the client goes away.
struct KillOnDrop(Arc<Executor>, TaskId);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill(self.1);
    }
}

/// The waiting reason the stored pod shows for a container.
fn waiting_reason(rt: &RealRuntime, id: &ContainerId) -> Option<(String, u32)> {
    use k8s_openapi::api::core::v1 as core;
    let tid = rt.store.type_id_of::<core::Pod>()?;
    let pod = rt.store.get(tid, &id.namespace, &id.pod).ok()?;
    let list = if id.init {
        "/status/initContainerStatuses"
    } else {
        "/status/containerStatuses"
    };
    let s = pod
        .pointer(list)?
        .as_array()?
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(id.container.as_str()))?;
    let restarts = s.get("restartCount").and_then(Value::as_u64).unwrap_or(0) as u32;
    let reason = s
        .pointer("/state/waiting/reason")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some((reason, restarts))
}

/// Why `id` cannot be exec'd into or attached to.
fn not_running(rt: &RealRuntime, id: &ContainerId) -> StreamError {
    let known = super::lock(&rt.instances).contains_key(&key_of(id));
    match waiting_reason(rt, id) {
        Some((reason, _)) if !known && !reason.is_empty() => StreamError::NotRunning(format!(
            "container \"{}\" in pod \"{}\" is waiting to start: {reason}",
            id.container, id.pod
        )),
        _ if !known => StreamError::NotRunning(format!(
            "container \"{}\" in pod \"{}\" is waiting to start: ContainerCreating",
            id.container, id.pod
        )),
        _ => StreamError::NotRunning(format!("container {} is not running", id.container)),
    }
}

async fn forward(to: &Option<mpsc::Sender<Bytes>>, b: Bytes) {
    if let Some(tx) = to {
        let _ = tx.send(b).await;
    }
}

fn remember(rt: &RealRuntime, id: &ContainerId, task: TaskId) {
    if let Some(i) = super::lock(&rt.instances).get_mut(&key_of(id)) {
        i.sessions.push(task);
    }
}

/// `pods/exec`.
pub(super) fn exec(
    rt: &RealRuntime,
    id: &ContainerId,
    command: Vec<String>,
    io: SessionIo,
) -> Result<Session, StreamError> {
    let Some((inst, host, _)) = rt.running(id) else {
        return Err(not_running(rt, id));
    };
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (err_tx, err_rx) = mpsc::unbounded_channel();
    let stdout = Out::new(ChannelSink(out_tx.clone()));
    let stderr = if io.tty {
        drop(err_tx);
        Out::new(ChannelSink(out_tx))
    } else {
        drop(out_tx);
        Out::new(ChannelSink(err_tx))
    };
    let stdin = match io.stdin {
        Some(rx) => Input::stream(tokio_stream::wrappers::ReceiverStream::new(rx).boxed()),
        None => Input::empty(),
    };
    let first = command.first().cloned().unwrap_or_default();
    let fut = match inst.exec(command, host, Stdio::new(stdout, stderr).with_stdin(stdin)) {
        Ok(f) => f,
        Err(e) => {
            let why = match e {
                ExecError::NotFound(_) => "executable file not found in $PATH",
                ExecError::PermissionDenied(_) => "permission denied",
            };
            let msg = format!("exec: \"{first}\": {why}");
            return Ok(Box::pin(async move { ExecExit::StartFailed(msg) }));
        }
    };
    let (done_tx, done_rx) = oneshot::channel();
    let task = rt.exec.spawn(Box::pin(async move {
        let _ = done_tx.send(fut.await);
    }));
    remember(rt, id, task);
    let exec = rt.exec.clone();
    let drive = rt.self_drive;
    let (stdout, stderr) = (io.stdout, io.stderr);
    Ok(Box::pin(async move {
        let _kill = KillOnDrop(exec.clone(), task);
        let (mut out_rx, mut err_rx, mut done_rx) = (out_rx, err_rx, done_rx);
        let (mut out_open, mut err_open) = (true, true);
        loop {
            let notified = exec.wakeup.local.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if drive {
                exec.try_run_ready();
            }
            tokio::select! {
                biased;
                b = out_rx.recv(), if out_open => match b {
                    Some(b) => forward(&stdout, b).await,
                    None => out_open = false,
                },
                b = err_rx.recv(), if err_open => match b {
                    Some(b) => forward(&stderr, b).await,
                    None => err_open = false,
                },
                code = &mut done_rx => {
                    while let Ok(b) = out_rx.try_recv() {
                        forward(&stdout, b).await;
                    }
                    while let Ok(b) = err_rx.try_recv() {
                        forward(&stderr, b).await;
                    }
                    return ExecExit::Code(code.unwrap_or(137));
                }
                () = &mut notified, if drive => {}
            }
        }
    }))
}

/// `pods/attach`: the main process's output from now on, and its stdin when it has one.
pub(super) fn attach(
    rt: &RealRuntime,
    id: &ContainerId,
    io: SessionIo,
) -> Result<Session, StreamError> {
    if rt.running(id).is_none() {
        return Err(not_running(rt, id));
    }
    let key = key_of(id);
    let Some(mut out) = rt.logs.attach(&key) else {
        return Err(not_running(rt, id));
    };
    let (pid1_stdin, mut exit) = {
        let inst = super::lock(&rt.instances);
        match inst.get(&key) {
            Some(i) => (i.stdin.clone(), i.exit.clone()),
            None => return Err(not_running(rt, id)),
        }
    };
    let exec = rt.exec.clone();
    let drive = rt.self_drive;
    let tty = io.tty;
    let (stdout, stderr, mut stdin) = (io.stdout, io.stderr, io.stdin);
    Ok(Box::pin(async move {
        loop {
            let notified = exec.wakeup.local.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if drive {
                exec.try_run_ready();
            }
            tokio::select! {
                biased;
                item = out.recv() => match item {
                    Some((StreamKind::Stderr, b)) if !tty => forward(&stderr, b).await,
                    Some((_, b)) => forward(&stdout, b).await,
                    None => break,
                },
                chunk = async { match stdin.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                } } => match (chunk, &pid1_stdin) {
                    (Some(b), Some(tx)) => { let _ = tx.send(b); }
                    (Some(_), None) => {}
                    (None, _) => stdin = None,
                },
                () = &mut notified, if drive => {}
            }
        }
        let code = exit.wait_for(Option::is_some).await.ok().and_then(|c| *c);
        ExecExit::Code(code.unwrap_or(0))
    }))
}

/// `pods/log`.
pub(super) fn logs(rt: &RealRuntime, id: &ContainerId) -> Result<LogStream, StreamError> {
    if let Some(s) = rt.logs.stream(&key_of(id)) {
        return Ok(s);
    }
    Err(match waiting_reason(rt, id) {
        Some((_, restarts)) if id.instance < restarts => StreamError::NotFound(format!(
            "previous terminated container \"{}\" in pod \"{}\" not found",
            id.container, id.pod
        )),
        Some((reason, _)) if !reason.is_empty() => StreamError::NotRunning(format!(
            "container \"{}\" in pod \"{}\" is waiting to start: {reason}",
            id.container, id.pod
        )),
        _ => StreamError::NotFound(format!(
            "container \"{}\" in pod \"{}\" has no log for run {}",
            id.container, id.pod, id.instance
        )),
    })
}

/// What a listening program answers to an HTTP request.
fn response_body(cmdline: &str, container: &str, port: u16) -> String {
    if cmdline.contains("hello-openshift") {
        "Hello OpenShift!\n".to_string()
    } else {
        format!("{container} is serving on port {port}\n")
    }
}

/// Answers HTTP/1.x requests on `conn` until the client closes it.
async fn serve_http(mut conn: tokio::io::DuplexStream, body: String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    continue;
                }
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let need = end + 4 + len;
        while buf.len() < need {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..need);
        let close = head.contains("connection: close");
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if conn.write_all(resp.as_bytes()).await.is_err() || close {
            let _ = conn.shutdown().await;
            return;
        }
    }
}

/// `pods/portforward`: a connection to `port` in the pod's network namespace.
pub(super) fn connect(
    rt: &RealRuntime,
    pod_uid: &str,
    port: u16,
) -> Result<tokio::io::DuplexStream, StreamError> {
    let target = {
        let inst = super::lock(&rt.instances);
        inst.iter()
            .filter(|(k, i)| k.0 == pod_uid && i.exit.borrow().is_none())
            .find_map(|(k, i)| {
                let pid = *i.inst.listening_ports().get(&port)?;
                let cmd = i
                    .inst
                    .processes()
                    .into_iter()
                    .find(|p| p.pid == pid)
                    .map(|p| p.cmdline)
                    .unwrap_or_default();
                Some(response_body(&cmd, &k.1, port))
            })
    };
    let Some(body) = target else {
        return Err(StreamError::PortClosed(format!(
            "error forwarding port {port} to pod {pod_uid}: connect to 127.0.0.1:{port}: connection refused"
        )));
    };
    let handle = tokio::runtime::Handle::try_current().map_err(|_| {
        StreamError::Unsupported(
            "port-forward needs a tokio runtime to serve the connection".into(),
        )
    })?;
    let (client, server) = tokio::io::duplex(64 * 1024);
    handle.spawn(serve_http(server, body));
    Ok(client)
}
