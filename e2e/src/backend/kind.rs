//! [`KindBackend`]: scenarios on a kind cluster, driven through the `kind` and `docker`
//! binaries with `std::process::Command`.
//!
//! The cluster is created with `kind create cluster --name <n> --config ci/kind-config.yaml
//! --wait 120s` (or reused when `KIND_CLUSTER` names one), the client comes from `kind get
//! kubeconfig --name <n>`, images are loaded with `kind load docker-image <img> --name <n>`,
//! and the cluster is deleted with `kind delete cluster --name <n>` when the backend is
//! dropped (never when reused). Every command is logged; a failed one keeps its stderr in the
//! error, a missing binary names what to install. The argument lists are built by pure
//! functions, tested below.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

pub use super::command::{CommandError, run_command};
use super::command::{render, run_blocking};
use super::{
    Backend, BackendError, BoxFut, Capabilities, Capability, Fault, Injected, Unsupported,
};

/// Names an existing kind cluster to reuse (it is then neither created nor deleted).
pub const CLUSTER_ENV: &str = "KIND_CLUSTER";
/// Overrides the kind node image (`kind create cluster --image`), e.g. `kindest/node:v1.34.0`.
pub const NODE_IMAGE_ENV: &str = "KIND_NODE_IMAGE";
/// Overrides the kind config file (default `ci/kind-config.yaml` in the workspace).
pub const CONFIG_ENV: &str = "ODO_E2E_KIND_CONFIG";
/// Overrides the `kind` executable.
pub const KIND_BIN_ENV: &str = "ODO_E2E_KIND_BIN";
/// Overrides the `docker` executable.
pub const DOCKER_BIN_ENV: &str = "ODO_E2E_DOCKER_BIN";
/// `0` when the images are already loaded into the nodes (ci/kind-e2e.sh loads them).
pub const LOAD_ENV: &str = "ODO_E2E_KIND_LOAD";

/// How to reach and name the kind cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSettings {
    /// Cluster name.
    pub name: String,
    /// Reuse an existing cluster (do not create nor delete it).
    pub reuse: bool,
    /// The kind config file.
    pub config: PathBuf,
    /// How long `kind create cluster` waits for the control plane.
    pub wait: String,
    /// Node image, when not kind's default.
    pub node_image: Option<String>,
    /// The `kind` executable.
    pub kind: PathBuf,
    /// The `docker` executable.
    pub docker: PathBuf,
    /// Extra environment for every command (`PATH`, `DOCKER_HOST`, ...); a `PATH` here is
    /// also where `kind` and `docker` are looked up.
    pub env: Vec<(OsString, OsString)>,
    /// Load the scenarios' images into the nodes (`kind load docker-image`).
    pub load_images: bool,
    /// The backend's name in logs and the trace directory (`kind`; tests use another so that
    /// their traces are not taken for a real cluster's).
    pub label: String,
}

impl KindSettings {
    /// Settings from the environment: `KIND_CLUSTER` (reuse), `KIND_NODE_IMAGE`,
    /// `ODO_E2E_KIND_CONFIG`, `ODO_E2E_KIND_BIN`, `ODO_E2E_DOCKER_BIN`.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let (name, reuse) = match var(CLUSTER_ENV) {
            Some(name) => (name, true),
            None => (format!("odo-e2e-{}", std::process::id()), false),
        };
        Self {
            name,
            reuse,
            config: var(CONFIG_ENV)
                .map(PathBuf::from)
                .unwrap_or_else(|| crate::workspace_root().join("ci/kind-config.yaml")),
            wait: "120s".into(),
            node_image: var(NODE_IMAGE_ENV),
            kind: var(KIND_BIN_ENV).map_or_else(|| "kind".into(), PathBuf::from),
            docker: var(DOCKER_BIN_ENV).map_or_else(|| "docker".into(), PathBuf::from),
            env: Vec::new(),
            load_images: var(LOAD_ENV).is_none_or(|v| v != "0"),
            label: "kind".into(),
        }
    }
}

/// `kind create cluster --name <n> --config <file> --wait 120s [--image <img>]`.
pub fn create_args(s: &KindSettings) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "create".into(),
        "cluster".into(),
        "--name".into(),
        s.name.clone().into(),
        "--config".into(),
        s.config.clone().into(),
        "--wait".into(),
        s.wait.clone().into(),
    ];
    if let Some(img) = &s.node_image {
        args.push("--image".into());
        args.push(img.into());
    }
    args
}

/// `kind get kubeconfig --name <n>`.
pub fn kubeconfig_args(s: &KindSettings) -> Vec<OsString> {
    ["get", "kubeconfig", "--name", &s.name]
        .into_iter()
        .map(OsString::from)
        .collect()
}

/// `kind load docker-image <image> --name <n>`.
pub fn load_image_args(s: &KindSettings, image: &str) -> Vec<OsString> {
    ["load", "docker-image", image, "--name", &s.name]
        .into_iter()
        .map(OsString::from)
        .collect()
}

