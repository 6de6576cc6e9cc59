//! `odo push` and the other commands that act on a component on the cluster (`delete`, `list`,
//! `describe`, `log`, the cluster half of `url`/`storage list`): load and validate the config,
//! connect, render, apply and prune, wait for the pod, sync the sources, build.
//!
//! The file transfer is not implemented here: it is the [`SourceSync`] trait, implemented by the
//! indexer/sync modules (`src/indexer`, `src/sync`). [`default_sync`] is the integration point.

use std::collections::BTreeSet;
use std::path::PathBuf;

use futures::future::BoxFuture;

use crate::catalog::{self, S2iPaths};
use crate::cli::GlobalArgs;
use crate::cli::component::{PushArgs, component_json, describe_text};
use crate::cli::output;
use crate::cli::progress::Step;
use crate::cluster::exec::{self, ASSEMBLE_AND_RESTART, Stream};
use crate::cluster::{self, ClusterError, ConnectOptions, Connection, apply, prune, query, wait};
use crate::config::preference::PreferenceFile;
use crate::config::validate::PortSpec;
use crate::config::{Component, LocalConfigFile, SourceType};
use crate::error::{Error, Result};
use crate::manifests::{self, RenderInput, meta};

pub use crate::cluster::query::{ClusterStorage, ClusterUrl, Observed};

/// Boxed error from a sync implementation.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors specific to pushing.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// `--source` before the component exists.
    #[error(
        "component {0} does not exist on the cluster yet, so its source cannot be pushed alone"
    )]
    NotCreated(String),
    /// Git components need a cluster-side build.
    #[error("component {0} builds from git, which this odo does not support yet")]
    GitUnsupported(String),
    /// The file sync failed.
    #[error("cannot sync the sources of component {component}")]
    Sync {
        /// Component name.
        component: String,
        /// Cause.
        source: BoxError,
    },
    /// The sync implementation is not part of this build.
    #[error("file sync is not available in this build")]
    SyncUnavailable,
    /// The build step failed.
    #[error("the build of component {component} failed{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Build {
        /// Component name.
        component: String,
        /// Server message.
        message: Option<String>,
        /// Last output lines.
        tail: Vec<String>,
    },
    /// `odo watch` is not part of this build.
    #[error("odo watch is not available in this build")]
    WatchUnavailable,
}

impl PushError {
    /// How to fix it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            PushError::NotCreated(_) => "run `odo push` without --source first".into(),
            PushError::GitUnsupported(_) => {
                "create the component from local sources (`odo create <type>` without --git)".into()
            }
            PushError::Build { tail, .. } if !tail.is_empty() => {
                format!(
                    "last lines of the build output:\n  {}\n(run `odo push --show-log` to see all of it)",
                    tail.join("\n  ")
                )
            }
            PushError::Build { .. } => "run `odo push --show-log` to see the build output".into(),
            PushError::SyncUnavailable | PushError::WatchUnavailable => {
                "this build of odo lacks the indexer/sync modules".into()
            }
            PushError::Sync { .. } => return None,
        })
    }
}

/// Where sources go.
#[derive(Debug, Clone)]
pub struct SyncTarget {
    /// Pod name.
    pub pod: String,
    /// Pod uid: a different uid than at the last push means everything must be sent again.
    pub pod_uid: String,
    /// App container name.
    pub container: String,
    /// Directory the sources are extracted into (`$ODO_S2I_SRC_BIN_PATH/src`, i.e. `/tmp/src`).
    pub target_dir: String,
    /// The s2i paths (deletions are applied to every directory the workflow copies into).
    pub s2i: S2iPaths,
}

/// What to send.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The context directory (holds `.odo/`).
    pub context: PathBuf,
    /// The source root (context + SourceLocation).
    pub source_dir: PathBuf,
    /// `--ignore` rules replacing `.odoignore`/`.gitignore`, when given.
    pub ignore: Vec<String>,
    /// `-f`: send everything.
    pub force: bool,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Files and directories sent.
    pub sent: usize,
    /// Paths deleted in the container.
    pub deleted: usize,
}

