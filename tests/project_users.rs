//! `odo project` on an OpenShift cluster with users (the simulator served over HTTP with a
//! bearer token per user): each user's `odo project list` shows only the projects it
//! created, deleting another user's project fails with the server's Forbidden message, and
//! `odo project set` accepts only the user's own projects.

#![allow(clippy::unwrap_used)]

mod common;

use common::odo;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn ok(dir: &Path, kc: &Path, args: &[&str]) -> String {
    let out = odo(dir, kc, args);
    assert!(
        out.status.success(),
        "odo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn listed(dir: &Path, kc: &Path) -> Vec<String> {
    let doc: Value =
        serde_json::from_str(&ok(dir, kc, &["project", "list", "-o", "json"])).unwrap();
    doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// The served kubeconfig with `context` current, written beside it.
fn as_context(kc: &Path, context: &str) -> PathBuf {
    let text = std::fs::read_to_string(kc).unwrap().replace(
        "current-context: odo-sim",
        &format!("current-context: {context}"),
    );
    let path = kc.with_file_name(format!("{context}.kubeconfig"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn each_user_lists_only_its_projects() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("home")).unwrap();
    std::fs::create_dir_all(d.join("app")).unwrap();
    let mut users = odo_sim::api::auth::Users::default();
    users.add("ta", "alice").unwrap();
    users.add("tb", "bob").unwrap();
    let sim = odo_sim::Sim::builder()
        .flavor(odo_sim::Flavor::Openshift)
        .token("adm")
        .users(users)
        .build()
        .unwrap();
    let bound = rt
        .block_on(odo_sim::server::bind("127.0.0.1:0".parse().unwrap(), false))
        .unwrap();
    let kc = d.join("kubeconfig");
    let pairs = [
        ("ta".to_string(), "alice".to_string()),
        ("tb".into(), "bob".into()),
    ];
    odo_sim::server::write_atomic(
        &kc,
        &odo_sim::server::kubeconfig_with_users(bound.addr, Some("adm"), &pairs),
    )
    .unwrap();
    let server = rt.spawn(odo_sim::server::serve(sim, bound));
    let (alice, bob) = (
        as_context(&kc, "odo-sim-alice"),
        as_context(&kc, "odo-sim-bob"),
    );

    ok(d, &alice, &["project", "create", "shop"]);
    ok(d, &alice, &["project", "create", "blog"]);
    ok(d, &bob, &["project", "create", "bank"]);
    assert_eq!(listed(d, &alice), ["blog", "shop"]);
    assert_eq!(listed(d, &bob), ["bank"]);
    let all = listed(d, &kc);
    for p in ["bank", "blog", "default", "shop"] {
        assert!(all.iter().any(|n| n == p), "the admin sees {p}: {all:?}");
    }

    let out = odo(d, &alice, &["project", "delete", "bank", "-f"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("User \"alice\" cannot delete resource \"projects\" in API group \"project.openshift.io\" in the namespace \"bank\""),
        "{err}"
    );
    assert_eq!(listed(d, &bob), ["bank"]);

    // `odo project set` in a component's directory: one of the user's projects is recorded;
    // someone else's is refused with the server's Forbidden (a missing one too: the server
    // does not tell a user which projects exist); an admin is told a missing one is missing.
    ok(d, &alice, &["create", "nodejs", "web"]);
    let out = ok(d, &alice, &["project", "set", "shop"]);
    assert!(out.contains("Switched to project: shop"), "{out}");
    assert_eq!(ok(d, &alice, &["project", "get", "-q"]).trim(), "shop");
    let out = odo(d, &alice, &["project", "set", "bank"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("User \"alice\" cannot get resource \"projects\" in API group \"project.openshift.io\" in the namespace \"bank\""),
        "{err}"
    );
    let out = odo(d, &alice, &["project", "set", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"nope\" is forbidden"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = odo(d, &kc, &["project", "set", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("project \"nope\" does not exist") && err.contains("odo project create nope"),
        "{err}"
    );
    assert_eq!(
        ok(d, &alice, &["project", "get", "-q"]).trim(),
        "shop",
        "a refused set changes nothing"
    );
    server.abort();
}
