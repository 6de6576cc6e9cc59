//! OpenShift projects are their requester's: a ProjectRequest records who asked, a user lists
//! and watches only its own projects, a GET or DELETE of another's is 403 Forbidden with the
//! real server's message, and an admin sees all. Reached in-process (`Sim::client_as`), over
//! HTTP with bearer tokens and impersonation (kube-rs), and with the real `kubectl --as`.

mod common;
mod openshift_support;

use std::path::Path;

use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams, WatchEvent};
use odo_sim::{Flavor, Sim};
use openshift_support::ar;
use serde_json::json;

fn projects(client: &kube::Client) -> Api<DynamicObject> {
    Api::all_with(
        client.clone(),
        &ar("project.openshift.io", "v1", "Project", "projects"),
    )
}

async fn request(client: &kube::Client, name: &str) -> Result<DynamicObject, kube::Error> {
    let res = ar(
        "project.openshift.io",
        "v1",
        "ProjectRequest",
        "projectrequests",
    );
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest",
        "metadata": {"name": name}}))
    .expect("a ProjectRequest");
    Api::<DynamicObject>::all_with(client.clone(), &res)
        .create(&PostParams::default(), &obj)
        .await
}

async fn names(client: &kube::Client) -> Vec<String> {
    let mut n: Vec<String> = projects(client)
        .list(&ListParams::default())
        .await
        .expect("list projects")
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    n.sort();
    n
}

fn forbidden(user: &str, verb: &str, name: &str) -> String {
    format!(
        "projects.project.openshift.io \"{name}\" is forbidden: User \"{user}\" cannot {verb} resource \"projects\" in API group \"project.openshift.io\" in the namespace \"{name}\""
    )
}

fn openshift() -> odo_sim::SimBuilder {
    Sim::builder().seed(9).flavor(Flavor::Openshift)
}

#[tokio::test]
async fn requesters_see_only_their_projects_and_admins_see_all() {
    let sim = openshift().build().expect("sim");
    let (alice, bob, admin) = (sim.client_as("alice"), sim.client_as("bob"), sim.client());
    let a1 = request(&alice, "a1").await.expect("alice requests a1");
    assert_eq!(
        a1.metadata.annotations.as_ref().expect("annotations")["openshift.io/requester"],
        "alice"
    );
    request(&bob, "b1").await.expect("bob requests b1");
    request(&admin, "ops")
        .await
        .expect("the admin requests ops");

    assert_eq!(names(&alice).await, ["a1"]);
    assert_eq!(names(&bob).await, ["b1"]);
    let all = names(&admin).await;
    for p in ["a1", "b1", "default", "ops"] {
        assert!(all.iter().any(|n| n == p), "{p} in {all:?}");
    }
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
    let ops = ns.get("ops").await.expect("namespace ops");
    assert_eq!(
        ops.metadata.annotations.expect("annotations")["openshift.io/requester"],
        "system:admin"
    );

    // Another's project, and one that does not exist, are forbidden to a user.
    assert_eq!(
        projects(&alice)
            .get("a1")
            .await
            .expect("own")
            .metadata
            .name
            .as_deref(),
        Some("a1")
    );
    for name in ["b1", "nope"] {
        let err = common::api_err(projects(&alice).get(name).await);
        assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
        assert_eq!(err.message, forbidden("alice", "get", name));
    }
    assert_eq!(
        common::api_err(projects(&admin).get("nope").await).code,
        404
    );
    let err = common::api_err(
        projects(&alice)
            .delete("b1", &DeleteParams::default())
            .await,
    );
    assert_eq!(err.message, forbidden("alice", "delete", "b1"));
    assert!(projects(&bob).get("b1").await.is_ok(), "b1 is still there");
    let direct: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "project.openshift.io/v1", "kind": "Project", "metadata": {"name": "x"}}))
    .expect("a Project");
    let err = common::api_err(
        projects(&alice)
            .create(&PostParams::default(), &direct)
            .await,
    );
    assert_eq!(
        err.message,
        "projects.project.openshift.io is forbidden: User \"alice\" cannot create resource \"projects\" in API group \"project.openshift.io\" at the cluster scope"
    );
    // A user may delete its own project.
    projects(&bob)
        .delete("b1", &DeleteParams::default())
        .await
        .expect("bob deletes b1");
}

