//! The scenarios, written once against [`Ctx`] (and so against `&dyn Backend`), and the list
//! every test runs ([`all`]).
//!
//! - [`api`]: what the API alone decides (object lifecycles, allocation, namespace
//!   termination, watch semantics).
//! - [`seeds`]: the examples of the seed documents (RC/RS self-healing, headless Service
//!   endpoints, init containers waiting on Services, a ConfigMap file through `subPath`,
//!   restart back-off, init failures under each restart policy).
//! - [`odo`]: odo's own workflow (create+push per language, incremental push, pod replaced,
//!   url and storage, delete).

pub mod api;
pub mod odo;
pub mod seeds;

use std::time::Duration;

use anyhow::Context as _;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;

use crate::harness::{Ctx, Scenario, StepResult};

/// Every scenario, in the order suites run them.
pub fn all() -> Vec<Scenario> {
    let mut v = api::scenarios();
    v.extend(seeds::scenarios());
    v.extend(odo::scenarios());
    v
}

/// The scenario called `name`.
pub fn by_name(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

/// How long a scenario waits for something a controller or kubelet does (cluster time).
pub const CONVERGE: Duration = Duration::from_secs(180);

/// A watch on one object by name.
pub fn named(name: &str) -> watcher::Config {
    watcher::Config::default().fields(&format!("metadata.name={name}"))
}

/// A watch on objects with a label selector.
pub fn labelled(selector: &str) -> watcher::Config {
    watcher::Config::default().labels(selector)
}

/// Parses a manifest written as YAML (the seed documents' own text).
pub fn manifest<K: DeserializeOwned>(yaml: &str) -> StepResult<K> {
    Ok(serde_yaml::from_str(yaml).context("parsing a scenario manifest")?)
}

/// Fails the scenario with `msg` unless `cond` holds.
pub fn check(cond: bool, msg: impl FnOnce() -> String) -> StepResult {
    if cond {
        Ok(())
    } else {
        Err(anyhow::anyhow!(msg()).into())
    }
}

/// Runs `cmd` in `container` of `pod` and returns its stdout (needs exec).
pub async fn exec(ctx: &Ctx<'_>, pod: &str, container: &str, cmd: &[&str]) -> StepResult<String> {
    use tokio::io::AsyncReadExt;
    let api = ctx.api::<k8s_openapi::api::core::v1::Pod>();
    let params = kube::api::AttachParams::default()
        .container(container)
        .stdout(true)
        .stderr(false);
    let mut proc = api
        .exec(pod, cmd.iter().copied(), &params)
        .await
        .with_context(|| format!("exec {cmd:?} in {pod}/{container}"))?;
    let mut out = String::new();
    if let Some(mut stdout) = proc.stdout() {
        stdout
            .read_to_string(&mut out)
            .await
            .with_context(|| format!("reading the output of {cmd:?} in {pod}/{container}"))?;
    }
    proc.join()
        .await
        .with_context(|| format!("waiting for {cmd:?} in {pod}/{container}"))?;
    Ok(out)
}

/// Reads a file in a container and records it in the trace as a file probe.
pub async fn probe_file(
    ctx: &Ctx<'_>,
    pod: &str,
    container: &str,
    path: &str,
) -> StepResult<String> {
    ctx.require(crate::backend::Capability::Exec)?;
    let content = exec(ctx, pod, container, &["cat", path]).await?;
    ctx.trace.log(serde_json::json!({
        "probe": { "pod": pod, "container": container, "path": path, "content": content }
    }));
    Ok(content)
}

/// Whether a pod is Running with every container ready.
pub fn pod_running(p: &k8s_openapi::api::core::v1::Pod) -> bool {
    let Some(status) = &p.status else {
        return false;
    };
    status.phase.as_deref() == Some("Running")
        && status
            .container_statuses
            .as_ref()
            .is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c.ready))
        && p.metadata.deletion_timestamp.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_are_unique() {
        let mut names: Vec<&str> = all().iter().map(|s| s.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
        assert!(by_name("configmap_lifecycle").is_some());
        assert!(by_name("nope").is_none());
    }
}
