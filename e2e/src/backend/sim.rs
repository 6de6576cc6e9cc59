//! [`SimBackend`]: scenarios on the in-process simulator, one fresh cluster and seed per
//! scenario (the seed is printed on failure; `ODO_E2E_SEED` replays it).
//!
//! The simulator offers what a real cluster does (controllers, a kubelet, cluster DNS inside
//! containers, exec): waiting advances virtual time and faults go to `Sim::inject`, so a
//! scenario that takes seconds on kind takes milliseconds here.

use std::time::Duration;

use odo_sim::{Flavor, Sim};

use super::{Backend, BackendError, BoxFut, Capabilities, Fault, Injected, Unsupported};

/// The environment variable that fixes the seed of every scenario (to replay a failure).
pub const SEED_ENV: &str = "ODO_E2E_SEED";

/// The in-process simulator as a backend.
#[derive(Debug, Clone)]
pub struct SimBackend {
    sim: Sim,
    /// `sim`, or `sim-openshift` on that flavor (traces go to a directory per name).
    name: &'static str,
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

    /// A fresh simulated cluster of `flavor` for one scenario (odo then renders that flavor's
    /// objects: a DeploymentConfig and Routes on OpenShift).
    pub fn for_scenario_on(scenario: &str, flavor: Flavor) -> Result<Self, BackendError> {
        Self::build(seed_for(scenario), flavor)
    }

    /// A fresh simulated cluster with an explicit seed.
    pub fn with_seed(seed: u64) -> Result<Self, BackendError> {
        Self::build(seed, Flavor::Kubernetes)
    }

    fn build(seed: u64, flavor: Flavor) -> Result<Self, BackendError> {
        let sim = Sim::builder()
            .seed(seed)
            .nodes(1)
            .flavor(flavor)
            .build()
            .map_err(|e| BackendError::Sim(e.to_string()))?;
        Ok(Self {
            sim,
            name: match flavor {
                Flavor::Openshift => "sim-openshift",
                Flavor::Kubernetes => "sim",
            },
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

/// Everything but the odo driver, which the harness adds when it has one.
fn sim_capabilities() -> Capabilities {
    Capabilities::all().without(super::Capability::Odo)
}

/// The simulator's own form of a fault.
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
        self.name
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
            self.sim.advance(d);
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
            self.sim
                .inject(to_sim_fault(fault))
                .map(|()| Injected {
                    how: format!("Sim::inject({fault})"),
                })
                .map_err(|e| self.unsupported(fault, e.to_string()))
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

    #[tokio::test]
    async fn faults_reach_the_simulator_and_refusals_are_reported() {
        let b = SimBackend::with_seed(1).expect("sim");
        let done = b
            .inject(&Fault::NodeDown {
                node: "sim-node-1".into(),
            })
            .await
            .expect("a node of the simulator goes down");
        assert!(done.how.contains("Sim::inject"), "{}", done.how);
        let err = b
            .inject(&Fault::NodeDown {
                node: "node-9".into(),
            })
            .await
            .expect_err("no such node");
        assert_eq!(err.backend, "sim");
        assert!(err.to_string().contains("node-9"), "{err}");
    }
}
