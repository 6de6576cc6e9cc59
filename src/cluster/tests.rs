//! Request-level tests of apply, prune, query and flavor detection through a real `kube::Client`
//! against the in-memory fake server.

use std::path::Path;
use std::time::Duration;

use super::fake::Fake;
use super::{ClusterChoice, ConnectOptions, Connection, apply, finish_connect, prune, query};
use crate::catalog;
use crate::config::local::{StorageEntry, UrlEntry};
use crate::config::{Component, ComponentSettings};
use crate::manifests::{self, Flavor, Kind, Manifest, RenderInput};

const OPENSHIFT: &[&str] = &[
    "apps",
    "apps.openshift.io",
    "route.openshift.io",
    "image.openshift.io",
];

fn settings() -> ComponentSettings {
    ComponentSettings {
        name: Some("web".into()),
        component_type: Some("nodejs".into()),
        urls: Some(vec![UrlEntry {
            name: "site".into(),
            port: 8080,
            secure: false,
            host: None,
            tls_secret: None,
            kind: None,
        }]),
        storage: Some(vec![StorageEntry {
            name: "data".into(),
            size: "1Gi".into(),
            path: "/data".into(),
        }]),
        ..Default::default()
    }
}

fn render(s: &ComponentSettings, flavor: Flavor) -> Vec<Manifest> {
    let c = Component::from_settings(Path::new("c"), s).unwrap();
    let b = catalog::resolve("nodejs").unwrap();
    let s2i = catalog::s2i_paths(b.builder).unwrap();
    let input = RenderInput {
        component: &c,
        namespace: "dev",
        builder: &b,
        s2i: &s2i,
        init_image: "init",
        odo_version: "v0",
    };
    manifests::render(&input, flavor)
        .unwrap()
        .manifests()
        .unwrap()
}

