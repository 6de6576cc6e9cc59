//! The real `kubectl` against the real `odo-sim serve` binary (real runtime: containers run
//! in simulated filesystems and shell), with virtual time 100 times the wall clock: the
//! init-container example of the OpenShift core-concepts document (seed 003, kept in
//! `fixtures/openshift/myapp-pod.yaml`), and files and env from ConfigMaps and Secrets made
//! by `kubectl create`, read back through `kubectl exec`.
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
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(env!("CARGO_BIN_EXE_odo-sim"))
            .args(["serve", "--addr", "127.0.0.1:0", "--time-scale", time_scale])
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
