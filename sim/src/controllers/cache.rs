//! The cluster's informer cache and work queue, fed by a store hook.
//!
//! The hook runs under the store lock for every committed change, in commit order: it keeps
//! a copy (shared `Arc`s, no deep clones) of the objects controllers and the kubelet read,
//! an index of dependents by controller owner, and turns each change into deduplicated
//! [`Work`] items. Because the hook runs inside the write, the cache is never behind the
//! store: a controller that creates a pod sees it on its next read, so no "expectations"
//! bookkeeping is needed. The hook never calls back into the store.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use serde_json::Value;

use super::pod_facts::OwnedPod;
use crate::json_ptr::Ptr;
use crate::kubelet::scheduler::NodeFacts;
use crate::resources::TypeId;
use crate::store::{EventType, LabelSelector, ObjKey, Store, StoreEvent, meta};

/// One reconcile to run: the object it concerns, by key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Work {
    /// Kubelet sync of a bound pod.
    Pod(ObjKey),
    /// Scheduling of an unbound pod.
    Schedule(ObjKey),
    /// Retry every pod that did not fit anywhere (capacity or nodes changed).
    Reschedule,
    /// ReplicaSet controller.
    ReplicaSet(ObjKey),
    /// ReplicationController controller.
    ReplicationController(ObjKey),
    /// Deployment controller.
    Deployment(ObjKey),
    /// Endpoints and EndpointSlice of a Service.
    Endpoints(ObjKey),
    /// Job controller.
    Job(ObjKey),
    /// PersistentVolumeClaim binder.
    Claim(ObjKey),
    /// The OpenShift controllers (flavor openshift).
    OpenShift(super::openshift::Work),
}

impl Work {
    /// A short name of the kind of work, for statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Work::Pod(_) => "pod",
            Work::Schedule(_) => "schedule",
            Work::Reschedule => "reschedule",
            Work::ReplicaSet(_) => "replicaset",
            Work::ReplicationController(_) => "replicationcontroller",
            Work::Deployment(_) => "deployment",
            Work::Endpoints(_) => "endpoints",
            Work::Job(_) => "job",
            Work::Claim(_) => "claim",
            Work::OpenShift(o) => o.kind(),
        }
    }
}

/// The resource types the cluster works with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kinds {
    /// pods
    pub pod: Option<TypeId>,
    /// replicasets
    pub rs: Option<TypeId>,
    /// replicationcontrollers
    pub rc: Option<TypeId>,
    /// deployments
    pub deploy: Option<TypeId>,
    /// services
    pub svc: Option<TypeId>,
    /// endpoints
    pub ep: Option<TypeId>,
    /// endpointslices
    pub eps: Option<TypeId>,
    /// jobs
    pub job: Option<TypeId>,
    /// persistentvolumeclaims
    pub pvc: Option<TypeId>,
    /// persistentvolumes
    pub pv: Option<TypeId>,
    /// nodes
    pub node: Option<TypeId>,
    /// storageclasses
    pub sc: Option<TypeId>,
    /// events (core/v1)
    pub event: Option<TypeId>,
    /// The OpenShift kinds (none on the kubernetes flavor).
    pub openshift: super::openshift::Kinds,
}

impl Kinds {
    /// Looks the types up in a store's registry.
    pub fn of(store: &Store) -> Self {
        use k8s_openapi::api::{apps, batch, core::v1 as core, discovery, storage};
        Self {
            pod: store.type_id_of::<core::Pod>(),
            rs: store.type_id_of::<apps::v1::ReplicaSet>(),
            rc: store.type_id_of::<core::ReplicationController>(),
            deploy: store.type_id_of::<apps::v1::Deployment>(),
            svc: store.type_id_of::<core::Service>(),
            ep: store.type_id_of::<core::Endpoints>(),
            eps: store.type_id_of::<discovery::v1::EndpointSlice>(),
            job: store.type_id_of::<batch::v1::Job>(),
            pvc: store.type_id_of::<core::PersistentVolumeClaim>(),
            pv: store.type_id_of::<core::PersistentVolume>(),
            node: store.type_id_of::<core::Node>(),
            sc: store.type_id_of::<storage::v1::StorageClass>(),
            event: store.type_id_of::<core::Event>(),
            openshift: super::openshift::Kinds::of(store),
        }
    }
}

/// Objects of one type by key.
pub type Objects = BTreeMap<ObjKey, Arc<Value>>;

