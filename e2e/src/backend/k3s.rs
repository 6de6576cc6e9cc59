//! [`K3sBackend`] (cargo feature `k3s`): a single-node K3s cluster in a container started
//! with testcontainers, for those who prefer it to kind. Needs a Docker engine at run time;
//! the container is removed when the backend is dropped.

use std::time::Duration;

use testcontainers_modules::k3s::{K3s, KUBE_SECURE_PORT};
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{ContainerAsync, ImageExt};

use super::{
    Backend, BackendError, BoxFut, Capabilities, Capability, Fault, Injected, Unsupported,
};

/// A K3s container as a backend.
pub struct K3sBackend {
    _container: ContainerAsync<K3s>,
    _conf: tempfile::TempDir,
    client: kube::Client,
    caps: Capabilities,
}

impl std::fmt::Debug for K3sBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K3sBackend").finish_non_exhaustive()
    }
}

/// Points the kubeconfig K3s writes (server `https://127.0.0.1:6443`) at the mapped port.
pub fn with_server_port(kubeconfig: &str, port: u16) -> String {
    kubeconfig.replace(
        "https://127.0.0.1:6443",
        &format!("https://127.0.0.1:{port}"),
    )
}

impl K3sBackend {
    /// Starts the K3s container and connects to it.
    pub async fn start() -> Result<Self, BackendError> {
        let err = |message: String| BackendError::Kubeconfig {
            source_name: "the K3s container".into(),
            message,
        };
        let conf = tempfile::tempdir().map_err(|e| err(e.to_string()))?;
        let container = K3s::default()
            .with_conf_mount(conf.path())
            .with_privileged(true)
            .with_userns_mode("host")
            .start()
            .await
            .map_err(|e| err(format!("{e}; is a Docker engine running?")))?;
        let port = container
            .get_host_port_ipv4(KUBE_SECURE_PORT)
            .await
            .map_err(|e| err(e.to_string()))?;
        let text = container
            .image()
            .read_kube_config()
            .map_err(|e| err(e.to_string()))?;
        let client = super::kubeconfig::client_from_yaml(
            &with_server_port(&text, port),
            "the K3s container",
        )
        .await?;
        Ok(Self {
            _container: container,
            _conf: conf,
            client,
            caps: Capabilities::all().without(Capability::Odo),
        })
    }
}

impl Backend for K3sBackend {
    fn name(&self) -> &str {
        "k3s"
    }

    fn describe(&self) -> String {
        "K3s container (testcontainers)".into()
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
            "k3s",
            fault,
            "the single K3s node cannot be stopped without stopping the API",
        ))
    }

    fn prepare_images<'a>(&'a self, _images: &'a [String]) -> BoxFut<'a, Result<(), BackendError>> {
        // K3s pulls what it needs.
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_points_at_the_mapped_port() {
        let text = "clusters:\n- cluster:\n    server: https://127.0.0.1:6443\n";
        assert_eq!(
            with_server_port(text, 32801),
            "clusters:\n- cluster:\n    server: https://127.0.0.1:32801\n"
        );
    }
}
