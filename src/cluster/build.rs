//! OpenShift builds of git and binary components: start a build of the component's
//! BuildConfig (`buildconfigs/<name>/instantiate`, or `instantiatebinary` with the file), follow its log (`builds/<name>/log?follow=true`) and wait
//! for it to finish. Through kube-rs: a small typed `Build` so the log subresource is available
//! (`kube::api::Log`), the rest as on any resource.

use std::borrow::Cow;
use std::time::Duration;

use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, LogParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ClusterError, Connection};

/// A `build.openshift.io/v1` Build: the fields odo reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Build {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<BuildStatus>,
}

/// The status of a Build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildStatus {
    /// `New`, `Pending`, `Running`, `Complete`, `Failed`, `Error` or `Cancelled`.
    #[serde(default)]
    pub phase: Option<String>,
    /// Why, in one word (`AssembleFailed` ...).
    #[serde(default)]
    pub reason: Option<String>,
    /// Why, for people.
    #[serde(default)]
    pub message: Option<String>,
}

impl kube::Resource for Build {
    type DynamicType = ();
    type Scope = kube::core::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Build".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "build.openshift.io".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "builds".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl kube::api::Log for Build {}

/// A BuildConfig, only as the parent of the `instantiate` subresource.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct BuildConfig {
    metadata: ObjectMeta,
}

impl kube::Resource for BuildConfig {
    type DynamicType = ();
    type Scope = kube::core::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "BuildConfig".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "build.openshift.io".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "buildconfigs".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// How a build ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildOutcome {
    /// Phase `Complete`.
    Complete,
    /// Phase `Failed`, `Error` or `Cancelled`, with the status' reason and message.
    Failed {
        /// The phase.
        phase: String,
        /// `status.reason`.
        reason: Option<String>,
        /// `status.message`.
        message: Option<String>,
    },
}

/// Whether a phase is final.
pub fn outcome(status: Option<&BuildStatus>) -> Option<BuildOutcome> {
    let status = status?;
    match status.phase.as_deref()? {
        "Complete" => Some(BuildOutcome::Complete),
        p @ ("Failed" | "Error" | "Cancelled") => Some(BuildOutcome::Failed {
            phase: p.to_string(),
            reason: status.reason.clone(),
            message: status.message.clone(),
        }),
        _ => None,
    }
}

/// Starts the next build of BuildConfig `name` (what `oc start-build` does); returns the
/// Build's name.
pub async fn instantiate(conn: &Connection, name: &str) -> Result<String, ClusterError> {
    let api: Api<BuildConfig> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let request = json!({
        "kind": "BuildRequest",
        "apiVersion": "build.openshift.io/v1",
        "metadata": {"name": name},
    });
    let build: Build = api
        .create_subresource("instantiate", name, &PostParams::default(), &request)
        .await
        .map_err(|e| ClusterError::api(format!("cannot start a build of BuildConfig {name}"), e))?;
    build.metadata.name.ok_or_else(|| ClusterError::Build {
        name: name.into(),
        message: format!("the server started a build of {name} without a name"),
    })
}

/// Starts a binary build of BuildConfig `name` with one file, uploaded as `file_name`
/// (`buildconfigs/<name>/instantiatebinary?asFile=<file_name>`, what `oc start-build
/// --from-file` sends); returns the Build's name.
pub async fn instantiate_binary(
    conn: &Connection,
    name: &str,
    file_name: &str,
    data: Vec<u8>,
) -> Result<String, ClusterError> {
    let url_path = <BuildConfig as kube::Resource>::url_path(&(), Some(&conn.namespace));
    let mut req = kube::core::Request::new(url_path)
        .create_subresource("instantiatebinary", name, &PostParams::default(), data)
        .map_err(|e| {
            ClusterError::api(
                format!("cannot start a build of BuildConfig {name}"),
                kube::Error::BuildRequest(e),
            )
        })?;
    let query =
        serde_urlencoded::to_string([("asFile", file_name)]).map_err(|e| ClusterError::Build {
            name: name.into(),
            message: format!("cannot encode the file name {file_name:?}: {e}"),
        })?;
    let uri = format!("{}{query}", req.uri());
    *req.uri_mut() = uri.parse().map_err(|e| ClusterError::Build {
        name: name.into(),
        message: format!("the upload address {uri:?} is invalid: {e}"),
    })?;
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/octet-stream"),
    );
    let build: Build = conn.client.request(req).await.map_err(|e| {
        ClusterError::api(
            format!("cannot upload {file_name} to a build of BuildConfig {name}"),
            e,
        )
    })?;
    build.metadata.name.ok_or_else(|| ClusterError::Build {
        name: name.into(),
        message: format!("the server started a build of {name} without a name"),
    })
}

