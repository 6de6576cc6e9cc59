//! What containers see of their pod on the simulated kubelet with the real runtime:
//! `resourceFieldRef` values (env and downwardAPI files) with divisors and the real defaults,
//! read-only configMap/secret/downwardAPI/projected volumes, hostPath data per node, the
//! `FailedMount` event of a volume that cannot be set up, and the pod's identity (`hostname`,
//! `id`, `env`) and cluster DNS (`nslookup`, `getent`: Services, headless Services, pods by
//! hostname and subdomain).

use std::time::Duration;

mod kubelet_support;
use kubelet_support::{create, get};

use k8s_openapi::api::core::v1::{ConfigMap, Event, Pod, Secret, Service};
use kube::api::{Api, ListParams};
use odo_sim::Sim;
use odo_sim::kubelet::ContainerId;
use odo_sim::runtime::Catalogue;
use serde_json::{Value, json};

fn sim(nodes: usize) -> Sim {
    Sim::builder()
        .seed(5)
        .nodes(nodes)
        .real_runtime(Catalogue::builtin().expect("catalogue"))
        .build()
        .expect("sim")
}

fn status<'a>(p: &'a Value, container: &str) -> &'a Value {
    p.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == container))
        .unwrap_or(&Value::Null)
}

/// The log of the first instance of `container` in pod `p`.
fn log_of(sim: &Sim, p: &Value, container: &str) -> String {
    let id = ContainerId {
        namespace: "default".into(),
        pod: p["metadata"]["name"].as_str().expect("name").into(),
        pod_uid: p["metadata"]["uid"].as_str().expect("uid").into(),
        container: container.into(),
        instance: 0,
        init: false,
    };
    let logs = sim.container_runtime().logs(&id).expect("logs");
    logs.history
        .iter()
        .map(|l| String::from_utf8_lossy(&l.bytes).into_owned())
        .collect()
}

/// Creates a pod whose containers run once (`restartPolicy: Never`) and runs it to the end.
async fn run_to_completion(sim: &Sim, pod: Value) -> Value {
    let name = pod["metadata"]["name"].as_str().expect("name").to_string();
    let pods = create::<Pod>(sim, pod).await;
    sim.advance(Duration::from_secs(10));
    let p = get(&pods, &name).await;
    assert_eq!(p["status"]["phase"], "Succeeded", "{p:#}");
    p
}

async fn events(sim: &Sim, reason: &str) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(sim.client(), "default");
    api.list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

fn rf(name: &str, container: Option<&str>, resource: &str, divisor: Option<&str>) -> Value {
    let mut r = json!({"resource": resource});
    if let Some(c) = container {
        r["containerName"] = json!(c);
    }
    if let Some(d) = divisor {
        r["divisor"] = json!(d);
    }
    json!({"name": name, "valueFrom": {"resourceFieldRef": r}})
}

