//! The `odo` binary against clusters that cannot serve it: one that accepts connections and
//! never answers (the Timeout preference bounds the wait), one that refuses them, and one
//! that answers 503 (a few quick retries, then the answer is reported).

#![allow(clippy::unwrap_used)]

mod common;

use common::odo;
use std::net::TcpListener;
use std::path::Path;

fn kubeconfig(dir: &Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: {server}
contexts:
- name: c
  context:
    cluster: c
    user: u
    namespace: dev
current-context: c
users:
- name: u
  user:
    token: abc
"
        ),
    )
    .unwrap();
    path
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    let kc = dir.path().join("unused");
    for args in [
        &["create", "nodejs", "web"][..],
        &["preference", "set", "Timeout", "1"],
    ] {
        let out = odo(dir.path(), &kc, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

#[test]
fn silent_cluster_fails_within_timeout_with_a_clear_message() {
    let dir = setup();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept connections and keep them open without ever answering.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let kc = kubeconfig(dir.path(), &format!("http://{addr}"));
    let out = odo(dir.path(), &kc, &["push"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "the cluster at http://{addr}/ did not answer within 1s"
        )),
        "{err}"
    );
    assert!(err.contains("odo preference set Timeout"), "{err}");
}

#[test]
fn refused_connection_names_server_and_cause() {
    let dir = setup();
    // A port that was just free: nothing listens there.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let kc = kubeconfig(dir.path(), &format!("http://{addr}"));
    let out = odo(dir.path(), &kc, &["push"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "error: cannot reach the cluster at http://{addr}/"
        )),
        "{err}"
    );
    assert!(err.contains("caused by:"), "{err}");

    // Listing urls still works on local state, with a warning.
    let out = odo(dir.path(), &kc, &["url", "list"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("states are shown as Unknown"));
}

#[test]
fn broken_kubeconfig_is_reported() {
    let dir = setup();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, "this: [is not a kubeconfig").unwrap();
    let out = odo(dir.path(), &kc, &["push"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot load the cluster configuration"),
        "{err}"
    );
    assert!(err.contains("caused by:"), "{err}");
}

/// A cluster that keeps answering 503 gets a few quick retries, then its answer reaches the
/// user: kube-rs's default (15 retries, back-off growing to minutes) would hang the command.
#[test]
fn a_cluster_answering_503_is_reported_not_retried_for_minutes() {
    let dir = setup();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = odo_sim::Sim::builder().build().unwrap();
    sim.inject(odo_sim::Fault::ApiErrors {
        verb: Some("patch".into()),
        resource: Some("deployments".into()),
        code: 503,
        rate: 1.0,
    })
    .unwrap();
    let addr = rt.block_on(async {
        let bound = odo_sim::server::bind("127.0.0.1:0".parse().unwrap(), false)
            .await
            .unwrap();
        let addr = bound.addr;
        tokio::spawn(odo_sim::server::serve(sim.clone(), bound));
        addr
    });
    let kc = kubeconfig(dir.path(), &format!("http://{addr}"));
    let started = std::time::Instant::now();
    let out = odo(
        dir.path(),
        &kc,
        &["push", "--config", "--project", "default"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("503") || err.contains("ServiceUnavailable"),
        "{err}"
    );
    // Every step the failed push started ends with a mark, even when an error returned early.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let started_steps: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix(" •  ")?.strip_suffix(" ..."))
        .collect();
    assert!(!started_steps.is_empty(), "no step started:\n{stdout}");
    for title in started_steps {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!(" ✗  {title} ["))),
            "step {title:?} left without its failure mark:\n{stdout}"
        );
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "the command hung in retries for {:?}",
        started.elapsed()
    );
}
