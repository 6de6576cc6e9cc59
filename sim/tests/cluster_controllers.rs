//! Controllers on the simulated cluster: ReplicaSets, ReplicationControllers, Deployments,
//! Services and their endpoints, Jobs, claims, node loss, determinism.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Endpoints, Namespace, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController,
    Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use odo_sim::{Fault, Sim};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn sim(nodes: usize) -> Sim {
    Sim::builder().seed(11).nodes(nodes).build().expect("sim")
}

async fn create<K>(sim: &Sim, obj: Value) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(sim.client(), "default");
    let o: K = serde_json::from_value(obj).expect("object json");
    api.create(&PostParams::default(), &o)
        .await
        .expect("create");
    api
}

async fn pods(sim: &Sim, selector: &str) -> Vec<Value> {
    let api: Api<Pod> = Api::namespaced(sim.client(), "default");
    api.list(&ListParams::default().labels(selector))
        .await
        .expect("list pods")
        .items
        .into_iter()
        .map(|p| serde_json::to_value(p).expect("json"))
        .collect()
}

fn is_ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn live(ps: &[Value]) -> Vec<&Value> {
    ps.iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .collect()
}

fn template(app: &str, image: &str) -> Value {
    json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 8080, "name": "http"}]}]}})
}

/// The seed's ReplicationController example: converges, then replaces a deleted pod.
#[tokio::test]
async fn replication_controller_converges_and_self_heals() {
    let sim = sim(2);
    let _rc = create::<ReplicationController>(
        &sim,
        json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "nginx"},
            "spec": {"replicas": 3, "selector": {"app": "nginx"}, "template": template("nginx", "nginx:1.25")}}),
    )
    .await;
    sim.settle();
    let ps = pods(&sim, "app=nginx").await;
    assert_eq!(ps.len(), 3);
    assert!(ps.iter().all(is_ready));
    assert!(ps.iter().all(
        |p| p["metadata"]["ownerReferences"][0]["controller"] == true
            && p["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
    ));
    let rcs: Api<ReplicationController> = Api::namespaced(sim.client(), "default");
    let rc = serde_json::to_value(rcs.get("nginx").await.expect("rc")).expect("json");
    assert_eq!(rc["status"]["readyReplicas"], 3);
    assert_eq!(rc["status"]["availableReplicas"], 3);
    let victim = ps[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let api: Api<Pod> = Api::namespaced(sim.client(), "default");
    api.delete(&victim, &DeleteParams::default())
        .await
        .expect("delete");
    sim.settle();
    let ps = pods(&sim, "app=nginx").await;
    assert_eq!(
        ps.len(),
        3,
        "replaced: {:?}",
        ps.iter()
            .map(|p| &p["metadata"]["name"])
            .collect::<Vec<_>>()
    );
    assert!(ps.iter().all(|p| p["metadata"]["name"] != victim.as_str()));
    assert!(ps.iter().all(is_ready));
    // Scale down removes pods; scale up adds them.
    rcs.patch(
        "nginx",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale");
    sim.settle();
    assert_eq!(pods(&sim, "app=nginx").await.len(), 1);
}

/// The seed's ReplicaSet example with a set-based selector; it adopts a matching bare pod.
#[tokio::test]
async fn replicaset_with_set_based_selector_adopts_and_self_heals() {
    let sim = sim(2);
    let _bare = create::<Pod>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"tier": "frontend"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}),
    )
    .await;
    let _rs = create::<ReplicaSet>(
        &sim,
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "frontend"},
            "spec": {"replicas": 3,
                "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend"]}]},
                "template": {"metadata": {"labels": {"tier": "frontend"}}, "spec": {"containers": [{"name": "php", "image": "gcr.io/google_samples/gb-frontend:v3"}]}}}}),
    )
    .await;
    sim.settle();
    let ps = pods(&sim, "tier=frontend").await;
    assert_eq!(ps.len(), 3, "the stray pod is adopted, two are created");
    assert!(ps.iter().any(|p| p["metadata"]["name"] == "stray"
        && p["metadata"]["ownerReferences"][0]["name"] == "frontend"));
    let api: Api<Pod> = Api::namespaced(sim.client(), "default");
    api.delete("stray", &DeleteParams::default())
        .await
        .expect("delete");
    sim.settle();
    let ps = pods(&sim, "tier=frontend").await;
    assert_eq!(ps.len(), 3);
    assert!(ps.iter().all(is_ready));
    let events = sim.trace_text();
    assert!(
        events
            .contains("event SuccessfulCreate ReplicaSet default/frontend: Created pod: frontend-")
    );
}

