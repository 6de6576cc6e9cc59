//! The event loop that makes the store a cluster: controllers, the scheduler and the kubelet
//! run here, one reconcile at a time, in an order fixed by the store's commit order and the
//! event queue, so one seed and one sequence of requests give one run.
//!
//! A round at virtual instant `t`: every timer due at `t` fires (container exits, finished
//! pulls, back-off expiries, node monitors), then pending reconciles run until none is left.
//! Reconciles write to the store; the store hook ([`Cache::observe`]) turns each committed
//! change into further reconciles, deduplicated while pending, so a ReplicaSet with 10,000
//! pods changing in one round reconciles once, not 10,000 times.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::clock::{EventQueue, ManualTime, TimeMode, TimeSource, Trace, after, rfc3339};
use crate::controllers::event_correlation::{Correlator, Decision, EventKey, Occurrence};
use crate::controllers::{self, cache::Cache, cache::Kinds, cache::Work};
use crate::faults::FaultState;
use crate::kubelet::{self, ContainerRuntime, ExitSender, Kubelet};
use crate::store::{ObjKey, Part, Store, WriteOptions, meta};

/// Something scheduled on the event queue.
#[derive(Debug, Clone)]
pub(crate) enum Timer {
    /// Run a reconcile (a back-off expiry, a resync, a readiness delay).
    Work(Work),
    /// A container instance exits.
    ContainerExit {
        pod: ObjKey,
        uid: String,
        init: bool,
        index: usize,
        instance: u32,
        code: i32,
        reason: &'static str,
    },
    /// An image pull finished.
    Pulled {
        pod: ObjKey,
        uid: String,
        init: bool,
        index: usize,
        instance: u32,
    },
    /// The node controller notices a node stopped reporting.
    NodeMonitor { node: String, epoch: u64 },
    /// Pods on an unreachable node are evicted.
    Evict { node: String, epoch: u64 },
    /// A Deployment's progress deadline; void (dropped unfired) once `State::deadlines` no
    /// longer holds this instant for it, so a finished rollout leaves nothing pending.
    Deadline { deployment: ObjKey, at: Timestamp },
}

/// Everything the loop mutates, behind one lock.
pub(crate) struct State {
    pub queue: EventQueue<Timer>,
    pub rng: rand_chacha::ChaCha8Rng,
    pub trace: Trace,
    pub kubelet: Kubelet,
    pub faults: FaultState,
    pub sched: kubelet::scheduler::SchedulerState,
    /// The event recorders' spam filter and aggregation records.
    pub correlator: Correlator,
    /// Correlated event key -> (the Event written for it, count): repeats bump the count.
    pub events: crate::lookup::LookupMap<EventKey, (ObjKey, u64)>,
    pub event_seq: u64,
    /// Timers fired.
    pub fired: u64,
    /// Reconciles run.
    pub reconciles: u64,
    /// Whether Kubernetes Event objects are written (trace lines are always recorded).
    pub record_events: bool,
    /// Reconciles run, by kind of work.
    pub by_kind: BTreeMap<&'static str, u64>,
    /// The progress deadline each unfinished rollout waits for (see [`Timer::Deadline`]).
    pub deadlines: BTreeMap<ObjKey, Timestamp>,
}

impl State {
    /// Drops void deadline timers from the head of the queue, so they neither fire nor keep
    /// the cluster from being idle.
    fn drop_void_timers(&mut self) {
        while let Some(Timer::Deadline { deployment, at }) = self.queue.peek() {
            if self.deadlines.get(deployment) == Some(at) {
                break;
            }
            self.queue.pop();
        }
    }
}

/// The view a reconcile works with.
pub(crate) struct World<'a> {
    pub store: &'a Store,
    cache: &'a Mutex<Cache>,
    pub kinds: Kinds,
    pub now: Timestamp,
    pub st: &'a mut State,
    pub runtime: &'a dyn ContainerRuntime,
    pub exits: &'a ExitSender,
}

