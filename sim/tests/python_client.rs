//! Python's `kubernetes` client (pip), a second real client besides kubectl, against
//! `odo-sim serve` with a test container runtime: it lists namespaces and pods, watches a
//! ConfigMap through its whole life, and execs in running pods (stdout, stdin, the exit code
//! on the error channel). The script is `tests/python/client_check.py`; it prints what it
//! observed as JSON and this test asserts on that. Skipped (with a notice) where `python3`
//! or its `kubernetes` package is missing, and then failed under `ODO_REQUIRE_CLIENTS=1`.

mod api_stream_common;
mod common;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

/// The interpreter: `$PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_kubernetes_client_lists_watches_and_execs() {
    if !common::client_available(
        "python3 with the kubernetes package (pip install kubernetes)",
        Command::new(python()).args(["-c", "import kubernetes"]),
    ) {
        return;
    }
    let (sim, _rt) = api_stream_common::sim_with_pods().await;
    let dir = tempfile::tempdir().expect("dir");
    let (kc, _server) = common::serve(&sim, dir.path(), None).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client_check.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(&script)
            .arg(&kc)
            .output()
            .expect("run python3")
    })
    .await
    .expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client_check.py failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "client_check.py printed no JSON ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });

    let namespaces = seen["namespaces"].as_array().expect("namespaces");
    for ns in ["default", "kube-system"] {
        assert!(
            namespaces.contains(&json!(ns)),
            "{ns} listed: {namespaces:?}"
        );
    }
    assert_eq!(
        seen["pods"],
        json!([["p", "Running"], ["solo", "Running"]]),
        "pods listed with their phase"
    );

    assert_eq!(
        seen["watch"],
        json!([
            ["ADDED", "py-watched", {"k": "one"}],
            ["MODIFIED", "py-watched", {"k": "two"}],
            ["DELETED", "py-watched", {"k": "two"}],
        ]),
        "the watch saw the ConfigMap's whole life"
    );
    assert_eq!(seen["watch_finished"], true);

    assert_eq!(seen["exec_stdout"], "hello from python\n");
    assert_eq!(seen["stdin_echo"], "typed into cat\n");
    assert_eq!(seen["failing_stderr"], "exiting with 3\n");
    let status = &seen["failing_status"];
    assert_eq!(status["status"], "Failure", "{status}");
    assert_eq!(status["reason"], "NonZeroExitCode", "{status}");
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "ExitCode", "message": "3"}]),
        "{status}"
    );
    assert_eq!(seen["returncode"], 5);
    assert_eq!(seen["missing_pod"], json!([404, "NotFound"]));
}