async fn deployment_status(sim: &Sim, name: &str) -> Value {
    let api: Api<Deployment> = Api::namespaced(sim.client(), "default");
    serde_json::to_value(api.get(name).await.expect("deployment")).expect("json")
}

/// What `kubectl rollout status` checks before it reports success.
fn rollout_complete(d: &Value) -> bool {
    let s = &d["status"];
    let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let g = |f: &str| s[f].as_i64().unwrap_or(0);
    d["metadata"]["generation"].as_i64() <= s["observedGeneration"].as_i64()
        && g("updatedReplicas") == want
        && g("replicas") == g("updatedReplicas")
        && g("availableReplicas") == g("updatedReplicas")
}

#[tokio::test]
async fn deployment_rolling_update_completes_within_surge_and_unavailability() {
    let sim = sim(3);
    let deps = create::<Deployment>(
        &sim,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
                "template": template("web", "openshift/hello-openshift:v1")}}),
    )
    .await;
    sim.settle();
    let d = deployment_status(&sim, "web").await;
    assert!(rollout_complete(&d), "{:#}", d["status"]);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let conds = d["status"]["conditions"].as_array().expect("conditions");
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "Available" && c["status"] == "True")
    );
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "Progressing" && c["reason"] == "NewReplicaSetAvailable")
    );
    // Roll to a new image, watching the bounds at every step of virtual time.
    deps.patch("web", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "openshift/hello-openshift:v2"}]}}}})))
        .await
        .expect("patch");
    let mut steps = 0;
    loop {
        sim.advance(Duration::from_millis(250));
        steps += 1;
        let ps = pods(&sim, "app=web").await;
        let live = live(&ps);
        assert!(
            live.len() <= 5,
            "maxSurge 1: at most 5 pods, got {}",
            live.len()
        );
        let ready = live.iter().filter(|p| is_ready(p)).count();
        assert!(
            ready >= 3,
            "maxUnavailable 1: at least 3 ready, got {ready}"
        );
        let d = deployment_status(&sim, "web").await;
        if rollout_complete(&d) && d["status"]["updatedReplicas"] == 4 {
            assert_eq!(
                d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
                "2"
            );
            break;
        }
        assert!(steps < 400, "rollout did not complete: {:#}", d["status"]);
    }
    sim.settle();
    let ps = pods(&sim, "app=web").await;
    assert_eq!(ps.len(), 4);
    assert!(
        ps.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "openshift/hello-openshift:v2")
    );
    let rss: Api<ReplicaSet> = Api::namespaced(sim.client(), "default");
    let list = rss.list(&ListParams::default()).await.expect("rs");
    assert_eq!(
        list.items.len(),
        2,
        "old ReplicaSet kept (revision history)"
    );
    let replicas: Vec<i32> = list
        .items
        .iter()
        .map(|r| r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0))
        .collect();
    assert!(
        replicas.contains(&0) && replicas.contains(&4),
        "{replicas:?}"
    );
}

#[tokio::test]
async fn deployment_recreate_stops_old_pods_before_new_ones_start() {
    let sim = sim(1);
    let deps = create::<Deployment>(
        &sim,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "rec"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "rec"}}, "strategy": {"type": "Recreate"},
                "template": {"metadata": {"labels": {"app": "rec"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "infinity"]}]}}}}),
    )
    .await;
    sim.settle();
    deps.patch(
        "rec",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"template": {"metadata": {"labels": {"app": "rec", "v": "2"}}}}}),
        ),
    )
    .await
    .expect("patch");
    let mut first_new = None;
    // `sleep` ignores SIGTERM: the old pods take the 30 s grace period to go.
    for step in 0..80 {
        sim.advance(Duration::from_secs(1));
        let ps = pods(&sim, "app=rec").await;
        let old = ps
            .iter()
            .filter(|p| p["metadata"]["labels"]["v"].is_null())
            .count();
        let new = ps
            .iter()
            .filter(|p| p["metadata"]["labels"]["v"] == "2")
            .count();
        assert!(
            old == 0 || new == 0,
            "old and new pods at once: {old} old, {new} new"
        );
        if new > 0 && first_new.is_none() {
            first_new = Some(step);
        }
    }
    assert!(
        first_new.is_some_and(|s| s >= 29),
        "new pods only after the old ones' 30 s grace period: {first_new:?}"
    );
    assert!(rollout_complete(&deployment_status(&sim, "rec").await));
}

