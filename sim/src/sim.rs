//! [`Sim`]: a simulated cluster in-process, with a `kube::Client` that needs no socket.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::api::{self, ApiOptions};
use crate::clock::{ManualTime, TimeMode, TimeSource, TraceEntry};
use crate::cluster::{Cluster, ClusterStats, Settled};
use crate::faults::{Fault, FaultError};
use crate::kubelet::{ContainerRuntime, RealRuntime, ScriptedRuntime};
use crate::resources::Flavor;
use crate::runtime::Catalogue;
use crate::store::persist::PersistError;
use crate::store::{Store, StoreConfig};

/// How long [`Sim::settle`] may run virtual time at most.
pub const DEFAULT_SETTLE_HORIZON: Duration = Duration::from_secs(3600);

/// Options for a simulated cluster.
#[derive(Clone)]
pub struct SimBuilder {
    seed: u64,
    nodes: usize,
    flavor: Flavor,
    state_dir: Option<PathBuf>,
    mode: TimeMode,
    token: Option<String>,
    users: api::auth::Users,
    runtime: Option<Arc<dyn ContainerRuntime>>,
    real: Option<Catalogue>,
    trace: bool,
    events: bool,
}

impl std::fmt::Debug for SimBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimBuilder")
            .field("seed", &self.seed)
            .field("nodes", &self.nodes)
            .field("flavor", &self.flavor)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self {
            seed: 0,
            nodes: 1,
            flavor: Flavor::Kubernetes,
            state_dir: None,
            mode: TimeMode::Manual,
            token: None,
            users: api::auth::Users::default(),
            runtime: None,
            real: None,
            trace: true,
            events: true,
        }
    }
}

