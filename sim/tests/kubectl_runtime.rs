//! The real `kubectl` against the real `odo-sim serve` binary (real runtime: containers run
//! in simulated filesystems and shell), with virtual time 100 times the wall clock: the
//! init-container example of the OpenShift core-concepts document (seed 003, kept in
//! `fixtures/openshift/myapp-pod.yaml`), files and env from ConfigMaps and Secrets made by
//! `kubectl create`, read back through `kubectl exec`, the same document's
//! ReplicationController, ReplicaSet and headless Service with a NodePort beside them, and a
//! Deployment's `kubectl set image` followed by `kubectl rollout status`, and node loss
//! injected with `odo-sim fault node-down`.
//!
//! Without `kubectl` on PATH the test is skipped with a notice, unless
//! `ODO_REQUIRE_CLIENTS=1` (set in CI), where it fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long any one expected state may take to show up, in wall time.
const DEADLINE: Duration = Duration::from_secs(20);

/// `Some(())` when kubectl runs; `None` (skip, with a notice) when it does not and clients
/// are not required; a panic when `ODO_REQUIRE_CLIENTS=1`.
fn kubectl_present() -> Option<()> {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(());
    }
    if std::env::var("ODO_REQUIRE_CLIENTS").is_ok_and(|v| v == "1") {
        panic!("ODO_REQUIRE_CLIENTS=1 but `kubectl version --client` does not run");
    }
    eprintln!("kubectl is not on PATH: skipping (set ODO_REQUIRE_CLIENTS=1 to fail instead)");
    None
}

/// A running `odo-sim serve` child process, killed when dropped.
struct Served {
    child: Child,
    kubeconfig: PathBuf,
    cache: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(time_scale: &str) -> Self {
        Self::start_with(time_scale, &[])
    }

    /// `odo-sim serve` with `extra` arguments.
    fn start_with(time_scale: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(env!("CARGO_BIN_EXE_odo-sim"))
            .args(["serve", "--addr", "127.0.0.1:0", "--time-scale", time_scale])
            .args(extra)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn odo-sim serve");
        let out = child.stdout.take().expect("stdout");
        let mut banner = String::new();
        BufReader::new(out)
            .read_line(&mut banner)
            .expect("banner line");
        assert!(banner.contains("serving"), "odo-sim serve said: {banner}");
        Self {
            child,
            kubeconfig,
            cache: dir.path().join("cache"),
            dir,
        }
    }

