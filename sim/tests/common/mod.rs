//! Test support: the simulator reached in-process and over loopback HTTP, so every API test
//! runs against both ways in.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::Path;

use odo_sim::Sim;

/// How a test reaches the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `Sim::client()`: a tower service, no socket.
    InProcess,
    /// `odo-sim serve`'s server on 127.0.0.1:0 and a client built from its kubeconfig.
    Http,
}

/// Both modes.
pub const MODES: [Mode; 2] = [Mode::InProcess, Mode::Http];

/// A simulator and a client for it; dropping it stops the server.
pub struct Harness {
    pub sim: Sim,
    pub client: kube::Client,
    pub dir: tempfile::TempDir,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
        }
    }
}

/// A kube client from a kubeconfig file.
pub async fn client_from_kubeconfig(path: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(path).expect("kubeconfig readable");
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("kubeconfig valid");
    kube::Client::try_from(config).expect("client")
}

/// Serves `sim` on a free loopback port and writes its kubeconfig into `dir`.
pub async fn serve(
    sim: &Sim,
    dir: &Path,
    token: Option<&str>,
) -> (
    std::path::PathBuf,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let bound = odo_sim::server::bind("127.0.0.1:0".parse().expect("addr"), false)
        .await
        .expect("bind");
    let path = dir.join("kubeconfig");
    odo_sim::server::write_atomic(&path, &odo_sim::server::kubeconfig(bound.addr, token))
        .expect("kubeconfig");
    let handle = tokio::spawn(odo_sim::server::serve(sim.clone(), bound));
    (path, handle)
}

/// A fresh simulator reached in `mode`.
pub async fn harness(mode: Mode) -> Harness {
    harness_with(mode, Sim::builder().seed(42)).await
}

/// A simulator built by `builder`, reached in `mode`.
pub async fn harness_with(mode: Mode, builder: odo_sim::SimBuilder) -> Harness {
    let sim = builder.build().expect("sim builds");
    let dir = tempfile::tempdir().expect("tempdir");
    match mode {
        Mode::InProcess => Harness {
            client: sim.client(),
            sim,
            dir,
            server: None,
        },
        Mode::Http => {
            let (kc, server) = serve(&sim, dir.path(), None).await;
            let client = client_from_kubeconfig(&kc).await;
            Harness {
                client,
                sim,
                dir,
                server: Some(server),
            }
        }
    }
}

/// The `kube::Error::Api` response of a failed call, or a panic naming what happened instead.
pub fn api_err<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> kube::core::Status {
    match r {
        Err(kube::Error::Api(e)) => *e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Whether the external client that `probe` runs (e.g. `kubectl version --client`) works here.
/// When it does not: a failed test if `ODO_REQUIRE_CLIENTS=1` (CI installs every client),
/// otherwise `false` with a printed notice, so the caller skips.
pub fn client_available(name: &str, probe: &mut std::process::Command) -> bool {
    let outcome = match probe.output() {
        Ok(o) if o.status.success() => return true,
        Ok(o) => format!(
            "{probe:?} exited with {}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("{probe:?} could not run: {e}"),
    };
    let required = std::env::var("ODO_REQUIRE_CLIENTS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{name} is required (ODO_REQUIRE_CLIENTS=1) but unavailable: {outcome}"
    );
    eprintln!(
        "{name} is unavailable, skipping its checks ({outcome}); set ODO_REQUIRE_CLIENTS=1 to fail instead"
    );
    false
}

/// Whether the real `kubectl` runs here (see [`client_available`]).
pub fn kubectl_available() -> bool {
    client_available(
        "kubectl",
        std::process::Command::new("kubectl").args(["version", "--client"]),
    )
}

/// Runs the real `kubectl` with `kc` as its kubeconfig and `cache` as its discovery cache:
/// (succeeded, stdout, stderr).
pub fn kubectl(kc: &Path, cache: &Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new("kubectl")
        .env("KUBECONFIG", kc)
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .output()
        .expect("run kubectl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
