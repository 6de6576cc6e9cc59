//! The real `kubectl` binary against `odo-sim serve` (started in-process on 127.0.0.1:0):
//! discovery, OpenAPI (`explain`, validated `apply`), Table printing, protobuf `create`
//! commands, every patch type, conflicts, deletion with cascades, and `wait`.
//! Each test asserts on kubectl's real output and exit codes. Skipped, with a printed
//! notice, only where `kubectl` is not on PATH (failed instead under `ODO_REQUIRE_CLIENTS=1`).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

struct Cluster {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    _runtime: tokio::runtime::Runtime,
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ok={} stdout:\n{}\nstderr:\n{}",
            self.ok, self.stdout, self.stderr
        )
    }
}

impl Cluster {
    /// Serves a fresh simulator and writes a kubeconfig for it; None when kubectl is missing.
    fn start() -> Option<Self> {
        if !common::kubectl_available() {
            return None;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let sim = odo_sim::Sim::builder().build().expect("sim");
        let dir = tempfile::tempdir().expect("temp dir");
        let bound = runtime
            .block_on(odo_sim::server::bind(
                "127.0.0.1:0".parse().expect("addr"),
                false,
            ))
            .expect("bind");
        let kubeconfig = dir.path().join("kubeconfig");
        odo_sim::server::write_atomic(&kubeconfig, &odo_sim::server::kubeconfig(bound.addr, None))
            .expect("kubeconfig");
        runtime.spawn(odo_sim::server::serve(sim, bound));
        Some(Self {
            dir,
            kubeconfig,
            _runtime: runtime,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, contents: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, contents).expect("write manifest");
        p.display().to_string()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.path("cache"))
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .arg("--cache-dir")
            .arg(self.path("cache"))
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Out {
        let out = self.command(args).output().expect("run kubectl");
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl and requires success.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.ok, "kubectl {args:?} failed: {out}");
        out.stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&all)).expect("kubectl -o json prints JSON")
    }
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: frontend}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{containerPort: 80}]
        env: [{name: MODE, value: one}]
      - name: sidecar
        image: busybox:latest
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: db, tier: cache}
data: {greeting: hello}
";

#[test]
fn discovery_openapi_and_explain() {
    let Some(k) = Cluster::start() else { return };
    let resources = k.ok(&["api-resources"]);
    let line = |name: &str| {
        resources
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert_eq!(line("pods"), "pods po v1 true Pod");
    assert_eq!(
        line("deployments"),
        "deployments deploy apps/v1 true Deployment"
    );
    assert_eq!(line("namespaces"), "namespaces ns v1 false Namespace");
    let versions = k.ok(&["api-versions"]);
    for gv in ["v1", "apps/v1", "batch/v1", "networking.k8s.io/v1"] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing from {versions}"
        );
    }
    let explain = k.ok(&["explain", "pod.spec"]);
    assert!(explain.contains("KIND:       Pod"), "{explain}");
    assert!(explain.contains("FIELD: spec <PodSpec>"), "{explain}");
    assert!(
        explain.contains("containers\t<[]Container> -required-"),
        "{explain}"
    );
    assert!(
        explain.contains("PodSpec is a description of a pod."),
        "{explain}"
    );
    let replicas = k.ok(&["explain", "deployment.spec.replicas"]);
    assert!(replicas.contains("GROUP:      apps"), "{replicas}");
    assert!(replicas.contains("FIELD: replicas <integer>"), "{replicas}");
    // The Swagger 2.0 reader accepts only the protobuf encoding of /openapi/v2.
    let v2 = k.ok(&["explain", "pod.spec", "--output=plaintext-openapiv2"]);
    assert!(v2.contains("RESOURCE: spec <Object>"), "{v2}");
    assert!(v2.contains("containers\t<[]Object> -required-"), "{v2}");
    assert!(v2.contains("PodSpec is a description of a pod."), "{v2}");
    let v2 = k.ok(&[
        "explain",
        "deployment.spec.replicas",
        "--output=plaintext-openapiv2",
    ]);
    assert!(v2.contains("VERSION:  apps/v1"), "{v2}");
    assert!(v2.contains("FIELD:    replicas <integer>"), "{v2}");
    let recursive = k.ok(&[
        "explain",
        "deployment",
        "--recursive",
        "--output=plaintext-openapiv2",
    ]);
    assert!(
        recursive.contains("maxUnavailable\t<string>"),
        "{recursive}"
    );
    // /version, as `kubectl version` reads it.
    let version: Value = serde_json::from_str(&k.ok(&["version", "-o", "json"])).expect("JSON");
    assert_eq!(version["serverVersion"]["major"], "1", "{version}");
    assert!(
        version["serverVersion"]["gitVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1.")),
        "{version}"
    );
    let bad = k.run(&["explain", "pod.spec.nosuchfield"]);
    assert!(!bad.ok);
    assert!(
        bad.stderr.contains("field \"nosuchfield\" does not exist"),
        "{bad}"
    );
}

