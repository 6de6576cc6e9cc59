//! The odo pod shape and the seed documents' examples on the simulated kubelet with the real
//! container runtime: init containers filling an emptyDir and seeding a PVC, exec (`ls`, a
//! tar stream on stdin, assemble-and-restart), emptyDir lost and PVC kept when the pod is
//! replaced, init containers waiting on Services through cluster DNS, ConfigMap env and
//! subPath mounts.

use std::time::Duration;

mod kubelet_support;
use kubelet_support::{create, get};

use bytes::Bytes;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service};
use kube::api::{Api, DeleteParams, PostParams};
use odo_sim::Sim;
use odo_sim::kubelet::ContainerId;
use odo_sim::kubelet::streams::{ExecExit, SessionIo};
use odo_sim::runtime::Catalogue;
use serde_json::{Value, json};
use tokio::sync::mpsc;

const INIT_IMAGE: &str = "registry.access.redhat.com/ocp-tools-4/odo-init-container-rhel8:1.1.5";
const NODEJS: &str = "registry.access.redhat.com/ubi8/nodejs-14:latest";

const COPY_FILES: &str = r#"set -e
SRC=/opt/app-root
DEST=/mnt/app-root
if [ -d $DEST ]; then
  echo "PVC already seeded"
  exit 0
fi
mkdir -p $DEST.setup-volume
tar -C $SRC -cf - . | tar -C $DEST.setup-volume -xf -
mv $DEST.setup-volume $DEST
"#;

fn sim(seed: u64) -> Sim {
    Sim::builder()
        .seed(seed)
        .real_runtime(Catalogue::builtin().expect("catalogue"))
        .build()
        .expect("sim")
}

fn id(p: &Value, container: &str, init: bool) -> ContainerId {
    let list = if init {
        "initContainerStatuses"
    } else {
        "containerStatuses"
    };
    let restarts = p["status"][list]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == container))
        .and_then(|c| c["restartCount"].as_u64())
        .unwrap_or(0);
    ContainerId {
        namespace: "default".into(),
        pod: p["metadata"]["name"].as_str().expect("name").into(),
        pod_uid: p["metadata"]["uid"].as_str().expect("uid").into(),
        container: container.into(),
        instance: restarts as u32,
        init,
    }
}

async fn exec(
    sim: &Sim,
    id: &ContainerId,
    argv: &[&str],
    stdin: &[u8],
) -> (String, String, ExecExit) {
    let (out_tx, mut out_rx) = mpsc::channel(16);
    let (err_tx, mut err_rx) = mpsc::channel(16);
    let (in_tx, in_rx) = mpsc::channel(4);
    let data = stdin.to_vec();
    tokio::spawn(async move {
        for chunk in data.chunks(512) {
            let _ = in_tx.send(Bytes::copy_from_slice(chunk)).await;
        }
    });
    let session = sim
        .container_runtime()
        .exec(
            id,
            argv.iter().map(|s| s.to_string()).collect(),
            SessionIo {
                stdin: Some(in_rx),
                stdout: Some(out_tx),
                stderr: Some(err_tx),
                tty: false,
                resize: None,
            },
        )
        .expect("exec starts");
    let out = tokio::spawn(async move {
        let mut v = Vec::new();
        while let Some(b) = out_rx.recv().await {
            v.extend_from_slice(&b);
        }
        String::from_utf8_lossy(&v).into_owned()
    });
    let err = tokio::spawn(async move {
        let mut v = Vec::new();
        while let Some(b) = err_rx.recv().await {
            v.extend_from_slice(&b);
        }
        String::from_utf8_lossy(&v).into_owned()
    });
    let code = session.await;
    (out.await.expect("out"), err.await.expect("err"), code)
}

fn log_text(sim: &Sim, id: &ContainerId) -> String {
    let s = sim.container_runtime().logs(id).expect("logs");
    s.history
        .iter()
        .map(|l| String::from_utf8_lossy(&l.bytes).into_owned())
        .collect()
}

