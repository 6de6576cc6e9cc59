//! Removing what the config no longer asks for (deleted urls, storage, ports) and deleting a
//! whole component or application, always by odo's labels.

use kube::api::{DeleteParams, ListParams, PropagationPolicy};

use super::apply::dynamic_api;
use super::{ClusterError, Connection};
use crate::manifests::{Kind, Manifest, meta};

/// Label selector for everything odo created for a component.
pub fn owned_selector(component: &str, app: &str) -> String {
    format!(
        "{},{}={}",
        meta::component_selector(component, app),
        meta::MANAGED_BY,
        meta::MANAGER
    )
}

/// Objects that exist but are not desired any more. Pure.
pub fn to_prune(existing: &[(Kind, String)], desired: &[Manifest]) -> Vec<(Kind, String)> {
    existing
        .iter()
        .filter(|(k, n)| !desired.iter().any(|m| m.kind == *k && &m.name == n))
        .cloned()
        .collect()
}

/// Lists the objects of the given kinds matching a label selector; kinds the server does not
/// serve (404) are skipped.
pub async fn list_by_selector(
    conn: &Connection,
    kinds: &[Kind],
    selector: &str,
) -> Result<Vec<(Kind, String)>, ClusterError> {
    let mut out = Vec::new();
    for &kind in kinds {
        let api = dynamic_api(conn, kind);
        match api.list(&ListParams::default().labels(selector)).await {
            Ok(list) => {
                let mut names: Vec<String> = list
                    .items
                    .into_iter()
                    .filter_map(|o| o.metadata.name)
                    .collect();
                names.sort();
                out.extend(names.into_iter().map(|n| (kind, n)));
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(ClusterError::api(
                    format!("cannot list {}", kind.gvk().3),
                    e,
                ));
            }
        }
    }
    Ok(out)
}

/// Deletes objects (background propagation, so pods and replica sets go too); already-gone
/// objects are fine.
pub async fn delete_objects(
    conn: &Connection,
    objects: &[(Kind, String)],
) -> Result<(), ClusterError> {
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    for (kind, name) in objects {
        match dynamic_api(conn, *kind).delete(name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(ClusterError::api(
                    format!("cannot delete {} {name}", kind.gvk().2),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// Deletes the component's objects of the connection's flavor that `desired` does not contain.
pub async fn prune(
    conn: &Connection,
    component: &str,
    app: &str,
    desired: &[Manifest],
) -> Result<Vec<(Kind, String)>, ClusterError> {
    let existing = list_by_selector(
        conn,
        &Kind::for_flavor(conn.flavor),
        &owned_selector(component, app),
    )
    .await?;
    let gone = to_prune(&existing, desired);
    delete_objects(conn, &gone).await?;
    Ok(gone)
}

/// Deletes every object of a component (any flavor).
pub async fn delete_component(
    conn: &Connection,
    component: &str,
    app: &str,
) -> Result<Vec<(Kind, String)>, ClusterError> {
    let existing = list_by_selector(conn, &Kind::ALL, &owned_selector(component, app)).await?;
    delete_objects(conn, &existing).await?;
    Ok(existing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: Kind, name: &str) -> Manifest {
        Manifest {
            kind,
            name: name.into(),
            object: serde_json::Value::Null,
        }
    }

    #[test]
    fn prunes_only_what_is_not_desired() {
        let existing = vec![
            (Kind::PersistentVolumeClaim, "web-app-s2idata".to_string()),
            (Kind::PersistentVolumeClaim, "old-app-pvc".to_string()),
            (Kind::Ingress, "site-app".to_string()),
            (Kind::Ingress, "gone-app".to_string()),
            (Kind::Secret, "web-app-8080".to_string()),
            (Kind::Secret, "web-app-9000".to_string()),
            (Kind::Deployment, "web-app".to_string()),
        ];
        let desired = vec![
            m(Kind::PersistentVolumeClaim, "web-app-s2idata"),
            m(Kind::Deployment, "web-app"),
            m(Kind::Secret, "web-app-8080"),
            m(Kind::Ingress, "site-app"),
            // same name, other kind: the Ingress of that name is still pruned
            m(Kind::Route, "gone-app"),
        ];
        assert_eq!(
            to_prune(&existing, &desired),
            vec![
                (Kind::PersistentVolumeClaim, "old-app-pvc".to_string()),
                (Kind::Ingress, "gone-app".to_string()),
                (Kind::Secret, "web-app-9000".to_string()),
            ]
        );
    }

    #[test]
    fn selector_includes_manager() {
        assert_eq!(
            owned_selector("web", "shop"),
            "app.kubernetes.io/instance=web,app.kubernetes.io/part-of=shop,app.kubernetes.io/managed-by=odo"
        );
    }
}
