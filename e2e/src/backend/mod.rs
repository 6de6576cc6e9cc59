//! Where scenarios run: the [`Backend`] trait and what it speaks about (capabilities, faults,
//! images), with one implementation per kind of cluster: the in-process simulator
//! ([`sim::SimBackend`]), a kind cluster driven through the `kind` binary
//! ([`kind::KindBackend`]) and any cluster named by a kubeconfig
//! ([`kubeconfig::KubeconfigBackend`]); with the `k3s` feature, a K3s container started with
//! testcontainers (`k3s::K3sBackend`).

pub mod command;
#[cfg(feature = "k3s")]
pub mod k3s;
pub mod kind;
pub mod kubeconfig;
pub mod sim;

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future, so that [`Backend`] can be used as a trait object.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something a scenario may need from a cluster beyond the API itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Controllers reconcile workloads (ReplicationController, ReplicaSet, Deployment,
    /// Endpoints, the namespace controller finishing a termination).
    Controllers,
    /// Pods are scheduled and their containers run (init order, restarts, back-off).
    Kubelet,
    /// Containers resolve Services through cluster DNS (`nslookup myservice`).
    Dns,
    /// Commands can be run in containers (`exec`), so files can be probed.
    Exec,
    /// The odo CLI library can drive the cluster (create, push, url, storage, delete).
    Odo,
}

impl Capability {
    /// Every capability, in a stable order.
    pub const ALL: [Capability; 5] = [
        Capability::Controllers,
        Capability::Kubelet,
        Capability::Dns,
        Capability::Exec,
        Capability::Odo,
    ];

    /// What is missing, in the words a skip message uses ("needs ...").
    pub fn describe(self) -> &'static str {
        match self {
            Capability::Controllers => "workload controllers",
            Capability::Kubelet => "a kubelet that runs pods",
            Capability::Dns => "cluster DNS inside containers",
            Capability::Exec => "exec into containers",
            Capability::Odo => "the odo CLI library",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The set of capabilities a backend offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities(BTreeSet<Capability>);

impl Capabilities {
    /// No capability beyond the API.
    pub fn api_only() -> Self {
        Self::default()
    }

    /// Every capability (a real cluster with the odo library available).
    pub fn all() -> Self {
        Self(Capability::ALL.into_iter().collect())
    }

    /// Adds a capability.
    pub fn with(mut self, cap: Capability) -> Self {
        self.0.insert(cap);
        self
    }

    /// Removes a capability.
    pub fn without(mut self, cap: Capability) -> Self {
        self.0.remove(&cap);
        self
    }

    /// Whether `cap` is offered.
    pub fn has(&self, cap: Capability) -> bool {
        self.0.contains(&cap)
    }

    /// The first of `needs` that is not offered.
    pub fn first_missing(&self, needs: &[Capability]) -> Option<Capability> {
        needs.iter().copied().find(|c| !self.has(*c))
    }
}

/// A fault a scenario asks the backend to cause.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type")]
pub enum Fault {
    /// The pod is deleted, as `kubectl delete pod` would (its controller replaces it).
    DeletePod {
        /// Namespace of the pod.
        namespace: String,
        /// Pod name.
        pod: String,
    },
    /// A container's process is killed (exit 137); the kubelet restarts it per policy.
    KillContainer {
        /// Namespace of the pod.
        namespace: String,
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
    },
    /// A node stops (its kubelet no longer reports).
    NodeDown {
        /// Node name.
        node: String,
    },
    /// A stopped node comes back.
    NodeUp {
        /// Node name.
        node: String,
    },
    /// Pulls of an image fail.
    ImagePullFailure {
        /// Image reference exactly as in the pod spec.
        image: String,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::DeletePod { namespace, pod } => write!(f, "delete pod {namespace}/{pod}"),
            Fault::KillContainer {
                namespace,
                pod,
                container,
            } => write!(f, "kill container {container} of pod {namespace}/{pod}"),
            Fault::NodeDown { node } => write!(f, "stop node {node}"),
            Fault::NodeUp { node } => write!(f, "start node {node}"),
            Fault::ImagePullFailure { image } => write!(f, "fail pulls of {image}"),
        }
    }
}

/// A fault that was caused, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// How the backend caused it (for the trace and the log).
    pub how: String,
}

/// A fault this backend cannot cause; the scenario is reported as skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {backend} backend cannot {fault}: {reason}")]
pub struct Unsupported {
    /// Backend name.
    pub backend: String,
    /// The fault, as text.
    pub fault: String,
    /// Why not.
    pub reason: String,
}

