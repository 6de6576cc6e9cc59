//! The rollouts of a git component on OpenShift, against the in-process simulator in manual
//! time (each push runs under `Sim::advancing`): its DeploymentConfig's ImageChange trigger is
//! not automatic, so a finished build alone rolls nothing out; `odo push` starts the rollout
//! itself after its build completed (a `DeploymentRequest` with `latest` and `force`), a push
//! after a new commit rolls out the new image, and a push whose build fails leaves the old pod
//! serving.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use clap::Parser;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::api::{Api, ApiResource, DynamicObject};
use odo::cli::Cli;
use odo::cli::component::PushArgs;
use odo::cluster::{ClusterError, ConnectOptions, Connection, attach_sim, build, rollout};
use odo::config::LocalConfigFile;
use odo::manifests::Flavor;
use serde_json::{Value, json};

/// Virtual time that passes each time a push has to wait.
const TICK: Duration = Duration::from_millis(200);

fn odo(dir: &Path, args: &[&str]) {
    let mut argv = vec!["odo"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--context", dir.to_str().unwrap()]);
    odo::cli::run(Cli::try_parse_from(argv).unwrap()).unwrap();
}

fn sim() -> odo_sim::Sim {
    odo_sim::Sim::builder()
        .flavor(odo_sim::Flavor::Openshift)
        .build()
        .unwrap()
}

async fn connect(sim: &odo_sim::Sim) -> Connection {
    let opts = ConnectOptions {
        timeout: Duration::from_secs(5),
        flavor: Some(Flavor::OpenShift),
        ..Default::default()
    };
    sim.advancing(TICK, attach_sim(sim, "sim".into(), "default", &opts))
        .await
        .unwrap()
}

async fn push_with(
    sim: &odo_sim::Sim,
    conn: &Connection,
    dir: &Path,
    args: &PushArgs,
) -> odo::error::Result<odo::push::PushSummary> {
    let file = LocalConfigFile::load_existing(dir).unwrap();
    let sync = odo::push::default_sync();
    let push = odo::push::push_component(conn, &file, args, sync.as_ref(), Duration::from_secs(30));
    sim.advancing(TICK, push).await
}

async fn push(
    sim: &odo_sim::Sim,
    conn: &Connection,
    dir: &Path,
) -> odo::error::Result<odo::push::PushSummary> {
    push_with(sim, conn, dir, &PushArgs::default()).await
}

async fn get(sim: &odo_sim::Sim, group: &str, kind: &str, plural: &str, name: &str) -> Value {
    let ar = ApiResource {
        group: group.into(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: kind.into(),
        plural: plural.into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(sim.client(), "default", &ar);
    serde_json::to_value(api.get(name).await.unwrap()).unwrap()
}

async fn dc(sim: &odo_sim::Sim) -> Value {
    get(
        sim,
        "apps.openshift.io",
        "DeploymentConfig",
        "deploymentconfigs",
        "web-shop",
    )
    .await
}

/// The image `web-shop:latest` points at (where the builds push).
async fn built_image(sim: &odo_sim::Sim) -> String {
    let tag = get(
        sim,
        "image.openshift.io",
        "ImageStreamTag",
        "imagestreamtags",
        "web-shop:latest",
    )
    .await;
    tag["image"]["dockerImageReference"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The names of the component's pods that are not being deleted.
async fn live_pods(sim: &odo_sim::Sim) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let list = pods
        .list(&kube::api::ListParams::default().labels("deploymentconfig=web-shop"))
        .await
        .unwrap();
    list.items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect()
}

/// Waits (in virtual time) until the app in pod `name` logged `line`; returns the log.
async fn app_log(sim: &odo_sim::Sim, name: &str, line: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let mut log = String::new();
    for _ in 0..100 {
        log = pods.logs(name, &Default::default()).await.unwrap();
        if log.contains(line) {
            break;
        }
        sim.advance(TICK);
    }
    log
}

/// A git repository with a Node.js app that logs `message` at start, committed.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    /// None when the `git` command is missing (and not required).
    fn new(message: &str) -> Option<Repo> {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        if !repo.git(&["init", "-q"]) {
            assert_ne!(
                std::env::var("ODO_REQUIRE_CLIENTS").as_deref(),
                Ok("1"),
                "git is required"
            );
            return None;
        }
        std::fs::write(
            repo.dir.path().join("package.json"),
            r#"{"name": "web", "version": "1.0.0", "scripts": {"start": "node server.js"}}"#,
        )
        .unwrap();
        repo.commit_app(message);
        Some(repo)
    }

    fn git(&self, args: &[&str]) -> bool {
        std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(["-c", "init.defaultBranch=main", "-C"])
            .arg(self.dir.path())
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// A new commit whose app logs `message`.
    fn commit_app(&self, message: &str) {
        std::fs::write(
            self.dir.path().join("server.js"),
            format!("console.log('{message}');\n"),
        )
        .unwrap();
        assert!(self.git(&["add", "."]) && self.git(&["commit", "-qm", message]));
    }

    /// A new commit whose assemble script fails.
    fn commit_broken_assemble(&self) {
        let bin = self.dir.path().join(".s2i/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("assemble"), "#!/bin/sh\necho broken >&2\nexit 3\n").unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(bin.join("assemble"), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        assert!(self.git(&["add", "."]) && self.git(&["commit", "-qm", "broken assemble"]));
    }

    /// The component, created from this repository's `main` branch.
    fn component(&self) -> tempfile::TempDir {
        let ctx = tempfile::tempdir().unwrap();
        let uri = format!("file://{}", self.dir.path().display());
        odo(
            ctx.path(),
            &[
                "create", "nodejs", "web", "--app", "shop", "--git", &uri, "--ref", "main",
            ],
        );
        ctx
    }
}

/// The DeploymentConfig has one ImageChange trigger on the build's tag, not automatic and
/// without a ConfigChange trigger; a build that finishes without odo (as `oc start-build`
/// would start it) moves the tag but rolls nothing out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_components_trigger_is_not_automatic() {
    let Some(repo) = Repo::new("release one") else {
        return;
    };
    let sim = sim();
    let conn = connect(&sim).await;
    let ctx = repo.component();
    let first = push(&sim, &conn, ctx.path()).await.unwrap();
    let pod = first.pod.unwrap();

    let dc = dc(&sim).await;
    let triggers = dc["spec"]["triggers"].as_array().unwrap();
    assert_eq!(triggers.len(), 1, "{triggers:?}");
    assert_eq!(triggers[0]["type"], "ImageChange");
    let params = &triggers[0]["imageChangeParams"];
    assert_eq!(params["automatic"], false);
    assert_eq!(params["containerNames"], json!(["web-shop"]));
    assert_eq!(
        params["from"],
        json!({"kind": "ImageStreamTag", "name": "web-shop:latest"})
    );
    assert_eq!(dc["status"]["latestVersion"], 1);

    let before = built_image(&sim).await;
    repo.commit_app("release two");
    let name = sim
        .advancing(TICK, build::instantiate(&conn, "web-shop"))
        .await
        .unwrap();
    let outcome = sim
        .advancing(
            TICK,
            build::wait_for_build(&conn, &name, Duration::from_secs(30)),
        )
        .await
        .unwrap();
    assert_eq!(outcome, build::BuildOutcome::Complete);
    assert_ne!(built_image(&sim).await, before, "the build moved the tag");
    sim.settle();

    let dc = crate::dc(&sim).await;
    assert_eq!(dc["status"]["latestVersion"], 1, "no new version: {dc}");
    let rcs: Api<ReplicationController> = Api::namespaced(sim.client(), "default");
    assert!(rcs.get_opt("web-shop-2").await.unwrap().is_none());
    assert_eq!(live_pods(&sim).await, vec![pod.clone()]);
    let log = app_log(&sim, &pod, "release one").await;
    assert!(!log.contains("release two"), "{log}");
}

/// `odo push` rolls out the image its build made: version 1 of the DeploymentConfig, a forced
/// instantiate (so its cause is `Manual`, as `oc rollout latest` records it) whose ImageChange
/// trigger resolved the built image, and the pod the push waited for runs that image. A push after
/// a new commit builds it and rolls out the new image in a new pod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_push_rolls_out_the_image_its_build_made() {
    let Some(repo) = Repo::new("release one") else {
        return;
    };
    let sim = sim();
    let conn = connect(&sim).await;
    let ctx = repo.component();
    let first = push(&sim, &conn, ctx.path()).await.unwrap();
    assert!(first.created);
    let image = built_image(&sim).await;
    let dc = dc(&sim).await;
    assert_eq!(dc["status"]["latestVersion"], 1);
    assert_eq!(
        dc["status"]["details"]["causes"][0]["type"], "Manual",
        "{dc}"
    );
    assert_eq!(
        dc["spec"]["triggers"][0]["imageChangeParams"]["lastTriggeredImage"],
        image.as_str()
    );
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let pod1 = first.pod.unwrap();
    let p = pods.get(&pod1).await.unwrap();
    assert_eq!(
        p.metadata.labels.unwrap()["deployment"],
        "web-shop-1",
        "the pod of the version the push started"
    );
    assert_eq!(
        p.spec.unwrap().containers[0].image.as_deref(),
        Some(image.as_str())
    );
    let log = app_log(&sim, &pod1, "release one").await;
    assert!(log.contains("release one"), "app log:\n{log}");

    repo.commit_app("release two");
    let second = push(&sim, &conn, ctx.path()).await.unwrap();
    assert!(!second.created);
    let image2 = built_image(&sim).await;
    assert_ne!(image2, image, "the second build made a new image");
    let dc = crate::dc(&sim).await;
    assert_eq!(dc["status"]["latestVersion"], 2);
    let pod2 = second.pod.unwrap();
    assert_ne!(pod2, pod1, "a new pod");
    let p = pods.get(&pod2).await.unwrap();
    assert_eq!(p.metadata.labels.unwrap()["deployment"], "web-shop-2");
    assert_eq!(
        p.spec.unwrap().containers[0].image.as_deref(),
        Some(image2.as_str())
    );
    let log = app_log(&sim, &pod2, "release two").await;
    assert!(log.contains("release two"), "app log:\n{log}");
    sim.settle();
    assert_eq!(live_pods(&sim).await, vec![pod2]);
}

/// A push whose build fails reports the build and starts no rollout: the pod of the last
/// good push keeps serving, and the DeploymentConfig stays at its version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_build_leaves_the_old_pod_serving() {
    let Some(repo) = Repo::new("release one") else {
        return;
    };
    let sim = sim();
    let conn = connect(&sim).await;
    let ctx = repo.component();
    let first = push(&sim, &conn, ctx.path()).await.unwrap();
    let pod = first.pod.unwrap();
    let image = built_image(&sim).await;

    repo.commit_broken_assemble();
    let err = push(&sim, &conn, ctx.path()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("build web-shop-2 of component web ended in phase Failed"),
        "{err}"
    );
    sim.settle();
    let dc = dc(&sim).await;
    assert_eq!(dc["status"]["latestVersion"], 1, "no new version: {dc}");
    assert_eq!(built_image(&sim).await, image);
    assert_eq!(live_pods(&sim).await, vec![pod.clone()]);
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let status = pods.get(&pod).await.unwrap().status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let log = app_log(&sim, &pod, "release one").await;
    assert!(log.contains("release one"), "app log:\n{log}");
}

/// `odo push --config` of a changed configuration: without a ConfigChange trigger, odo starts
/// the rollout itself, of the image already built; before any build it starts none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_push_rolls_out_the_built_image_with_the_new_configuration() {
    let Some(repo) = Repo::new("release one") else {
        return;
    };
    let sim = sim();
    let conn = connect(&sim).await;
    let ctx = repo.component();
    let config = PushArgs {
        config: true,
        ..PushArgs::default()
    };
    push_with(&sim, &conn, ctx.path(), &config).await.unwrap();
    // A changed configuration of a component that was never built: nothing to roll out.
    odo(ctx.path(), &["config", "set", "--env", "GREETING=early"]);
    push_with(&sim, &conn, ctx.path(), &config).await.unwrap();
    sim.settle();
    let dc0 = dc(&sim).await;
    assert_eq!(
        dc0["metadata"]["generation"], 2,
        "the change was applied: {dc0}"
    );
    assert_eq!(dc0["status"]["latestVersion"], 0, "nothing built yet");
    assert!(live_pods(&sim).await.is_empty());

    let first = push(&sim, &conn, ctx.path()).await.unwrap();
    let image = built_image(&sim).await;
    odo(ctx.path(), &["config", "set", "--env", "GREETING=hi"]);
    push_with(&sim, &conn, ctx.path(), &config).await.unwrap();
    sim.settle();
    let dc = dc(&sim).await;
    assert_eq!(dc["status"]["latestVersion"], 2, "{dc}");
    let pods = live_pods(&sim).await;
    assert_eq!(pods.len(), 1);
    assert_ne!(pods[0], first.pod.unwrap());
    let api: Api<Pod> = Api::namespaced(sim.client(), "default");
    let spec = api.get(&pods[0]).await.unwrap().spec.unwrap();
    let app = &spec.containers[0];
    assert_eq!(app.image.as_deref(), Some(image.as_str()));
    let env = app.env.clone().unwrap_or_default();
    assert!(
        env.iter()
            .any(|e| e.name == "GREETING" && e.value.as_deref() == Some("hi")),
        "{env:?}"
    );
}

/// A rollout requested while the previous one is still being deployed: the server refuses it
/// (409 Conflict); odo asks again a few times and then reports it with a way on. When the
/// previous rollout finishes meanwhile, the request goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_refused_while_one_is_in_progress_is_retried_then_reported() {
    let Some(repo) = Repo::new("release one") else {
        return;
    };
    let sim = sim();
    let conn = connect(&sim).await;
    let ctx = repo.component();
    push(&sim, &conn, ctx.path()).await.unwrap();
    // Virtual time stands still here, so version 2 stays in progress.
    assert_eq!(rollout::instantiate(&conn, "web-shop").await.unwrap(), 2);
    let err = rollout::instantiate(&conn, "web-shop").await.unwrap_err();
    assert!(
        matches!(&err, ClusterError::Rollout { message, .. } if message.contains("already in progress")),
        "{err:?}"
    );
    assert!(
        err.hint()
            .unwrap_or_default()
            .contains("oc rollout status dc/web-shop"),
        "{:?}",
        err.hint()
    );
    assert_eq!(dc(&sim).await["status"]["latestVersion"], 2);
    // With time moving, version 2 completes while odo waits to ask again.
    let version = sim
        .advancing(TICK, rollout::instantiate(&conn, "web-shop"))
        .await
        .unwrap();
    assert_eq!(version, 3);
}
