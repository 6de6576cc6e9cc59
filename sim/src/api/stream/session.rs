//! The protocol-neutral core of `pods/exec` and `pods/attach`: starts the runtime session
//! with the streams the client asked for and pumps bytes between the client's protocol
//! (WebSocket or SPDY, which only translate frames) and the process.
//!
//! What this expects of a runtime: write output before the session future completes and
//! drop the `stdout`/`stderr` senders when the process ends (output still arriving up to
//! two seconds after the end is forwarded, later output is lost); treat the closing of the
//! stdin receiver as end-of-file; a session future that is dropped means the client went
//! away.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::kubelet::streams::{ExecExit, SessionIo, StreamError};
use crate::kubelet::{ContainerId, ContainerRuntime};

/// How long output still buffered after the process ended may take to arrive (a runtime
/// drops its senders when the process ends; this only bounds a runtime that does not).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// What the client asked for (`command`, `stdin`, `stdout`, `stderr`, `tty`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionRequest {
    /// The command for exec; empty for attach.
    pub command: Vec<String>,
    /// Attach to the main process instead of running a command.
    pub attach: bool,
    /// `stdin=true`.
    pub stdin: bool,
    /// `stdout=true`.
    pub stdout: bool,
    /// `stderr=true` (ignored with a tty, whose stderr is merged into stdout).
    pub stderr: bool,
    /// `tty=true`.
    pub tty: bool,
}

impl SessionRequest {
    /// Reads the parameters of an exec or attach request.
    pub fn from_params(params: &super::Query, attach: bool) -> Self {
        let tty = params.flag("tty");
        Self {
            command: params.all("command"),
            attach,
            stdin: params.flag("stdin"),
            stdout: params.flag("stdout"),
            stderr: params.flag("stderr") && !tty,
            tty,
        }
    }

    /// The 400 the API server answers for a request that makes no sense.
    pub fn validate(&self) -> Result<(), crate::error::ApiError> {
        if !self.attach && self.command.is_empty() {
            return Err(crate::error::ApiError::bad_request(
                "you must specify at least 1 command",
            ));
        }
        if !self.stdin && !self.stdout && !self.stderr {
            return Err(crate::error::ApiError::bad_request(
                "you must specify at least 1 of stdin, stdout, stderr",
            ));
        }
        Ok(())
    }
}

/// What the client sends during a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// Bytes for the process's stdin.
    Stdin(Bytes),
    /// End of stdin.
    StdinEof,
    /// Terminal size (columns, rows).
    Resize(u16, u16),
    /// The client went away: the session is abandoned.
    Gone,
}

/// What the session sends to the client, in order; `Exit` is last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output bytes.
    Stdout(Bytes),
    /// Standard error bytes.
    Stderr(Bytes),
    /// The process ended.
    Exit(ExecExit),
}

/// Starts the session in the runtime and spawns the pump. The protocol layer sends client
/// input to the returned sender and forwards what arrives on the returned receiver.
pub fn start(
    runtime: &Arc<dyn ContainerRuntime>,
    id: &ContainerId,
    req: &SessionRequest,
) -> Result<(mpsc::UnboundedSender<Inbound>, mpsc::Receiver<Output>), StreamError> {
    let (stdin_tx, stdin_rx) = req.stdin.then(|| mpsc::channel::<Bytes>(16)).unzip();
    let (stdout_tx, stdout_rx) = req.stdout.then(|| mpsc::channel::<Bytes>(16)).unzip();
    let (stderr_tx, stderr_rx) = req.stderr.then(|| mpsc::channel::<Bytes>(16)).unzip();
    let (resize_tx, resize_rx) = req.tty.then(|| mpsc::channel::<(u16, u16)>(4)).unzip();
    let io = SessionIo {
        stdin: stdin_rx,
        stdout: stdout_tx,
        stderr: stderr_tx,
        tty: req.tty,
        resize: resize_rx,
    };
    let session = if req.attach {
        runtime.attach(id, io)?
    } else {
        runtime.exec(id, req.command.clone(), io)?
    };
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    let (out_tx, out_rx) = mpsc::channel(16);
    let (gone_tx, gone_rx) = oneshot::channel();
    tokio::spawn(forward_input(in_rx, stdin_tx, resize_tx, gone_tx));
    tokio::spawn(pump(session, stdout_rx, stderr_rx, gone_rx, out_tx));
    Ok((in_tx, out_rx))
}