#[tokio::test]
async fn resource_field_refs_use_divisors_and_the_kubelet_defaults() {
    let sim = sim(1);
    let print = |vars: &[&str]| format!("printenv {}", vars.join(" "));
    let app_vars = [
        "CPU_LIMIT",
        "CPU_LIMIT_M",
        "CPU_REQUEST",
        "CPU_REQUEST_M",
        "MEM_LIMIT",
        "MEM_LIMIT_MI",
        "MEM_REQUEST_MI",
        "MEM_REQUEST_G",
        "OTHER_CPU_LIMIT_M",
    ];
    let bare_vars = ["CPU_LIMIT", "MEM_LIMIT_GI", "CPU_REQUEST", "MEM_REQUEST"];
    let limited_vars = ["CPU_REQUEST_M", "CPU_REQUEST", "MEM_REQUEST_MI"];
    let files = "for f in cpu_limit mem_request bare_mem_limit projected_cpu; do \
                 printf '%s=' $f; cat /etc/podinfo/$f; echo; done";
    let p = run_to_completion(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "res"},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [
                {"name": "podinfo", "downwardAPI": {"items": [
                    {"path": "cpu_limit", "resourceFieldRef":
                        {"containerName": "app", "resource": "limits.cpu", "divisor": "1m"}},
                    {"path": "mem_request", "resourceFieldRef":
                        {"containerName": "app", "resource": "requests.memory", "divisor": "1Mi"}},
                    {"path": "bare_mem_limit", "resourceFieldRef":
                        {"containerName": "bare", "resource": "limits.memory"}}
                ]}},
                {"name": "projected", "projected": {"sources": [{"downwardAPI": {"items": [
                    {"path": "projected_cpu", "resourceFieldRef":
                        {"containerName": "limited", "resource": "limits.cpu"}}
                ]}}]}}
            ],
            "containers": [
                {"name": "app", "image": "busybox",
                 "command": ["sh", "-c", format!("{}; {files}", print(&app_vars))],
                 "resources": {"limits": {"cpu": "500m", "memory": "64Mi"},
                               "requests": {"cpu": "250m", "memory": "32Mi"}},
                 "volumeMounts": [{"name": "podinfo", "mountPath": "/etc/podinfo"},
                                  {"name": "projected", "mountPath": "/etc/podinfo/projected_cpu",
                                   "subPath": "projected_cpu"}],
                 "env": [
                    rf("CPU_LIMIT", None, "limits.cpu", None),
                    rf("CPU_LIMIT_M", None, "limits.cpu", Some("1m")),
                    rf("CPU_REQUEST", None, "requests.cpu", None),
                    rf("CPU_REQUEST_M", Some("app"), "requests.cpu", Some("1m")),
                    rf("MEM_LIMIT", None, "limits.memory", None),
                    rf("MEM_LIMIT_MI", None, "limits.memory", Some("1Mi")),
                    rf("MEM_REQUEST_MI", None, "requests.memory", Some("1Mi")),
                    rf("MEM_REQUEST_G", None, "requests.memory", Some("1G")),
                    rf("OTHER_CPU_LIMIT_M", Some("bare"), "limits.cpu", Some("1m"))
                 ]},
                {"name": "bare", "image": "busybox", "command": ["sh", "-c", print(&bare_vars)],
                 "env": [
                    rf("CPU_LIMIT", None, "limits.cpu", None),
                    rf("MEM_LIMIT_GI", None, "limits.memory", Some("1Gi")),
                    rf("CPU_REQUEST", None, "requests.cpu", None),
                    rf("MEM_REQUEST", None, "requests.memory", None)
                 ]},
                {"name": "limited", "image": "busybox", "command": ["sh", "-c", print(&limited_vars)],
                 "resources": {"limits": {"cpu": "1500m", "memory": "100M"}},
                 "env": [
                    rf("CPU_REQUEST_M", None, "requests.cpu", Some("1m")),
                    rf("CPU_REQUEST", None, "requests.cpu", None),
                    rf("MEM_REQUEST_MI", None, "requests.memory", Some("1Mi"))
                 ]}
            ]}}),
    )
    .await;
    // Whole divisor units, rounded up: 500m is 1 CPU, 32Mi is 1 G; 64Mi is 67108864 bytes.
    assert_eq!(
        log_of(&sim, &p, "app"),
        "1\n500\n1\n250\n67108864\n64\n32\n1\n8000\n\
         cpu_limit=500\nmem_request=32\nbare_mem_limit=34359738368\nprojected_cpu=2\n"
    );
    // No limits: the node's allocatable (8 CPUs, 32Gi); no requests: 0.
    assert_eq!(log_of(&sim, &p, "bare"), "8\n32\n0\n0\n");
    // Limits without requests: the requests are the limits (100M is 95.4Mi, rounded up).
    assert_eq!(log_of(&sim, &p, "limited"), "1500\n2\n96\n");
}

#[tokio::test]
async fn a_resource_field_ref_to_another_pods_container_is_a_config_error() {
    let sim = sim(1);
    let pods = create::<Pod>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad-ref"},
        "spec": {"containers": [{"name": "app", "image": "busybox", "command": ["sleep", "60"],
                 "env": [rf("CPU", Some("nope"), "limits.cpu", None)]}]}}),
    )
    .await;
    sim.advance(Duration::from_secs(3));
    let p = get(&pods, "bad-ref").await;
    let waiting = &status(&p, "app")["state"]["waiting"];
    assert_eq!(waiting["reason"], "CreateContainerConfigError", "{p:#}");
    let message = waiting["message"].as_str().unwrap_or_default();
    assert!(message.contains("container nope not found"), "{message}");
}

