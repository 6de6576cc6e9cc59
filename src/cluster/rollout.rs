//! Rollouts of a DeploymentConfig started by odo (what `oc rollout latest` does): a
//! `DeploymentRequest` posted to `deploymentconfigs/<name>/instantiate` through kube-rs, with
//! `latest: true` (every ImageChange trigger, automatic or not, is resolved to its tag's current
//! image) and `force: true` (a new version even when no image moved). A git component's
//! DeploymentConfig has a non-automatic ImageChange trigger, so this is how its built image
//! reaches a pod.

use std::borrow::Cow;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use serde::{Deserialize, Serialize};

use super::{ClusterError, Connection, FIELD_MANAGER};

/// A DeploymentConfig, with the one status field a rollout needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeploymentConfig {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DeploymentConfigStatus>,
}

/// The status of a DeploymentConfig.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfigStatus {
    /// The version of the latest rollout (its ReplicationController is `<name>-<version>`).
    #[serde(default)]
    pub latest_version: Option<i64>,
}

impl kube::Resource for DeploymentConfig {
    type DynamicType = ();
    type Scope = kube::core::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "DeploymentConfig".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "apps.openshift.io".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "deploymentconfigs".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The body of `deploymentconfigs/<name>/instantiate` (apps.openshift.io/v1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRequest {
    /// `apps.openshift.io/v1`.
    pub api_version: String,
    /// `DeploymentRequest`.
    pub kind: String,
    /// The DeploymentConfig.
    pub name: String,
    /// Resolve every ImageChange trigger to its tag's current image first.
    pub latest: bool,
    /// Start a new version even when nothing changed.
    pub force: bool,
}

impl DeploymentRequest {
    /// What odo sends (`latest` and `force`, as `oc rollout latest` does).
    pub fn latest(name: &str) -> Self {
        DeploymentRequest {
            api_version: "apps.openshift.io/v1".into(),
            kind: "DeploymentRequest".into(),
            name: name.into(),
            latest: true,
            force: true,
        }
    }
}

/// The name of the ReplicationController (and the pods' `deployment` label) of version
/// `version` of DeploymentConfig `name`.
pub fn deployment_name(name: &str, version: i64) -> String {
    format!("{name}-{version}")
}

/// The version of the latest rollout of DeploymentConfig `name` (0 before the first one).
pub async fn latest_version(conn: &Connection, name: &str) -> Result<i64, ClusterError> {
    let api: Api<DeploymentConfig> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let dc = api
        .get(name)
        .await
        .map_err(|e| ClusterError::api(format!("cannot read DeploymentConfig {name}"), e))?;
    Ok(dc.status.and_then(|s| s.latest_version).unwrap_or(0))
}

/// How often a request the server refused with 409 Conflict is sent again, and the pause
/// before the first retry (doubled each time: 0.1 s to 1.6 s, about 3 s in all).
const CONFLICT_RETRIES: u32 = 5;
const CONFLICT_PAUSE: Duration = Duration::from_millis(100);

/// Starts a new rollout of DeploymentConfig `name` with its triggers' current images; returns
/// the version it started. A 409 Conflict (the server's controllers wrote the
/// DeploymentConfig while it resolved the triggers, or the previous version is still being
/// deployed) is retried a few times before it is reported.
pub async fn instantiate(conn: &Connection, name: &str) -> Result<i64, ClusterError> {
    let api: Api<DeploymentConfig> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    let request = DeploymentRequest::latest(name);
    let mut pause = CONFLICT_PAUSE;
    let mut attempt = 0;
    let dc: DeploymentConfig = loop {
        match api
            .create_subresource("instantiate", name, &params, &request)
            .await
        {
            Ok(dc) => break dc,
            Err(kube::Error::Api(s)) if s.code == 409 && attempt < CONFLICT_RETRIES => {
                tracing::debug!(dc = name, "rollout refused ({}), retrying", s.message);
                attempt += 1;
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                return Err(ClusterError::Rollout {
                    name: name.into(),
                    message: format!(
                        "cannot start a rollout of DeploymentConfig {name}: {}",
                        s.message
                    ),
                });
            }
            Err(e) => {
                return Err(ClusterError::api(
                    format!("cannot start a rollout of DeploymentConfig {name}"),
                    e,
                ));
            }
        }
    };
    dc.status
        .and_then(|s| s.latest_version)
        .filter(|v| *v > 0)
        .ok_or_else(|| ClusterError::Rollout {
            name: name.into(),
            message: format!("the server started no rollout of DeploymentConfig {name}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_what_oc_rollout_latest_sends() {
        let body = serde_json::to_value(DeploymentRequest::latest("web-shop")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "apiVersion": "apps.openshift.io/v1",
                "kind": "DeploymentRequest",
                "name": "web-shop",
                "latest": true,
                "force": true,
            })
        );
        assert_eq!(deployment_name("web-shop", 3), "web-shop-3");
    }
}
