//! `odo push` through the library against the in-process simulator: what the push creates
//! beyond the rendered manifests, and the builds of git and binary components on OpenShift down
//! to the pod running the built image.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use clap::Parser;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ApiResource, DynamicObject};
use odo::cli::Cli;
use odo::cli::component::PushArgs;
use odo::cluster::{ConnectOptions, Connection, attach_sim};
use odo::config::LocalConfigFile;
use odo::manifests::Flavor;
use serde_json::Value;

fn odo(dir: &Path, args: &[&str]) {
    let mut argv = vec!["odo"];
    argv.extend_from_slice(args);
    let ctx = dir.to_str().unwrap();
    argv.extend_from_slice(&["--context", ctx]);
    let cli = Cli::try_parse_from(argv).unwrap();
    odo::cli::run(cli).unwrap();
}

async fn connect(sim: &odo_sim::Sim, namespace: &str) -> Connection {
    let opts = ConnectOptions {
        timeout: Duration::from_secs(5),
        flavor: Some(Flavor::Kubernetes),
        ..Default::default()
    };
    attach_sim(sim, "sim".into(), namespace, &opts)
        .await
        .unwrap()
}

async fn push_config(conn: &Connection, dir: &Path) {
    let file = LocalConfigFile::load_existing(dir).unwrap();
    let args = PushArgs {
        config: true,
        ..PushArgs::default()
    };
    let sync = odo::push::default_sync();
    odo::push::push_component(conn, &file, &args, sync.as_ref(), Duration::from_secs(30))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_ingress_gets_a_self_signed_secret_that_goes_with_the_url() {
    let sim = odo_sim::Sim::builder().build().unwrap();
    let conn = connect(&sim, "default").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    odo(d, &["create", "nodejs", "web", "--app", "shop"]);
    odo(
        d,
        &[
            "url",
            "create",
            "site",
            "--port",
            "8080",
            "--secure",
            "--host",
            "example.com",
        ],
    );
    push_config(&conn, d).await;

    let secrets: Api<Secret> = Api::namespaced(sim.client(), "default");
    let ingresses: Api<Ingress> = Api::namespaced(sim.client(), "default");
    let ingress = ingresses.get("site-shop").await.unwrap();
    let tls = ingress.spec.unwrap().tls.unwrap();
    assert_eq!(tls[0].secret_name.as_deref(), Some("web-shop-tlssecret"));
    let secret = secrets.get("web-shop-tlssecret").await.unwrap();
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let crt = &secret.data.as_ref().unwrap()["tls.crt"].0;
    assert!(crt.starts_with(b"-----BEGIN CERTIFICATE-----"));
    let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.uid, ingress.metadata.uid.clone().unwrap());

    // A second push keeps the same certificate.
    push_config(&conn, d).await;
    let again = secrets.get("web-shop-tlssecret").await.unwrap();
    assert_eq!(again.data, secret.data);

    // Removing the url removes its Ingress, and the garbage collector its certificate.
    odo(d, &["url", "delete", "site", "-f"]);
    push_config(&conn, d).await;
    assert!(ingresses.get_opt("site-shop").await.unwrap().is_none());
    assert!(
        secrets
            .get_opt("web-shop-tlssecret")
            .await
            .unwrap()
            .is_none()
    );
}

async fn connect_openshift(sim: &odo_sim::Sim) -> Connection {
    let opts = ConnectOptions {
        timeout: Duration::from_secs(5),
        flavor: Some(Flavor::OpenShift),
        ..Default::default()
    };
    attach_sim(sim, "sim".into(), "default", &opts)
        .await
        .unwrap()
}

fn openshift_sim() -> odo_sim::Sim {
    odo_sim::Sim::builder()
        .flavor(odo_sim::Flavor::Openshift)
        .real_time(true)
        .build()
        .unwrap()
}

async fn push(conn: &Connection, dir: &Path) -> odo::error::Result<odo::push::PushSummary> {
    let file = LocalConfigFile::load_existing(dir).unwrap();
    let sync = odo::push::default_sync();
    odo::push::push_component(
        conn,
        &file,
        &PushArgs::default(),
        sync.as_ref(),
        Duration::from_secs(60),
    )
    .await
}

fn fixture(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    format!("file://{}", dir.display())
}

