//! `odo-sim fault ...` against a served simulator: faults reach the running cluster, the
//! bearer token is required, and bad input is a clear error.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};

fn fault(kc: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_odo-sim"))
        .arg("fault")
        .arg("--kubeconfig")
        .arg(kc)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn fault_async(kc: &Path, args: &[&str]) -> (bool, String, String) {
    let kc = kc.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| (*s).to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        fault(&kc, &refs)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_injected_and_cleared_through_the_cli() {
    let sim = odo_sim::Sim::builder().token("s3cret").build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (kc, server) = common::serve(&sim, dir.path(), Some("s3cret")).await;
    // kube-rs retries 503s with exponential back-off (15 attempts, minutes in all); the test
    // wants to see the injected status itself.
    let mut config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kc).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    config.default_retry = false;
    let client = kube::Client::try_from(config).unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    cms.list(&ListParams::default()).await.unwrap();

    let (ok, out, err) = fault_async(
        &kc,
        &[
            "api-errors",
            "--resource",
            "configmaps",
            "--verb",
            "list",
            "--code",
            "503",
            "--rate",
            "1.0",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("injected ApiErrors"), "{out}");
    match cms.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 503),
        other => panic!("expected a 503, got {other:?}"),
    }
    // The control endpoint itself is never subject to API faults.
    let (ok, _, err) = fault_async(&kc, &["clear-api-faults"]).await;
    assert!(ok, "{err}");
    cms.list(&ListParams::default()).await.unwrap();

    // Unknown nodes and malformed documents are refused with the reason.
    let (ok, _, err) = fault_async(&kc, &["node-down", "nope"]).await;
    assert!(!ok);
    assert!(err.contains("node \"nope\" does not exist"), "{err}");
    let (ok, _, err) = fault_async(&kc, &["json", "{\"type\": \"Meteor\"}"]).await;
    assert!(!ok);
    assert!(err.contains("is not a fault"), "{err}");
    let (ok, _, err) = fault_async(&kc, &["api-errors", "--code", "500", "--rate", "7"]).await;
    assert!(!ok);
    assert!(err.contains("not a probability"), "{err}");

    // Without the token the endpoint answers 401.
    let other = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&kc)
        .unwrap()
        .replace("s3cret", "wrong");
    let bad = other.path().join("kubeconfig");
    std::fs::write(&bad, text).unwrap();
    let (ok, _, err) = fault_async(&bad, &["watch-drop"]).await;
    assert!(!ok);
    assert!(err.contains("401") || err.contains("Unauthorized"), "{err}");
    server.abort();
}