#[test]
fn create_apply_and_every_get_output() {
    let Some(k) = Cluster::start() else { return };
    let manifest = k.write("app.yaml", DEPLOYMENT);
    let out = k.ok(&["create", "-f", &manifest]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "deployment.apps/web created",
            "service/web created",
            "configmap/settings created"
        ]
    );
    let again = k.run(&["create", "-f", &manifest]);
    assert!(!again.ok);
    assert!(
        again
            .stderr
            .contains("deployments.apps \"web\" already exists"),
        "{again}"
    );

    // Client-side apply over objects created without it, twice, then with a change.
    let out = k.run(&["apply", "-f", &manifest]);
    assert!(out.ok, "{out}");
    assert!(
        out.stdout.contains("deployment.apps/web configured"),
        "{out}"
    );
    let out = k.ok(&["apply", "-f", &manifest]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "deployment.apps/web unchanged",
            "service/web unchanged",
            "configmap/settings unchanged"
        ]
    );
    let changed = k.write("app2.yaml", &DEPLOYMENT.replace("nginx:1.27", "nginx:1.28"));
    let out = k.ok(&["apply", "-f", &changed]);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert!(out.contains("service/web unchanged"), "{out}");
    let dep = k.json(&["get", "deployment", "web"]);
    // The strategic merge patch kept both containers (merged by name) and the env list.
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][1]["name"],
        "sidecar"
    );
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "one"
    );
    let last = dep["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or_default();
    assert!(last.contains("nginx:1.28"), "{last}");

    // Unknown fields: rejected under the default --validate=strict, warned about otherwise.
    let typo = k.write(
        "typo.yaml",
        &DEPLOYMENT.replace(
            "        image: nginx:1.27\n",
            "        image: nginx:1.27\n        imagePullPolicyy: Always\n",
        ),
    );
    let strict = k.run(&["apply", "-f", &typo]);
    assert!(!strict.ok);
    assert!(
        strict.stderr.contains("strict decoding error: unknown field \"spec.template.spec.containers[0].imagePullPolicyy\""),
        "{strict}"
    );
    let warn = k.run(&["apply", "--validate=warn", "--dry-run=server", "-f", &typo]);
    assert!(warn.ok, "{warn}");
    assert!(
        warn.stderr.contains(
            "Warning: unknown field \"spec.template.spec.containers[0].imagePullPolicyy\""
        ),
        "{warn}"
    );

    let out = k.ok(&["apply", "--server-side", "-f", &changed]);
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    let out = k.ok(&["apply", "--dry-run=server", "-f", &manifest]);
    assert!(
        out.contains("deployment.apps/web configured (server dry run)"),
        "{out}"
    );
    assert_eq!(
        k.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}"
        ]),
        "nginx:1.28",
        "a server-side dry run must not persist"
    );

    // Outputs.
    let table = k.ok(&["get", "deployments"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap_or_default()
            .starts_with("web    0/2 "),
        "{table}"
    );
    let wide = k.ok(&["get", "deployments", "-o", "wide"]);
    assert!(
        wide.lines()
            .next()
            .unwrap_or_default()
            .ends_with("CONTAINERS      IMAGES                      SELECTOR"),
        "{wide}"
    );
    assert!(
        wide.contains("nginx,sidecar   nginx:1.28,busybox:latest   app=web"),
        "{wide}"
    );
    let svc = k.ok(&["get", "svc", "web"]);
    assert!(svc.starts_with("NAME   TYPE        CLUSTER-IP"), "{svc}");
    assert!(svc.contains("<none>        80/TCP"), "{svc}");
    let yaml = k.ok(&["get", "cm", "settings", "-o", "yaml"]);
    assert!(
        yaml.contains("greeting: hello") && yaml.contains("kind: ConfigMap"),
        "{yaml}"
    );
    assert_eq!(
        k.json(&["get", "cm", "settings"])["data"]["greeting"],
        "hello"
    );
    assert_eq!(
        k.ok(&["get", "deploy,svc,cm", "-o", "name"])
            .lines()
            .collect::<Vec<_>>(),
        ["deployment.apps/web", "service/web", "configmap/settings"]
    );
    assert_eq!(
        k.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.name}:{.spec.replicas}"
        ]),
        "web:2"
    );
    let cc = k.ok(&["get", "deploy", "-o", "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,IMAGE:.spec.template.spec.containers[0].image"]);
    assert_eq!(
        cc.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>(),
        ["NAME REPLICAS IMAGE", "web 2 nginx:1.28"]
    );

    // Selectors.
    let sel = |args: &[&str]| {
        let mut a = vec!["get", "deploy,svc,cm", "-o", "name"];
        a.extend(args);
        k.ok(&a).lines().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(
        sel(&["-l", "app in (web,db),tier!=cache"]),
        ["deployment.apps/web", "service/web"]
    );
    assert_eq!(
        sel(&["-l", "tier"]),
        ["deployment.apps/web", "configmap/settings"]
    );
    assert_eq!(sel(&["-l", "!tier"]), ["service/web"]);
    assert_eq!(
        k.ok(&[
            "get",
            "cm",
            "--field-selector",
            "metadata.name=settings",
            "-o",
            "name"
        ])
        .trim(),
        "configmap/settings"
    );
    let none = k.run(&["get", "cm", "--field-selector", "metadata.name=nope"]);
    assert!(
        none.ok
            && none
                .stderr
                .contains("No resources found in default namespace."),
        "{none}"
    );

    let all = k.ok(&["get", "all"]);
    assert!(all.contains("service/web"), "{all}");
    assert!(all.contains("deployment.apps/web"), "{all}");

    // A watch prints the current state as a Table row with its event type, then every
    // change: a modification (DATA goes to 2) and the deletion.
    let mut watch = k
        .command(&["get", "cm", "settings", "-w", "--output-watch-events"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl get -w");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rows) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let cols: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            if tx.send(cols).is_err() {
                break;
            }
        }
    });
    let next_row = |what: &str| {
        let row = rows
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("no {what} row from kubectl get -w: {e}"));
        row.into_iter().take(3).collect::<Vec<_>>()
    };
    assert_eq!(next_row("header"), ["EVENT", "NAME", "DATA"]);
    assert_eq!(next_row("ADDED"), ["ADDED", "settings", "1"]);
    k.ok(&[
        "patch",
        "cm",
        "settings",
        "--type=merge",
        "-p",
        r#"{"data":{"second":"2"}}"#,
    ]);
    assert_eq!(next_row("MODIFIED"), ["MODIFIED", "settings", "2"]);
    k.ok(&["delete", "cm", "settings"]);
    assert_eq!(next_row("DELETED"), ["DELETED", "settings", "2"]);
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn label_annotate_scale_patch_and_conflicts() {
    let Some(k) = Cluster::start() else { return };
    let manifest = k.write("app.yaml", DEPLOYMENT);
    k.ok(&["apply", "-f", &manifest]);
    assert_eq!(
        k.ok(&["label", "deploy", "web", "release=stable"]).trim(),
        "deployment.apps/web labeled"
    );
    assert_eq!(
        k.ok(&["annotate", "deploy", "web", "owner=team-a"]).trim(),
        "deployment.apps/web annotated"
    );
    let clash = k.run(&["label", "deploy", "web", "release=canary"]);
    assert!(!clash.ok);
    assert!(
        clash
            .stderr
            .contains("'release' already has a value (stable), and --overwrite is false"),
        "{clash}"
    );
    k.ok(&["label", "deploy", "web", "release-"]);
    assert_eq!(
        k.ok(&["scale", "deploy", "web", "--replicas=5"]).trim(),
        "deployment.apps/web scaled"
    );
    assert_eq!(
        k.ok(&["set", "image", "deploy/web", "sidecar=busybox:1.36"])
            .trim(),
        "deployment.apps/web image updated"
    );
    assert_eq!(
        k.ok(&["patch", "deploy", "web", "--type=json", "-p", r#"[{"op":"replace","path":"/spec/replicas","value":6},{"op":"add","path":"/metadata/labels/j","value":"1"}]"#]).trim(),
        "deployment.apps/web patched"
    );
    k.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"annotations":{"owner":null,"m":"2"}}}"#,
    ]);
    k.ok(&["patch", "deploy", "web", "--type=strategic", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"EXTRA","value":"x"}]}]}}}}"#]);
    let dep = k.json(&["get", "deploy", "web"]);
    let labels = &dep["metadata"]["labels"];
    assert_eq!(labels["j"], "1");
    assert!(labels.get("release").is_none(), "{labels}");
    assert_eq!(dep["metadata"]["annotations"]["m"], "2");
    assert!(dep["metadata"]["annotations"].get("owner").is_none());
    assert_eq!(dep["spec"]["replicas"], 6);
    let containers = &dep["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[1]["image"], "busybox:1.36");
    let env: Vec<&str> = containers[0]["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(
        env,
        ["MODE", "EXTRA"],
        "strategic merge keeps the list merged by name"
    );
    let noop = k.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":6}}"#,
    ]);
    assert_eq!(noop.trim(), "deployment.apps/web patched (no change)");
    let bad = k.run(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/spec/replicas","value":1}]"#,
    ]);
    assert!(!bad.ok, "{bad}");
    // A JSON patch that does not apply gets the real server's bare 422, which kubectl
    // prints as an invalid request; one that is no JSON patch at all is a 400.
    let invalid =
        "The request is invalid: the server rejected our request due to an error in our request";
    assert_eq!(bad.stderr.trim(), invalid, "{bad}");
    for ops in [
        r#"[{"op":"remove","path":"/metadata/labels/nope"}]"#,
        r#"[{"op":"replace","path":"/spec/nope","value":1}]"#,
        r#"[{"op":"add","path":"/spec/template/spec/containers/7","value":{"name":"x"}}]"#,
    ] {
        let o = k.run(&["patch", "deploy", "web", "--type=json", "-p", ops]);
        assert!(!o.ok, "{o}");
        assert_eq!(o.stderr.trim(), invalid, "{ops}: {o}");
    }
    let o = k.run(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"{"op":"remove","path":"/spec/replicas"}"#,
    ]);
    assert!(!o.ok, "{o}");
    assert_eq!(
        o.stderr.trim(),
        "Error from server (BadRequest): json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        "{o}"
    );
    assert_eq!(k.json(&["get", "deploy", "web"])["spec"]["replicas"], 6);

    // replace with a stale resourceVersion.
    let stale = k.ok(&["get", "deploy", "web", "-o", "yaml"]);
    let stale = k.write("stale.yaml", &stale);
    k.ok(&["label", "deploy", "web", "bump=1"]);
    let conflict = k.run(&["replace", "-f", &stale]);
    assert!(!conflict.ok);
    assert!(
        conflict.stderr.contains("Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"),
        "{conflict}"
    );
    // describe, rollout restart, diff.
    let described = k.ok(&["describe", "deploy", "web"]);
    assert!(
        described.contains("Replicas:               6 desired"),
        "{described}"
    );
    assert!(described.contains("Image:      nginx:1.27"), "{described}");
    assert_eq!(
        k.ok(&["rollout", "restart", "deploy/web"]).trim(),
        "deployment.apps/web restarted"
    );
    let restarted = k.json(&["get", "deploy", "web"]);
    assert!(
        restarted["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string(),
        "{restarted}"
    );
    let changed = k.write("diff.yaml", &DEPLOYMENT.replace("nginx:1.27", "nginx:9.9"));
    let diff = k
        .command(&["diff", "-f", &changed])
        .env("KUBECTL_EXTERNAL_DIFF", "diff -u")
        .output()
        .expect("kubectl diff");
    assert_eq!(
        diff.status.code(),
        Some(1),
        "kubectl diff exits 1 when there are differences"
    );
    let diff = String::from_utf8_lossy(&diff.stdout);
    assert!(
        diff.lines().any(|l| l == "+        image: nginx:9.9"),
        "{diff}"
    );

    let fresh = k.write("fresh.yaml", &k.ok(&["get", "deploy", "web", "-o", "yaml"]));
    assert_eq!(
        k.ok(&["replace", "-f", &fresh]).trim(),
        "deployment.apps/web replaced"
    );
}

