//! Server-side printing through the real HTTP router: pods in every state a kubelet reports
//! (written as a kubelet would, with PUT /status), rendered as the `meta.k8s.io/v1` Table that
//! `kubectl get` asks for, and snapshotted column for column.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use odo_sim::api::{ApiOptions, router};
use odo_sim::clock::{ManualTime, rfc3339};
use odo_sim::store::{Store, StoreConfig, nodes};
use serde_json::{Value, json};
use tower::ServiceExt;

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

struct Cluster {
    store: Arc<Store>,
    clock: Arc<ManualTime>,
    app: axum::Router,
}

impl Cluster {
    fn new() -> Self {
        Self::with_flavor(odo_sim::Flavor::Kubernetes)
    }

    fn with_flavor(flavor: odo_sim::Flavor) -> Self {
        let clock = Arc::new(ManualTime::default());
        let config = StoreConfig {
            graceful_pod_deletion: true,
            flavor,
            ..StoreConfig::default()
        };
        let store = Arc::new(Store::new(config, clock.clone()));
        nodes::ensure_nodes(&store, 1);
        let app = router(store.clone(), ApiOptions::default());
        Self { store, clock, app }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        accept: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, accept);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body).expect("request"))
            .await
            .expect("response");
        let code = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn ago(&self, secs: u64) -> String {
        let now = self.store.now();
        rfc3339(now - jiff::SignedDuration::from_secs(secs as i64))
    }

    /// Creates a pod bound to the node, then writes `status` through PUT /status.
    async fn pod(&self, name: &str, spec: Value, status: Value) {
        let mut spec = spec;
        spec["nodeName"] = json!("sim-node-1");
        let pod =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec});
        let (code, created) = self
            .call(
                Method::POST,
                "/api/v1/namespaces/default/pods",
                "application/json",
                Some(&pod),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{created}");
        let mut updated = created;
        updated["status"] = status;
        let (code, body) = self
            .call(
                Method::PUT,
                &format!("/api/v1/namespaces/default/pods/{name}/status"),
                "application/json",
                Some(&updated),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }
}

fn c(name: &str) -> Value {
    json!({"name": name, "image": "busybox:latest"})
}

fn running(name: &str, ready: bool, since: &str) -> Value {
    json!({"name": name, "image": "busybox:latest", "ready": ready, "restartCount": 0,
           "started": true, "state": {"running": {"startedAt": since}}})
}

fn waiting(name: &str, reason: &str) -> Value {
    json!({"name": name, "image": "busybox:latest", "ready": false, "restartCount": 0,
           "state": {"waiting": {"reason": reason}}})
}

fn terminated(name: &str, code: i64, reason: &str, at: &str) -> Value {
    json!({"name": name, "image": "busybox:latest", "ready": false, "restartCount": 0,
           "state": {"terminated": {"exitCode": code, "reason": reason, "startedAt": at, "finishedAt": at}}})
}

fn crashing(name: &str, restarts: i64, last_exit: &str) -> Value {
    json!({"name": name, "image": "busybox:latest", "ready": false, "restartCount": restarts,
           "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
           "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": last_exit, "finishedAt": last_exit}}})
}

fn cond(ty: &str, status: bool) -> Value {
    json!({"type": ty, "status": if status { "True" } else { "False" }})
}

fn status(phase: &str, conds: &[Value], init: Vec<Value>, containers: Vec<Value>) -> Value {
    let mut s = json!({"phase": phase, "conditions": conds, "containerStatuses": containers,
                       "hostIP": "172.18.0.2", "podIP": "10.244.0.7", "podIPs": [{"ip": "10.244.0.7"}]});
    if !init.is_empty() {
        s["initContainerStatuses"] = json!(init);
    }
    s
}