impl World<'_> {
    /// The cache (never hold it across a store call).
    pub fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a reconcile for this round.
    pub fn enqueue(&self, w: Work) {
        self.cache().enqueue(w);
    }

    /// Schedules a timer `delay` from now.
    pub fn at(&mut self, delay: Duration, t: Timer) {
        self.st.queue.push(after(self.now, delay), t);
    }

    /// Schedules a timer at an instant.
    pub fn at_instant(&mut self, at: Timestamp, t: Timer) {
        self.st.queue.push(at.max(self.now), t);
    }

    /// Records a trace line.
    pub fn trace(&mut self, what: impl FnOnce() -> String) {
        self.st.trace.record(self.now, what);
    }

    /// Records a Kubernetes Event about `involved` (and a trace line); repeats bump `count`.
    pub fn event(
        &mut self,
        involved: &Value,
        warning: bool,
        reason: &str,
        message: String,
        component: &str,
    ) {
        let kind = involved
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let name = meta::name(involved).to_string();
        let ns = match meta::namespace(involved) {
            "" => "default".to_string(),
            n => n.to_string(),
        };
        self.trace(|| format!("event {reason} {kind} {ns}/{name}: {message}"));
        let Some(tid) = self.kinds.event else { return };
        if !self.st.record_events {
            return;
        }
        let decision = self.st.correlator.correlate(
            self.now,
            Occurrence {
                component,
                involved_uid: meta::uid(involved),
                warning,
                reason,
                message: &message,
            },
        );
        let Decision::Record { key: agg, message } = decision else {
            return;
        };
        let now = rfc3339(self.now);
        if let Some((key, count)) = self.st.events.get(&agg).cloned()
            && let Ok(cur) = self.store.get(tid, &key.0, &key.1)
        {
            let mut ev = (*cur).clone();
            ev["count"] = json!(count + 1);
            ev["lastTimestamp"] = json!(now);
            ev["message"] = json!(message);
            if self
                .store
                .update(
                    tid,
                    &key.0,
                    &key.1,
                    ev,
                    Part::Main,
                    &WriteOptions::default(),
                )
                .is_ok()
            {
                self.st.events.insert(agg, (key, count + 1));
            }
            return;
        }
        self.st.event_seq += 1;
        let ev_name = format!(
            "{name}.{:x}",
            self.now.as_nanosecond() as u64 + self.st.event_seq
        );
        let body = json!({
            "metadata": {"name": ev_name, "namespace": ns},
            "involvedObject": {
                "kind": kind,
                "namespace": meta::namespace(involved),
                "name": name,
                "uid": meta::uid(involved),
                "apiVersion": involved.get("apiVersion").cloned().unwrap_or(Value::Null),
                "resourceVersion": meta::resource_version(involved),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": if warning { "Warning" } else { "Normal" },
            "reportingComponent": component,
            "reportingInstance": "",
        });
        if self
            .store
            .create_recorded_event(tid, &ns, body, &WriteOptions::default())
            .is_ok()
        {
            self.st.events.insert(agg, ((ns, ev_name), 1));
        }
    }
}

/// The simulated cluster's machinery behind a [`crate::Sim`].
pub struct Cluster {
    store: Arc<Store>,
    clock: Arc<ManualTime>,
    cache: Arc<Mutex<Cache>>,
    state: Mutex<State>,
    notify: Arc<tokio::sync::Notify>,
    kinds: Kinds,
    runtime: Arc<dyn ContainerRuntime>,
    exits: ExitSender,
    mode: TimeMode,
    pub(crate) api_faults: Arc<crate::faults::ApiFaults>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// What a call to [`Cluster::settle`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Virtual time that passed.
    pub elapsed: Duration,
    /// Timers fired.
    pub timers: u64,
    /// True when nothing is left to do; false when the time bound stopped it.
    pub idle: bool,
}

/// How often one round lets container processes run; a process that never waits (a busy
/// loop) then burns virtual time instead of holding the cluster at one instant.
const MAX_PROCESS_RUNS_PER_ROUND: u32 = 1_000;

/// Safety net against reconciles that keep re-queueing each other within one instant.
const MAX_RECONCILES_PER_ROUND: u64 = 50_000_000;