fn odo_pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "app", "component": "nodejs"}},
        "spec": {
            "volumes": [
                {"name": "odo-supervisord-shared-data", "emptyDir": {}},
                {"name": "nodejs-app-s2idata", "persistentVolumeClaim": {"claimName": "nodejs-app-s2idata"}}
            ],
            "initContainers": [
                {"name": "copy-supervisord", "image": INIT_IMAGE,
                 "command": ["/usr/bin/cp"], "args": ["-r", "/opt/odo-init/.", "/opt/odo/"],
                 "volumeMounts": [{"name": "odo-supervisord-shared-data", "mountPath": "/opt/odo/"}]},
                {"name": "copy-files-to-volume", "image": NODEJS,
                 "command": ["sh", "-c", COPY_FILES],
                 "volumeMounts": [{"name": "nodejs-app-s2idata", "mountPath": "/mnt"}]}
            ],
            "containers": [{
                "name": "nodejs-app", "image": NODEJS,
                "command": ["/opt/odo/bin/go-init"],
                "args": ["-pre", "/opt/odo/bin/s2i-setup", "-main", "/opt/odo/bin/supervisord -c /opt/app-root/conf/supervisor.conf"],
                "env": [
                    {"name": "ODO_S2I_SCRIPTS_URL", "value": "/usr/libexec/s2i"},
                    {"name": "ODO_S2I_SCRIPTS_PROTOCOL", "value": "image://"},
                    {"name": "ODO_S2I_SRC_BIN_PATH", "value": "/tmp"},
                    {"name": "ODO_S2I_DEPLOYMENT_DIR", "value": "/opt/app-root/src"},
                    {"name": "ODO_S2I_WORKING_DIR", "value": "/opt/app-root/src"},
                    {"name": "ODO_S2I_BUILDER_IMG", "value": "ubi8/nodejs-14"},
                    {"name": "ODO_SRC_BACKUP_DIR", "value": "/opt/app-root/src-backup"}
                ],
                "ports": [{"containerPort": 8080, "name": "http"}],
                "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
                "volumeMounts": [
                    {"name": "odo-supervisord-shared-data", "mountPath": "/opt/odo/"},
                    {"name": "nodejs-app-s2idata", "mountPath": "/opt/app-root", "subPath": "app-root"}
                ]
            }]
        }
    })
}

fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, path, content.as_bytes())
            .expect("tar entry");
    }
    b.into_inner().expect("tar")
}

