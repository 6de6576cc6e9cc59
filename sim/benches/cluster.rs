//! A Deployment of 10,000 pods over 100 nodes, from creation until every pod is Ready:
//! wall time per run, simulator events per second, and resident memory per pod. The measured
//! loop runs the control plane alone (the scripted container runtime); one run with the real
//! container runtime (a `serve` process, a filesystem and a log per pod) is reported too.
//!
//! The measured time ends when every pod is Ready: dropping the simulator afterwards (freeing
//! every object, event and cache entry of the run) is kept out of it and reported on its own
//! line, since a test that stops there pays it once at exit.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use odo_sim::Sim;
use odo_sim::store::WriteOptions;
use serde_json::{Value, json};

const PODS: u64 = 10_000;
const NODES: usize = 100;

/// Resident set size in bytes (Linux), for the memory-per-pod figure.
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Builds the cluster, creates the Deployment and runs until it is fully available.
/// Returns (events processed, the sim).
fn run(events: bool, real: bool) -> (u64, Sim) {
    let builder = Sim::builder()
        .seed(1)
        .nodes(NODES)
        .trace(false)
        .events(events);
    let builder = if real {
        builder
    } else {
        builder.scripted_runtime()
    };
    let sim = builder.build().expect("sim");
    let store = sim.store();
    let tid = store
        .type_id_of::<k8s_openapi::api::apps::v1::Deployment>()
        .expect("deployments served");
    let deploy = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "big", "namespace": "default"},
        "spec": {"replicas": PODS, "selector": {"matchLabels": {"app": "big"}},
            "template": {"metadata": {"labels": {"app": "big"}},
                "spec": {"containers": [{"name": "web", "image": "openshift/hello-openshift:v1"}]}}}
    });
    store
        .create(tid, "default", deploy, &WriteOptions::default())
        .expect("create deployment");
    let settled = sim.settle_for(Duration::from_secs(3600));
    assert!(settled.idle, "the rollout finishes");
    let d = store.get(tid, "default", "big").expect("deployment");
    assert_eq!(
        d.pointer("/status/readyReplicas").and_then(Value::as_u64),
        Some(PODS),
        "every pod Ready"
    );
    (sim.stats().trace_entries, sim)
}

fn bench(c: &mut Criterion) {
    let before = rss().unwrap_or(0);
    let t = Instant::now();
    let (n_events, sim) = run(true, false);
    let wall = t.elapsed();
    let after = rss().unwrap_or(0);
    let stats = sim.stats();
    eprintln!(
        "deployment of {PODS} pods on {NODES} nodes: all Ready in {:.2?} wall ({:.1} s virtual), \
         {n_events} events ({:.0} events/s), {} store changes, {} reconciles {:?}, ~{} KiB RSS per pod",
        wall,
        sim.now()
            .duration_since(
                jiff::Timestamp::from_second(odo_sim::clock::EPOCH_SECONDS).expect("epoch")
            )
            .as_secs_f64(),
        n_events as f64 / wall.as_secs_f64(),
        stats.store_changes,
        stats.reconciles,
        stats.by_kind,
        after.saturating_sub(before) / PODS / 1024,
    );
    let t = Instant::now();
    drop(sim);
    eprintln!("  dropping the simulator afterwards: {:.2?}", t.elapsed());
    let before = rss().unwrap_or(0);
    let t = Instant::now();
    let (real_events, real) = run(true, true);
    let real_wall = t.elapsed();
    let after = rss().unwrap_or(0);
    eprintln!(
        "  with the real container runtime: {:.2?} wall ({:.0} events/s), ~{} KiB RSS per pod",
        real_wall,
        real_events as f64 / real_wall.as_secs_f64(),
        after.saturating_sub(before) / PODS / 1024,
    );
    drop(real);
    // The same run without writing Event objects (trace lines are still counted), to show
    // what the Events (about 50,000 after the recorders' spam filter) cost.
    let t = Instant::now();
    let (quiet_events, quiet) = run(false, false);
    eprintln!(
        "  without Event objects: {:.2?} wall ({} store changes)",
        t.elapsed(),
        quiet.stats().store_changes
    );
    drop((quiet_events, quiet));
    let mut g = c.benchmark_group("cluster");
    // Ten samples of one run each; the measurement time is criterion's (`--measurement-time`
    // on the command line), stretched by criterion to fit ten runs. Setting it here would
    // override the command line.
    g.sample_size(10);
    g.throughput(Throughput::Elements(n_events));
    g.bench_function("deployment_10000_pods_100_nodes_until_ready", |b| {
        // The simulator is returned so that its drop falls outside the timed region.
        b.iter_with_large_drop(|| run(true, false).1)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