impl Cluster {
    /// Wires a cluster to a store whose clock is `clock`.
    pub(crate) fn new(
        store: Arc<Store>,
        clock: Arc<ManualTime>,
        seed: u64,
        runtime: Arc<dyn ContainerRuntime>,
        mode: TimeMode,
        trace: bool,
    ) -> Arc<Self> {
        let kinds = Kinds::of(&store);
        let cache = Arc::new(Mutex::new(Cache::new(kinds)));
        let notify = Arc::new(tokio::sync::Notify::new());
        {
            let cache = cache.clone();
            let notify = notify.clone();
            store.add_hook(Arc::new(move |ev| {
                cache
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .observe(ev);
                notify.notify_one();
            }));
        }
        // Everything committed before the hook existed (nodes, restored state).
        {
            let mut c = cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for tid in [
                kinds.node,
                kinds.sc,
                kinds.pv,
                kinds.pvc,
                kinds.svc,
                kinds.ep,
                kinds.eps,
                kinds.deploy,
                kinds.rs,
                kinds.rc,
                kinds.job,
                kinds.pod,
                kinds.openshift.dc,
                kinds.openshift.is,
                kinds.openshift.route,
                kinds.openshift.bc,
                kinds.openshift.build,
            ]
            .into_iter()
            .flatten()
            {
                if let Ok(list) = store.list(tid, None, &Default::default()) {
                    for obj in list.items {
                        c.observe(&crate::store::StoreEvent {
                            event_type: crate::store::EventType::Added,
                            type_id: tid,
                            object: obj,
                            old: None,
                            rv: 0,
                        });
                    }
                }
            }
        }
        let exits = ExitSender::new(cache.clone(), notify.clone());
        let start = clock.now();
        let cluster = Arc::new(Self {
            store: store.clone(),
            clock,
            cache,
            state: Mutex::new(State {
                queue: EventQueue::default(),
                rng: crate::clock::cluster_rng(seed),
                trace: Trace::new(start, trace),
                kubelet: Kubelet::default(),
                faults: FaultState::default(),
                sched: Default::default(),
                correlator: Correlator::default(),
                events: Default::default(),
                event_seq: 0,
                fired: 0,
                reconciles: 0,
                record_events: true,
                by_kind: BTreeMap::new(),
                deadlines: BTreeMap::new(),
            }),
            notify,
            kinds,
            runtime,
            exits,
            mode,
            api_faults: Arc::new(crate::faults::ApiFaults::new(seed)),
        });
        controllers::volumes::ensure_default_storage_class(&store, kinds);
        cluster
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn set_record_events(&self, yes: bool) {
        self.lock().record_events = yes;
    }

    /// Whether a claim's volume is marked full by a [`crate::faults::Fault::DiskFull`].
    pub fn disk_full(&self, namespace: &str, claim: &str) -> bool {
        self.lock().faults.disk_full(namespace, claim)
    }

    /// The time mode chosen at build.
    pub fn mode(&self) -> TimeMode {
        self.mode
    }

    /// The current virtual instant.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(crate) fn with_world<R>(&self, st: &mut State, f: impl FnOnce(&mut World<'_>) -> R) -> R {
        let mut w = World {
            store: &self.store,
            cache: &self.cache,
            kinds: self.kinds,
            now: self.clock.now(),
            st,
            runtime: &*self.runtime,
            exits: &self.exits,
        };
        f(&mut w)
    }

    /// Runs every pending reconcile at the current instant.
    fn drain(&self, st: &mut State) {
        let mut n = 0u64;
        let mut busy = 0u32;
        loop {
            let (work, exit) = {
                let mut c = self
                    .cache
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match c.exits.pop_front() {
                    Some(e) => (None, Some(e)),
                    None => (c.pop(), None),
                }
            };
            if let Some(e) = exit {
                self.with_world(st, |w| kubelet::pod::on_reported_exit(w, e));
                continue;
            }
            let Some(work) = work else {
                // Container processes run once the controllers are done at this instant,
                // and again after whatever their exits caused.
                if busy < MAX_PROCESS_RUNS_PER_ROUND && self.runtime.run_processes() {
                    busy += 1;
                    continue;
                }
                break;
            };
            st.reconciles += 1;
            *st.by_kind.entry(work.kind()).or_default() += 1;
            n += 1;
            if n > MAX_RECONCILES_PER_ROUND {
                tracing::error!("reconciles keep re-queueing each other; stopping this round");
                break;
            }
            self.with_world(st, |w| controllers::reconcile(w, work));
        }
    }

    fn fire(&self, st: &mut State, timer: Timer) {
        st.fired += 1;
        self.with_world(st, |w| match timer {
            Timer::Work(work) => w.enqueue(work),
            Timer::Deadline { deployment, at } => {
                if w.st.deadlines.get(&deployment) == Some(&at) {
                    w.st.deadlines.remove(&deployment);
                    w.enqueue(Work::Deployment(deployment));
                }
            }
            Timer::ContainerExit {
                pod,
                uid,
                init,
                index,
                instance,
                code,
                reason,
            } => kubelet::pod::on_exit(w, &pod, &uid, init, index, instance, code, reason),
            Timer::Pulled {
                pod,
                uid,
                init,
                index,
                instance,
            } => kubelet::pod::on_pulled(w, &pod, &uid, init, index, instance),
            Timer::NodeMonitor { node, epoch } => controllers::nodes::monitor(w, &node, epoch),
            Timer::Evict { node, epoch } => controllers::nodes::evict(w, &node, epoch),
        });
    }

    /// Processes everything due up to `target`; with `to_target` the clock ends at `target`,
    /// otherwise at the last event processed. Returns timers fired.
    fn run(&self, target: Timestamp, to_target: bool) -> u64 {
        let mut st = self.lock();
        let before = st.fired;
        loop {
            self.drain(&mut st);
            st.drop_void_timers();
            // A process's sleep ending is an event too; the queue goes first at a tie.
            let wake = self.runtime.next_wakeup().filter(|w| *w <= target);
            let due = st.queue.next_at().filter(|q| *q <= target);
            let at = match (due, wake) {
                (None, None) => break,
                (None, Some(w)) => {
                    self.clock.set(w);
                    continue;
                }
                (Some(q), Some(w)) if w < q => {
                    self.clock.set(w);
                    continue;
                }
                (Some(q), _) => q,
            };
            let Some((at, _, timer)) = st.queue.pop_due(at) else {
                break;
            };
            self.clock.set(at);
            self.fire(&mut st, timer);
            st.drop_void_timers();
            while let Some((_, _, t)) = st.queue.pop_due(at) {
                self.fire(&mut st, t);
                st.drop_void_timers();
            }
        }
        if to_target {
            self.clock.set(target);
            self.drain(&mut st);
        }
        st.fired - before
    }

