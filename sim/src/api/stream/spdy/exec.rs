//! Exec and attach over SPDY (`v4.channel.k8s.io` down to `channel.k8s.io`): the client
//! opens one stream per `streamtype` (error, stdin, stdout, stderr, resize); the server
//! writes output on them, half-closes them when the process ends and reports the end on the
//! error stream (a `Status` in v4, plain text before).

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use super::conn::{self, Conn, Incoming};
use super::frame::header;
use crate::api::stream::session::{Inbound, Output, SessionRequest, status_json, status_text};

/// How long the client may take to open its streams (the kubelet's stream creation timeout).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The SPDY protocols of remote commands, best first, with their version numbers.
pub const PROTOCOLS: &[(&str, u8)] = &[
    ("v4.channel.k8s.io", 4),
    ("v3.channel.k8s.io", 3),
    ("v2.channel.k8s.io", 2),
    ("channel.k8s.io", 1),
];

#[derive(Debug, Default)]
struct Streams {
    error: Option<u32>,
    stdout: Option<u32>,
    stderr: Option<u32>,
    stdin: bool,
    resize: bool,
}

impl Streams {
    fn complete(&self, req: &SessionRequest, version: u8) -> bool {
        self.error.is_some()
            && (!req.stdout || self.stdout.is_some())
            && (!req.stderr || self.stderr.is_some())
            && (!req.stdin || self.stdin)
            && (!(req.tty && version >= 3) || self.resize)
    }
}

fn forward_stdin(mut data: mpsc::UnboundedReceiver<Bytes>, input: mpsc::UnboundedSender<Inbound>) {
    tokio::spawn(async move {
        while let Some(b) = data.recv().await {
            let _ = input.send(Inbound::Stdin(b));
        }
        let _ = input.send(Inbound::StdinEof);
    });
}

fn forward_resize(mut data: mpsc::UnboundedReceiver<Bytes>, input: mpsc::UnboundedSender<Inbound>) {
    tokio::spawn(async move {
        let mut pending = Vec::new();
        while let Some(b) = data.recv().await {
            pending.extend_from_slice(&b);
            let mut it =
                serde_json::Deserializer::from_slice(&pending).into_iter::<serde_json::Value>();
            let mut used = 0;
            while let Some(Ok(v)) = it.next() {
                used = it.byte_offset();
                let dim = |k: &str| {
                    v.get(k)
                        .and_then(serde_json::Value::as_u64)
                        .and_then(|n| u16::try_from(n).ok())
                };
                if let (Some(w), Some(h)) = (dim("Width"), dim("Height")) {
                    let _ = input.send(Inbound::Resize(w, h));
                }
            }
            pending.drain(..used);
        }
    });
}

/// Accepts one stream into `streams`.
fn accept(s: Incoming, streams: &mut Streams, input: &mpsc::UnboundedSender<Inbound>) {
    match header(&s.headers, "streamtype").unwrap_or_default() {
        "error" => streams.error = Some(s.id),
        "stdout" => streams.stdout = Some(s.id),
        "stderr" => streams.stderr = Some(s.id),
        "stdin" => {
            streams.stdin = true;
            forward_stdin(s.data, input.clone());
        }
        "resize" => {
            streams.resize = true;
            forward_resize(s.data, input.clone());
        }
        _ => {}
    }
}

/// Runs an exec or attach session on a SPDY connection over `io`.
pub async fn run<IO>(
    io: IO,
    version: u8,
    req: SessionRequest,
    input: mpsc::UnboundedSender<Inbound>,
    mut output: mpsc::Receiver<Output>,
) where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (conn, mut incoming) = conn::start(io);
    let mut streams = Streams::default();
    let collect = async {
        while !streams.complete(&req, version) {
            match incoming.recv().await {
                Some(s) => accept(s, &mut streams, &input),
                None => return false,
            }
        }
        true
    };
    if !matches!(
        tokio::time::timeout(STREAM_CREATION_TIMEOUT, collect).await,
        Ok(true)
    ) {
        let _ = input.send(Inbound::Gone);
        return;
    }
    // The client hanging up abandons the session.
    let gone = input.clone();
    let watcher = tokio::spawn(async move {
        while incoming.recv().await.is_some() {}
        let _ = gone.send(Inbound::Gone);
    });
    while let Some(out) = output.recv().await {
        let sent = match out {
            Output::Stdout(b) => streams.stdout.is_none_or(|id| conn.data(id, &b)),
            Output::Stderr(b) => streams.stderr.is_none_or(|id| conn.data(id, &b)),
            Output::Exit(exit) => {
                finish(&conn, &streams, version, &req, &exit);
                break;
            }
        };
        if !sent {
            break;
        }
    }
    // The client closes the connection once it has read everything.
    let _ = tokio::time::timeout(Duration::from_secs(10), watcher).await;
}

fn finish(
    conn: &Conn,
    streams: &Streams,
    version: u8,
    req: &SessionRequest,
    exit: &crate::kubelet::streams::ExecExit,
) {
    for id in [streams.stdout, streams.stderr].into_iter().flatten() {
        conn.fin(id);
    }
    if let Some(id) = streams.error {
        let status = if version >= 4 {
            Some(status_json(exit, req.attach).to_string())
        } else {
            status_text(exit, req.attach)
        };
        if let Some(s) = status {
            conn.data(id, s.as_bytes());
        }
        conn.fin(id);
    }
}
