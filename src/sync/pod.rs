//! [`PodExec`]: [`RemoteExec`] over the Kubernetes `pods/exec` subresource (kube-rs, WebSocket).
//!
//! stdin is streamed chunk by chunk into the pod (nothing is buffered whole); closing our side
//! sends the end-of-stdin signal, which is what lets `tar xf -` finish. The exit code comes from
//! the `Status` the API server sends on the error channel (`NonZeroExitCode` carries it as the
//! `ExitCode` cause).

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::exec::{ExecError, ExecOutput, ExecStdin, RemoteExec};

/// Runs commands in one container of one pod.
#[derive(Clone)]
pub struct PodExec {
    api: Api<Pod>,
    pod: String,
    container: Option<String>,
}

impl std::fmt::Debug for PodExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodExec")
            .field("pod", &self.pod)
            .field("container", &self.container)
            .finish()
    }
}

impl PodExec {
    /// Exec target: pod `pod` reached through `api` (namespaced), container `container`
    /// (`None` = the pod's only or default container).
    pub fn new(api: Api<Pod>, pod: impl Into<String>, container: Option<String>) -> Self {
        Self {
            api,
            pod: pod.into(),
            container,
        }
    }

    fn transport(&self, message: impl std::fmt::Display) -> ExecError {
        ExecError::Transport {
            pod: self.pod.clone(),
            message: message.to_string(),
        }
    }
}

/// Exit code carried by an exec `Status` (`Success` = 0).
pub fn exit_code_from_status(status: &Status) -> Result<i32, String> {
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let from_causes = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|causes| {
            causes
                .iter()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
        })
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.trim().parse::<i32>().ok());
    match (from_causes, status.reason.as_deref()) {
        (Some(code), _) => Ok(code),
        (None, Some("NonZeroExitCode")) => Ok(1),
        _ => Err(status
            .message
            .clone()
            .unwrap_or_else(|| format!("{status:?}"))),
    }
}

impl RemoteExec for PodExec {
    fn exec<'a>(
        &'a self,
        command: &'a [String],
        stdin: Option<ExecStdin>,
    ) -> BoxFuture<'a, Result<ExecOutput, ExecError>> {
        Box::pin(async move {
            if command.is_empty() {
                return Err(ExecError::EmptyCommand);
            }
            let mut ap = AttachParams::default()
                .stdin(stdin.is_some())
                .stdout(true)
                .stderr(true);
            if let Some(c) = &self.container {
                ap = ap.container(c.clone());
            }
            let mut proc = self
                .api
                .exec(&self.pod, command.to_vec(), &ap)
                .await
                .map_err(|e| self.transport(e))?;
            let status = proc.take_status();
            let writer = proc.stdin();
            let mut out_r = proc.stdout();
            let mut err_r = proc.stderr();
            let program = command[0].clone();
            let feed = async {
                if let (Some(mut src), Some(mut dst)) = (stdin, writer) {
                    let copied = tokio::io::copy(&mut src, &mut dst).await;
                    let _ = dst.shutdown().await;
                    drop(dst);
                    copied.map(|_| ())
                } else {
                    Ok(())
                }
            };
            let read_out = async {
                let mut v = Vec::new();
                if let Some(r) = out_r.as_mut() {
                    r.read_to_end(&mut v).await?;
                }
                Ok::<_, std::io::Error>(v)
            };
            let read_err = async {
                let mut v = Vec::new();
                if let Some(r) = err_r.as_mut() {
                    r.read_to_end(&mut v).await?;
                }
                Ok::<_, std::io::Error>(v)
            };
            let (fed, stdout, stderr) = tokio::join!(feed, read_out, read_err);
            let status = match status {
                Some(s) => s.await,
                None => None,
            };
            let joined = proc.join().await;
            let io = |cause| ExecError::Io {
                program: program.clone(),
                cause,
            };
            let (stdout, stderr) = (stdout.map_err(io)?, stderr.map_err(io)?);
            let exit_code = match status {
                Some(s) => exit_code_from_status(&s).map_err(|m| self.transport(m))?,
                None => {
                    let why = match joined {
                        Err(e) => e.to_string(),
                        Ok(()) => "the connection closed without an exit status".into(),
                    };
                    return Err(self.transport(why));
                }
            };
            if let Err(cause) = fed
                && exit_code == 0
            {
                return Err(io(cause));
            }
            Ok(ExecOutput {
                exit_code,
                stdout,
                stderr,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

    #[test]
    fn exit_codes_from_status() {
        let ok = Status {
            status: Some("Success".into()),
            ..Default::default()
        };
        assert_eq!(exit_code_from_status(&ok), Ok(0));
        let failed = Status {
            status: Some("Failure".into()),
            reason: Some("NonZeroExitCode".into()),
            details: Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".into()),
                    message: Some("2".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(exit_code_from_status(&failed), Ok(2));
        let broken = Status {
            status: Some("Failure".into()),
            message: Some("container not found".into()),
            ..Default::default()
        };
        assert_eq!(
            exit_code_from_status(&broken),
            Err("container not found".into())
        );
    }
}
