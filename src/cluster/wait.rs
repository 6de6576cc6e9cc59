//! Waiting for the component pod: a kube-rs watcher on the pods (not polling) feeds a pure state
//! machine that decides when a pod is ready (Running, both init containers completed, the app
//! container running, not terminating), while a second watcher on Events reports why a pod is
//! stuck (FailedScheduling, BackOff, image pull errors).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

use super::{ClusterError, Connection};

/// How a pod looks to someone waiting for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodState {
    /// Running, init containers done, the app container running.
    Ready,
    /// Being deleted.
    Terminating,
    /// Still starting; the text says where it is (e.g. `Init:1/2`, `ContainerCreating`).
    Pending(String),
    /// Having trouble it may recover from (e.g. `ImagePullBackOff`, `CrashLoopBackOff`).
    Failing(String),
}

/// The pod a wait ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyPod {
    /// Pod name.
    pub name: String,
    /// Pod uid (a new uid means a new pod: the next push resends everything).
    pub uid: String,
    /// `containerID` of the app container's running instance: a new instance starts from the
    /// image's filesystem, so what earlier pushes extracted into its writable layer is gone.
    pub container_id: Option<String>,
}

/// What the waiter knows of one pod.
#[derive(Debug)]
struct Tracked {
    uid: String,
    state: PodState,
    created: String,
    container_id: Option<String>,
}

const BAD_WAITING: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
];

/// Decides the state of one pod; `container` is the app container's name.
pub fn assess(pod: &Pod, container: &str) -> PodState {
    if pod.metadata.deletion_timestamp.is_some() {
        return PodState::Terminating;
    }
    let Some(status) = pod.status.as_ref() else {
        return PodState::Pending("Pending".into());
    };
    let phase = status.phase.as_deref().unwrap_or("Pending");
    if phase == "Failed" || phase == "Succeeded" {
        return PodState::Failing(format!(
            "{phase}{}",
            status
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    }
    if let Some(cond) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        return PodState::Pending(format!(
            "{}{}",
            cond.reason.as_deref().unwrap_or("Unschedulable"),
            cond.message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ));
    }
    let spec_inits = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .map_or(0, Vec::len);
    let inits = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    let mut done = 0;
    for init in inits {
        let state = init.state.as_ref();
        if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            if t.exit_code == 0 {
                done += 1;
                continue;
            }
            return PodState::Failing(format!(
                "Init:{} (init container {} exited with {})",
                t.reason.as_deref().unwrap_or("Error"),
                init.name,
                t.exit_code
            ));
        }
        if let Some(reason) = state
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.as_deref())
            .filter(|r| BAD_WAITING.contains(r))
        {
            return PodState::Failing(format!("Init:{reason} (init container {})", init.name));
        }
    }
    if done < spec_inits {
        return PodState::Pending(format!("Init:{done}/{spec_inits}"));
    }
    let app = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == container);
    let Some(app) = app else {
        return PodState::Pending(phase.to_string());
    };
    let state = app.state.as_ref();
    if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
        let reason = w.reason.clone().unwrap_or_else(|| "Waiting".into());
        return if BAD_WAITING.contains(&reason.as_str()) {
            PodState::Failing(format!(
                "{reason}{}",
                w.message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ))
        } else {
            PodState::Pending(reason)
        };
    }
    if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
        return PodState::Failing(format!(
            "container {container} exited with {} ({})",
            t.exit_code,
            t.reason.as_deref().unwrap_or("Error")
        ));
    }
    if phase == "Running" && state.and_then(|s| s.running.as_ref()).is_some() {
        return PodState::Ready;
    }
    PodState::Pending(phase.to_string())
}

/// Tracks the pods a selector matches and says when one is ready.
#[derive(Debug, Default)]
pub struct PodWaiter {
    container: String,
    exclude: BTreeSet<String>,
    pods: BTreeMap<String, Tracked>,
    last_status: String,
}

impl PodWaiter {
    /// A waiter for pods whose app container is `container`, ignoring the pods in `exclude`
    /// (those that ran before a rollout).
    pub fn new(container: &str, exclude: BTreeSet<String>) -> Self {
        PodWaiter {
            container: container.to_string(),
            exclude,
            ..Default::default()
        }
    }