/// Runs the odo workflow on a fresh cluster; returns the trace (for the determinism test).
async fn odo_workflow(seed: u64) -> String {
    let sim = sim(seed);
    create::<PersistentVolumeClaim>(
        &sim,
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "nodejs-app-s2idata"},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    )
    .await;
    sim.settle();
    let pods = create::<Pod>(&sim, odo_pod("nodejs-app-1")).await;
    sim.advance(Duration::from_secs(1));
    let p = get(&pods, "nodejs-app-1").await;
    assert_eq!(
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "PodInitializing",
        "{p}"
    );
    sim.advance(Duration::from_secs(10));
    let p = get(&pods, "nodejs-app-1").await;
    assert_eq!(p["status"]["phase"], "Running", "{}", sim.trace_text());
    for (i, c) in ["copy-supervisord", "copy-files-to-volume"]
        .iter()
        .enumerate()
    {
        let st = &p["status"]["initContainerStatuses"][i];
        assert_eq!(st["name"], *c);
        assert_eq!(st["state"]["terminated"]["exitCode"], 0, "{st}");
    }
    let app = id(&p, "nodejs-app", false);
    assert!(
        log_text(&sim, &app).contains("supervisord started"),
        "{}",
        log_text(&sim, &app)
    );

    // the init container's copy is visible in the app container
    let (out, _, code) = exec(&sim, &app, &["ls", "/opt/odo/bin"], b"").await;
    assert_eq!(code, ExecExit::Code(0));
    for f in [
        "assemble-and-restart",
        "go-init",
        "run",
        "s2i-setup",
        "supervisord",
    ] {
        assert!(out.lines().any(|l| l == f), "{f} not in {out:?}");
    }
    // odo push: the sources as a tar on stdin, then assemble-and-restart
    let source = tar_of(&[
        (
            "package.json",
            r#"{"name":"nodejs-app","version":"1.0.0","scripts":{"start":"node server.js"}}"#,
        ),
        (
            "server.js",
            "console.log('Server listening on port 8080');\nrequire('http').createServer((q, s) => s.end('hi')).listen(8080);\n",
        ),
        ("lib/util.js", "module.exports = {};\n"),
    ]);
    let (_, err, code) = exec(&sim, &app, &["tar", "xf", "-", "-C", "/tmp/src"], &source).await;
    assert_eq!((code, err.as_str()), (ExecExit::Code(0), ""));
    let (out, _, code) = exec(&sim, &app, &["cat", "/tmp/src/lib/util.js"], b"").await;
    assert_eq!(
        (out.as_str(), code),
        ("module.exports = {};\n", ExecExit::Code(0))
    );
    let (out, err, code) = exec(&sim, &app, &["/opt/odo/bin/assemble-and-restart"], b"").await;
    assert_eq!(code, ExecExit::Code(0), "{out}\n{err}");
    sim.advance(Duration::from_secs(6));
    assert!(
        log_text(&sim, &app).contains("Server listening on port 8080"),
        "{}",
        log_text(&sim, &app)
    );
    let p = get(&pods, "nodejs-app-1").await;
    assert_eq!(
        p["status"]["containerStatuses"][0]["ready"], true,
        "the tcpSocket probe sees 8080"
    );

    // marks in the emptyDir and on the PVC, then the pod is replaced
    let (_, _, code) = exec(
        &sim,
        &app,
        &[
            "sh",
            "-c",
            "echo x > /opt/odo/mark; echo y > /opt/app-root/mark",
        ],
        b"",
    )
    .await;
    assert_eq!(code, ExecExit::Code(0));
    pods.delete("nodejs-app-1", &DeleteParams::default())
        .await
        .expect("delete");
    sim.settle_for(Duration::from_secs(60));
    assert!(
        pods.get_opt("nodejs-app-1").await.expect("get").is_none(),
        "{}",
        sim.trace_text()
    );
    create::<Pod>(&sim, odo_pod("nodejs-app-2")).await;
    sim.advance(Duration::from_secs(5));
    let p = get(&pods, "nodejs-app-2").await;
    assert_eq!(p["status"]["phase"], "Running");
    let seed_log = log_text(&sim, &id(&p, "copy-files-to-volume", true));
    assert_eq!(seed_log, "PVC already seeded\n");
    let app = id(&p, "nodejs-app", false);
    let (out, _, _) = exec(
        &sim,
        &app,
        &[
            "sh",
            "-c",
            "ls /opt/odo/mark; cat /opt/app-root/mark; cat /opt/app-root/src/server.js | head -1",
        ],
        b"",
    )
    .await;
    assert_eq!(
        out, "y\nconsole.log('Server listening on port 8080');\n",
        "the emptyDir is new, the PVC kept its data"
    );
    sim.trace_text()
}

#[tokio::test]
async fn odo_pod_runs_pushes_and_keeps_pvc_data_across_pods() {
    odo_workflow(5).await;
}

/// Exec sessions drive the processes from worker threads while the test thread advances
/// the cluster: the run must be the same as on one thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odo_pod_on_a_multi_threaded_runtime_gives_the_same_trace() {
    let threaded = odo_workflow(9).await;
    let single = std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(odo_workflow(9))
    })
    .join()
    .expect("single-threaded run");
    assert_eq!(threaded, single);
}

#[tokio::test]
async fn same_seed_same_requests_same_trace_with_the_real_runtime() {
    let a = odo_workflow(9).await;
    let b = odo_workflow(9).await;
    assert!(a.lines().count() > 40, "{a}");
    assert_eq!(a, b);
}