#[tokio::test]
async fn config_map_secret_downward_and_projected_volumes_are_read_only() {
    let sim = sim(1);
    create::<ConfigMap>(
        &sim,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
               "data": {"app.conf": "port=8080\n"}}),
    )
    .await;
    create::<Secret>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"},
               "stringData": {"token": "t0k3n"}}),
    )
    .await;
    // For each mount: a new file, overwriting a file, removing it, a new directory; each
    // attempt reports its exit code and the end of its message (the errno text); the files
    // are unchanged at the end.
    let script = r#"
for d in /cfg /sec /info /proj /data; do
  err=$(touch $d/new 2>&1); echo "touch $d: $? ${err##*: }"
  f=$(ls $d | head -n 1)
  err=$({ echo x > $d/$f; } 2>&1); echo "write $d/$f: $? ${err##*: }"
  err=$(rm $d/$f 2>&1); echo "rm $d/$f: $? ${err##*: }"
  err=$(mkdir $d/sub 2>&1); echo "mkdir $d: $? ${err##*: }"
done
cat /cfg/app.conf /sec/token; echo; cat /info/name; echo
# The projected volume holds both sources.
cat /proj/app.conf /proj/token; echo
"#;
    let p = run_to_completion(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ro"},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [
                {"name": "cfg", "configMap": {"name": "cfg"}},
                {"name": "sec", "secret": {"secretName": "sec"}},
                {"name": "info", "downwardAPI": {"items": [
                    {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"name": "proj", "projected": {"sources": [
                    {"configMap": {"name": "cfg"}}, {"secret": {"name": "sec"}}]}},
                {"name": "data", "emptyDir": {}}
            ],
            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script],
                "volumeMounts": [
                    {"name": "cfg", "mountPath": "/cfg"},
                    {"name": "sec", "mountPath": "/sec"},
                    {"name": "info", "mountPath": "/info"},
                    {"name": "proj", "mountPath": "/proj"},
                    {"name": "data", "mountPath": "/data"}
                ]}]}}),
    )
    .await;
    let log = log_of(&sim, &p, "c");
    let mut want = String::new();
    for (d, f) in [
        ("/cfg", "app.conf"),
        ("/sec", "token"),
        ("/info", "name"),
        ("/proj", "app.conf"),
    ] {
        let ro = "Read-only file system";
        want.push_str(&format!(
            "touch {d}: 1 {ro}\nwrite {d}/{f}: 2 {ro}\nrm {d}/{f}: 1 {ro}\nmkdir {d}: 1 {ro}\n"
        ));
    }
    // The emptyDir beside them is writable (its first file is the `new` just made).
    want.push_str("touch /data: 0 \nwrite /data/new: 0 \nrm /data/new: 0 \nmkdir /data: 0 \n");
    want.push_str("port=8080\nt0k3n\nro\nport=8080\nt0k3n\n");
    assert_eq!(log, want);
}

#[tokio::test]
async fn host_path_data_is_shared_on_one_node_and_not_across_nodes() {
    let sim = sim(2);
    let pod = |name: &str, node: &str, script: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {"kubernetes.io/hostname": node},
            "volumes": [{"name": "h", "hostPath": {"path": "/var/shared", "type": "DirectoryOrCreate"}}],
            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script],
                            "volumeMounts": [{"name": "h", "mountPath": "/h"}]}]}})
    };
    let writer = run_to_completion(
        &sim,
        pod(
            "writer",
            "sim-node-1",
            "echo from-writer > /h/note; echo written",
        ),
    )
    .await;
    assert_eq!(writer["spec"]["nodeName"], "sim-node-1");
    assert_eq!(log_of(&sim, &writer, "c"), "written\n");
    let read = "cat /h/note 2>/dev/null || echo no note; ls /h | wc -l";
    let same = run_to_completion(&sim, pod("same-node", "sim-node-1", read)).await;
    assert_eq!(same["spec"]["nodeName"], "sim-node-1");
    assert_eq!(log_of(&sim, &same, "c"), "from-writer\n1\n");
    let other = run_to_completion(&sim, pod("other-node", "sim-node-2", read)).await;
    assert_eq!(other["spec"]["nodeName"], "sim-node-2");
    assert_eq!(log_of(&sim, &other, "c"), "no note\n0\n");
}

