//! Every scenario on the in-process simulator, one test each, with a fresh simulator and
//! seed per scenario (printed on failure; `ODO_E2E_SEED=<n>` repeats it). A scenario the
//! simulator cannot run yet is reported as skipped on stderr and in its trace.

use std::sync::Arc;

use e2e::backend::Backend;
use e2e::backend::sim::SimBackend;
use e2e::driver::LibDriver;
use e2e::harness::{self, Outcome};
use e2e::scenarios;
use odo_sim::Flavor;

async fn run_on(name: &str, flavor: Flavor) {
    let scenario = scenarios::by_name(name).unwrap_or_else(|| panic!("no scenario {name}"));
    let backend = SimBackend::for_scenario_on(name, flavor).expect("simulator");
    let odo = Arc::new(
        LibDriver::new(backend.client(), "odo-sim (in-process)")
            .with_sim_clock(backend.sim().clone()),
    );
    match harness::run(&backend, &scenario, Some(odo)).await {
        Ok(Outcome::Passed) => {}
        Ok(Outcome::Skipped(why)) => {
            // Straight to stderr, past the test harness's capture: a skip must be seen.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED {name} on sim: {why}");
        }
        Err(failed) => panic!("{failed}"),
    }
}

/// One test per scenario name, run on the simulator of `$flavor`.
macro_rules! scenario_tests {
    ($flavor:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                run_on(stringify!($name), $flavor).await;
            }
        )*
    };
}

/// Every scenario on the kubernetes flavor, and a check that the list is complete.
macro_rules! sim_scenarios {
    ($($name:ident),* $(,)?) => {
        scenario_tests!(Flavor::Kubernetes; $($name),*);

        /// Every scenario in the list has a test above, and no test names a missing one.
        #[test]
        fn every_scenario_has_a_test() {
            let listed: Vec<&str> = vec![$(stringify!($name)),*];
            let all: Vec<&str> = scenarios::all().iter().map(|s| s.name).collect();
            assert_eq!(listed, all, "add new scenarios to tests/sim.rs");
        }
    };
}

sim_scenarios!(
    configmap_lifecycle,
    secret_lifecycle,
    service_lifecycle,
    nodeport_allocation,
    namespace_deletion,
    watch_selector_transitions,
    rc_self_healing,
    rs_self_healing,
    headless_service_endpoints,
    init_containers_wait_for_services,
    configmap_subpath_file,
    crash_loop_backoff,
    init_failure_restart_policies,
    odo_push_nodejs,
    odo_push_java,
    odo_push_python,
    odo_incremental_push,
    odo_pod_replaced,
    odo_url_storage,
    odo_delete,
);

/// odo's scenarios once more on the openshift flavor: the same steps and checks, with odo
/// rendering a DeploymentConfig (whose RC runs the pod) and Routes instead of a Deployment
/// and Ingresses.
mod openshift {
    use super::{Flavor, run_on};

    scenario_tests!(
        Flavor::Openshift;
        odo_push_nodejs,
        odo_push_java,
        odo_push_python,
        odo_incremental_push,
        odo_pod_replaced,
        odo_url_storage,
        odo_delete,
    );
}
