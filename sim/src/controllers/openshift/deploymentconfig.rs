//! DeploymentConfigs (`apps.openshift.io/v1`): the DeploymentConfig controller and the
//! trigger controller of OpenShift, in one reconcile.
//!
//! - ImageChange triggers with `automatic: true` follow their ImageStreamTag: a new image on
//!   the tag fills `containerNames`' image in the pod template and `lastTriggeredImage`, and
//!   starts a new version (cause `ImageChange`). A tag that does not exist yet holds back the
//!   first deployment until it is imported or pushed.
//! - The ConfigChange trigger starts a new version when the pod template differs from the
//!   one of the latest version (kept in the ReplicationController's
//!   `openshift.io/encoded-deployment-config` annotation), and the first version at creation.
//! - Each version `n` is a ReplicationController `<dc>-<n>` with the annotations, labels and
//!   selector real OpenShift writes (`openshift.io/deployment-config.name`,
//!   `openshift.io/deployment.phase`, `deploymentconfig`, `deployment` ...), rolled out by
//!   [`super::strategy`] while its deployer pod `<dc>-<n>-deploy` runs.
//! - `status.latestVersion` counts versions (also raised by the `instantiate` endpoint);
//!   previous ReplicationControllers stay, scaled to zero, for rollback, pruned past
//!   `revisionHistoryLimit`. A version does not start while the previous one still runs.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{DC_NAME, cached, images, referenced_stream, strategy};
use crate::cluster::World;
use crate::controllers::cache::{Cache, Objects, controller_of};
use crate::controllers::{condition, controller_ref, write, write_status};
use crate::store::{DeleteOptions, ObjKey, Part, WriteOptions, meta};

/// Annotation: the version a ReplicationController (and its pods) belongs to.
pub const LATEST_VERSION: &str = "openshift.io/deployment-config.latest-version";
/// Annotation: the phase of a deployment (New, Pending, Running, Complete, Failed).
pub const PHASE: &str = "openshift.io/deployment.phase";
/// Annotation: the DeploymentConfig as it was when the version was made.
pub const ENCODED: &str = "openshift.io/encoded-deployment-config";
/// Annotation: the deployer pod of a version.
pub const DEPLOYER_POD: &str = "openshift.io/deployer-pod.name";
/// Annotation on pods: the ReplicationController they belong to.
pub const DEPLOYMENT_NAME: &str = "openshift.io/deployment.name";
/// Annotation: why the version was made.
pub const STATUS_REASON: &str = "openshift.io/deployment.status-reason";
/// Annotation: replicas of a version when its deployment finished.
pub const REPLICAS: &str = "openshift.io/deployment.replicas";
/// Annotation: the replicas a rollout aims at.
pub const DESIRED: &str = "kubectl.kubernetes.io/desired-replicas";

/// The `imageChangeParams` of a DeploymentConfig's ImageChange triggers.
pub(crate) fn image_triggers(dc: &Value) -> impl Iterator<Item = &Value> {
    dc.pointer("/spec/triggers")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("ImageChange"))
        .filter_map(|t| t.get("imageChangeParams"))
}

fn has_config_trigger(dc: &Value) -> bool {
    dc.pointer("/spec/triggers")
        .and_then(Value::as_array)
        .is_some_and(|ts| {
            ts.iter()
                .any(|t| t.get("type").and_then(Value::as_str) == Some("ConfigChange"))
        })
}

fn ann<'a>(o: &'a Value, k: &str) -> &'a str {
    o.pointer("/metadata/annotations")
        .and_then(|a| a.get(k))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The version of a ReplicationController (0 when not one of a DeploymentConfig).
pub fn version_of(rc: &Value) -> i64 {
    ann(rc, LATEST_VERSION).parse().unwrap_or(0)
}

/// The deployment phase of a ReplicationController (`New` when unset).
pub fn phase_of(rc: &Value) -> &str {
    match ann(rc, PHASE) {
        "" => "New",
        p => p,
    }
}

/// The DeploymentConfig as recorded on one of its ReplicationControllers.
pub fn encoded_config(rc: &Value) -> Option<Value> {
    serde_json::from_str(ann(rc, ENCODED)).ok()
}