    /// Runs kubectl; returns (exit ok, stdout, stderr).
    fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        let (ok, out, err) = self.kubectl_raw(args);
        (ok, String::from_utf8_lossy(&out).into_owned(), err)
    }

    /// Runs kubectl; returns (exit ok, stdout as bytes, stderr).
    fn kubectl_raw(&self, args: &[&str]) -> (bool, Vec<u8>, String) {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .output()
            .expect("run kubectl");
        (
            out.status.success(),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs kubectl and requires it to succeed; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.kubectl(args);
        assert!(ok, "kubectl {}: {out}{err}", args.join(" "));
        out
    }

    /// Writes `contents` into the test's directory; returns its path.
    fn file(&self, name: &str, contents: &[u8]) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents).expect("write file");
        p.display().to_string()
    }

    fn apply(&self, file: &Path) {
        let f = file.display().to_string();
        let (ok, out, err) = self.kubectl(&["apply", "-f", &f]);
        assert!(ok, "kubectl apply -f {f}: {out}{err}");
    }

    /// The STATUS column of `kubectl get pod NAME` (the server's Table printing).
    fn status(&self, pod: &str) -> String {
        let (ok, out, err) = self.kubectl(&["get", "pod", pod]);
        assert!(ok, "kubectl get pod {pod}: {err}");
        let mut lines = out.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let row: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let col = header
            .iter()
            .position(|h| *h == "STATUS")
            .unwrap_or_else(|| panic!("no STATUS column in:\n{out}"));
        row.get(col)
            .unwrap_or_else(|| panic!("no row for {pod} in:\n{out}"))
            .to_string()
    }

    fn logs(&self, pod: &str, container: &str) -> String {
        let (ok, out, err) = self.kubectl(&["logs", pod, "-c", container]);
        assert!(ok, "kubectl logs {pod} -c {container}: {err}");
        out
    }

    /// Polls `probe` until it returns Some, or panics with `what` and the last state seen.
    fn wait_for<T>(&self, what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
        let start = Instant::now();
        loop {
            match probe() {
                Ok(v) => return v,
                Err(last) if start.elapsed() > DEADLINE => {
                    panic!("{what}: not within {DEADLINE:?}; last seen: {last}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Waits until `container`'s log shows `line` at least `times` times.
    fn wait_for_log_lines(&self, pod: &str, container: &str, line: &str, times: usize) {
        self.wait_for(&format!("{times} x {line:?} in {container}'s log"), || {
            let log = self.logs(pod, container);
            if log.lines().filter(|l| *l == line).count() >= times {
                Ok(())
            } else {
                Err(log)
            }
        });
    }

    fn wait_for_status(&self, pod: &str, want: &str) {
        self.wait_for(&format!("pod {pod} STATUS {want}"), || {
            let s = self.status(pod);
            if s == want { Ok(()) } else { Err(s) }
        });
    }
}

#[test]
fn the_seed_init_container_pod_waits_for_each_service_then_runs() {
    if kubectl_present().is_none() {
        return;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/openshift");
    // 100x: each `sleep 2` of the init loops takes 20 ms of wall time.
    let served = Served::start("100");
    served.apply(&fixtures.join("myapp-pod.yaml"));

    // No Service yet: the first init container keeps looping and the pod stays Init:0/2.
    served.wait_for_status("myapp-pod", "Init:0/2");
    served.wait_for_log_lines("myapp-pod", "init-myservice", "waiting for myservice", 3);
    assert_eq!(served.status("myapp-pod"), "Init:0/2");
    let log = served.logs("myapp-pod", "init-myservice");
    assert!(
        log.contains("can't find myservice"),
        "nslookup reports the missing name: {log}"
    );

    // The first Service: the first init container's nslookup succeeds, the second loops.
    served.apply(&fixtures.join("myservice.yaml"));
    served.wait_for_status("myapp-pod", "Init:1/2");
    served.wait_for_log_lines("myapp-pod", "init-mydb", "waiting for mydb", 3);
    assert_eq!(served.status("myapp-pod"), "Init:1/2");
    let log = served.logs("myapp-pod", "init-myservice");
    assert!(
        log.contains("Name:\tmyservice.default.svc.cluster.local"),
        "the last nslookup resolved the Service: {log}"
    );

    // The second Service: both init containers have completed and the app runs.
    served.apply(&fixtures.join("mydb.yaml"));
    served.wait_for_status("myapp-pod", "Running");
    served.wait_for_log_lines("myapp-pod", "myapp-container", "The app is running!", 1);
    let (ok, out, err) = served.kubectl(&["logs", "myapp-pod"]);
    assert!(ok, "kubectl logs myapp-pod: {err}");
    assert_eq!(out, "The app is running!\n");
    let (ok, out, err) = served.kubectl(&[
        "get",
        "pod",
        "myapp-pod",
        "-o",
        "jsonpath={range .status.initContainerStatuses[*]}{.name}={.state.terminated.reason}/{.state.terminated.exitCode} {end}",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        "init-myservice=Completed/0 init-mydb=Completed/0"
    );
}

#[test]
fn files_and_env_from_kubectl_created_config_maps_and_secrets_reach_the_container() {
    if kubectl_present().is_none() {
        return;
    }
    let served = Served::start("100");
    // Several lines, a blank one, UTF-8 beyond ASCII, a trailing newline: kubectl sends it
    // as `data`. Bytes that are not UTF-8: kubectl sends them base64 in `binaryData`.
    let props = "# réglages 設定\nname = Zoë\nport = 8080\n\n\tindented = yes\n".as_bytes();
    let blob: Vec<u8> = [0u8, 0xff, 0xfe, 0x80, b'\n', b'\r', b'\n', 0xc3]
        .into_iter()
        .chain((0..=255u8).rev())
        .collect();
    let props_file = served.file("app.properties", props);
    let blob_file = served.file("logo.bin", &blob);
    let env_file = served.file("settings.env", b"LOG_LEVEL=debug\nFEATURE_X=on\n");
    served.ok(&[
        "create",
        "configmap",
        "app-config",
        &format!("--from-file={props_file}"),
        &format!("--from-file={blob_file}"),
        "--from-literal=MODE=dev",
    ]);
    let binary_keys = served.ok(&[
        "get",
        "configmap",
        "app-config",
        "-o",
        "jsonpath={.binaryData}",
    ]);
    assert!(
        binary_keys.contains("logo.bin"),
        "kubectl stored the non-UTF-8 file as binaryData: {binary_keys}"
    );
    served.ok(&[
        "create",
        "configmap",
        "settings",
        &format!("--from-env-file={env_file}"),
    ]);
    served.ok(&[
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=s3 cr=t",
        "--from-literal=user=admin",
    ]);
    let pod = served.file(
        "pod.yaml",
        br#"apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  volumes:
  - name: cfg
    configMap:
      name: app-config
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'echo started && sleep 3600']
    env:
    - name: EARLY
      value: hello $(MODE)
    - name: MODE
      valueFrom:
        configMapKeyRef: {name: app-config, key: MODE}
    - name: GREETING
      value: hello $(MODE) at $(LOG_LEVEL)
    - name: DB_PASSWORD
      valueFrom:
        secretKeyRef: {name: db, key: password}
    envFrom:
    - configMapRef: {name: settings}
    - secretRef: {name: db}
      prefix: DB_
    volumeMounts:
    - name: cfg
      mountPath: /etc/app/app.properties
      subPath: app.properties
    - name: cfg
      mountPath: /srv/logo.bin
      subPath: logo.bin
"#,
    );
    served.apply(Path::new(&pod));
    served.wait_for_status("app", "Running");

    let (ok, out, err) =
        served.kubectl_raw(&["exec", "app", "--", "cat", "/etc/app/app.properties"]);
    assert!(ok, "{err}");
    assert_eq!(out, props, "the subPath file, byte for byte");
    let (ok, out, err) = served.kubectl_raw(&["exec", "app", "--", "cat", "/srv/logo.bin"]);
    assert!(ok, "{err}");
    assert_eq!(out, blob, "the binaryData file, byte for byte");
    let sums = served.ok(&[
        "exec",
        "app",
        "--",
        "md5sum",
        "/etc/app/app.properties",
        "/srv/logo.bin",
    ]);
    let md5 = |b: &[u8]| {
        use md5::{Digest, Md5};
        hex::encode(Md5::digest(b))
    };
    assert_eq!(
        sums,
        format!(
            "{}  /etc/app/app.properties\n{}  /srv/logo.bin\n",
            md5(props),
            md5(&blob)
        )
    );
    assert_eq!(
        served.ok(&["exec", "app", "--", "ls", "/etc/app"]),
        "app.properties\n",
        "subPath mounts the one file, not the volume"
    );
    assert_eq!(
        served.ok(&[
            "exec",
            "app",
            "--",
            "printenv",
            "EARLY",
            "GREETING",
            "MODE",
            "DB_PASSWORD",
            "LOG_LEVEL",
            "FEATURE_X",
            "DB_password",
            "DB_user",
        ]),
        "hello $(MODE)\nhello dev at debug\ndev\ns3 cr=t\ndebug\non\ns3 cr=t\nadmin\n",
        "$(VAR) expands only variables defined before it (envFrom ones first)"
    );
    served.wait_for_log_lines("app", "app", "started", 1);
}

/// The live pods matching `selector`: (name, phase, pod IP), sorted by name; pods being
/// deleted are left out.
fn live_pods(served: &Served, selector: &str) -> Vec<(String, String, String)> {
    let out = served.ok(&[
        "get",
        "pods",
        "-l",
        selector,
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.podIP} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
    ]);
    let mut pods: Vec<(String, String, String)> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // A fourth field is a deletionTimestamp.
            match f.as_slice() {
                [name, phase, ip] => Some((name.to_string(), phase.to_string(), ip.to_string())),
                [name, phase] => Some((name.to_string(), phase.to_string(), String::new())),
                _ => None,
            }
        })
        .collect();
    pods.sort();
    pods
}

impl Served {
    /// Waits until exactly `n` live pods match `selector`, all Running with a pod IP.
    fn wait_for_running(&self, selector: &str, n: usize) -> Vec<(String, String, String)> {
        self.wait_for(&format!("{n} running pods {selector}"), || {
            let pods = live_pods(self, selector);
            if pods.len() == n
                && pods
                    .iter()
                    .all(|(_, ph, ip)| ph == "Running" && !ip.is_empty())
            {
                Ok(pods)
            } else {
                Err(format!("{pods:?}"))
            }
        })
    }

    /// The sorted IPs of `kubectl get endpoints NAME`'s ready addresses.
    fn endpoint_ips(&self, name: &str) -> Vec<String> {
        let out = self.ok(&[
            "get",
            "endpoints",
            name,
            "-o",
            "jsonpath={range .subsets[*].addresses[*]}{.ip}{\"\\n\"}{end}",
        ]);
        let mut ips: Vec<String> = out.lines().map(str::to_string).collect();
        ips.sort();
        ips
    }
}

/// The seed's ReplicationController, ReplicaSet (set-based selector) and headless Service,
/// applied with kubectl as the document writes them: each controller converges and replaces
/// a pod that `kubectl delete pod` removes; the headless Service has no cluster IP and its
/// Endpoints list the selected pods' IPs; a NodePort Service from `kubectl expose` gets a
/// port in 30000-32767 and a second Service asking for that port is refused with 422.
#[test]
fn the_seed_controllers_self_heal_and_services_get_endpoints_and_node_ports() {
    if kubectl_present().is_none() {
        return;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/openshift");
    let served = Served::start("100");
    served.apply(&fixtures.join("frontend-rc.yaml"));
    served.apply(&fixtures.join("frontend-rs.yaml"));
    served.apply(&fixtures.join("frontend-headless.yaml"));

    // The ReplicationController: one pod, replaced when deleted.
    let rc_pods = served.wait_for_running("name=frontend", 1);
    let victim = rc_pods[0].0.clone();
    assert!(victim.starts_with("frontend-1-"), "{victim}");
    assert_eq!(
        served
            .ok(&["delete", "pod", &victim, "--wait=false"])
            .trim(),
        format!("pod \"{victim}\" deleted")
    );
    let healed = served.wait_for(&format!("a pod replacing {victim}"), || {
        let pods = live_pods(&served, "name=frontend");
        match pods.as_slice() {
            [(name, phase, ip)] if *name != victim && phase == "Running" && !ip.is_empty() => {
                Ok(pods.clone())
            }
            _ => Err(format!("{pods:?}")),
        }
    });
    assert_eq!(
        served.ok(&[
            "get",
            "rc",
            "frontend-1",
            "-o",
            "jsonpath={.spec.replicas} {.status.replicas} {.status.readyReplicas}"
        ]),
        "1 1 1"
    );

    // The ReplicaSet with matchLabels and matchExpressions: three pods, one replaced.
    let rs_pods = served.wait_for_running("tier=frontend", 3);
    let set_based = served.ok(&["get", "pods", "-l", "tier in (frontend)", "-o", "name"]);
    assert_eq!(set_based.lines().count(), 3, "{set_based}");
    let victim = rs_pods[1].0.clone();
    served.ok(&["delete", "pod", &victim]);
    let after = served.wait_for_running("tier=frontend", 3);
    assert!(after.iter().all(|(n, _, _)| *n != victim), "{after:?}");
    let kept: Vec<_> = rs_pods.iter().filter(|p| p.0 != victim).collect();
    assert!(
        kept.iter().all(|p| after.contains(p)),
        "only the deleted pod is replaced: {rs_pods:?} -> {after:?}"
    );
    let rs = served.ok(&["get", "rs", "frontend-1"]);
    let row: Vec<&str> = rs
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row.get(..4),
        Some(&["frontend-1", "3", "3", "3"][..]),
        "{rs}"
    );

    // The headless Service: no cluster IP; its Endpoints are the RC's pod IPs, on 8080.
    let svc = served.ok(&["get", "svc", "frontend-headless"]);
    let row: Vec<&str> = svc
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row.get(..5),
        Some(
            &[
                "frontend-headless",
                "ClusterIP",
                "None",
                "<none>",
                "5432/TCP"
            ][..]
        ),
        "{svc}"
    );
    assert_eq!(
        served.endpoint_ips("frontend-headless"),
        vec![healed[0].2.clone()]
    );
    served.ok(&["scale", "rc", "frontend-1", "--replicas=2"]);
    let two = served.wait_for_running("name=frontend", 2);
    let mut want: Vec<String> = two.iter().map(|p| p.2.clone()).collect();
    want.sort();
    served.wait_for("both pod IPs in the headless Service's Endpoints", || {
        let got = served.endpoint_ips("frontend-headless");
        if got == want {
            Ok(())
        } else {
            Err(format!("{got:?}, want {want:?}"))
        }
    });
    assert_eq!(
        served.ok(&[
            "get",
            "endpoints",
            "frontend-headless",
            "-o",
            "jsonpath={.subsets[0].ports[0].port}"
        ]),
        "8080",
        "the targetPort"
    );

    // NodePort: allocated in range; a Service asking for a taken port is refused.
    served.ok(&[
        "expose",
        "rc",
        "frontend-1",
        "--name=frontend-np",
        "--type=NodePort",
        "--port=8080",
    ]);
    let port: u16 = served
        .ok(&[
            "get",
            "svc",
            "frontend-np",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ])
        .trim()
        .parse()
        .expect("a numeric nodePort");
    assert!((30000..=32767).contains(&port), "nodePort {port}");
    let clash = served.file(
        "clash.yaml",
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: clash\nspec:\n  type: NodePort\n  selector: {{name: frontend}}\n  ports:\n  - port: 80\n    targetPort: 8080\n    nodePort: {port}\n"
        )
        .as_bytes(),
    );
    // -v=6 makes kubectl log each request with the status code it got.
    let (ok, out, err) = served.kubectl(&["create", "-f", &clash, "-v=6"]);
    assert!(!ok, "a taken nodePort must be refused: {out}");
    assert!(
        err.contains(&format!(
            "The Service \"clash\" is invalid: spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated"
        )),
        "{err}"
    );
    assert!(err.contains(" 422 Unprocessable Entity"), "{err}");
    let (ok, _, err) = served.kubectl(&["get", "svc", "clash"]);
    assert!(!ok && err.contains("services \"clash\" not found"), "{err}");
}