async fn connect(fake: &Fake, flavor: Option<Flavor>) -> Connection {
    let opts = ConnectOptions {
        timeout: Duration::from_secs(5),
        flavor,
        ..Default::default()
    };
    finish_connect(
        fake.client(),
        "fake".into(),
        "dev".into(),
        ClusterChoice::Kube,
        &opts,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn flavor_is_detected_from_discovery() {
    assert_eq!(
        connect(&Fake::new(OPENSHIFT), None).await.flavor,
        Flavor::OpenShift
    );
    assert_eq!(
        connect(&Fake::new(&["apps"]), None).await.flavor,
        Flavor::Kubernetes
    );
    assert_eq!(
        connect(&Fake::new(OPENSHIFT), Some(Flavor::Kubernetes))
            .await
            .flavor,
        Flavor::Kubernetes
    );
    let opts = ConnectOptions {
        timeout: Duration::from_secs(5),
        flavor: Some(Flavor::OpenShift),
        ..Default::default()
    };
    let err = finish_connect(
        Fake::new(&["apps"]).client(),
        "fake".into(),
        "dev".into(),
        ClusterChoice::Kube,
        &opts,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("does not serve DeploymentConfigs"),
        "{err}"
    );
}

#[tokio::test]
async fn apply_uses_server_side_apply_and_owner_references() {
    let fake = Fake::new(OPENSHIFT);
    let conn = connect(&fake, None).await;
    let ms = render(&settings(), Flavor::OpenShift);
    let report = apply::apply_all(&conn, &ms).await.unwrap();
    assert!(!report.workload_existed);
    assert!(report.workload_changed);

    let requests = fake.requests.lock().unwrap().clone();
    let patches: Vec<_> = requests.iter().filter(|r| r.method == "PATCH").collect();
    assert!(
        patches
            .iter()
            .all(|r| r.content_type == "application/apply-patch+yaml"),
        "{patches:?}"
    );
    assert!(
        patches
            .iter()
            .all(|r| r.query.contains("fieldManager=odo") && r.query.contains("force=true"))
    );
    let order: Vec<&str> = patches
        .iter()
        .map(|r| r.path.rsplit('/').nth(1).unwrap())
        .collect();
    // PVCs before the workload, then the rest, then the PVCs again with their owner.
    assert_eq!(
        &order[..3],
        &[
            "persistentvolumeclaims",
            "persistentvolumeclaims",
            "deploymentconfigs"
        ]
    );
    assert!(order.contains(&"routes") && order.contains(&"imagestreams"));

    let dc = fake
        .get(
            "apis/apps.openshift.io/v1/namespaces/dev/deploymentconfigs",
            "web-app",
        )
        .unwrap();
    let uid = dc["metadata"]["uid"].as_str().unwrap();
    for (collection, name) in [
        ("api/v1/namespaces/dev/services", "web-app"),
        (
            "api/v1/namespaces/dev/persistentvolumeclaims",
            "web-app-s2idata",
        ),
        (
            "api/v1/namespaces/dev/persistentvolumeclaims",
            "data-app-pvc",
        ),
        (
            "apis/route.openshift.io/v1/namespaces/dev/routes",
            "site-app",
        ),
        ("api/v1/namespaces/dev/secrets", "web-app-8080"),
    ] {
        let o = fake
            .get(collection, name)
            .unwrap_or_else(|| panic!("{collection}/{name} missing"));
        assert_eq!(o["metadata"]["ownerReferences"][0]["uid"], uid, "{name}");
        assert_eq!(
            o["metadata"]["ownerReferences"][0]["kind"], "DeploymentConfig",
            "{name}"
        );
    }

    // Same config again: nothing changes in the workload.
    let again = apply::apply_all(&conn, &ms).await.unwrap();
    assert!(again.workload_existed);
    assert!(!again.workload_changed);
    assert_eq!(again.workload_uid, report.workload_uid);

    // A new env var changes the pod template.
    let mut s = settings();
    s.envs = Some(vec![crate::config::local::EnvVar {
        name: "A".into(),
        value: "1".into(),
    }]);
    let changed = apply::apply_all(&conn, &render(&s, Flavor::OpenShift))
        .await
        .unwrap();
    assert!(changed.workload_changed);
}

#[tokio::test]
async fn removed_url_and_storage_are_pruned_and_observed() {
    let fake = Fake::new(&["apps"]);
    let conn = connect(&fake, None).await;
    let ms = render(&settings(), Flavor::Kubernetes);
    apply::apply_all(&conn, &ms).await.unwrap();
    assert!(
        prune::prune(&conn, "web", "app", &ms)
            .await
            .unwrap()
            .is_empty()
    );

    let seen = query::observe(&conn, "web", "app").await.unwrap();
    assert!(seen.exists);
    assert_eq!(
        seen.urls
            .iter()
            .map(|u| (u.name.as_str(), u.port))
            .collect::<Vec<_>>(),
        vec![("site", 8080)]
    );
    assert_eq!(
        seen.storage
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        vec!["data"]
    );

    let mut s = settings();
    s.urls = None;
    s.storage = None;
    let ms2 = render(&s, Flavor::Kubernetes);
    apply::apply_all(&conn, &ms2).await.unwrap();
    let gone = prune::prune(&conn, "web", "app", &ms2).await.unwrap();
    assert_eq!(
        gone,
        vec![
            (Kind::PersistentVolumeClaim, "data-app-pvc".to_string()),
            (Kind::Ingress, "site-app".to_string()),
        ]
    );
    let seen = query::observe(&conn, "web", "app").await.unwrap();
    assert!(seen.urls.is_empty() && seen.storage.is_empty());
    assert!(
        fake.get(
            "api/v1/namespaces/dev/persistentvolumeclaims",
            "web-app-s2idata"
        )
        .is_some()
    );

    let comps = query::list_components(&conn, Some("app")).await.unwrap();
    assert_eq!(
        comps
            .iter()
            .map(|c| (c.name.as_str(), c.component_type.as_str()))
            .collect::<Vec<_>>(),
        vec![("web", "nodejs")]
    );
    assert!(
        query::list_components(&conn, Some("other"))
            .await
            .unwrap()
            .is_empty()
    );

    let deleted = prune::delete_component(&conn, "web", "app").await.unwrap();
    assert!(
        deleted.contains(&(Kind::Deployment, "web-app".to_string())),
        "{deleted:?}"
    );
    assert!(
        fake.objects.lock().unwrap().is_empty(),
        "everything of the component is gone"
    );
    assert!(!query::observe(&conn, "web", "app").await.unwrap().exists);
}

#[tokio::test]
async fn other_components_are_never_touched() {
    let fake = Fake::new(&["apps"]);
    let conn = connect(&fake, None).await;
    let mut other = settings();
    other.name = Some("api".into());
    other.urls.as_mut().unwrap()[0].name = "api".into();
    other.storage.as_mut().unwrap()[0].name = "apidata".into();
    apply::apply_all(&conn, &render(&other, Flavor::Kubernetes))
        .await
        .unwrap();
    let before = fake.objects.lock().unwrap().len();
    let ms = render(&settings(), Flavor::Kubernetes);
    apply::apply_all(&conn, &ms).await.unwrap();
    prune::prune(&conn, "web", "app", &ms).await.unwrap();
    prune::delete_component(&conn, "web", "app").await.unwrap();
    assert_eq!(fake.objects.lock().unwrap().len(), before);
}

#[tokio::test]
async fn url_and_storage_names_are_unique_per_application() {
    let fake = Fake::new(&["apps"]);
    let conn = connect(&fake, None).await;
    apply::apply_all(&conn, &render(&settings(), Flavor::Kubernetes))
        .await
        .unwrap();
    let mut other = settings();
    other.name = Some("api".into());
    other.storage = None;
    let err = apply::apply_all(&conn, &render(&other, Flavor::Kubernetes))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "url site is already used by component web of application app"
    );
    other.urls = None;
    other.storage = settings().storage;
    let err = apply::apply_all(&conn, &render(&other, Flavor::Kubernetes))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "storage data is already used by component web of application app"
    );
    // nothing of the second component was written
    assert!(
        fake.get("apis/apps/v1/namespaces/dev/deployments", "api-app")
            .is_none()
    );
}