/// The ReplicationControllers a DeploymentConfig controls, oldest version first.
pub(crate) fn rcs_of(all_rc: &Objects, dc: &Value) -> Vec<Arc<Value>> {
    let uid = meta::uid(dc);
    let mut out: Vec<Arc<Value>> = Cache::in_ns(all_rc, meta::namespace(dc))
        .into_iter()
        .filter(|r| matches!(controller_of(r), Some(("DeploymentConfig", _, u)) if u == uid))
        .collect();
    out.sort_by_key(|r| version_of(r));
    out
}

/// What resolving a DeploymentConfig's ImageChange triggers gave.
pub struct Resolved {
    /// The DeploymentConfig with trigger images filled in.
    pub dc: Value,
    /// One `ImageChange` cause per trigger that fired.
    pub causes: Vec<Value>,
    /// False when an automatic trigger's tag has no image yet.
    pub complete: bool,
}

/// Resolves the ImageChange triggers (only the automatic ones unless `all`) against the
/// streams `lookup` returns.
pub fn resolve_triggers(
    dc: &Value,
    all: bool,
    lookup: &dyn Fn(&ObjKey) -> Option<Arc<Value>>,
) -> Resolved {
    let ns = meta::namespace(dc).to_string();
    let mut out = dc.clone();
    let mut causes = Vec::new();
    let mut complete = true;
    let n = dc
        .pointer("/spec/triggers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    for i in 0..n {
        let Some(t) = out.pointer(&format!("/spec/triggers/{i}")).cloned() else {
            continue;
        };
        if t.get("type").and_then(Value::as_str) != Some("ImageChange") {
            continue;
        }
        let Some(p) = t.get("imageChangeParams") else {
            continue;
        };
        let automatic = p.get("automatic").and_then(Value::as_bool) == Some(true);
        if !automatic && !all {
            continue;
        }
        let Some(from) = p.get("from") else { continue };
        let tag = from
            .get("name")
            .and_then(Value::as_str)
            .and_then(|n| n.split_once(':'))
            .map(|(_, t)| t.to_string())
            .unwrap_or_default();
        let image = referenced_stream(from, &ns)
            .and_then(|k| lookup(&k))
            .and_then(|is| images::head_reference(&is, &tag));
        let Some(image) = image else {
            complete &= !automatic;
            continue;
        };
        if p.get("lastTriggeredImage").and_then(Value::as_str) == Some(image.as_str()) {
            continue;
        }
        out["spec"]["triggers"][i]["imageChangeParams"]["lastTriggeredImage"] = json!(image);
        let names: Vec<String> = p
            .get("containerNames")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for list in ["containers", "initContainers"] {
            if let Some(cs) = out
                .pointer_mut(&format!("/spec/template/spec/{list}"))
                .and_then(Value::as_array_mut)
            {
                for c in cs {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                    if names.iter().any(|n| n == name) {
                        c["image"] = json!(image);
                    }
                }
            }
        }
        let mut from = from.clone();
        from["namespace"] = json!(
            from.get("namespace")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or(&ns)
        );
        causes.push(json!({"type": "ImageChange", "imageTrigger": {"from": from}}));
    }
    Resolved {
        dc: out,
        causes,
        complete,
    }
}

/// Raises `status.latestVersion` by one with `causes` (the deployment the controller then
/// makes); returns the stored DeploymentConfig.
pub(crate) fn bump_version(
    store: &crate::store::Store,
    tid: crate::resources::TypeId,
    dc: &Value,
    causes: Vec<Value>,
) -> crate::error::ApiResult<Arc<Value>> {
    let mut o = dc.clone();
    let v = dc
        .pointer("/status/latestVersion")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let message = match causes
        .first()
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
    {
        Some("ImageChange") => "image change",
        Some("Manual") => "manual change",
        _ => "config change",
    };
    if !o.get("status").is_some_and(Value::is_object) {
        o["status"] = json!({});
    }
    o["status"]["latestVersion"] = json!(v + 1);
    o["status"]["details"] = json!({"message": message, "causes": causes});
    store.update(
        tid,
        meta::namespace(dc),
        meta::name(dc),
        o,
        Part::Status,
        &WriteOptions::default(),
    )
}