/// The cache and the pending work.
#[derive(Debug, Default)]
pub struct Cache {
    kinds: Kinds,
    /// Pods.
    pub pods: Objects,
    /// ReplicaSets.
    pub rs: Objects,
    /// ReplicationControllers.
    pub rc: Objects,
    /// Deployments.
    pub deploy: Objects,
    /// Services.
    pub svc: Objects,
    /// Jobs.
    pub jobs: Objects,
    /// PersistentVolumeClaims.
    pub pvc: Objects,
    /// PersistentVolumes (namespace "").
    pub pv: Objects,
    /// Nodes (namespace "").
    pub nodes: Objects,
    /// What the scheduler reads of each node (by name), kept in step with `nodes`.
    pub(crate) node_facts: BTreeMap<String, NodeFacts>,
    /// StorageClasses (namespace "").
    pub sc: Objects,
    /// Endpoints.
    pub ep: Objects,
    /// EndpointSlices.
    pub eps: Objects,
    /// controller owner UID -> the pods it controls, with their facts.
    pods_by_owner: BTreeMap<String, BTreeMap<ObjKey, OwnedPod>>,
    /// controller owner UID -> keys of the ReplicaSets it controls.
    rs_by_owner: BTreeMap<String, BTreeSet<ObjKey>>,
    /// Pods without a controller, for adoption.
    orphan_pods: BTreeSet<ObjKey>,
    /// Node-level work (kubelet, scheduler): runs before controller work, so a controller
    /// sees every pod change of the round at once instead of one reconcile per pod.
    fast: VecDeque<Work>,
    /// Controller work.
    slow: VecDeque<Work>,
    /// What `fast` and `slow` hold, for deduplication (only asked for membership).
    queued: crate::lookup::LookupSet<Work>,
    /// Container exits reported by a runtime outside the event queue.
    pub(crate) exits: VecDeque<crate::kubelet::ExitReport>,
    /// Committed changes seen (for statistics).
    pub changes: u64,
    /// The OpenShift objects.
    pub openshift: super::openshift::Cache,
}

fn key_of(obj: &Value) -> ObjKey {
    (
        meta::namespace(obj).to_string(),
        meta::name(obj).to_string(),
    )
}

/// The `ownerReferences` entry with `controller: true`, as (kind, name, uid).
pub fn controller_of(obj: &Value) -> Option<(&str, &str, &str)> {
    obj.ptr("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| {
            Some((
                r.get("kind")?.as_str()?,
                r.get("name")?.as_str()?,
                r.get("uid")?.as_str()?,
            ))
        })
}

/// The selector of a workload or Service: `matchLabels`/`matchExpressions`, or a plain map.
pub fn selector_of(obj: &Value) -> Option<LabelSelector> {
    let sel = obj.ptr("/spec/selector")?;
    if sel.get("matchLabels").is_some() || sel.get("matchExpressions").is_some() {
        LabelSelector::from_object(sel)
    } else {
        let map = sel.as_object()?;
        if map.is_empty() {
            return None;
        }
        Some(LabelSelector::from_map(map))
    }
}

/// Whether a change touched only `status` (a controller's own status write needs no new
/// reconcile of that object).
fn status_only(ev: &StoreEvent) -> bool {
    fn m<'a>(o: &'a Value, f: &str) -> Option<&'a Value> {
        o.get("metadata").and_then(|m| m.get(f))
    }
    let Some(old) = ev.old.as_deref() else {
        return false;
    };
    if ev.event_type != EventType::Modified {
        return false;
    }
    [
        "generation",
        "labels",
        "ownerReferences",
        "deletionTimestamp",
        "finalizers",
    ]
    .iter()
    .all(|f| m(old, f) == m(&ev.object, f))
        && old.get("spec") == ev.object.get("spec")
}

fn put(map: &mut Objects, ev: &StoreEvent) -> ObjKey {
    let key = key_of(&ev.object);
    if ev.event_type == EventType::Deleted {
        map.remove(&key);
    } else {
        map.insert(key.clone(), ev.object.clone());
    }
    key
}

fn index(
    idx: &mut BTreeMap<String, BTreeSet<ObjKey>>,
    key: &ObjKey,
    old: Option<&Value>,
    new: Option<&Value>,
) {
    if let Some((_, _, uid)) = old.and_then(controller_of)
        && let Some(set) = idx.get_mut(uid)
    {
        set.remove(key);
        if set.is_empty() {
            idx.remove(uid);
        }
    }
    if let Some((_, _, uid)) = new.and_then(controller_of) {
        idx.entry(uid.to_string()).or_default().insert(key.clone());
    }
}

impl Cache {
    /// An empty cache for these types.
    pub fn new(kinds: Kinds) -> Self {
        Self {
            kinds,
            ..Self::default()
        }
    }