impl SimBuilder {
    /// Seed of every random choice (UIDs, generated names, IPs, ports).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Number of nodes.
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes;
        self
    }

    /// Kubernetes or OpenShift.
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Keep state durably in a directory.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Use wall-clock time instead of the deterministic manual clock.
    pub fn real_time(mut self, yes: bool) -> Self {
        self.mode = if yes {
            TimeMode::RealTime { scale: 1.0 }
        } else {
            TimeMode::Manual
        };
        self
    }

    /// How virtual time moves (manual by default; auto and real time start a driver task on
    /// the current tokio runtime).
    pub fn time_mode(mut self, mode: TimeMode) -> Self {
        self.mode = mode;
        self
    }

    /// The container runtime the kubelet drives (default: [`RealRuntime`] over the built-in
    /// image catalogue; see [`SimBuilder::real_runtime`]).
    pub fn runtime(mut self, runtime: Arc<dyn ContainerRuntime>) -> Self {
        self.runtime = Some(runtime);
        self.real = None;
        self
    }

    /// Runs containers for real ([`RealRuntime`], the default): images from `catalogue`,
    /// simulated filesystems and volumes, the shell and builtin programs as processes in
    /// virtual time, logs, exec, attach and port-forward. An image outside the catalogue runs
    /// on the busybox base and, without a command, serves its declared ports until stopped.
    pub fn real_runtime(mut self, catalogue: Catalogue) -> Self {
        self.real = Some(catalogue);
        self.runtime = None;
        self
    }

    /// Runs no processes ([`ScriptedRuntime`]): each container behaves as its command line
    /// says, so only the control plane is simulated (no logs, no exec).
    pub fn scripted_runtime(self) -> Self {
        self.runtime(Arc::new(ScriptedRuntime::new()))
    }

    /// Whether the event trace keeps its text (counting always happens; default on).
    pub fn trace(mut self, yes: bool) -> Self {
        self.trace = yes;
        self
    }

    /// Whether Kubernetes Event objects are written (default on).
    pub fn events(mut self, yes: bool) -> Self {
        self.events = yes;
        self
    }

    /// Require a bearer token on every request; this one authenticates the admin
    /// [`api::auth::TOKEN_ADMIN`], and [`Sim::client`] sends it.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// More bearer tokens, each naming its user (any token set requires one on every
    /// request; see [`api::auth`]).
    pub fn users(mut self, users: api::auth::Users) -> Self {
        self.users = users;
        self
    }

    /// Builds the cluster.
    pub fn build(self) -> Result<Sim, PersistError> {
        let manual = Arc::new(match self.mode {
            TimeMode::RealTime { .. } => ManualTime::starting_at(jiff::Timestamp::now()),
            _ => ManualTime::default(),
        });
        let clock: Arc<dyn TimeSource> = manual.clone();
        let config = StoreConfig {
            flavor: self.flavor,
            seed: self.seed,
            graceful_pod_deletion: true,
            ..StoreConfig::default()
        };
        let store = match &self.state_dir {
            Some(dir) => Store::open(config, clock, dir)?,
            None => Store::new(config, clock),
        };
        let store = Arc::new(store);
        crate::store::nodes::ensure_nodes(&store, self.nodes);
        let mut real = None;
        let runtime = match (self.runtime, self.real) {
            (Some(r), _) => r,
            (None, Some(catalogue)) => {
                let r = Arc::new(RealRuntime::new(
                    catalogue,
                    store.clone(),
                    manual.clone(),
                    self.mode,
                ));
                real = Some(r.clone());
                r
            }
            (None, None) => match Catalogue::builtin() {
                Ok(catalogue) => {
                    let r: Arc<RealRuntime> = Arc::new(RealRuntime::new(
                        catalogue,
                        store.clone(),
                        manual.clone(),
                        self.mode,
                    ));
                    real = Some(r.clone());
                    r as Arc<dyn ContainerRuntime>
                }
                // The embedded catalogue is checked by the runtime's tests; should it ever
                // fail to load, pods still run, on the scripted runtime.
                Err(e) => {
                    tracing::error!(error = %e, "the built-in image catalogue does not load; running containers on the scripted runtime");
                    Arc::new(ScriptedRuntime::new())
                }
            },
        };
        // Images pushed by builds come back with the objects that name them.
        if let (Some(dir), Some(r)) = (&self.state_dir, &real) {
            let n =
                r.runtime()
                    .catalogue()
                    .open_journal(dir)
                    .map_err(|e| PersistError::Corrupt {
                        path: e.path,
                        why: e.why,
                    })?;
            tracing::debug!(images = n, "pushed images restored");
        }
        let cluster = Cluster::new(
            store.clone(),
            manual,
            self.seed,
            runtime.clone(),
            self.mode,
            self.trace,
        );
        cluster.set_record_events(self.events);
        if self.mode != TimeMode::Manual {
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn(Cluster::drive(Arc::downgrade(&cluster)));
                }
                Err(_) => tracing::warn!(
                    "time mode {:?} needs a tokio runtime to drive it; build the Sim inside one",
                    self.mode
                ),
            }
        }
        let mut users = self.users;
        if let Some(t) = &self.token {
            users.set_admin_token(t);
        }
        let router = api::router(
            store.clone(),
            ApiOptions {
                users: users.clone(),
                runtime: Some(runtime.clone()),
            },
        )
        .layer(axum::middleware::from_fn_with_state(
            cluster.api_faults.clone(),
            crate::faults::layer,
        ))
        .merge(crate::admin::router(&cluster, users));
        Ok(Sim {
            store,
            router,
            token: self.token,
            cluster,
            runtime,
            real,
        })
    }
}

/// A simulated cluster.
#[derive(Clone)]
pub struct Sim {
    store: Arc<Store>,
    router: axum::Router,
    token: Option<String>,
    cluster: Arc<Cluster>,
    runtime: Arc<dyn ContainerRuntime>,
    real: Option<Arc<RealRuntime>>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// Starts building a simulated cluster.
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// The object store behind the API.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The HTTP router serving the API (for serving it on a socket).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// A kube-rs client that calls the API in-process, without a socket.
    ///
    /// Plain requests call the router directly. Requests that upgrade the connection
    /// (exec, attach and port-forward over WebSocket or SPDY) need a real HTTP/1.1
    /// connection for the upgrade, so each gets its own in-memory one: a `tokio::io::duplex`
    /// pipe with hyper's client on one end and the router on the other (still no socket).
    pub fn client(&self) -> kube::Client {
        self.client_with(None)
    }

