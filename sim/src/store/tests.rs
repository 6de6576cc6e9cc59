//! The store's fast paths against the general ones: a simulator-recorded Event created
//! without admission equals the same body created by a client, a status write gives the
//! object and watch events a full update would, and the owner index follows owner changes
//! when a write skips re-indexing unchanged owners.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{EventType, Part, Store, StoreConfig, WriteOptions, meta};
use crate::clock::ManualTime;

/// The (type, resourceVersion, object) of every change a store commits.
type Seen = Arc<Mutex<Vec<(EventType, u64, Value)>>>;

/// A store and what it commits.
fn store() -> (Store, Seen) {
    let store = Store::new(
        StoreConfig {
            seed: 7,
            ..StoreConfig::default()
        },
        Arc::new(ManualTime::default()),
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    store.add_hook(Arc::new(move |e| {
        if let Ok(mut v) = sink.lock() {
            v.push((e.event_type, e.rv, (*e.object).clone()));
        }
    }));
    (store, seen)
}

fn tid(store: &Store, plural: &str) -> usize {
    store.resolve("", "v1", plural).expect("served").0
}

fn event_body(n: u32) -> Value {
    json!({
        "metadata": {"name": format!("web-{n}.17a"), "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": format!("web-{n}"),
            "uid": "u-1", "apiVersion": "v1", "resourceVersion": "3"},
        "reason": "Started",
        "message": "Started container web",
        "source": {"component": "kubelet"},
        "firstTimestamp": "2024-01-01T00:00:00Z",
        "lastTimestamp": "2024-01-01T00:00:00Z",
        "count": 1,
        "type": "Normal",
        "reportingComponent": "kubelet",
        "reportingInstance": "",
    })
}

#[test]
fn recorded_event_create_equals_client_create() {
    let (full, full_seen) = store();
    let (fast, fast_seen) = store();
    let opts = WriteOptions::default();
    for n in 0..3 {
        let a = full
            .create(tid(&full, "events"), "default", event_body(n), &opts)
            .expect("client create");
        let b = fast
            .create_recorded_event(tid(&fast, "events"), "default", event_body(n), &opts)
            .expect("recorded create");
        assert_eq!(a, b, "event {n}");
        assert!(!meta::uid(&b).is_empty() && !meta::resource_version(&b).is_empty());
    }
    let (a, b) = (
        full_seen.lock().expect("lock"),
        fast_seen.lock().expect("lock"),
    );
    assert_eq!(a.len(), 3);
    assert_eq!(*a, *b, "the watch events agree");
    // The names the store refuses are still refused, and a missing namespace is still 404.
    let mut bad = event_body(9);
    bad["metadata"]["name"] = json!("Not_A_Name");
    let err = fast
        .create_recorded_event(tid(&fast, "events"), "default", bad, &opts)
        .expect_err("invalid name");
    assert_eq!(err.code, 422);
    let mut elsewhere = event_body(10);
    elsewhere["metadata"]["namespace"] = json!("nowhere");
    let err = fast
        .create_recorded_event(tid(&fast, "events"), "nowhere", elsewhere, &opts)
        .expect_err("no namespace");
    assert_eq!(err.code, 404);
}

fn pod(name: &str, owner_uid: &str) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"app": "web"}, "finalizers": ["example.com/keep"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                "uid": owner_uid}]},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    })
}

#[test]
fn status_write_keeps_stored_metadata_and_owner_index() {
    let (store, seen) = store();
    let pods = tid(&store, "pods");
    let kubelet = WriteOptions {
        field_manager: Some("kubelet".into()),
        ..WriteOptions::default()
    };
    store
        .create(
            pods,
            "default",
            pod("p", "owner-a"),
            &WriteOptions::default(),
        )
        .expect("create");
    let uids = |store: &Store, owner: &str| -> Vec<String> {
        store
            .lock()
            .dependents_of(owner)
            .iter()
            .map(|(_, o)| meta::name(o).to_string())
            .collect()
    };
    assert_eq!(uids(&store, "owner-a"), ["p"]);
    let current = store.get(pods, "default", "p").expect("get");
    // The body's metadata is ignored by a status write; only the status counts.
    let mut body = pod("p", "owner-b");
    body["metadata"]["labels"] = json!({"app": "other"});
    body["metadata"]["finalizers"] = json!(["example.com/other"]);
    body["status"] = json!({"phase": "Running", "qosClass": "BestEffort"});
    let written = store
        .update(pods, "default", "p", body, Part::Status, &kubelet)
        .expect("status write");
    for f in [
        "labels",
        "finalizers",
        "ownerReferences",
        "uid",
        "generation",
    ] {
        assert_eq!(written["metadata"][f], current["metadata"][f], "{f}");
    }
    assert_eq!(written["status"]["phase"], "Running");
    assert_eq!(written["spec"], current["spec"]);
    let managers: Vec<&str> = written["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert_eq!(managers, ["unknown", "kubelet"]);
    assert_eq!(
        written["metadata"]["managedFields"][1]["fieldsV1"],
        json!({"f:status": {"f:phase": {}}})
    );
    assert_eq!(
        uids(&store, "owner-a"),
        ["p"],
        "a status write keeps the index"
    );
    // A main-resource update that changes the owner moves the index entry.
    let mut moved = (*written).clone();
    moved["metadata"]["ownerReferences"][0]["uid"] = json!("owner-b");
    store
        .update(
            pods,
            "default",
            "p",
            moved,
            Part::Main,
            &WriteOptions::default(),
        )
        .expect("owner change");
    assert!(uids(&store, "owner-a").is_empty());
    assert_eq!(uids(&store, "owner-b"), ["p"]);
    let seen = seen.lock().expect("lock");
    let last: Vec<EventType> = seen.iter().rev().take(3).map(|e| e.0).collect();
    assert_eq!(
        last,
        [EventType::Modified, EventType::Modified, EventType::Added]
    );
}