async fn dynamic(sim: &odo_sim::Sim, group: &str, kind: &str, plural: &str, name: &str) -> Value {
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

/// A git component on OpenShift: the push creates an ImageStream, a BuildConfig building the
/// repository with the builder image into `<component>-<app>:latest`, and a DeploymentConfig
/// whose image comes from that tag; it builds, and the pod it waits for runs the assembled code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_component_is_built_on_openshift_and_its_pod_runs_the_built_image() {
    let sim = openshift_sim();
    let conn = connect_openshift(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let uri = fixture("nodejs");
    odo(
        d,
        &["create", "nodejs", "web", "--app", "shop", "--git", &uri],
    );
    let summary = push(&conn, d).await.unwrap();
    assert!(summary.created);
    assert!(summary.sync.is_none(), "nothing is synced for git");

    let bc = dynamic(
        &sim,
        "build.openshift.io",
        "BuildConfig",
        "buildconfigs",
        "web-shop",
    )
    .await;
    assert_eq!(bc["spec"]["source"]["git"]["uri"], uri.as_str());
    assert_eq!(bc["spec"]["strategy"]["type"], "Source");
    assert_eq!(
        bc["spec"]["output"]["to"],
        serde_json::json!({"kind": "ImageStreamTag", "name": "web-shop:latest"})
    );
    assert_eq!(
        bc["metadata"]["managedFields"][0]["manager"], "odo",
        "server-side applied by odo"
    );
    let build = dynamic(&sim, "build.openshift.io", "Build", "builds", "web-shop-1").await;
    assert_eq!(build["status"]["phase"], "Complete", "{build}");
    let tag = dynamic(
        &sim,
        "image.openshift.io",
        "ImageStreamTag",
        "imagestreamtags",
        "web-shop:latest",
    )
    .await;
    let image = tag["image"]["dockerImageReference"]
        .as_str()
        .unwrap()
        .to_string();
    let dc = dynamic(
        &sim,
        "apps.openshift.io",
        "DeploymentConfig",
        "deploymentconfigs",
        "web-shop",
    )
    .await;
    let trigger = &dc["spec"]["triggers"][0];
    assert_eq!(trigger["type"], "ImageChange");
    assert_eq!(
        trigger["imageChangeParams"]["from"]["name"],
        "web-shop:latest"
    );

    // The pod the push waited for runs the image of the build: the fixture's server.js,
    // assembled into /opt/app-root/src, started by the builder's run script.
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let name = summary.pod.unwrap();
    let pod = pods.get(&name).await.unwrap();
    let spec = pod.spec.unwrap();
    assert_eq!(spec.containers[0].image.as_deref(), Some(image.as_str()));
    assert!(spec.init_containers.unwrap_or_default().is_empty());
    // `npm start` -> `node server.js`: the simulated node prints the fixture's console.log.
    let mut log = String::new();
    for _ in 0..100 {
        log = pods.logs(&name, &Default::default()).await.unwrap();
        if log.contains("listening on port") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        log.contains("Launching via npm run start ...") && log.contains("listening on port"),
        "app log:\n{log}"
    );

    // A second push builds again and rolls out the new image.
    let again = push(&conn, d).await.unwrap();
    assert!(!again.created);
    assert_ne!(again.pod.as_deref(), Some(name.as_str()), "a new pod");
    let build = dynamic(&sim, "build.openshift.io", "Build", "builds", "web-shop-2").await;
    assert_eq!(build["status"]["phase"], "Complete", "{build}");
}

/// A git repository whose assemble fails: the push fails with the build's phase, reason and
/// message, and says how to see the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_git_build_is_a_clear_error() {
    let sim = openshift_sim();
    let conn = connect_openshift(&sim).await;
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join(".s2i/bin")).unwrap();
    let script = repo.path().join(".s2i/bin/assemble");
    std::fs::write(
        &script,
        "#!/bin/sh\necho compiling\necho broken >&2\nexit 3\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let uri = format!("file://{}", repo.path().display());
    odo(
        d,
        &["create", "nodejs", "web", "--app", "shop", "--git", &uri],
    );
    let err = push(&conn, d).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("build web-shop-1 of component web ended in phase Failed"),
        "{text}"
    );
    assert!(text.contains("AssembleFailed"), "{text}");
    let hint = err.hint().unwrap_or_default();
    assert!(hint.contains("oc logs build/web-shop-1"), "{hint}");
}