#[tokio::test]
async fn init_containers_wait_for_services_through_cluster_dns() {
    let sim = sim(2);
    let pods = create::<Pod>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "myapp-pod", "labels": {"app": "myapp"}},
               "spec": {
                   "containers": [{"name": "myapp-container", "image": "busybox:1.28",
                                   "command": ["sh", "-c", "echo The app is running! && sleep 3600"]}],
                   "initContainers": [
                       {"name": "init-myservice", "image": "busybox:1.28",
                        "command": ["sh", "-c", "until nslookup myservice; do echo waiting for myservice; sleep 2; done;"]},
                       {"name": "init-mydb", "image": "busybox:1.28",
                        "command": ["sh", "-c", "until nslookup mydb; do echo waiting for mydb; sleep 2; done;"]}
                   ]}}),
    )
    .await;
    let init_state = |p: &Value, i: usize| p["status"]["initContainerStatuses"][i]["state"].clone();
    sim.advance(Duration::from_secs(20));
    let p = get(&pods, "myapp-pod").await;
    assert_eq!(p["status"]["phase"], "Pending");
    assert!(init_state(&p, 0)["running"].is_object(), "{p}");
    assert_eq!(init_state(&p, 1)["waiting"]["reason"], "PodInitializing");
    let log = log_text(&sim, &id(&p, "init-myservice", true));
    assert!(log.contains("waiting for myservice\n"), "{log}");
    assert!(
        log.contains("can't find myservice.default.svc.cluster.local: NXDOMAIN"),
        "{log}"
    );
    let svc = |name: &str, port: u16| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"ports": [{"protocol": "TCP", "port": 80, "targetPort": port}]}})
    };
    create::<Service>(&sim, svc("myservice", 9376)).await;
    sim.advance(Duration::from_secs(3));
    let p = get(&pods, "myapp-pod").await;
    assert_eq!(init_state(&p, 0)["terminated"]["exitCode"], 0, "{p}");
    assert!(init_state(&p, 1)["running"].is_object());
    let ip = Api::<Service>::namespaced(sim.client(), "default")
        .get("myservice")
        .await
        .expect("svc")
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("cluster ip");
    let log = log_text(&sim, &id(&p, "init-myservice", true));
    assert!(
        log.ends_with(&format!(
            "Name:\tmyservice.default.svc.cluster.local\nAddress: {ip}\n\n"
        )),
        "{log}"
    );
    create::<Service>(&sim, svc("mydb", 9377)).await;
    sim.advance(Duration::from_secs(3));
    let p = get(&pods, "myapp-pod").await;
    assert_eq!(p["status"]["phase"], "Running");
    assert_eq!(
        log_text(&sim, &id(&p, "myapp-container", false)),
        "The app is running!\n"
    );
    // the app container sees both Services in its environment
    let (out, _, _) = exec(
        &sim,
        &id(&p, "myapp-container", false),
        &["printenv", "MYDB_SERVICE_PORT", "MYSERVICE_SERVICE_HOST"],
        b"",
    )
    .await;
    assert_eq!(out, format!("80\n{ip}\n"));
    let (out, _, _) = exec(
        &sim,
        &id(&p, "myapp-container", false),
        &["nslookup", "mydb.default"],
        b"",
    )
    .await;
    assert!(
        out.contains("Name:\tmydb.default.svc.cluster.local"),
        "{out}"
    );
}

#[tokio::test]
async fn configmap_files_with_subpath_and_env_from_configmaps_and_secrets() {
    let sim = sim(4);
    let props =
        "# otter manager\notter.domainName = 127.0.0.1\notter.port = 8080\n\nunicode = 日本語\n";
    create::<ConfigMap>(
        &sim,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "otter-manager-dev-config"},
               "data": {"otter.properties": props, "LOG_LEVEL": "debug"}}),
    )
    .await;
    create::<Secret>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
               "stringData": {"password": "s3cret"}}),
    )
    .await;
    let pods = create::<Pod>(
        &sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "otter"},
               "spec": {
                   "volumes": [{"name": "conf", "configMap": {"name": "otter-manager-dev-config"}}],
                   "containers": [{
                       "name": "manager", "image": "busybox", "command": ["sleep", "infinity"],
                       "env": [
                           {"name": "GREETING", "value": "hello $(LOG_LEVEL)"},
                           {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                           {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                       ],
                       "envFrom": [{"configMapRef": {"name": "otter-manager-dev-config"}}],
                       "volumeMounts": [{"name": "conf", "mountPath": "/home/admin/otter/conf/otter.properties",
                                         "subPath": "otter.properties"}]
                   }]}}),
    )
    .await;
    sim.advance(Duration::from_secs(3));
    let p = get(&pods, "otter").await;
    assert_eq!(p["status"]["phase"], "Running", "{p}");
    let c = id(&p, "manager", false);
    let (out, _, code) = exec(
        &sim,
        &c,
        &["cat", "/home/admin/otter/conf/otter.properties"],
        b"",
    )
    .await;
    assert_eq!((out.as_str(), code), (props, ExecExit::Code(0)));
    let (out, _, _) = exec(&sim, &c, &["ls", "/home/admin/otter/conf"], b"").await;
    assert_eq!(
        out, "otter.properties\n",
        "subPath mounts the one file, not the whole volume"
    );
    let (out, _, _) = exec(
        &sim,
        &c,
        &[
            "printenv",
            "LOG_LEVEL",
            "GREETING",
            "DB_PASSWORD",
            "POD_NAME",
        ],
        b"",
    )
    .await;
    assert_eq!(out, "debug\nhello debug\ns3cret\notter\n");
}