/// Follows the log of build `name` line by line until it ends (the build pod exited).
///
/// The server waits for the build to run before it answers, up to its own timeout (30 s on
/// OpenShift): a 504 Timeout means the build is still pending (its builder image is being
/// pulled, say), so the log is asked for again. A 400 is the server saying the build has no
/// log (it was cancelled or is in phase Error): that is not an error here, the build's phase
/// (which [`wait_for_build`] reads) says what happened.
pub async fn follow_log(
    conn: &Connection,
    name: &str,
    line: &mut (dyn FnMut(&str) + Send),
) -> Result<(), ClusterError> {
    let api: Api<Build> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let params = LogParams {
        follow: true,
        ..LogParams::default()
    };
    // Ten of the real server's waits: past that the build's own wait (with the push
    // timeout) decides.
    let mut retries = 10;
    let stream = loop {
        match api.log_stream(name, &params).await {
            Ok(stream) => break stream,
            Err(kube::Error::Api(s)) if s.code == 504 && retries > 0 => {
                retries -= 1;
                tracing::debug!(build = name, message = %s.message, "build not started yet");
            }
            Err(kube::Error::Api(s)) if s.code == 504 => {
                tracing::debug!(build = name, message = %s.message, "build still not started");
                return Ok(());
            }
            Err(kube::Error::Api(s)) if s.code == 400 => {
                tracing::debug!(build = name, message = %s.message, "build has no log");
                return Ok(());
            }
            Err(e) => {
                return Err(ClusterError::api(
                    format!("cannot read the log of build {name}"),
                    e,
                ));
            }
        }
    };
    let mut lines = stream.lines();
    while let Some(l) = lines.next().await {
        let l = l.map_err(|e| ClusterError::Build {
            name: name.into(),
            message: format!("reading the log of build {name}: {e}"),
        })?;
        line(&l);
    }
    Ok(())
}

/// Waits until build `name` reaches a final phase.
pub async fn wait_for_build(
    conn: &Connection,
    name: &str,
    timeout: Duration,
) -> Result<BuildOutcome, ClusterError> {
    let api: Api<Build> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher(api, config).default_backoff().boxed();
    let wait = async {
        while let Some(ev) = stream.try_next().await.map_err(|e| ClusterError::Build {
            name: name.into(),
            message: format!("watching build {name}: {e}"),
        })? {
            let objects = match ev {
                watcher::Event::Apply(b) | watcher::Event::InitApply(b) => vec![b],
                _ => Vec::new(),
            };
            for b in objects {
                if let Some(o) = outcome(b.status.as_ref()) {
                    return Ok(o);
                }
            }
        }
        Err(ClusterError::Build {
            name: name.into(),
            message: format!("the watch of build {name} ended"),
        })
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| ClusterError::Build {
            name: name.into(),
            message: format!("build {name} did not finish in {}", super::human(timeout)),
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(phase: &str) -> BuildStatus {
        BuildStatus {
            phase: Some(phase.into()),
            reason: Some("AssembleFailed".into()),
            message: Some("assemble exited with 1".into()),
        }
    }

    #[test]
    fn only_final_phases_end_the_wait() {
        for p in ["New", "Pending", "Running"] {
            assert_eq!(outcome(Some(&status(p))), None, "{p}");
        }
        assert_eq!(outcome(None), None);
        assert_eq!(
            outcome(Some(&status("Complete"))),
            Some(BuildOutcome::Complete)
        );
        for p in ["Failed", "Error", "Cancelled"] {
            assert_eq!(
                outcome(Some(&status(p))),
                Some(BuildOutcome::Failed {
                    phase: p.into(),
                    reason: Some("AssembleFailed".into()),
                    message: Some("assemble exited with 1".into()),
                })
            );
        }
    }
}