/// `kubectl set image` on a Deployment, then `kubectl rollout status`: kubectl follows the
/// rolling update (maxSurge 1, maxUnavailable 0, each new pod available after
/// minReadySeconds) and exits 0 once every replica runs the new image; the old ReplicaSet
/// stays at 0 replicas as revision 1 of `kubectl rollout history`.
#[test]
fn rollout_status_follows_set_image_to_completion() {
    if kubectl_present().is_none() {
        return;
    }
    // 10x: a new pod becomes available 1 s of wall time after it is ready, so kubectl sees
    // each step of the rollout.
    let served = Served::start("10");
    let deploy = served.file(
        "web.yaml",
        br#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  minReadySeconds: 10
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox:latest
        command: ['sh', '-c', 'echo serving && sleep 3600']
"#,
    );
    served.apply(Path::new(&deploy));
    let out = served.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    assert_eq!(
        out.lines().last(),
        Some("deployment \"web\" successfully rolled out"),
        "{out}"
    );
    let old = served.wait_for_running("app=web", 3);

    assert_eq!(
        served
            .ok(&["set", "image", "deployment/web", "web=busybox:1.36"])
            .trim(),
        "deployment.apps/web image updated"
    );
    let (ok, out, err) = served.kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    assert!(ok, "rollout status failed: {out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"deployment \"web\" successfully rolled out"),
        "{out}"
    );
    assert!(
        lines.iter().any(
            |l| l.starts_with("Waiting for deployment \"web\" rollout to finish: ")
                && l.contains(" out of 3 new replicas have been updated...")
        ),
        "kubectl saw the rollout in progress: {out}"
    );
    let new = served.wait_for_running("app=web", 3);
    assert!(
        new.iter().all(|p| old.iter().all(|o| o.0 != p.0)),
        "every pod replaced: {old:?} -> {new:?}"
    );
    // The live pods by name: a replaced pod may still be within its grace period (listed,
    // with a deletionTimestamp), as on a real cluster once the rollout reports complete.
    let mut args = vec!["get", "pods"];
    args.extend(new.iter().map(|p| p.0.as_str()));
    args.extend([
        "-o",
        "jsonpath={range .items[*]}{.spec.containers[0].image} {end}",
    ]);
    assert_eq!(served.ok(&args), "busybox:1.36 busybox:1.36 busybox:1.36 ");
    let rs = served.ok(&[
        "get",
        "rs",
        "-l",
        "app=web",
        "-o",
        "jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.replicas} {end}",
    ]);
    let mut revs: Vec<&str> = rs.split_whitespace().collect();
    revs.sort();
    assert_eq!(revs, ["1=0", "2=3"], "{rs}");
    let history = served.ok(&["rollout", "history", "deployment/web"]);
    let rows: Vec<Vec<&str>> = history
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [vec!["1", "<none>"], vec!["2", "<none>"]],
        "{history}"
    );
}