    /// Like [`Sim::client`], acting as `user` (the `Impersonate-User` header that
    /// `kubectl --as=<user>` sends): OpenShift projects it did not request are hidden from it.
    pub fn client_as(&self, user: &str) -> kube::Client {
        self.client_with(http::HeaderValue::from_str(user).ok())
    }

    fn client_with(&self, impersonate: Option<http::HeaderValue>) -> kube::Client {
        let token = self.token.clone();
        let router = self.router.clone();
        let service = tower::service_fn(move |mut r: http::Request<kube::client::Body>| {
            if let Some(t) = &token
                && let Ok(v) = http::HeaderValue::from_str(&format!("Bearer {t}"))
            {
                r.headers_mut().insert(http::header::AUTHORIZATION, v);
            }
            if let Some(u) = &impersonate {
                r.headers_mut()
                    .insert(crate::api::auth::IMPERSONATE_USER, u.clone());
            }
            let router = router.clone();
            async move {
                if r.headers().contains_key(http::header::UPGRADE) {
                    crate::api::stream::in_memory::send(router, r).await
                } else {
                    use tower::ServiceExt;
                    router
                        .oneshot(r.map(axum::body::Body::new))
                        .await
                        .map_err(|e| -> tower::BoxError { Box::new(e) })
                }
            }
        });
        kube::Client::new(service, "default")
    }

    /// The cluster machinery (controllers, kubelet, clock, trace).
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// The container runtime the kubelet drives (exec, logs, attach, port-forward).
    pub fn container_runtime(&self) -> &Arc<dyn ContainerRuntime> {
        &self.runtime
    }

    /// The real container runtime, when the cluster runs one (volumes, containers).
    pub fn real_runtime(&self) -> Option<&Arc<RealRuntime>> {
        self.real.as_ref()
    }

    /// The current virtual instant.
    pub fn now(&self) -> jiff::Timestamp {
        self.cluster.now()
    }

    /// Moves virtual time forward by `d`, running everything due on the way; returns the
    /// number of timers fired.
    pub fn advance(&self, d: Duration) -> u64 {
        self.cluster.advance(d)
    }

    /// Awaits `fut` while virtual time moves `step` forward each time `fut` has to wait: a
    /// client of a manual-time simulator (an odo push, an exec) then sees time pass as it
    /// would on a real cluster, as fast as the work allows.
    pub async fn advancing<F: std::future::Future>(&self, step: Duration, fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        loop {
            tokio::select! {
                biased;
                out = &mut fut => return out,
                () = tokio::task::yield_now() => {
                    self.advance(step);
                }
            }
        }
    }

    /// Runs until nothing is pending, jumping from event to event, for at most
    /// [`DEFAULT_SETTLE_HORIZON`] of virtual time.
    pub fn settle(&self) -> Settled {
        self.cluster.settle_for(DEFAULT_SETTLE_HORIZON)
    }

    /// Like [`Sim::settle`] with an explicit bound on virtual time.
    pub fn settle_for(&self, max: Duration) -> Settled {
        self.cluster.settle_for(max)
    }

    /// Injects a fault now (recorded in the trace).
    pub fn inject(&self, fault: Fault) -> Result<(), FaultError> {
        self.cluster.inject(fault)
    }

    /// The event trace, one line per event.
    pub fn trace_text(&self) -> String {
        self.cluster.trace_text()
    }

    /// The event trace entries.
    pub fn trace(&self) -> Vec<TraceEntry> {
        self.cluster.trace()
    }

    /// Work counters.
    pub fn stats(&self) -> ClusterStats {
        self.cluster.stats()
    }
}
