//! The per-pod state machine: sandbox and IP, image pulls, init containers strictly in order,
//! app containers after, restart policies with back-off, readiness delays, graceful stop.
//!
//! [`sync`] is idempotent: it looks at the pod (from the cache) and the kubelet's own record
//! of its containers, takes every step that is possible now, schedules timers for what
//! happens later, and writes the resulting status when it changed.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use rand::RngCore;
use serde_json::Value;

use super::lifecycle::{restart, terminate, try_start};
use super::{Backoff, ContainerId, ExitReport};
use crate::cluster::{Timer, World};
use crate::controllers::cache::Work;
use crate::json_ptr::Ptr;
use crate::store::{ObjKey, Part, WriteOptions, meta};

/// A container's state as the kubelet tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CState {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        since: Timestamp,
    },
    Terminated(Term),
}

/// How a container instance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Term {
    pub code: i32,
    pub reason: String,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub id: String,
}

/// One container of a pod.
#[derive(Debug, Clone)]
pub(crate) struct Ctr {
    pub name: String,
    pub spec: Value,
    pub image: String,
    pub instance: u32,
    pub restarts: u32,
    pub state: CState,
    pub last: Option<Term>,
    pub backoff: Backoff,
    /// When the current restart back-off ends (status shows CrashLoopBackOff until then).
    pub backoff_until: Option<Timestamp>,
    pub pull_backoff: Backoff,
    pub pull_failed_at: Option<Timestamp>,
    pub pulling: bool,
    pub image_ok: bool,
    pub ready_at: Option<Timestamp>,
    pub started_once: bool,
    /// Result of the last readiness probe (true when the container has none).
    pub probe_ok: bool,
    /// Startup and liveness probe state of the current instance.
    pub probes: super::probes::ProbeState,
}

impl Ctr {
    fn new(spec: &Value) -> Self {
        Self {
            name: spec
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            image: spec
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            spec: spec.clone(),
            instance: 0,
            restarts: 0,
            state: CState::Waiting {
                reason: "ContainerCreating".into(),
                message: None,
            },
            last: None,
            backoff: Backoff::default(),
            backoff_until: None,
            pull_backoff: Backoff::default(),
            pull_failed_at: None,
            pulling: false,
            image_ok: false,
            ready_at: None,
            started_once: false,
            probe_ok: true,
            probes: super::probes::ProbeState::fresh(spec),
        }
    }

    pub fn running(&self) -> bool {
        matches!(self.state, CState::Running { .. })
    }

    pub fn pull_always(&self) -> bool {
        self.spec.get("imagePullPolicy").and_then(Value::as_str) == Some("Always")
    }
}

/// The restart policy of a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    Always,
    OnFailure,
    Never,
}

/// The kubelet's record of one pod.
#[derive(Debug, Clone)]
pub(crate) struct PodRt {
    pub uid: String,
    pub node: String,
    pub ip: Option<(String, u32)>,
    pub start: Timestamp,
    pub policy: Policy,
    pub init: Vec<Ctr>,
    pub app: Vec<Ctr>,
    pub terminating: bool,
    /// Set by a kill fault: the next exit of that container reports this reason.
    pub oom: BTreeSet<String>,
}

/// Per-node kubelet state.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeRt {
    pub up: bool,
    pub images: BTreeSet<String>,
    pub ips: BTreeSet<u32>,
    pub epoch: u64,
}

/// All pods and nodes the kubelets know.
#[derive(Debug, Default)]
pub(crate) struct Kubelet {
    /// Only looked up: the kubelet reaches a pod through its key.
    pub pods: crate::lookup::LookupMap<ObjKey, PodRt>,
    pub nodes: BTreeMap<String, NodeRt>,
}

impl Kubelet {
    /// The node record, created Ready on first use.
    pub fn node(&mut self, name: &str) -> &mut NodeRt {
        self.nodes
            .entry(name.to_string())
            .or_insert_with(|| NodeRt {
                up: true,
                ..NodeRt::default()
            })
    }

    /// Whether a node's kubelet is running.
    pub fn node_up(&self, name: &str) -> bool {
        self.nodes.get(name).is_none_or(|n| n.up)
    }
}

fn node_index(name: &str, fallback: usize) -> u32 {
    name.rsplit('-')
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(fallback as u32 + 1)
}

fn policy_of(pod: &Value) -> Policy {
    match pod.ptr("/spec/restartPolicy").and_then(Value::as_str) {
        Some("Never") => Policy::Never,
        Some("OnFailure") => Policy::OnFailure,
        _ => Policy::Always,
    }
}