/// Node loss on a served cluster, through `odo-sim fault node-down` and watched with kubectl:
/// the node turns NotReady, then the pods on it are evicted; the ReplicaSet's are recreated on
/// the other node, the bare pod is not. `node-up` lets the evicted pods finish.
#[test]
fn node_down_through_the_cli_recreates_owned_pods_on_the_other_node() {
    if kubectl_present().is_none() {
        return;
    }
    // 200x: the 40 s until NotReady and the 300 s until eviction take 1.7 s of wall time.
    let served = Served::start_with("200", &["--nodes", "2"]);
    let manifests = served.file(
        "workload.yaml",
        br#"apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: openshift/hello-openshift
---
apiVersion: v1
kind: Pod
metadata:
  name: bare
  labels: {app: bare}
spec:
  nodeName: sim-node-1
  containers:
  - name: web
    image: openshift/hello-openshift
"#,
    );
    served.apply(Path::new(&manifests));
    served.wait_for_running("app=web", 4);
    served.wait_for_running("app=bare", 1);
    let on_node = |selector: &str| -> Vec<(String, String)> {
        let out = served.ok(&[
            "get",
            "pods",
            "-l",
            selector,
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
        ]);
        out.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                match f.as_slice() {
                    [name, node] => Some((name.to_string(), node.to_string())),
                    _ => None, // being deleted
                }
            })
            .collect()
    };
    let before = on_node("app=web");
    let lost: Vec<String> = before
        .iter()
        .filter(|(_, n)| n == "sim-node-1")
        .map(|(p, _)| p.clone())
        .collect();
    assert!(!lost.is_empty(), "pods spread over both nodes: {before:?}");

    let fault = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_odo-sim"))
            .arg("fault")
            .arg("--kubeconfig")
            .arg(&served.kubeconfig)
            .args(args)
            .output()
            .expect("run odo-sim fault");
        assert!(
            out.status.success(),
            "odo-sim fault {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    fault(&["node-down", "sim-node-1"]);
    served.wait_for("sim-node-1 NotReady", || {
        let nodes = served.ok(&["get", "nodes", "--no-headers"]);
        let row = nodes.lines().find(|l| l.starts_with("sim-node-1 "));
        match row.map(|r| r.split_whitespace().nth(1)) {
            Some(Some("NotReady")) => Ok(()),
            _ => Err(nodes),
        }
    });
    let after = served.wait_for("the lost node's pods replaced", || {
        let now = on_node("app=web");
        if now.len() == 4 && now.iter().all(|(_, n)| n == "sim-node-2") {
            Ok(now)
        } else {
            Err(format!("{now:?}"))
        }
    });
    assert!(
        after.iter().all(|(p, _)| !lost.contains(p)),
        "new pods, not the lost ones: {after:?}"
    );
    served.wait_for_running("app=web", 4);
    // The bare pod is evicted (Terminating while its node is unreachable), not recreated.
    let bare = served.ok(&[
        "get",
        "pods",
        "-l",
        "app=bare",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
    ]);
    let rows: Vec<Vec<&str>> = bare
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        matches!(rows.as_slice(), [r] if r.len() == 3 && r[0] == "bare" && r[1] == "sim-node-1"),
        "one bare pod, being deleted, still on the lost node: {bare}"
    );
    fault(&["node-up", "sim-node-1"]);
    served.wait_for("the evicted pods gone once the node is back", || {
        let left = served.ok(&["get", "pods", "-o", "name"]);
        let mut names: Vec<&str> = left.lines().collect();
        names.sort();
        let mut want: Vec<String> = after.iter().map(|(p, _)| format!("pod/{p}")).collect();
        want.sort();
        if names == want {
            Ok(())
        } else {
            Err(left.clone())
        }
    });
}