/// Lays a Table out the way kubectl's printer does: upper-cased headers, columns separated by
/// three spaces, padded to the widest cell; `wide` includes priority-1 columns.
fn render(table: &Value, wide: bool) -> String {
    let cols: Vec<(usize, String)> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .enumerate()
        .filter(|(_, c)| wide || c["priority"].as_i64() == Some(0))
        .map(|(i, c)| (i, c["name"].as_str().expect("name").to_uppercase()))
        .collect();
    let mut lines: Vec<Vec<String>> = vec![cols.iter().map(|(_, n)| n.clone()).collect()];
    for row in table["rows"].as_array().expect("rows") {
        let cells = row["cells"].as_array().expect("cells");
        lines.push(
            cols.iter()
                .map(|(i, _)| match &cells[*i] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..cols.len())
        .map(|i| lines.iter().map(|l| l[i].len()).max().unwrap_or(0))
        .collect();
    lines
        .iter()
        .map(|l| {
            l.iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("   ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn seed_pods(k: &Cluster) {
    let two_inits = json!({"initContainers": [c("copy-supervisord"), c("copy-files-to-volume")], "containers": [c("app")]});
    let one = json!({"containers": [c("app")]});
    let t = k.ago(20);
    k.pod(
        "a-init-running",
        two_inits.clone(),
        status(
            "Pending",
            &[cond("Initialized", false), cond("Ready", false)],
            vec![
                running("copy-supervisord", false, &t),
                waiting("copy-files-to-volume", "PodInitializing"),
            ],
            vec![waiting("app", "PodInitializing")],
        ),
    )
    .await;
    k.pod(
        "b-init-second",
        two_inits.clone(),
        status(
            "Pending",
            &[cond("Initialized", false)],
            vec![
                terminated("copy-supervisord", 0, "Completed", &t),
                running("copy-files-to-volume", false, &t),
            ],
            vec![waiting("app", "PodInitializing")],
        ),
    )
    .await;
    let mut never = two_inits.clone();
    never["restartPolicy"] = json!("Never");
    k.pod(
        "c-init-failed",
        never,
        status(
            "Failed",
            &[cond("Initialized", false)],
            vec![
                terminated("copy-supervisord", 1, "Error", &t),
                waiting("copy-files-to-volume", "PodInitializing"),
            ],
            vec![waiting("app", "PodInitializing")],
        ),
    )
    .await;
    k.pod(
        "d-init-crashloop",
        two_inits.clone(),
        status(
            "Pending",
            &[cond("Initialized", false)],
            vec![
                crashing("copy-supervisord", 3, &k.ago(25)),
                waiting("copy-files-to-volume", "PodInitializing"),
            ],
            vec![waiting("app", "PodInitializing")],
        ),
    )
    .await;
    k.pod(
        "e-pod-initializing",
        two_inits.clone(),
        status(
            "Pending",
            &[cond("Initialized", true), cond("Ready", false)],
            vec![
                terminated("copy-supervisord", 0, "Completed", &t),
                terminated("copy-files-to-volume", 0, "Completed", &t),
            ],
            vec![waiting("app", "PodInitializing")],
        ),
    )
    .await;
    k.pod(
        "f-container-creating",
        one.clone(),
        status(
            "Pending",
            &[cond("Initialized", true)],
            vec![],
            vec![waiting("app", "ContainerCreating")],
        ),
    )
    .await;
    k.pod(
        "g-crashloop",
        one.clone(),
        status(
            "Running",
            &[cond("Initialized", true), cond("Ready", false)],
            vec![],
            vec![crashing("app", 4, &k.ago(190))],
        ),
    )
    .await;
    k.pod(
        "h-completed",
        json!({"restartPolicy": "Never", "containers": [c("app")]}),
        status(
            "Succeeded",
            &[cond("Initialized", true), cond("Ready", false)],
            vec![],
            vec![terminated("app", 0, "Completed", &t)],
        ),
    )
    .await;
    k.pod(
        "i-error",
        json!({"restartPolicy": "Never", "containers": [c("app")]}),
        status(
            "Failed",
            &[cond("Initialized", true), cond("Ready", false)],
            vec![],
            vec![terminated("app", 2, "Error", &t)],
        ),
    )
    .await;
    k.pod(
        "j-running",
        json!({"containers": [c("app"), c("sidecar")]}),
        status(
            "Running",
            &[cond("Initialized", true), cond("Ready", true)],
            vec![],
            vec![running("app", true, &t), running("sidecar", true, &t)],
        ),
    )
    .await;
    k.pod(
        "k-not-ready",
        one.clone(),
        status(
            "Running",
            &[cond("Initialized", true), cond("Ready", false)],
            vec![],
            vec![running("app", false, &t)],
        ),
    )
    .await;
    let mut sidecar = c("proxy");
    sidecar["restartPolicy"] = json!("Always");
    let mut with_gate = json!({"initContainers": [sidecar], "containers": [c("app")],
                               "readinessGates": [{"conditionType": "example.com/gate"}]});
    with_gate["terminationGracePeriodSeconds"] = json!(30);
    k.pod(
        "l-sidecar",
        with_gate,
        status(
            "Running",
            &[
                cond("Initialized", true),
                cond("Ready", true),
                cond("example.com/gate", true),
            ],
            vec![running("proxy", true, &t)],
            vec![running("app", true, &t)],
        ),
    )
    .await;
    k.pod(
        "m-terminating",
        one.clone(),
        status(
            "Running",
            &[cond("Initialized", true), cond("Ready", true)],
            vec![],
            vec![running("app", true, &t)],
        ),
    )
    .await;
    k.clock.advance(Duration::from_secs(5));
    let (code, body) = k
        .call(
            Method::DELETE,
            "/api/v1/namespaces/default/pods/m-terminating",
            "application/json",
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    // An unscheduled pod: no node, only the scheduler's condition.
    let pending = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "n-pending"}, "spec": {"containers": [c("app")]}});
    let (code, body) = k
        .call(
            Method::POST,
            "/api/v1/namespaces/default/pods",
            "application/json",
            Some(&pending),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn pods_table_matches_kubectl_columns() {
    let k = Cluster::new();
    seed_pods(&k).await;
    k.clock.advance(Duration::from_secs(3 * 60 + 2));
    let (code, table) = k
        .call(
            Method::GET,
            "/api/v1/namespaces/default/pods?limit=500",
            TABLE,
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{table}");
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    let first = &table["rows"][0]["object"];
    assert_eq!(first["kind"], "PartialObjectMetadata");
    assert_eq!(first["metadata"]["name"], "a-init-running");
    insta::assert_snapshot!("pods", render(&table, false));
    insta::assert_snapshot!("pods_wide", render(&table, true));
}

#[tokio::test]
async fn get_one_include_object_and_watch_tables() {
    let k = Cluster::new();
    seed_pods(&k).await;
    let (code, one) = k
        .call(
            Method::GET,
            "/api/v1/namespaces/default/pods/g-crashloop?includeObject=Object",
            TABLE,
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{one}");
    assert_eq!(one["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["rows"][0]["object"]["kind"], "Pod");
    assert_eq!(one["rows"][0]["cells"][2], "CrashLoopBackOff");
    assert_eq!(one["rows"][0]["cells"][3], "4 (3m15s ago)");

    let (code, none) = k
        .call(
            Method::GET,
            "/api/v1/namespaces/default/pods?includeObject=None",
            TABLE,
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        none["rows"][0].get("object").is_none(),
        "{}",
        none["rows"][0]
    );

    let (code, meta) = k
        .call(
            Method::GET,
            "/api/v1/namespaces/default/pods",
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(meta["kind"], "PartialObjectMetadataList");
    assert_eq!(meta["items"].as_array().map(Vec::len), Some(14));

    let (code, err) = k
        .call(
            Method::GET,
            "/api/v1/namespaces/default/pods",
            "application/json;as=Table;v=v9;g=meta.k8s.io",
            None,
        )
        .await;
    assert_eq!(code, StatusCode::NOT_ACCEPTABLE, "{err}");
    assert_eq!(err["reason"], "NotAcceptable");

    // A watch in Table form: every event's object is a one-row Table.
    let (code, _) = k
        .call(Method::GET, "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dj-running&resourceVersion=0", TABLE, None)
        .await;
    assert_eq!(code, StatusCode::OK);
    let req = Request::builder()
        .uri("/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dj-running&resourceVersion=0")
        .header(header::ACCEPT, TABLE)
        .body(Body::empty())
        .expect("request");
    let resp = k.app.clone().oneshot(req).await.expect("response");
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let first: Value =
        serde_json::from_slice(bytes.split(|b| *b == b'\n').next().expect("line")).expect("event");
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["kind"], "Table");
    assert_eq!(first["object"]["rows"][0]["cells"][0], "j-running");
    assert_eq!(first["object"]["rows"][0]["cells"][2], "Running");
}

#[tokio::test]
async fn other_kinds_print_their_columns() {
    let k = Cluster::new();
    let post = |uri: &'static str, body: Value| {
        let k = &k;
        async move {
            let (code, b) = k
                .call(Method::POST, uri, "application/json", Some(&body))
                .await;
            assert_eq!(code, StatusCode::CREATED, "{b}");
        }
    };
    post("/apis/apps/v1/namespaces/default/deployments", json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}})).await;
    post("/api/v1/namespaces/default/services", json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}, {"name": "tls", "port": 443, "nodePort": 30443}]}})).await;
    post("/api/v1/namespaces/default/configmaps", json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}})).await;
    post("/api/v1/namespaces/default/secrets", json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tok"}, "type": "Opaque", "data": {"t": "dA=="}})).await;
    post("/apis/batch/v1/namespaces/default/jobs", json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}})).await;
    k.clock.advance(Duration::from_secs(4 * 3600 + 5 * 60));
    let mut out = String::new();
    for (what, uri) in [
        (
            "deployments",
            "/apis/apps/v1/namespaces/default/deployments",
        ),
        ("services", "/api/v1/namespaces/default/services"),
        ("configmaps", "/api/v1/namespaces/default/configmaps"),
        ("secrets", "/api/v1/namespaces/default/secrets"),
        ("jobs", "/apis/batch/v1/namespaces/default/jobs"),
        ("namespaces", "/api/v1/namespaces"),
    ] {
        let (code, table) = k.call(Method::GET, uri, TABLE, None).await;
        assert_eq!(code, StatusCode::OK, "{table}");
        out.push_str(&format!("# {what}\n{}\n", render(&table, true)));
    }
    let (_, nodes) = k.call(Method::GET, "/api/v1/nodes", TABLE, None).await;
    let row = nodes["rows"][0]["cells"].as_array().expect("cells");
    assert_eq!(row[1], "Ready");
    out.push_str(&format!(
        "# nodes\n{}\n",
        render(&nodes, false).lines().next().unwrap_or_default()
    ));
    insta::assert_snapshot!("other_kinds", out);
}

