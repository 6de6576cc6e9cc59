//! Defaults the API server's admission writes at create, seen through kube-rs.

#![allow(clippy::unwrap_used)]

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

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

/// A pod's requests default to its limits, and `status.qosClass` is computed at create from
/// every container and init container (not hard-coded); a bad quantity is a 400.
#[tokio::test]
async fn pod_requests_default_to_limits_and_the_qos_class_is_computed() {
    use k8s_openapi::api::core::v1::Pod;
    let sim = odo_sim::Sim::builder().build().unwrap();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let pod = |name: &str, app: Value, init: Option<Value>| -> Pod {
        let mut spec =
            json!({"containers": [{"name": "app", "image": "busybox:1.36", "resources": app}]});
        if let Some(r) = init {
            spec["initContainers"] =
                json!([{"name": "init", "image": "busybox:1.36", "resources": r}]);
        }
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    };
    let pp = PostParams::default();
    let limits = json!({"limits": {"cpu": "500m", "memory": "128Mi"}});
    let cases = [
        ("guaranteed", limits.clone(), None, "Guaranteed"),
        (
            "burstable-init",
            limits.clone(),
            Some(json!({"requests": {"cpu": "100m"}})),
            "Burstable",
        ),
        (
            "burstable-cpu-only",
            json!({"limits": {"cpu": "1"}, "requests": {"cpu": "500m"}}),
            None,
            "Burstable",
        ),
        ("besteffort", json!({}), None, "BestEffort"),
    ];
    for (name, app, init, want) in cases {
        let created = pods.create(&pp, &pod(name, app, init)).await.unwrap();
        let v = serde_json::to_value(&created).unwrap();
        assert_eq!(v["status"]["qosClass"], want, "{name}: {:#}", v["spec"]);
    }
    let g = serde_json::to_value(pods.get("guaranteed").await.unwrap()).unwrap();
    assert_eq!(
        g["spec"]["containers"][0]["resources"]["requests"],
        json!({"cpu": "500m", "memory": "128Mi"})
    );
    // A request given explicitly is kept; only the missing one comes from the limit.
    let b = serde_json::to_value(pods.get("burstable-cpu-only").await.unwrap()).unwrap();
    assert_eq!(
        b["spec"]["containers"][0]["resources"]["requests"],
        json!({"cpu": "500m"})
    );
    // Replacing the pod with the spec as first sent (limits only) is no change of spec.
    let mut again = pod("guaranteed", limits, None);
    again.metadata.resource_version = g["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_string);
    pods.replace("guaranteed", &pp, &again).await.unwrap();
    // A quantity that does not parse.
    let err = pods
        .create(&pp, &pod("bad", json!({"limits": {"cpu": "lots"}}), None))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 400, "{s:?}");
            assert!(s.message.contains("quantities must match"), "{}", s.message);
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}
