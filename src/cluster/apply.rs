//! Server-side apply of rendered manifests (field manager `odo`, forced), through
//! `DynamicObject` + `ApiResource` so OpenShift kinds work like built-in ones. The workload is
//! applied after the PVCs it mounts; every other object then gets an ownerReference to it so the
//! garbage collector removes them with the workload.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use super::{ClusterError, Connection, FIELD_MANAGER};
use crate::manifests::{Kind, Manifest, meta};

/// The kube-rs resource description of a kind.
pub fn api_resource(kind: Kind) -> ApiResource {
    let (group, version, kind_name, plural) = kind.gvk();
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() {
            version.into()
        } else {
            format!("{group}/{version}")
        },
        kind: kind_name.into(),
        plural: plural.into(),
    }
}

/// A namespaced dynamic API for a kind.
pub fn dynamic_api(conn: &Connection, kind: Kind) -> Api<DynamicObject> {
    Api::namespaced_with(conn.client.clone(), &conn.namespace, &api_resource(kind))
}

/// The ownerReference pointing at the workload.
pub fn owner_reference(kind: Kind, name: &str, uid: &str) -> OwnerReference {
    let ar = api_resource(kind);
    OwnerReference {
        api_version: ar.api_version,
        kind: ar.kind,
        name: name.into(),
        uid: uid.into(),
        controller: None,
        block_owner_deletion: None,
    }
}

/// Sets `metadata.ownerReferences` of a manifest object to exactly `owner`.
pub fn with_owner(object: &Value, owner: &OwnerReference) -> Value {
    let mut object = object.clone();
    if let (Some(meta), Ok(owner)) = (
        object.get_mut("metadata").and_then(Value::as_object_mut),
        serde_json::to_value(owner),
    ) {
        meta.insert("ownerReferences".into(), Value::Array(vec![owner]));
    }
    object
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Whether the workload existed before.
    pub workload_existed: bool,
    /// Whether the workload's spec changed (its generation moved).
    pub workload_changed: bool,
    /// The workload's uid.
    pub workload_uid: String,
    /// Objects applied, in order.
    pub applied: Vec<(Kind, String)>,
}

async fn apply_one(
    conn: &Connection,
    kind: Kind,
    name: &str,
    object: &Value,
) -> Result<DynamicObject, ClusterError> {
    let api = dynamic_api(conn, kind);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(name, &params, &Patch::Apply(object))
        .await
        .map_err(|e| {
            ClusterError::api(
                format!("cannot apply {} {name} in {}", kind.gvk().2, conn.namespace),
                e,
            )
        })
}

/// Fails when a url or storage object this component wants already belongs to another
/// component (their names are `<name>-<app>`, shared by the whole application).
pub async fn check_conflicts(
    conn: &Connection,
    component: &str,
    manifests: &[Manifest],
) -> Result<(), ClusterError> {
    for m in manifests {
        let (what, label) = match m.kind {
            Kind::Ingress | Kind::Route => ("url", meta::URL_NAME),
            Kind::PersistentVolumeClaim => ("storage", meta::STORAGE_NAME),
            _ => continue,
        };
        let Some(user_name) = m.object["metadata"]["labels"][label].as_str() else {
            continue;
        };
        let existing = dynamic_api(conn, m.kind)
            .get_opt(&m.name)
            .await
            .map_err(|e| {
                ClusterError::api(format!("cannot read {} {}", m.kind.gvk().2, m.name), e)
            })?;
        let owner = existing
            .as_ref()
            .and_then(|o| o.metadata.labels.as_ref())
            .and_then(|l| l.get(meta::INSTANCE))
            .filter(|owner| owner.as_str() != component);
        if let Some(owner) = owner {
            return Err(ClusterError::NameConflict {
                what,
                name: user_name.to_string(),
                owner: owner.clone(),
                app: m.object["metadata"]["labels"][meta::PART_OF]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            });
        }
    }
    Ok(())
}

/// Applies the manifests (in the order `Rendered::manifests` gives them).
pub async fn apply_all(
    conn: &Connection,
    manifests: &[Manifest],
) -> Result<ApplyReport, ClusterError> {
    let workload = manifests
        .iter()
        .find(|m| matches!(m.kind, Kind::Deployment | Kind::DeploymentConfig))
        .ok_or_else(|| ClusterError::Exec {
            command: "apply".into(),
            pod: String::new(),
            message: "no workload among the rendered objects".into(),
        })?;
    let component = workload.object["metadata"]["labels"][meta::INSTANCE]
        .as_str()
        .unwrap_or_default();
    check_conflicts(conn, component, manifests).await?;
    let api = dynamic_api(conn, workload.kind);
    let before = api.get_opt(&workload.name).await.map_err(|e| {
        ClusterError::api(
            format!("cannot read {} {}", workload.kind.gvk().2, workload.name),
            e,
        )
    })?;

    let mut applied = Vec::new();
    // The PVCs the pod mounts exist before the pod does (no FailedScheduling noise). On the
    // first push the workload's uid is not known yet, so they get their ownerReference after it.
    let owner_before = before
        .as_ref()
        .and_then(|o| o.metadata.uid.as_deref())
        .map(|uid| owner_reference(workload.kind, &workload.name, uid));
    let pvcs: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| m.kind == Kind::PersistentVolumeClaim)
        .collect();
    for m in &pvcs {
        let object = match &owner_before {
            Some(owner) => with_owner(&m.object, owner),
            None => m.object.clone(),
        };
        apply_one(conn, m.kind, &m.name, &object).await?;
    }
    let after = apply_one(conn, workload.kind, &workload.name, &workload.object).await?;
    let uid = after.metadata.uid.clone().unwrap_or_default();
    let owner = owner_reference(workload.kind, &workload.name, &uid);
    for m in manifests {
        if m.kind == workload.kind && m.name == workload.name {
            applied.push((m.kind, m.name.clone()));
            continue;
        }
        if m.kind != Kind::PersistentVolumeClaim || owner_before.as_ref() != Some(&owner) {
            apply_one(conn, m.kind, &m.name, &with_owner(&m.object, &owner)).await?;
        }
        applied.push((m.kind, m.name.clone()));
    }
    let generation = |o: &DynamicObject| o.metadata.generation;
    Ok(ApplyReport {
        workload_existed: before.is_some(),
        workload_changed: before.as_ref().map(generation) != Some(generation(&after)),
        workload_uid: uid,
        applied,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_for_core_and_group_kinds() {
        let pvc = api_resource(Kind::PersistentVolumeClaim);
        assert_eq!(
            (pvc.api_version.as_str(), pvc.plural.as_str()),
            ("v1", "persistentvolumeclaims")
        );
        let dc = api_resource(Kind::DeploymentConfig);
        assert_eq!(dc.api_version, "apps.openshift.io/v1");
        assert_eq!(dc.kind, "DeploymentConfig");
    }

    #[test]
    fn owner_is_set_without_touching_the_rest() {
        let obj = serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "labels": {"a": "b"}}, "spec": {}});
        let owner = owner_reference(Kind::Deployment, "web-app", "uid-1");
        let out = with_owner(&obj, &owner);
        assert_eq!(out["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(out["metadata"]["ownerReferences"][0]["kind"], "Deployment");
        assert_eq!(out["metadata"]["labels"], obj["metadata"]["labels"]);
        assert_eq!(out["spec"], obj["spec"]);
    }
}