#[tokio::test]
async fn services_get_endpoints_slices_and_node_ports() {
    let sim = sim(2);
    let _d = create::<Deployment>(
        &sim,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hello"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "hello"}}, "template": template("hello", "openshift/hello-openshift:latest")}}),
    )
    .await;
    let svcs = create::<Service>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hello"},
            "spec": {"type": "NodePort", "selector": {"app": "hello"}, "ports": [{"port": 80, "targetPort": "http", "name": "web"}]}}),
    )
    .await;
    let _headless = create::<Service>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hello-headless"},
            "spec": {"clusterIP": "None", "selector": {"app": "hello"}, "ports": [{"port": 8080}]}}),
    )
    .await;
    sim.settle();
    let svc = serde_json::to_value(svcs.get("hello").await.expect("svc")).expect("json");
    let np = svc["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .expect("nodePort");
    assert!((30000..=32767).contains(&np), "{np}");
    let ps = pods(&sim, "app=hello").await;
    let mut ips: Vec<String> = ps
        .iter()
        .map(|p| p["status"]["podIP"].as_str().expect("ip").to_string())
        .collect();
    ips.sort();
    let eps: Api<Endpoints> = Api::namespaced(sim.client(), "default");
    for name in ["hello", "hello-headless"] {
        let ep = serde_json::to_value(eps.get(name).await.expect("endpoints")).expect("json");
        let mut got: Vec<String> = ep["subsets"][0]["addresses"]
            .as_array()
            .expect("addresses")
            .iter()
            .map(|a| a["ip"].as_str().unwrap_or("").to_string())
            .collect();
        got.sort();
        assert_eq!(got, ips, "{name}");
    }
    let ep = serde_json::to_value(eps.get("hello").await.expect("endpoints")).expect("json");
    assert_eq!(
        ep["subsets"][0]["ports"][0]["port"], 8080,
        "named targetPort resolved"
    );
    let slices: Api<EndpointSlice> = Api::namespaced(sim.client(), "default");
    let list = slices
        .list(&ListParams::default().labels("kubernetes.io/service-name=hello"))
        .await
        .expect("slices");
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].endpoints.len(), 2);
    // A pod that is not ready moves to notReadyAddresses (the restarted container re-pulls
    // its `:latest` image for a second).
    sim.inject(Fault::KillContainer {
        namespace: "default".into(),
        pod: ps[0]["metadata"]["name"].as_str().expect("n").into(),
        container: None,
        oom: false,
    })
    .expect("kill");
    sim.advance(Duration::from_millis(1));
    let ep = serde_json::to_value(eps.get("hello").await.expect("endpoints")).expect("json");
    assert_eq!(
        ep["subsets"][0]["notReadyAddresses"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{ep:#}"
    );
    assert_eq!(
        ep["subsets"][0]["addresses"].as_array().map(Vec::len),
        Some(1)
    );
    // A taken NodePort is refused.
    let taken: Api<Service> = Api::namespaced(sim.client(), "default");
    let s: Service = serde_json::from_value(json!({"metadata": {"name": "clash"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": np}]}})).expect("svc");
    let err = taken
        .create(&PostParams::default(), &s)
        .await
        .expect_err("port taken");
    assert!(
        format!("{err}").contains("provided port is already allocated"),
        "{err}"
    );
}

#[tokio::test]
async fn jobs_complete_or_fail_per_backoff_limit() {
    let sim = sim(2);
    let jobs = create::<Job>(
        &sim,
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "ok"},
            "spec": {"completions": 3, "parallelism": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 5"]}]}}}}),
    )
    .await;
    let _bad = create::<Job>(
        &sim,
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bad"},
            "spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "exit 1"]}]}}}}),
    )
    .await;
    sim.advance(Duration::from_secs(3));
    let ok = serde_json::to_value(jobs.get("ok").await.expect("job")).expect("json");
    assert_eq!(
        ok["status"]["active"], 2,
        "parallelism 2: {:#}",
        ok["status"]
    );
    sim.settle();
    let ok = serde_json::to_value(jobs.get("ok").await.expect("job")).expect("json");
    assert_eq!(ok["status"]["succeeded"], 3);
    assert!(
        ok["status"]["conditions"]
            .as_array()
            .expect("conds")
            .iter()
            .any(|c| c["type"] == "Complete" && c["status"] == "True")
    );
    let bad = serde_json::to_value(jobs.get("bad").await.expect("job")).expect("json");
    assert_eq!(bad["status"]["failed"], 3, "{:#}", bad["status"]);
    assert!(
        bad["status"]["conditions"]
            .as_array()
            .expect("conds")
            .iter()
            .any(|c| c["type"] == "Failed" && c["reason"] == "BackoffLimitExceeded")
    );
}

/// A 1Gi ReadWriteOnce claim `data` of the default class.
async fn data_claim(sim: &Sim) -> Api<PersistentVolumeClaim> {
    create::<PersistentVolumeClaim>(
        sim,
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    )
    .await
}

#[tokio::test]
async fn claims_are_provisioned_and_reclaimed() {
    let sim = sim(1);
    let claims = data_claim(&sim).await;
    let c = serde_json::to_value(claims.get("data").await.expect("pvc")).expect("json");
    assert_eq!(c["status"]["phase"], "Pending");
    sim.settle();
    let c = serde_json::to_value(claims.get("data").await.expect("pvc")).expect("json");
    assert_eq!(c["status"]["phase"], "Bound");
    assert_eq!(pvs_class(&sim, &c).await, "standard");
    let pv_name = c["spec"]["volumeName"]
        .as_str()
        .expect("volume")
        .to_string();
    let pvs: Api<PersistentVolume> = Api::all(sim.client());
    let pv = serde_json::to_value(pvs.get(&pv_name).await.expect("pv")).expect("json");
    assert_eq!(pv["status"]["phase"], "Bound");
    assert_eq!(pv["spec"]["claimRef"]["name"], "data");
    claims
        .delete("data", &DeleteParams::default())
        .await
        .expect("delete");
    sim.settle();
    assert!(
        pvs.get_opt(&pv_name).await.expect("get").is_none(),
        "reclaimPolicy Delete removes the volume"
    );
}

/// A bind interrupted between its two writes (the volume names the claim, the claim does not
/// name the volume yet: a client updated the claim in between) is finished on the next
/// reconcile, with that volume, instead of leaving the claim Pending forever.
#[tokio::test]
async fn a_half_done_bind_is_finished_with_the_same_volume() {
    let sim = sim(1);
    let claims = data_claim(&sim).await;
    let c = serde_json::to_value(claims.get("data").await.expect("pvc")).expect("json");
    let uid = c["metadata"]["uid"].as_str().expect("uid").to_string();
    let pvs: Api<PersistentVolume> = Api::all(sim.client());
    let pv: PersistentVolume = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": format!("pvc-{uid}")},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "storageClassName": "standard", "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": "/var/lib/odo-sim/volumes/x"},
            "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data", "uid": uid}}
    }))
    .expect("pv json");
    pvs.create(&PostParams::default(), &pv).await.expect("pv");
    sim.settle();
    let c = serde_json::to_value(claims.get("data").await.expect("pvc")).expect("json");
    assert_eq!(c["status"]["phase"], "Bound");
    assert_eq!(c["spec"]["volumeName"], format!("pvc-{uid}"));
    assert_eq!(
        pvs.list(&ListParams::default())
            .await
            .expect("pvs")
            .items
            .len(),
        1,
        "no second volume provisioned"
    );
}

