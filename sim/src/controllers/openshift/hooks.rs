//! Lifecycle hooks of a DeploymentConfig strategy (`pre`, `mid` for Recreate, `post`), run
//! by the deployer ([`super::strategy`]): `execNewPod` hooks run as pods `<rc>-hook-<stage>`
//! with the image and env of the named container; `tagImages` hooks tag the version's
//! images into ImageStreamTags ([`super::tag_images`]). What a hook does goes to the
//! deployer's log ([`super::deployer_log`]).

use serde_json::{Value, json};

use super::deployer_log::{self, DeployerLog};
use super::deploymentconfig::DEPLOYMENT_NAME;
use super::strategy::DEPLOYER_IMAGE;
use super::{DC_NAME, DEPLOYER_FOR, tag_images};
use crate::cluster::World;
use crate::store::{WriteOptions, meta};

/// Where a lifecycle hook (or the strategy) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Hook {
    /// Finished (or absent, or failed with `failurePolicy: Ignore`).
    Done,
    /// Still running.
    Waiting,
    /// Failed with `failurePolicy: Abort`: the deployment fails, for this reason.
    Abort(String),
}

/// The pod `<rc>-hook-<stage>` of an `execNewPod` hook: the hook's command in the image of
/// the container it names, with that container's env, the hook's and the deployment's.
fn hook_pod(dc: &Value, rc: &Value, stage: &str, exec: &Value) -> Value {
    let rc_name = meta::name(rc);
    let cname = exec
        .get("containerName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let container = rc
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("name").and_then(Value::as_str) == Some(cname))
        })
        .cloned()
        .unwrap_or_default();
    let mut env = container.get("env").cloned().unwrap_or_else(|| json!([]));
    if let (Some(e), Some(extra)) = (
        env.as_array_mut(),
        exec.get("env").and_then(Value::as_array),
    ) {
        e.extend(extra.iter().cloned());
    }
    // As the real deployer, hook pods are told which deployment they run for.
    if let Some(e) = env.as_array_mut() {
        e.push(json!({"name": "OPENSHIFT_DEPLOYMENT_NAME", "value": rc_name}));
        e.push(json!({"name": "OPENSHIFT_DEPLOYMENT_NAMESPACE", "value": meta::namespace(rc)}));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{rc_name}-hook-{stage}"),
            "namespace": meta::namespace(rc),
            "labels": {DEPLOYER_FOR: rc_name, "openshift.io/deployment.hook": stage},
            "annotations": {DEPLOYMENT_NAME: rc_name, DC_NAME: meta::name(dc)},
            "ownerReferences": [{"apiVersion": "v1", "kind": "ReplicationController",
                "name": rc_name, "uid": meta::uid(rc)}],
        },
        "spec": {
            "containers": [{
                "name": deployer_log::HOOK_CONTAINER,
                "image": container.get("image").cloned().unwrap_or(json!(DEPLOYER_IMAGE)),
                "command": exec.get("command").cloned().unwrap_or(json!([])),
                "env": env,
            }],
            "restartPolicy": "Never",
        },
    })
}

/// Runs the `pre`, `mid` or `post` lifecycle hook of the strategy (`execNewPod`: a pod
/// `<rc>-hook-<stage>` running the command with the named container's image and env).
/// `failurePolicy`: Abort fails the deployment, Retry runs a new pod, Ignore goes on.
/// What the hook does is written to the deployer's `log`.
pub(super) fn hook(
    w: &mut World<'_>,
    dc: &Value,
    rc: &Value,
    stage: &str,
    log: &DeployerLog,
) -> Hook {
    let params = if super::strategy::recreate(dc) {
        "recreateParams"
    } else {
        "rollingParams"
    };
    let Some(h) = dc.pointer(&format!("/spec/strategy/{params}/{stage}")) else {
        return Hook::Done;
    };
    let policy = h
        .get("failurePolicy")
        .and_then(Value::as_str)
        .unwrap_or("Abort");
    if let Some(tags) = h.get("tagImages").and_then(Value::as_array) {
        let mut tagged = Vec::new();
        let result = tag_images::run(w, dc, rc, tags, &mut tagged);
        for t in &tagged {
            // The real deployer names the target with the namespace as the hook gives it.
            log.say_once(
                w,
                &format!(
                    "--> {stage}: Tagged {:?} into {}/{}",
                    t.image, t.to_namespace, t.to_name
                ),
            );
        }
        return match result {
            Ok(()) => Hook::Done,
            Err(tag_images::TagError(msg)) => {
                w.event(
                    rc,
                    true,
                    "FailedTagImages",
                    format!("{stage} hook: {msg}"),
                    "deployer",
                );
                match policy {
                    "Ignore" => Hook::Done,
                    "Retry" => Hook::Waiting,
                    _ => Hook::Abort(deployer_log::hook_failed(stage, rc, &msg)),
                }
            }
        };
    }
    let Some(exec) = h.get("execNewPod") else {
        return Hook::Done;
    };
    let key = (
        meta::namespace(rc).to_string(),
        format!("{}-hook-{stage}", meta::name(rc)),
    );
    let pod = w.cache().pods.get(&key).cloned();
    let Some(pt) = w.kinds.pod else {
        return Hook::Done;
    };
    match pod {
        None => {
            match w.store.create(
                pt,
                &key.0,
                hook_pod(dc, rc, stage, exec),
                &WriteOptions::default(),
            ) {
                Ok(_) => log.say(w, &deployer_log::hook_started(stage)),
                Err(e) => {
                    tracing::debug!(pod = %key.1, error = %e.message, "hook pod not created");
                }
            }
            Hook::Waiting
        }
        Some(p) => match p.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") => {
                log.hook_finished(w, stage, &p, true);
                Hook::Done
            }
            Some("Failed") => {
                log.hook_finished(w, stage, &p, false);
                match policy {
                    "Ignore" => Hook::Done,
                    "Retry" => {
                        if !meta::is_deleting(&p) {
                            let _ = w.store.delete(
                                pt,
                                &key.0,
                                &key.1,
                                &crate::store::DeleteOptions::default(),
                            );
                        }
                        Hook::Waiting
                    }
                    _ => {
                        let msg = p
                            .pointer("/status/message")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        Hook::Abort(deployer_log::hook_failed(stage, rc, msg))
                    }
                }
            }
            _ => Hook::Waiting,
        },
    }
}
