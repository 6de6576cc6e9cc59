//! The indexer/sync implementation of [`crate::push::SourceSync`]: `crate::indexer` finds what
//! changed, `crate::sync::push_changes` sends it over exec, runs the build step and writes the
//! index; plus `odo watch` driving `push_component` from `crate::watch`.

use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use crate::cli::GlobalArgs;
use crate::cli::component::PushArgs;
use crate::cluster::{self, Connection};
use crate::config::LocalConfigFile;
use crate::config::preference::PreferenceFile;
use crate::error::Result;
use crate::indexer::{self, IgnoreConfig};
use crate::push::{
    BoxError, BuildStep, PendingChanges, SourceSync, SyncReport, SyncRequest, SyncTarget, connect,
    push_component,
};
use crate::sync::{self, PodExec, PushRequest, SyncError};

/// [`SourceSync`] over the indexer and the tar-over-exec sync.
#[derive(Debug, Default)]
pub struct IndexerSync;

fn ignore_config(request: &SyncRequest) -> IgnoreConfig {
    if request.ignore.is_empty() {
        IgnoreConfig::from_files()
    } else {
        IgnoreConfig::with_globs(request.ignore.clone())
    }
}

fn pending_of(changes: indexer::Changes) -> PendingChanges {
    PendingChanges {
        added: changes.added,
        modified: changes.modified,
        deleted: changes.deleted,
    }
}

impl SourceSync for IndexerSync {
    fn pending(&self, request: &SyncRequest) -> std::result::Result<PendingChanges, BoxError> {
        let changes = indexer::pending_changes(&request.context, &ignore_config(request))?;
        Ok(pending_of(changes))
    }

    fn record(&self, request: &SyncRequest) -> std::result::Result<PendingChanges, BoxError> {
        let changes = indexer::write_index(&request.context, &ignore_config(request))?;
        Ok(pending_of(changes))
    }

    fn sync<'a>(
        &'a self,
        conn: &'a Connection,
        target: &'a SyncTarget,
        request: &'a SyncRequest,
        build: BuildStep<'a>,
    ) -> BoxFuture<'a, std::result::Result<SyncReport, BoxError>> {
        Box::pin(async move {
            let api: Api<Pod> = Api::namespaced(conn.client.clone(), &conn.namespace);
            let exec = PodExec::new(api, target.pod.clone(), Some(target.container.clone()));
            let ignore = ignore_config(request);
            let sync_target = sync::SyncTarget::new(target.target_dir.clone())
                .with_mirrors(target.mirrors.clone());
            let push = PushRequest::new(&request.context, &ignore, &sync_target, &target.pod_uid)
                .container(target.container_id.as_deref())
                .force(request.force);
            let built = AtomicBool::new(false);
            let report = sync::push_changes(&exec, &push, |_changes| {
                built.store(true, Ordering::Relaxed);
                build()
            })
            .await
            .map_err(|e| match e {
                // The build step's own error (e.g. PushError::Build) goes back unchanged.
                SyncError::Assemble(inner) => inner,
                other => Box::new(other) as BoxError,
            })?;
            Ok(SyncReport {
                sent: report.sent_entries,
                deleted: report.changes.deleted.len() as u64,
                built: built.load(Ordering::Relaxed),
                full_resend: report.full_resend.map(|f| format!("{f:?}")),
                warnings: report.warnings,
            })
        })
    }
}

/// `odo watch`: push the sources whenever files change, until Ctrl-C.
pub fn run_watch(
    g: &GlobalArgs,
    file: &LocalConfigFile,
    delay: u64,
    show_log: bool,
    ignore: &[String],
) -> Result<()> {
    let pref = PreferenceFile::load()?;
    let timeout = pref.push_timeout();
    let args = PushArgs {
        source: true,
        show_log,
        ignore: ignore.to_vec(),
        ..Default::default()
    };
    let ignore_cfg = if ignore.is_empty() {
        IgnoreConfig::from_files()
    } else {
        IgnoreConfig::with_globs(ignore.to_vec())
    };
    cluster::block_on(async {
        let conn = connect(g, Some(file)).await?;
        let opts = crate::watch::WatchOptions {
            delay: std::time::Duration::from_secs(delay),
        };
        let sync = IndexerSync;
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        crate::watch::watch(
            &file.context,
            &ignore_cfg,
            &opts,
            |_batch| {
                let (conn, args, sync) = (&conn, &args, &sync);
                async move {
                    push_component(conn, file, args, sync, timeout)
                        .await
                        .map(|_| ())
                        .map_err(|e| Box::new(e) as BoxError)
                }
            },
            crate::watch::print_notice,
            shutdown,
        )
        .await
        .map_err(|e| crate::error::Error::User {
            message: e.to_string(),
            hint: None,
        })?;
        Ok(())
    })
}
