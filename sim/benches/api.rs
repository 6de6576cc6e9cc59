//! API throughput: creates, gets, lists and watch fan-out, in-process and over loopback HTTP,
//! plus the time to build a simulator. Throughput is reported as elements (requests or
//! delivered events) per second.

use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchParams};
use odo_sim::Sim;
use serde_json::json;

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn cm() -> ConfigMap {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    serde_json::from_value(json!({"metadata": {"name": format!("c{n}"), "labels": {"app": "bench"}}, "data": {"k": "v"}})).expect("cm")
}

async fn http_client(sim: &Sim, dir: &std::path::Path) -> kube::Client {
    let bound = odo_sim::server::bind("127.0.0.1:0".parse().expect("addr"), false)
        .await
        .expect("bind");
    let kc = dir.join("kubeconfig");
    odo_sim::server::write_atomic(&kc, &odo_sim::server::kubeconfig(bound.addr, None))
        .expect("kubeconfig");
    tokio::spawn(odo_sim::server::serve(sim.clone(), bound));
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kc).expect("read"),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// A fresh simulator served on loopback from `rt` (which must be entered), and its two
/// clients: in-process and over HTTP. The directory holds the kubeconfig.
fn served(
    rt: &tokio::runtime::Runtime,
) -> (Sim, tempfile::TempDir, [(&'static str, kube::Client); 2]) {
    let dir = tempfile::tempdir().expect("dir");
    let sim = Sim::builder().build().expect("sim");
    let http = rt.block_on(http_client(&sim, dir.path()));
    let clients = [("in_process", sim.client()), ("http", http)];
    (sim, dir, clients)
}

/// Creates and gets of one ConfigMap through each client, one request per iteration.
fn creates_and_gets(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    clients: &[(&str, kube::Client)],
) {
    for (mode, client) in clients {
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        g.bench_function(BenchmarkId::new("create", mode), |b| {
            b.to_async(rt).iter(|| async {
                cms.create(&PostParams::default(), &cm())
                    .await
                    .expect("create")
            });
        });
        let fixed = rt
            .block_on(cms.create(&PostParams::default(), &cm()))
            .expect("create");
        let name = fixed.metadata.name.expect("name");
        g.bench_function(BenchmarkId::new("get", mode), |b| {
            b.to_async(rt)
                .iter(|| async { cms.get(&name).await.expect("get") });
        });
    }
}

/// The ceiling the client itself puts on one-at-a-time requests: kube-rs's `Client` over a
/// service that answers every request at once with a fixed ConfigMap, doing no work. Its
/// `Buffer` worker is a task of its own, so on a multi-thread runtime each request crosses
/// threads twice however fast the server is; the in-process figures are read against this.
fn client_floor(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
) {
    let body = serde_json::to_string(&cm()).expect("json");
    let service = tower::service_fn(move |_r: http::Request<kube::client::Body>| {
        let body = body.clone();
        async move {
            Ok::<_, std::convert::Infallible>(
                http::Response::builder()
                    .status(201)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(axum::body::Body::from(body))
                    .expect("response"),
            )
        }
    });
    let cms: Api<ConfigMap> = Api::namespaced(kube::Client::new(service, "default"), "default");
    g.bench_function(BenchmarkId::new("create", "client_floor"), |b| {
        b.to_async(rt).iter(|| async {
            cms.create(&PostParams::default(), &cm())
                .await
                .expect("create")
        });
    });
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    c.bench_function("sim_build", |b| {
        b.iter(|| Sim::builder().build().expect("sim"))
    });

    let _runtime_context = rt.enter();
    let (sim, _dir, clients) = served(&rt);

    let mut g = c.benchmark_group("api");
    g.throughput(Throughput::Elements(1));
    // The store alone: the floor under both ways in.
    {
        let store = sim.store().clone();
        let tid = store.type_id_of::<ConfigMap>().expect("configmaps served");
        g.bench_function(BenchmarkId::new("create", "store"), |b| {
            b.iter(|| {
                let obj = serde_json::to_value(cm()).expect("json");
                store
                    .create(
                        tid,
                        "default",
                        obj,
                        &odo_sim::store::WriteOptions::default(),
                    )
                    .expect("create")
            });
        });
    }
    creates_and_gets(&mut g, &rt, &clients);
    client_floor(&mut g, &rt);
    g.finish();

    // Requests issued from a task on the runtime, as a controller or `#[tokio::main]` code
    // that spawns its work does: one at a time, and 16 in flight. `b.to_async` above polls
    // from the bench's own thread, so every request there also crosses into the runtime.
    {
        let mut g = c.benchmark_group("api_in_task");
        g.throughput(Throughput::Elements(1));
        for (mode, client) in &clients {
            for in_flight in [1_usize, 16] {
                let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
                let id = BenchmarkId::new(format!("create_{in_flight}_in_flight"), mode);
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let cms = cms.clone();
                        rt.block_on(tokio::spawn(async move {
                            let start = std::time::Instant::now();
                            futures::stream::iter(0..iters)
                                .map(|_| {
                                    let cms = cms.clone();
                                    async move {
                                        cms.create(&PostParams::default(), &cm())
                                            .await
                                            .expect("create")
                                    }
                                })
                                .buffer_unordered(in_flight)
                                .for_each(|_| async {})
                                .await;
                            start.elapsed()
                        }))
                        .expect("bench task")
                    });
                });
            }
        }
        g.finish();
    }

    // The same on a current-thread runtime (what `#[tokio::test]` gives a test): no request
    // crosses threads, so the difference to the above is the cost of thread hand-offs
    // (kube's buffer worker, the server's tasks), not of the simulator.
    {
        let rt1 = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("current-thread runtime");
        let _ctx = rt1.enter();
        let (_sim, _dir, clients) = served(&rt1);
        let mut g = c.benchmark_group("api_current_thread");
        g.throughput(Throughput::Elements(1));
        creates_and_gets(&mut g, &rt1, &clients);
        client_floor(&mut g, &rt1);
        g.finish();
    }

    // Lists of 100 objects in a namespace of their own.
    let mut g = c.benchmark_group("list100");
    g.throughput(Throughput::Elements(100));
    rt.block_on(async {
        let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(sim.client());
        nss.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "list"}})).expect("ns"),
        )
        .await
        .expect("ns");
        let cms: Api<ConfigMap> = Api::namespaced(sim.client(), "list");
        for _ in 0..100 {
            cms.create(&PostParams::default(), &cm())
                .await
                .expect("create");
        }
    });
    for (mode, client) in &clients {
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "list");
        g.bench_function(BenchmarkId::new("list", mode), |b| {
            b.to_async(&rt)
                .iter(|| async { cms.list(&ListParams::default()).await.expect("list") });
        });
    }
    g.finish();

    // Watch fan-out: one create delivered to 100 open watches.
    let mut g = c.benchmark_group("watch_fanout");
    const WATCHERS: usize = 100;
    g.throughput(Throughput::Elements(WATCHERS as u64));
    for (mode, client) in &clients {
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let rv = rt
            .block_on(cms.list(&ListParams::default().limit(1)))
            .expect("list")
            .metadata
            .resource_version
            .expect("rv");
        let mut streams = rt.block_on(async {
            let mut v = Vec::new();
            for _ in 0..WATCHERS {
                v.push(
                    cms.watch(&WatchParams::default().labels("app=bench"), &rv)
                        .await
                        .expect("watch")
                        .boxed(),
                );
            }
            v
        });
        g.bench_function(BenchmarkId::new("create_to_100_watches", mode), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        let created = cms
                            .create(&PostParams::default(), &cm())
                            .await
                            .expect("create");
                        let want = created.metadata.name.expect("name");
                        for s in &mut streams {
                            loop {
                                match s.next().await {
                                    Some(Ok(kube::api::WatchEvent::Added(o)))
                                        if o.metadata.name.as_deref() == Some(want.as_str()) =>
                                    {
                                        break;
                                    }
                                    Some(Ok(_)) => {}
                                    other => panic!("watch ended: {other:?}"),
                                }
                            }
                        }
                    }
                    start.elapsed()
                })
            });
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
