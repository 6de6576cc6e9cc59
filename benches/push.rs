//! `odo push` latency against the in-process simulator: the first push of `fixtures/nodejs`
//! (apply the objects, wait for the pod through both init containers, one tar over exec,
//! `assemble-and-restart`) and a one-file incremental push into the running pod.
//!
//! The simulator runs in manual time; while a push waits on it, the bench moves its clock in
//! 100 ms steps as fast as the push lets it (the wall time measured is odo's and the
//! simulator's work, not virtual seconds). Throughput is the pushed tree's bytes per second.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use odo::cli::component::PushArgs;
use odo::cluster::{ConnectOptions, Connection, attach_sim};
use odo::config::LocalConfigFile;
use odo::manifests::Flavor;
use odo_sim::Sim;

/// How long a push may wait for its pod, in wall time.
const PUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// Virtual time per clock step.
const TICK: Duration = Duration::from_millis(100);

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/nodejs")
}

/// Copies the fixture (without an index of an earlier push) into a fresh directory.
fn copy_fixture() -> (tempfile::TempDir, PathBuf, u64) {
    fn copy(from: &Path, to: &Path, bytes: &mut u64) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read fixture") {
            let e = e.expect("entry");
            let name = e.file_name();
            if name == "odo-file-index.json" || name == "node_modules" {
                continue;
            }
            let (src, dst) = (e.path(), to.join(&name));
            if e.file_type().expect("type").is_dir() {
                copy(&src, &dst, bytes);
            } else {
                *bytes += std::fs::copy(&src, &dst).expect("copy");
            }
        }
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("nodejs");
    let mut bytes = 0;
    copy(&fixture(), &dir, &mut bytes);
    (tmp, dir, bytes)
}

async fn connect(sim: &Sim) -> Connection {
    let opts = ConnectOptions {
        timeout: Duration::from_secs(5),
        flavor: Some(Flavor::Kubernetes),
        ..Default::default()
    };
    attach_sim(sim, "odo-sim (in-process)".into(), "default", &opts)
        .await
        .expect("connect")
}

async fn push(sim: &Sim, conn: &Connection, dir: &Path) -> odo::push::PushSummary {
    let file = LocalConfigFile::load_existing(dir).expect("config");
    let sync = odo::push::default_sync();
    sim.advancing(
        TICK,
        odo::push::push_component(
            conn,
            &file,
            &PushArgs::default(),
            sync.as_ref(),
            PUSH_TIMEOUT,
        ),
    )
    .await
    .expect("push")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (_tmp, _dir, bytes) = copy_fixture();
    let mut g = c.benchmark_group("odo_push");
    g.throughput(Throughput::Bytes(bytes));

    g.bench_function("first_push_nodejs", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let sim = Sim::builder().build().expect("sim");
                let conn = connect(&sim).await;
                let (_tmp, dir, _) = copy_fixture();
                let start = Instant::now();
                let summary = push(&sim, &conn, &dir).await;
                total += start.elapsed();
                assert!(summary.created, "the first push creates the component");
            }
            total
        });
    });

    let one_file = std::fs::metadata(fixture().join("server.js"))
        .expect("server.js")
        .len();
    g.throughput(Throughput::Bytes(one_file));
    g.bench_function("incremental_one_file", |b| {
        let (sim, conn, _tmp, dir) = rt.block_on(async {
            let sim = Sim::builder().build().expect("sim");
            let conn = connect(&sim).await;
            let (tmp, dir, _) = copy_fixture();
            push(&sim, &conn, &dir).await;
            (sim, conn, tmp, dir)
        });
        let server = dir.join("server.js");
        let original = std::fs::read(&server).expect("server.js");
        let mut n = 0u64;
        b.to_async(&rt).iter_custom(|iters| {
            let (sim, conn, dir, server, original) = (&sim, &conn, &dir, &server, &original);
            let mut next = n;
            n += iters;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    next += 1;
                    let mut content = original.clone();
                    content.extend_from_slice(format!("// edit {next}\n").as_bytes());
                    std::fs::write(server, content).expect("edit");
                    let start = Instant::now();
                    let summary = push(sim, conn, dir).await;
                    total += start.elapsed();
                    let sent = summary.sync.map(|s| s.sent).unwrap_or_default();
                    assert_eq!(sent, 1, "one changed file is sent");
                }
                total
            }
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
