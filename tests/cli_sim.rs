//! The `odo` binary against the embedded simulator (state in `ODO_SIM_STATE`, kept between
//! commands): config pushes create, update and prune the component's objects on both flavors;
//! list/describe/url/storage read the cluster state; delete cleans up; projects; bad namespaces;
//! full source pushes, each `odo` process restoring the simulator as a rebooted node; git and
//! binary components built by OpenShift builds (and git refused on the kubernetes flavor).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
    flavor: &'static str,
}

impl Env {
    fn new(flavor: &'static str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        Env { dir, flavor }
    }

    fn ctx(&self) -> PathBuf {
        self.dir.path().join("app")
    }

    fn odo(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_odo"))
            .args(args)
            .args(["--flavor", self.flavor])
            .current_dir(self.ctx())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env("GLOBALODOCONFIG", self.dir.path().join("preference.yaml"))
            .env("ODO_SIM_STATE", self.dir.path().join("sim"))
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.odo(args);
        assert!(
            out.status.success(),
            "odo {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn states(&self, what: &str) -> Vec<(String, String)> {
        let doc = self.json(&[what, "list", "-o", "json"]);
        doc["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let state = if what == "url" {
                    &i["status"]["state"]
                } else {
                    &i["status"]
                };
                (
                    i["metadata"]["name"].as_str().unwrap().to_string(),
                    state.as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

fn s(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn config_push_lifecycle(flavor: &'static str) {
    let e = Env::new(flavor);
    e.ok(&["create", "nodejs", "web", "--app", "shop"]);
    e.ok(&["url", "create", "site"]);
    e.ok(&["storage", "create", "data", "--path", "/data"]);
    let first = e.odo(&["url", "list"]);
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(
        err.contains("using the embedded cluster simulator"),
        "announced on first use: {err}"
    );
    assert_eq!(e.states("url"), s(&[("site", "Not Pushed")]));

    let push = e.odo(&["push", "--config"]);
    assert!(
        push.status.success(),
        "{}",
        String::from_utf8_lossy(&push.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&push.stderr).contains("embedded cluster simulator"),
        "announced once"
    );
    e.ok(&["push", "--config"]);

    assert_eq!(e.states("url"), s(&[("site", "Pushed")]));
    assert_eq!(e.states("storage"), s(&[("data", "Pushed")]));
    let url = e.json(&["url", "describe", "site", "-o", "json"]);
    assert_eq!(
        url["spec"]["kind"],
        if flavor == "openshift" {
            "route"
        } else {
            "ingress"
        }
    );
    let list = e.json(&["list", "-o", "json"]);
    assert_eq!(list["items"][0]["metadata"]["name"], "web");
    assert_eq!(list["items"][0]["spec"]["app"], "shop");
    let desc = e.json(&["describe", "-o", "json"]);
    assert_eq!(desc["status"]["state"], "Pushed");
    let apps = e.json(&["app", "list", "-o", "json"]);
    assert_eq!(apps["items"][0]["spec"]["components"][0], "web");
    let version = e.ok(&["version"]);
    assert!(version.contains(&format!("Flavor: {flavor}")), "{version}");

    // Removing a url and a storage locally: the cluster still has them until the next push.
    e.ok(&["url", "delete", "site", "-f"]);
    e.ok(&["storage", "delete", "data", "-f"]);
    e.ok(&["url", "create", "api", "--secure"]);
    assert_eq!(
        e.states("url"),
        s(&[("api", "Not Pushed"), ("site", "Locally Deleted")])
    );
    assert_eq!(e.states("storage"), s(&[("data", "Locally Deleted")]));
    let out = e.ok(&["push", "--config"]);
    assert!(
        out.contains("deleted PersistentVolumeClaim data-shop-pvc"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "deleted {} site-shop",
            if flavor == "openshift" {
                "Route"
            } else {
                "Ingress"
            }
        )),
        "{out}"
    );
    assert_eq!(e.states("url"), s(&[("api", "Pushed")]));
    assert!(e.states("storage").is_empty());

    // A config change updates the workload in place.
    e.ok(&["config", "set", "--env", "GREETING=hi"]);
    e.ok(&["push", "--config"]);

    let out = e.ok(&["delete", "-f"]);
    assert!(out.contains("Component web deleted"), "{out}");
    assert!(out.contains("web-shop-s2idata"), "{out}");
    assert!(
        e.json(&["list", "-o", "json"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        e.json(&["describe", "-o", "json"])["status"]["state"],
        "Not Pushed"
    );
    let out = e.ok(&["delete", "-f", "-a"]);
    assert!(out.contains("was not found"), "{out}");
    assert!(
        !e.ctx().join(".odo").exists(),
        "-a removes the local config"
    );
}

#[test]
fn config_push_lifecycle_kubernetes() {
    config_push_lifecycle("kubernetes");
}

#[test]
fn config_push_lifecycle_openshift() {
    config_push_lifecycle("openshift");
}

/// The names of the objects of `group/v1 plural` in `default` of the embedded simulator of
/// `e` (opened between commands), sorted.
fn cluster_names(e: &Env, group: &str, plural: &str) -> Vec<String> {
    let flavor = if e.flavor == "openshift" {
        odo_sim::Flavor::Openshift
    } else {
        odo_sim::Flavor::Kubernetes
    };
    let sim = odo_sim::Sim::builder()
        .state_dir(e.dir.path().join("sim"))
        .flavor(flavor)
        .build()
        .unwrap();
    let (tid, _) = sim.store().resolve(group, "v1", plural).unwrap();
    let mut names: Vec<String> = sim
        .store()
        .list(tid, Some("default"), &Default::default())
        .unwrap()
        .items
        .iter()
        .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// `odo url create --ingress` on OpenShift: that url is an Ingress (with its host and a
/// self-signed certificate when secure), the others stay Routes; list and describe say which;
/// deleting it prunes the Ingress only.
#[test]
fn url_create_ingress_on_openshift() {
    let e = Env::new("openshift");
    e.ok(&["create", "nodejs", "web", "--app", "shop"]);
    e.ok(&["url", "create", "site"]);
    e.ok(&[
        "url",
        "create",
        "api",
        "--ingress",
        "--host",
        "apps.example.com",
        "--secure",
    ]);
    assert!(
        std::fs::read_to_string(e.ctx().join(".odo/config.yaml"))
            .unwrap()
            .contains("Kind: ingress"),
        "the kind is kept in the configuration"
    );
    e.ok(&["push", "--config"]);
    assert_eq!(
        cluster_names(&e, "route.openshift.io", "routes"),
        ["site-shop"]
    );
    assert_eq!(
        cluster_names(&e, "networking.k8s.io", "ingresses"),
        ["api-shop"]
    );
    assert!(
        cluster_names(&e, "", "secrets").contains(&"web-shop-tlssecret".to_string()),
        "a secure Ingress gets a certificate"
    );
    let list = e.json(&["url", "list", "-o", "json"]);
    let kinds: Vec<(String, String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["metadata"]["name"].as_str().unwrap().to_string(),
                i["spec"]["kind"].as_str().unwrap().to_string(),
                i["status"]["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "site".to_string(),
                "route".to_string(),
                "Pushed".to_string()
            ),
            (
                "api".to_string(),
                "ingress".to_string(),
                "Pushed".to_string()
            ),
        ]
    );
    let api = e.json(&["url", "describe", "api", "-o", "json"]);
    assert_eq!(api["spec"]["host"], "api.apps.example.com");

    e.ok(&["url", "delete", "api", "-f"]);
    e.ok(&["push", "--config"]);
    assert!(cluster_names(&e, "networking.k8s.io", "ingresses").is_empty());
    assert_eq!(
        cluster_names(&e, "route.openshift.io", "routes"),
        ["site-shop"]
    );
}

/// The simulated cluster behind the `odo` runs of `e` (opened between commands).
fn cluster_env_from(e: &Env, workload: &str) -> Vec<String> {
    let flavor = if e.flavor == "openshift" {
        odo_sim::Flavor::Openshift
    } else {
        odo_sim::Flavor::Kubernetes
    };
    let sim = odo_sim::Sim::builder()
        .state_dir(e.dir.path().join("sim"))
        .flavor(flavor)
        .build()
        .unwrap();
    let (group, plural) = if e.flavor == "openshift" {
        ("apps.openshift.io", "deploymentconfigs")
    } else {
        ("apps", "deployments")
    };
    let (tid, _) = sim.store().resolve(group, "v1", plural).unwrap();
    let obj = sim.store().get(tid, "default", workload).unwrap();
    obj.pointer("/spec/template/spec/containers/0/envFrom")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|f| f.pointer("/secretRef/name").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn link_lifecycle(flavor: &'static str) {
    let e = Env::new(flavor);
    let back = e.dir.path().join("back");
    std::fs::create_dir_all(&back).unwrap();
    let b = back.to_str().unwrap();
    e.ok(&[
        "create",
        "nodejs",
        "backend",
        "--app",
        "shop",
        "--context",
        b,
    ]);
    e.ok(&["create", "python", "frontend", "--app", "shop"]);

    let err = e.odo(&["link", "backend"]);
    assert_eq!(err.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&err.stderr);
    assert!(msg.contains("there is no component backend"), "{msg}");
    assert!(msg.contains("odo push"), "{msg}");

    e.ok(&["push", "--config", "--context", b]);
    let out = e.ok(&["link", "backend"]);
    assert!(out.contains("takes effect on the next `odo push`"), "{out}");
    assert!(
        out.contains("linked to component backend (port 8080)"),
        "{out}"
    );
    let desc = e.json(&["describe", "-o", "json"]);
    assert_eq!(
        desc["status"]["linkedComponents"],
        serde_json::json!({"backend": ["8080"]})
    );
    e.ok(&["push", "--config"]);
    assert_eq!(cluster_env_from(&e, "frontend-shop"), ["backend-shop-8080"]);

    let again = e.odo(&["link", "backend"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already linked"));
    let wrong_port = e.odo(&["link", "backend", "--port", "9999"]);
    assert!(
        String::from_utf8_lossy(&wrong_port.stderr).contains("does not expose port 9999"),
        "{}",
        String::from_utf8_lossy(&wrong_port.stderr)
    );
    let myself = e.odo(&["link", "frontend"]);
    assert!(String::from_utf8_lossy(&myself.stderr).contains("cannot be linked to itself"));

    // Unlinking a pushed component applies at once.
    let out = e.ok(&["unlink", "backend"]);
    assert!(out.contains("unlinked from backend"), "{out}");
    assert!(cluster_env_from(&e, "frontend-shop").is_empty());
    assert!(
        !std::fs::read_to_string(e.ctx().join(".odo/config.yaml"))
            .unwrap()
            .contains("Link"),
        "no empty Link list is left behind"
    );
    let none = e.odo(&["unlink", "backend"]);
    assert!(String::from_utf8_lossy(&none.stderr).contains("is not linked to backend"));

    // Relinking a pushed component applies at once too.
    e.ok(&["link", "backend"]);
    assert_eq!(cluster_env_from(&e, "frontend-shop"), ["backend-shop-8080"]);

    // A service is linked through its binding Secret, named after it.
    let missing = e.odo(&["link", "mydb"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no service (Secret) mydb"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    add_secret(&e, "mydb");
    let with_port = e.odo(&["link", "mydb", "--port", "5432"]);
    assert!(
        String::from_utf8_lossy(&with_port.stderr)
            .contains("mydb is a service; --port only applies to components"),
        "{}",
        String::from_utf8_lossy(&with_port.stderr)
    );
    let out = e.ok(&["link", "mydb"]);
    assert!(out.contains("linked to service mydb"), "{out}");
    assert_eq!(
        cluster_env_from(&e, "frontend-shop"),
        ["backend-shop-8080", "mydb"]
    );
    let desc = e.json(&["describe", "-o", "json"]);
    assert_eq!(
        desc["status"]["linkedServices"],
        serde_json::json!(["mydb"])
    );
    e.ok(&["unlink", "mydb"]);
    assert_eq!(cluster_env_from(&e, "frontend-shop"), ["backend-shop-8080"]);
    assert_eq!(
        e.json(&["describe", "-o", "json"])["status"]["linkedServices"],
        serde_json::json!([])
    );
}

/// A Secret `name` (a service's binding Secret) in `default` of the embedded simulator of `e`.
fn add_secret(e: &Env, name: &str) {
    let flavor = if e.flavor == "openshift" {
        odo_sim::Flavor::Openshift
    } else {
        odo_sim::Flavor::Kubernetes
    };
    let sim = odo_sim::Sim::builder()
        .state_dir(e.dir.path().join("sim"))
        .flavor(flavor)
        .build()
        .unwrap();
    let (tid, _) = sim.store().resolve("", "v1", "secrets").unwrap();
    sim.store()
        .create(
            tid,
            "default",
            serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": "default"},
                "stringData": {"DATABASE_HOST": "mydb", "DATABASE_PORT": "5432"}}),
            &Default::default(),
        )
        .unwrap();
}

#[test]
fn link_lifecycle_kubernetes() {
    link_lifecycle("kubernetes");
}

#[test]
fn link_lifecycle_openshift() {
    link_lifecycle("openshift");
}

#[test]
fn projects_and_missing_namespace() {
    let e = Env::new("kubernetes");
    e.ok(&["create", "python", "api"]);
    let out = e.odo(&["push", "--config", "--project", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("project \"nope\" does not exist"), "{err}");
    assert!(err.contains("odo project create nope"), "{err}");

    e.ok(&["project", "create", "nope"]);
    let names: Vec<String> = e.json(&["project", "list", "-o", "json"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.contains(&"nope".to_string()) && names.contains(&"default".to_string()),
        "{names:?}"
    );
    e.ok(&["project", "set", "nope"]);
    assert_eq!(e.ok(&["project", "get", "-q"]).trim(), "nope");
    e.ok(&["push", "--config"]);
    let list = e.json(&["list", "-o", "json"]);
    assert_eq!(list["items"][0]["metadata"]["namespace"], "nope");
    // A new process finds the pod restarting (the embedded node rebooted): `odo log` waits for
    // the app container to start instead of failing on `PodInitializing`.
    let log = e.odo(&["log"]);
    let stderr = String::from_utf8_lossy(&log.stderr);
    assert_eq!(log.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Waiting for component api to start"),
        "{stderr}"
    );
    e.ok(&["app", "delete", "app", "-f"]);
    assert!(
        e.json(&["list", "-o", "json"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// Every `odo` process restores the embedded simulator from its state directory: for the pods
/// that is a node reboot (the same pod, new container instances with fresh writable layers).
/// A push must then send the sources again, not trust an index written for the old instance.
fn source_push_across_processes(flavor: &'static str) {
    let e = Env::new(flavor);
    std::fs::write(e.ctx().join("server.js"), "console.log('hello');\n").unwrap();
    std::fs::write(e.ctx().join("package.json"), "{\"name\": \"web\"}\n").unwrap();
    e.ok(&["create", "nodejs", "web", "--app", "shop"]);
    let first = e.ok(&["push"]);
    assert!(
        first.contains("Changes successfully pushed to component: web"),
        "{first}"
    );
    let index = |e: &Env| -> Value {
        serde_json::from_slice(&std::fs::read(e.ctx().join(".odo/odo-file-index.json")).unwrap())
            .unwrap()
    };
    let one = index(&e);
    assert!(one["Files"]["server.js"].is_object(), "{one}");
    let second = e.ok(&["push"]);
    assert!(
        second.contains("Changes successfully pushed to component: web")
            && !second.contains("No file changes detected"),
        "the restarted container gets the sources again: {second}"
    );
    let two = index(&e);
    assert_eq!(two["PodUID"], one["PodUID"], "same pod");
    assert_ne!(
        two["ContainerID"], one["ContainerID"],
        "new container instance"
    );
    let desc = e.json(&["describe", "-o", "json"]);
    assert_eq!(desc["status"]["state"], "Pushed");
}

#[test]
fn source_push_across_processes_kubernetes() {
    source_push_across_processes("kubernetes");
}

#[test]
fn source_push_across_processes_openshift() {
    source_push_across_processes("openshift");
}

fn fixture_uri(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    format!("file://{}", dir.display())
}

/// `odo create --git` + `odo push` on OpenShift: the build's log is printed as it runs, then
/// odo starts the rollout and waits for it; describe sees the component pushed.
#[test]
fn git_component_push_openshift() {
    let e = Env::new("openshift");
    let uri = fixture_uri("nodejs");
    e.ok(&["create", "nodejs", "web", "--app", "shop", "--git", &uri]);
    let out = e.ok(&["push"]);
    for line in [
        "started build web-shop-1",
        "---> Installing application source ...",
        "Pushing image image-registry.openshift-image-registry.svc:5000/",
        "started deployment web-shop-1",
        "Changes successfully pushed to component: web",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    assert!(!out.contains("Syncing files"), "nothing is synced: {out}");
    let desc = e.json(&["describe", "-o", "json"]);
    assert_eq!(desc["status"]["state"], "Pushed");
}

/// A git repository whose assemble fails: exit 1, the build's phase and reason, and where to
/// find the log.
#[test]
fn failing_git_build_openshift() {
    let e = Env::new("openshift");
    let repo = e.dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".s2i/bin")).unwrap();
    let script = repo.join(".s2i/bin/assemble");
    std::fs::write(&script, "#!/bin/sh\necho compiling\nexit 3\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let uri = format!("file://{}", repo.display());
    e.ok(&["create", "nodejs", "web", "--app", "shop", "--git", &uri]);
    let out = e.odo(&["push"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("compiling"),
        "the build log is shown: {stdout}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("build web-shop-1 of component web ended in phase Failed (AssembleFailed)"),
        "{err}"
    );
    assert!(err.contains("oc logs build/web-shop-1"), "{err}");
}

/// `odo create java --binary` + `odo push` on OpenShift: the jar is uploaded to a binary
/// build, whose log shows the builder installing it, and the rollout is waited for.
#[test]
fn binary_component_push_openshift() {
    let e = Env::new("openshift");
    std::fs::create_dir_all(e.ctx().join("target")).unwrap();
    std::fs::write(e.ctx().join("target/app.jar"), "SIMJAR\nPrints: hi\n").unwrap();
    e.ok(&[
        "create",
        "java",
        "svc",
        "--app",
        "shop",
        "--binary",
        "target/app.jar",
    ]);
    let out = e.ok(&["push"]);
    for line in [
        "started build svc-shop-1",
        "INFO S2I binary build: copying jars to /deployments",
        "Changes successfully pushed to component: svc",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
}

/// On the kubernetes flavor there are no builds: `--git` is refused with a way out.
#[test]
fn git_component_push_kubernetes_is_refused() {
    let e = Env::new("kubernetes");
    e.ok(&["create", "nodejs", "web", "--git", &fixture_uri("nodejs")]);
    let out = e.odo(&["push"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("component web builds from git, which needs OpenShift builds"),
        "{err}"
    );
    assert!(err.contains("--flavor openshift"), "{err}");
}

#[test]
fn push_source_before_create_is_refused() {
    let e = Env::new("kubernetes");
    e.ok(&["create", "java", "svc"]);
    let out = e.odo(&["push", "--source"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist on the cluster yet"), "{err}");
    assert!(err.contains("without --source"), "{err}");
}

mod wait_on_sim {
    //! The pod wait against the simulator's API: its watches feed the state machine; Events about
    //! the pod are reported while waiting. The pod's status is written by the test (the
    //! simulator's kubelet is not involved).

    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use k8s_openapi::api::core::v1::{Event, Pod};
    use kube::api::{Api, Patch, PatchParams, PostParams};
    use odo::cluster::{ClusterChoice, ConnectOptions, finish_connect, wait};
    use odo::manifests::Flavor;
    use serde_json::json;

    fn terminated(name: &str) -> serde_json::Value {
        json!({"name": name, "image": "i", "imageID": "", "ready": false, "restartCount": 0,
               "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wait_follows_the_pod_and_reports_its_events() {
        let sim = odo_sim::Sim::builder().build().unwrap();
        let client = sim.client();
        let opts = ConnectOptions {
            timeout: Duration::from_secs(5),
            flavor: Some(Flavor::Kubernetes),
            ..Default::default()
        };
        let conn = finish_connect(
            client.clone(),
            "sim".into(),
            "default".into(),
            ClusterChoice::Sim,
            &opts,
        )
        .await
        .unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let events: Api<Event> = Api::namespaced(client.clone(), "default");

        // An old pod of the previous rollout: never counted.
        let old: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-app-old", "labels": {"component": "web-app"}},
            "spec": {"containers": [{"name": "web-app", "image": "i"}]}
        }))
        .unwrap();
        let old = pods.create(&PostParams::default(), &old).await.unwrap();
        let exclude = BTreeSet::from([old.metadata.uid.clone().unwrap()]);

        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let waiter = tokio::spawn(async move {
            let mut report = move |l: &str| sink.lock().unwrap().push(l.to_string());
            wait::wait_for_pod(
                &conn,
                "component=web-app",
                "web-app",
                Duration::from_secs(20),
                exclude,
                &mut report,
            )
            .await
        });

        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-app-1", "labels": {"component": "web-app"}},
            "spec": {
                "initContainers": [{"name": "copy-files-to-volume", "image": "i"}, {"name": "copy-supervisord", "image": "i"}],
                "containers": [{"name": "web-app", "image": "i"}]
            }
        }))
        .unwrap();
        let pod = pods.create(&PostParams::default(), &pod).await.unwrap();
        let uid = pod.metadata.uid.clone().unwrap();
        let event: Event = serde_json::from_value(json!({
            "metadata": {"name": "web-app-1.1"},
            "involvedObject": {"kind": "Pod", "name": "web-app-1", "namespace": "default", "uid": uid},
            "type": "Warning", "reason": "FailedScheduling", "message": "0/1 nodes are available: insufficient memory",
            "count": 1
        }))
        .unwrap();
        events.create(&PostParams::default(), &event).await.unwrap();
        // Wait until the event was reported before the pod becomes ready.
        for _ in 0..200 {
            if !lines.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let status = json!({"status": {"phase": "Running",
            "initContainerStatuses": [terminated("copy-files-to-volume"), terminated("copy-supervisord")],
            "containerStatuses": [{"name": "web-app", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                                   "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}});
        // The old pod is Running too, but excluded.
        pods.patch_status("web-app-old", &PatchParams::default(), &Patch::Merge(&json!({"status": {"phase": "Running",
            "containerStatuses": [{"name": "web-app", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                                   "state": {"running": {}}}]}})))
            .await
            .unwrap();
        pods.patch_status("web-app-1", &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();

        let ready = waiter.await.unwrap().unwrap();
        assert_eq!(ready.name, "web-app-1");
        assert_eq!(ready.uid, uid);
        assert_eq!(
            lines.lock().unwrap().clone(),
            vec!["⚠ FailedScheduling: 0/1 nodes are available: insufficient memory".to_string()]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wait_times_out_with_the_last_state() {
        let sim = odo_sim::Sim::builder().build().unwrap();
        let opts = ConnectOptions {
            timeout: Duration::from_secs(5),
            flavor: Some(Flavor::Kubernetes),
            ..Default::default()
        };
        let conn = finish_connect(
            sim.client(),
            "sim".into(),
            "default".into(),
            ClusterChoice::Sim,
            &opts,
        )
        .await
        .unwrap();
        let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-app-1", "labels": {"component": "web-app"}},
            "spec": {"initContainers": [{"name": "copy-files-to-volume", "image": "i"}],
                     "containers": [{"name": "web-app", "image": "i"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        let err = wait::wait_for_pod(
            &conn,
            "component=web-app",
            "web-app",
            Duration::from_millis(300),
            BTreeSet::new(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("component=web-app"), "{text}");
        assert!(text.contains("web-app-1: "), "{text}");
    }
}

mod push_on_sim {
    //! `push_component` on the in-process simulator, with a stand-in kubelet (a task that starts
    //! one ready pod per Deployment generation, replacing the previous one) and a recording
    //! sync: the apply -> wait -> sync sequence, which pod each push syncs into, and when
    //! everything is resent.

    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use futures::StreamExt;
    use futures::future::BoxFuture;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
    use kube::runtime::{WatchStreamExt, watcher};
    use odo::cli::component::PushArgs;
    use odo::cluster::{ClusterChoice, ConnectOptions, Connection, finish_connect};
    use odo::config::LocalConfigFile;
    use odo::manifests::Flavor;
    use odo::push::{
        BoxError, BuildStep, PendingChanges, SourceSync, SyncReport, SyncRequest, SyncTarget,
        push_component,
    };
    use serde_json::json;

    #[derive(Default)]
    struct Recording {
        calls: Mutex<Vec<(SyncTarget, bool)>>,
    }

    impl SourceSync for Recording {
        fn pending(&self, _: &SyncRequest) -> Result<PendingChanges, BoxError> {
            Ok(PendingChanges::default())
        }
        fn sync<'a>(
            &'a self,
            _: &'a Connection,
            target: &'a SyncTarget,
            request: &'a SyncRequest,
            _build: BuildStep<'a>,
        ) -> BoxFuture<'a, Result<SyncReport, BoxError>> {
            self.calls
                .lock()
                .unwrap()
                .push((target.clone(), request.force));
            Box::pin(async { Ok(SyncReport::default()) })
        }
    }

    /// Starts a ready pod for each new Deployment generation, deleting the older ones.
    async fn kubelet(client: kube::Client) {
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
        let pods: Api<Pod> = Api::namespaced(client, "default");
        let mut stream = watcher(deployments, watcher::Config::default())
            .applied_objects()
            .boxed();
        let mut started = std::collections::BTreeSet::new();
        while let Some(Ok(d)) = stream.next().await {
            let name = d.metadata.name.clone().unwrap();
            let generation = d.metadata.generation.unwrap_or(1);
            if !started.insert((name.clone(), generation)) {
                continue;
            }
            let selector = format!("component={name}");
            for old in pods
                .list(&ListParams::default().labels(&selector))
                .await
                .unwrap()
                .items
            {
                pods.delete(&old.metadata.name.unwrap(), &DeleteParams::default())
                    .await
                    .unwrap();
            }
            let template = d.spec.unwrap().template;
            let pod_name = format!("{name}-{generation}");
            let pod = Pod {
                metadata: kube::api::ObjectMeta {
                    name: Some(pod_name.clone()),
                    labels: template.metadata.and_then(|m| m.labels),
                    ..Default::default()
                },
                spec: template.spec,
                status: None,
            };
            pods.create(&PostParams::default(), &pod).await.unwrap();
            let done = |n: &str| {
                json!({"name": n, "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                                         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}})
            };
            let status = json!({"status": {"phase": "Running",
                "initContainerStatuses": [done("copy-files-to-volume"), done("copy-supervisord")],
                "containerStatuses": [{"name": name, "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                                       "state": {"running": {}}}]}});
            pods.patch_status(&pod_name, &PatchParams::default(), &Patch::Merge(&status))
                .await
                .unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pushes_sync_into_the_current_pod_and_resend_after_a_new_one() {
        let sim = odo_sim::Sim::builder().build().unwrap();
        tokio::spawn(kubelet(sim.client()));
        let opts = ConnectOptions {
            timeout: Duration::from_secs(5),
            flavor: Some(Flavor::Kubernetes),
            ..Default::default()
        };
        let conn = finish_connect(
            sim.client(),
            "sim".into(),
            "default".into(),
            ClusterChoice::Sim,
            &opts,
        )
        .await
        .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let mut file = LocalConfigFile::load(dir.path()).unwrap();
        file.settings_mut().name = Some("web".into());
        file.settings_mut().component_type = Some("java".into());
        file.save().unwrap();
        let sync = Arc::new(Recording::default());
        let timeout = Duration::from_secs(20);
        let args = PushArgs::default();

        push_component(&conn, &file, &args, sync.as_ref(), timeout)
            .await
            .unwrap();
        push_component(&conn, &file, &args, sync.as_ref(), timeout)
            .await
            .unwrap();
        let forced = PushArgs {
            force_build: true,
            ..Default::default()
        };
        push_component(&conn, &file, &forced, sync.as_ref(), timeout)
            .await
            .unwrap();
        // A config change rolls the pod: the next sync goes to the new one.
        file.settings_mut().envs = Some(vec![odo::config::local::EnvVar {
            name: "A".into(),
            value: "1".into(),
        }]);
        file.save().unwrap();
        push_component(&conn, &file, &args, sync.as_ref(), timeout)
            .await
            .unwrap();

        let calls = sync.calls.lock().unwrap().clone();
        let seen: Vec<(&str, bool)> = calls
            .iter()
            .map(|(t, force)| (t.pod.as_str(), *force))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("web-app-1", true),
                ("web-app-1", false),
                ("web-app-1", true),
                ("web-app-2", false)
            ]
        );
        let (target, _) = &calls[0];
        assert_eq!(target.container, "web-app");
        assert_eq!(target.target_dir, "/tmp/src");
        assert_eq!(
            target.mirrors,
            vec![
                "/deployments/src",
                "/opt/app-root/src",
                "/opt/app-root/src-backup/src"
            ]
        );
        assert_ne!(
            calls[3].0.pod_uid, calls[0].0.pod_uid,
            "a new pod has a new uid: the sync resends everything"
        );

        // --config only applies; --source syncs without applying.
        let config_only = PushArgs {
            config: true,
            ..Default::default()
        };
        push_component(&conn, &file, &config_only, sync.as_ref(), timeout)
            .await
            .unwrap();
        let source_only = PushArgs {
            source: true,
            ..Default::default()
        };
        push_component(&conn, &file, &source_only, sync.as_ref(), timeout)
            .await
            .unwrap();
        assert_eq!(sync.calls.lock().unwrap().len(), 5);
    }
}
