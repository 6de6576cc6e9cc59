//! The odo pod shape end to end at the runtime level (no kubelet): the two init containers, the
//! app container's go-init -> s2i-setup -> supervisord, a push (tar over exec, then
//! assemble-and-restart), the `run` output in the container log, and a pod replacement that
//! keeps the PVC. Also the seed example's init containers waiting on Services via nslookup.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, PersistentVolumeClaimVolumeSource, PodSpec, Volume,
    VolumeMount,
};
use odo_sim::runtime::sandbox::{Sandbox, log_sink};
use odo_sim::runtime::{Captured, ContainerInstance, Host, PodVolumes, VolumeData};

const INIT_IMAGE: &str = "registry.access.redhat.com/ocp-tools-4/odo-init-container-rhel8:1.1.5";
const NODEJS: &str = "registry.access.redhat.com/ubi8/nodejs-14:latest";
const SHARED: &str = "odo-supervisord-shared-data";
const S2IDATA: &str = "nodejs-app-s2idata";

/// The init script odo puts in `copy-files-to-volume` (seeds the PVC from the image once).
const COPY_FILES: &str = r#"set -e
SRC=/opt/app-root
DEST=/mnt/app-root
if [ -d $DEST ]; then
  echo "PVC already seeded"
  exit 0
fi
if [ -d $DEST.setup-volume ]; then rm -rf $DEST.setup-volume; fi
mkdir -p $DEST.setup-volume
tar -C $SRC -cf - . | tar -C $DEST.setup-volume -xf -
mv $DEST.setup-volume $DEST
"#;

fn mount(name: &str, path: &str, sub: Option<&str>) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        sub_path: sub.map(str::to_string),
        ..Default::default()
    }
}

fn pod_spec() -> PodSpec {
    PodSpec {
        volumes: Some(vec![
            Volume {
                name: SHARED.into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
            Volume {
                name: S2IDATA.into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: S2IDATA.into(),
                    read_only: None,
                }),
                ..Default::default()
            },
        ]),
        ..Default::default()
    }
}

fn copy_supervisord() -> Container {
    Container {
        name: "copy-supervisord".into(),
        image: Some(INIT_IMAGE.into()),
        command: Some(vec!["/usr/bin/cp".into()]),
        args: Some(vec![
            "-r".into(),
            "/opt/odo-init/.".into(),
            "/opt/odo/".into(),
        ]),
        volume_mounts: Some(vec![mount(SHARED, "/opt/odo/", None)]),
        ..Default::default()
    }
}

fn copy_files_to_volume() -> Container {
    Container {
        name: "copy-files-to-volume".into(),
        image: Some(NODEJS.into()),
        command: Some(vec!["sh".into(), "-c".into(), COPY_FILES.into()]),
        volume_mounts: Some(vec![mount(S2IDATA, "/mnt", None)]),
        ..Default::default()
    }
}

fn app_container() -> Container {
    Container {
        name: "nodejs-app".into(),
        image: Some(NODEJS.into()),
        command: Some(vec!["/opt/odo/bin/go-init".into()]),
        args: Some(vec![
            "-pre".into(),
            "/opt/odo/bin/s2i-setup".into(),
            "-main".into(),
            "/opt/odo/bin/supervisord -c /opt/app-root/conf/supervisor.conf".into(),
        ]),
        volume_mounts: Some(vec![
            mount(SHARED, "/opt/odo/", None),
            mount(S2IDATA, "/opt/app-root", Some("app-root")),
        ]),
        ..Default::default()
    }
}