    /// Queues a reconcile unless it is already pending.
    pub fn enqueue(&mut self, w: Work) {
        if self.queued.insert(w.clone()) {
            match w {
                Work::Pod(_) | Work::Schedule(_) | Work::Reschedule => self.fast.push_back(w),
                _ => self.slow.push_back(w),
            }
        }
    }

    /// Takes the oldest pending reconcile, node-level work first.
    pub fn pop(&mut self) -> Option<Work> {
        let w = match self.fast.pop_front() {
            Some(w) => w,
            None => self.slow.pop_front()?,
        };
        self.queued.remove(&w);
        Some(w)
    }

    /// Whether reconciles or runtime reports are pending.
    pub fn has_work(&self) -> bool {
        !self.fast.is_empty() || !self.slow.is_empty() || !self.exits.is_empty()
    }

    /// The pods a controller (by UID) owns.
    pub fn pods_of(&self, owner_uid: &str) -> Vec<Arc<Value>> {
        self.owned_pods(owner_uid).map(|o| o.pod.clone()).collect()
    }

    /// The pods a controller (by UID) owns, with their facts, in key order.
    pub fn owned_pods(&self, owner_uid: &str) -> impl Iterator<Item = &OwnedPod> {
        self.pods_by_owner
            .get(owner_uid)
            .into_iter()
            .flat_map(BTreeMap::values)
    }

