//! The object store: every API object, one global resourceVersion, watches, and the
//! write path (admission, optimistic concurrency, finalizers, cascading deletion).
//!
//! Objects are kept as JSON (`serde_json::Value`) so the server round-trips fields it does not
//! model, exactly as a real API server stores what clients send. Kind-specific behaviour
//! (defaults, validation, immutable fields, allocation) is in [`admission`]; garbage collection
//! and namespace finalization in [`cascade`]; watch fan-out in [`watch`]; durability in
//! [`persist`]. All state sits behind one mutex, so every request is a linearizable transaction
//! and the order of events is the order of commits.

pub mod admission;
mod cascade;
mod fieldset;
pub mod meta;
pub mod nodes;
pub mod patch;
pub mod persist;
mod qos;
pub mod selector;
mod service;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::clock::{TimeSource, rfc3339};
use crate::error::{ApiError, ApiResult};
use crate::json_ptr::Ptr;
use crate::resources::{Flavor, Registry, ResourceType, TypeId};

pub use patch::PatchKind;
pub use selector::{FieldSelector, LabelSelector};
pub use watch::{Watch, WatchItem, WatchQuery};

/// `(namespace, name)`; namespace is "" for cluster-scoped objects.
pub type ObjKey = (String, String);

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum EventType {
    /// Created.
    #[serde(rename = "ADDED")]
    Added,
    /// Changed.
    #[serde(rename = "MODIFIED")]
    Modified,
    /// Removed.
    #[serde(rename = "DELETED")]
    Deleted,
}

/// One committed change, in commit order.
#[derive(Debug, Clone)]
pub struct StoreEvent {
    /// Kind of change.
    pub event_type: EventType,
    /// The resource type.
    pub type_id: TypeId,
    /// The object after the change (for deletes: its last state, with the deletion's RV).
    pub object: Arc<Value>,
    /// The object before the change, for modifications and deletes.
    pub old: Option<Arc<Value>>,
    /// The resourceVersion of the change.
    pub rv: u64,
}

/// A callback run for every committed change, under the store lock, in commit order.
pub type Hook = Arc<dyn Fn(&StoreEvent) + Send + Sync>;

/// Options shared by write requests.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and default, but do not persist.
    pub dry_run: bool,
    /// `fieldManager`, recorded in managedFields.
    pub field_manager: Option<String>,
    /// `force` for server-side apply.
    pub force: bool,
}

/// Which part of an object a write targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main resource: status changes are ignored when a status subresource exists.
    Main,
    /// The `/status` subresource: only status changes are kept.
    Status,
}

/// How dependents are treated when their owner is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Delete the owner now, dependents after.
    #[default]
    Background,
    /// Delete dependents first; the owner waits with the `foregroundDeletion` finalizer.
    Foreground,
    /// Keep dependents, removing their owner references.
    Orphan,
}

/// Options of a delete request.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `propagationPolicy` (or the legacy `orphanDependents`).
    pub propagation: Option<Propagation>,
    /// `gracePeriodSeconds`.
    pub grace_period: Option<i64>,
    /// `preconditions.resourceVersion`.
    pub precondition_rv: Option<String>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// The outcome of a delete.
#[derive(Debug, Clone)]
pub struct Deleted {
    /// The object as of the delete.
    pub object: Arc<Value>,
    /// True when the object is gone; false when it only got a deletionTimestamp.
    pub gone: bool,
}