/// Node loss: controller-owned pods are recreated elsewhere, bare pods are not.
#[tokio::test]
async fn node_loss_recreates_owned_pods_elsewhere() {
    let sim = sim(2);
    let _rs = create::<ReplicaSet>(
        &sim,
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
            "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "rs"}}, "template": template("rs", "nginx:1.25")}}),
    )
    .await;
    for n in 1..=2 {
        create::<Pod>(&sim, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("bare-{n}"), "labels": {"bare": "yes"}},
            "spec": {"nodeName": format!("sim-node-{n}"), "containers": [{"name": "c", "image": "nginx:1.25"}]}})).await;
    }
    sim.settle();
    let before = pods(&sim, "app=rs").await;
    let on_node1: Vec<String> = before
        .iter()
        .filter(|p| p["spec"]["nodeName"] == "sim-node-1")
        .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(!on_node1.is_empty(), "least-loaded scheduling spreads pods");
    sim.inject(Fault::NodeDown {
        node: "sim-node-1".into(),
    })
    .expect("node down");
    sim.advance(Duration::from_secs(41));
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(sim.client());
    let n1 = serde_json::to_value(nodes.get("sim-node-1").await.expect("node")).expect("json");
    let ready = n1["status"]["conditions"]
        .as_array()
        .expect("conds")
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .unwrap_or_default();
    assert_eq!(ready["status"], "Unknown");
    assert!(n1["spec"]["taints"].as_array().is_some_and(|t| {
        t.iter()
            .any(|t| t["key"] == "node.kubernetes.io/unreachable")
    }));
    sim.advance(Duration::from_secs(301));
    let after = pods(&sim, "app=rs").await;
    let live_after = live(&after);
    assert_eq!(live_after.len(), 4);
    assert!(
        live_after
            .iter()
            .all(|p| p["spec"]["nodeName"] == "sim-node-2" && is_ready(p))
    );
    let bare = pods(&sim, "bare=yes").await;
    assert_eq!(
        live(&bare).len(),
        1,
        "the bare pod on the lost node is not replaced"
    );
    // The node returns: its Terminating pods finish.
    sim.inject(Fault::NodeUp {
        node: "sim-node-1".into(),
    })
    .expect("node up");
    sim.settle();
    assert_eq!(pods(&sim, "app=rs").await.len(), 4);
    assert_eq!(pods(&sim, "bare=yes").await.len(), 1);
}

