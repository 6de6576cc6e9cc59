//! The log subresources of the OpenShift flavor, answered from pod logs as
//! openshift-apiserver's `buildlog` and `deploylog` REST storage answer them.
//!
//! - `builds/<name>/log` (`BuildLogOptions`, `oc logs build/<name>`): the log of the build
//!   pod's container. `previous=true` means the previous build of the same BuildConfig
//!   (`<bc>-<n-1>`, 404 when it does not exist), not a previous container. `nowait=true`
//!   answers an empty log for a build whose pod has not started instead of waiting. The
//!   real server only validates `version` (greater than 0, not with `previous`) and
//!   otherwise ignores it on a build's log: `oc logs bc/<name> --version=N` names the
//!   build `<bc>-<N>` itself. A build that is New or Pending is waited for (with or
//!   without `follow`) until it runs or ends, up to 30 s of real time as the real server's
//!   timeout (then a 504 Timeout); a Cancelled build, or one in phase Error, has no log
//!   (400 with the real server's wording, before or after that wait).
//! - `deploymentconfigs/<name>/log` (`DeploymentLogOptions`, `oc logs dc/<name>`): the
//!   deployment of `version` (default the latest; `previous` the one before it): while it
//!   is New or Pending the request waits for it (or answers an empty log with `nowait`);
//!   Running or Failed, the log of its deployer pod `<rc>-deploy`; Complete, the log of one
//!   of its pods (running ones first). No deployment yet, no previous one or a version past
//!   the latest are 400s with the real server's wording.
//!
//! Both pass the pod log options (`container`, `follow`, `timestamps`, `tailLines`,
//! `sinceSeconds`, `sinceTime`, `limitBytes`) on to [`super::log::serve`].

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use serde_json::Value;

use super::{Query, log};
use crate::api::path::Target;
use crate::controllers::openshift::deploymentconfig::phase_of;
use crate::error::{ApiError, ApiResult, Cause};
use crate::kubelet::ContainerRuntime;
use crate::resources::TypeId;
use crate::store::{ListQuery, Store, WatchQuery, meta};

/// The options of these endpoints that are not pod log options.
const OWN_OPTIONS: &[&str] = &["version", "previous", "nowait"];

/// Whether `target` is `builds/<name>/log` or `deploymentconfigs/<name>/log`.
pub fn is_openshift_log(target: &Target) -> bool {
    target.name.is_some()
        && target.subresource.as_deref() == Some("log")
        && matches!(
            (target.rt.group.as_str(), target.rt.plural.as_str()),
            ("build.openshift.io", "builds") | ("apps.openshift.io", "deploymentconfigs")
        )
}

/// Serves `GET builds/<name>/log` or `GET deploymentconfigs/<name>/log`.
pub async fn serve(
    store: &Store,
    runtime: Option<Arc<dyn ContainerRuntime>>,
    target: &Target,
    query: &Query,
) -> ApiResult<Response> {
    if target.rt.plural == "builds" {
        build_log(store, runtime, target, query).await
    } else {
        deployment_log(store, runtime, target, query).await
    }
}

/// `version` of the options, validated as `ValidateBuildLogOptions` and
/// `ValidateDeploymentLogOptions` do (422 of `kind`, naming the field).
fn version_option(query: &Query, group: &str, kind: &str, what: &str) -> ApiResult<Option<i64>> {
    let version = match query.get("version") {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!(
                "unable to parse \"version\": strconv.ParseInt: parsing {raw:?}: invalid syntax"
            ))
        })?),
    };
    let mut causes = Vec::new();
    if let Some(v) = version.filter(|v| *v <= 0) {
        causes.push(Cause::invalid(
            "version",
            &v.to_string(),
            format!("{what} version must be greater than 0"),
        ));
    }
    if version.is_some() && query.flag("previous") {
        causes.push(Cause::invalid(
            "previous",
            "true",
            "cannot use previous when a version is specified",
        ));
    }
    if causes.is_empty() {
        Ok(version)
    } else {
        Err(ApiError::invalid(group, kind, "", causes))
    }
}

fn pod_tid(store: &Store) -> ApiResult<TypeId> {
    store
        .type_id_of::<k8s_openapi::api::core::v1::Pod>()
        .ok_or_else(|| ApiError::internal("pods are not served"))
}

/// Watches of pods and of one other type in a namespace: what a waiting log request
/// sleeps on (store events, no clock).
struct Changes {
    pods: tokio::sync::mpsc::Receiver<crate::store::WatchItem>,
    other: tokio::sync::mpsc::Receiver<crate::store::WatchItem>,
}

