//! [`KubeconfigBackend`]: scenarios on any existing cluster named by a kubeconfig
//! (`ODO_E2E_KUBECONFIG`): minikube, k3d, a remote cluster. Nothing is created or deleted
//! beyond the scenarios' own namespaces; images must already be reachable by the nodes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    Backend, BackendError, BoxFut, Capabilities, Capability, Fault, Injected, Unsupported,
};

/// The environment variable naming the kubeconfig file.
pub const KUBECONFIG_ENV: &str = "ODO_E2E_KUBECONFIG";

/// Builds a client from kubeconfig YAML (its current context).
pub async fn client_from_yaml(text: &str, source_name: &str) -> Result<kube::Client, BackendError> {
    let err = |message: String| BackendError::Kubeconfig {
        source_name: source_name.to_string(),
        message,
    };
    let kc = kube::config::Kubeconfig::from_yaml(text).map_err(|e| err(e.to_string()))?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| err(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| err(e.to_string()))
}

/// An existing cluster as a backend.
pub struct KubeconfigBackend {
    path: PathBuf,
    client: kube::Client,
    caps: Capabilities,
}

impl std::fmt::Debug for KubeconfigBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeconfigBackend")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl KubeconfigBackend {
    /// The backend named by `ODO_E2E_KUBECONFIG`, or `None` when it is unset.
    pub async fn from_env() -> Option<Result<Self, BackendError>> {
        let path = std::env::var_os(KUBECONFIG_ENV).filter(|p| !p.is_empty())?;
        Some(Self::open(Path::new(&path)).await)
    }

    /// Connects with the kubeconfig at `path`.
    pub async fn open(path: &Path) -> Result<Self, BackendError> {
        let source_name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| BackendError::Kubeconfig {
            source_name: source_name.clone(),
            message: format!("{e}; set {KUBECONFIG_ENV} to a readable kubeconfig file"),
        })?;
        let client = client_from_yaml(&text, &source_name).await?;
        Ok(Self {
            path: path.to_path_buf(),
            client,
            caps: Capabilities::all().without(Capability::Odo),
        })
    }
}

impl Backend for KubeconfigBackend {
    fn name(&self) -> &str {
        "kubeconfig"
    }

    fn describe(&self) -> String {
        format!("cluster of the kubeconfig {}", self.path.display())
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
        Box::pin(super::inject_through_api_only(
            self.client(),
            "kubeconfig",
            fault,
            "only API-level faults can be caused on an arbitrary cluster",
        ))
    }

    fn prepare_images<'a>(&'a self, _images: &'a [String]) -> BoxFut<'a, Result<(), BackendError>> {
        // The nodes pull what they need; nothing can be loaded portably.
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unreadable_kubeconfig_names_the_file_and_the_variable() {
        let err = KubeconfigBackend::open(Path::new("/nonexistent/kubeconfig"))
            .await
            .expect_err("missing file");
        let text = err.to_string();
        assert!(text.contains("/nonexistent/kubeconfig"), "{text}");
        assert!(text.contains(KUBECONFIG_ENV), "{text}");
    }

    #[tokio::test]
    async fn kubeconfig_of_a_served_simulator_connects() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = odo_sim::Sim::builder().seed(3).build().expect("sim");
        let bound = odo_sim::server::bind("127.0.0.1:0".parse().expect("addr"), false)
            .await
            .expect("bind");
        let path = dir.path().join("kubeconfig");
        odo_sim::server::write_atomic(&path, &odo_sim::server::kubeconfig(bound.addr, None))
            .expect("write");
        let server = tokio::spawn(odo_sim::server::serve(sim, bound));
        let backend = KubeconfigBackend::open(&path).await.expect("open");
        let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(backend.client());
        let list = nodes
            .list(&kube::api::ListParams::default())
            .await
            .expect("list");
        assert_eq!(list.items.len(), 1);
        server.abort();
    }
}