async fn scenario(seed: u64) -> String {
    let sim = Sim::builder().seed(seed).nodes(3).build().expect("sim");
    let _d = create::<Deployment>(
        &sim,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "det"},
            "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "det"}},
                "template": {"metadata": {"labels": {"app": "det"}}, "spec": {"initContainers": [{"name": "i", "image": "busybox:1.36", "command": ["sleep", "2"]}],
                    "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 30; exit 1"]}]}}}}),
    )
    .await;
    sim.advance(Duration::from_secs(20));
    let ps = pods(&sim, "app=det").await;
    let victim = ps[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    sim.inject(Fault::DeletePod {
        namespace: "default".into(),
        pod: victim,
    })
    .expect("delete");
    sim.inject(Fault::NodeDown {
        node: "sim-node-2".into(),
    })
    .expect("down");
    sim.advance(Duration::from_secs(600));
    sim.trace_text()
}

#[tokio::test]
async fn same_seed_same_trace() {
    let a = scenario(42).await;
    let b = scenario(42).await;
    assert!(a.lines().count() > 100, "a substantial trace:\n{a}");
    assert_eq!(a, b, "same seed and requests must give the same trace");
    let c = scenario(43).await;
    assert_ne!(a, c, "another seed gives other names and IPs");
}

async fn pvs_class(sim: &Sim, claim: &Value) -> String {
    let pvs: Api<PersistentVolume> = Api::all(sim.client());
    let pv = pvs
        .get(claim["spec"]["volumeName"].as_str().unwrap_or(""))
        .await
        .expect("pv");
    pv.spec
        .and_then(|s| s.storage_class_name)
        .unwrap_or_default()
}

/// A Deployment of two pods whose `sleep` ignores SIGTERM, so each pod takes its whole
/// 30 s grace period to go.
async fn slow_to_stop_deployment(sim: &Sim, ns: &str, name: &str) {
    let api: Api<Deployment> = Api::namespaced(sim.client(), ns);
    let d: Deployment = serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "infinity"]}]}}}}))
    .expect("deployment json");
    api.create(&PostParams::default(), &d)
        .await
        .expect("create deployment");
    sim.settle();
}

/// (name, deleting, has the foregroundDeletion finalizer) of every object of `K` in `ns`.
async fn deletion_state<K>(sim: &Sim, ns: &str) -> Vec<(String, bool, bool)>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(sim.client(), ns);
    api.list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(|o| {
            let m = o.meta();
            (
                m.name.clone().unwrap_or_default(),
                m.deletion_timestamp.is_some(),
                m.finalizers
                    .as_ref()
                    .is_some_and(|f| f.iter().any(|f| f == "foregroundDeletion")),
            )
        })
        .collect()
}

