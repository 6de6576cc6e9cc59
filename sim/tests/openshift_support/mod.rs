//! Test support for the OpenShift flavor: a simulator serving the OpenShift groups and
//! dynamic clients for its kinds (kube-rs `DynamicObject` with an `ApiResource`).

#![allow(dead_code)] // each test binary uses a different part of this module

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::core::GroupVersionKind;
use odo_sim::{Flavor, Sim};
use serde_json::{Value, json};

/// A one-node OpenShift-flavored simulator.
pub fn sim() -> Sim {
    Sim::builder()
        .seed(7)
        .flavor(Flavor::Openshift)
        .build()
        .expect("sim builds")
}

/// The ApiResource of `group/version` `kind` served as `plural`.
pub fn ar(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// DeploymentConfigs.
pub fn dc() -> ApiResource {
    ar(
        "apps.openshift.io",
        "v1",
        "DeploymentConfig",
        "deploymentconfigs",
    )
}
/// ImageStreams.
pub fn is() -> ApiResource {
    ar("image.openshift.io", "v1", "ImageStream", "imagestreams")
}
/// ImageStreamTags.
pub fn istag() -> ApiResource {
    ar(
        "image.openshift.io",
        "v1",
        "ImageStreamTag",
        "imagestreamtags",
    )
}
/// Routes.
pub fn route() -> ApiResource {
    ar("route.openshift.io", "v1", "Route", "routes")
}
/// ReplicationControllers.
pub fn rc() -> ApiResource {
    ar("", "v1", "ReplicationController", "replicationcontrollers")
}
/// Pods.
pub fn pod() -> ApiResource {
    ar("", "v1", "Pod", "pods")
}
/// BuildConfigs.
pub fn bc() -> ApiResource {
    ar("build.openshift.io", "v1", "BuildConfig", "buildconfigs")
}
/// Builds.
pub fn build() -> ApiResource {
    ar("build.openshift.io", "v1", "Build", "builds")
}

/// The log of a pod in `default`.
pub async fn pod_log(sim: &Sim, name: &str) -> String {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(sim.client(), "default");
    pods.logs(name, &Default::default()).await.expect("pod log")
}

/// An image a build pushed into the catalogue, by its reference.
pub fn pushed_image(sim: &Sim, reference: &str) -> std::sync::Arc<odo_sim::runtime::Image> {
    let rt = sim.real_runtime().expect("real runtime");
    rt.runtime()
        .catalogue()
        .get(reference)
        .expect("pushed image")
}

/// The filesystem of an image a build pushed into the catalogue, by its reference.
pub fn pushed_image_fs(sim: &Sim, reference: &str) -> odo_sim::runtime::Vfs {
    let image = pushed_image(sim, reference);
    odo_sim::runtime::Vfs::new(
        odo_sim::runtime::SharedTree::new(image.root.clone()),
        vec![],
    )
}

/// A dynamic API for `res` in `ns` ("" for cluster-scoped resources).
pub fn api(sim: &Sim, res: &ApiResource, ns: &str) -> Api<DynamicObject> {
    if ns.is_empty() {
        Api::all_with(sim.client(), res)
    } else {
        Api::namespaced_with(sim.client(), ns, res)
    }
}

fn to_value(o: DynamicObject) -> Value {
    serde_json::to_value(o).expect("object json")
}

fn from_value(v: Value) -> DynamicObject {
    serde_json::from_value(v).expect("dynamic object")
}

/// Creates an object; returns it as stored.
pub async fn create(sim: &Sim, res: &ApiResource, ns: &str, obj: Value) -> Value {
    let r = api(sim, res, ns)
        .create(&PostParams::default(), &from_value(obj))
        .await;
    to_value(r.unwrap_or_else(|e| panic!("create {}: {e}", res.plural)))
}

/// Creates an object; returns the API error.
pub async fn create_err(sim: &Sim, res: &ApiResource, ns: &str, obj: Value) -> kube::core::Status {
    match api(sim, res, ns)
        .create(&PostParams::default(), &from_value(obj))
        .await
    {
        Err(kube::Error::Api(s)) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Reads an object.
pub async fn get(sim: &Sim, res: &ApiResource, ns: &str, name: &str) -> Value {
    let r = api(sim, res, ns).get(name).await;
    to_value(r.unwrap_or_else(|e| panic!("get {}/{name}: {e}", res.plural)))
}

/// Reads an object if it exists.
pub async fn get_opt(sim: &Sim, res: &ApiResource, ns: &str, name: &str) -> Option<Value> {
    api(sim, res, ns)
        .get_opt(name)
        .await
        .unwrap_or_else(|e| panic!("get {}/{name}: {e}", res.plural))
        .map(to_value)
}

/// Lists objects matching a label selector ("" for all), sorted by name.
pub async fn list(sim: &Sim, res: &ApiResource, ns: &str, labels: &str) -> Vec<Value> {
    let mut lp = ListParams::default();
    if !labels.is_empty() {
        lp = lp.labels(labels);
    }
    let mut items: Vec<Value> = api(sim, res, ns)
        .list(&lp)
        .await
        .unwrap_or_else(|e| panic!("list {}: {e}", res.plural))
        .items
        .into_iter()
        .map(to_value)
        .collect();
    items.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });
    items
}

/// Applies a JSON merge patch.
pub async fn merge(sim: &Sim, res: &ApiResource, ns: &str, name: &str, patch: Value) -> Value {
    let r = api(sim, res, ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await;
    to_value(r.unwrap_or_else(|e| panic!("patch {}/{name}: {e}", res.plural)))
}

/// Replaces an object (PUT).
pub async fn replace(sim: &Sim, res: &ApiResource, ns: &str, name: &str, obj: Value) -> Value {
    let r = api(sim, res, ns)
        .replace(name, &PostParams::default(), &from_value(obj))
        .await;
    to_value(r.unwrap_or_else(|e| panic!("replace {}/{name}: {e}", res.plural)))
}

/// Deletes an object.
pub async fn delete(sim: &Sim, res: &ApiResource, ns: &str, name: &str) {
    api(sim, res, ns)
        .delete(name, &DeleteParams::default())
        .await
        .unwrap_or_else(|e| panic!("delete {}/{name}: {e}", res.plural));
}

/// An annotation of an object ("" when unset).
pub fn annotation<'a>(o: &'a Value, key: &str) -> &'a str {
    o.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `spec.replicas` of an object.
pub fn replicas(o: &Value) -> i64 {
    o.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Pods that are not being deleted and have not finished.
pub fn live_pods(pods: &[Value]) -> Vec<&Value> {
    pods.iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .filter(|p| {
            !matches!(
                p.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            )
        })
        .collect()
}

/// POSTs `body` to a subresource (`instantiate`, `rollback` ...); returns the answer.
pub async fn post_subresource(
    sim: &Sim,
    res: &ApiResource,
    ns: &str,
    name: &str,
    sub: &str,
    body: Value,
) -> Result<Value, kube::Error> {
    api(sim, res, ns)
        .create_subresource::<Value, Value>(sub, name, &PostParams::default(), &body)
        .await
}

/// DeploymentConfig `app` whose container `app` runs whatever `app:latest` points at
/// (ConfigChange and an automatic ImageChange trigger), as a build's output feeds it.
pub fn app_dc() -> Value {
    json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig", "metadata": {"name": "app"},
        "spec": {"replicas": 1, "selector": {"app": "app"},
            "triggers": [{"type": "ConfigChange"}, {"type": "ImageChange", "imageChangeParams": {"automatic": true,
                "containerNames": ["app"], "from": {"kind": "ImageStreamTag", "name": "app:latest"}}}],
            "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "app", "image": " "}]}}}})
}

/// The phase of Build `name` in `default` ("" when unset).
pub async fn build_phase(sim: &Sim, name: &str) -> String {
    get(sim, &build(), "default", name).await["status"]["phase"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A Node.js app on disk: what a `file://` Git source of a BuildConfig points at.
pub fn node_app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("package.json"),
        r#"{"name": "app", "scripts": {"start": "node server.js"}, "dependencies": {"express": "^4.17.1"}}"#,
    )
    .expect("write");
    std::fs::write(
        dir.path().join("server.js"),
        "console.log('app built from source');\nrequire('http').createServer((q, r) => r.end('ok')).listen(8080);\n",
    )
    .expect("write");
    std::fs::create_dir(dir.path().join(".git")).expect("mkdir");
    std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").expect("write");
    dir
}

/// A BuildConfig `name` building the Git source `uri` with `builder` (Source strategy) into
/// `<name>:latest`, with a ConfigChange trigger.
pub fn git_bc(name: &str, uri: &str, builder: Value) -> Value {
    json!({
    "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": name},
    "spec": {
        "source": {"type": "Git", "git": {"uri": uri}},
        "strategy": {"type": "Source", "sourceStrategy": {"from": builder}},
        "output": {"to": {"kind": "ImageStreamTag", "name": format!("{name}:latest")}},
        "triggers": [{"type": "ConfigChange"}],
    }})
}

/// A DeploymentConfig `name` (label `app`, selector `name`) with `replicas`, `strategy`,
/// `triggers` and one container `helloworld` of `image` on port 8080.
pub fn dc_body(name: &str, replicas: i64, strategy: Value, triggers: Value, image: &str) -> Value {
    json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"name": name},
            "strategy": strategy,
            "triggers": triggers,
            "template": {"metadata": {"labels": {"name": name}},
                "spec": {"containers": [{"name": "helloworld", "image": image, "ports": [{"containerPort": 8080}]}]}},
        }
    })
}

/// The ReplicationControllers in `default`, sorted by name.
pub async fn rcs(sim: &Sim) -> Vec<Value> {
    list(sim, &rc(), "default", "").await
}

/// `status` of DeploymentConfig `name` in `default`.
pub async fn dc_status(sim: &Sim, name: &str) -> Value {
    get(sim, &dc(), "default", name).await["status"].clone()
}

/// The condition `ty` of a status (null when absent).
pub fn condition<'a>(status: &'a Value, ty: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
        .unwrap_or(&Value::Null)
}

/// Pods of one version that are live, and how many of those are ready.
pub async fn version_pods(sim: &Sim, rc_name: &str) -> (usize, usize) {
    let pods = list(sim, &pod(), "default", &format!("deployment={rc_name}")).await;
    let live = live_pods(&pods);
    let ready = live
        .iter()
        .filter(|p| {
            p["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .count();
    (live.len(), ready)
}