impl SyncReport {
    /// Whether anything changed in the container.
    pub fn changed(&self) -> bool {
        self.sent > 0 || self.deleted > 0
    }
}

/// What the next push would send (`odo utils index`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingChanges {
    /// New paths.
    pub added: Vec<String>,
    /// Changed paths.
    pub modified: Vec<String>,
    /// Deleted paths.
    pub deleted: Vec<String>,
}

/// The file transfer of a push: index the sources, send what changed into the container, record
/// the new index only after success.
pub trait SourceSync: Send + Sync {
    /// What the next push would send.
    fn pending(&self, request: &SyncRequest) -> std::result::Result<PendingChanges, BoxError>;
    /// Sends the changes into the container.
    fn sync<'a>(
        &'a self,
        conn: &'a Connection,
        target: &'a SyncTarget,
        request: &'a SyncRequest,
    ) -> BoxFuture<'a, std::result::Result<SyncReport, BoxError>>;
}

/// Stand-in used until the sync modules are linked in.
#[derive(Debug, Default)]
pub struct SyncUnavailable;

impl SourceSync for SyncUnavailable {
    fn pending(&self, _: &SyncRequest) -> std::result::Result<PendingChanges, BoxError> {
        Err(Box::new(PushError::SyncUnavailable))
    }
    fn sync<'a>(
        &'a self,
        _: &'a Connection,
        _: &'a SyncTarget,
        _: &'a SyncRequest,
    ) -> BoxFuture<'a, std::result::Result<SyncReport, BoxError>> {
        Box::pin(async { Err(Box::new(PushError::SyncUnavailable) as BoxError) })
    }
}

/// INTEGRATION POINT (sync): returns the file sync the CLI uses. Replace `SyncUnavailable` with
/// the `crate::sync` implementation of [`SourceSync`] when the indexer/sync modules are merged.
pub fn default_sync() -> Box<dyn SourceSync> {
    Box::new(SyncUnavailable)
}

/// A component ready to be pushed: validated config, builder, s2i paths.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The validated component.
    pub component: Component,
    /// Its builder image.
    pub builder: catalog::ResolvedType,
    /// The builder's s2i paths.
    pub s2i: S2iPaths,
}

/// Validates the config and resolves the component type.
pub fn prepare(file: &LocalConfigFile) -> Result<Prepared> {
    let component = Component::from_settings(&file.path, file.settings())?;
    let builder = catalog::resolve(&component.component_type)?;
    let s2i = catalog::s2i_paths(builder.builder)?;
    Ok(Prepared {
        component,
        builder,
        s2i,
    })
}

/// The component's ports, or its builder image's when it sets none.
pub fn component_ports(file: &LocalConfigFile) -> Result<Vec<PortSpec>> {
    let p = prepare(file)?;
    Ok(if p.component.ports.is_empty() {
        p.builder.builder.port_specs()
    } else {
        p.component.ports
    })
}

/// Connection options from the global flags, the preference and (when given) the config.
pub fn connect_options(g: &GlobalArgs, file: Option<&LocalConfigFile>) -> Result<ConnectOptions> {
    let pref = PreferenceFile::load()?;
    let namespace = g
        .project
        .clone()
        .or_else(|| file.and_then(|f| f.settings().project.clone()));
    Ok(ConnectOptions {
        choice: g.cluster,
        timeout: pref.timeout(),
        namespace,
        flavor: g.flavor,
    })
}

/// Connects for a command.
pub async fn connect(g: &GlobalArgs, file: Option<&LocalConfigFile>) -> Result<Connection> {
    let opts = connect_options(g, file)?;
    Ok(cluster::connect(&opts).await?)
}