/// Deleting a Deployment whose pods take their grace period to stop, under each
/// propagation policy: Foreground keeps the Deployment and its ReplicaSet (deletionTimestamp,
/// foregroundDeletion) until the last pod is gone, then removes both; Background removes them
/// at once and the pods terminate without replacements; Orphan removes only the Deployment,
/// and its ReplicaSet (no owner reference left) keeps its pods running.
#[tokio::test]
async fn gc_propagation_policies_with_terminating_pods() {
    for policy in [
        PropagationPolicy::Foreground,
        PropagationPolicy::Background,
        PropagationPolicy::Orphan,
    ] {
        let sim = sim(2);
        slow_to_stop_deployment(&sim, "default", "gc").await;
        let before = pods(&sim, "app=gc").await;
        assert_eq!(live(&before).len(), 2);
        let deps: Api<Deployment> = Api::namespaced(sim.client(), "default");
        let dp = DeleteParams {
            propagation_policy: Some(policy.clone()),
            ..DeleteParams::default()
        };
        deps.delete("gc", &dp).await.expect("delete deployment");
        sim.advance(Duration::from_secs(5));
        let d = deletion_state::<Deployment>(&sim, "default").await;
        let rs = deletion_state::<ReplicaSet>(&sim, "default").await;
        let ps = pods(&sim, "app=gc").await;
        let terminating = ps
            .iter()
            .filter(|p| p.pointer("/metadata/deletionTimestamp").is_some())
            .count();
        match policy {
            PropagationPolicy::Foreground => {
                assert_eq!(d, [("gc".to_string(), true, true)], "{policy:?}");
                assert!(
                    matches!(rs.as_slice(), [(_, true, true)]),
                    "the ReplicaSet waits for its pods too: {rs:?}"
                );
                assert_eq!((ps.len(), terminating), (2, 2), "pods terminating");
            }
            PropagationPolicy::Background => {
                assert!(d.is_empty() && rs.is_empty(), "{d:?} {rs:?}");
                assert_eq!(
                    (ps.len(), terminating),
                    (2, 2),
                    "pods terminating, none replaced"
                );
            }
            _ => {
                assert!(d.is_empty(), "{d:?}");
                assert!(matches!(rs.as_slice(), [(_, false, false)]), "{rs:?}");
                let rss: Api<ReplicaSet> = Api::namespaced(sim.client(), "default");
                let r = rss.get(&rs[0].0).await.expect("orphaned ReplicaSet");
                assert!(r.metadata.owner_references.is_none(), "{:?}", r.metadata);
                assert_eq!(terminating, 0, "orphaned pods keep running");
            }
        }
        // Past the 30 s grace period.
        sim.advance(Duration::from_secs(30));
        let d = deletion_state::<Deployment>(&sim, "default").await;
        let rs = deletion_state::<ReplicaSet>(&sim, "default").await;
        let ps = pods(&sim, "app=gc").await;
        if matches!(policy, PropagationPolicy::Orphan) {
            assert!(d.is_empty());
            assert_eq!(rs.len(), 1);
            let names = |ps: &[Value]| -> Vec<String> {
                let mut n: Vec<String> = ps
                    .iter()
                    .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string())
                    .collect();
                n.sort();
                n
            };
            assert_eq!(names(&ps), names(&before), "the same pods");
            assert!(ps.iter().all(is_ready));
        } else {
            assert!(
                d.is_empty() && rs.is_empty() && ps.is_empty(),
                "{policy:?}: all gone after the grace period: {d:?} {rs:?} {ps:?}"
            );
        }
    }
}

/// Deleting a namespace with a Deployment and a Service in it: it is Terminating while its
/// pods use their grace period (new objects refused, no pod recreated), then it is gone with
/// everything in it.
#[tokio::test]
async fn namespace_deletion_waits_for_its_pods_then_goes() {
    let sim = sim(2);
    let nss: Api<Namespace> = Api::all(sim.client());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "team"}})).expect("ns json");
    nss.create(&PostParams::default(), &ns).await.expect("ns");
    slow_to_stop_deployment(&sim, "team", "app").await;
    let svcs: Api<Service> = Api::namespaced(sim.client(), "team");
    let svc: Service = serde_json::from_value(json!({"metadata": {"name": "app"},
        "spec": {"selector": {"app": "app"}, "ports": [{"port": 80}]}}))
    .expect("svc json");
    svcs.create(&PostParams::default(), &svc)
        .await
        .expect("svc");
    sim.settle();
    let team_pods: Api<Pod> = Api::namespaced(sim.client(), "team");
    assert_eq!(
        team_pods
            .list(&ListParams::default())
            .await
            .expect("pods")
            .items
            .len(),
        2
    );
    nss.delete("team", &DeleteParams::default())
        .await
        .expect("delete ns");
    sim.advance(Duration::from_secs(10));
    let n = nss.get("team").await.expect("still there while pods stop");
    assert_eq!(
        n.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Terminating")
    );
    let left = team_pods.list(&ListParams::default()).await.expect("pods");
    assert_eq!(left.items.len(), 2, "no pod recreated");
    assert!(
        left.items
            .iter()
            .all(|p| p.metadata.deletion_timestamp.is_some())
    );
    assert!(
        svcs.get_opt("app").await.expect("get svc").is_none(),
        "the Service went at once"
    );
    let err = svcs
        .create(&PostParams::default(), &svc)
        .await
        .expect_err("creating in a Terminating namespace");
    assert!(
        format!("{err}").contains("because it is being terminated"),
        "{err}"
    );
    sim.advance(Duration::from_secs(25));
    assert!(
        nss.get_opt("team").await.expect("get ns").is_none(),
        "gone once its pods are"
    );
    let all_pods: Api<Pod> = Api::all(sim.client());
    let in_team = all_pods
        .list(&ListParams::default())
        .await
        .expect("pods")
        .items
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some("team"))
        .count();
    assert_eq!(in_team, 0);
}