#[tokio::test]
async fn openshift_kinds_print_like_oc() {
    let k = Cluster::with_flavor(odo_sim::Flavor::Openshift);
    let post = |uri: &'static str, body: Value| {
        let k = &k;
        async move {
            let (code, b) = k
                .call(Method::POST, uri, "application/json", Some(&body))
                .await;
            assert_eq!(code, StatusCode::CREATED, "{b}");
        }
    };
    post("/apis/apps.openshift.io/v1/namespaces/default/deploymentconfigs", json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig", "metadata": {"name": "nodejs-app"},
        "spec": {"replicas": 1, "selector": {"deploymentconfig": "nodejs-app"},
                 "triggers": [{"type": "ConfigChange"}, {"type": "ImageChange", "imageChangeParams": {"automatic": true, "containerNames": ["nodejs-app"], "from": {"kind": "ImageStreamTag", "name": "nodejs:latest"}}}],
                 "template": {"metadata": {"labels": {"deploymentconfig": "nodejs-app"}}, "spec": {"containers": [{"name": "nodejs-app", "image": "nodejs:latest"}]}}}})).await;
    post("/apis/route.openshift.io/v1/namespaces/default/routes", json!({
        "apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "nodejs-8080"},
        "spec": {"host": "nodejs-8080-app.example.com", "to": {"kind": "Service", "name": "nodejs-app", "weight": 100},
                 "port": {"targetPort": 8080}, "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}}})).await;
    k.clock.advance(Duration::from_secs(42));
    let mut out = String::new();
    for uri in [
        "/apis/apps.openshift.io/v1/namespaces/default/deploymentconfigs",
        "/apis/route.openshift.io/v1/namespaces/default/routes",
    ] {
        let (code, table) = k.call(Method::GET, uri, TABLE, None).await;
        assert_eq!(code, StatusCode::OK, "{table}");
        out.push_str(&format!("{}\n", render(&table, true)));
    }
    insta::assert_snapshot!("openshift_kinds", out);
}

/// kube-rs's metadata API asks for `as=PartialObjectMetadataList` / `as=PartialObjectMetadata`.
#[tokio::test]
async fn kube_rs_metadata_api() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, ListParams, PostParams};
    let sim = odo_sim::Sim::builder().build().expect("sim");
    let api: Api<ConfigMap> = Api::namespaced(sim.client(), "default");
    for name in ["a", "b"] {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": "x"}}, "data": {"big": "payload"}
        }))
        .expect("configmap");
        api.create(&PostParams::default(), &cm)
            .await
            .expect("create");
    }
    let list = api
        .list_metadata(&ListParams::default().labels("app=x"))
        .await
        .expect("list metadata");
    let names: Vec<_> = list
        .items
        .iter()
        .filter_map(|m| m.metadata.name.clone())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let one = api.get_metadata("b").await.expect("get metadata");
    assert_eq!(
        one.metadata
            .labels
            .and_then(|l| l.get("app").cloned())
            .as_deref(),
        Some("x")
    );
}