#[tokio::test]
async fn a_volume_that_cannot_be_mounted_is_a_failed_mount_event() {
    let sim = sim(1);
    let pods = create::<Pod>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "no-cm"},
        "spec": {
            "volumes": [{"name": "config-vol", "configMap": {"name": "app-config"}}],
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                            "volumeMounts": [{"name": "config-vol", "mountPath": "/cfg"}]}]}}),
    )
    .await;
    sim.advance(Duration::from_secs(5));
    let p = get(&pods, "no-cm").await;
    assert_eq!(p["status"]["phase"], "Pending", "{p:#}");
    assert_eq!(
        status(&p, "c")["state"]["waiting"]["reason"],
        "ContainerCreating"
    );
    let mount = events(&sim, "FailedMount").await;
    let e = mount
        .first()
        .unwrap_or_else(|| panic!("no FailedMount event"));
    assert_eq!(e.type_.as_deref(), Some("Warning"));
    assert_eq!(
        e.message.as_deref(),
        Some(
            "MountVolume.SetUp failed for volume \"config-vol\" : configmap \"app-config\" not found"
        )
    );
    assert_eq!(
        events(&sim, "Failed").await.len(),
        0,
        "the mount failure is not reported as a container failure"
    );
    // Once the ConfigMap exists, the retry mounts it and the container starts.
    create::<ConfigMap>(
        &sim,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"},
               "data": {"k": "v"}}),
    )
    .await;
    sim.advance(Duration::from_secs(60));
    let p = get(&pods, "no-cm").await;
    assert_eq!(p["status"]["phase"], "Running", "{p:#}");
}

#[tokio::test]
async fn containers_see_their_identity_and_resolve_services_and_pods() {
    let sim = sim(1);
    // A pod with hostname/subdomain behind the headless Service of that name, and a ClusterIP
    // Service.
    let pods = create::<Pod>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db-0", "labels": {"app": "db"}},
               "spec": {"hostname": "db-0", "subdomain": "db",
                        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}),
    )
    .await;
    let svcs = create::<Service>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
               "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}}),
    )
    .await;
    create::<Service>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"ports": [{"port": 80}]}}),
    )
    .await;
    sim.advance(Duration::from_secs(5));
    let db_ip = get(&pods, "db-0").await["status"]["podIP"]
        .as_str()
        .expect("db-0 has an IP")
        .to_string();
    let web_ip = svcs
        .get("web")
        .await
        .expect("web")
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("cluster IP");
    let script = r#"
hostname; echo "$HOSTNAME"; hostname -i
id; id -u; id -g; id -un; whoami
env -i A=1 'B=two words' env
env -i X=y printenv X; env -i printenv HOME; echo "env:$?"
nslookup web
getent hosts db
getent hosts db-0.db
getent hosts db-0.db.default.svc.cluster.local
getent hosts web.default
nslookup nosuch; echo "nslookup:$?"
getent hosts nosuch; echo "getent:$?"
"#;
    let client = run_to_completion(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
               "spec": {"restartPolicy": "Never",
                        "securityContext": {"runAsUser": 65534, "runAsGroup": 65534},
                        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]}}),
    )
    .await;
    let client_ip = client["status"]["podIP"].as_str().expect("client IP");
    let fqdn_db = "db-0.db.default.svc.cluster.local";
    let want = format!(
        "client\nclient\n{client_ip}\n\
         uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)\n65534\n65534\nnobody\nnobody\n\
         A=1\nB=two words\n\
         y\nenv:1\n\
         Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\nName:\tweb.default.svc.cluster.local\nAddress: {web_ip}\n\n\
         {db_ip:<15} db.default.svc.cluster.local\n\
         {db_ip:<15} {fqdn_db}\n\
         {db_ip:<15} {fqdn_db}\n\
         {web_ip:<15} web.default.svc.cluster.local\n\
         Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n** server can't find nosuch.default.svc.cluster.local: NXDOMAIN\n\nnslookup:1\n\
         getent:2\n"
    );
    assert_eq!(log_of(&sim, &client, "c"), want);
}