/// The Progressing condition of Deployment `name`: (status, reason, message).
async fn progressing(sim: &Sim, name: &str) -> (String, String, String) {
    let d = deployment_status(sim, name).await;
    let c = d["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing"))
        .cloned()
        .unwrap_or_default();
    let s = |f: &str| c[f].as_str().unwrap_or_default().to_string();
    (s("status"), s("reason"), s("message"))
}

/// A rollout whose pods cannot pull their image makes no progress: Progressing stays True
/// until `progressDeadlineSeconds` have passed, then turns False with
/// ProgressDeadlineExceeded (what `kubectl rollout status` reports as an error); once the
/// image pulls, the pods' progress turns it True again, then NewReplicaSetAvailable.
#[tokio::test]
async fn a_stuck_rollout_exceeds_its_progress_deadline_then_recovers() {
    let sim = sim(2);
    sim.inject(Fault::ImagePullFailure {
        image: "busybox:1.36".into(),
        active: true,
    })
    .expect("inject");
    let _d = create::<Deployment>(
        &sim,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "stuck"},
            "spec": {"replicas": 2, "progressDeadlineSeconds": 60, "selector": {"matchLabels": {"app": "stuck"}},
                "template": {"metadata": {"labels": {"app": "stuck"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "infinity"]}]}}}}),
    )
    .await;
    sim.advance(Duration::from_secs(50));
    let (status, reason, _) = progressing(&sim, "stuck").await;
    assert_eq!(status, "True", "{reason}: still within the deadline");
    sim.advance(Duration::from_secs(15));
    let d = deployment_status(&sim, "stuck").await;
    let (status, reason, message) = progressing(&sim, "stuck").await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "ProgressDeadlineExceeded"),
        "{:#}",
        d["status"]
    );
    assert!(
        message.starts_with("ReplicaSet \"stuck-")
            && message.ends_with("\" has timed out progressing."),
        "{message}"
    );
    assert!(!rollout_complete(&d));
    // It stays timed out while nothing changes.
    sim.advance(Duration::from_secs(120));
    assert_eq!(
        progressing(&sim, "stuck").await.1,
        "ProgressDeadlineExceeded"
    );

    sim.inject(Fault::ImagePullFailure {
        image: "busybox:1.36".into(),
        active: false,
    })
    .expect("heal");
    sim.settle();
    let d = deployment_status(&sim, "stuck").await;
    assert!(rollout_complete(&d), "{:#}", d["status"]);
    let (status, reason, _) = progressing(&sim, "stuck").await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "NewReplicaSetAvailable")
    );

    // A rollout that finishes leaves no deadline pending: the cluster is idle at once, not
    // after the default 600 s deadline.
    let _quick = create::<Deployment>(
        &sim,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "quick"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "quick"}},
                "template": {"metadata": {"labels": {"app": "quick"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "infinity"]}]}}}}),
    )
    .await;
    let settled = sim.settle();
    assert!(rollout_complete(&deployment_status(&sim, "quick").await));
    assert!(
        settled.idle && settled.elapsed < Duration::from_secs(60),
        "{settled:?}"
    );
}

fn sleeper(app: &str, image: &str, version: &str) -> Value {
    json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "c", "image": image,
        "command": ["sleep", "infinity"], "env": [{"name": "VERSION", "value": version}]}]}})
}

async fn patch_deployment(sim: &Sim, name: &str, body: Value) {
    let api: Api<Deployment> = Api::namespaced(sim.client(), "default");
    api.patch(name, &PatchParams::default(), &Patch::Merge(body))
        .await
        .expect("patch deployment");
}