pub(super) fn cid(key: &ObjKey, rt: &PodRt, init: bool, i: usize) -> ContainerId {
    let c = if init { &rt.init[i] } else { &rt.app[i] };
    ContainerId {
        namespace: key.0.clone(),
        pod: key.1.clone(),
        pod_uid: rt.uid.clone(),
        container: c.name.clone(),
        instance: c.instance,
        init,
    }
}

/// Brings one pod forward (the kubelet's syncPod).
pub(crate) fn sync(w: &mut World<'_>, key: &ObjKey) {
    let pod = w.cache().pods.get(key).cloned();
    let Some(pod) = pod else {
        forget(w, key);
        return;
    };
    let node = pod
        .ptr("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if node.is_empty() {
        return;
    }
    if w.st
        .kubelet
        .pods
        .get(key)
        .is_some_and(|r| r.uid != meta::uid(&pod))
    {
        forget(w, key);
    }
    if !w.st.kubelet.node_up(&node) {
        return;
    }
    let mut rt = match w.st.kubelet.pods.remove(key) {
        Some(rt) => rt,
        None => {
            if pod
                .ptr("/status/phase")
                .and_then(Value::as_str)
                .is_some_and(|p| p == "Succeeded" || p == "Failed")
            {
                return;
            }
            new_pod(w, key, &pod, &node)
        }
    };
    if meta::is_deleting(&pod) {
        let done = terminate(w, key, &pod, &mut rt);
        if done {
            finish_delete(w, key, &pod, &rt);
            return;
        }
        w.st.kubelet.pods.insert(key.clone(), rt);
        return;
    }
    step(w, key, &pod, &mut rt);
    let status = super::status::render(w, &pod, &rt);
    w.st.kubelet.pods.insert(key.clone(), rt);
    write_status(w, key, &pod, status);
}

fn new_pod(w: &mut World<'_>, key: &ObjKey, pod: &Value, node: &str) -> PodRt {
    let fallback = w.st.kubelet.nodes.len();
    let host_net = pod.ptr("/spec/hostNetwork").and_then(Value::as_bool) == Some(true);
    let idx = node_index(node, fallback);
    let ip = if host_net {
        None
    } else {
        let n = w.st.kubelet.node(node);
        let used = n.ips.len() as u32;
        let mut pick = None;
        if used < 253 {
            let start = w.st.rng.next_u32() % 253;
            pick = (0..253)
                .map(|o| 2 + (start + o) % 253)
                .find(|c| !w.st.kubelet.node(node).ips.contains(c));
        }
        pick.map(|host| {
            w.st.kubelet.node(node).ips.insert(host);
            (format!("10.244.{}.{}", idx.min(255), host), host)
        })
    };
    w.st.sched.assume(key, node, pod);
    let mut rt = PodRt {
        uid: meta::uid(pod).to_string(),
        node: node.to_string(),
        ip,
        start: w.now,
        policy: policy_of(pod),
        init: pod
            .ptr("/spec/initContainers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().map(Ctr::new).collect())
            .unwrap_or_default(),
        app: pod
            .ptr("/spec/containers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().map(Ctr::new).collect())
            .unwrap_or_default(),
        terminating: false,
        oom: BTreeSet::new(),
    };
    let rebooted = resume_after_reboot(pod, "/status/initContainerStatuses", &mut rt.init)
        | resume_after_reboot(pod, "/status/containerStatuses", &mut rt.app);
    if rebooted {
        w.trace(|| format!("resume {}/{} after a kubelet restart", key.0, key.1));
    }
    let ip = rt.ip.as_ref().map(|i| i.0.clone()).unwrap_or_default();
    w.trace(|| format!("sandbox {}/{} on {node} ip {ip}", key.0, key.1));
    rt
}

/// A pod the kubelet meets with containers that already ran (a simulator restored from its
/// state directory: the node rebooted under it) restarts them as new instances, as a real
/// kubelet does after a reboot: each that ran counts one more restart and gets a new
/// `containerID`. Returns whether any container had run.
fn resume_after_reboot(pod: &Value, statuses: &str, ctrs: &mut [Ctr]) -> bool {
    let mut any = false;
    for st in pod
        .ptr(statuses)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if st.get("containerID").and_then(Value::as_str).is_none() {
            continue;
        }
        let name = st.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some(c) = ctrs.iter_mut().find(|c| c.name == name) else {
            continue;
        };
        let before = st
            .get("restartCount")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0);
        c.restarts = before.saturating_add(1);
        c.instance = c.restarts;
        any = true;
    }
    any
}

