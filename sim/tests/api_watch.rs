//! Watches against the simulator: raw watch semantics, and a kube-rs reflector that must stay
//! consistent across a forced 410 and across deletes between its list and its watch.

mod common;

use std::time::Duration;

use common::{MODES, harness};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;

fn cm(name: &str, v: &str) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"app": "w"}}, "data": {"v": v}}),
    )
    .expect("cm")
}

#[tokio::test]
async fn watch_resumes_from_a_resource_version_and_expires_when_compacted() {
    for mode in MODES {
        let h = harness(mode).await;
        let cms: Api<ConfigMap> = Api::namespaced(h.client.clone(), "default");
        let a = cms
            .create(&PostParams::default(), &cm("a", "1"))
            .await
            .expect("a");
        let rv = a.metadata.resource_version.clone().expect("rv");
        cms.create(&PostParams::default(), &cm("b", "1"))
            .await
            .expect("b");
        cms.delete("a", &DeleteParams::default())
            .await
            .expect("delete");

        let stream = cms
            .watch(&WatchParams::default().timeout(5), &rv)
            .await
            .expect("watch");
        let events: Vec<_> = stream
            .try_filter(|e| futures::future::ready(!matches!(e, WatchEvent::Bookmark(_))))
            .take(2)
            .try_collect()
            .await
            .expect("events");
        match (&events[0], &events[1]) {
            (WatchEvent::Added(b), WatchEvent::Deleted(a)) => {
                assert_eq!(b.metadata.name.as_deref(), Some("b"), "{mode:?}");
                assert_eq!(a.metadata.name.as_deref(), Some("a"));
            }
            other => panic!("unexpected events {other:?}"),
        }

        h.sim.store().compact();
        let mut stream = cms
            .watch(&WatchParams::default().timeout(5), &rv)
            .await
            .expect("watch")
            .boxed();
        match stream.next().await {
            Some(Ok(WatchEvent::Error(e))) => {
                assert_eq!((e.code, e.reason.as_str()), (410, "Expired"))
            }
            other => panic!("expected a 410 ERROR event, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn label_selector_transitions_become_added_and_deleted() {
    for mode in MODES {
        let h = harness(mode).await;
        let cms: Api<ConfigMap> = Api::namespaced(h.client.clone(), "default");
        let c = cms
            .create(&PostParams::default(), &cm("x", "1"))
            .await
            .expect("x");
        let rv = c.metadata.resource_version.clone().expect("rv");
        let stream = cms
            .watch(&WatchParams::default().labels("app=w").timeout(5), &rv)
            .await
            .expect("watch");
        let pp = kube::api::PatchParams::default();
        cms.patch(
            "x",
            &pp,
            &kube::api::Patch::Merge(json!({"metadata": {"labels": {"app": "other"}}})),
        )
        .await
        .expect("unlabel");
        cms.patch(
            "x",
            &pp,
            &kube::api::Patch::Merge(json!({"metadata": {"labels": {"app": "w"}}})),
        )
        .await
        .expect("relabel");
        let events: Vec<_> = stream
            .try_filter(|e| futures::future::ready(!matches!(e, WatchEvent::Bookmark(_))))
            .take(2)
            .try_collect()
            .await
            .expect("events");
        assert!(
            matches!(events[0], WatchEvent::Deleted(_)),
            "{mode:?} {events:?}"
        );
        assert!(matches!(events[1], WatchEvent::Added(_)), "{events:?}");
    }
}

#[tokio::test]
async fn send_initial_events_ends_with_the_bookmark() {
    for mode in MODES {
        let h = harness(mode).await;
        let cms: Api<ConfigMap> = Api::namespaced(h.client.clone(), "default");
        cms.create(&PostParams::default(), &cm("a", "1"))
            .await
            .expect("a");
        cms.create(&PostParams::default(), &cm("b", "1"))
            .await
            .expect("b");
        let wp = WatchParams::streaming_lists().timeout(5);
        let events: Vec<_> = cms
            .watch(&wp, "")
            .await
            .expect("watch")
            .take(3)
            .try_collect()
            .await
            .expect("events");
        assert!(
            matches!(events[0], WatchEvent::Added(_)) && matches!(events[1], WatchEvent::Added(_)),
            "{mode:?}"
        );
        match &events[2] {
            WatchEvent::Bookmark(b) => {
                assert_eq!(
                    b.metadata
                        .annotations
                        .get("k8s.io/initial-events-end")
                        .map(String::as_str),
                    Some("true")
                );
            }
            other => panic!("expected the initial-events-end bookmark, got {other:?}"),
        }
    }
}

/// The reflector's cache, as sorted (name, data.v) pairs.
fn cache(store: &reflector::Store<ConfigMap>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = store
        .state()
        .iter()
        .map(|c| {
            (
                c.metadata.name.clone().unwrap_or_default(),
                c.data
                    .as_ref()
                    .and_then(|d| d.get("v").cloned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn server_state(cms: &Api<ConfigMap>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = cms
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|c| {
            (
                c.metadata.name.unwrap_or_default(),
                c.data.and_then(|d| d.get("v").cloned()).unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn converge(store: &reflector::Store<ConfigMap>, cms: &Api<ConfigMap>) {
    let want = server_state(cms).await;
    for _ in 0..200 {
        if cache(store) == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "reflector never converged: cache {:?} vs server {want:?}",
        cache(store)
    );
}

#[tokio::test]
async fn reflector_stays_consistent_across_410_and_deletes() {
    for mode in MODES {
        let h = harness(mode).await;
        let cms: Api<ConfigMap> = Api::namespaced(h.client.clone(), "default");
        for i in 0..5 {
            cms.create(&PostParams::default(), &cm(&format!("c{i}"), "0"))
                .await
                .expect("create");
        }
        let (reader, writer) = reflector::store();
        let stream = reflector(
            writer,
            watcher(cms.clone(), watcher::Config::default().page_size(2)),
        )
        .default_backoff()
        .touched_objects();
        let task = tokio::spawn(async move {
            let mut s = std::pin::pin!(stream);
            while s.next().await.is_some() {}
        });
        reader.wait_until_ready().await.expect("ready");
        converge(&reader, &cms).await;

        // Deletes and updates while the watch is open.
        cms.delete("c0", &DeleteParams::default())
            .await
            .expect("delete");
        cms.replace("c1", &PostParams::default(), &{
            let mut c = cms.get("c1").await.expect("get");
            c.data = Some([("v".to_string(), "1".to_string())].into());
            c
        })
        .await
        .expect("update");
        converge(&reader, &cms).await;

        // Force a 410: history compacted and every watch dropped, then more changes, including
        // a delete, before the reflector relists.
        h.sim.store().compact();
        h.sim.store().drop_watches();
        cms.delete("c2", &DeleteParams::default())
            .await
            .expect("delete");
        cms.create(&PostParams::default(), &cm("c9", "9"))
            .await
            .expect("create");
        converge(&reader, &cms).await;
        assert!(
            !cache(&reader).iter().any(|(n, _)| n == "c2"),
            "{mode:?}: deleted object lingers"
        );
        task.abort();
    }
}