/// `kubectl rollout status` on a Deployment whose pods never turn ready (a readiness probe
/// that always fails): it waits, then fails once the Deployment's progressDeadlineSeconds
/// pass without progress, with kubectl's own message.
#[test]
fn rollout_status_fails_when_the_progress_deadline_passes() {
    if kubectl_present().is_none() {
        return;
    }
    // 100x: the 200 s deadline passes in 2 s of wall time.
    let served = Served::start("100");
    let deploy = served.file(
        "crash.yaml",
        br#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: crash
spec:
  replicas: 2
  progressDeadlineSeconds: 200
  selector:
    matchLabels: {app: crash}
  template:
    metadata:
      labels: {app: crash}
    spec:
      containers:
      - name: c
        image: busybox:1.36
        command: ['sleep', '3600']
        readinessProbe:
          exec: {command: ['false']}
          periodSeconds: 2
"#,
    );
    served.apply(Path::new(&deploy));
    let (ok, out, err) =
        served.kubectl(&["rollout", "status", "deployment/crash", "--timeout=20s"]);
    assert!(!ok, "a stuck rollout is an error: {out}");
    assert!(
        out.contains("Waiting for deployment \"crash\" rollout to finish: 0 of 2 updated replicas are available..."),
        "{out}"
    );
    assert_eq!(
        err.trim(),
        "error: deployment \"crash\" exceeded its progress deadline",
        "{out}"
    );
}