fn forget(w: &mut World<'_>, key: &ObjKey) {
    if let Some(rt) = w.st.kubelet.pods.remove(key) {
        if let Some((_, host)) = rt.ip {
            w.st.kubelet.node(&rt.node).ips.remove(&host);
        }
        w.runtime.remove_pod(&rt.uid);
        w.trace(|| format!("pod-removed {}/{}", key.0, key.1));
    }
    w.st.sched.forget(key);
    w.enqueue(Work::Reschedule);
}

/// Whether a terminated container with `code` restarts under `policy`.
pub(super) fn restarts(policy: Policy, init: bool, code: i32) -> bool {
    match (init, policy) {
        (true, Policy::Never) => false,
        (true, _) => code != 0,
        (false, Policy::Always) => true,
        (false, Policy::OnFailure) => code != 0,
        (false, Policy::Never) => false,
    }
}

/// Whether an init container failure ends the pod (restartPolicy Never).
pub(crate) fn init_failed(rt: &PodRt) -> bool {
    rt.policy == Policy::Never
        && rt
            .init
            .iter()
            .any(|c| matches!(&c.state, CState::Terminated(t) if t.code != 0))
}

/// Whether every init container has succeeded.
pub(crate) fn initialized(rt: &PodRt) -> bool {
    rt.init
        .iter()
        .all(|c| matches!(&c.state, CState::Terminated(t) if t.code == 0))
}

fn step(w: &mut World<'_>, key: &ObjKey, pod: &Value, rt: &mut PodRt) {
    // Init containers strictly in order.
    for i in 0..rt.init.len() {
        match rt.init[i].state.clone() {
            CState::Terminated(t) if t.code == 0 => continue,
            CState::Running { .. } => return,
            CState::Terminated(t) => {
                if restarts(rt.policy, true, t.code) {
                    restart(w, key, pod, rt, true, i, t);
                }
                return;
            }
            CState::Waiting { .. } => {
                try_start(w, key, pod, rt, true, i);
                return;
            }
        }
    }
    for i in 0..rt.app.len() {
        match rt.app[i].state.clone() {
            CState::Running { .. } => {
                if !super::probes::startup_and_liveness(w, key, pod, rt, i) {
                    rt.app[i].probe_ok = false;
                    continue;
                }
                if rt.app[i].spec.get("readinessProbe").is_none() {
                    rt.app[i].probe_ok = true;
                }
                match rt.app[i].ready_at {
                    Some(at) if at > w.now => {
                        w.at_instant(at, Timer::Work(Work::Pod(key.clone())));
                    }
                    _ => super::probes::readiness(w, key, rt, i),
                }
            }
            CState::Terminated(t) => {
                if restarts(rt.policy, false, t.code) {
                    restart(w, key, pod, rt, false, i, t);
                }
            }
            CState::Waiting { .. } => try_start(w, key, pod, rt, false, i),
        }
    }
}

fn finish_delete(w: &mut World<'_>, key: &ObjKey, pod: &Value, rt: &PodRt) {
    let mut status = super::status::render(w, pod, rt);
    let all_ok = rt.app.iter().all(|c| match &c.state {
        CState::Terminated(t) => t.code == 0,
        _ => false,
    });
    status["phase"] = Value::from(if all_ok { "Succeeded" } else { "Failed" });
    w.trace(|| format!("pod-deleted {}/{}", key.0, key.1));
    write_status(w, key, pod, status);
    forget(w, key);
}

fn write_status(w: &mut World<'_>, key: &ObjKey, pod: &Value, status: Value) {
    if pod.get("status") == Some(&status) {
        return;
    }
    let Some(tid) = w.kinds.pod else { return };
    let old_phase = pod
        .ptr("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let new_phase = status
        .get("phase")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    // A status write takes only the status (and the precondition) from the body.
    let mut obj = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": key.1,
            "namespace": key.0,
            "resourceVersion": crate::store::meta::resource_version(pod),
        },
    });
    obj["status"] = status;
    let opts = WriteOptions {
        field_manager: Some("kubelet".into()),
        ..WriteOptions::default()
    };
    match w
        .store
        .update(tid, &key.0, &key.1, obj, Part::Status, &opts)
    {
        Ok(_) => {
            if old_phase != new_phase {
                w.trace(|| format!("pod-phase {}/{} {old_phase} -> {new_phase}", key.0, key.1));
            }
        }
        Err(e) if e.code == 409 => w.enqueue(Work::Pod(key.clone())),
        Err(e) => tracing::debug!(pod = %key.1, error = %e.message, "pod status update failed"),
    }
}

