//! `odo push` and the other commands that act on a component on the cluster (`delete`, `list`,
//! `describe`, `log`, the cluster half of `url`/`storage list`): load and validate the config,
//! connect, render, apply and prune, wait for the pod, sync the sources, build.
//!
//! The file transfer is not implemented here: it is the [`SourceSync`] trait, implemented by the
//! indexer/sync modules (`src/indexer`, `src/sync`). [`default_sync`] is the integration point.
//! Git and binary components on OpenShift are built and rolled out by `src/push_built.rs`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use futures::future::BoxFuture;

use crate::catalog::{self, S2iPaths};
use crate::cli::GlobalArgs;
use crate::cli::component::PushArgs;
use crate::cli::progress::Step;
use crate::cluster::exec::{self, ASSEMBLE_AND_RESTART, Stream};
use crate::cluster::{
    self, ClusterError, ConnectOptions, Connection, apply, prune, query, tls, wait,
};
use crate::config::preference::PreferenceFile;
use crate::config::validate::PortSpec;
use crate::config::{Component, LocalConfigFile, SourceType};
use crate::error::Result;
use crate::manifests::{self, Flavor, RenderInput, meta};

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
    /// Git components need a cluster-side build, which only OpenShift has.
    #[error(
        "component {0} builds from git, which needs OpenShift builds: the kubernetes flavor has none"
    )]
    GitUnsupported(String),
    /// The OpenShift build of a git component did not complete.
    #[error("build {build} of component {component} ended in phase {phase}{}", describe_failure(reason.as_deref(), message.as_deref()))]
    BuildFailed {
        /// Component name.
        component: String,
        /// Build name.
        build: String,
        /// `Failed`, `Error` or `Cancelled`.
        phase: String,
        /// The build's `status.reason`.
        reason: Option<String>,
        /// The build's `status.message`.
        message: Option<String>,
    },
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
                "push to an OpenShift cluster (--flavor openshift), or create the component from \
                 local sources (`odo create <type>` without --git)"
                    .into()
            }
            PushError::BuildFailed { build, .. } => format!(
                "the build log is above; `oc logs build/{build}` shows it again, and \
                 `odo push` starts a new build"
            ),
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

fn describe_failure(reason: Option<&str>, message: Option<&str>) -> String {
    match (reason, message) {
        (Some(r), Some(m)) => format!(" ({r}): {m}"),
        (Some(r), None) => format!(" ({r})"),
        (None, Some(m)) => format!(": {m}"),
        (None, None) => String::new(),
    }
}

/// Where sources go.
#[derive(Debug, Clone)]
pub struct SyncTarget {
    /// Pod name.
    pub pod: String,
    /// Pod uid: a different uid than at the last push means everything must be sent again.
    pub pod_uid: String,
    /// `containerID` of the app container's running instance, when the cluster reports it.
    pub container_id: Option<String>,
    /// App container name.
    pub container: String,
    /// Directory the sources are extracted into (`$ODO_S2I_SRC_BIN_PATH/src`, i.e. `/tmp/src`).
    pub target_dir: String,
    /// Other directories the workflow copies sources into: deletions are applied there too.
    pub mirrors: Vec<String>,
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
    /// Files, directories and symlinks sent.
    pub sent: u64,
    /// Paths deleted in the container.
    pub deleted: u64,
    /// Whether the build step ran.
    pub built: bool,
    /// Why everything was sent, when it was (first push, new pod, `-f`).
    pub full_resend: Option<String>,
    /// Things worth telling the user (unreadable files, a corrupt index ...).
    pub warnings: Vec<String>,
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

/// The build step a sync runs after the files arrived and before it records the new index.
pub type BuildStep<'a> =
    Box<dyn FnOnce() -> BoxFuture<'a, std::result::Result<(), BoxError>> + Send + 'a>;

/// The file transfer of a push: index the sources, send what changed into the container, run
/// `build` when something changed (or when forced), and record the new index only after both
/// succeeded. An error returned by `build` must come back unchanged (not wrapped), so the CLI
/// can show the build's own message.
pub trait SourceSync: Send + Sync {
    /// What the next push would send.
    fn pending(&self, request: &SyncRequest) -> std::result::Result<PendingChanges, BoxError>;
    /// What the next push would send, with the tree recorded as the index (`utils index
    /// --write`). Not every sync keeps an index: by default this says so.
    fn record(&self, request: &SyncRequest) -> std::result::Result<PendingChanges, BoxError> {
        let _ = request;
        Err(Box::new(PushError::SyncUnavailable))
    }
    /// Sends the changes into the container and builds.
    fn sync<'a>(
        &'a self,
        conn: &'a Connection,
        target: &'a SyncTarget,
        request: &'a SyncRequest,
        build: BuildStep<'a>,
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
        _: BuildStep<'a>,
    ) -> BoxFuture<'a, std::result::Result<SyncReport, BoxError>> {
        Box::pin(async { Err(Box::new(PushError::SyncUnavailable) as BoxError) })
    }
}