    /// Moves virtual time forward by `d`, running everything that falls due on the way.
    pub fn advance(&self, d: Duration) -> u64 {
        let target = after(self.clock.now(), d);
        self.run(target, true)
    }

    /// Runs until nothing is pending, jumping time from event to event, but not further
    /// than `max` of virtual time (a crash-looping pod always has a next restart).
    pub fn settle_for(&self, max: Duration) -> Settled {
        let start = self.clock.now();
        let target = after(start, max);
        let timers = self.run(target, false);
        let idle = {
            let mut st = self.lock();
            st.drop_void_timers();
            st.queue.is_empty()
        } && !self.cache_has_work()
            && self.runtime.next_wakeup().is_none();
        Settled {
            elapsed: crate::clock::since(self.clock.now(), start),
            timers,
            idle,
        }
    }

    fn cache_has_work(&self) -> bool {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .has_work()
    }

    /// When the next timer (or the end of a process's sleep) is due.
    pub fn next_event_at(&self) -> Option<Timestamp> {
        let q = {
            let mut st = self.lock();
            st.drop_void_timers();
            st.queue.next_at()
        };
        match (q, self.runtime.next_wakeup()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The event trace so far, rendered one line per entry.
    pub fn trace_text(&self) -> String {
        self.lock().trace.render()
    }

    /// The event trace entries so far.
    pub fn trace(&self) -> Vec<crate::clock::TraceEntry> {
        self.lock().trace.entries().to_vec()
    }

    /// Counters: (timers fired, reconciles run, trace entries, committed changes seen).
    pub fn stats(&self) -> ClusterStats {
        let st = self.lock();
        let changes = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .changes;
        ClusterStats {
            timers: st.fired,
            reconciles: st.reconciles,
            trace_entries: st.trace.count(),
            store_changes: changes,
            by_kind: st.by_kind.clone(),
        }
    }

    /// Applies a fault now (see [`crate::faults::Fault`]).
    pub fn inject(&self, fault: crate::faults::Fault) -> Result<(), crate::faults::FaultError> {
        let mut st = self.lock();
        let r = self.with_world(&mut st, |w| {
            crate::faults::apply(w, &self.api_faults, fault)
        });
        self.drain(&mut st);
        r
    }

    /// Drives time per the mode until the cluster is dropped (auto and real-time modes).
    pub async fn drive(this: Weak<Self>) {
        let Some(me) = this.upgrade() else { return };
        let mode = me.mode;
        let notify = me.notify.clone();
        drop(me);
        let wall_start = std::time::Instant::now();
        let virt_start = match this.upgrade() {
            Some(c) => c.now(),
            None => return,
        };
        let mut idle_since_activity = Duration::ZERO;
        loop {
            let Some(me) = this.upgrade() else { return };
            match mode {
                TimeMode::Manual => return,
                TimeMode::RealTime { scale } => {
                    let elapsed = wall_start.elapsed().mul_f64(scale.max(0.0));
                    me.run(after(virt_start, elapsed), true);
                    drop(me);
                    let _ =
                        tokio::time::timeout(Duration::from_millis(10), notify.notified()).await;
                }
                TimeMode::Auto { horizon } => {
                    me.run(me.now(), true);
                    let next = me.next_event_at();
                    drop(me);
                    let woke = tokio::time::timeout(Duration::from_millis(2), notify.notified())
                        .await
                        .is_ok();
                    if woke {
                        idle_since_activity = Duration::ZERO;
                        continue;
                    }
                    let Some(me) = this.upgrade() else { return };
                    match next {
                        Some(at) if idle_since_activity < horizon => {
                            let now = me.now();
                            idle_since_activity += crate::clock::since(at, now);
                            me.run(at, true);
                        }
                        _ => {
                            drop(me);
                            notify.notified().await;
                            idle_since_activity = Duration::ZERO;
                        }
                    }
                }
            }
        }
    }
}

/// Counters of a cluster's work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStats {
    /// Timers fired.
    pub timers: u64,
    /// Reconciles run.
    pub reconciles: u64,
    /// Trace entries recorded.
    pub trace_entries: u64,
    /// Store changes observed.
    pub store_changes: u64,
    /// Reconciles by kind of work (`pod`, `schedule`, `replicaset`, ...).
    pub by_kind: BTreeMap<&'static str, u64>,
}
