//! Reading what a component, an application or a project looks like on the cluster: whether the
//! component exists, its urls and storage (for the Pushed / Not Pushed / Locally Deleted states),
//! the components of an application, the projects.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::apply::dynamic_api;
use super::prune::owned_selector;
use super::{ClusterError, Connection};
use crate::config::UrlKind;
use crate::manifests::{Flavor, Kind, meta};

/// A url as found on the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterUrl {
    /// Url name (the `odo.openshift.io/url-name` label).
    pub name: String,
    /// Target port.
    pub port: u16,
    /// Whether it has TLS.
    pub secure: bool,
    /// Host the cluster serves it on.
    pub host: Option<String>,
    /// Whether it is a Route or an Ingress.
    pub kind: UrlKind,
}

/// A storage PVC as found on the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStorage {
    /// Storage name (the `app.kubernetes.io/storage-name` label).
    pub name: String,
    /// Requested size.
    pub size: String,
}

/// What the cluster holds of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Whether its workload exists.
    pub exists: bool,
    /// The flavor of the connection.
    pub flavor: Flavor,
    /// Its urls.
    pub urls: Vec<ClusterUrl>,
    /// Its storage.
    pub storage: Vec<ClusterStorage>,
}

/// Reads a url from a Route or Ingress object. Pure.
pub fn url_from_object(kind: Kind, obj: &Value) -> Option<ClusterUrl> {
    let name = obj["metadata"]["labels"][meta::URL_NAME]
        .as_str()?
        .to_string();
    let spec = &obj["spec"];
    let (port, secure, host) = match kind {
        Kind::Route => (
            spec["port"]["targetPort"].as_u64(),
            spec.get("tls").is_some_and(|t| !t.is_null()),
            spec["host"].as_str().map(str::to_string),
        ),
        Kind::Ingress => (
            spec["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"].as_u64(),
            spec.get("tls")
                .is_some_and(|t| t.as_array().is_some_and(|a| !a.is_empty())),
            spec["rules"][0]["host"].as_str().map(str::to_string),
        ),
        _ => return None,
    };
    Some(ClusterUrl {
        name,
        port: port.and_then(|p| u16::try_from(p).ok()).unwrap_or(0),
        secure,
        host,
        kind: if kind == Kind::Route {
            UrlKind::Route
        } else {
            UrlKind::Ingress
        },
    })
}

/// Reads the component's state.
pub async fn observe(
    conn: &Connection,
    component: &str,
    app: &str,
) -> Result<Observed, ClusterError> {
    let workload_kind = match conn.flavor {
        Flavor::Kubernetes => Kind::Deployment,
        Flavor::OpenShift => Kind::DeploymentConfig,
    };
    let name = meta::object_name(component, app);
    let exists = dynamic_api(conn, workload_kind)
        .get_opt(&name)
        .await
        .map_err(|e| ClusterError::api(format!("cannot read {} {name}", workload_kind.gvk().2), e))?
        .is_some();
    let selector = owned_selector(component, app);
    // On OpenShift a url is a Route, or an Ingress when made with `--ingress`.
    let url_kinds: &[Kind] = match conn.flavor {
        Flavor::Kubernetes => &[Kind::Ingress],
        Flavor::OpenShift => &[Kind::Route, Kind::Ingress],
    };
    let mut urls = Vec::new();
    let lp = ListParams::default().labels(&format!("{selector},{}", meta::URL_NAME));
    for &url_kind in url_kinds {
        match dynamic_api(conn, url_kind).list(&lp).await {
            Ok(list) => {
                for o in list.items {
                    if let Ok(v) = serde_json::to_value(&o) {
                        urls.extend(url_from_object(url_kind, &v));
                    }
                }
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ClusterError::api("cannot list urls", e)),
        }
    }
    urls.sort_by(|a, b| a.name.cmp(&b.name));
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let lp = ListParams::default().labels(&format!("{selector},{}", meta::STORAGE_NAME));
    let storage = pvcs
        .list(&lp)
        .await
        .map_err(|e| ClusterError::api("cannot list storage", e))?
        .items
        .into_iter()
        .filter_map(|p| {
            let name = p.metadata.labels.as_ref()?.get(meta::STORAGE_NAME)?.clone();
            let size = p
                .spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"))
                .map(|q| q.0.clone())
                .unwrap_or_default();
            Some(ClusterStorage { name, size })
        })
        .collect();
    Ok(Observed {
        exists,
        flavor: conn.flavor,
        urls,
        storage,
    })
}

