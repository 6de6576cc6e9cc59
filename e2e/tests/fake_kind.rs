//! The kind backend end to end against a stand-in `kind` (and `docker`) placed first on the
//! commands' PATH: `kind create cluster` starts a simulator server (`e2e-sim-serve`), `kind
//! get kubeconfig` prints its kubeconfig, scenarios run through the resulting client, images
//! are loaded, a node fault becomes `docker stop`, and `kind delete cluster` stops it. The
//! recorded argument lists are checked exactly.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use e2e::backend::kind::{KindBackend, KindSettings};
use e2e::backend::{Backend, Fault};
use e2e::harness::{self, Outcome};
use e2e::scenarios;

struct Fake {
    _dir: tempfile::TempDir,
    log: PathBuf,
    env: Vec<(OsString, OsString)>,
}

fn fake() -> Fake {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("invocations.log");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
    let path = std::env::join_paths(std::iter::once(support).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let env = vec![
        ("PATH".into(), path),
        ("FAKE_KIND_LOG".into(), log.clone().into()),
        ("FAKE_KIND_STATE".into(), state.into()),
        (
            "E2E_SIM_SERVE".into(),
            env!("CARGO_BIN_EXE_e2e-sim-serve").into(),
        ),
        (
            "FAKE_DOCKER_IMAGES".into(),
            "registry.access.redhat.com/ubi8/nodejs-14:latest".into(),
        ),
    ];
    Fake {
        _dir: dir,
        log,
        env,
    }
}

fn settings(f: &Fake, name: &str, reuse: bool) -> KindSettings {
    KindSettings {
        name: name.into(),
        reuse,
        config: e2e::workspace_root().join("ci/kind-config.yaml"),
        wait: "120s".into(),
        node_image: Some("kindest/node:v1.34.0".into()),
        kind: "kind".into(),
        docker: "docker".into(),
        env: f.env.clone(),
        load_images: true,
        label: "fake-kind".into(),
    }
}

fn invocations(f: &Fake) -> Vec<String> {
    std::fs::read_to_string(&f.log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kind_backend_from_create_to_delete() {
    let f = fake();
    let backend = KindBackend::start(settings(&f, "odo-e2e-fake", false))
        .await
        .expect("kind backend over the stand-in");
    assert!(backend.kubeconfig().contains("http://127.0.0.1:"));

    for name in [
        "configmap_lifecycle",
        "nodeport_allocation",
        "watch_selector_transitions",
    ] {
        let scenario = scenarios::by_name(name).expect("scenario");
        let outcome = harness::run(&backend, &scenario, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome, Outcome::Passed, "{name}");
        let trace = e2e::trace::Trace::read_from(&harness::trace_path("fake-kind", name))
            .expect("trace written under the kind backend's directory");
        assert_eq!(trace.backend, "fake-kind");
        assert_eq!(trace.outcome, "passed");
    }

    // Only the image the local engine has is loaded; the other is left for the node to pull.
    let images = vec![
        "busybox:latest".to_string(),
        "registry.access.redhat.com/ubi8/nodejs-14:latest".to_string(),
    ];
    backend.prepare_images(&images).await.expect("images");
    backend.prepare_images(&images).await.expect("images again");

    let injected = backend
        .inject(&Fault::NodeDown {
            node: "odo-e2e-fake-control-plane".into(),
        })
        .await
        .expect("node fault through docker");
    assert_eq!(injected.how, "docker stop odo-e2e-fake-control-plane");
    let unsupported = backend
        .inject(&Fault::ImagePullFailure {
            image: "busybox:latest".into(),
        })
        .await
        .expect_err("pull failures are unsupported on kind");
    assert_eq!(unsupported.backend, "fake-kind");

    // A second backend reusing the cluster neither creates nor deletes it.
    let reused = KindBackend::start(settings(&f, "odo-e2e-fake", true))
        .await
        .expect("reuse");
    drop(reused);

    backend.delete().expect("delete");
    let config = e2e::workspace_root().join("ci/kind-config.yaml");
    assert_eq!(
        invocations(&f),
        [
            format!(
                "kind create cluster --name odo-e2e-fake --config {} --wait 120s --image kindest/node:v1.34.0",
                config.display()
            ),
            "kind get kubeconfig --name odo-e2e-fake".into(),
            "docker image inspect --format {{.Id}} busybox:latest".into(),
            "docker image inspect --format {{.Id}} registry.access.redhat.com/ubi8/nodejs-14:latest".into(),
            "kind load docker-image registry.access.redhat.com/ubi8/nodejs-14:latest --name odo-e2e-fake".into(),
            "docker stop odo-e2e-fake-control-plane".into(),
            "kind get kubeconfig --name odo-e2e-fake".into(),
            "kind delete cluster --name odo-e2e-fake".into(),
        ]
    );
}

#[tokio::test]
async fn a_failed_create_keeps_kinds_stderr() {
    let f = fake();
    let err = KindBackend::start(settings(&f, "broken-cluster", false))
        .await
        .expect_err("create fails");
    let text = err.to_string();
    assert!(
        text.contains("kind create cluster --name broken-cluster"),
        "{text}"
    );
    assert!(text.contains("node(s) already exist"), "{text}");
    assert_eq!(
        invocations(&f).len(),
        1,
        "nothing runs after a failed create"
    );
}

#[tokio::test]
async fn a_dropped_backend_deletes_its_cluster() {
    let f = fake();
    let backend = KindBackend::start(settings(&f, "odo-e2e-drop", false))
        .await
        .expect("start");
    drop(backend);
    let calls = invocations(&f);
    assert_eq!(
        calls.last().map(String::as_str),
        Some("kind delete cluster --name odo-e2e-drop")
    );
    // The "cluster" is gone: its kubeconfig can no longer be fetched.
    let again = KindBackend::start(settings(&f, "odo-e2e-drop", true)).await;
    let err = again.expect_err("deleted cluster");
    assert!(err.to_string().contains("could not locate"), "{err}");
}