/// The cluster state of a component, or None (with a warning) when the cluster cannot be read.
pub fn observe_best_effort(g: &GlobalArgs, file: &LocalConfigFile) -> Option<Observed> {
    let s = file.settings();
    let name = s.name.clone()?;
    let app = s.application.clone().unwrap_or_else(|| "app".into());
    let result = cluster::block_on(async {
        let conn = connect(g, Some(file)).await?;
        Ok::<_, Error>(query::observe(&conn, &name, &app).await?)
    });
    match result {
        Ok(o) => Some(o),
        Err(e) => {
            eprintln!(
                "warning: cannot read the cluster state ({}); states are shown as Unknown",
                e.chain().join(": ")
            );
            None
        }
    }
}

/// Pushes a component: apply the config (unless `--source`), wait for the pod, sync and build
/// (unless `--config`).
pub async fn push_component(
    conn: &Connection,
    file: &LocalConfigFile,
    args: &PushArgs,
    sync: &dyn SourceSync,
    push_timeout: std::time::Duration,
) -> Result<()> {
    let p = prepare(file)?;
    let c = &p.component;
    if c.source_type == SourceType::Git {
        return Err(PushError::GitUnsupported(c.name.clone()).into());
    }
    conn.ensure_namespace().await?;
    let init_image = catalog::init_image();
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    let input = RenderInput {
        component: c,
        namespace: &conn.namespace,
        builder: &p.builder,
        s2i: &p.s2i,
        init_image: &init_image,
        odo_version: &version,
    };
    let rendered = manifests::render(&input, conn.flavor)?;
    let manifests = rendered.manifests()?;
    let object_name = c.object_name();
    let selector = meta::pod_selector(conn.flavor, &object_name);
    println!(
        "Pushing component {} to project {} ({}, {})",
        c.name, conn.namespace, conn.flavor, conn.server
    );

    let mut exclude = BTreeSet::new();
    let mut first_push = false;
    if args.source {
        let observed = query::observe(conn, &c.name, &c.app).await?;
        if !observed.exists {
            return Err(PushError::NotCreated(c.name.clone()).into());
        }
    } else {
        let before = query::pod_uids(conn, &selector).await?;
        let step = Step::start("Applying configuration");
        let report = match apply::apply_all(conn, &manifests).await {
            Ok(r) => r,
            Err(e) => {
                step.fail();
                return Err(e.into());
            }
        };
        let pruned = prune::prune(conn, &c.name, &c.app, &manifests).await?;
        for (kind, name) in &pruned {
            step.note(&format!("deleted {} {name}", kind.gvk().2));
        }
        step.success();
        first_push = !report.workload_existed;
        if report.workload_changed {
            exclude = before;
        }
        if args.config {
            println!("Configuration of component {} applied", c.name);
            return Ok(());
        }
    }

    let step = Step::start(if first_push {
        "Creating component"
    } else {
        "Waiting for component to start"
    });
    let mut notes = step.notifier();
    let pod = match wait::wait_for_pod(
        conn,
        &selector,
        &object_name,
        push_timeout,
        exclude,
        &mut notes,
    )
    .await
    {
        Ok(pod) => {
            step.success();
            pod
        }
        Err(e) => {
            step.fail();
            return Err(e.into());
        }
    };

    let target = SyncTarget {
        pod: pod.name.clone(),
        pod_uid: pod.uid.clone(),
        container: object_name.clone(),
        target_dir: p.s2i.sync_target(),
        s2i: p.s2i.clone(),
    };
    let source_dir = match c.source_type {
        SourceType::Binary => file.context.clone(),
        _ => file.context.join(&c.source_location),
    };
    let request = SyncRequest {
        context: file.context.clone(),
        source_dir,
        ignore: args.ignore.clone(),
        force: args.force_build || first_push,
    };
    let step = Step::start("Syncing files");
    let report = match sync.sync(conn, &target, &request).await {
        Ok(r) => {
            step.success();
            r
        }
        Err(source) => {
            step.fail();
            return Err(PushError::Sync {
                component: c.name.clone(),
                source,
            }
            .into());
        }
    };
    if !report.changed() && !request.force {
        println!("No file changes detected, skipping build. Use the '-f' flag to force the build.");
        return Ok(());
    }

    let step = Step::start("Building component");
    let mut notes = step.notifier();
    let show = args.show_log;
    let result = exec::exec(
        conn,
        &pod.name,
        &object_name,
        &[ASSEMBLE_AND_RESTART],
        &mut |_, line| {
            if show {
                notes(line);
            }
        },
    )
    .await;
    match result {
        Ok(r) if r.success => step.success(),
        Ok(r) => {
            step.fail();
            let tail = r
                .lines
                .iter()
                .rev()
                .take(10)
                .rev()
                .map(|(s, l)| {
                    if *s == Stream::Stderr {
                        format!("! {l}")
                    } else {
                        l.clone()
                    }
                })
                .collect();
            return Err(PushError::Build {
                component: c.name.clone(),
                message: r.message,
                tail,
            }
            .into());
        }
        Err(e) => {
            step.fail();
            return Err(e.into());
        }
    }
    println!("Changes successfully pushed to component: {}", c.name);
    Ok(())
}