/// `kubectl rollout pause` (spec.paused): Progressing turns Unknown/DeploymentPaused and a
/// paused rollout does not time out; on resume it is Unknown/DeploymentResumed, and the
/// progress deadline counts from the resume.
#[tokio::test]
async fn a_paused_rollout_says_so_and_its_deadline_starts_at_resume() {
    let sim = sim(2);
    sim.inject(Fault::ImagePullFailure {
        image: "nginx:1.25".into(),
        active: true,
    })
    .expect("inject");
    let _d = create::<Deployment>(
        &sim,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "held"},
            "spec": {"replicas": 2, "progressDeadlineSeconds": 60, "selector": {"matchLabels": {"app": "held"}},
                "template": sleeper("held", "nginx:1.25", "1")}}),
    )
    .await;
    sim.advance(Duration::from_secs(10));
    assert_eq!(progressing(&sim, "held").await.0, "True");
    patch_deployment(&sim, "held", json!({"spec": {"paused": true}})).await;
    sim.advance(Duration::from_secs(1));
    let paused = (
        "Unknown".to_string(),
        "DeploymentPaused".to_string(),
        "Deployment is paused".to_string(),
    );
    assert_eq!(progressing(&sim, "held").await, paused);
    // Well past the deadline: a paused rollout does not time out.
    sim.advance(Duration::from_secs(120));
    assert_eq!(progressing(&sim, "held").await, paused);
    patch_deployment(&sim, "held", json!({"spec": {"paused": false}})).await;
    sim.advance(Duration::from_secs(50));
    assert_eq!(
        progressing(&sim, "held").await,
        (
            "Unknown".to_string(),
            "DeploymentResumed".to_string(),
            "Deployment is resumed".to_string()
        )
    );
    sim.advance(Duration::from_secs(15));
    assert_eq!(
        progressing(&sim, "held").await.1,
        "ProgressDeadlineExceeded",
        "60 s after the resume without progress"
    );
    sim.inject(Fault::ImagePullFailure {
        image: "nginx:1.25".into(),
        active: false,
    })
    .expect("heal");
    sim.settle();
    let d = deployment_status(&sim, "held").await;
    assert!(rollout_complete(&d), "{:#}", d["status"]);
    assert_eq!(progressing(&sim, "held").await.1, "NewReplicaSetAvailable");
}

/// The revisions of Deployment `name`'s ReplicaSets, with their spec replicas, oldest first.
async fn revisions(sim: &Sim, app: &str) -> Vec<(i64, i64)> {
    let api: Api<ReplicaSet> = Api::namespaced(sim.client(), "default");
    let mut out: Vec<(i64, i64)> = api
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("replicasets")
        .items
        .into_iter()
        .map(|r| {
            let rev = r
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("deployment.kubernetes.io/revision"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            (rev, i64::from(r.spec.and_then(|s| s.replicas).unwrap_or(0)))
        })
        .collect();
    out.sort_unstable();
    out
}

/// `revisionHistoryLimit`: the old ReplicaSets beyond the limit go, oldest revision first,
/// counting old ones that still have replicas (which stay) against the limit, and never the
/// current one.
#[tokio::test]
async fn old_replicasets_beyond_the_history_limit_are_deleted_oldest_first() {
    let sim = sim(2);
    let _d = create::<Deployment>(
        &sim,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hist"},
            "spec": {"replicas": 2, "revisionHistoryLimit": 1, "selector": {"matchLabels": {"app": "hist"}},
                "template": sleeper("hist", "busybox:1.36", "1")}}),
    )
    .await;
    sim.settle();
    patch_deployment(
        &sim,
        "hist",
        json!({"spec": {"template": sleeper("hist", "busybox:1.36", "2")}}),
    )
    .await;
    sim.settle();
    assert_eq!(revisions(&sim, "hist").await, vec![(1, 0), (2, 2)]);
    // Revision 3 cannot start: revision 2 keeps its pods, and the rollout is paused.
    sim.inject(Fault::ImagePullFailure {
        image: "nginx:1.25".into(),
        active: true,
    })
    .expect("inject");
    patch_deployment(
        &sim,
        "hist",
        json!({"spec": {"template": sleeper("hist", "nginx:1.25", "3")}}),
    )
    .await;
    sim.advance(Duration::from_secs(5));
    patch_deployment(&sim, "hist", json!({"spec": {"paused": true}})).await;
    sim.advance(Duration::from_secs(5));
    let revs = revisions(&sim, "hist").await;
    // Two old ones against a limit of one: revision 1 (idle) goes; revision 2 has replicas.
    assert_eq!(
        revs.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![2, 3],
        "{revs:?}"
    );
    assert!(revs[0].1 > 0, "{revs:?}");
    sim.inject(Fault::ImagePullFailure {
        image: "nginx:1.25".into(),
        active: false,
    })
    .expect("heal");
    patch_deployment(&sim, "hist", json!({"spec": {"paused": false}})).await;
    sim.settle();
    assert_eq!(revisions(&sim, "hist").await, vec![(2, 0), (3, 2)]);
    patch_deployment(
        &sim,
        "hist",
        json!({"spec": {"template": sleeper("hist", "busybox:1.36", "4")}}),
    )
    .await;
    sim.settle();
    assert_eq!(revisions(&sim, "hist").await, vec![(3, 0), (4, 2)]);
}
