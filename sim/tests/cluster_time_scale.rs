//! Real-time mode with a speed-up (`odo-sim serve --time-scale`): virtual time follows the
//! wall clock, `scale` times faster, and pods live on it.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use odo_sim::clock::TimeMode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixty_second_container_finishes_in_a_fraction_of_that_at_scale_200() {
    let sim = odo_sim::Sim::builder()
        .time_mode(TimeMode::RealTime { scale: 200.0 })
        .build()
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "waits"},
        "spec": {"restartPolicy": "Never",
                 "containers": [{"name": "c", "image": "busybox:latest",
                                 "command": ["sh", "-c", "sleep 60; exit 0"]}]}
    }))
    .unwrap();
    let wall = Instant::now();
    let virtual_start = sim.now();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    // At scale 1 this would take a minute of wall time; the deadline is far below it.
    let mut phase = String::new();
    while wall.elapsed() < Duration::from_secs(30) {
        let p = pods.get("waits").await.unwrap();
        phase = p.status.and_then(|s| s.phase).unwrap_or_default();
        if phase == "Succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(phase, "Succeeded");
    let virtual_elapsed = sim.now().duration_since(virtual_start);
    let virtual_secs = virtual_elapsed.as_secs_f64();
    assert!(
        virtual_secs >= 60.0,
        "virtual time advanced {virtual_secs}s"
    );
    // Virtual time is derived from the wall clock, so the ratio holds however loaded the
    // machine is.
    let ratio = virtual_secs / wall.elapsed().as_secs_f64();
    assert!(ratio > 50.0, "virtual/wall ratio {ratio}");
}