    /// Feeds one watcher event. Returns the ready pod when there is one, and a status line when
    /// the overall status changed.
    pub fn observe(&mut self, event: watcher::Event<Pod>) -> (Option<ReadyPod>, Option<String>) {
        match event {
            watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => self.upsert(&pod),
            watcher::Event::Delete(pod) => {
                if let Some(name) = pod.metadata.name.as_ref() {
                    self.pods.remove(name);
                }
            }
            watcher::Event::Init => self.pods.clear(),
            watcher::Event::InitDone => {}
        }
        let ready = self.ready();
        let status = self.status();
        let changed = (status != self.last_status).then(|| status.clone());
        self.last_status = status;
        (ready, changed)
    }

    fn upsert(&mut self, pod: &Pod) {
        let Some(name) = pod.metadata.name.clone() else {
            return;
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if self.exclude.contains(&uid) {
            self.pods.remove(&name);
            return;
        }
        let created = pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_default();
        let container_id = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.name == self.container))
            .and_then(|c| c.container_id.clone());
        self.pods.insert(
            name,
            Tracked {
                uid,
                state: assess(pod, &self.container),
                created,
                container_id,
            },
        );
    }

    fn ready(&self) -> Option<ReadyPod> {
        self.pods
            .iter()
            .filter(|(_, t)| t.state == PodState::Ready)
            .max_by(|a, b| (a.1.created.as_str(), a.0).cmp(&(b.1.created.as_str(), b.0)))
            .map(|(name, t)| ReadyPod {
                name: name.clone(),
                uid: t.uid.clone(),
                container_id: t.container_id.clone(),
            })
    }

    /// Uids of the pods being tracked that are not terminating.
    pub fn live_uids(&self) -> BTreeSet<String> {
        self.pods
            .values()
            .filter(|t| t.state != PodState::Terminating)
            .map(|t| t.uid.clone())
            .collect()
    }

    /// One line describing every tracked pod.
    pub fn status(&self) -> String {
        if self.pods.is_empty() {
            return "no pod yet".into();
        }
        self.pods
            .iter()
            .map(|(name, t)| {
                let s = match &t.state {
                    PodState::Ready => "Running".to_string(),
                    PodState::Terminating => "Terminating".to_string(),
                    PodState::Pending(s) | PodState::Failing(s) => s.clone(),
                };
                format!("{name}: {s}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The line to show for an Event about one of the pods, if it is worth showing: warnings
/// (FailedScheduling, BackOff, Failed ...) and image pulls.
pub fn event_line(event: &Event) -> Option<String> {
    if event.involved_object.kind.as_deref() != Some("Pod") {
        return None;
    }
    let reason = event.reason.as_deref().unwrap_or_default();
    let warning = event.type_.as_deref() == Some("Warning");
    if !warning && reason != "Pulling" {
        return None;
    }
    let count = event
        .count
        .filter(|c| *c > 1)
        .map(|c| format!(" (x{c})"))
        .unwrap_or_default();
    Some(format!(
        "{} {reason}: {}{count}",
        if warning { "⚠" } else { "•" },
        event.message.as_deref().unwrap_or_default().trim()
    ))
}

/// Waits until a pod matching `selector` is ready, reporting status changes and pod Events
/// through `report`. Gives up after `timeout` with the last known status.
pub async fn wait_for_pod(
    conn: &Connection,
    selector: &str,
    container: &str,
    timeout: Duration,
    exclude: BTreeSet<String>,
    report: &mut (dyn FnMut(&str) + Send),
) -> Result<ReadyPod, ClusterError> {
    let pods: Api<Pod> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let events: Api<Event> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let mut pod_stream = watcher(pods, watcher::Config::default().labels(selector))
        .default_backoff()
        .boxed();
    let mut event_stream = watcher(
        events,
        watcher::Config::default().fields("involvedObject.kind=Pod"),
    )
    .applied_objects()
    .boxed();
    let mut events_alive = true;
    let mut waiter = PodWaiter::new(container, exclude);
    let mut shown: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut pending: Vec<Event> = Vec::new();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            ev = pod_stream.next() => match ev {
                Some(Ok(ev)) => {
                    let (ready, status) = waiter.observe(ev);
                    if let Some(ready) = ready {
                        return Ok(ready);
                    }
                    if let Some(status) = status {
                        tracing::debug!("pods: {status}");
                    }
                    let live = waiter.live_uids();
                    let (now, later): (Vec<Event>, Vec<Event>) = std::mem::take(&mut pending)
                        .into_iter()
                        .partition(|e| e.involved_object.uid.as_ref().is_some_and(|u| live.contains(u)));
                    pending = later;
                    for e in now {
                        show_event(&e, &mut shown, report);
                    }
                }
                Some(Err(e)) => tracing::debug!("pod watch: {e}"),
                None => break,
            },
            ev = event_stream.next(), if events_alive => match ev {
                Some(Ok(e)) => {
                    let uid = e.involved_object.uid.clone().unwrap_or_default();
                    if waiter.live_uids().contains(&uid) {
                        show_event(&e, &mut shown, report);
                    } else if pending.len() < 256 {
                        pending.push(e);
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!("event watch stopped: {e}");
                    events_alive = false;
                }
                None => events_alive = false,
            },
            _ = &mut deadline => break,
        }
    }
    Err(ClusterError::PodTimeout {
        waited: timeout,
        selector: selector.to_string(),
        status: waiter.status(),
    })
}

fn show_event(
    e: &Event,
    shown: &mut BTreeSet<(String, i32)>,
    report: &mut (dyn FnMut(&str) + Send),
) {
    let key = (
        e.metadata.uid.clone().unwrap_or_default(),
        e.count.unwrap_or(1),
    );
    if shown.insert(key)
        && let Some(line) = event_line(e)
    {
        report(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, uid: &str, status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "uid": uid, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {
                "initContainers": [{"name": "copy-files-to-volume"}, {"name": "copy-supervisord"}],
                "containers": [{"name": "web-app"}]
            },
            "status": status
        }))
        .unwrap()
    }

    fn terminated(name: &str, code: i32) -> serde_json::Value {
        json!({"name": name, "image": "i", "imageID": "", "ready": false, "restartCount": 0,
               "state": {"terminated": {"exitCode": code, "reason": if code == 0 {"Completed"} else {"Error"}}}})
    }

    fn app(state: serde_json::Value) -> serde_json::Value {
        json!([{"name": "web-app", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                "containerID": "odo-sim://web-app-0", "state": state}])
    }

    #[test]
    fn pending_through_init_to_ready() {
        let unscheduled = pod(
            "p",
            "u1",
            json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes are available"}]}),
        );
        assert_eq!(
            assess(&unscheduled, "web-app"),
            PodState::Pending("Unschedulable: 0/1 nodes are available".into())
        );

        let init1 = pod(
            "p",
            "u1",
            json!({"phase": "Pending", "initContainerStatuses": [
            terminated("copy-files-to-volume", 0),
            {"name": "copy-supervisord", "image": "i", "imageID": "", "ready": false, "restartCount": 0, "state": {"running": {}}}]}),
        );
        assert_eq!(
            assess(&init1, "web-app"),
            PodState::Pending("Init:1/2".into())
        );

        let creating = pod(
            "p",
            "u1",
            json!({"phase": "Pending",
            "initContainerStatuses": [terminated("copy-files-to-volume", 0), terminated("copy-supervisord", 0)],
            "containerStatuses": app(json!({"waiting": {"reason": "ContainerCreating"}}))}),
        );
        assert_eq!(
            assess(&creating, "web-app"),
            PodState::Pending("ContainerCreating".into())
        );

        let running = pod(
            "p",
            "u1",
            json!({"phase": "Running",
            "initContainerStatuses": [terminated("copy-files-to-volume", 0), terminated("copy-supervisord", 0)],
            "containerStatuses": app(json!({"running": {"startedAt": "2026-01-01T00:00:01Z"}}))}),
        );
        assert_eq!(assess(&running, "web-app"), PodState::Ready);
    }

    #[test]
    fn running_without_completed_inits_is_not_ready() {
        let p = pod(
            "p",
            "u1",
            json!({"phase": "Running",
            "initContainerStatuses": [terminated("copy-files-to-volume", 0)],
            "containerStatuses": app(json!({"running": {}}))}),
        );
        assert_eq!(assess(&p, "web-app"), PodState::Pending("Init:1/2".into()));
    }

    #[test]
    fn failures_are_reported() {
        let pull = pod(
            "p",
            "u1",
            json!({"phase": "Pending",
            "initContainerStatuses": [terminated("copy-files-to-volume", 0), terminated("copy-supervisord", 0)],
            "containerStatuses": app(json!({"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}))}),
        );
        assert_eq!(
            assess(&pull, "web-app"),
            PodState::Failing("ImagePullBackOff: no such image".into())
        );
        let init_err = pod(
            "p",
            "u1",
            json!({"phase": "Pending",
            "initContainerStatuses": [terminated("copy-files-to-volume", 2)]}),
        );
        assert!(
            matches!(assess(&init_err, "web-app"), PodState::Failing(s) if s.contains("exited with 2"))
        );
    }

    #[test]
    fn waiter_ignores_terminating_and_picks_new_pod() {
        let ready_status = json!({"phase": "Running",
            "initContainerStatuses": [terminated("copy-files-to-volume", 0), terminated("copy-supervisord", 0)],
            "containerStatuses": app(json!({"running": {}}))});
        let mut old = pod("old", "u1", ready_status.clone());
        old.metadata.deletion_timestamp = old.metadata.creation_timestamp.clone();
        let mut w = PodWaiter::new("web-app", BTreeSet::new());
        let (ready, status) = w.observe(watcher::Event::InitApply(old));
        assert_eq!(ready, None);
        assert_eq!(status.as_deref(), Some("old: Terminating"));
        let (ready, _) = w.observe(watcher::Event::Apply(pod(
            "new",
            "u2",
            json!({"phase": "Pending"}),
        )));
        assert_eq!(ready, None);
        assert_eq!(w.live_uids(), BTreeSet::from(["u2".to_string()]));
        let (ready, _) = w.observe(watcher::Event::Apply(pod("new", "u2", ready_status)));
        assert_eq!(
            ready,
            Some(ReadyPod {
                name: "new".into(),
                uid: "u2".into(),
                container_id: Some("odo-sim://web-app-0".into()),
            })
        );
    }

    #[test]
    fn excluded_pods_never_count() {
        let ready_status = json!({"phase": "Running",
            "initContainerStatuses": [terminated("copy-files-to-volume", 0), terminated("copy-supervisord", 0)],
            "containerStatuses": app(json!({"running": {}}))});
        let mut w = PodWaiter::new("web-app", BTreeSet::from(["old".to_string()]));
        let (ready, _) = w.observe(watcher::Event::InitApply(pod(
            "p1",
            "old",
            ready_status.clone(),
        )));
        assert_eq!(ready, None);
        let (ready, _) = w.observe(watcher::Event::Apply(pod("p2", "new", ready_status)));
        assert_eq!(ready.map(|r| r.uid), Some("new".to_string()));
    }

    #[test]
    fn unchanged_status_is_not_repeated() {
        let mut w = PodWaiter::new("web-app", BTreeSet::new());
        let (_, first) = w.observe(watcher::Event::Apply(pod(
            "p",
            "u",
            json!({"phase": "Pending"}),
        )));
        let (_, second) = w.observe(watcher::Event::Apply(pod(
            "p",
            "u",
            json!({"phase": "Pending"}),
        )));
        assert!(first.is_some());
        assert!(second.is_none());
    }

    #[test]
    fn event_lines() {
        let ev = |ty: &str, reason: &str, kind: &str| -> Event {
            serde_json::from_value(
                json!({"metadata": {"name": "e"}, "involvedObject": {"kind": kind, "name": "p"},
                "type": ty, "reason": reason, "message": "0/1 nodes are available ", "count": 3}),
            )
            .unwrap()
        };
        assert_eq!(
            event_line(&ev("Warning", "FailedScheduling", "Pod")).as_deref(),
            Some("⚠ FailedScheduling: 0/1 nodes are available (x3)")
        );
        assert!(event_line(&ev("Normal", "Pulling", "Pod")).is_some());
        assert!(event_line(&ev("Normal", "Started", "Pod")).is_none());
        assert!(event_line(&ev("Warning", "FailedCreate", "ReplicaSet")).is_none());
    }
}