async fn forward_input(
    mut rx: mpsc::UnboundedReceiver<Inbound>,
    mut stdin: Option<mpsc::Sender<Bytes>>,
    resize: Option<mpsc::Sender<(u16, u16)>>,
    gone: oneshot::Sender<()>,
) {
    while let Some(msg) = rx.recv().await {
        match msg {
            Inbound::Stdin(b) => {
                if let Some(tx) = &stdin
                    && tx.send(b).await.is_err()
                {
                    stdin = None;
                }
            }
            Inbound::StdinEof => stdin = None,
            Inbound::Resize(w, h) => {
                if let Some(tx) = &resize {
                    let _ = tx.try_send((w, h));
                }
            }
            Inbound::Gone => {
                let _ = gone.send(());
                return;
            }
        }
    }
    // The protocol layer dropped its sender: the client connection ended. The session
    // keeps running to its end unless the client is gone (reported above).
}

async fn recv_opt(rx: &mut Option<mpsc::Receiver<Bytes>>) -> Option<Bytes> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn pump(
    mut session: crate::kubelet::streams::Session,
    mut stdout: Option<mpsc::Receiver<Bytes>>,
    mut stderr: Option<mpsc::Receiver<Bytes>>,
    mut gone: oneshot::Receiver<()>,
    out: mpsc::Sender<Output>,
) {
    let mut exit = None;
    let mut deadline = None::<tokio::time::Instant>;
    loop {
        if exit.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
        let grace = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            b = recv_opt(&mut stdout) => match b {
                Some(b) => if out.send(Output::Stdout(b)).await.is_err() { return },
                None => stdout = None,
            },
            b = recv_opt(&mut stderr) => match b {
                Some(b) => if out.send(Output::Stderr(b)).await.is_err() { return },
                None => stderr = None,
            },
            e = &mut session, if exit.is_none() => {
                exit = Some(e);
                deadline = Some(tokio::time::Instant::now() + DRAIN_GRACE);
            }
            _ = &mut gone => return,
            () = grace => break,
        }
    }
    if let Some(e) = exit {
        let _ = out.send(Output::Exit(e)).await;
    }
}

/// The `Status` JSON sent on the error channel (protocol v4 and later) when a session ends.
pub fn status_json(exit: &ExecExit, attach: bool) -> serde_json::Value {
    use serde_json::json;
    match exit {
        ExecExit::Code(0) => json!({"metadata": {}, "status": "Success"}),
        ExecExit::Code(_) if attach => json!({"metadata": {}, "status": "Success"}),
        ExecExit::Code(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: exit status {code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        ExecExit::StartFailed(msg) => {
            let what = if attach {
                "error attaching to container"
            } else {
                "error executing command in container"
            };
            let err = format!("{what}: {msg}");
            json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("Internal error occurred: {err}"),
                "reason": "InternalError",
                "details": {"causes": [{"message": err}]},
                "code": 500,
            })
        }
    }
}

/// The plain-text error the pre-v4 protocols send on the error channel (nothing on success).
pub fn status_text(exit: &ExecExit, attach: bool) -> Option<String> {
    let status = status_json(exit, attach);
    status
        .get("message")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_what_kubectl_reads() {
        let ok = status_json(&ExecExit::Code(0), false);
        assert_eq!(ok.to_string(), r#"{"metadata":{},"status":"Success"}"#);
        let failed = status_json(&ExecExit::Code(3), false);
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(failed["details"]["causes"][0]["message"], "3");
        assert_eq!(status_text(&ExecExit::Code(0), false), None);
        assert_eq!(
            status_json(&ExecExit::Code(3), true)["status"],
            "Success",
            "attach reports success like the kubelet"
        );
        let nope = status_json(
            &ExecExit::StartFailed("exec: \"x\": not found".into()),
            false,
        );
        assert_eq!(nope["code"], 500);
    }
}