/// Query options of a list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Parsed `labelSelector`.
    pub labels: LabelSelector,
    /// Parsed `fieldSelector`.
    pub fields: FieldSelector,
    /// `limit` (0 = no limit).
    pub limit: usize,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion` with `resourceVersionMatch=Exact`: list the state as of that version.
    pub exact_rv: Option<u64>,
}

/// A page of a list.
#[derive(Debug, Clone)]
pub struct ListResult {
    /// Matching objects in (namespace, name) order.
    pub items: Vec<Arc<Value>>,
    /// The list's resourceVersion.
    pub rv: u64,
    /// Token for the next page, if any.
    pub continue_token: Option<String>,
    /// Approximate count of items after this page.
    pub remaining: Option<u64>,
}

/// Settings of a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Which API groups are served.
    pub flavor: Flavor,
    /// Seed of the RNG behind UIDs, generated names and allocations.
    pub seed: u64,
    /// How many events are kept for watch resumption before older versions expire (410).
    pub history_limit: usize,
    /// Whether pods bound to a node are deleted gracefully (a kubelet finishes the delete).
    pub graceful_pod_deletion: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            flavor: Flavor::Kubernetes,
            seed: 0,
            history_limit: 10_000,
            graceful_pod_deletion: false,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) registry: Registry,
    objects: Vec<BTreeMap<ObjKey, Arc<Value>>>,
    /// owner UID -> dependents.
    dependents: BTreeMap<String, BTreeSet<(TypeId, String, String)>>,
    rv: u64,
    history: VecDeque<Arc<StoreEvent>>,
    /// The oldest RV a watch may resume from; older ones are 410 Expired.
    compacted_rv: u64,
    watchers: Vec<watch::Watcher>,
    pub(crate) rng: ChaCha8Rng,
    wal: Option<persist::Wal>,
    hooks: Vec<Hook>,
    config: StoreConfig,
}

/// The simulated API server's state.
pub struct Store {
    inner: Mutex<Inner>,
    clock: Arc<dyn TimeSource>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// How much of the admission chain a create runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admit {
    /// Everything (every client request).
    Full,
    /// An Event the simulator records: no kind-specific admission or schema check.
    RecordedEvent,
}

/// A change to commit.
pub(crate) enum Change {
    Put(TypeId, Value),
    Delete(TypeId, ObjKey),
}

impl Store {
    /// An empty store with the built-in namespaces.
    pub fn new(config: StoreConfig, clock: Arc<dyn TimeSource>) -> Self {
        let store = Self::empty(config, clock, None);
        store.bootstrap();
        store
    }

    /// A store persisted in `dir`: restores what is there (or bootstraps an empty cluster) and
    /// logs every later write durably before acknowledging it.
    pub fn open(
        config: StoreConfig,
        clock: Arc<dyn TimeSource>,
        dir: &Path,
    ) -> Result<Self, persist::PersistError> {
        let (restored, wal) = persist::Wal::open(dir)?;
        let fresh = restored.objects.is_empty() && restored.rv == 0;
        let mut config = config;
        config.seed ^= restored.rv;
        let store = Self::empty(config, clock, Some(wal));
        {
            let mut inner = store.lock();
            inner.rv = restored.rv;
            inner.compacted_rv = restored.rv;
            for (api_version, plural, obj) in restored.objects {
                let (group, version) = crate::resources::split_api_version(&api_version);
                if let Some(tid) = inner.registry.find(group, version, &plural) {
                    inner.load(tid, obj);
                } else {
                    tracing::warn!(%api_version, %plural, "state holds a resource type this flavor does not serve; skipped");
                }
            }
        }
        if fresh {
            store.bootstrap();
        }
        Ok(store)
    }

    fn empty(config: StoreConfig, clock: Arc<dyn TimeSource>, wal: Option<persist::Wal>) -> Self {
        let registry = Registry::for_flavor(config.flavor);
        let objects = registry.iter().map(|_| BTreeMap::new()).collect();
        Self {
            inner: Mutex::new(Inner {
                registry,
                objects,
                dependents: BTreeMap::new(),
                rv: 0,
                history: VecDeque::new(),
                compacted_rv: 0,
                watchers: Vec::new(),
                rng: ChaCha8Rng::seed_from_u64(config.seed),
                wal,
                hooks: Vec::new(),
                config,
            }),
            clock,
        }
    }

    fn bootstrap(&self) {
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let _ = self.create_in(
                self.type_of("", "v1", "namespaces"),
                "",
                json!({"metadata": {"name": ns}}),
            );
        }
    }

    fn type_of(&self, group: &str, version: &str, plural: &str) -> TypeId {
        self.lock()
            .registry
            .find(group, version, plural)
            .unwrap_or_default()
    }

    fn create_in(&self, tid: TypeId, ns: &str, obj: Value) -> ApiResult<Arc<Value>> {
        self.create(tid, ns, obj, &WriteOptions::default())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current instant of the store's clock.
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// The flavor this store serves.
    pub fn flavor(&self) -> Flavor {
        self.lock().config.flavor
    }

    /// A copy of the registry of served types.
    pub fn registry(&self) -> Registry {
        self.lock().registry.clone()
    }

    /// Resolves group/version/plural to a served type.
    pub fn resolve(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<(TypeId, Arc<ResourceType>)> {
        let inner = self.lock();
        let id = inner.registry.find(group, version, plural)?;
        Some((id, inner.registry.get(id).clone()))
    }

    /// The handle of a served type given as a k8s-openapi resource type.
    pub fn type_id_of<K: k8s_openapi::Resource>(&self) -> Option<TypeId> {
        self.lock()
            .registry
            .find(K::GROUP, K::VERSION, K::URL_PATH_SEGMENT)
    }

    /// The latest committed resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// Registers a callback run for every committed change, in commit order.
    pub fn add_hook(&self, hook: Hook) {
        self.lock().hooks.push(hook);
    }

    /// Forgets all watch history: every older resourceVersion becomes 410 Expired (what etcd
    /// compaction does every five minutes on a real cluster).
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.compacted_rv = inner.rv;
    }

    /// Closes every open watch, so clients must resume (fault injection).
    pub fn drop_watches(&self) {
        self.lock().watchers.clear();
    }

    /// Creates an object (POST).
    pub fn create(
        &self,
        tid: TypeId,
        ns: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Arc<Value>> {
        self.create_with(tid, ns, obj, opts, Admit::Full)
    }

    /// Creates an Event the simulator itself records (the kubelet's, the scheduler's and the
    /// controllers'). Such bodies are built by the simulator and valid by construction, and
    /// Events have no defaults, so the kind-specific admission and the schema check (a
    /// decode into the typed Event) are skipped; name, uid, resourceVersion,
    /// creationTimestamp, managedFields, the namespace checks and the watch event are exactly
    /// those of [`Store::create`] (a test compares the two paths).
    pub(crate) fn create_recorded_event(
        &self,
        tid: TypeId,
        ns: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Arc<Value>> {
        self.create_with(tid, ns, obj, opts, Admit::RecordedEvent)
    }

    fn create_with(
        &self,
        tid: TypeId,
        ns: &str,
        mut obj: Value,
        opts: &WriteOptions,
        admit: Admit,
    ) -> ApiResult<Arc<Value>> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let rt = inner.registry.get(tid).clone();
        if !rt.has_verb("create") {
            return Err(ApiError::method_not_allowed("POST", &rt.plural));
        }
        check_type_meta(&rt, &mut obj)?;
        let ns = if rt.namespaced { ns } else { "" };
        {
            let obj_ns = meta::namespace(&obj);
            if rt.namespaced && !obj_ns.is_empty() && obj_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let mut name = meta::name(&obj).to_string();
        if name.is_empty() {
            let prefix = meta::meta_str(&obj, "generateName").to_string();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    &rt.group,
                    &rt.kind,
                    "",
                    vec![crate::error::Cause::required("metadata.name")],
                )
                .with_message_override("name or generateName is required"));
            }
            name = format!("{prefix}{}", meta::name_suffix(&mut inner.rng));
        }
        if let Some(cause) = meta::validate_name(rt.name_rule, &name, "metadata.name") {
            return Err(ApiError::invalid(&rt.group, &rt.kind, &name, vec![cause]));
        }
        if rt.namespaced {
            inner.check_namespace_accepts(&rt, ns, &name)?;
        }
        if inner.objects[tid].contains_key(&(ns.to_string(), name.clone())) {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
        }
        let m = meta::meta_mut(&mut obj);
        m.insert("name".into(), json!(name));
        if rt.namespaced {
            m.insert("namespace".into(), json!(ns));
        } else {
            m.remove("namespace");
        }
        m.remove("deletionTimestamp");
        m.remove("deletionGracePeriodSeconds");
        let uid = meta::new_uid(&mut inner.rng);
        m.insert("uid".into(), json!(uid));
        m.insert("creationTimestamp".into(), json!(rfc3339(now)));
        m.insert("generation".into(), json!(1));
        if rt.has_subresource("status")
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
        let recorded_event =
            admit == Admit::RecordedEvent && rt.group.is_empty() && rt.kind == "Event";
        if !recorded_event {
            admission::on_create(&mut inner, &rt, &mut obj)?;
            admission::validate(&rt, &obj, None)?;
        }
        set_managed_fields(&mut obj, None, opts, Owned::Update, &rt, now, None);
        if opts.dry_run {
            return Ok(Arc::new(obj));
        }
        let committed = inner.commit(Change::Put(tid, obj), now)?;
        if rt.kind == "CustomResourceDefinition" {
            admission::register_crd(&mut inner, &committed);
        }
        Ok(committed)
    }

    /// Reads one object.
    pub fn get(&self, tid: TypeId, ns: &str, name: &str) -> ApiResult<Arc<Value>> {
        let inner = self.lock();
        inner.get(tid, ns, name)
    }

    /// Lists objects of a type, in one namespace or all (`ns` = None).
    pub fn list(&self, tid: TypeId, ns: Option<&str>, query: &ListQuery) -> ApiResult<ListResult> {
        let inner = self.lock();
        inner.list(tid, ns, query)
    }

    /// Replaces an object (PUT), or its status (`part` = Status).
    pub fn update(
        &self,
        tid: TypeId,
        ns: &str,
        name: &str,
        mut obj: Value,
        part: Part,
        opts: &WriteOptions,
    ) -> ApiResult<Arc<Value>> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let rt = inner.registry.get(tid).clone();
        check_type_meta(&rt, &mut obj)?;
        let body_name = meta::name(&obj);
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let current = inner.get(tid, ns, name)?;
        let sent_rv = meta::resource_version(&obj);
        if !sent_rv.is_empty() && sent_rv != meta::resource_version(&current) {
            return Err(ApiError::stale(&rt.group, &rt.plural, name));
        }
        inner.apply_update(tid, &rt, &current, obj, part, opts, Owned::Update, now)
    }

    /// Patches an object (PATCH). Server-side apply creates the object when it is missing.
    #[allow(clippy::too_many_arguments)] // mirrors the request's parts one to one
    pub fn patch(
        &self,
        tid: TypeId,
        ns: &str,
        name: &str,
        kind: PatchKind,
        body: &[u8],
        part: Part,
        opts: &WriteOptions,
    ) -> ApiResult<Arc<Value>> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let rt = inner.registry.get(tid).clone();
        if !rt.has_verb("patch") {
            return Err(ApiError::method_not_allowed("PATCH", &rt.plural));
        }
        let current = match inner.get(tid, ns, name) {
            Ok(cur) => cur,
            Err(e) if e.code == 404 && kind == PatchKind::Apply => {
                let applied = patch::apply_to_new(body, name)?;
                drop(inner);
                let opts = WriteOptions {
                    field_manager: opts.field_manager.clone(),
                    ..opts.clone()
                };
                return self.create_applied(tid, ns, applied, &opts);
            }
            Err(e) => return Err(e),
        };
        let patched = patch::apply_patch(kind, &current, body, &rt, opts)?;
        let sent_rv = meta::resource_version(&patched);
        if !sent_rv.is_empty() && sent_rv != meta::resource_version(&current) {
            return Err(ApiError::stale(&rt.group, &rt.plural, name));
        }
        let applied = if kind == PatchKind::Apply {
            Some(patch::parse_applied(body)?)
        } else {
            None
        };
        let owned = applied.as_ref().map_or(Owned::Update, Owned::Apply);
        inner.apply_update(tid, &rt, &current, patched, part, opts, owned, now)
    }

    fn create_applied(
        &self,
        tid: TypeId,
        ns: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Arc<Value>> {
        let applied = obj.clone();
        let created = self.create(
            tid,
            ns,
            obj,
            &WriteOptions {
                dry_run: true,
                ..opts.clone()
            },
        )?;
        let mut obj = (*created).clone();
        let rt = self.lock().registry.get(tid).clone();
        set_managed_fields(
            &mut obj,
            None,
            opts,
            Owned::Apply(&applied),
            &rt,
            self.clock.now(),
            None,
        );
        if opts.dry_run {
            return Ok(Arc::new(obj));
        }
        // Commit the defaulted object exactly as validated (same UID and name).
        let now = self.clock.now();
        let mut inner = self.lock();
        let key = (
            meta::namespace(&obj).to_string(),
            meta::name(&obj).to_string(),
        );
        if inner.objects[tid].contains_key(&key) {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &key.1));
        }
        inner.commit(Change::Put(tid, obj), now)
    }

    /// Deletes an object, honouring finalizers, grace periods and propagation.
    pub fn delete(
        &self,
        tid: TypeId,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> ApiResult<Deleted> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let rt = inner.registry.get(tid).clone();
        if !rt.has_verb("delete") {
            return Err(ApiError::method_not_allowed("DELETE", &rt.plural));
        }
        let current = inner.get(tid, ns, name)?;
        if let Some(rv) = &opts.precondition_rv
            && rv != meta::resource_version(&current)
        {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    meta::resource_version(&current)
                ),
            ));
        }
        if let Some(uid) = &opts.precondition_uid
            && uid != meta::uid(&current)
        {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta::uid(&current)
                ),
            ));
        }
        if opts.dry_run {
            let gone = !meta::is_deleting(&current);
            return Ok(Deleted {
                object: current,
                gone,
            });
        }
        cascade::delete(&mut inner, tid, &current, opts, now)
    }

    /// Deletes every object a list query matches.
    pub fn delete_collection(
        &self,
        tid: TypeId,
        ns: Option<&str>,
        query: &ListQuery,
        opts: &DeleteOptions,
    ) -> ApiResult<Vec<Arc<Value>>> {
        let all = self.list(
            tid,
            ns,
            &ListQuery {
                limit: 0,
                continue_token: None,
                ..query.clone()
            },
        )?;
        let mut out = Vec::new();
        for item in all.items {
            match self.delete(tid, meta::namespace(&item), meta::name(&item), opts) {
                Ok(d) => out.push(d.object),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Assigns a pending pod to a node (the `binding` subresource; the only way `spec.nodeName`
    /// changes after creation).
    pub fn bind_pod(&self, ns: &str, name: &str, node: &str) -> ApiResult<Arc<Value>> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let tid = inner
            .find_type("", "pods")
            .ok_or_else(|| ApiError::no_route("pods"))?;
        let current = inner.get(tid, ns, name)?;
        let mut obj = (*current).clone();
        obj["spec"]["nodeName"] = json!(node);
        inner.commit(Change::Put(tid, obj), now)
    }

    /// Opens a watch on a type.
    pub fn watch(&self, tid: TypeId, ns: Option<&str>, query: &WatchQuery) -> ApiResult<Watch> {
        let mut inner = self.lock();
        watch::open(&mut inner, tid, ns, query)
    }
}

impl ApiError {
    /// Replaces the message (used where the real server words an error differently).
    fn with_message_override(mut self, message: &str) -> Self {
        self.message = message.to_string();
        self
    }
}

fn check_type_meta(rt: &ResourceType, obj: &mut Value) -> ApiResult<()> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: the body must be a JSON object",
            rt.kind, rt.version, rt.kind
        )));
    };
    let api_version = rt.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {}
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {}
        Some(k) if k == rt.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
    }
    if let Some(m) = map.get("metadata")
        && !m.is_object()
        && !m.is_null()
    {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: metadata must be an object",
            rt.kind, rt.version, rt.kind
        )));
    }
    map.insert("apiVersion".into(), json!(api_version));
    map.insert("kind".into(), json!(rt.kind));
    Ok(())
}

/// Who owns what after a write (see [`set_managed_fields`]).
#[derive(Clone, Copy)]
pub(crate) enum Owned<'a> {
    /// A server-side apply of this configuration: the manager owns exactly its fields.
    Apply(&'a Value),
    /// A create, update or non-apply patch: the manager owns the fields it set or changed.
    Update,
}

/// Records a write in `metadata.managedFields`: one entry per manager and operation. An
/// apply owns the fields of the applied configuration; an update adds the fields whose value
/// it changed to what the manager owned before (a create owns everything it wrote).
///
/// `scope` names the one top-level field a write changed when the caller knows every other
/// field is the stored object's (a status write): only that field's subtrees are walked.
fn set_managed_fields(
    obj: &mut Value,
    old: Option<&Value>,
    opts: &WriteOptions,
    owned: Owned<'_>,
    rt: &ResourceType,
    now: jiff::Timestamp,
    scope: Option<&str>,
) {
    let manager = opts
        .field_manager
        .clone()
        .unwrap_or_else(|| "unknown".into());
    let operation = match owned {
        Owned::Apply(_) => "Apply",
        Owned::Update => "Update",
    };
    let mut entries: Vec<Value> = old
        .and_then(|o| o.ptr("/metadata/managedFields"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let same = |e: &Value| {
        e.get("manager").and_then(Value::as_str) == Some(manager.as_str())
            && e.get("operation").and_then(Value::as_str) == Some(operation)
    };
    let before = entries
        .iter()
        .position(same)
        .map(|i| entries.remove(i))
        .and_then(|mut e| e.get_mut("fieldsV1").map(Value::take));
    entries.retain(|e| !same(e));
    // What this write changed (an update's changes, a forced apply's conflicts) is no longer
    // the other managers', and nobody owns what is gone.
    let taken = old.map(|old| match scope {
        Some(field) => fieldset::changed_in(old, obj, field),
        None => fieldset::changed(old, obj),
    });
    if let Some(taken) = &taken {
        for e in &mut entries {
            if let (Some(field), Some(fields)) = (scope, e.get_mut("fieldsV1"))
                && fieldset::release_in(fields, taken, obj, field)
            {
                continue;
            }
            let kept = fieldset::released(e.get("fieldsV1").unwrap_or(&Value::Null), taken, obj);
            e["fieldsV1"] = kept;
        }
        entries.retain(|e| e["fieldsV1"].as_object().is_some_and(|m| !m.is_empty()));
    }
    let fields = match (owned, taken, scope) {
        (Owned::Apply(applied), _, _) => patch::fields_v1(applied),
        (Owned::Update, Some(changed), Some(field)) => {
            Value::Object(fieldset::owned_after_update_in(changed, before, obj, field))
        }
        (Owned::Update, Some(changed), None) => {
            Value::Object(fieldset::owned_after_update(changed, before.as_ref(), obj))
        }
        (Owned::Update, None, _) => patch::fields_v1(obj),
    };
    let empty = fields.as_object().is_none_or(serde_json::Map::is_empty);
    if !empty {
        // Built by hand: `json!` would serialize `fields` into a copy of itself.
        let mut entry = serde_json::Map::with_capacity(6);
        entry.insert("manager".into(), Value::String(manager));
        entry.insert("operation".into(), Value::String(operation.into()));
        entry.insert("apiVersion".into(), Value::String(rt.api_version()));
        entry.insert("time".into(), Value::String(rfc3339(now)));
        entry.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        entry.insert("fieldsV1".into(), fields);
        entries.push(Value::Object(entry));
    }
    meta::meta_mut(obj).insert("managedFields".into(), Value::Array(entries));
}

/// A status write's object: the stored one with the written `status` (none when the write
/// had none), in the stored field order. `metadata.managedFields` is left empty (`null`, in
/// its place): the write's [`set_managed_fields`] computes it from the stored object's, so
/// copying it (and the old status) would be thrown away.
fn status_merged(current: &Value, mut status: Option<Value>) -> Value {
    // Stored objects are JSON objects (every write checks its type meta).
    let Some(cur) = current.as_object() else {
        return current.clone();
    };
    let without_managed_fields = |m: &Map<String, Value>| -> Map<String, Value> {
        m.iter()
            .map(|(k, v)| {
                let v = if k == "managedFields" {
                    Value::Null
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    };
    let mut merged = Map::with_capacity(cur.len() + 1);
    for (k, v) in cur {
        let v = match (k.as_str(), v) {
            ("status", _) => match status.take() {
                Some(s) => s,
                None => continue,
            },
            ("metadata", Value::Object(m)) => Value::Object(without_managed_fields(m)),
            _ => v.clone(),
        };
        merged.insert(k.clone(), v);
    }
    if let Some(s) = status {
        merged.insert("status".into(), s);
    }
    Value::Object(merged)
}

/// Whether two objects agree on every top-level field `skip` does not name (a missing field
/// differs from a present one), without copying either.
fn same_except(a: &Value, b: &Value, skip: impl Fn(&str) -> bool) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(x), Some(y)) => {
            x.iter()
                .filter(|(k, _)| !skip(k))
                .all(|(k, v)| y.get(k) == Some(v))
                && y.keys().filter(|k| !skip(k)).all(|k| x.contains_key(k))
        }
        _ => a == b,
    }
}

/// Whether the spec part differs (everything but metadata and status): a change there bumps
/// `metadata.generation`.
fn spec_changed(a: &Value, b: &Value) -> bool {
    !same_except(a, b, |k| {
        matches!(k, "metadata" | "status" | "apiVersion" | "kind")
    })
}

/// Whether a write changes nothing but the resourceVersion and managedFields (a no-op).
fn only_volatile_changed(a: &Value, b: &Value) -> bool {
    same_except(a, b, |k| k == "metadata")
        && same_except(
            a.get("metadata").unwrap_or(&Value::Null),
            b.get("metadata").unwrap_or(&Value::Null),
            |k| matches!(k, "resourceVersion" | "managedFields"),
        )
}

impl Inner {
    fn load(&mut self, tid: TypeId, obj: Value) {
        let key = (
            meta::namespace(&obj).to_string(),
            meta::name(&obj).to_string(),
        );
        self.index_owners(tid, &obj, true);
        if meta::meta_str(&obj, "uid").is_empty() {
            tracing::warn!(name = %key.1, "restored object without uid");
        }
        let is_crd = self.registry.get(tid).kind == "CustomResourceDefinition";
        let obj = Arc::new(obj);
        self.objects[tid].insert(key, obj.clone());
        if is_crd {
            admission::register_crd(self, &obj);
        }
    }

    pub(crate) fn ensure_type_slots(&mut self) {
        let n = self.registry.iter().count();
        while self.objects.len() < n {
            self.objects.push(BTreeMap::new());
        }
    }

    pub(crate) fn get(&self, tid: TypeId, ns: &str, name: &str) -> ApiResult<Arc<Value>> {
        let rt = self.registry.get(tid);
        let ns = if rt.namespaced { ns } else { "" };
        self.objects[tid]
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))
    }

    pub(crate) fn objects_of(&self, tid: TypeId) -> &BTreeMap<ObjKey, Arc<Value>> {
        &self.objects[tid]
    }

    pub(crate) fn find_type(&self, group: &str, plural: &str) -> Option<TypeId> {
        self.registry
            .iter()
            .find(|(_, t)| t.group == group && t.plural == plural)
            .map(|(id, _)| id)
    }

    fn check_namespace_accepts(&self, rt: &ResourceType, ns: &str, name: &str) -> ApiResult<()> {
        let Some(ns_tid) = self.find_type("", "namespaces") else {
            return Ok(());
        };
        match self.objects[ns_tid].get(&(String::new(), ns.to_string())) {
            None => Err(ApiError::not_found("", "namespaces", ns)),
            Some(n) if meta::is_deleting(n) => Err(ApiError::namespace_terminating(
                &rt.group, &rt.plural, name, ns,
            )),
            Some(_) => Ok(()),
        }
    }

    fn list(&self, tid: TypeId, ns: Option<&str>, query: &ListQuery) -> ApiResult<ListResult> {
        let rt = self.registry.get(tid);
        let (start, list_rv) = match &query.continue_token {
            Some(token) => {
                let (rv, start) = decode_continue(token)?;
                (Some(start), rv)
            }
            None => (None, query.exact_rv.unwrap_or(self.rv)),
        };
        let historic;
        let objects = if list_rv < self.rv {
            historic = self.snapshot_at(tid, list_rv).ok_or_else(|| {
                if query.continue_token.is_some() {
                    ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    )
                } else {
                    ApiError::expired(format!("too old resource version: {list_rv} ({})", self.rv))
                }
            })?;
            &historic
        } else {
            &self.objects[tid]
        };
        let ns = if rt.namespaced { ns } else { None };
        let range: Box<dyn Iterator<Item = (&ObjKey, &Arc<Value>)>> = match (ns, &start) {
            (_, Some(after)) => Box::new(
                objects
                    .range::<ObjKey, _>((
                        std::ops::Bound::Excluded(after.clone()),
                        std::ops::Bound::Unbounded,
                    ))
                    .filter(move |(k, _)| ns.is_none_or(|n| k.0 == n)),
            ),
            (Some(n), None) => Box::new(
                objects
                    .range::<ObjKey, _>((n.to_string(), String::new())..)
                    .take_while(move |(k, _)| k.0 == n),
            ),
            (None, None) => Box::new(objects.iter()),
        };
        let mut items = Vec::new();
        let mut next = None;
        let mut remaining = 0u64;
        for (key, obj) in range {
            if ns.is_some_and(|n| key.0 != n) {
                break;
            }
            if !query.labels.matches(obj) || !query.fields.matches(obj) {
                continue;
            }
            if query.limit > 0 && items.len() == query.limit {
                if next.is_none() {
                    next = Some(encode_continue(list_rv, &items_last_key(&items)));
                }
                remaining += 1;
                continue;
            }
            items.push(obj.clone());
        }
        Ok(ListResult {
            items,
            rv: list_rv,
            remaining: next.as_ref().map(|_| remaining),
            continue_token: next,
        })
    }

    /// The shared tail of update and patch: merge with the current object per `part`, check
    /// immutable fields, bump generation, finish deletions whose finalizers are gone.
    #[allow(clippy::too_many_arguments)] // the write's full context, passed once
    fn apply_update(
        &mut self,
        tid: TypeId,
        rt: &ResourceType,
        current: &Arc<Value>,
        mut obj: Value,
        part: Part,
        opts: &WriteOptions,
        owned: Owned<'_>,
        now: jiff::Timestamp,
    ) -> ApiResult<Arc<Value>> {
        let operation = match owned {
            Owned::Apply(_) => "Apply",
            Owned::Update => "Update",
        };
        if !rt.has_verb("update") && operation == "Update" {
            return Err(ApiError::method_not_allowed("PUT", &rt.plural));
        }
        let has_status = rt.has_subresource("status");
        match part {
            Part::Status => obj = status_merged(current, obj.get_mut("status").map(Value::take)),
            Part::Main if has_status => match current.get("status") {
                Some(s) => obj["status"] = s.clone(),
                None => {
                    if let Some(m) = obj.as_object_mut() {
                        m.remove("status");
                    }
                }
            },
            Part::Main => {}
        }
        // System-owned metadata always comes from the stored object. A status write starts
        // from a copy of the stored object, so its metadata is the stored one already.
        if part != Part::Status {
            let cur_meta = current.get("metadata").unwrap_or(&Value::Null);
            let m = meta::meta_mut(&mut obj);
            for f in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match cur_meta.get(f) {
                    Some(v) => m.insert(f.into(), v.clone()),
                    None => m.remove(f),
                };
            }
        }
        // A status write keeps the stored finalizers, so it adds none.
        if part != Part::Status && meta::is_deleting(current) {
            let old_f: BTreeSet<String> = meta::finalizers(current).into_iter().collect();
            let new_f: BTreeSet<String> = meta::finalizers(&obj).into_iter().collect();
            if !new_f.is_subset(&old_f) {
                return Err(ApiError::forbidden(
                    &rt.group,
                    &rt.plural,
                    meta::name(current),
                    format!(
                        "{} \"{}\" is forbidden: no new finalizers can be added if the object is being deleted",
                        rt.qualified_plural(),
                        meta::name(current)
                    ),
                ));
            }
        }
        admission::on_update(self, rt, current, &mut obj)?;
        admission::validate(rt, &obj, Some(current))?;
        if spec_changed(&obj, current) {
            let generation = current
                .ptr("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            meta::meta_mut(&mut obj).insert("generation".into(), json!(generation));
        }
        if only_volatile_changed(&obj, current) && operation == "Update" {
            return Ok(current.clone());
        }
        // A status write whose admission left the rest of the object as stored changed
        // nothing outside the status.
        let scope = (part == Part::Status
            && same_except(&obj, current, |k| matches!(k, "status" | "metadata"))
            && same_except(
                obj.get("metadata").unwrap_or(&Value::Null),
                current.get("metadata").unwrap_or(&Value::Null),
                |k| k == "managedFields",
            ))
        .then_some("status");
        set_managed_fields(&mut obj, Some(current), opts, owned, rt, now, scope);
        if opts.dry_run {
            meta::meta_mut(&mut obj).insert(
                "resourceVersion".into(),
                json!(meta::resource_version(current)),
            );
            return Ok(Arc::new(obj));
        }
        let finished = meta::is_deleting(&obj) && meta::finalizers(&obj).is_empty();
        let committed = self.commit(Change::Put(tid, obj), now)?;
        if finished {
            cascade::finish(self, tid, &committed, now)?;
        }
        Ok(committed)
    }

    fn index_owners(&mut self, tid: TypeId, obj: &Value, add: bool) {
        let owners = meta::owner_uids(obj);
        if owners.is_empty() {
            return;
        }
        let entry = (
            tid,
            meta::namespace(obj).to_string(),
            meta::name(obj).to_string(),
        );
        for owner in owners {
            if add {
                self.dependents
                    .entry(owner)
                    .or_default()
                    .insert(entry.clone());
            } else if let Some(set) = self.dependents.get_mut(&owner) {
                set.remove(&entry);
                if set.is_empty() {
                    self.dependents.remove(&owner);
                }
            }
        }
    }

    /// The objects that name `uid` as an owner.
    pub(crate) fn dependents_of(&self, uid: &str) -> Vec<(TypeId, Arc<Value>)> {
        self.dependents
            .get(uid)
            .map(|set| {
                set.iter()
                    .filter_map(|(tid, ns, name)| {
                        self.objects[*tid]
                            .get(&(ns.clone(), name.clone()))
                            .map(|o| (*tid, o.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Applies one change: assigns the next resourceVersion, logs it durably, updates the
    /// maps and indexes, and fans the event out to watches and hooks.
    pub(crate) fn commit(
        &mut self,
        change: Change,
        _now: jiff::Timestamp,
    ) -> ApiResult<Arc<Value>> {
        let rv = self.rv + 1;
        let (event_type, tid, object, old) = match change {
            Change::Put(tid, mut obj) => {
                meta::meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
                let key = (
                    meta::namespace(&obj).to_string(),
                    meta::name(&obj).to_string(),
                );
                let rt = self.registry.get(tid);
                if let Some(wal) = &mut self.wal {
                    wal.append_put(rv, &rt.api_version(), &rt.plural, &obj)
                        .map_err(|e| ApiError::internal(format!("persisting the write: {e}")))?;
                }
                let obj = Arc::new(obj);
                let old = self.objects[tid].insert(key, obj.clone());
                // Most writes (status updates above all) keep the owner references: the
                // index entries would be removed and put back unchanged.
                let same_owners = old.as_ref().is_some_and(|o| {
                    o.ptr("/metadata/ownerReferences") == obj.ptr("/metadata/ownerReferences")
                });
                if !same_owners {
                    if let Some(o) = &old {
                        self.index_owners(tid, o, false);
                    }
                    self.index_owners(tid, &obj, true);
                }
                let et = if old.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                (et, tid, obj, old)
            }
            Change::Delete(tid, key) => {
                let rt = self.registry.get(tid);
                if let Some(wal) = &mut self.wal {
                    wal.append_delete(rv, &rt.api_version(), &rt.plural, &key.0, &key.1)
                        .map_err(|e| ApiError::internal(format!("persisting the delete: {e}")))?;
                }
                let Some(old) = self.objects[tid].remove(&key) else {
                    return Err(ApiError::not_found(&rt.group, &rt.plural, &key.1));
                };
                self.index_owners(tid, &old, false);
                let mut last = (*old).clone();
                meta::meta_mut(&mut last).insert("resourceVersion".into(), json!(rv.to_string()));
                (EventType::Deleted, tid, Arc::new(last), Some(old))
            }
        };
        self.rv = rv;
        let event = Arc::new(StoreEvent {
            event_type,
            type_id: tid,
            object: object.clone(),
            old,
            rv,
        });
        self.history.push_back(event.clone());
        while self.history.len() > self.config.history_limit {
            if let Some(e) = self.history.pop_front() {
                self.compacted_rv = e.rv;
            }
        }
        watch::dispatch(self, &event);
        for hook in &self.hooks {
            hook(&event);
        }
        if let Some(wal) = &mut self.wal
            && wal.wants_snapshot()
        {
            let snapshot = self.snapshot_rows();
            if let Some(wal) = &mut self.wal
                && let Err(e) = wal.snapshot(rv, &snapshot)
            {
                tracing::error!(error = %e, "writing a state snapshot failed; the write-ahead log keeps growing");
            }
        }
        Ok(object)
    }

    fn snapshot_rows(&self) -> Vec<(String, String, Arc<Value>)> {
        let mut rows = Vec::new();
        // CRDs first, so their custom resources can be registered on restore.
        let mut order: Vec<TypeId> = self.registry.iter().map(|(id, _)| id).collect();
        order.sort_by_key(|id| self.registry.get(*id).kind != "CustomResourceDefinition");
        for tid in order {
            let rt = self.registry.get(tid);
            for obj in self.objects[tid].values() {
                rows.push((rt.api_version(), rt.plural.clone(), obj.clone()));
            }
        }
        rows
    }

    /// The objects of a type as they were at `rv`, rebuilt by undoing later events; None when
    /// `rv` is older than the retained history.
    fn snapshot_at(&self, tid: TypeId, rv: u64) -> Option<BTreeMap<ObjKey, Arc<Value>>> {
        if rv < self.compacted_rv {
            return None;
        }
        let mut objects = self.objects[tid].clone();
        for e in self.history.iter().rev().take_while(|e| e.rv > rv) {
            if e.type_id != tid {
                continue;
            }
            let key = (
                meta::namespace(&e.object).to_string(),
                meta::name(&e.object).to_string(),
            );
            match (&e.event_type, &e.old) {
                (EventType::Added, _) => {
                    objects.remove(&key);
                }
                (EventType::Modified | EventType::Deleted, Some(old)) => {
                    objects.insert(key, old.clone());
                }
                (_, None) => {}
            }
        }
        Some(objects)
    }

    pub(crate) fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub(crate) fn history_since(&self, rv: u64) -> Option<Vec<Arc<StoreEvent>>> {
        if rv < self.compacted_rv {
            return None;
        }
        Some(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    pub(crate) fn watchers_mut(&mut self) -> &mut Vec<watch::Watcher> {
        &mut self.watchers
    }
}

fn items_last_key(items: &[Arc<Value>]) -> ObjKey {
    items
        .last()
        .map(|o| (meta::namespace(o).to_string(), meta::name(o).to_string()))
        .unwrap_or_default()
}

fn encode_continue(rv: u64, key: &ObjKey) -> String {
    use base64::Engine;
    let body = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{}/{}", key.0, key.1)});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body.to_string())
}

fn decode_continue(token: &str) -> ApiResult<(u64, ObjKey)> {
    use base64::Engine;
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    let (ns, name) = start.split_once('/').ok_or_else(bad)?;
    Ok((rv, (ns.to_string(), name.to_string())))
}

#[cfg(test)]
mod tests;