/// `kind delete cluster --name <n>`.
pub fn delete_args(s: &KindSettings) -> Vec<OsString> {
    ["delete", "cluster", "--name", &s.name]
        .into_iter()
        .map(OsString::from)
        .collect()
}

/// `docker image inspect --format {{.Id}} <image>` (is the image in the local engine?).
pub fn image_inspect_args(image: &str) -> Vec<OsString> {
    ["image", "inspect", "--format", "{{.Id}}", image]
        .into_iter()
        .map(OsString::from)
        .collect()
}

/// `docker stop <node>` / `docker start <node>`: kind nodes are containers named like the node.
pub fn node_args(node: &str, up: bool) -> Vec<OsString> {
    [if up { "start" } else { "stop" }, node]
        .into_iter()
        .map(OsString::from)
        .collect()
}

/// A kind cluster as a backend.
pub struct KindBackend {
    settings: KindSettings,
    kubeconfig: String,
    client: kube::Client,
    caps: Capabilities,
    created: bool,
    loaded: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for KindBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindBackend")
            .field("settings", &self.settings)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl KindBackend {
    /// Creates (or reuses) the cluster and connects to it.
    pub async fn start(settings: KindSettings) -> Result<Self, BackendError> {
        let mut created = false;
        if !settings.reuse {
            run_blocking(
                settings.kind.clone(),
                create_args(&settings),
                settings.env.clone(),
            )
            .await?;
            created = true;
        }
        let connected = Self::connect(&settings).await;
        match connected {
            Ok((kubeconfig, client)) => Ok(Self {
                settings,
                kubeconfig,
                client,
                caps: Capabilities::all().without(Capability::Odo),
                created,
                loaded: Mutex::new(BTreeSet::new()),
            }),
            Err(e) => {
                if created {
                    let _ = run_command(&settings.kind, &delete_args(&settings), &settings.env);
                }
                Err(e)
            }
        }
    }

    async fn connect(settings: &KindSettings) -> Result<(String, kube::Client), BackendError> {
        let text = run_blocking(
            settings.kind.clone(),
            kubeconfig_args(settings),
            settings.env.clone(),
        )
        .await?;
        let source_name = format!("from `kind get kubeconfig --name {}`", settings.name);
        let client = super::kubeconfig::client_from_yaml(&text, &source_name).await?;
        Ok((text, client))
    }

    /// The kubeconfig text of the cluster (for kubectl or the odo CLI).
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// The settings in use.
    pub fn settings(&self) -> &KindSettings {
        &self.settings
    }

    /// Deletes the cluster now (unless reused), reporting a failure.
    pub fn delete(mut self) -> Result<(), CommandError> {
        let result = if self.created {
            run_command(
                &self.settings.kind,
                &delete_args(&self.settings),
                &self.settings.env,
            )
            .map(drop)
        } else {
            Ok(())
        };
        self.created = false;
        result
    }

    fn unsupported(&self, fault: &Fault, reason: &str) -> Unsupported {
        Unsupported {
            backend: self.settings.label.clone(),
            fault: fault.to_string(),
            reason: reason.into(),
        }
    }
}

impl Drop for KindBackend {
    fn drop(&mut self) {
        if self.created {
            if let Err(e) = run_command(
                &self.settings.kind,
                &delete_args(&self.settings),
                &self.settings.env,
            ) {
                eprintln!(
                    "[e2e] could not delete kind cluster {}: {e}",
                    self.settings.name
                );
            }
            self.created = false;
        }
    }
}

impl Backend for KindBackend {
    #[expect(
        clippy::misnamed_getters,
        reason = "the backend's name is its label, not the cluster's name"
    )]
    fn name(&self) -> &str {
        &self.settings.label
    }

    fn describe(&self) -> String {
        format!(
            "kind cluster {} ({}; keep it with {CLUSTER_ENV}={} to inspect)",
            self.settings.name,
            if self.settings.reuse {
                "reused"
            } else {
                "created for this run"
            },
            self.settings.name
        )
    }

    fn client(&self) -> kube::Client {
        self.client.clone()
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn wait(&self, d: Duration) -> BoxFut<'_, ()> {
        Box::pin(tokio::time::sleep(d))
    }

    fn quiet(&self) -> Duration {
        Duration::from_millis(300)
    }

    fn inject<'a>(&'a self, fault: &'a Fault) -> BoxFut<'a, Result<Injected, Unsupported>> {
        Box::pin(async move {
            match fault {
                Fault::DeletePod { namespace, pod } => {
                    super::delete_pod_via_api(self.client(), namespace, pod)
                        .await
                        .map_err(|r| self.unsupported(fault, &r))
                }
                Fault::NodeDown { node } | Fault::NodeUp { node } => {
                    let up = matches!(fault, Fault::NodeUp { .. });
                    let args = node_args(node, up);
                    let how = render(&self.settings.docker, &args);
                    run_blocking(
                        self.settings.docker.clone(),
                        args,
                        self.settings.env.clone(),
                    )
                    .await
                    .map(|_| Injected { how })
                    .map_err(|e| self.unsupported(fault, &e.to_string()))
                }
                Fault::KillContainer { .. } => Err(self.unsupported(
                    fault,
                    "kind gives no portable way to kill one container's process from outside",
                )),
                Fault::ImagePullFailure { .. } => {
                    Err(self
                        .unsupported(fault, "pull failures cannot be caused on a real registry"))
                }
            }
        })
    }

    fn prepare_images<'a>(&'a self, images: &'a [String]) -> BoxFut<'a, Result<(), BackendError>> {
        Box::pin(async move {
            if !self.settings.load_images {
                return Ok(());
            }
            for image in images {
                let done = self
                    .loaded
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .contains(image);
                if done {
                    continue;
                }
                // Only images present in the local engine can be loaded; others are pulled
                // by the node itself.
                let present = run_blocking(
                    self.settings.docker.clone(),
                    image_inspect_args(image),
                    self.settings.env.clone(),
                )
                .await;
                match present {
                    Ok(_) => {
                        run_blocking(
                            self.settings.kind.clone(),
                            load_image_args(&self.settings, image),
                            self.settings.env.clone(),
                        )
                        .await?;
                    }
                    Err(CommandError::Failed { .. }) => {
                        eprintln!("[e2e] {image} is not in the local engine: the node pulls it");
                    }
                    Err(e) => return Err(e.into()),
                }
                self.loaded
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(image.clone());
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn settings() -> KindSettings {
        KindSettings {
            name: "odo-e2e".into(),
            reuse: false,
            config: PathBuf::from("/repo/ci/kind-config.yaml"),
            wait: "120s".into(),
            node_image: None,
            kind: "kind".into(),
            docker: "docker".into(),
            env: Vec::new(),
            load_images: true,
            label: "kind".into(),
        }
    }

    fn strs(args: Vec<OsString>) -> Vec<String> {
        args.into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn create_arguments() {
        assert_eq!(
            strs(create_args(&settings())),
            [
                "create",
                "cluster",
                "--name",
                "odo-e2e",
                "--config",
                "/repo/ci/kind-config.yaml",
                "--wait",
                "120s"
            ]
        );
        let with_image = KindSettings {
            node_image: Some("kindest/node:v1.34.0".into()),
            ..settings()
        };
        assert_eq!(
            strs(create_args(&with_image))[8..],
            ["--image", "kindest/node:v1.34.0"]
        );
    }

    #[test]
    fn other_arguments() {
        let s = settings();
        assert_eq!(
            strs(kubeconfig_args(&s)),
            ["get", "kubeconfig", "--name", "odo-e2e"]
        );
        assert_eq!(
            strs(load_image_args(&s, "busybox:latest")),
            [
                "load",
                "docker-image",
                "busybox:latest",
                "--name",
                "odo-e2e"
            ]
        );
        assert_eq!(
            strs(delete_args(&s)),
            ["delete", "cluster", "--name", "odo-e2e"]
        );
        assert_eq!(
            strs(node_args("odo-e2e-worker", false)),
            ["stop", "odo-e2e-worker"]
        );
        assert_eq!(
            strs(node_args("odo-e2e-worker", true)),
            ["start", "odo-e2e-worker"]
        );
        assert_eq!(
            strs(image_inspect_args("busybox:latest")),
            ["image", "inspect", "--format", "{{.Id}}", "busybox:latest"]
        );
    }

    #[test]
    fn missing_binary_names_what_to_install() {
        let err = run_command(
            Path::new("/nonexistent/odo-e2e/kind"),
            &create_args(&settings()),
            &[],
        )
        .expect_err("missing");
        let text = err.to_string();
        assert!(matches!(err, CommandError::Missing { .. }), "{text}");
        assert!(text.contains("install kind"), "{text}");
        let err = run_command(Path::new("/nonexistent/docker"), &[], &[]).expect_err("missing");
        assert!(err.to_string().contains("Docker Engine"), "{err}");
    }

    #[test]
    fn failure_keeps_stderr() {
        let err = run_command(
            Path::new("sh"),
            &["-c".into(), "echo boom >&2; exit 3".into()],
            &[],
        )
        .expect_err("fails");
        let text = err.to_string();
        assert!(text.contains("sh -c echo boom >&2; exit 3"), "{text}");
        assert!(text.contains("boom"), "{text}");
        assert!(text.contains('3'), "{text}");
    }

    #[test]
    fn reuse_comes_from_kind_cluster() {
        // Only the pure part: a named cluster is reused, the default name carries the pid.
        let s = settings();
        assert!(!s.reuse);
        let fresh = KindSettings::from_env();
        if std::env::var(CLUSTER_ENV).is_err() {
            assert!(!fresh.reuse);
            assert!(fresh.name.starts_with("odo-e2e-"), "{}", fresh.name);
            assert!(fresh.config.ends_with("ci/kind-config.yaml"));
        } else {
            assert!(fresh.reuse);
        }
    }
}
