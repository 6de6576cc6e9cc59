//! Projects: Namespaces on Kubernetes; on OpenShift, `project.openshift.io` Projects, created
//! through a ProjectRequest as `oc new-project` does (users there may not create Namespaces,
//! and a ProjectRequest gets the project template's defaults and the requester's role).

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};

use super::{ClusterError, Connection};
use crate::manifests::Flavor;

fn openshift(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "project.openshift.io".into(),
        version: "v1".into(),
        api_version: "project.openshift.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn projects(conn: &Connection) -> Api<DynamicObject> {
    Api::all_with(conn.client.clone(), &openshift("Project", "projects"))
}

/// Project names, sorted (on OpenShift: the projects the user may see).
pub async fn list_projects(conn: &Connection) -> Result<Vec<String>, ClusterError> {
    let lp = ListParams::default();
    let err = |e| ClusterError::api("cannot list projects", e);
    let mut names: Vec<String> = match conn.flavor {
        Flavor::OpenShift => projects(conn)
            .list(&lp)
            .await
            .map_err(err)?
            .items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect(),
        Flavor::Kubernetes => Api::<Namespace>::all(conn.client.clone())
            .list(&lp)
            .await
            .map_err(err)?
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect(),
    };
    names.sort();
    Ok(names)
}

/// Fails with `NamespaceNotFound` when OpenShift project `name` does not exist, and with the
/// server's Forbidden when the user may not see it (it is someone else's).
pub async fn ensure_project(conn: &Connection, name: &str) -> Result<(), ClusterError> {
    match projects(conn).get_opt(name).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ClusterError::NamespaceNotFound(name.into())),
        Err(e) => Err(ClusterError::api(format!("cannot use project {name}"), e)),
    }
}

/// Creates a project.
pub async fn create_project(conn: &Connection, name: &str) -> Result<(), ClusterError> {
    let meta = kube::api::ObjectMeta {
        name: Some(name.into()),
        ..Default::default()
    };
    let result = match conn.flavor {
        Flavor::OpenShift => {
            let ar = openshift("ProjectRequest", "projectrequests");
            let api: Api<DynamicObject> = Api::all_with(conn.client.clone(), &ar);
            let mut request = DynamicObject::new(name, &ar);
            request.metadata = meta;
            api.create(&PostParams::default(), &request)
                .await
                .map(|_| ())
        }
        Flavor::Kubernetes => {
            let ns = Namespace {
                metadata: meta,
                ..Default::default()
            };
            Api::<Namespace>::all(conn.client.clone())
                .create(&PostParams::default(), &ns)
                .await
                .map(|_| ())
        }
    };
    result.map_err(|e| ClusterError::api(format!("cannot create project {name}"), e))
}

/// Deletes a project and everything in it.
pub async fn delete_project(conn: &Connection, name: &str) -> Result<(), ClusterError> {
    let dp = DeleteParams::default();
    let result = match conn.flavor {
        Flavor::OpenShift => projects(conn).delete(name, &dp).await.map(|_| ()),
        Flavor::Kubernetes => Api::<Namespace>::all(conn.client.clone())
            .delete(name, &dp)
            .await
            .map(|_| ()),
    };
    match result {
        Ok(()) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => {
            Err(ClusterError::NamespaceNotFound(name.into()))
        }
        Err(e) => Err(ClusterError::api(
            format!("cannot delete project {name}"),
            e,
        )),
    }
}