/// The file sync the CLI uses: the indexer finds the changes, `crate::sync` streams them over
/// exec (see `src/push_sync.rs`).
pub fn default_sync() -> Box<dyn SourceSync> {
    Box::new(crate::push_sync::IndexerSync)
}

/// Directories deletions are applied to besides the sync target, as odo does: the deployment,
/// working and backup directories, each with `/src` appended unless it already ends in `src`.
pub fn deletion_mirrors(s2i: &S2iPaths) -> Vec<String> {
    let with_src = |d: &str| {
        let d = d.trim_end_matches('/');
        if d.rsplit('/').next() == Some("src") {
            d.to_string()
        } else {
            format!("{d}/src")
        }
    };
    let target = s2i.sync_target();
    let mut out: Vec<String> = Vec::new();
    let dirs = s2i.deployment_dir.iter().map(String::as_str).chain([
        s2i.working_dir.as_str(),
        crate::manifests::pod::SRC_BACKUP_DIR,
    ]);
    for d in dirs {
        let d = with_src(d);
        if d != target && !out.contains(&d) {
            out.push(d);
        }
    }
    out
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

/// What one `odo push` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushSummary {
    /// Whether the workload was created by this push.
    pub created: bool,
    /// The pod the sources went to (`None` with `--config`).
    pub pod: Option<String>,
    /// What the sync did (`None` with `--config`).
    pub sync: Option<SyncReport>,
}

/// Pushes a component: apply the config (unless `--source`), wait for the pod, sync and build
/// (unless `--config`).
pub async fn push_component(
    conn: &Connection,
    file: &LocalConfigFile,
    args: &PushArgs,
    sync: &dyn SourceSync,
    push_timeout: std::time::Duration,
) -> Result<PushSummary> {
    let p = prepare(file)?;
    let c = &p.component;
    if c.source_type == SourceType::Git && conn.flavor == Flavor::Kubernetes {
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
        // An error ends the step as failed when `step` is dropped.
        let report = apply::apply_all(conn, &manifests).await?;
        let pruned = prune::prune(conn, &c.name, &c.app, &manifests).await?;
        {
            // A secure Ingress without a secret of its own gets a self-signed certificate
            // (a secure Route is served with the router's certificate).
            let own_cert = |u: &&crate::config::local::UrlEntry| {
                u.secure
                    && u.tls_secret.is_none()
                    && u.kind_on(conn.flavor) == crate::config::UrlKind::Ingress
            };
            for url in c.urls.iter().filter(own_cert) {
                let secret = manifests::kubernetes::tls_secret_name(&input, url);
                let ingress = meta::url_object(&url.name, &c.app);
                let host = manifests::kubernetes::ingress_host(url).unwrap_or(ingress.clone());
                if tls::ensure_self_signed(conn, &secret, &ingress, &host).await? {
                    step.note(&format!("created self-signed certificate secret {secret}"));
                }
            }
        }
        for (kind, name) in &pruned {
            step.note(&format!("deleted {} {name}", kind.gvk().2));
        }
        step.success();
        first_push = !report.workload_existed;
        if report.workload_changed {
            exclude = before;
        }
        if args.config
            && report.workload_changed
            && !first_push
            && conn.flavor == Flavor::OpenShift
            && manifests::openshift::rolls_out_itself(c)
        {
            // No ConfigChange trigger: the changed configuration reaches a pod through a
            // rollout of the image already built, once one was (odo starts them all).
            if cluster::rollout::latest_version(conn, &object_name).await? > 0 {
                let version = cluster::rollout::instantiate(conn, &object_name).await?;
                let deployment = cluster::rollout::deployment_name(&object_name, version);
                println!("Started deployment {deployment} of component {}", c.name);
            }
        }
        if args.config {
            println!("Configuration of component {} applied", c.name);
            return Ok(PushSummary {
                created: first_push,
                ..PushSummary::default()
            });
        }
    }

    if conn.flavor == Flavor::OpenShift && manifests::openshift::is_built(c) {
        let upload = match c.source_type {
            SourceType::Binary => Some(crate::push_built::binary_upload(file, c)?),
            _ => None,
        };
        return crate::push_built::push_built(conn, c, &selector, upload, push_timeout, first_push)
            .await;
    }

    let step = Step::start(if first_push {
        "Creating component"
    } else {
        "Waiting for component to start"
    });
    let mut notes = step.notifier();
    let pod = wait::wait_for_pod(
        conn,
        &selector,
        &object_name,
        push_timeout,
        exclude,
        &mut notes,
    )
    .await?;
    step.success();

    let target = SyncTarget {
        mirrors: deletion_mirrors(&p.s2i),
        pod: pod.name.clone(),
        pod_uid: pod.uid.clone(),
        container_id: pod.container_id.clone(),
        container: object_name.clone(),
        target_dir: p.s2i.sync_target(),
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
    let sync_step = std::sync::Arc::new(std::sync::Mutex::new(Some(Step::start("Syncing files"))));
    let finish_sync = {
        let sync_step = sync_step.clone();
        move |ok: bool| {
            if let Some(step) = sync_step.lock().ok().and_then(|mut s| s.take()) {
                if ok { step.success() } else { step.fail() }
            }
        }
    };
    let show = args.show_log;
    let pod_name = pod.name.clone();
    let container = object_name.clone();
    let component_name = c.name.clone();
    let finish_in_build = finish_sync.clone();
    let build: BuildStep<'_> = Box::new(move || {
        Box::pin(async move {
            finish_in_build(true);
            let step = Step::start("Building component");
            let mut notes = step.notifier();
            let result = exec::exec(
                conn,
                &pod_name,
                &container,
                &[ASSEMBLE_AND_RESTART],
                &mut |_, line| {
                    if show {
                        notes(line);
                    }
                },
            )
            .await;
            match result {
                Ok(r) if r.success => {
                    step.success();
                    Ok(())
                }
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
                    Err(Box::new(PushError::Build {
                        component: component_name,
                        message: r.message,
                        tail,
                    }) as BoxError)
                }
                Err(e) => {
                    step.fail();
                    Err(Box::new(e) as BoxError)
                }
            }
        })
    });
    let report = match sync.sync(conn, &target, &request, build).await {
        Ok(r) => {
            finish_sync(true);
            r
        }
        Err(source) => {
            finish_sync(false);
            let source = match source.downcast::<PushError>() {
                Ok(push) => return Err((*push).into()),
                Err(other) => other,
            };
            let source = match source.downcast::<ClusterError>() {
                Ok(cluster) => return Err((*cluster).into()),
                Err(other) => other,
            };
            return Err(PushError::Sync {
                component: c.name.clone(),
                source,
            }
            .into());
        }
    };
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if report.built {
        println!("Changes successfully pushed to component: {}", c.name);
    } else {
        println!("No file changes detected, skipping build. Use the '-f' flag to force the build.");
    }
    Ok(PushSummary {
        created: first_push,
        pod: Some(pod.name),
        sync: Some(report),
    })
}