/// A build that ends in phase Error before its pod ran (the pod was deleted while its builder
/// image could not be pulled) has no log: the server refuses the log request, and the push
/// reports the build's phase and reason, not the refused log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_whose_pod_is_deleted_before_it_ran_is_reported_by_its_phase() {
    let sim = openshift_sim();
    let conn = connect_openshift(&sim).await;
    sim.inject(odo_sim::Fault::ImagePullFailure {
        image: "registry.access.redhat.com/ubi8/nodejs-14:latest".into(),
        active: true,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    odo(
        d,
        &[
            "create",
            "nodejs",
            "web",
            "--app",
            "shop",
            "--git",
            &fixture("nodejs"),
        ],
    );
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(sim.client(), "default");
    let deleter = tokio::spawn(async move {
        for _ in 0..500 {
            if pods.get_opt("web-shop-1-build").await.unwrap().is_some() {
                pods.delete("web-shop-1-build", &Default::default())
                    .await
                    .unwrap();
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    });
    let err = push(&conn, d).await.unwrap_err();
    assert!(deleter.await.unwrap(), "the build pod was never created");
    let text = err.to_string();
    assert!(
        text.contains("build web-shop-1 of component web ended in phase Error (BuildPodDeleted)"),
        "{text}"
    );
}

/// On the kubernetes flavor there are no builds: a git component is refused before anything
/// is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_component_on_kubernetes_is_refused() {
    let sim = odo_sim::Sim::builder().build().unwrap();
    let conn = connect(&sim, "default").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    odo(
        d,
        &[
            "create",
            "nodejs",
            "web",
            "--app",
            "shop",
            "--git",
            &fixture("nodejs"),
        ],
    );
    let err = push(&conn, d).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("component web builds from git, which needs OpenShift builds"),
        "{text}"
    );
    let hint = err.hint().unwrap_or_default();
    assert!(hint.contains("--flavor openshift"), "{hint}");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(sim.client(), "default");
    assert!(deployments.get_opt("web-shop").await.unwrap().is_none());
}

/// A binary component on OpenShift: the push uploads the jar alone (`instantiatebinary
/// ?asFile=`) to a Binary-source BuildConfig, follows the build, and the rollout's pod runs
/// the jar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_component_is_uploaded_built_and_run_on_openshift() {
    let sim = openshift_sim();
    let conn = connect_openshift(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("target")).unwrap();
    std::fs::write(
        d.join("target/app.jar"),
        "SIMJAR\nPrints: hello from the uploaded jar\n",
    )
    .unwrap();
    // Not part of the upload: only the jar is sent.
    std::fs::write(d.join("notes.txt"), "not uploaded\n").unwrap();
    odo(
        d,
        &[
            "create",
            "java",
            "svc",
            "--app",
            "shop",
            "--binary",
            "target/app.jar",
        ],
    );
    let summary = push(&conn, d).await.unwrap();
    assert!(
        summary.sync.is_none(),
        "nothing is synced for binary builds"
    );

    let bc = dynamic(
        &sim,
        "build.openshift.io",
        "BuildConfig",
        "buildconfigs",
        "svc-shop",
    )
    .await;
    assert_eq!(
        bc["spec"]["source"],
        serde_json::json!({"type": "Binary", "binary": {"asFile": "app.jar"}})
    );
    let build = dynamic(&sim, "build.openshift.io", "Build", "builds", "svc-shop-1").await;
    assert_eq!(build["status"]["phase"], "Complete", "{build}");
    let cm: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(sim.client(), "default");
    let source = cm.get("svc-shop-1-source").await.unwrap();
    let archives: Vec<_> = source.binary_data.unwrap().into_values().collect();
    assert_eq!(archives.len(), 1);
    let mut tar = tar::Archive::new(archives[0].0.as_slice());
    let uploaded: Vec<(String, String)> = tar
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut body = String::new();
            std::io::Read::read_to_string(&mut e, &mut body).unwrap();
            (name, body)
        })
        .collect();
    assert_eq!(
        uploaded,
        vec![(
            "app.jar".to_string(),
            "SIMJAR\nPrints: hello from the uploaded jar\n".to_string()
        )],
        "only the jar is uploaded, under its file name"
    );

    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let name = summary.pod.unwrap();
    let mut log = String::new();
    for _ in 0..100 {
        log = pods.logs(&name, &Default::default()).await.unwrap();
        if log.contains("hello from the uploaded jar") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        log.contains("hello from the uploaded jar"),
        "app log:\n{log}"
    );
}

/// `odo create --git URL --ref R`: the BuildConfig's source names the ref and the build
/// takes that branch. `main` carries an assemble that fails; branch `fixed` does not, so only
/// a build of `fixed` (not of the working tree) completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_component_with_a_ref_builds_that_branch() {
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(["-c", "init.defaultBranch=main", "-C"])
            .arg(r)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !git(&["init", "-q"]) {
        assert_ne!(
            std::env::var("ODO_REQUIRE_CLIENTS").as_deref(),
            Ok("1"),
            "git is required"
        );
        return;
    }
    std::fs::write(r.join("server.js"), "console.log('fixed');\n").unwrap();
    assert!(git(&["add", "."]) && git(&["commit", "-qm", "app"]));
    assert!(git(&["branch", "fixed"]));
    std::fs::create_dir_all(r.join(".s2i/bin")).unwrap();
    std::fs::write(r.join(".s2i/bin/assemble"), "#!/bin/sh\nexit 3\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            r.join(".s2i/bin/assemble"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    assert!(git(&["add", "."]) && git(&["commit", "-qm", "broken assemble"]));

    let sim = openshift_sim();
    let conn = connect_openshift(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let uri = format!("file://{}", r.display());
    odo(
        d,
        &[
            "create", "nodejs", "web", "--app", "shop", "--git", &uri, "--ref", "fixed",
        ],
    );
    push(&conn, d).await.unwrap();
    let bc = dynamic(
        &sim,
        "build.openshift.io",
        "BuildConfig",
        "buildconfigs",
        "web-shop",
    )
    .await;
    assert_eq!(bc["spec"]["source"]["git"]["ref"], "fixed");
    let build = dynamic(&sim, "build.openshift.io", "Build", "builds", "web-shop-1").await;
    assert_eq!(build["status"]["phase"], "Complete", "{build}");
}