/// Writes a file onto claim `claim` from a short-lived pod and returns the bound PV's name.
async fn write_to_claim(sim: &Sim, claim: &str, pod: &str) -> String {
    let pods = create::<Pod>(
        sim,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod},
               "spec": {"restartPolicy": "Never",
                        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}],
                        "containers": [{"name": "w", "image": "busybox", "command": ["sh", "-c", "echo kept > /d/file"],
                                        "volumeMounts": [{"name": "d", "mountPath": "/d"}]}]}}),
    )
    .await;
    sim.settle_for(Duration::from_secs(30));
    let p = get(&pods, pod).await;
    assert_eq!(p["status"]["phase"], "Succeeded", "{}", sim.trace_text());
    pods.delete(pod, &DeleteParams::default())
        .await
        .expect("delete pod");
    sim.settle_for(Duration::from_secs(60));
    let pvc = Api::<PersistentVolumeClaim>::namespaced(sim.client(), "default")
        .get(claim)
        .await
        .expect("claim");
    pvc.spec.and_then(|s| s.volume_name).expect("bound")
}

#[tokio::test]
async fn pv_data_outlives_pods_and_goes_with_a_deleted_pv_under_reclaim_delete() {
    use k8s_openapi::api::core::v1::PersistentVolume;
    let sim = sim(8);
    let volumes = || {
        sim.real_runtime()
            .expect("real runtime")
            .runtime()
            .volumes()
            .clone()
    };
    // dynamically provisioned: reclaimPolicy Delete
    let claims = create::<PersistentVolumeClaim>(
        &sim,
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "dyn"},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    )
    .await;
    sim.settle_for(Duration::from_secs(10));
    let pv = write_to_claim(&sim, "dyn", "w1").await;
    let data = volumes()
        .pv(&pv)
        .expect("PV data after the pod is gone")
        .snapshot();
    assert_eq!(data.files(), [("file".to_string(), Bytes::from("kept\n"))]);
    claims
        .delete("dyn", &DeleteParams::default())
        .await
        .expect("delete claim");
    sim.settle_for(Duration::from_secs(60));
    let pvs: Api<PersistentVolume> = Api::all(sim.client());
    assert!(
        pvs.get_opt(&pv).await.expect("get").is_none(),
        "{}",
        sim.trace_text()
    );
    assert!(volumes().pv(&pv).is_none(), "the data went with the PV");

    // a Retain PV keeps its data after the claim is gone
    create_pv_retain(&sim).await;
    create::<PersistentVolumeClaim>(
        &sim,
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "keep"},
               "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": "keep-pv",
                        "resources": {"requests": {"storage": "1Gi"}}}}),
    )
    .await;
    sim.settle_for(Duration::from_secs(10));
    let pv = write_to_claim(&sim, "keep", "w2").await;
    assert_eq!(pv, "keep-pv");
    claims
        .delete("keep", &DeleteParams::default())
        .await
        .expect("delete claim");
    sim.settle_for(Duration::from_secs(60));
    assert!(volumes().pv("keep-pv").is_some(), "Retain keeps the data");
}

async fn create_pv_retain(sim: &Sim) {
    use k8s_openapi::api::core::v1::PersistentVolume;
    let pvs: Api<PersistentVolume> = Api::all(sim.client());
    let pv: PersistentVolume = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "keep-pv"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                 "hostPath": {"path": "/data/keep"}}
    }))
    .expect("pv json");
    pvs.create(&PostParams::default(), &pv)
        .await
        .expect("create pv");
}
