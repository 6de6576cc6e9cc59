//! The real `kubectl` against the simulator's HTTP server on the openshift flavor: create a
//! DeploymentConfig and a Route from files, read them back with their printer columns,
//! read the deployer pod's log, scale the DeploymentConfig. Skipped (with a notice) only
//! where no `kubectl` is installed (failed instead under `ODO_REQUIRE_CLIENTS=1`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use odo_sim::{Flavor, Sim};

async fn kubectl(kc: &Path, cache: &Path, args: &[&str]) -> (bool, String, String) {
    let (kc, cache): (PathBuf, PathBuf) = (kc.into(), cache.into());
    let args: Vec<String> = args.iter().map(|s| (*s).to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &kc)
            .arg("--cache-dir")
            .arg(&cache)
            .args(&args)
            .output()
            .expect("run kubectl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_and_reads_deployment_configs_and_routes() {
    if !common::kubectl_available() {
        return;
    }
    let sim = Sim::builder()
        .seed(3)
        .flavor(Flavor::Openshift)
        .build()
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let bound = odo_sim::server::bind("127.0.0.1:0".parse().expect("addr"), false)
        .await
        .expect("bind");
    let kc = dir.path().join("kubeconfig");
    odo_sim::server::write_atomic(&kc, &odo_sim::server::kubeconfig(bound.addr, None))
        .expect("kubeconfig");
    let server = tokio::spawn(odo_sim::server::serve(sim.clone(), bound));
    let cache = dir.path().join("cache");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/openshift");
    let dc = std::fs::read_to_string(fixtures.join("frontend-dc.yaml")).expect("fixture");
    // Only the ConfigChange trigger: the image is used as written.
    let dc = dc
        .split("  - imageChangeParams:")
        .next()
        .expect("split")
        .to_string()
        + "  strategy:\n    type: Rolling\n";
    let dc_file = dir.path().join("dc.yaml");
    std::fs::write(&dc_file, dc).expect("write");

    let (ok, out, err) = kubectl(
        &kc,
        &cache,
        &["create", "-f", &dc_file.display().to_string()],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        "deploymentconfig.apps.openshift.io/frontend created"
    );
    let route = fixtures.join("web-route.yaml").display().to_string();
    let (ok, out, err) = kubectl(&kc, &cache, &["create", "-f", &route]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "route.route.openshift.io/web created");
    sim.settle();

    let (ok, out, err) = kubectl(
        &kc,
        &cache,
        &[
            "get",
            "dc",
            "frontend",
            "-o",
            "jsonpath={.status.latestVersion} {.status.availableReplicas}",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "1 5");
    let (ok, out, err) = kubectl(&kc, &cache, &["get", "dc"]).await;
    assert!(ok, "{err}");
    let row = out.lines().nth(1).unwrap_or_default();
    assert!(
        row.split_whitespace()
            .eq(["frontend", "1", "5", "5", "config"]),
        "{out}"
    );
    let (ok, out, err) = kubectl(
        &kc,
        &cache,
        &[
            "get",
            "rc",
            "-l",
            "openshift.io/deployment-config.name=frontend",
            "-o",
            "jsonpath={.items[*].metadata.annotations.openshift\\.io/deployment\\.phase}",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "Complete");
    // The deployer pod's log says what the deployer did.
    let (ok, out, err) = kubectl(&kc, &cache, &["logs", "frontend-1-deploy"]).await;
    assert!(ok, "{err}");
    assert_eq!(out, "--> Scaling frontend-1 to 5\n--> Success\n");
    let (ok, out, err) = kubectl(
        &kc,
        &cache,
        &[
            "get",
            "route",
            "web",
            "-o",
            "jsonpath={.spec.host} {.status.ingress[0].conditions[0].type}",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "web-default.apps.odo-sim.local Admitted");

    // `kubectl scale dc` goes through the scale subresource; the active version follows.
    let (ok, _, err) = kubectl(&kc, &cache, &["scale", "dc/frontend", "--replicas=2"]).await;
    assert!(ok, "{err}");
    sim.settle();
    let (ok, out, err) = kubectl(
        &kc,
        &cache,
        &[
            "get",
            "rc",
            "frontend-1",
            "-o",
            "jsonpath={.spec.replicas} {.status.readyReplicas}",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "2 2");
    server.abort();
}
