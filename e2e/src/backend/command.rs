//! Running external commands (`kind`, `docker`) for the backends: each is logged, its stderr
//! is kept in the error when it fails, and a missing executable names what to install.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A failed external command.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The program is not installed (or not on PATH).
    #[error("`{program}` was not found on PATH: {install}")]
    Missing {
        /// The program.
        program: String,
        /// What to install.
        install: &'static str,
    },
    /// The program ran and failed.
    #[error("`{command}` failed ({status}); its stderr:\n{stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// The exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The program could not be started for another reason.
    #[error("cannot run `{command}`: {source}")]
    Io {
        /// The command line.
        command: String,
        /// The error.
        source: std::io::Error,
    },
}

fn install_hint(program: &Path) -> &'static str {
    match program.file_name().and_then(|n| n.to_str()) {
        Some("docker") => {
            "install Docker Engine (or Podman with the docker CLI shim) and make sure the daemon is running"
        }
        _ => {
            "install kind (`go install sigs.k8s.io/kind@latest`, or your package manager) and put it on PATH, or set ODO_E2E_KIND_BIN"
        }
    }
}

/// The command line as text (for logs and errors).
pub(crate) fn render(program: &Path, args: &[OsString]) -> String {
    std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a command to completion, logging it; returns its stdout.
pub fn run_command(
    program: &Path,
    args: &[OsString],
    env: &[(OsString, OsString)],
) -> Result<String, CommandError> {
    let command = render(program, args);
    tracing::info!(target: "e2e::kind", "$ {command}");
    eprintln!("[e2e] $ {command}");
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                CommandError::Missing {
                    program: program.display().to_string(),
                    install: install_hint(program),
                }
            } else {
                CommandError::Io {
                    command: command.clone(),
                    source,
                }
            }
        })?;
    if !out.status.success() {
        return Err(CommandError::Failed {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// [`run_command`] on the blocking pool, for async callers.
pub(crate) async fn run_blocking(
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
) -> Result<String, CommandError> {
    let command = render(&program, &args);
    tokio::task::spawn_blocking(move || run_command(&program, &args, &env))
        .await
        .unwrap_or_else(|e| {
            Err(CommandError::Io {
                command,
                source: std::io::Error::other(e.to_string()),
            })
        })
}