    /// The ReplicaSets a Deployment (by UID) owns.
    pub fn replicasets_of(&self, owner_uid: &str) -> Vec<Arc<Value>> {
        self.rs_by_owner
            .get(owner_uid)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| self.rs.get(k).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Pods without a controller in a namespace.
    pub fn orphan_pods_in(&self, ns: &str) -> Vec<Arc<Value>> {
        self.orphan_pods
            .range((ns.to_string(), String::new())..)
            .take_while(|k| k.0 == ns)
            .filter_map(|k| self.pods.get(k).cloned())
            .collect()
    }

    /// Objects of a map in one namespace.
    pub fn in_ns(map: &Objects, ns: &str) -> Vec<Arc<Value>> {
        map.range((ns.to_string(), String::new())..)
            .take_while(|(k, _)| k.0 == ns)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Updates the cache from one committed change and queues the reconciles it triggers.
    pub fn observe(&mut self, ev: &StoreEvent) {
        self.changes += 1;
        let k = self.kinds;
        for w in self.openshift.observe(&k, ev) {
            self.enqueue(Work::OpenShift(w));
        }
        let t = Some(ev.type_id);
        let old = ev.old.as_deref();
        let new = (ev.event_type != EventType::Deleted).then_some(&*ev.object);
        if t == k.pod {
            self.observe_pod(ev, old, new);
        } else if t == k.rs || t == k.rc {
            let is_rs = t == k.rs;
            let key = put(if is_rs { &mut self.rs } else { &mut self.rc }, ev);
            if is_rs {
                index(&mut self.rs_by_owner, &key, old, new);
                for o in [old, new].into_iter().flatten() {
                    if let Some(("Deployment", name, _)) = controller_of(o) {
                        self.enqueue(Work::Deployment((key.0.clone(), name.to_string())));
                    }
                }
                if new.is_some_and(|n| controller_of(n).is_none()) {
                    self.enqueue_adopters_of_rs(&key, new);
                }
                if !status_only(ev) {
                    self.enqueue(Work::ReplicaSet(key));
                }
            } else if !status_only(ev) {
                self.enqueue(Work::ReplicationController(key));
            }
        } else if t == k.deploy {
            let key = put(&mut self.deploy, ev);
            if !status_only(ev) {
                self.enqueue(Work::Deployment(key));
            }
        } else if t == k.svc {
            let key = put(&mut self.svc, ev);
            self.enqueue(Work::Endpoints(key));
        } else if t == k.job {
            let key = put(&mut self.jobs, ev);
            if !status_only(ev) {
                self.enqueue(Work::Job(key));
            }
        } else if t == k.pvc {
            let key = put(&mut self.pvc, ev);
            self.enqueue(Work::Claim(key));
            self.enqueue(Work::Reschedule);
        } else if t == k.pv {
            put(&mut self.pv, ev);
            for o in [old, new].into_iter().flatten() {
                if let (Some(ns), Some(name)) = (
                    o.ptr("/spec/claimRef/namespace").and_then(Value::as_str),
                    o.ptr("/spec/claimRef/name").and_then(Value::as_str),
                ) {
                    self.enqueue(Work::Claim((ns.to_string(), name.to_string())));
                }
            }
        } else if t == k.node {
            let (_, name) = put(&mut self.nodes, ev);
            if ev.event_type == EventType::Deleted {
                self.node_facts.remove(&name);
            } else {
                self.node_facts.insert(name, NodeFacts::of(&ev.object));
            }
            self.enqueue(Work::Reschedule);
        } else if t == k.sc {
            put(&mut self.sc, ev);
        } else if t == k.ep {
            put(&mut self.ep, ev);
        } else if t == k.eps {
            put(&mut self.eps, ev);
        }
    }

    fn enqueue_adopters_of_rs(&mut self, key: &ObjKey, rs: Option<&Value>) {
        let Some(rs) = rs else { return };
        let labels = rs
            .ptr("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let adopters: Vec<ObjKey> = Self::in_ns(&self.deploy, &key.0)
            .iter()
            .filter(|d| selector_of(d).is_some_and(|s| !s.is_empty() && s.matches_labels(&labels)))
            .map(|d| key_of(d))
            .collect();
        for a in adopters {
            self.enqueue(Work::Deployment(a));
        }
    }

    fn observe_pod(&mut self, ev: &StoreEvent, old: Option<&Value>, new: Option<&Value>) {
        let key = put(&mut self.pods, ev);
        if let Some((_, _, uid)) = old.and_then(controller_of)
            && let Some(pods) = self.pods_by_owner.get_mut(uid)
        {
            pods.remove(&key);
            if pods.is_empty() {
                self.pods_by_owner.remove(uid);
            }
        }
        if let Some(n) = new
            && let Some((_, _, uid)) = controller_of(n)
        {
            self.pods_by_owner
                .entry(uid.to_string())
                .or_default()
                .insert(key.clone(), OwnedPod::new(ev.object.clone()));
        }
        match new {
            Some(n) if controller_of(n).is_none() => {
                self.orphan_pods.insert(key.clone());
            }
            _ => {
                self.orphan_pods.remove(&key);
            }
        }
        let node = |o: Option<&Value>| {
            o.and_then(|o| o.ptr("/spec/nodeName"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
        };
        let (old_node, new_node) = (node(old), node(new));
        let deleting = |o: Option<&Value>| o.is_some_and(meta::is_deleting);
        let generation = |o: Option<&Value>| o.and_then(|o| o.ptr("/metadata/generation")).cloned();
        // Kubelet: anything but its own status writes.
        if (old_node.is_some() || new_node.is_some())
            && (ev.event_type != EventType::Modified
                || old_node != new_node
                || deleting(old) != deleting(new)
                || generation(old) != generation(new))
        {
            self.enqueue(Work::Pod(key.clone()));
        }
        match new {
            Some(n)
                if new_node.is_none()
                    && !meta::is_deleting(n)
                    && ev.event_type == EventType::Added =>
            {
                self.enqueue(Work::Schedule(key.clone()));
            }
            None if old_node.is_some() => self.enqueue(Work::Reschedule),
            _ => {}
        }
        // Controllers owning the pod, before and after.
        for o in [old, new].into_iter().flatten() {
            if let Some((kind, name, _)) = controller_of(o) {
                let owner = (key.0.clone(), name.to_string());
                match kind {
                    "ReplicaSet" => self.enqueue(Work::ReplicaSet(owner)),
                    "ReplicationController" => self.enqueue(Work::ReplicationController(owner)),
                    "Job" => self.enqueue(Work::Job(owner)),
                    _ => {}
                }
            }
        }
        // Adoption of orphans by a matching ReplicaSet/RC.
        if let Some(n) = new
            && controller_of(n).is_none()
            && !meta::is_deleting(n)
        {
            let rs: Vec<Work> = Self::in_ns(&self.rs, &key.0)
                .iter()
                .filter(|r| selector_of(r).is_some_and(|s| !s.is_empty() && s.matches(n)))
                .map(|r| Work::ReplicaSet(key_of(r)))
                .chain(
                    Self::in_ns(&self.rc, &key.0)
                        .iter()
                        .filter(|r| selector_of(r).is_some_and(|s| s.matches(n)))
                        .map(|r| Work::ReplicationController(key_of(r))),
                )
                .collect();
            for w in rs {
                self.enqueue(w);
            }
        }
        // Services selecting the pod, before or after.
        let svcs: Vec<Work> = Self::in_ns(&self.svc, &key.0)
            .iter()
            .filter(|s| {
                selector_of(s)
                    .is_some_and(|sel| [old, new].into_iter().flatten().any(|p| sel.matches(p)))
            })
            .map(|s| Work::Endpoints(key_of(s)))
            .collect();
        for w in svcs {
            self.enqueue(w);
        }
    }
}