fn create_rc(w: &mut World<'_>, dc: &Value, version: i64) -> Option<Arc<Value>> {
    let tid = w.kinds.rc?;
    let dc_name = meta::name(dc);
    let ns = meta::namespace(dc);
    let rc_name = format!("{dc_name}-{version}");
    let mut labels = dc
        .pointer("/metadata/labels")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    labels[DC_NAME] = json!(dc_name);
    let mut template = dc.pointer("/spec/template").cloned().unwrap_or_default();
    template["metadata"]["labels"]["deployment"] = json!(rc_name);
    template["metadata"]["labels"]["deploymentconfig"] = json!(dc_name);
    template["metadata"]["annotations"][DEPLOYMENT_NAME] = json!(rc_name);
    template["metadata"]["annotations"][DC_NAME] = json!(dc_name);
    template["metadata"]["annotations"][LATEST_VERSION] = json!(version.to_string());
    let mut selector = dc
        .pointer("/spec/selector")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    selector["deployment"] = json!(rc_name);
    selector["deploymentconfig"] = json!(dc_name);
    let mut encoded = dc.clone();
    if let Some(m) = encoded.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    let replicas = dc
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let reason = dc
        .pointer("/status/details/message")
        .and_then(Value::as_str)
        .unwrap_or("config change");
    let rc = json!({
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {
            "name": rc_name,
            "namespace": ns,
            "labels": labels,
            "annotations": {
                DC_NAME: dc_name,
                LATEST_VERSION: version.to_string(),
                PHASE: "New",
                ENCODED: encoded.to_string(),
                DEPLOYER_POD: format!("{rc_name}-deploy"),
                STATUS_REASON: reason,
                DESIRED: replicas.to_string(),
            },
            "ownerReferences": [controller_ref(dc)],
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": dc.pointer("/spec/minReadySeconds").cloned().unwrap_or(json!(0)),
            "selector": selector,
            "template": template,
        },
    });
    match w.store.create(tid, ns, rc, &WriteOptions::default()) {
        Ok(r) => {
            w.event(
                dc,
                false,
                "DeploymentCreated",
                format!("Created new replication controller \"{rc_name}\" for version {version}"),
                "deploymentconfig-controller",
            );
            Some(r)
        }
        Err(e) => {
            w.event(
                dc,
                true,
                "DeploymentCreationFailed",
                format!("Couldn't deploy version {version}: {}", e.message),
                "deploymentconfig-controller",
            );
            None
        }
    }
}

pub(crate) fn reconcile(w: &mut World<'_>, key: &ObjKey) {
    let Some(mut dc) = cached(&w.cache().openshift.dc, key) else {
        return;
    };
    if meta::is_deleting(&dc) {
        return;
    }
    let Some(dc_tid) = w.kinds.openshift.dc else {
        return;
    };
    let rcs = rcs_of(&w.cache().rc, &dc);
    let mut latest_v = dc
        .pointer("/status/latestVersion")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut latest = rcs.iter().find(|r| version_of(r) == latest_v).cloned();
    let running = latest
        .as_ref()
        .is_some_and(|r| !matches!(phase_of(r), "Complete" | "Failed"));
    let paused = dc.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    if !running && !paused {
        let resolved = {
            let c = w.cache();
            resolve_triggers(&dc, false, &|k| cached(&c.openshift.is, k))
        };
        if resolved.dc != *dc {
            match write(w, Some(dc_tid), resolved.dc) {
                Some(d) => dc = d,
                None => return,
            }
        }
        let fired = !resolved.causes.is_empty();
        let template = dc.pointer("/spec/template");
        let changed = latest
            .as_ref()
            .and_then(|r| encoded_config(r))
            .is_some_and(|e| e.pointer("/spec/template") != template);
        let deploy = resolved.complete
            && if latest_v == 0 {
                has_config_trigger(&dc) || fired
            } else {
                changed && (has_config_trigger(&dc) || fired)
            };
        if deploy {
            let causes = if fired {
                resolved.causes
            } else {
                vec![json!({"type": "ConfigChange"})]
            };
            match bump_version(w.store, dc_tid, &dc, causes) {
                Ok(d) => {
                    dc = d;
                    latest_v += 1;
                    latest = None;
                }
                Err(e) => {
                    tracing::debug!(dc = %key.1, error = %e.message, "new version not recorded");
                    return;
                }
            }
        }
    }
    if latest_v > 0 && latest.is_none() {
        latest = create_rc(w, &dc, latest_v);
    }
    if let Some(rc) = &latest {
        let olds: Vec<Arc<Value>> = rcs_of(&w.cache().rc, &dc)
            .into_iter()
            .filter(|r| version_of(r) < latest_v)
            .collect();
        strategy::drive(w, &dc, rc, &olds);
    }
    prune(w, &dc, latest_v);
    status(w, key);
}

