//! [`LibDriver`]: the [`OdoDriver`] over the odo crate itself, talking to the backend's
//! `kube::Client`.
//!
//! Local commands (`create`, `url create`, `storage create`) go through odo's own command
//! line parser and dispatch, exactly as a user's invocation would; commands that reach the
//! cluster (`push`, `delete`) call the library functions behind them with a connection built
//! from the backend's client, so the same code runs on the simulator and on kind.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use odo::cli::Cli;
use odo::cli::component::PushArgs;
use odo::cluster::{ClusterChoice, Connection};
use odo::config::LocalConfigFile;

use crate::backend::BoxFut;
use crate::odo::{Component, OdoDriver, PushReport};

/// How long a push may wait for the component's pod (odo's PushTimeout).
const PUSH_TIMEOUT: Duration = Duration::from_secs(240);

/// Virtual time the simulator moves per step while an odo command waits on it.
const TICK: Duration = Duration::from_millis(100);

/// Drives odo through its library, against one cluster.
#[derive(Clone)]
pub struct LibDriver {
    client: kube::Client,
    server: String,
    /// The simulator behind `client` when its time moves only when told.
    sim: Option<odo_sim::Sim>,
}

impl std::fmt::Debug for LibDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibDriver")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl LibDriver {
    /// A driver using `client`; `server` names the cluster in odo's messages.
    pub fn new(client: kube::Client, server: impl Into<String>) -> Self {
        Self {
            client,
            server: server.into(),
            sim: None,
        }
    }

    /// On a simulator in manual time, its clock moves while a command waits on it, as time
    /// passes on a real cluster.
    #[must_use]
    pub fn with_sim_clock(mut self, sim: odo_sim::Sim) -> Self {
        self.sim = Some(sim);
        self
    }

    /// Runs `fut` while time passes on the cluster.
    async fn in_time<T>(&self, fut: impl Future<Output = T>) -> T {
        match &self.sim {
            Some(sim) => sim.advancing(TICK, fut).await,
            None => fut.await,
        }
    }

    /// Runs an odo command line (without the leading `odo`) that needs no cluster.
    async fn local(&self, args: Vec<String>) -> anyhow::Result<()> {
        let line = args.join(" ");
        tokio::task::spawn_blocking(move || {
            let cli = Cli::try_parse_from(std::iter::once("odo".to_string()).chain(args))
                .map_err(|e| anyhow::anyhow!("odo {line}: {e}"))?;
            odo::cli::run(cli).map_err(|e| anyhow::anyhow!("odo {line}: {}", e.chain().join(": ")))
        })
        .await
        .context("odo command panicked")?
    }

    /// The connection odo would make for the component in `file`.
    async fn connection(&self, file: &LocalConfigFile) -> anyhow::Result<Connection> {
        let namespace = file
            .settings()
            .project
            .clone()
            .unwrap_or_else(|| "default".into());
        let flavor = odo::cluster::flavor::detect(&self.client)
            .await
            .context("detecting the cluster flavor")?;
        Ok(Connection {
            client: self.client.clone(),
            namespace,
            flavor,
            server: self.server.clone(),
            backend: ClusterChoice::Kube,
            embedded: None,
        })
    }
}

fn path_arg(dir: &Path) -> String {
    dir.to_string_lossy().into_owned()
}

fn load(dir: &Path) -> anyhow::Result<LocalConfigFile> {
    LocalConfigFile::load_existing(dir)
        .with_context(|| format!("loading the odo config in {}", dir.display()))
}

impl OdoDriver for LibDriver {
    fn create<'a>(
        &'a self,
        dir: &'a Path,
        component: &'a Component,
    ) -> BoxFut<'a, anyhow::Result<()>> {
        Box::pin(self.local(vec![
            "create".into(),
            component.component_type.clone(),
            component.name.clone(),
            "--context".into(),
            path_arg(dir),
            "--app".into(),
            component.app.clone(),
            "--project".into(),
            component.namespace.clone(),
        ]))
    }

    fn push<'a>(&'a self, dir: &'a Path) -> BoxFut<'a, anyhow::Result<PushReport>> {
        Box::pin(async move {
            let file = load(dir)?;
            let conn = self.connection(&file).await?;
            let sync = odo::push::default_sync();
            let summary = self
                .in_time(odo::push::push_component(
                    &conn,
                    &file,
                    &PushArgs::default(),
                    sync.as_ref(),
                    PUSH_TIMEOUT,
                ))
                .await
                .map_err(|e| anyhow::anyhow!("odo push: {}", e.chain().join(": ")))?;
            let report = summary.sync.unwrap_or_default();
            Ok(PushReport {
                files_sent: usize::try_from(report.sent).unwrap_or(usize::MAX),
                files_deleted: usize::try_from(report.deleted).unwrap_or(usize::MAX),
                full: report.full_resend.is_some(),
                pod: summary.pod.unwrap_or_default(),
            })
        })
    }

    fn url_create<'a>(
        &'a self,
        dir: &'a Path,
        name: &'a str,
        port: u16,
    ) -> BoxFut<'a, anyhow::Result<()>> {
        Box::pin(self.local(vec![
            "url".into(),
            "create".into(),
            name.into(),
            "--port".into(),
            port.to_string(),
            "--context".into(),
            path_arg(dir),
        ]))
    }

    fn storage_create<'a>(
        &'a self,
        dir: &'a Path,
        name: &'a str,
        path: &'a str,
        size: &'a str,
    ) -> BoxFut<'a, anyhow::Result<()>> {
        Box::pin(self.local(vec![
            "storage".into(),
            "create".into(),
            name.into(),
            "--path".into(),
            path.into(),
            "--size".into(),
            size.into(),
            "--context".into(),
            path_arg(dir),
        ]))
    }

    fn delete<'a>(&'a self, dir: &'a Path) -> BoxFut<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let file = load(dir)?;
            let conn = self.connection(&file).await?;
            let prepared = odo::push::prepare(&file)
                .map_err(|e| anyhow::anyhow!("odo delete: {}", e.chain().join(": ")))?;
            let c = &prepared.component;
            self.in_time(odo::cluster::prune::delete_component(
                &conn, &c.name, &c.app,
            ))
            .await
            .with_context(|| format!("odo delete of component {}", c.name))?;
            Ok(())
        })
    }
}
