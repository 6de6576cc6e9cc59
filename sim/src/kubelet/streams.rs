//! The streaming seam between the API server and the container runtime: what `pods/exec`,
//! `pods/attach`, `pods/log` and `pods/portforward` ask of a runtime.
//!
//! The API layer owns the wire protocols (WebSocket channel protocols, SPDY, chunked log
//! responses) and resolves which container instance a request means from the stored pod
//! (`ContainerId::instance` is the container's `restartCount`, minus one for `previous=true`).
//! The runtime owns the processes and the log buffers. Everything crosses this seam as
//! channels of bytes so neither side knows the other's framing.

use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use jiff::Timestamp;
use tokio::sync::mpsc;

/// Which output stream a chunk or log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamKind {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The byte streams of one exec or attach session, as the client asked for them.
///
/// A `None` stream was not requested (`stdin=false`, `stderr=false`, ...). Closing the stdin
/// sender is end-of-file. With `tty`, stderr is merged into stdout as a terminal does.
#[derive(Debug)]
pub struct SessionIo {
    /// Bytes the client writes to the process.
    pub stdin: Option<mpsc::Receiver<Bytes>>,
    /// Where the process's standard output goes.
    pub stdout: Option<mpsc::Sender<Bytes>>,
    /// Where the process's standard error goes.
    pub stderr: Option<mpsc::Sender<Bytes>>,
    /// Whether a terminal was requested.
    pub tty: bool,
    /// Terminal size changes (columns, rows), when `tty`.
    pub resize: Option<mpsc::Receiver<(u16, u16)>>,
}

/// How an exec session ended, reported on the error channel as a `Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecExit {
    /// The command ran and exited with this code (0 is `Success`, anything else is the
    /// `NonZeroExitCode` failure with an `ExitCode` cause).
    Code(i32),
    /// The command could not be started (not found, not executable): the message is what
    /// the container runtime says, e.g. `exec: "nope": executable file not found in $PATH`.
    StartFailed(String),
}

/// One line of a container log, as the runtime recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the line was written (virtual time).
    pub time: Timestamp,
    /// Stdout or stderr.
    pub stream: StreamKind,
    /// The bytes of the line, including its trailing newline when it had one.
    pub bytes: Bytes,
}

/// The log of one container instance: what was written so far and, while the instance is
/// running, the lines that follow.
#[derive(Debug)]
pub struct LogStream {
    /// Lines written so far, oldest first.
    pub history: Vec<LogLine>,
    /// New lines as they are written; `None` when the instance has already terminated. The
    /// channel closes when the instance terminates (that is when `kubectl logs -f` returns).
    pub follow: Option<mpsc::UnboundedReceiver<LogLine>>,
}

/// Why a streaming request cannot be served by the runtime. The API layer maps these to
/// `Status` errors (`NotFound` → 404; the others → 400 `BadRequest`, as the kubelet
/// answers through the API server).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The runtime has no such container instance (e.g. `previous` for a container that
    /// never restarted: `previous terminated container "c" in pod "p" not found`).
    #[error("{0}")]
    NotFound(String),
    /// The container exists but is not running (exec/attach need a running container:
    /// `container c is not running`, or still waiting: `container "c" in pod "p" is waiting to start: ContainerCreating`).
    #[error("{0}")]
    NotRunning(String),
    /// Nothing listens on the port asked for in a port-forward.
    #[error("{0}")]
    PortClosed(String),
    /// This runtime does not model the operation at all.
    #[error("{0}")]
    Unsupported(String),
}

/// A running exec or attach session: completes when the process (or the attachment) ends.
pub type Session = BoxFuture<'static, ExecExit>;

/// How long the API layer waits for a port-forward connection to be accepted.
pub const PORT_FORWARD_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