/// A component found on the cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClusterComponent {
    /// Application.
    pub app: String,
    /// Component name.
    pub name: String,
    /// Component type.
    pub component_type: String,
}

/// Reads the components from workload labels. Pure.
pub fn components_from_labels(labels: &[BTreeMap<String, String>]) -> Vec<ClusterComponent> {
    let mut out: Vec<ClusterComponent> = labels
        .iter()
        .filter_map(|l| {
            Some(ClusterComponent {
                app: l.get(meta::PART_OF)?.clone(),
                name: l.get(meta::INSTANCE)?.clone(),
                component_type: l.get(meta::NAME).cloned().unwrap_or_default(),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Lists odo components in the namespace, of one application or of all.
pub async fn list_components(
    conn: &Connection,
    app: Option<&str>,
) -> Result<Vec<ClusterComponent>, ClusterError> {
    let mut selector = format!("{}={}", meta::MANAGED_BY, meta::MANAGER);
    if let Some(app) = app {
        selector.push_str(&format!(",{}={app}", meta::PART_OF));
    }
    let mut labels = Vec::new();
    for kind in [Kind::Deployment, Kind::DeploymentConfig] {
        match dynamic_api(conn, kind)
            .list(&ListParams::default().labels(&selector))
            .await
        {
            Ok(list) => labels.extend(list.items.into_iter().filter_map(|o| o.metadata.labels)),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ClusterError::api("cannot list components", e)),
        }
    }
    Ok(components_from_labels(&labels))
}

/// Names of the applications with components in the namespace.
pub async fn list_apps(conn: &Connection) -> Result<Vec<String>, ClusterError> {
    let apps: BTreeSet<String> = list_components(conn, None)
        .await?
        .into_iter()
        .map(|c| c.app)
        .collect();
    Ok(apps.into_iter().collect())
}

/// Uids of the pods a selector matches now.
pub async fn pod_uids(conn: &Connection, selector: &str) -> Result<BTreeSet<String>, ClusterError> {
    let pods: Api<Pod> = Api::namespaced(conn.client.clone(), &conn.namespace);
    Ok(pods
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| ClusterError::api("cannot list pods", e))?
        .items
        .into_iter()
        .filter_map(|p| p.metadata.uid)
        .collect())
}

/// The running pod of a component (the newest one not being deleted).
pub async fn component_pod(conn: &Connection, selector: &str) -> Result<Option<Pod>, ClusterError> {
    let pods: Api<Pod> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let mut list: Vec<Pod> = pods
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| ClusterError::api("cannot list pods", e))?
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    list.sort_by(|a, b| {
        a.metadata
            .creation_timestamp
            .cmp(&b.metadata.creation_timestamp)
    });
    Ok(list.pop())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls_from_route_and_ingress() {
        let route = json!({"metadata": {"labels": {meta::URL_NAME: "web"}},
            "spec": {"host": "web-app.apps.example.com", "port": {"targetPort": 8080}, "tls": {"termination": "edge"}}});
        assert_eq!(
            url_from_object(Kind::Route, &route),
            Some(ClusterUrl {
                name: "web".into(),
                port: 8080,
                secure: true,
                host: Some("web-app.apps.example.com".into()),
                kind: UrlKind::Route,
            })
        );
        let ingress = json!({"metadata": {"labels": {meta::URL_NAME: "api"}}, "spec": {"rules": [{"http": {"paths": [
            {"backend": {"service": {"name": "s", "port": {"number": 3000}}}}]}}]}});
        assert_eq!(
            url_from_object(Kind::Ingress, &ingress),
            Some(ClusterUrl {
                name: "api".into(),
                port: 3000,
                secure: false,
                host: None,
                kind: UrlKind::Ingress,
            })
        );
        assert_eq!(url_from_object(Kind::Route, &json!({"metadata": {}})), None);
    }

    #[test]
    fn components_dedup_and_sort() {
        let l = |app: &str, name: &str| {
            BTreeMap::from([
                (meta::PART_OF.to_string(), app.to_string()),
                (meta::INSTANCE.to_string(), name.to_string()),
                (meta::NAME.to_string(), "nodejs".to_string()),
            ])
        };
        let found =
            components_from_labels(&[l("b", "x"), l("a", "y"), l("b", "x"), BTreeMap::new()]);
        assert_eq!(
            found
                .iter()
                .map(|c| (c.app.as_str(), c.name.as_str()))
                .collect::<Vec<_>>(),
            vec![("a", "y"), ("b", "x")]
        );
    }
}
