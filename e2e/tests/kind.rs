//! Every scenario on a real cluster: a kind cluster (created for the run, or the one named by
//! `KIND_CLUSTER`), or the cluster of `ODO_E2E_KUBECONFIG`. Ignored by default: they need
//! kind and docker (or a cluster). `ci/kind-e2e.sh` runs them; so does
//! `cargo test -p e2e --test kind -- --ignored` with kind on PATH. `ODO_E2E_SCENARIOS=a,b`
//! selects scenarios. Traces go to `target/e2e-traces/kind/` for `trace-diff`.

use std::sync::Arc;

use e2e::backend::Backend;
use e2e::backend::kind::{KindBackend, KindSettings};
use e2e::backend::kubeconfig::KubeconfigBackend;
use e2e::driver::LibDriver;
use e2e::harness::{run_suite, selected};
use e2e::scenarios;

async fn suite(backend: &dyn Backend) {
    eprintln!("[e2e] running on {}", backend.describe());
    let odo = Arc::new(LibDriver::new(backend.client(), backend.describe()));
    let report = run_suite(backend, &selected(scenarios::all()), Some(odo)).await;
    eprintln!("{report}");
    assert!(
        report.failed.is_empty(),
        "{} scenario(s) failed on {}:\n{report}",
        report.failed.len(),
        backend.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs kind and docker: run ci/kind-e2e.sh"]
async fn every_scenario_on_kind() {
    let backend = KindBackend::start(KindSettings::from_env())
        .await
        .unwrap_or_else(|e| panic!("cannot start the kind backend: {e}"));
    suite(&backend).await;
    backend
        .delete()
        .unwrap_or_else(|e| panic!("cannot delete the kind cluster: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs ODO_E2E_KUBECONFIG naming a cluster's kubeconfig"]
async fn every_scenario_on_kubeconfig_cluster() {
    let backend = KubeconfigBackend::from_env()
        .await
        .expect("set ODO_E2E_KUBECONFIG to a kubeconfig file")
        .unwrap_or_else(|e| panic!("{e}"));
    suite(&backend).await;
}

#[cfg(feature = "k3s")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Docker engine: cargo test -p e2e --features k3s --test kind every_scenario_on_k3s -- --ignored"]
async fn every_scenario_on_k3s() {
    let backend = e2e::backend::k3s::K3sBackend::start()
        .await
        .unwrap_or_else(|e| panic!("cannot start K3s: {e}"));
    suite(&backend).await;
}
