//! Events as a real cluster records them: the recorders' spam filter and the aggregation of
//! similar events (client-go's correlator), seen through the API as `kubectl get events`
//! and `kubectl describe` read them.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use odo_sim::Sim;
use serde_json::json;

async fn events_of(sim: &Sim, name: &str) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(sim.client(), "default");
    let mut evs = api
        .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .expect("list events")
        .items;
    evs.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    evs
}

/// A ReplicaSet that creates 40 pods at once records 9 "Created pod" events, then one
/// combined event that counts the next 16, then nothing: the recorder's burst of 25 is
/// spent. Every pod still gets its own Scheduled/Pulled/Created/Started events, and the
/// simulator's trace keeps every occurrence.
#[tokio::test]
async fn a_burst_of_similar_events_is_combined_then_rate_limited() {
    let sim = Sim::builder().seed(5).nodes(4).build().expect("sim");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "wide"},
        "spec": {"replicas": 40, "selector": {"matchLabels": {"app": "wide"}},
            "template": {"metadata": {"labels": {"app": "wide"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}
    }))
    .expect("replicaset");
    Api::<ReplicaSet>::namespaced(sim.client(), "default")
        .create(&PostParams::default(), &rs)
        .await
        .expect("create");
    sim.settle();

    let evs = events_of(&sim, "wide").await;
    let created: Vec<&Event> = evs
        .iter()
        .filter(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
        .collect();
    let (combined, single): (Vec<&Event>, Vec<&Event>) = created.iter().partition(|e| {
        e.message
            .as_deref()
            .is_some_and(|m| m.starts_with("(combined from similar events): Created pod: wide-"))
    });
    assert_eq!(single.len(), 9, "{created:#?}");
    assert!(single.iter().all(|e| {
        e.count == Some(1)
            && e.message
                .as_deref()
                .is_some_and(|m| m.starts_with("Created pod: wide-"))
    }));
    assert_eq!(combined.len(), 1, "{created:#?}");
    assert_eq!(
        combined[0].count,
        Some(16),
        "25 tokens: 9 single + 16 combined"
    );

    let trace = sim.trace_text();
    assert_eq!(
        trace
            .matches("event SuccessfulCreate ReplicaSet default/wide: Created pod: wide-")
            .count(),
        40,
        "the trace keeps every occurrence"
    );
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(sim.client(), "default");
    let any_pod = pods
        .list(&ListParams::default().labels("app=wide"))
        .await
        .expect("pods")
        .items
        .pop()
        .and_then(|p| p.metadata.name)
        .expect("a pod");
    let reasons: Vec<_> = events_of(&sim, &any_pod)
        .await
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    for r in ["Scheduled", "Pulled", "Created", "Started"] {
        assert!(reasons.iter().any(|x| x == r), "{r} in {reasons:?}");
    }
}