/// A Deployment named `strat` with `strategy` and one volume `data` of `source`.
fn strategy_deployment(strategy: &str, source: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: strat
spec:
  selector:
    matchLabels: {{app: strat}}
  strategy: {strategy}
  template:
    metadata:
      labels: {{app: strat}}
    spec:
      containers:
      - name: app
        image: busybox:latest
        volumeMounts: [{{name: data, mountPath: /data}}]
      volumes:
      - name: data
        {source}
"
    )
}

#[test]
fn apply_switches_strategy_and_volume_source_with_retain_keys() {
    let Some(k) = Cluster::start() else { return };
    // The server defaults rollingUpdate (25%/25%); the manifest never names it.
    let v1 = k.write(
        "strat-v1.yaml",
        &strategy_deployment("{type: RollingUpdate}", "emptyDir: {}"),
    );
    k.ok(&["apply", "-f", &v1]);
    let dep = k.json(&["get", "deploy", "strat"]);
    assert_eq!(
        dep["spec"]["strategy"]["rollingUpdate"],
        json!({"maxSurge": "25%", "maxUnavailable": "25%"})
    );
    // Without $retainKeys the defaulted rollingUpdate stays, which Recreate forbids.
    let o = k.run(&[
        "patch",
        "deploy",
        "strat",
        "--type=strategic",
        "-p",
        r#"{"spec":{"strategy":{"type":"Recreate"}}}"#,
    ]);
    assert!(!o.ok, "{o}");
    assert_eq!(
        o.stderr.trim(),
        "The Deployment \"strat\" is invalid: spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
        "{o}"
    );
    // kubectl apply reads `retainKeys` from the OpenAPI schema and sends `$retainKeys`,
    // so switching the strategy and the volume's source both work.
    let v2 = k.write(
        "strat-v2.yaml",
        &strategy_deployment("{type: Recreate}", "configMap: {name: settings}"),
    );
    let o = k.run(&["-v=8", "apply", "-f", &v2]);
    assert!(o.ok, "{o}");
    assert!(
        o.stderr
            .contains(r#"\"strategy\":{\"$retainKeys\":[\"type\"]"#),
        "kubectl sent no $retainKeys for the strategy: {}",
        o.stderr
    );
    let dep = k.json(&["get", "deploy", "strat"]);
    assert_eq!(dep["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(
        dep["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "data", "configMap": {"name": "settings", "defaultMode": 420}}])
    );
    // And back: Recreate to RollingUpdate, configMap to emptyDir.
    k.ok(&["apply", "-f", &v1]);
    let dep = k.json(&["get", "deploy", "strat"]);
    assert_eq!(dep["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        dep["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "data", "emptyDir": {}}])
    );

    // What the real server rejects outright.
    let bad = k.write(
        "strat-bad.yaml",
        &strategy_deployment(
            "{type: Recreate, rollingUpdate: {maxSurge: 1}}",
            "emptyDir: {}\n        configMap: {name: settings}",
        ),
    );
    let o = k.run(&["apply", "-f", &bad]);
    assert!(!o.ok, "{o}");
    assert!(
        o.stderr.contains("The Deployment \"strat\" is invalid: "),
        "{o}"
    );
    for cause in [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
        "spec.template.spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type",
    ] {
        assert!(o.stderr.contains(cause), "{cause}: {o}");
    }
}

/// Which managers own `.data.<key>` of ConfigMap `cm`, by managedFields.
fn data_owners(k: &Cluster, cm: &str, key: &str) -> Vec<String> {
    let obj = k.json(&["get", "cm", cm, "--show-managed-fields"]);
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["fieldsV1"]["f:data"].get(format!("f:{key}")).is_some())
        .map(|e| {
            format!(
                "{}/{}",
                e["manager"].as_str().unwrap_or_default(),
                e["operation"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn server_side_apply_conflicts_between_field_managers() {
    let Some(k) = Cluster::start() else { return };
    let cm = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: ssa}}\ndata: {data}\n")
    };
    let alice = k.write("alice.yaml", &cm("{color: red, size: big}"));
    assert_eq!(
        k.ok(&[
            "apply",
            "--server-side",
            "--field-manager=alice",
            "-f",
            &alice
        ])
        .trim(),
        "configmap/ssa serverside-applied"
    );
    // Bob changes a field alice owns: the conflict is printed, nothing changes.
    let bob = k.write("bob.yaml", &cm("{color: blue}"));
    let o = k.run(&["apply", "--server-side", "--field-manager=bob", "-f", &bob]);
    assert!(!o.ok, "{o}");
    assert!(
        o.stderr.starts_with(
            "error: Apply failed with 1 conflict: conflict with \"alice\": .data.color\nPlease review the fields above--they currently have other managers."
        ),
        "{o}"
    );
    assert!(o.stderr.contains("--force-conflicts"), "{o}");
    assert_eq!(
        k.ok(&["get", "cm", "ssa", "-o", "jsonpath={.data.color}"]),
        "red"
    );
    // Agreeing on a value is no conflict: both own it.
    let same = k.write("same.yaml", &cm("{size: big}"));
    k.ok(&["apply", "--server-side", "--field-manager=bob", "-f", &same]);
    assert_eq!(data_owners(&k, "ssa", "size"), ["alice/Apply", "bob/Apply"]);
    // --force-conflicts: bob wins and becomes the only owner of the field.
    let o = k.run(&[
        "apply",
        "--server-side",
        "--field-manager=bob",
        "--force-conflicts",
        "-f",
        &bob,
    ]);
    assert!(o.ok, "{o}");
    assert_eq!(o.stdout.trim(), "configmap/ssa serverside-applied");
    assert_eq!(
        k.ok(&["get", "cm", "ssa", "-o", "jsonpath={.data.color}"]),
        "blue"
    );
    assert_eq!(data_owners(&k, "ssa", "color"), ["bob/Apply"]);
    // bob's new configuration left size out: alice still owns it, so it stays.
    assert_eq!(data_owners(&k, "ssa", "size"), ["alice/Apply"]);
    assert_eq!(
        k.ok(&["get", "cm", "ssa", "-o", "jsonpath={.data.size}"]),
        "big"
    );
    // An update (kubectl patch) takes the field over from the applier.
    k.ok(&[
        "patch",
        "cm",
        "ssa",
        "--field-manager=carol",
        "--type=merge",
        "-p",
        r#"{"data":{"color":"green"}}"#,
    ]);
    assert_eq!(data_owners(&k, "ssa", "color"), ["carol/Update"]);
    let o = k.run(&["apply", "--server-side", "--field-manager=bob", "-f", &bob]);
    assert!(
        o.stderr.starts_with(
            "error: Apply failed with 1 conflict: conflict with \"carol\" using v1: .data.color\n"
        ),
        "{o}"
    );
}

#[test]
fn typed_create_commands_send_protobuf() {
    let Some(k) = Cluster::start() else { return };
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "create",
                "configmap",
                "cfg",
                "--from-literal=a=1",
                "--from-literal=b=two words",
            ],
            "configmap/cfg created",
        ),
        (
            &[
                "create",
                "secret",
                "generic",
                "pw",
                "--from-literal=password=hunter2",
            ],
            "secret/pw created",
        ),
        (
            &[
                "create",
                "deployment",
                "api",
                "--image=nginx:1.27",
                "--replicas=3",
                "--port=8080",
                "--",
                "nginx",
                "-g",
                "daemon off;",
            ],
            "deployment.apps/api created",
        ),
        (&["create", "namespace", "dev"], "namespace/dev created"),
        (
            &["create", "service", "nodeport", "api", "--tcp=80:8080"],
            "service/api created",
        ),
        (
            &[
                "create",
                "job",
                "once",
                "--image=busybox",
                "--",
                "echo",
                "hi",
            ],
            "job.batch/once created",
        ),
        (
            &["create", "ingress", "site", "--rule=example.com/*=api:80"],
            "ingress.networking.k8s.io/site created",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(k.ok(args).trim(), *want, "kubectl {args:?}");
    }
    assert_eq!(
        k.ok(&["get", "cm", "cfg", "-o", "jsonpath={.data.b}"]),
        "two words"
    );
    assert_eq!(
        k.ok(&["get", "secret", "pw", "-o", "jsonpath={.data.password}"]),
        "aHVudGVyMg=="
    );
    let api = k.json(&["get", "deploy", "api"]);
    assert_eq!(api["spec"]["replicas"], 3);
    assert_eq!(api["spec"]["selector"]["matchLabels"]["app"], "api");
    let c = &api["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["command"],
        serde_json::json!(["nginx", "-g", "daemon off;"])
    );
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    assert_eq!(
        k.ok(&["get", "ns", "dev", "-o", "jsonpath={.status.phase}"]),
        "Active"
    );
    let svc = k.json(&["get", "svc", "api"]);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(svc["spec"]["type"], "NodePort");
    let ing = k.json(&["get", "ingress", "site"]);
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "api"
    );
    let table = k.ok(&["get", "cm,secret"]);
    assert!(table.contains("configmap/cfg   2 "), "{table}");
    assert!(table.contains("secret/pw   Opaque   1 "), "{table}");
}

