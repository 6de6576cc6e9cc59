//! [`Sim`]: a simulated cluster in-process, with a `kube::Client` that needs no socket.

use std::path::PathBuf;
use std::sync::Arc;

use crate::api::{self, ApiOptions};
use crate::clock::{ManualTime, SystemTime, TimeSource};
use crate::resources::Flavor;
use crate::store::persist::PersistError;
use crate::store::{Store, StoreConfig};

/// Options for a simulated cluster.
#[derive(Debug, Clone)]
pub struct SimBuilder {
    seed: u64,
    nodes: usize,
    flavor: Flavor,
    state_dir: Option<PathBuf>,
    real_time: bool,
    token: Option<String>,
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self {
            seed: 0,
            nodes: 1,
            flavor: Flavor::Kubernetes,
            state_dir: None,
            real_time: false,
            token: None,
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
        self.real_time = yes;
        self
    }

    /// Require this bearer token on every request.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Builds the cluster.
    pub fn build(self) -> Result<Sim, PersistError> {
        let clock: Arc<dyn TimeSource> = if self.real_time {
            Arc::new(SystemTime)
        } else {
            Arc::new(ManualTime::default())
        };
        let config = StoreConfig {
            flavor: self.flavor,
            seed: self.seed,
            ..StoreConfig::default()
        };
        let store = match &self.state_dir {
            Some(dir) => Store::open(config, clock, dir)?,
            None => Store::new(config, clock),
        };
        let store = Arc::new(store);
        crate::store::nodes::ensure_nodes(&store, self.nodes);
        let router = api::router(
            store.clone(),
            ApiOptions {
                token: self.token.clone(),
            },
        );
        Ok(Sim {
            store,
            router,
            token: self.token,
        })
    }
}

/// A simulated cluster.
#[derive(Clone)]
pub struct Sim {
    store: Arc<Store>,
    router: axum::Router,
    token: Option<String>,
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
    pub fn client(&self) -> kube::Client {
        use tower::ServiceBuilder;
        let token = self.token.clone();
        let service = ServiceBuilder::new()
            .map_request(move |mut r: http::Request<kube::client::Body>| {
                if let Some(t) = &token
                    && let Ok(v) = http::HeaderValue::from_str(&format!("Bearer {t}"))
                {
                    r.headers_mut().insert(http::header::AUTHORIZATION, v);
                }
                r.map(axum::body::Body::new)
            })
            .service(self.router.clone());
        kube::Client::new(service, "default")
    }
}