fn odo_env() -> Vec<(String, String)> {
    [
        ("DEBUG_PORT", "5858"),
        ("ODO_S2I_SCRIPTS_URL", "/usr/libexec/s2i"),
        ("ODO_S2I_SCRIPTS_PROTOCOL", "image://"),
        ("ODO_S2I_SRC_BIN_PATH", "/tmp"),
        ("ODO_S2I_DEPLOYMENT_DIR", "/opt/app-root/src"),
        ("ODO_S2I_WORKING_DIR", "/opt/app-root/src"),
        ("ODO_S2I_BUILDER_IMG", "ubi8/nodejs-14"),
        ("ODO_SRC_BACKUP_DIR", "/opt/app-root/src-backup"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, path, content.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

async fn run_to_end(sb: &Sandbox, inst: &ContainerInstance) -> (i32, String) {
    let (io, log) = log_sink();
    let code = inst.start(sb.host(), io).await;
    (code, log.text())
}

/// Yields until `cond` holds (the processes run on the same test runtime); panics after a
/// bounded number of turns so a broken scenario fails instead of hanging.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..20_000 {
        if cond() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("timed out waiting for {what}");
}

struct Pod {
    vols: PodVolumes,
}

async fn start_pod(sb: &Sandbox, data: &VolumeData) -> (Pod, Vec<String>) {
    let vols = sb.volumes(&pod_spec(), data).unwrap();
    let mut init_logs = Vec::new();
    for c in [copy_supervisord(), copy_files_to_volume()] {
        let inst = sb.container(&c, &[], &vols).unwrap();
        let (code, log) = run_to_end(sb, &inst).await;
        assert_eq!(code, 0, "init container {} failed: {log}", c.name);
        init_logs.push(log);
    }
    (Pod { vols }, init_logs)
}

fn spawn_app(
    sb: &Sandbox,
    pod: &Pod,
) -> (
    Arc<ContainerInstance>,
    Captured,
    tokio::task::JoinHandle<i32>,
) {
    let inst = Arc::new(
        sb.container(&app_container(), &odo_env(), &pod.vols)
            .unwrap(),
    );
    let (io, log) = log_sink();
    let fut = inst.start(sb.host(), io);
    (inst, log, tokio::spawn(fut))
}

#[tokio::test]
async fn odo_pod_runs_end_to_end_and_survives_replacement() {
    let mut sb = Sandbox::new().unwrap();
    let data = VolumeData {
        claims: BTreeMap::from([(S2IDATA.to_string(), "pv-s2idata".to_string())]),
        ..Default::default()
    };
    let (pod, init_logs) = start_pod(&sb, &data).await;
    // copy-supervisord filled the shared emptyDir from the init image.
    let shared = sb
        .rt
        .volumes()
        .empty_dir(&sb.pod.uid, SHARED)
        .unwrap()
        .snapshot();
    let shared_files: Vec<String> = shared.files().into_iter().map(|(p, _)| p).collect();
    for f in [
        "bin/go-init",
        "bin/supervisord",
        "bin/s2i-setup",
        "bin/assemble-and-restart",
        "bin/run",
        "conf/supervisor.conf",
        "language-scripts/nodejs-14/run",
    ] {
        assert!(
            shared_files.contains(&f.to_string()),
            "{f} missing from /opt/odo: {shared_files:?}"
        );
    }
    // copy-files-to-volume seeded the PVC from the builder's /opt/app-root.
    assert_eq!(init_logs[1], "");
    let pv = sb.rt.volumes().pv("pv-s2idata").unwrap();
    assert!(
        pv.snapshot()
            .files()
            .iter()
            .any(|(p, _)| p == "app-root/etc/scl_enable")
    );

    let (app, log, task) = spawn_app(&sb, &pod);
    until("supervisord to start", || {
        log.text().contains("supervisord started")
    })
    .await;
    // s2i-setup ran first (set -x output) and put supervisor.conf on the PVC.
    let text = log.text();
    assert!(text.contains("+ mkdir -p /tmp/src"), "{text}");
    assert!(app.fs().exists("/tmp/src/.dummy"));
    assert!(app.fs().exists("/opt/app-root/conf/supervisor.conf"));
    let status = sb
        .exec(&app, &["/opt/odo/bin/supervisord", "ctl", "status"], b"")
        .await;
    assert_eq!(status.stdout, format!("{:<32} Stopped\n", "run"));

    // Push: the tar stream over exec, then assemble-and-restart.
    let source = tar_of(&[
        (
            "package.json",
            r#"{"name":"nodejs-app","version":"1.0.0","scripts":{"start":"node server.js"},"dependencies":{"express":"^4.17.1"}}"#,
        ),
        (
            "server.js",
            "const http = require('http');\nconsole.log('Server listening on port 8080');\nhttp.createServer((q, s) => s.end('hi')).listen(8080);\n",
        ),
        ("lib/util.js", "module.exports = {};\n"),
    ]);
    let r = sb
        .exec(&app, &["tar", "xf", "-", "-C", "/tmp/src"], &source)
        .await;
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert!(app.fs().exists("/tmp/src/lib/util.js"));
    let r = sb
        .exec(&app, &["/opt/odo/bin/assemble-and-restart"], b"")
        .await;
    assert_eq!(
        r.code, 0,
        "assemble-and-restart failed:\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(
        r.stdout.contains("---> Installing application source ..."),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("added 1 packages"), "{}", r.stdout);
    assert!(
        r.stdout.contains("run: stopped\nrun: started\n"),
        "{}",
        r.stdout
    );

    // The app is built into /opt/app-root/src (on the PVC) and the sources are kept for the
    // next push.
    let fs = app.fs();
    assert_eq!(
        fs.read("/opt/app-root/src/server.js").unwrap(),
        "const http = require('http');\nconsole.log('Server listening on port 8080');\nhttp.createServer((q, s) => s.end('hi')).listen(8080);\n"
    );
    assert!(fs.is_dir("/opt/app-root/src/node_modules/express"));
    assert!(fs.exists("/tmp/src/server.js"));
    assert!(fs.exists("/opt/app-root/src-backup/src/package.json"));
    let conf = String::from_utf8(
        fs.read("/opt/app-root/conf/supervisor.conf")
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(conf.contains("autostart=true"));

    // `run` started under supervisord: its output is in the container log.
    until("the app's output in the log", || {
        log.text().contains("Server listening on port 8080")
    })
    .await;
    let text = log.text();
    assert!(text.contains("Launching via npm run start ..."), "{text}");
    assert!(
        text.contains("> nodejs-app@1.0.0 start /opt/app-root/src\n> node server.js"),
        "{text}"
    );
    let status = sb
        .exec(&app, &["/opt/odo/bin/supervisord", "ctl", "status"], b"")
        .await;
    assert!(
        status.stdout.starts_with("run") && status.stdout.contains("Running"),
        "{status:?}"
    );
    assert_eq!(
        app.listening_ports().keys().copied().collect::<Vec<_>>(),
        [8080]
    );
    let ps = sb.exec(&app, &["ps"], b"").await;
    assert!(
        ps.stdout
            .contains("    1 1001     0:00 /opt/odo/bin/go-init"),
        "{}",
        ps.stdout
    );
    assert!(ps.stdout.contains("node server.js"), "{}", ps.stdout);

    // A second, incremental push: odo removes deleted files over exec, streams the changed
    // ones, and the restarted app prints the new version.
    let r = sb
        .exec(
            &app,
            &["rm", "-rf", "/tmp/src/lib", "/opt/app-root/src/lib"],
            b"",
        )
        .await;
    assert_eq!(r.code, 0);
    let changed = tar_of(&[(
        "server.js",
        "console.log('Server v2 listening on port 8081');\nrequire('http').createServer().listen(8081);\n",
    )]);
    let r = sb
        .exec(&app, &["tar", "xf", "-", "-C", "/tmp/src"], &changed)
        .await;
    assert_eq!(r.code, 0);
    let r = sb
        .exec(&app, &["/opt/odo/bin/assemble-and-restart"], b"")
        .await;
    assert_eq!(r.code, 0, "second push failed:\n{}\n{}", r.stdout, r.stderr);
    until("the new version's output", || {
        log.text().contains("Server v2 listening on port 8081")
    })
    .await;
    assert!(!fs.exists("/opt/app-root/src/lib"));
    assert!(fs.exists("/opt/app-root/src/package.json"));
    assert!(fs.is_dir("/opt/app-root/src/node_modules/express"));
    assert_eq!(
        app.listening_ports().keys().copied().collect::<Vec<_>>(),
        [8081]
    );

    // Stop: SIGTERM to go-init is forwarded to supervisord, which stops its programs.
    assert!(app.signal(odo_sim::runtime::SIGTERM));
    let code = task.await.unwrap();
    assert_eq!(code, 0);

    // The pod is replaced: a new UID, emptyDir refilled, the PVC not re-seeded, and the app
    // starts by itself (autostart=true on the PVC) without another push.
    sb.rt.remove_pod(&sb.pod.uid);
    sb.pod.uid = "uid-2".into();
    let (pod2, init_logs) = start_pod(&sb, &data).await;
    assert_eq!(init_logs[1], "PVC already seeded\n");
    let (app2, log2, task2) = spawn_app(&sb, &pod2);
    until("the app to start after replacement", || {
        log2.text().contains("Server v2 listening on port 8081")
    })
    .await;
    assert!(app2.fs().exists("/opt/app-root/src/server.js"));
    // /tmp/src is in the new container's writable layer: empty until the next (full) push.
    assert!(!app2.fs().exists("/tmp/src/server.js"));
    task2.abort();
}

#[tokio::test]
async fn init_containers_wait_for_services_through_nslookup() {
    let sb = Sandbox::new().unwrap();
    let c = Container {
        name: "init-myservice".into(),
        image: Some("busybox".into()),
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            "until nslookup myservice; do echo waiting for myservice; sleep 2; done;".into(),
        ]),
        ..Default::default()
    };
    let inst = sb.container(&c, &[], &PodVolumes::default()).unwrap();
    let t0 = sb.host.now();
    let (io, log) = log_sink();
    let task = tokio::spawn(inst.start(sb.host(), io));
    until("three failed lookups", || {
        log.text().matches("waiting for myservice").count() >= 3
    })
    .await;
    assert!(!task.is_finished());
    assert!(
        log.text()
            .contains("** server can't find myservice.default.svc.cluster.local: NXDOMAIN")
    );
    sb.host
        .add_service("myservice", "default", Ipv4Addr::new(10, 96, 12, 7));
    assert_eq!(task.await.unwrap(), 0);
    let text = log.text();
    assert!(
        text.ends_with("Name:\tmyservice.default.svc.cluster.local\nAddress: 10.96.12.7\n\n"),
        "{text}"
    );
    // Every wait was 2 s of virtual time.
    let waits = text.matches("waiting for myservice").count() as i64;
    assert_eq!(sb.host.now().as_second() - t0.as_second(), 2 * waits);

    // The app container of the seed example logs its line and sleeps in virtual time.
    let app = Container {
        name: "myapp-container".into(),
        image: Some("busybox".into()),
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            "echo The app is running! && sleep 3600".into(),
        ]),
        ..Default::default()
    };
    let inst = sb.container(&app, &[], &PodVolumes::default()).unwrap();
    let (code, text) = run_to_end(&sb, &inst).await;
    assert_eq!((code, text.as_str()), (0, "The app is running!\n"));

    // Other spellings resolve too, and getent answers from the same DNS.
    let r = sb
        .sh("nslookup myservice.default && getent hosts myservice.default.svc.cluster.local")
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .ends_with("10.96.12.7      myservice.default.svc.cluster.local\n"),
        "{}",
        r.stdout
    );
}
