//! Running a command in the target container: the [`RemoteExec`] trait and a local implementation.
//!
//! The sync only needs "run this argv, optionally feed this byte stream to its stdin, give me
//! the exit code and output". [`crate::sync::PodExec`] does it over the Kubernetes exec
//! subresource; [`LocalExec`] runs the same argv as a local process, which is how tests prove that
//! the archive extracts correctly with the system's GNU tar and that `rm` gets the right paths.

use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// A byte stream fed to a command's standard input.
pub type ExecStdin = Pin<Box<dyn AsyncRead + Send>>;

/// Exit status and captured output of a finished command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code (0 = success).
    pub exit_code: i32,
    /// Everything the command wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything the command wrote to stderr.
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Whether the command exited with 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// Stderr as text, trimmed (for error messages).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// Why a command could not be run at all (as opposed to running and failing).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The program could not be started.
    #[error("cannot start {program}: {cause}")]
    Spawn {
        /// argv[0].
        program: String,
        /// I/O error.
        cause: std::io::Error,
    },
    /// Reading or writing the command's streams failed.
    #[error("I/O with {program} failed: {cause}")]
    Io {
        /// argv[0].
        program: String,
        /// I/O error.
        cause: std::io::Error,
    },
    /// The connection to the container failed (API server, WebSocket, missing status).
    #[error("exec in pod {pod} failed: {message}")]
    Transport {
        /// Pod name.
        pod: String,
        /// What went wrong.
        message: String,
    },
    /// The command line is empty.
    #[error("empty command")]
    EmptyCommand,
}

/// Runs one command in the sync target (a container, or a local directory in tests).
///
/// Object-safe: the sync takes `&dyn RemoteExec`.
pub trait RemoteExec: Send + Sync {
    /// Runs `command` (argv, no shell), streaming `stdin` into it when given, and waits for it.
    fn exec<'a>(
        &'a self,
        command: &'a [String],
        stdin: Option<ExecStdin>,
    ) -> BoxFuture<'a, Result<ExecOutput, ExecError>>;
}

/// Runs commands as local processes (tokio), optionally in a working directory.
#[derive(Debug, Clone, Default)]
pub struct LocalExec {
    /// Working directory of the commands; `None` = the current one.
    pub cwd: Option<PathBuf>,
}

impl LocalExec {
    /// Local commands run in the current directory.
    pub fn new() -> Self {
        Self::default()
    }
}

impl RemoteExec for LocalExec {
    fn exec<'a>(
        &'a self,
        command: &'a [String],
        stdin: Option<ExecStdin>,
    ) -> BoxFuture<'a, Result<ExecOutput, ExecError>> {
        Box::pin(async move {
            let (program, args) = command.split_first().ok_or(ExecError::EmptyCommand)?;
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(args)
                .stdin(if stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            if let Some(cwd) = &self.cwd {
                cmd.current_dir(cwd);
            }
            let io_err = |cause| ExecError::Io {
                program: program.clone(),
                cause,
            };
            let mut child = cmd.spawn().map_err(|cause| ExecError::Spawn {
                program: program.clone(),
                cause,
            })?;
            let child_stdin = child.stdin.take();
            let mut child_out = child.stdout.take();
            let mut child_err = child.stderr.take();
            let feed = async move {
                if let (Some(mut src), Some(mut dst)) = (stdin, child_stdin) {
                    // A command that exits without reading all its input closes the pipe; that is
                    // reported by its exit code, not as an I/O error here.
                    match tokio::io::copy(&mut src, &mut dst).await {
                        Ok(_) => dst.shutdown().await.or_else(ignore_broken_pipe),
                        Err(e) => ignore_broken_pipe(e),
                    }
                } else {
                    Ok(())
                }
            };
            let read_out = read_all(child_out.as_mut());
            let read_err = read_all(child_err.as_mut());
            let (fed, out, err) = tokio::join!(feed, read_out, read_err);
            let status = child.wait().await.map_err(io_err)?;
            fed.map_err(io_err)?;
            Ok(ExecOutput {
                exit_code: status.code().unwrap_or(-1),
                stdout: out.map_err(io_err)?,
                stderr: err.map_err(io_err)?,
            })
        })
    }
}

fn ignore_broken_pipe(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}

async fn read_all<R: AsyncRead + Unpin>(r: Option<&mut R>) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(r) = r {
        r.read_to_end(&mut buf).await?;
    }
    Ok(buf)
}
