//! Defaults the API server's admission writes at create, seen through kube-rs.

#![allow(clippy::unwrap_used)]

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, PostParams};
use serde_json::json;

#[tokio::test]
async fn claims_without_a_class_get_the_default_one_and_empty_stays_empty() {
    let sim = odo_sim::Sim::builder().build().unwrap();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(sim.client(), "default");
    let claim = |name: &str, class: Option<&str>| -> PersistentVolumeClaim {
        let mut spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}});
        if let Some(c) = class {
            spec["storageClassName"] = json!(c);
        }
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    };
    let pp = PostParams::default();
    let plain = pvcs.create(&pp, &claim("plain", None)).await.unwrap();
    let none = pvcs.create(&pp, &claim("none", Some(""))).await.unwrap();
    let fast = pvcs
        .create(&pp, &claim("fast", Some("fast")))
        .await
        .unwrap();
    let class = |c: &PersistentVolumeClaim| c.spec.as_ref().unwrap().storage_class_name.clone();
    assert_eq!(class(&plain).as_deref(), Some("standard"));
    assert_eq!(class(&none).as_deref(), Some(""));
    assert_eq!(class(&fast).as_deref(), Some("fast"));
}

#[tokio::test]
async fn an_empty_deployment_strategy_is_a_rolling_update() {
    let sim = odo_sim::Sim::builder().build().unwrap();
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "busybox:latest"}]}}
        }
    }))
    .unwrap();
    let d = deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let strategy = serde_json::to_value(d.spec.unwrap().strategy).unwrap();
    assert_eq!(
        strategy,
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
}