impl Changes {
    /// Opened before the caller's next check, so no change in between is missed.
    fn open(store: &Store, ns: &str, other: TypeId) -> ApiResult<Self> {
        let q = WatchQuery::default();
        Ok(Self {
            pods: store.watch(pod_tid(store)?, Some(ns), &q)?.rx,
            other: store.watch(other, Some(ns), &q)?.rx,
        })
    }

    /// Waits for the next change of either.
    async fn next(&mut self) -> ApiResult<()> {
        tokio::select! {
            p = self.pods.recv() => p.map(|_| ()).ok_or_else(|| ApiError::internal("the pod watch ended")),
            o = self.other.recv() => o.map(|_| ()).ok_or_else(|| ApiError::internal("the watch ended")),
        }
    }
}

fn annotation<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

fn empty_log() -> Response {
    log::text(Body::empty())
}

/// The build whose log is asked for: `name`, or with `previous` the build before it of the
/// same BuildConfig (by `openshift.io/build.number`), as the real server finds it.
fn build_to_read(store: &Store, target: &Target, previous: bool) -> ApiResult<String> {
    let name = target.name.as_deref().unwrap_or_default();
    let ns = target.namespace.as_deref().unwrap_or_default();
    let build = store.get(target.tid, ns, name)?;
    if !previous {
        return Ok(name.to_string());
    }
    let number: i64 = annotation(&build, crate::controllers::openshift::build::BUILD_NUMBER)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let config = annotation(&build, crate::controllers::openshift::build::BUILD_CONFIG)
        .or_else(|| {
            build
                .pointer("/metadata/labels/buildconfig")
                .and_then(Value::as_str)
        })
        .unwrap_or_default();
    let previous_name = format!("{config}-{}", number - 1);
    store.get(target.tid, ns, &previous_name)?;
    Ok(previous_name)
}

/// How long a build log request waits for a New or Pending build to run, as
/// openshift-apiserver's `buildlog` storage (`defaultTimeout`).
const BUILD_START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The real server's `buildutil.NoBuildLogsMessage`.
const NO_BUILD_LOGS: &str = "No logs are available.";

/// What a build log request does next with the build as it is now.
enum BuildLog {
    /// Serve the log of this pod.
    Serve(Arc<Value>),
    /// The build (or its pod) has not started yet: wait for a change.
    Wait,
}

/// Decides what to do with build `name`'s log request now. `waited` says whether the
/// request already waited for it to start: the real server words a Cancelled or Error
/// build differently then.
fn build_log_pod(
    store: &Store,
    tid: TypeId,
    ns: &str,
    name: &str,
    waited: bool,
) -> ApiResult<BuildLog> {
    let build = store.get(tid, ns, name)?;
    let pod_name = annotation(&build, "openshift.io/build.pod-name")
        .map_or_else(|| format!("{name}-build"), str::to_string);
    let phase = build
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("New");
    let refused = match phase {
        "Cancelled" => Some("was cancelled"),
        "Error" if waited => Some("encountered an error"),
        "Error" => Some("is in an error state"),
        _ => None,
    };
    if let Some(what) = refused {
        let sep = if waited { ':' } else { '.' };
        return Err(ApiError::bad_request(format!(
            "build {name} {what}{sep} {NO_BUILD_LOGS}"
        )));
    }
    if matches!(phase, "New" | "Pending") {
        return Ok(BuildLog::Wait);
    }
    let pod = store.get(pod_tid(store)?, ns, &pod_name).ok();
    let started = pod.as_ref().is_some_and(|p| {
        p.pointer("/status/containerStatuses/0/state")
            .is_some_and(|s| s.get("running").is_some() || s.get("terminated").is_some())
    });
    let over = matches!(phase, "Complete" | "Failed");
    match pod {
        Some(p) if started || over => Ok(BuildLog::Serve(p)),
        // As the real server's get of the build pod fails.
        None if over => Err(ApiError::bad_request(format!(
            "pods \"{pod_name}\" not found"
        ))),
        // Running by its phase, but the container's start is not in the pod yet.
        _ => Ok(BuildLog::Wait),
    }
}