/// `odo push` from the CLI.
pub fn run_push(g: &GlobalArgs, file: &LocalConfigFile, args: &PushArgs) -> Result<()> {
    let pref = PreferenceFile::load()?;
    let sync = default_sync();
    cluster::block_on(async {
        let conn = connect(g, Some(file)).await?;
        push_component(&conn, file, args, sync.as_ref(), pref.push_timeout())
            .await
            .map(|_| ())
    })
}

/// `odo watch` from the CLI.
pub fn run_watch(
    g: &GlobalArgs,
    file: &LocalConfigFile,
    delay: u64,
    show_log: bool,
    ignore: &[String],
) -> Result<()> {
    crate::push_sync::run_watch(g, file, delay, show_log, ignore)
}

/// `odo utils index`: what the next push would send, without writing anything.
pub fn run_index(file: &LocalConfigFile, ignore: Vec<String>) -> Result<PendingChanges> {
    index_with(file, ignore, |sync, request| sync.pending(request))
}

/// `odo utils index --write`: the same, and the tree recorded as the index (see
/// [`crate::indexer::write_index`]: the next push still sends everything).
pub fn record_index(file: &LocalConfigFile, ignore: Vec<String>) -> Result<PendingChanges> {
    index_with(file, ignore, |sync, request| sync.record(request))
}

fn index_with(
    file: &LocalConfigFile,
    ignore: Vec<String>,
    run: impl FnOnce(&dyn SourceSync, &SyncRequest) -> std::result::Result<PendingChanges, BoxError>,
) -> Result<PendingChanges> {
    let p = prepare(file)?;
    let request = SyncRequest {
        context: file.context.clone(),
        source_dir: file.context.join(&p.component.source_location),
        ignore,
        force: false,
    };
    run(default_sync().as_ref(), &request).map_err(|source| {
        PushError::Sync {
            component: p.component.name.clone(),
            source,
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_mirrors_follow_odo() {
        let java = catalog::s2i_paths(catalog::resolve("java").unwrap().builder).unwrap();
        assert_eq!(
            deletion_mirrors(&java),
            vec![
                "/deployments/src",
                "/opt/app-root/src",
                "/opt/app-root/src-backup/src"
            ]
        );
        let node = catalog::s2i_paths(catalog::resolve("nodejs").unwrap().builder).unwrap();
        assert_eq!(
            deletion_mirrors(&node),
            vec!["/opt/app-root/src", "/opt/app-root/src-backup/src"]
        );
    }
}