#[test]
fn delete_cascades_and_wait() {
    let Some(k) = Cluster::start() else { return };
    let manifest = k.write("app.yaml", DEPLOYMENT);
    k.ok(&["apply", "-f", &manifest]);
    let uid = k.ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.uid}"]);
    let rs = |name: &str, uid: &str| {
        format!(
            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: {uid}, controller: true, blockOwnerDeletion: true}}]\nspec:\n  replicas: 0\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: c, image: busybox}}]}}\n"
        )
    };
    let rs_file = k.write("rs.yaml", &rs("web-1", &uid));
    k.ok(&["create", "-f", &rs_file]);

    // Orphan: the ReplicaSet stays, without its owner reference.
    assert_eq!(
        k.ok(&["delete", "deploy", "web", "--cascade=orphan"])
            .trim(),
        "deployment.apps \"web\" deleted"
    );
    let orphan = k.json(&["get", "rs", "web-1"]);
    assert!(
        orphan["metadata"].get("ownerReferences").is_none(),
        "{orphan}"
    );

    // Foreground: kubectl asks for it, so the owner waits (deletionTimestamp and the
    // foregroundDeletion finalizer) while a dependent, held by its own finalizer, is deleted
    // first; `--wait` returns only once the owner is gone.
    k.ok(&["apply", "-f", &manifest]);
    let uid = k.ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.uid}"]);
    let rs2 = k.write(
        "rs2.yaml",
        &rs("web-2", &uid).replace(
            "  ownerReferences:",
            "  finalizers: [example.com/hold]\n  ownerReferences:",
        ),
    );
    k.ok(&["create", "-f", &rs2]);
    let mut waiter = k
        .command(&[
            "delete",
            "deploy",
            "web",
            "--cascade=foreground",
            "--wait",
            "--timeout=20s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn kubectl delete --wait");
    let held = (0..100)
        .find_map(|_| {
            let d = k.json(&["get", "deploy", "web"]);
            if d["metadata"]["deletionTimestamp"].is_string() {
                return Some(d);
            }
            std::thread::sleep(Duration::from_millis(50));
            None
        })
        .expect("the Deployment is being deleted");
    assert_eq!(
        held["metadata"]["finalizers"],
        json!(["foregroundDeletion"]),
        "{held}"
    );
    let dependent = k.json(&["get", "rs", "web-2"]);
    assert!(
        dependent["metadata"]["deletionTimestamp"].is_string(),
        "{dependent}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        waiter.try_wait().expect("kubectl delete").is_none(),
        "delete --wait returned while the owner still exists"
    );
    k.ok(&[
        "patch",
        "rs",
        "web-2",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ]);
    let out = waiter.wait_with_output().expect("kubectl delete --wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "deployment.apps \"web\" deleted"
    );
    assert!(!k.run(&["get", "deploy", "web"]).ok);
    let gone = k.run(&["get", "rs", "web-2"]);
    assert!(
        !gone.ok && gone.stderr.contains("replicasets.apps \"web-2\" not found"),
        "{gone}"
    );
    assert_eq!(
        k.ok(&["get", "rs", "-o", "name"]).trim(),
        "replicaset.apps/web-1"
    );

    // wait --for=delete returns once another client deletes the object.
    k.ok(&["create", "configmap", "doomed"]);
    let waiter = k
        .command(&["wait", "--for=delete", "configmap/doomed", "--timeout=20s"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn kubectl wait");
    std::thread::sleep(Duration::from_millis(300));
    k.ok(&["delete", "configmap", "doomed"]);
    let waited = waiter.wait_with_output().expect("kubectl wait");
    assert!(waited.status.success());
    assert_eq!(
        String::from_utf8_lossy(&waited.stdout).trim(),
        "configmap/doomed condition met"
    );

    // wait --for=jsonpath and --for=condition.
    k.ok(&["create", "deployment", "api", "--image=nginx"]);
    let waiter = k
        .command(&[
            "wait",
            "--for=jsonpath={.spec.replicas}=4",
            "deploy/api",
            "--timeout=20s",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn kubectl wait");
    std::thread::sleep(Duration::from_millis(300));
    k.ok(&["scale", "deploy", "api", "--replicas=4"]);
    let waited = waiter.wait_with_output().expect("kubectl wait");
    assert_eq!(
        String::from_utf8_lossy(&waited.stdout).trim(),
        "deployment.apps/api condition met"
    );
    k.ok(&["patch", "deploy", "api", "--subresource=status", "--type=merge", "-p", r#"{"status":{"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"}]}}"#]);
    assert_eq!(
        k.ok(&[
            "wait",
            "--for=condition=Available",
            "deploy/api",
            "--timeout=5s"
        ])
        .trim(),
        "deployment.apps/api condition met"
    );
    let timeout = k.run(&[
        "wait",
        "--for=condition=Progressing",
        "deploy/api",
        "--timeout=1s",
    ]);
    assert!(!timeout.ok);
    assert!(
        timeout
            .stderr
            .contains("timed out waiting for the condition on deployments/api"),
        "{timeout}"
    );

    // delete of a missing object; --ignore-not-found.
    let missing = k.run(&["delete", "cm", "nope"]);
    assert!(
        !missing.ok && missing.stderr.contains("configmaps \"nope\" not found"),
        "{missing}"
    );
    k.ok(&["delete", "cm", "nope", "--ignore-not-found"]);
}

/// `kubectl get pods` against pods whose status was written as a kubelet writes it.
#[test]
fn get_pods_prints_each_state() {
    let Some(k) = Cluster::start() else { return };
    let pods = [
        (
            "init-running",
            true,
            r#"{"phase":"Pending","initContainerStatuses":[{"name":"i1","image":"busybox","ready":false,"restartCount":0,"state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}},{"name":"i2","image":"busybox","ready":false,"restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}],"containerStatuses":[{"name":"app","image":"busybox","ready":false,"restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}]}"#,
        ),
        (
            "init-failed",
            true,
            r#"{"phase":"Failed","initContainerStatuses":[{"name":"i1","image":"busybox","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":1,"reason":"Error"}}}],"containerStatuses":[{"name":"app","image":"busybox","ready":false,"restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}]}"#,
        ),
        (
            "crashing",
            false,
            r#"{"phase":"Running","containerStatuses":[{"name":"app","image":"busybox","ready":false,"restartCount":5,"state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"exitCode":1,"reason":"Error","finishedAt":"2025-12-31T23:58:00Z"}}}]}"#,
        ),
        (
            "completed",
            false,
            r#"{"phase":"Succeeded","containerStatuses":[{"name":"app","image":"busybox","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}"#,
        ),
        (
            "running",
            false,
            r#"{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],"podIP":"10.244.0.9","podIPs":[{"ip":"10.244.0.9"}],"containerStatuses":[{"name":"app","image":"busybox","ready":true,"restartCount":0,"started":true,"state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]}"#,
        ),
        (
            // Running and ready, then deleted while a finalizer holds it.
            "terminating",
            false,
            r#"{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[{"name":"app","image":"busybox","ready":true,"restartCount":0,"started":true,"state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]}"#,
        ),
    ];
    for (name, inits, status) in pods {
        let init = if inits {
            "  initContainers: [{name: i1, image: busybox}, {name: i2, image: busybox}]\n"
        } else {
            ""
        };
        let finalizers = if name == "terminating" {
            ", finalizers: [example.com/hold]"
        } else {
            ""
        };
        let file = k.write(
            &format!("{name}.yaml"),
            &format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}{finalizers}}}\nspec:\n  nodeName: sim-node-1\n{init}  containers: [{{name: app, image: busybox}}]\n"),
        );
        k.ok(&["create", "-f", &file]);
        let patch = format!("{{\"status\":{status}}}");
        k.ok(&[
            "patch",
            "pod",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch,
        ]);
    }
    assert_eq!(
        k.ok(&["delete", "pod", "terminating", "--wait=false"])
            .trim(),
        "pod \"terminating\" deleted"
    );
    let held = k.json(&["get", "pod", "terminating"]);
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
    let out = k.ok(&["get", "pods"]);
    insta::assert_snapshot!("kubectl_get_pods", out);
    let wide = k.ok(&["get", "pod", "running", "-o", "wide"]);
    let row: Vec<&str> = wide
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        [
            "running",
            "1/1",
            "Running",
            "0",
            "0s",
            "10.244.0.9",
            "sim-node-1",
            "<none>",
            "<none>"
        ]
    );
    let labels = k.ok(&["get", "pod", "running", "--show-labels"]);
    assert!(
        labels
            .lines()
            .next()
            .unwrap_or_default()
            .ends_with("LABELS"),
        "{labels}"
    );
    // Field selectors on what the pods' status and spec say.
    let names = |sel: &str| {
        k.ok(&["get", "pods", "--field-selector", sel, "-o", "name"])
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names("status.phase=Running"),
        ["pod/crashing", "pod/running", "pod/terminating"]
    );
    assert_eq!(
        names("status.phase!=Running,spec.nodeName=sim-node-1"),
        ["pod/completed", "pod/init-failed", "pod/init-running"]
    );
    let bad = k.run(&["get", "pods", "--field-selector", "spec.image=busybox"]);
    assert!(
        !bad.ok && bad.stderr.contains("field label not supported: spec.image"),
        "{bad}"
    );
    let all_ns = k.ok(&["get", "pods", "-A"]);
    assert!(all_ns.starts_with("NAMESPACE   NAME "), "{all_ns}");
    assert!(all_ns.contains("default     completed "), "{all_ns}");
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color, priority: 1}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type==\"Ready\")].status'}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
          spec:
            type: object
            description: What the widget should be.
            properties:
              size: {type: integer, description: How big the widget is.}
              color: {type: string}
";

#[test]
fn custom_resources_apply_explain_and_validate() {
    let Some(k) = Cluster::start() else { return };
    let crd = k.write("crd.yaml", CRD);
    assert_eq!(
        k.ok(&["apply", "-f", &crd]).trim(),
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created"
    );
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3, color: red}\n";
    let w = k.write("w.yaml", widget);
    assert_eq!(
        k.ok(&["apply", "-f", &w]).trim(),
        "widget.example.com/w1 created"
    );
    assert_eq!(
        k.ok(&["apply", "-f", &w]).trim(),
        "widget.example.com/w1 unchanged"
    );
    let w2 = k.write("w2.yaml", &widget.replace("red", "blue"));
    assert_eq!(
        k.ok(&["apply", "-f", &w2]).trim(),
        "widget.example.com/w1 configured"
    );
    assert_eq!(
        k.ok(&["get", "wd", "w1", "-o", "jsonpath={.spec.color}"]),
        "blue"
    );
    let explain = k.ok(&["explain", "widget.spec"]);
    assert!(explain.contains("What the widget should be."), "{explain}");
    let v2 = k.ok(&["explain", "widget.spec", "--output=plaintext-openapiv2"]);
    assert!(
        v2.contains("size\t<integer>") && v2.contains("How big the widget is."),
        "{v2}"
    );
    assert!(
        explain.contains("size\t<integer>") && explain.contains("How big the widget is."),
        "{explain}"
    );
    let typo = k.write("typo.yaml", &widget.replace("color", "colour"));
    let strict = k.run(&["apply", "-f", &typo]);
    assert!(!strict.ok);
    assert!(
        strict
            .stderr
            .contains("strict decoding error: unknown field \"spec.colour\""),
        "{strict}"
    );
    // The CRD's printer columns, with a JSONPath filter and a status written through /status.
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let table = k.ok(&["get", "widgets"]);
    assert_eq!(
        table.lines().map(words).collect::<Vec<_>>(),
        [
            words("NAME SIZE READY AGE"),
            // No status yet: the READY cell is empty.
            words("w1 3 0s"),
        ]
    );
    k.ok(&[
        "patch",
        "wd",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
    ]);
    let wide = k.ok(&["get", "widgets", "-o", "wide"]);
    assert_eq!(
        wide.lines().map(words).collect::<Vec<_>>(),
        [
            words("NAME SIZE COLOR READY AGE"),
            words("w1 3 blue True 0s"),
        ]
    );
    assert_eq!(
        k.ok(&["delete", "wd", "w1"]).trim(),
        "widget.example.com \"w1\" deleted"
    );
}