/// `odo push` from the CLI.
pub fn run_push(g: &GlobalArgs, file: &LocalConfigFile, args: &PushArgs) -> Result<()> {
    let pref = PreferenceFile::load()?;
    let sync = default_sync();
    cluster::block_on(async {
        let conn = connect(g, Some(file)).await?;
        push_component(&conn, file, args, sync.as_ref(), pref.push_timeout()).await
    })
}

/// `odo watch` from the CLI.
pub fn run_watch(
    _g: &GlobalArgs,
    _file: &LocalConfigFile,
    _delay: u64,
    _show_log: bool,
    _ignore: &[String],
) -> Result<()> {
    // INTEGRATION POINT (watch): `crate::watch` drives `push_component` with the changed paths.
    Err(PushError::WatchUnavailable.into())
}

/// `odo delete` from the CLI.
pub fn run_delete(g: &GlobalArgs, file: &LocalConfigFile, wait_gone: bool) -> Result<()> {
    let p = prepare(file)?;
    let c = &p.component;
    cluster::block_on(async {
        let conn = connect(g, Some(file)).await?;
        let deleted = prune::delete_component(&conn, &c.name, &c.app).await?;
        if deleted.is_empty() {
            println!(
                "Component {} was not found in project {}",
                c.name, conn.namespace
            );
            return Ok(());
        }
        for (kind, name) in &deleted {
            println!(" ✓  Deleted {} {name}", kind.gvk().2);
        }
        if wait_gone {
            let step = Step::start("Waiting for the component's pods to go");
            let selector = meta::pod_selector(conn.flavor, &c.object_name());
            wait_pods_gone(&conn, &selector).await?;
            step.success();
        }
        println!(
            "Component {} deleted from project {}",
            c.name, conn.namespace
        );
        Ok(())
    })
}

async fn wait_pods_gone(
    conn: &Connection,
    selector: &str,
) -> std::result::Result<(), ClusterError> {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::{WatchStreamExt, watcher};
    let pods: kube::Api<Pod> = kube::Api::namespaced(conn.client.clone(), &conn.namespace);
    let mut stream = watcher(pods, watcher::Config::default().labels(selector))
        .default_backoff()
        .boxed();
    let mut live: BTreeSet<String> = BTreeSet::new();
    let mut listed = false;
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(watcher::Event::Init) => live.clear(),
            Ok(watcher::Event::InitApply(p)) | Ok(watcher::Event::Apply(p)) => {
                live.extend(p.metadata.name);
            }
            Ok(watcher::Event::Delete(p)) => {
                if let Some(n) = p.metadata.name {
                    live.remove(&n);
                }
            }
            Ok(watcher::Event::InitDone) => listed = true,
            Err(e) => tracing::debug!("pod watch: {e}"),
        }
        if listed && live.is_empty() {
            break;
        }
    }
    Ok(())
}