fn prune(w: &mut World<'_>, dc: &Value, latest_v: i64) {
    let limit = dc
        .pointer("/spec/revisionHistoryLimit")
        .and_then(Value::as_i64)
        .unwrap_or(10);
    let idle: Vec<Arc<Value>> = rcs_of(&w.cache().rc, dc)
        .into_iter()
        .filter(|r| {
            version_of(r) < latest_v
                && matches!(phase_of(r), "Complete" | "Failed")
                && r.pointer("/spec/replicas").and_then(Value::as_i64) == Some(0)
                && r.pointer("/status/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    == 0
                && !meta::is_deleting(r)
        })
        .collect();
    let extra = idle.len() as i64 - limit;
    let Some(tid) = w.kinds.rc else { return };
    for r in idle.iter().take(extra.max(0) as usize) {
        let _ = w.store.delete(
            tid,
            meta::namespace(r),
            meta::name(r),
            &DeleteOptions::default(),
        );
    }
}

fn status(w: &mut World<'_>, key: &ObjKey) {
    let Some(dc) = cached(&w.cache().openshift.dc, key) else {
        return;
    };
    let rcs = rcs_of(&w.cache().rc, &dc);
    let latest_v = dc
        .pointer("/status/latestVersion")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let latest = rcs.iter().find(|r| version_of(r) == latest_v);
    let st = |r: &Value, f: &str| {
        r.pointer(&format!("/status/{f}"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let sum = |f: &str| rcs.iter().map(|r| st(r, f)).sum::<i64>();
    let replicas = sum("replicas");
    let available = sum("availableReplicas");
    let desired = dc
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let now = crate::clock::rfc3339(w.now);
    let min_ok = available >= desired - strategy::max_unavailable(&dc, desired);
    let mut conditions = vec![condition(
        Some(&dc),
        "Available",
        min_ok,
        if min_ok {
            "MinimumReplicasAvailable"
        } else {
            "MinimumReplicasUnavailable"
        },
        if min_ok {
            "Deployment config has minimum availability."
        } else {
            "Deployment config does not have minimum availability."
        },
        &now,
    )];
    if let Some(rc) = latest {
        let name = meta::name(rc);
        let (ok, reason, msg) = match phase_of(rc) {
            "Complete" => (
                true,
                "NewReplicationControllerAvailable",
                format!("replication controller \"{name}\" successfully rolled out"),
            ),
            "Failed" => (
                false,
                "ProgressDeadlineExceeded",
                format!("replication controller \"{name}\" has failed progressing"),
            ),
            "New" | "Pending" => (
                true,
                "ReplicationControllerUpdated",
                format!(
                    "replication controller \"{name}\" is waiting for pod \"{name}-deploy\" to run"
                ),
            ),
            _ => (
                true,
                "ReplicationControllerUpdated",
                format!("replication controller \"{name}\" is progressing"),
            ),
        };
        conditions.push(condition(Some(&dc), "Progressing", ok, reason, &msg, &now));
    }
    let mut status = json!({
        "latestVersion": latest_v,
        "observedGeneration": dc.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        "replicas": replicas,
        "updatedReplicas": latest.map_or(0, |r| st(r, "replicas")),
        "availableReplicas": available,
        "unavailableReplicas": (replicas.max(desired) - available).max(0),
        "readyReplicas": sum("readyReplicas"),
        "conditions": conditions,
    });
    if let Some(d) = dc.pointer("/status/details") {
        status["details"] = d.clone();
    }
    write_status(w, w.kinds.openshift.dc, &dc, status);
}
