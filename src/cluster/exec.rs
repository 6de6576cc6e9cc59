//! Running commands in the component container (the build step `assemble-and-restart`) with their
//! output streamed line by line, and streaming the container's logs (`odo log -f`).

use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, LogParams};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use super::{ClusterError, Connection};

/// The build command odo runs after syncing sources.
pub const ASSEMBLE_AND_RESTART: &str = "/opt/odo/bin/assemble-and-restart";

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// stdout.
    Stdout,
    /// stderr.
    Stderr,
}

/// Result of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    /// Whether it exited with status 0.
    pub success: bool,
    /// The server's status message when it failed.
    pub message: Option<String>,
    /// Every output line, in arrival order per stream (kept for error reports).
    pub lines: Vec<(Stream, String)>,
}

/// Runs `command` in `container` of `pod`, passing each output line to `on_line`.
pub async fn exec(
    conn: &Connection,
    pod: &str,
    container: &str,
    command: &[&str],
    on_line: &mut (dyn FnMut(Stream, &str) + Send),
) -> Result<ExecResult, ClusterError> {
    let api: Api<Pod> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let params = AttachParams::default()
        .container(container)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut proc = api
        .exec(pod, command.iter().copied(), &params)
        .await
        .map_err(|e| {
            ClusterError::api(
                format!("cannot exec `{}` in pod {pod}", command.join(" ")),
                e,
            )
        })?;
    let status = proc.take_status();
    let mut out = proc.stdout().map(|s| BufReader::new(s).lines());
    let mut err = proc.stderr().map(|s| BufReader::new(s).lines());
    let mut lines = Vec::new();
    loop {
        tokio::select! {
            l = async { match out.as_mut() { Some(o) => o.next_line().await, None => Ok(None) } }, if out.is_some() => {
                match l { Ok(Some(l)) => { on_line(Stream::Stdout, &l); lines.push((Stream::Stdout, l)); } _ => out = None }
            }
            l = async { match err.as_mut() { Some(e) => e.next_line().await, None => Ok(None) } }, if err.is_some() => {
                match l { Ok(Some(l)) => { on_line(Stream::Stderr, &l); lines.push((Stream::Stderr, l)); } _ => err = None }
            }
            else => break,
        }
    }
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    let _ = proc.join().await;
    let success = status
        .as_ref()
        .is_none_or(|s| s.status.as_deref() == Some("Success"));
    Ok(ExecResult {
        success,
        message: status.and_then(|s| s.message).filter(|_| !success),
        lines,
    })
}

/// Streams (or prints once, without `follow`) the logs of `container` in `pod`.
pub async fn logs(
    conn: &Connection,
    pod: &str,
    container: &str,
    follow: bool,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<(), ClusterError> {
    let api: Api<Pod> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let lp = LogParams {
        container: Some(container.into()),
        follow,
        ..Default::default()
    };
    let stream = api
        .log_stream(pod, &lp)
        .await
        .map_err(|e| ClusterError::api(format!("cannot read the logs of pod {pod}"), e))?;
    let mut lines = stream.lines();
    while let Some(line) = lines.try_next().await.map_err(|e| ClusterError::Exec {
        command: "logs".into(),
        pod: pod.into(),
        message: e.to_string(),
    })? {
        on_line(&line);
    }
    Ok(())
}
