//! Watch responses: a chunked stream of JSON watch events, one per line, ending at the
//! client's `timeoutSeconds` or when the store drops the watch.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::resources::ResourceType;
use crate::store::{Watch, WatchItem};

/// Turns each watched object into the representation the client negotiated (a Table row).
pub type Transform = std::sync::Arc<dyn Fn(&Value) -> Value + Send + Sync>;

/// Which watched objects the client may see (the others' events are not sent).
pub type Filter = std::sync::Arc<dyn Fn(&Value) -> bool + Send + Sync>;

fn shown(item: &WatchItem, keep: Option<&Filter>) -> bool {
    match (item, keep) {
        (WatchItem::Event(_, obj), Some(f)) => f(obj),
        _ => true,
    }
}

fn encode(item: &WatchItem, rt: &ResourceType, tf: Option<&Transform>) -> Bytes {
    let v = match item {
        WatchItem::Event(t, obj) => match tf {
            Some(f) => json!({"type": t, "object": f(obj)}),
            None => json!({"type": t, "object": **obj}),
        },
        WatchItem::Bookmark(rv, end) => {
            let mut metadata = json!({"resourceVersion": rv.to_string()});
            if *end {
                metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            json!({"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": metadata}})
        }
        WatchItem::Error(e) => json!({"type": "ERROR", "object": e.to_status()}),
    };
    let mut bytes = serde_json::to_vec(&v).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// The streaming response for an open watch.
pub fn respond(
    w: Watch,
    rt: &ResourceType,
    timeout_seconds: Option<u64>,
    tf: Option<Transform>,
) -> Response {
    respond_filtered(w, rt, timeout_seconds, tf, None)
}

/// Like [`respond`], sending only the events of objects `keep` accepts.
pub fn respond_filtered(
    w: Watch,
    rt: &ResourceType,
    timeout_seconds: Option<u64>,
    tf: Option<Transform>,
    keep: Option<Filter>,
) -> Response {
    let rt = rt.clone();
    let rt2 = rt.clone();
    let tf2 = tf.clone();
    let keep2 = keep.clone();
    let initial = futures::stream::iter(w.initial)
        .filter(move |i| std::future::ready(shown(i, keep.as_ref())))
        .map(move |i| encode(&i, &rt, tf.as_ref()));
    let live = tokio_stream::wrappers::ReceiverStream::new(w.rx)
        .filter(move |i| std::future::ready(shown(i, keep2.as_ref())))
        .map(move |i| encode(&i, &rt2, tf2.as_ref()));
    let all = initial.chain(live);
    let body = match timeout_seconds.filter(|s| *s > 0) {
        Some(secs) => {
            let deadline = tokio::time::sleep(Duration::from_secs(secs));
            super::streaming_body(all.take_until(deadline))
        }
        None => super::streaming_body(all),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache, private"),
        ],
        body,
    )
        .into_response()
}