/// `odo-sim serve --strict-images`: an image outside the catalogue fails to pull (ErrImagePull,
/// then ImagePullBackOff, with a Failed event naming the image), while catalogue images run;
/// without the flag the same image runs its command on the busybox base.
#[test]
fn strict_images_fail_to_pull_what_the_catalogue_lacks() {
    if kubectl_present().is_none() {
        return;
    }
    let pod = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: example.com/team/unknown:v1\n    command: [sh, -c, 'echo ran']\n"
        )
    };
    let strict = Served::start_with("10", &["--strict-images"]);
    let f = strict.file("p.yaml", pod("lost").as_bytes());
    strict.ok(&["apply", "-f", &f]);
    strict.wait_for("the pull to fail", || {
        let s = strict.status("lost");
        if s == "ErrImagePull" || s == "ImagePullBackOff" {
            Ok(())
        } else {
            Err(s)
        }
    });
    let events = strict.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=lost",
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ]);
    assert!(
        events
            .lines()
            .any(|l| l.starts_with("Failed: ") && l.contains("example.com/team/unknown:v1")),
        "{events}"
    );
    let known = strict.file(
        "k.yaml",
        pod("known")
            .replace("example.com/team/unknown:v1", "busybox")
            .as_bytes(),
    );
    strict.ok(&["apply", "-f", &known]);
    strict.wait_for_status("known", "Completed");

    let lenient = Served::start("10");
    let f = lenient.file("p.yaml", pod("runs").as_bytes());
    lenient.ok(&["apply", "-f", &f]);
    lenient.wait_for_status("runs", "Completed");
    assert_eq!(lenient.logs("runs", "c"), "ran\n");
}