/// A container instance exited (timer).
#[allow(clippy::too_many_arguments)] // the timer's fields, passed through
pub(crate) fn on_exit(
    w: &mut World<'_>,
    key: &ObjKey,
    uid: &str,
    init: bool,
    index: usize,
    instance: u32,
    code: i32,
    reason: &'static str,
) {
    let now = w.now;
    let Some(rt) = w.st.kubelet.pods.get_mut(key) else {
        return;
    };
    if rt.uid != uid {
        return;
    }
    let list = if init { &mut rt.init } else { &mut rt.app };
    let Some(c) = list.get_mut(index) else { return };
    if c.instance != instance {
        return;
    }
    let CState::Running { since } = c.state else {
        return;
    };
    let oom = rt.oom.remove(&c.name);
    let c = if init {
        &mut rt.init[index]
    } else {
        &mut rt.app[index]
    };
    let id = ContainerId {
        namespace: key.0.clone(),
        pod: key.1.clone(),
        pod_uid: uid.to_string(),
        container: c.name.clone(),
        instance,
        init,
    }
    .runtime_id();
    c.state = CState::Terminated(Term {
        code,
        reason: if oom { "OOMKilled" } else { reason }.to_string(),
        started: since,
        finished: now,
        id,
    });
    let name = c.name.clone();
    w.trace(|| format!("container-exit {}/{}/{name} code {code}", key.0, key.1));
    w.runtime.kill(&ContainerId {
        namespace: key.0.clone(),
        pod: key.1.clone(),
        pod_uid: uid.to_string(),
        container: name,
        instance,
        init,
    });
    w.enqueue(Work::Pod(key.clone()));
}

/// A runtime reported an exit on its own.
pub(crate) fn on_reported_exit(w: &mut World<'_>, e: ExitReport) {
    let key = (e.id.namespace.clone(), e.id.pod.clone());
    let Some(rt) = w.st.kubelet.pods.get(&key) else {
        return;
    };
    let list = if e.id.init { &rt.init } else { &rt.app };
    let Some(index) = list.iter().position(|c| c.name == e.id.container) else {
        return;
    };
    let reason = e
        .reason
        .unwrap_or(if e.code == 0 { "Completed" } else { "Error" });
    on_exit(
        w,
        &key,
        &e.id.pod_uid,
        e.id.init,
        index,
        e.id.instance,
        e.code,
        reason,
    );
}

/// An image pull finished (timer).
pub(crate) fn on_pulled(
    w: &mut World<'_>,
    key: &ObjKey,
    uid: &str,
    init: bool,
    index: usize,
    instance: u32,
) {
    let Some(rt) = w.st.kubelet.pods.get_mut(key) else {
        return;
    };
    if rt.uid != uid {
        return;
    }
    let node = rt.node.clone();
    let list = if init { &mut rt.init } else { &mut rt.app };
    let Some(c) = list.get_mut(index) else { return };
    if c.instance != instance || !c.pulling {
        return;
    }
    c.pulling = false;
    c.image_ok = true;
    let image = c.image.clone();
    w.st.kubelet.node(&node).images.insert(image.clone());
    let pod = w.cache().pods.get(key).cloned();
    if let Some(pod) = pod {
        w.event(
            &pod,
            false,
            "Pulled",
            format!("Successfully pulled image \"{image}\" in 1s (1s including waiting). Image size: 0 bytes."),
            "kubelet",
        );
    }
    // The event above must not count as "already present": image_ok is set.
    w.enqueue(Work::Pod(key.clone()));
}

/// Kills a running container (fault): it exits with 137 at once.
pub(crate) fn kill(w: &mut World<'_>, key: &ObjKey, container: Option<&str>, oom: bool) -> bool {
    let Some(rt) = w.st.kubelet.pods.get_mut(key) else {
        return false;
    };
    let uid = rt.uid.clone();
    let mut hits = Vec::new();
    for (init, list) in [(true, &rt.init), (false, &rt.app)] {
        for (i, c) in list.iter().enumerate() {
            if c.running() && container.is_none_or(|n| n == c.name) {
                hits.push((init, i, c.instance, c.name.clone()));
            }
        }
    }
    if oom {
        for h in &hits {
            rt.oom.insert(h.3.clone());
        }
    }
    for (init, i, instance, _) in &hits {
        on_exit(w, key, &uid, *init, *i, *instance, 137, "Error");
    }
    !hits.is_empty()
}