async fn build_log(
    store: &Store,
    runtime: Option<Arc<dyn ContainerRuntime>>,
    target: &Target,
    query: &Query,
) -> ApiResult<Response> {
    version_option(query, "build.openshift.io", "BuildLogOptions", "build")?;
    let ns = target.namespace.as_deref().unwrap_or_default();
    let name = build_to_read(store, target, query.flag("previous"))?;
    let pod_query = query.without(OWN_OPTIONS);
    let deadline = tokio::time::Instant::now() + BUILD_START_TIMEOUT;
    let mut changes: Option<Changes> = None;
    // Set once a change was waited for (not by the re-check right after subscribing).
    let mut waited = false;
    loop {
        match build_log_pod(store, target.tid, ns, &name, waited)? {
            BuildLog::Serve(pod) => return log::serve(runtime, &pod, &pod_query, store.now()),
            BuildLog::Wait if query.flag("nowait") => return Ok(empty_log()),
            BuildLog::Wait => {}
        }
        match &mut changes {
            None => changes = Some(Changes::open(store, ns, target.tid)?),
            Some(c) => match tokio::time::timeout_at(deadline, c.next()).await {
                Ok(changed) => {
                    changed?;
                    waited = true;
                }
                Err(_) => {
                    return Err(ApiError::timeout(format!(
                        "timed out waiting for build {name} to start after {}s",
                        BUILD_START_TIMEOUT.as_secs()
                    )));
                }
            },
        }
    }
}

/// The pod to read a deployment's log from, or None while the deployment is New or
/// Pending.
fn deployment_log_pod(
    store: &Store,
    ns: &str,
    rc_tid: TypeId,
    rc_name: &str,
) -> ApiResult<Option<Arc<Value>>> {
    let rc = store.get(rc_tid, ns, rc_name)?;
    let pods = pod_tid(store)?;
    match phase_of(&rc) {
        "New" | "Pending" => Ok(None),
        "Complete" => {
            let selector = rc
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let all = store.list(pods, Some(ns), &ListQuery::default())?.items;
            let mut mine: Vec<Arc<Value>> = all
                .into_iter()
                .filter(|p| {
                    !selector.is_empty()
                        && !meta::is_deleting(p)
                        && selector.iter().all(|(k, v)| {
                            p.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v)
                        })
                })
                .collect();
            // Running pods first, then the oldest (a stand-in for kubectl's ByLogging).
            mine.sort_by_key(|p| {
                let running = p.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
                (
                    !running,
                    p.pointer("/metadata/creationTimestamp")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    meta::name(p).to_string(),
                )
            });
            mine.into_iter().next().map(Some).ok_or_else(|| {
                // The real server waits for a pod until its timeout and then fails so.
                ApiError::internal(format!(
                    "deployment {ns}/{rc_name} is complete and has no pod to read the log of"
                ))
            })
        }
        _ => store.get(pods, ns, &format!("{rc_name}-deploy")).map(Some),
    }
}

async fn deployment_log(
    store: &Store,
    runtime: Option<Arc<dyn ContainerRuntime>>,
    target: &Target,
    query: &Query,
) -> ApiResult<Response> {
    let version = version_option(
        query,
        "apps.openshift.io",
        "DeploymentLogOptions",
        "deployment",
    )?;
    let name = target.name.as_deref().unwrap_or_default();
    let ns = target.namespace.as_deref().unwrap_or_default();
    let dc = store.get(target.tid, ns, name)?;
    let latest = dc
        .pointer("/status/latestVersion")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if latest == 0 {
        return Err(ApiError::bad_request(format!(
            "no deployment exists for deploymentConfig \"{name}\""
        )));
    }
    let desired = match version {
        None if query.flag("previous") => {
            if latest - 1 < 1 {
                return Err(ApiError::bad_request(format!(
                    "no previous deployment exists for deploymentConfig \"{name}\""
                )));
            }
            latest - 1
        }
        None => latest,
        Some(v) if v > latest => {
            return Err(ApiError::bad_request(format!(
                "invalid version for deploymentConfig \"{name}\": {v}"
            )));
        }
        Some(v) => v,
    };
    let rc_tid = store
        .type_id_of::<k8s_openapi::api::core::v1::ReplicationController>()
        .ok_or_else(|| ApiError::internal("replicationcontrollers are not served"))?;
    let rc_name = format!("{name}-{desired}");
    let pod_query = query.without(OWN_OPTIONS);
    let mut changes = None;
    loop {
        let pod = match store.get(rc_tid, ns, &rc_name) {
            // The latest version's ReplicationController is made by the controller right
            // after latestVersion is raised: the real server waits for it too. An older
            // one that is gone (pruned) is a 404.
            Err(e) if e.code == 404 && desired == latest => None,
            Err(e) => return Err(e),
            Ok(_) => deployment_log_pod(store, ns, rc_tid, &rc_name)?,
        };
        if let Some(pod) = pod {
            return log::serve(runtime, &pod, &pod_query, store.now());
        }
        if query.flag("nowait") {
            return Ok(empty_log());
        }
        match &mut changes {
            None => changes = Some(Changes::open(store, ns, rc_tid)?),
            Some(c) => c.next().await?,
        }
    }
}