/// `kubectl rollout pause` / `resume` and `describe pod` as the real kubectl shows them: the
/// pause is Progressing=Unknown/DeploymentPaused; `rollout status` does not mention the pause
/// (it reads the replica counts: a complete rollout is "successfully rolled out", a template
/// change made while paused waits until it times out); after the resume the rollout
/// finishes. A pod with limits only is Guaranteed, its requests defaulted to the limits.
#[test]
fn rollout_pause_resume_and_the_qos_class() {
    if kubectl_present().is_none() {
        return;
    }
    let served = Served::start("10");
    let deploy = served.file(
        "web.yaml",
        br#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox:latest
        command: ['sh', '-c', 'sleep 3600']
        resources:
          limits: {cpu: 200m, memory: 64Mi}
"#,
    );
    served.apply(Path::new(&deploy));
    served.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    let described = served.ok(&["describe", "pod", "-l", "app=web"]);
    assert!(
        described
            .lines()
            .any(|l| l.starts_with("QoS Class:") && l.trim_end().ends_with("Guaranteed")),
        "{described}"
    );
    assert_eq!(
        served.ok(&["rollout", "pause", "deployment/web"]).trim(),
        "deployment.apps/web paused"
    );
    let jsonpath = "jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}";
    let deadline = Instant::now() + Duration::from_secs(10);
    while served.ok(&["get", "deployment/web", "-o", jsonpath]) != "DeploymentPaused" {
        assert!(
            Instant::now() < deadline,
            "the pause never showed in the condition"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = served.ok(&["rollout", "status", "deployment/web", "--timeout=3s"]);
    assert_eq!(out.trim(), "deployment \"web\" successfully rolled out");
    served.ok(&["set", "image", "deployment/web", "web=busybox:1.36"]);
    let (ok, out, err) = served.kubectl(&["rollout", "status", "deployment/web", "--timeout=2s"]);
    assert!(!ok, "a paused rollout does not finish: {out}{err}");
    assert!(
        out.contains("Waiting for deployment \"web\" rollout to finish: 0 out of 2 new replicas have been updated..."),
        "{out}{err}"
    );
    assert_eq!(
        served.ok(&["rollout", "resume", "deployment/web"]).trim(),
        "deployment.apps/web resumed"
    );
    let out = served.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    assert_eq!(
        out.lines().last(),
        Some("deployment \"web\" successfully rolled out"),
        "{out}"
    );
}
