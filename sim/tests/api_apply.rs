//! Server-side apply ownership through kube-rs: a field the manager applied before and leaves
//! out now is removed, unless another manager owns it too.

#![allow(clippy::unwrap_used)]

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

fn deployment(mounts: &[&str], env: &[(&str, &str)], env_from: Option<&str>) -> Value {
    let mut container = json!({
        "name": "app",
        "image": "busybox:latest",
        "volumeMounts": mounts.iter().map(|m| json!({"name": m, "mountPath": format!("/{m}")})).collect::<Vec<_>>(),
        "env": env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
    });
    if let Some(secret) = env_from {
        container["envFrom"] = json!([{"secretRef": {"name": secret}}]);
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [container],
                    "volumes": mounts.iter().map(|m| json!({"name": m, "emptyDir": {}})).collect::<Vec<_>>(),
                }
            }
        }
    })
}

fn names(
    d: &Deployment,
    f: impl Fn(&k8s_openapi::api::core::v1::Container) -> Vec<String>,
) -> Vec<String> {
    f(&d.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0])
}

#[tokio::test]
async fn fields_dropped_from_the_applied_configuration_are_removed() {
    let sim = odo_sim::Sim::builder().build().unwrap();
    let api: Api<Deployment> = Api::namespaced(sim.client(), "default");
    let pp = PatchParams::apply("odo");
    api.patch(
        "web",
        &pp,
        &Patch::Apply(deployment(
            &["a", "b"],
            &[("A", "1"), ("B", "2")],
            Some("s"),
        )),
    )
    .await
    .unwrap();
    let d = api
        .patch(
            "web",
            &pp,
            &Patch::Apply(deployment(&["a"], &[("A", "1")], None)),
        )
        .await
        .unwrap();
    let mounts = |c: &k8s_openapi::api::core::v1::Container| {
        c.volume_mounts
            .iter()
            .flatten()
            .map(|m| m.mount_path.clone())
            .collect()
    };
    let env = |c: &k8s_openapi::api::core::v1::Container| {
        c.env.iter().flatten().map(|e| e.name.clone()).collect()
    };
    assert_eq!(names(&d, mounts), ["/a"]);
    assert_eq!(names(&d, env), ["A"]);
    let spec = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert!(spec.containers[0].env_from.is_none());
    let volumes: Vec<String> = spec
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.clone())
        .collect();
    assert_eq!(volumes, ["a"]);

    // A field another manager also set stays when the applier drops it.
    api.patch(
        "web",
        &PatchParams::apply("kubectl").force(),
        &Patch::Apply(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": "1"}]}]}}}
        })),
    )
    .await
    .unwrap();
    let d = api
        .patch("web", &pp, &Patch::Apply(deployment(&["a"], &[], None)))
        .await
        .unwrap();
    assert_eq!(names(&d, env), ["A"]);
}