/// A failure of the backend itself (not of a scenario).
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The kind or docker command failed.
    #[error(transparent)]
    Command(#[from] kind::CommandError),
    /// The kubeconfig could not be read or used.
    #[error("cannot use the kubeconfig {source_name}: {message}")]
    Kubeconfig {
        /// Where the kubeconfig came from (a path, or `kind get kubeconfig`).
        source_name: String,
        /// What went wrong.
        message: String,
    },
    /// The simulator could not be built.
    #[error("cannot build the simulator: {0}")]
    Sim(String),
    /// An API call the backend made itself failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The error.
        source: kube::Error,
    },
}

/// A cluster that scenarios run on.
///
/// Scenarios take `&dyn Backend`; the harness ([`crate::harness`]) creates a fresh namespace
/// per scenario through [`Backend::client`].
pub trait Backend: Send + Sync {
    /// Short name (`sim`, `kind`, `kubeconfig`): the trace directory and the log prefix.
    fn name(&self) -> &str;

    /// What to print when a scenario fails so that the run can be repeated (seed, cluster).
    fn describe(&self) -> String;

    /// A client for the cluster.
    fn client(&self) -> kube::Client;

    /// What the cluster can do beyond the API.
    fn capabilities(&self) -> &Capabilities;

    /// Lets `d` of cluster time pass: virtual (instant) on the simulator, a real sleep on a
    /// real cluster.
    fn wait(&self, d: Duration) -> BoxFut<'_, ()>;

    /// The step by which waiting for a condition lets time pass.
    fn step(&self) -> Duration {
        Duration::from_secs(1)
    }

    /// How long (real time) a watch must stay silent to be taken as caught up.
    fn quiet(&self) -> Duration {
        Duration::from_millis(20)
    }

    /// Causes a fault, or says why this backend cannot.
    fn inject<'a>(&'a self, fault: &'a Fault) -> BoxFut<'a, Result<Injected, Unsupported>>;

    /// Makes images available to the cluster's nodes (kind: `kind load docker-image`).
    fn prepare_images<'a>(&'a self, images: &'a [String]) -> BoxFut<'a, Result<(), BackendError>>;
}

/// Deletes a pod through the API (a fault every backend with an API can cause).
/// Fault injection for backends that can only act through the API: a pod delete is done, any
/// other fault is reported unsupported with `why`.
pub(crate) async fn inject_through_api_only(
    client: kube::Client,
    backend: &str,
    fault: &Fault,
    why: &str,
) -> Result<Injected, Unsupported> {
    let unsupported = |reason: String| Unsupported {
        backend: backend.into(),
        fault: fault.to_string(),
        reason,
    };
    match fault {
        Fault::DeletePod { namespace, pod } => delete_pod_via_api(client, namespace, pod)
            .await
            .map_err(unsupported),
        _ => Err(unsupported(why.into())),
    }
}

pub(crate) async fn delete_pod_via_api(
    client: kube::Client,
    namespace: &str,
    pod: &str,
) -> Result<Injected, String> {
    let api: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client, namespace);
    api.delete(pod, &kube::api::DeleteParams::default())
        .await
        .map_err(|e| format!("deleting pod {namespace}/{pod}: {e}"))?;
    Ok(Injected {
        how: format!("DELETE pod {namespace}/{pod} through the API"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_missing_reports_in_order_of_need() {
        let caps = Capabilities::api_only().with(Capability::Controllers);
        assert_eq!(
            caps.first_missing(&[
                Capability::Controllers,
                Capability::Exec,
                Capability::Kubelet
            ]),
            Some(Capability::Exec)
        );
        assert_eq!(caps.first_missing(&[Capability::Controllers]), None);
        assert!(
            Capabilities::all()
                .first_missing(&Capability::ALL)
                .is_none()
        );
        assert!(
            !Capabilities::all()
                .without(Capability::Odo)
                .has(Capability::Odo)
        );
    }

    #[test]
    fn faults_render_for_skip_messages() {
        let f = Fault::KillContainer {
            namespace: "ns".into(),
            pod: "p".into(),
            container: "c".into(),
        };
        assert_eq!(f.to_string(), "kill container c of pod ns/p");
        let u = Unsupported {
            backend: "kind".into(),
            fault: f.to_string(),
            reason: "no runtime access".into(),
        };
        assert_eq!(
            u.to_string(),
            "the kind backend cannot kill container c of pod ns/p: no runtime access"
        );
    }
}