#[tokio::test]
async fn a_users_watch_sends_only_its_projects() {
    let sim = openshift().build().expect("sim");
    let (alice, bob) = (sim.client_as("alice"), sim.client_as("bob"));
    request(&alice, "a1").await.expect("a1");
    request(&bob, "b1").await.expect("b1");
    let mut w = projects(&alice)
        .watch(&kube::api::WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    request(&bob, "b2").await.expect("b2");
    request(&alice, "a2").await.expect("a2");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match w.next().await.expect("an event").expect("no error") {
            WatchEvent::Added(p) => seen.push(p.metadata.name.expect("named")),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["a1", "a2"], "bob's b1 and b2 are not sent to alice");
}

#[tokio::test]
async fn a_watch_of_a_project_by_name_is_forbidden_like_a_get_of_it() {
    let sim = openshift().build().expect("sim");
    let (alice, bob) = (sim.client_as("alice"), sim.client_as("bob"));
    request(&alice, "a1").await.expect("a1");
    request(&bob, "b1").await.expect("b1");
    // `oc get project b1 -w` as alice: 403, with the message a get has but the verb watch.
    for name in ["b1", "nope"] {
        let wp = kube::api::WatchParams::default().fields(&format!("metadata.name={name}"));
        let err = match projects(&alice).watch(&wp, "0").await {
            Ok(w) => match w.boxed().next().await {
                Some(Err(e)) => common::api_err::<()>(Err(e)),
                other => panic!("{name}: a forbidden watch streamed {other:?}"),
            },
            Err(e) => common::api_err::<()>(Err(e)),
        };
        assert_eq!(
            (err.code, err.reason.as_str()),
            (403, "Forbidden"),
            "{name}"
        );
        assert_eq!(err.message, forbidden("alice", "watch", name));
    }
    // Her own project, by name, is watched as before.
    let wp = kube::api::WatchParams::default().fields("metadata.name=a1");
    let mut w = projects(&alice)
        .watch(&wp, "0")
        .await
        .expect("watch a1")
        .boxed();
    match w.next().await.expect("an event").expect("no error") {
        WatchEvent::Added(p) => assert_eq!(p.metadata.name.as_deref(), Some("a1")),
        other => panic!("unexpected {other:?}"),
    }
}

/// A served simulator with the admin token `adm` and users alice (`ta`) and bob (`tb`), and
/// its kubeconfig.
async fn served(
    dir: &Path,
) -> (
    Sim,
    std::path::PathBuf,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let mut users = odo_sim::api::auth::Users::default();
    users.add("ta", "alice").expect("alice");
    users.add("tb", "bob").expect("bob");
    let sim = openshift().token("adm").users(users).build().expect("sim");
    let bound = odo_sim::server::bind("127.0.0.1:0".parse().expect("addr"), false)
        .await
        .expect("bind");
    let kc = dir.join("kubeconfig");
    let pairs = [
        ("ta".to_string(), "alice".to_string()),
        ("tb".into(), "bob".into()),
    ];
    odo_sim::server::write_atomic(
        &kc,
        &odo_sim::server::kubeconfig_with_users(bound.addr, Some("adm"), &pairs),
    )
    .expect("kubeconfig");
    let server = tokio::spawn(odo_sim::server::serve(sim.clone(), bound));
    (sim, kc, server)
}

async fn client(kc: &Path, context: &str, impersonate: Option<&str>) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(kc).expect("kubeconfig");
    let opts = kube::config::KubeConfigOptions {
        context: Some(context.into()),
        ..Default::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(file, &opts)
        .await
        .expect("config");
    config.auth_info.impersonate = impersonate.map(str::to_string);
    kube::Client::try_from(config).expect("client")
}

#[tokio::test]
async fn over_http_the_bearer_token_names_the_user_and_only_admins_impersonate() {
    let dir = tempfile::tempdir().expect("dir");
    let (_sim, kc, server) = served(dir.path()).await;
    let alice = client(&kc, "odo-sim-alice", None).await;
    let bob = client(&kc, "odo-sim-bob", None).await;
    request(&alice, "a1").await.expect("a1");
    request(&bob, "b1").await.expect("b1");
    assert_eq!(names(&alice).await, ["a1"]);
    assert_eq!(names(&bob).await, ["b1"]);
    let err = common::api_err(projects(&alice).get("b1").await);
    assert_eq!(err.message, forbidden("alice", "get", "b1"));

    // The admin (`--token`) sees everything, and may act as alice.
    let admin = client(&kc, "odo-sim", None).await;
    let all = names(&admin).await;
    assert!(
        all.contains(&"a1".into()) && all.contains(&"b1".into()),
        "{all:?}"
    );
    let as_alice = client(&kc, "odo-sim", Some("alice")).await;
    assert_eq!(names(&as_alice).await, ["a1"]);
    // Alice may not act as bob.
    let sneaky = client(&kc, "odo-sim-alice", Some("bob")).await;
    let err = common::api_err(projects(&sneaky).list(&ListParams::default()).await);
    assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        err.message,
        "users \"bob\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
    // An unknown token is unauthorized.
    let text = std::fs::read_to_string(&kc)
        .expect("read")
        .replace("token: ta", "token: zz");
    std::fs::write(&kc, text).expect("write");
    let stranger = client(&kc, "odo-sim-alice", None).await;
    assert_eq!(
        common::api_err(projects(&stranger).list(&ListParams::default()).await).code,
        401
    );
    server.abort();
}

fn kubectl(kc: &Path, args: &[&str]) -> (bool, String, String) {
    common::kubectl(kc, &kc.with_file_name("cache"), args)
}

/// kubectl sends no bearer token over plain HTTP, so it reaches a simulator without tokens
/// (every request the admin `system:admin`) and acts as a user with `--as`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_as_a_user_gets_only_its_projects() {
    if !common::kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let sim = openshift().build().expect("sim");
    let (kc, server) = common::serve(&sim, dir.path(), None).await;
    let pr = dir.path().join("pr.yaml");
    std::fs::write(
        &pr,
        "apiVersion: project.openshift.io/v1\nkind: ProjectRequest\nmetadata:\n  name: a1\n",
    )
    .expect("write");
    let run = |args: Vec<String>| {
        let kc = kc.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            kubectl(&kc, &args)
        })
    };
    let v = |a: &[&str]| a.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    let (ok, out, err) = run(v(&[
        "--as=alice",
        "create",
        "-f",
        &pr.display().to_string(),
    ]))
    .await
    .expect("join");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "project.project.openshift.io/a1 created");
    request(&sim.client_as("bob"), "b1").await.expect("b1");
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(sim.client());
    let a1 = ns.get("a1").await.expect("namespace a1");
    assert_eq!(
        a1.metadata.annotations.expect("annotations")["openshift.io/requester"],
        "alice"
    );

    let (ok, out, err) = run(v(&["--as=alice", "get", "projects", "-o", "name"]))
        .await
        .expect("join");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "project.project.openshift.io/a1");
    let (ok, out, err) = run(v(&["get", "projects", "-o", "name"]))
        .await
        .expect("join");
    assert!(ok, "{err}");
    assert!(
        out.contains("project.project.openshift.io/b1") && out.contains("/a1"),
        "{out}"
    );

    let (ok, _, err) = run(v(&["--as=alice", "get", "project", "b1"]))
        .await
        .expect("join");
    assert!(!ok);
    assert_eq!(
        err.trim(),
        format!(
            "Error from server (Forbidden): {}",
            forbidden("alice", "get", "b1")
        )
    );
    server.abort();
}
