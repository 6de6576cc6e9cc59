//! The real `kubectl` against `odo-sim serve`: raw reads, create from a file, get, delete.
//! Skipped (with a notice) only where no `kubectl` is installed (failed instead under
//! `ODO_REQUIRE_CLIENTS=1`).

mod common;

use common::kubectl;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_raw_create_get_delete() {
    if !common::kubectl_available() {
        return;
    }
    let sim = odo_sim::Sim::builder().build().expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let (kc, server) = common::serve(&sim, dir.path(), None).await;
    let cache = dir.path().join("cache");
    let manifest = dir.path().join("cm.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels:\n    app: demo\ndata:\n  greeting: hello\n").expect("manifest");
    let (kc2, cache2) = (kc.clone(), cache.clone());
    let run = move |args: Vec<String>| {
        let (kc, cache) = (kc2.clone(), cache2.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                kubectl(&kc, &cache, &refs)
            })
            .await
            .expect("join")
        }
    };
    let a = |s: &[&str]| s.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();

    let (ok, out, err) = run(a(&["get", "--raw", "/api/v1/namespaces/default"])).await;
    assert!(ok, "{err}");
    let ns: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(ns["status"]["phase"], "Active");

    let (ok, out, err) = run(vec![
        "create".into(),
        "--validate=false".into(),
        "-f".into(),
        manifest.display().to_string(),
    ])
    .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "configmap/settings created");

    let (ok, out, err) = run(a(&[
        "create",
        "--validate=false",
        "-f",
        &manifest.display().to_string(),
    ]))
    .await;
    assert!(!ok);
    assert!(
        err.contains("AlreadyExists") && err.contains("configmaps \"settings\" already exists"),
        "{out}{err}"
    );

    let (ok, out, err) = run(a(&[
        "get",
        "configmap",
        "settings",
        "-o",
        "jsonpath={.data.greeting}",
    ]))
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "hello");

    let (ok, out, err) = run(a(&["get", "configmaps", "-l", "app=demo", "-o", "name"])).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "configmap/settings");

    let (ok, out, err) = run(a(&["get", "namespaces"])).await;
    assert!(ok, "{err}");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(out.contains(ns), "{out}");
    }

    let (ok, out, err) = run(a(&["delete", "configmap", "settings"])).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "configmap \"settings\" deleted");
    let (ok, _, err) = run(a(&["get", "configmap", "settings"])).await;
    assert!(!ok);
    assert!(err.contains("NotFound"), "{err}");
    server.abort();
}
