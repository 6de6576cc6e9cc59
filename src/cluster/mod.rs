//! Talking to a cluster: choosing and connecting to it (kubeconfig or the embedded simulator,
//! with the Timeout preference as the connection deadline), detecting its flavor, server-side
//! apply of rendered objects, pruning, deleting by labels, waiting for the component pod with a
//! watch, exec and logs. Everything goes through kube-rs.

pub mod apply;
pub mod build;
pub mod exec;
#[cfg(test)]
pub mod fake;
pub mod flavor;
pub mod projects;
pub mod prune;
pub mod query;
pub mod rollout;
pub mod select;
#[cfg(test)]
mod tests;
pub mod tls;
pub mod wait;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;

use crate::manifests::Flavor;
pub use select::ClusterChoice;

/// A duration as odo prints it: `4m0s`, `30s`, `300ms`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{}ms", d.as_millis()),
        1..=59 => format!("{secs}s"),
        _ => format!("{}m{}s", secs / 60, secs % 60),
    }
}

/// Field manager used for server-side apply.
pub const FIELD_MANAGER: &str = "odo";

/// Errors talking to the cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig could not be loaded.
    #[error("cannot load the cluster configuration (KUBECONFIG / ~/.kube/config)")]
    Kubeconfig(#[source] kube::config::InferConfigError),
    /// A client could not be built.
    #[error("cannot create a client for {server}")]
    Client {
        /// Server URL.
        server: String,
        /// Cause.
        source: kube::Error,
    },
    /// The server did not answer in time.
    #[error("the cluster at {server} did not answer within {}s", timeout.as_secs_f64())]
    Unreachable {
        /// Server URL.
        server: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The first request to the server failed.
    #[error("cannot reach the cluster at {server}")]
    Connect {
        /// Server URL.
        server: String,
        /// Cause.
        source: kube::Error,
    },
    /// A self-signed certificate could not be generated.
    #[error("cannot generate a self-signed certificate for {host}: {message}")]
    Certificate {
        /// The host it was for.
        host: String,
        /// What went wrong.
        message: String,
    },
    /// An API call failed.
    #[error("{action}")]
    Api {
        /// What was attempted.
        action: String,
        /// Cause.
        source: kube::Error,
    },
    /// A url or storage name is taken by another component of the application.
    #[error("{what} {name} is already used by component {owner} of application {app}")]
    NameConflict {
        /// `url` or `storage`.
        what: &'static str,
        /// The url or storage name.
        name: String,
        /// The component that has it.
        owner: String,
        /// The application.
        app: String,
    },
    /// `--flavor openshift` on a server without the OpenShift API groups.
    #[error(
        "the cluster at {server} does not serve DeploymentConfigs and Routes (apps.openshift.io, route.openshift.io)"
    )]
    FlavorUnavailable {
        /// Server URL.
        server: String,
    },
    /// The project does not exist.
    #[error("project {0:?} does not exist")]
    NamespaceNotFound(String),
    /// The embedded simulator could not start.
    #[error("cannot start the embedded cluster simulator with its state in {}: {message}", dir.display())]
    Sim {
        /// Its state directory.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No place for the embedded simulator's state.
    #[error("no kubeconfig is configured and there is no place for the embedded simulator's state")]
    NoSimState,
    /// The component pod did not become ready in time.
    #[error("waited {} but the component pod ({selector}) is not running: {status}", human(*waited))]
    PodTimeout {
        /// How long we waited.
        waited: Duration,
        /// The pod selector.
        selector: String,
        /// Last known state.
        status: String,
    },
    /// The component does not exist on the cluster.
    #[error("component {0} has not been pushed")]
    NotPushed(String),
    /// The component exists but has no pod.
    #[error("component {0} has no running pod")]
    NoPod(String),
    /// Starting or following an OpenShift build went wrong (not the build itself failing).
    #[error("{message}")]
    Build {
        /// The BuildConfig or Build.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// Starting a rollout of a DeploymentConfig went wrong.
    #[error("{message}")]
    Rollout {
        /// The DeploymentConfig.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// A command run in the container failed.
    #[error("`{command}` in pod {pod} failed: {message}")]
    Exec {
        /// The command.
        command: String,
        /// The pod.
        pod: String,
        /// What went wrong.
        message: String,
    },
}

impl ClusterError {
    /// How to fix it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ClusterError::Kubeconfig(_) => {
                "check KUBECONFIG, or use the embedded simulator with --cluster sim".into()
            }
            ClusterError::Unreachable { .. } | ClusterError::Connect { .. } => {
                "check that the cluster is running (`kubectl cluster-info`), \
                 raise the wait with `odo preference set Timeout <seconds>`, or use --cluster sim"
                    .into()
            }
            ClusterError::NamespaceNotFound(ns) => {
                format!("create it with `odo project create {ns}`, or pick another with --project")
            }
            ClusterError::Sim { dir, .. } => format!(
                "move {} away to start from an empty simulated cluster, or set ODO_SIM_STATE to another directory",
                dir.display()
            ),
            ClusterError::NoSimState => {
                "set ODO_SIM_STATE (or HOME / XDG_STATE_HOME), or use --cluster kube".into()
            }
            ClusterError::PodTimeout { .. } => "the events above say why; raise the wait with \
                 `odo preference set PushTimeout <seconds>`"
                .into(),
            ClusterError::NotPushed(_) => "run `odo push` first".into(),
            ClusterError::Build { name, .. } => format!(
                "`oc describe build/{name}` (or buildconfig/{name}) and `oc get events` say more; \
                 raise the wait with `odo preference set PushTimeout <seconds>`"
            ),
            ClusterError::Rollout { name, .. } => format!(
                "`oc rollout status dc/{name}` and `oc get events` say more; `odo push` starts \
                 a new build and rollout"
            ),
            ClusterError::FlavorUnavailable { .. } => {
                "use --flavor kubernetes (Deployment + Ingress) on this cluster".into()
            }
            ClusterError::NoPod(_) => "run `odo push` and look at the events it shows".into(),
            ClusterError::NameConflict { what, .. } => {
                format!(
                    "{what} names are shared by all components of an application; pick another name"
                )
            }
            ClusterError::Api {
                source: kube::Error::Api(s),
                ..
            } if s.code == 403 => {
                "your user lacks permission for this; ask the cluster admin or use another project"
                    .into()
            }
            _ => return None,
        })
    }

    /// Wraps a kube error with what was attempted.
    pub fn api(action: impl Into<String>, source: kube::Error) -> Self {
        ClusterError::Api {
            action: action.into(),
            source,
        }
    }
}

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--cluster`.
    pub choice: Option<ClusterChoice>,
    /// Timeout preference.
    pub timeout: Duration,
    /// `--project` or the config's Project.
    pub namespace: Option<String>,
    /// `--flavor`.
    pub flavor: Option<Flavor>,
}

/// A live connection.
#[derive(Clone)]
pub struct Connection {
    /// The client.
    pub client: kube::Client,
    /// Namespace commands work in.
    pub namespace: String,
    /// The flavor of objects to use.
    pub flavor: Flavor,
    /// Server URL (for messages).
    pub server: String,
    /// Which backend.
    pub backend: ClusterChoice,
    /// The embedded simulator behind `client`, when odo started one: its controllers and
    /// kubelet run only while the `Sim` is alive, so the connection owns it.
    pub embedded: Option<odo_sim::Sim>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("namespace", &self.namespace)
            .field("flavor", &self.flavor)
            .field("server", &self.server)
            .finish()
    }
}

/// Runs a future on a fresh runtime (the CLI is synchronous at the top).
pub fn block_on<F: Future>(f: F) -> F::Output {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            // Building a runtime only fails when the OS refuses threads; nothing useful can run.
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    }
}

/// Connects to the chosen cluster and checks it answers within the timeout.
pub async fn connect(opts: &ConnectOptions) -> Result<Connection, ClusterError> {
    match select::choose_from_env(opts.choice) {
        ClusterChoice::Kube => connect_kube(opts).await,
        ClusterChoice::Sim => connect_sim(opts).await,
    }
}

/// File in the simulator's state directory recording the flavor it was started with.
const SIM_FLAVOR_FILE: &str = "odo-flavor";

/// The flavor of the embedded simulator: `--flavor` when given (and then recorded), else the
/// recorded one, else kubernetes. Pure apart from the two file operations on `dir`.
fn sim_flavor(dir: &std::path::Path, requested: Option<Flavor>) -> Result<Flavor, ClusterError> {
    let file = dir.join(SIM_FLAVOR_FILE);
    let recorded = std::fs::read_to_string(&file)
        .ok()
        .and_then(|s| s.trim().parse::<Flavor>().ok());
    let flavor = requested.or(recorded).unwrap_or(Flavor::Kubernetes);
    if recorded != Some(flavor) {
        if recorded.is_some() {
            eprintln!(
                "warning: the embedded simulator switches from {} to {flavor}; objects of the other flavor are dropped",
                recorded.map(|f| f.as_str()).unwrap_or_default()
            );
        }
        crate::config::fsutil::write_atomic(&file, flavor.as_str().as_bytes()).map_err(|e| {
            ClusterError::Sim {
                dir: dir.to_path_buf(),
                message: e.to_string(),
            }
        })?;
    }
    Ok(flavor)
}

async fn connect_sim(opts: &ConnectOptions) -> Result<Connection, ClusterError> {
    let dir = select::sim_state_dir(&|k| std::env::var_os(k)).ok_or(ClusterError::NoSimState)?;
    let fresh = !dir.join(SIM_FLAVOR_FILE).exists();
    std::fs::create_dir_all(&dir).map_err(|e| ClusterError::Sim {
        dir: dir.clone(),
        message: e.to_string(),
    })?;
    let flavor = sim_flavor(&dir, opts.flavor)?;
    let sim_flavor = match flavor {
        Flavor::Kubernetes => odo_sim::Flavor::Kubernetes,
        Flavor::OpenShift => odo_sim::Flavor::Openshift,
    };
    let sim = odo_sim::Sim::builder()
        .state_dir(&dir)
        .flavor(sim_flavor)
        .real_time(true)
        .build()
        .map_err(|e| ClusterError::Sim {
            dir: dir.clone(),
            message: e.to_string(),
        })?;
    if fresh {
        // Said once, when the simulated cluster is created; `odo version` shows it afterwards.
        eprintln!(
            "No kubeconfig found: using the embedded cluster simulator ({flavor}, state in {})",
            dir.display()
        );
    } else {
        tracing::info!("using the embedded cluster simulator in {}", dir.display());
    }
    let server = format!("embedded simulator ({})", dir.display());
    let mut opts = opts.clone();
    opts.flavor = Some(flavor);
    attach_sim(&sim, server, "default", &opts).await
}

/// Connects to a simulator running in this process (the embedded one, or one a test or a
/// bench built); the connection keeps it alive.
pub async fn attach_sim(
    sim: &odo_sim::Sim,
    server: String,
    namespace: &str,
    opts: &ConnectOptions,
) -> Result<Connection, ClusterError> {
    let mut conn = finish_connect(
        sim.client(),
        server,
        namespace.into(),
        ClusterChoice::Sim,
        opts,
    )
    .await?;
    conn.embedded = Some(sim.clone());
    Ok(conn)
}

/// First back-off of a retried 429/503/504.
const RETRY_MIN_DELAY: Duration = Duration::from_millis(200);
/// Longest back-off between two retries.
const RETRY_MAX_DELAY: Duration = Duration::from_secs(2);
/// Retries of one request before the server's answer is reported.
const RETRY_ATTEMPTS: u32 = 3;

/// The retry policy of odo's requests (honours the server's `Retry-After`).
fn retry_policy() -> kube::client::retry::RetryPolicy {
    kube::client::retry::RetryPolicy::new(RETRY_MIN_DELAY, RETRY_MAX_DELAY, RETRY_ATTEMPTS, true)
        // Constants (every test that connects through a kubeconfig builds this policy).
        .expect("odo's retry policy constants are valid")
}

async fn connect_kube(opts: &ConnectOptions) -> Result<Connection, ClusterError> {
    let timeout = opts.timeout.max(Duration::from_millis(100));
    let mut config = tokio::time::timeout(timeout, kube::Config::infer())
        .await
        .map_err(|_| ClusterError::Unreachable {
            server: "(kubeconfig)".into(),
            timeout,
        })?
        .map_err(ClusterError::Kubeconfig)?;
    config.connect_timeout = Some(timeout);
    let server = config.cluster_url.to_string();
    let default_ns = config.default_namespace.clone();
    // kube-rs retries 429/503/504 up to 15 times with back-off growing to minutes: right for a
    // controller, a silent hang for a command someone waits on. A few quick retries ride out
    // a blip; then the server's own answer reaches the user.
    config.default_retry = false;
    let retry = retry_policy();
    let client = kube::client::ClientBuilder::try_from(config)
        .map_err(|source| ClusterError::Client {
            server: server.clone(),
            source,
        })?
        // Retry needs a cloneable service: the buffer makes one of the boxed stack.
        .with_layer(&tower::buffer::BufferLayer::new(1024))
        .with_layer(&tower::retry::RetryLayer::new(retry))
        .build();
    finish_connect(client, server, default_ns, ClusterChoice::Kube, opts).await
}

/// Checks reachability, resolves the namespace and the flavor.
pub async fn finish_connect(
    client: kube::Client,
    server: String,
    default_namespace: String,
    backend: ClusterChoice,
    opts: &ConnectOptions,
) -> Result<Connection, ClusterError> {
    let timeout = opts.timeout.max(Duration::from_millis(100));
    let unreachable = |source: Option<kube::Error>| match source {
        Some(source) => ClusterError::Connect {
            server: server.clone(),
            source,
        },
        None => ClusterError::Unreachable {
            server: server.clone(),
            timeout,
        },
    };
    let detected = tokio::time::timeout(timeout, flavor::detect(&client))
        .await
        .map_err(|_| unreachable(None))?
        .map_err(|e| unreachable(Some(e)))?;
    let flavor = match opts.flavor {
        Some(Flavor::OpenShift) if detected == Flavor::Kubernetes => {
            return Err(ClusterError::FlavorUnavailable { server });
        }
        Some(f) => f,
        None => detected,
    };
    let namespace = opts.namespace.clone().unwrap_or(default_namespace);
    Ok(Connection {
        client,
        namespace,
        flavor,
        server,
        backend,
        embedded: None,
    })
}

impl Connection {
    /// Fails with `NamespaceNotFound` when the namespace does not exist. On Kubernetes a 403
    /// counts as existing (users without cluster-wide rights cannot read namespaces); on
    /// OpenShift the Project is read, which every member of it may do: a 403 there is a
    /// project of someone else, an error with the server's message.
    pub async fn ensure_namespace(&self) -> Result<(), ClusterError> {
        if self.flavor == crate::manifests::Flavor::OpenShift {
            return projects::ensure_project(self, &self.namespace).await;
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        match api.get_opt(&self.namespace).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(ClusterError::NamespaceNotFound(self.namespace.clone())),
            Err(kube::Error::Api(s)) if s.code == 403 => Ok(()),
            Err(e) => Err(ClusterError::api(
                format!("cannot read project {}", self.namespace),
                e,
            )),
        }
    }
}
