//! Git refs of a BuildConfig's source: the build takes that branch/tag/commit of the local
//! repository (not its working tree); an unknown ref fails the build with FetchSourceFailed.

mod openshift_support;

use odo_sim::Sim;
use openshift_support::*;
use serde_json::{Value, json};

fn git(dir: &std::path::Path, args: &[&str]) -> bool {
    std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A repository whose `main` has `a.txt`, branch `b` has `b.txt` instead, tag `v1` is main's
/// commit, and whose working tree has an uncommitted `dirty.txt`. None without git.
fn repo() -> Option<tempfile::TempDir> {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    if !git(d, &["init", "-q"]) {
        if std::env::var("ODO_REQUIRE_CLIENTS").as_deref() == Ok("1") {
            panic!("git is required");
        }
        return None;
    }
    std::fs::write(d.join("a.txt"), "from A\n").expect("write");
    assert!(git(d, &["add", "."]) && git(d, &["commit", "-qm", "A"]));
    assert!(git(d, &["tag", "v1"]));
    assert!(git(d, &["checkout", "-qb", "b"]));
    std::fs::remove_file(d.join("a.txt")).expect("rm");
    std::fs::write(d.join("b.txt"), "from B\n").expect("write");
    assert!(git(d, &["add", "-A"]) && git(d, &["commit", "-qm", "B"]));
    assert!(git(d, &["checkout", "-q", "main"]));
    std::fs::write(d.join("dirty.txt"), "uncommitted\n").expect("write");
    Some(dir)
}

/// Starts a build of `git_ref` (an assemble that lists the source) and returns it settled.
async fn build_of(sim: &Sim, name: &str, uri: &str, git_ref: &str) -> (Value, String) {
    create(sim, &bc(), "default", json!({
        "apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": name},
        "spec": {
            "source": {"type": "Git", "git": {"uri": uri, "ref": git_ref}},
            "strategy": {"type": "Source", "sourceStrategy": {
                "from": {"kind": "DockerImage", "name": "registry.access.redhat.com/ubi8/nodejs-14:latest"}}},
            "output": {"to": {"kind": "ImageStreamTag", "name": format!("{name}:latest")}},
            "triggers": [{"type": "ConfigChange"}],
        }})).await;
    sim.settle();
    let b = get(sim, &build(), "default", &format!("{name}-1")).await;
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(sim.client(), "default");
    let log = pods
        .logs(&format!("{name}-1-build"), &Default::default())
        .await
        .unwrap_or_default();
    (b, log)
}

fn built_files(sim: &Sim, b: &Value, stream: &str) -> Vec<String> {
    let digest = b["status"]["output"]["to"]["imageDigest"]
        .as_str()
        .unwrap_or_default();
    let reference =
        format!("image-registry.openshift-image-registry.svc:5000/default/{stream}@{digest}");
    let fs = pushed_image_fs(sim, &reference);
    ["a.txt", "b.txt", "dirty.txt"]
        .into_iter()
        .filter(|f| fs.exists(&format!("/opt/app-root/src/{f}")))
        .map(String::from)
        .collect()
}

#[tokio::test]
async fn a_git_ref_builds_that_commit_of_the_repository() {
    let Some(repo) = repo() else { return };
    let sim = sim();
    let uri = format!("file://{}", repo.path().display());
    let (a, _) = build_of(&sim, "refa", &uri, "main").await;
    assert_eq!(a["status"]["phase"], "Complete", "{a}");
    assert_eq!(built_files(&sim, &a, "refa"), vec!["a.txt"]);
    let (b, _) = build_of(&sim, "refb", repo.path().to_str().unwrap_or_default(), "b").await;
    assert_eq!(b["status"]["phase"], "Complete", "{b}");
    assert_eq!(built_files(&sim, &b, "refb"), vec!["b.txt"]);
    let (t, _) = build_of(&sim, "tag", &uri, "v1").await;
    assert_eq!(built_files(&sim, &t, "tag"), vec!["a.txt"]);
}

#[tokio::test]
async fn an_unknown_git_ref_fails_the_build_fetching_the_source() {
    let Some(repo) = repo() else { return };
    let sim = sim();
    let uri = format!("file://{}", repo.path().display());
    let (b, _) = build_of(&sim, "nope", &uri, "no-such-branch").await;
    assert_eq!(b["status"]["phase"], "Failed", "{b}");
    assert_eq!(b["status"]["reason"], "FetchSourceFailed");
    assert_eq!(b["status"]["message"], "Failed to fetch the input source.");
    let snippet = b["status"]["logSnippet"].as_str().unwrap_or_default();
    assert!(snippet.contains("no-such-branch"), "{snippet}");
}
