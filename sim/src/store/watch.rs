//! Watches: registration (with resume from history, initial events and the
//! `k8s.io/initial-events-end` bookmark), fan-out of committed changes, and bookmarks.
//!
//! A watch gets a bounded channel. A watcher that falls too far behind is closed rather than
//! buffered without limit, exactly like a real API server does with a slow client; the client
//! resumes from the last resourceVersion it saw (or relists after a 410).

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use super::{EventType, FieldSelector, Inner, LabelSelector, StoreEvent, meta};
use crate::error::{ApiError, ApiResult};
use crate::resources::TypeId;

/// How many undelivered events a watch may have before it is closed.
pub const WATCH_BUFFER: usize = 8192;

/// Query options of a watch.
#[derive(Debug, Clone, Default)]
pub struct WatchQuery {
    /// Parsed `labelSelector`.
    pub labels: LabelSelector,
    /// Parsed `fieldSelector`.
    pub fields: FieldSelector,
    /// `resourceVersion`: None/"" = most recent with initial state, "0" = any with initial
    /// state, otherwise resume after that version.
    pub resource_version: Option<String>,
    /// `sendInitialEvents=true`.
    pub send_initial_events: bool,
    /// `allowWatchBookmarks=true`.
    pub allow_bookmarks: bool,
}

/// One item of a watch stream.
#[derive(Debug, Clone)]
pub enum WatchItem {
    /// ADDED / MODIFIED / DELETED with the object.
    Event(EventType, Arc<Value>),
    /// BOOKMARK at a resourceVersion; `initial_end` marks the end of initial events.
    Bookmark(u64, bool),
    /// ERROR with a Status (410 Expired for a compacted version).
    Error(ApiError),
}

/// An open watch: items to send first, then the live channel.
#[derive(Debug)]
pub struct Watch {
    /// Items to deliver before anything from `rx`.
    pub initial: Vec<WatchItem>,
    /// Live events, in commit order; closed when the server drops the watch.
    pub rx: mpsc::Receiver<WatchItem>,
}

pub(crate) struct Watcher {
    tid: TypeId,
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    bookmarks: bool,
    tx: mpsc::Sender<WatchItem>,
}

impl Watcher {
    fn matches(&self, obj: &Value) -> bool {
        self.ns.as_deref().is_none_or(|n| meta::namespace(obj) == n)
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }

    /// What this watcher should see of an event, if anything (selector transitions turn
    /// modifications into ADDED or DELETED, as on a real server).
    fn translate(&self, event: &StoreEvent) -> Option<WatchItem> {
        if event.type_id != self.tid {
            return None;
        }
        let now = self.matches(&event.object);
        let before = event.old.as_ref().is_some_and(|o| self.matches(o));
        let et = match (event.event_type, before, now) {
            (EventType::Added, _, true) => EventType::Added,
            (EventType::Modified, true, true) => EventType::Modified,
            (EventType::Modified, false, true) => EventType::Added,
            (EventType::Modified, true, false) => EventType::Deleted,
            (EventType::Deleted, true, _) => EventType::Deleted,
            _ => return None,
        };
        Some(WatchItem::Event(et, event.object.clone()))
    }
}

pub(super) fn open(
    inner: &mut Inner,
    tid: TypeId,
    ns: Option<&str>,
    q: &WatchQuery,
) -> ApiResult<Watch> {
    let rt = inner.registry.get(tid).clone();
    if !rt.has_verb("watch") {
        return Err(ApiError::method_not_allowed("WATCH", &rt.plural));
    }
    let ns = if rt.namespaced {
        ns.map(str::to_string)
    } else {
        None
    };
    let (tx, rx) = mpsc::channel(WATCH_BUFFER);
    let watcher = Watcher {
        tid,
        ns,
        labels: q.labels.clone(),
        fields: q.fields.clone(),
        bookmarks: q.allow_bookmarks,
        tx,
    };
    let mut initial = Vec::new();
    let rv_param = q.resource_version.as_deref().unwrap_or("");
    if q.send_initial_events || rv_param.is_empty() || rv_param == "0" {
        for obj in inner.objects_of(tid).values() {
            if watcher.matches(obj) {
                initial.push(WatchItem::Event(EventType::Added, obj.clone()));
            }
        }
        if q.send_initial_events {
            initial.push(WatchItem::Bookmark(inner.rv(), true));
        }
    } else {
        let rv: u64 = rv_param.parse().map_err(|_| {
            ApiError::bad_request(format!("invalid resource version: {rv_param:?}"))
        })?;
        match inner.history_since(rv) {
            Some(events) => {
                initial.extend(events.iter().filter_map(|e| watcher.translate(e)));
            }
            None => {
                initial.push(WatchItem::Error(ApiError::expired(format!(
                    "too old resource version: {rv} ({})",
                    inner.rv()
                ))));
                drop(watcher);
                return Ok(Watch { initial, rx });
            }
        }
    }
    inner.watchers_mut().push(watcher);
    Ok(Watch { initial, rx })
}

pub(super) fn dispatch(inner: &mut Inner, event: &StoreEvent) {
    inner.watchers_mut().retain(|w| match w.translate(event) {
        None => !w.tx.is_closed(),
        Some(item) => w.tx.try_send(item).is_ok(),
    });
}

impl super::Store {
    /// Sends a BOOKMARK at the current resourceVersion to every watch that asked for them.
    /// Queued after all events already sent, so resuming from it never skips an event.
    pub fn send_bookmarks(&self) {
        let mut inner = self.lock();
        let rv = inner.rv();
        inner.watchers_mut().retain(|w| {
            if w.bookmarks {
                w.tx.try_send(WatchItem::Bookmark(rv, false)).is_ok()
            } else {
                !w.tx.is_closed()
            }
        });
    }

    /// The number of open watches (for tests and metrics).
    pub fn watch_count(&self) -> usize {
        self.lock().watchers_mut().len()
    }
}
