//! [`SimBackend`]: scenarios on the in-process simulator, one fresh cluster and seed per
//! scenario (the seed is printed on failure; `ODO_E2E_SEED` replays it).
//!
//! Without the `sim-cluster` feature the simulator is taken as the API core only (objects,
//! watches, allocation, deletion and namespace termination): the capability set says so, and
//! scenarios that need workload controllers or a kubelet report themselves as skipped; waiting
//! only yields so that watches deliver. With `sim-cluster` (for an odo-sim that has the
//! cluster: `Sim::advance`, `Sim::inject`, controllers and kubelet) waiting advances virtual
//! time, faults go to `Sim::inject`, and controllers and kubelet are offered. Exec and DNS
//! inside containers come with the container runtime.

use std::time::Duration;

use odo_sim::{Flavor, Sim};

use super::{Backend, BackendError, BoxFut, Capabilities, Fault, Injected, Unsupported};

/// The environment variable that fixes the seed of every scenario (to replay a failure).
pub const SEED_ENV: &str = "ODO_E2E_SEED";

/// The in-process simulator as a backend.
#[derive(Debug, Clone)]
pub struct SimBackend {
    sim: Sim,
    seed: u64,
    caps: Capabilities,
}

/// The seed a scenario runs with: `ODO_E2E_SEED` if set, else derived from its name (so
/// every scenario has its own and a run is reproducible).
pub fn seed_for(scenario: &str) -> u64 {
    if let Some(seed) = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
    {
        return seed;
    }
    // FNV-1a: stable across platforms and releases, unlike the std hasher.
    scenario.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl SimBackend {
    /// A fresh simulated cluster (kubernetes flavor, one node) for one scenario.
    pub fn for_scenario(scenario: &str) -> Result<Self, BackendError> {
        Self::with_seed(seed_for(scenario))
    }

    /// A fresh simulated cluster with an explicit seed.
    pub fn with_seed(seed: u64) -> Result<Self, BackendError> {
        let sim = Sim::builder()
            .seed(seed)
            .nodes(1)
            .flavor(Flavor::Kubernetes)
            .build()
            .map_err(|e| BackendError::Sim(e.to_string()))?;
        Ok(Self {
            sim,
            seed,
            caps: sim_capabilities(),
        })
    }

    /// The simulator behind the backend.
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// The seed of this cluster.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

#[cfg(not(feature = "sim-cluster"))]
fn sim_capabilities() -> Capabilities {
    Capabilities::api_only()
}

#[cfg(feature = "sim-cluster")]
fn sim_capabilities() -> Capabilities {
    use super::Capability;
    Capabilities::api_only()
        .with(Capability::Controllers)
        .with(Capability::Kubelet)
}

/// The simulator's own form of a fault.
#[cfg(feature = "sim-cluster")]
fn to_sim_fault(fault: &Fault) -> odo_sim::Fault {
    match fault.clone() {
        Fault::DeletePod { namespace, pod } => odo_sim::Fault::DeletePod { namespace, pod },
        Fault::KillContainer {
            namespace,
            pod,
            container,
        } => odo_sim::Fault::KillContainer {
            namespace,
            pod,
            container: Some(container),
            oom: false,
        },
        Fault::NodeDown { node } => odo_sim::Fault::NodeDown { node },
        Fault::NodeUp { node } => odo_sim::Fault::NodeUp { node },
        Fault::ImagePullFailure { image } => odo_sim::Fault::ImagePullFailure {
            image,
            active: true,
        },
    }
}

impl Backend for SimBackend {
    fn name(&self) -> &str {
        "sim"
    }

    fn describe(&self) -> String {
        format!(
            "simulator with seed {seed} (repeat with {SEED_ENV}={seed})",
            seed = self.seed
        )
    }

    fn client(&self) -> kube::Client {
        self.sim.client()
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn wait(&self, d: Duration) -> BoxFut<'_, ()> {
        Box::pin(async move {
            #[cfg(feature = "sim-cluster")]
            self.sim.advance(d);
            #[cfg(not(feature = "sim-cluster"))]
            let _ = d;
            // Let watch deliveries run.
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
        })
    }

    fn step(&self) -> Duration {
        Duration::from_millis(500)
    }

    fn quiet(&self) -> Duration {
        Duration::from_millis(5)
    }

    fn inject<'a>(&'a self, fault: &'a Fault) -> BoxFut<'a, Result<Injected, Unsupported>> {
        Box::pin(async move {
            #[cfg(feature = "sim-cluster")]
            return self
                .sim
                .inject(to_sim_fault(fault))
                .map(|()| Injected {
                    how: format!("Sim::inject({fault})"),
                })
                .map_err(|e| self.unsupported(fault, e.to_string()));
            #[cfg(not(feature = "sim-cluster"))]
            match fault {
                Fault::DeletePod { namespace, pod } => {
                    super::delete_pod_via_api(self.client(), namespace, pod)
                        .await
                        .map_err(|reason| self.unsupported(fault, reason))
                }
                _ => Err(self.unsupported(
                    fault,
                    "the simulator's API core has no kubelet or nodes to act on".into(),
                )),
            }
        })
    }

    fn prepare_images<'a>(&'a self, _images: &'a [String]) -> BoxFut<'a, Result<(), BackendError>> {
        // The simulator names images by reference in its catalogue: nothing to load.
        Box::pin(async { Ok(()) })
    }
}

impl SimBackend {
    fn unsupported(&self, fault: &Fault, reason: String) -> Unsupported {
        Unsupported {
            backend: self.name().into(),
            fault: fault.to_string(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_per_scenario_and_are_stable() {
        if std::env::var(SEED_ENV).is_ok() {
            return;
        }
        assert_ne!(
            seed_for("configmap_lifecycle"),
            seed_for("secret_lifecycle")
        );
        assert_eq!(seed_for("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[cfg(not(feature = "sim-cluster"))]
    #[tokio::test]
    async fn node_faults_are_unsupported_not_ignored() {
        let b = SimBackend::with_seed(1).expect("sim");
        let err = b
            .inject(&Fault::NodeDown {
                node: "node-1".into(),
            })
            .await
            .expect_err("unsupported");
        assert_eq!(err.backend, "sim");
        assert!(err.to_string().contains("stop node node-1"), "{err}");
    }
}