/// `odo list` from the CLI.
pub fn run_list(g: &GlobalArgs, all_apps: bool) -> Result<()> {
    let context = g.context_dir()?;
    let local = LocalConfigFile::load(&context)?;
    let local = local.exists.then_some(local);
    let app = g
        .app
        .clone()
        .or_else(|| {
            local
                .as_ref()
                .and_then(|f| f.settings().application.clone())
        })
        .unwrap_or_else(|| "app".into());
    cluster::block_on(async {
        let conn = connect(g, local.as_ref()).await?;
        let found = query::list_components(&conn, (!all_apps).then_some(app.as_str())).await?;
        if g.json() {
            let items = found
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "kind": "Component", "apiVersion": output::API_VERSION,
                        "metadata": output::metadata(&c.name, Some(&conn.namespace)),
                        "spec": {"app": c.app, "type": c.component_type},
                        "status": {"state": "Pushed"},
                    })
                })
                .collect();
            output::print_json(&output::list(items));
            return Ok(());
        }
        if found.is_empty() {
            println!("There are no components deployed.");
            return Ok(());
        }
        let rows: Vec<Vec<String>> = found
            .iter()
            .map(|c| {
                vec![
                    c.app.clone(),
                    c.name.clone(),
                    conn.namespace.clone(),
                    c.component_type.clone(),
                    "Pushed".into(),
                ]
            })
            .collect();
        print!(
            "{}",
            output::table(&["APP", "NAME", "PROJECT", "TYPE", "STATE"], &rows)
        );
        Ok(())
    })
}

/// `odo describe` from the CLI.
pub fn run_describe(g: &GlobalArgs, file: &LocalConfigFile) -> Result<()> {
    let observed = observe_best_effort(g, file);
    let state = match &observed {
        Some(o) if o.exists => "Pushed",
        Some(_) => "Not Pushed",
        None => "Unknown",
    };
    if g.json() {
        output::print_json(&component_json(file, g.project.as_deref(), state));
        return Ok(());
    }
    let urls = crate::cli::url::url_rows(
        &file.settings().urls.clone().unwrap_or_default(),
        observed.as_ref(),
    );
    let lines: Vec<String> = urls
        .iter()
        .map(|r| {
            format!(
                "{} ({}) exposed via port {}",
                r.url.name, r.state, r.url.port
            )
        })
        .collect();
    print!("{}", describe_text(file, state, &lines));
    Ok(())
}

/// `odo log` from the CLI.
pub fn run_log(g: &GlobalArgs, file: &LocalConfigFile, follow: bool) -> Result<()> {
    let p = prepare(file)?;
    let c = &p.component;
    cluster::block_on(async {
        let conn = connect(g, Some(file)).await?;
        let selector = meta::pod_selector(conn.flavor, &c.object_name());
        let pod = query::component_pod(&conn, &selector)
            .await?
            .ok_or_else(|| ClusterError::NotPushed(c.name.clone()))?;
        let name = pod.metadata.name.unwrap_or_default();
        exec::logs(&conn, &name, &c.object_name(), follow, &mut |line| {
            println!("{line}")
        })
        .await?;
        Ok(())
    })
}

/// `odo utils index` from the CLI: what the next push would send.
pub fn run_index(g: &GlobalArgs, file: &LocalConfigFile) -> Result<PendingChanges> {
    let p = prepare(file)?;
    let request = SyncRequest {
        context: file.context.clone(),
        source_dir: file.context.join(&p.component.source_location),
        ignore: Vec::new(),
        force: false,
    };
    let _ = g;
    default_sync().pending(&request).map_err(|source| {
        PushError::Sync {
            component: p.component.name.clone(),
            source,
        }
        .into()
    })
}
