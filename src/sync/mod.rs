//! Syncing a component's source tree into its container: one streamed tar of what changed, one
//! `rm -rf --` (batched) for what was deleted, then the caller's assemble step, then the index.
//!
//! # Using it from the CLI
//!
//! ```no_run
//! # async fn demo(api: kube::Api<k8s_openapi::api::core::v1::Pod>) -> Result<(), Box<dyn std::error::Error>> {
//! use odo::indexer::IgnoreConfig;
//! use odo::sync::{PodExec, PushRequest, SyncTarget, push_changes};
//! let exec = PodExec::new(api, "mycomp-app-1-abcde", Some("mycomp-app".into()));
//! let target = SyncTarget::s2i_default();
//! let ignore = IgnoreConfig::default();
//! let req = PushRequest::new(std::path::Path::new("."), &ignore, &target, "pod-uid-123");
//! let report = push_changes(&exec, &req, |_changes| async {
//!     // run /opt/odo/bin/assemble-and-restart over exec here; Err aborts the push.
//!     Ok(())
//! })
//! .await?;
//! if report.nothing_to_do() {
//!     println!("No file changes detected, skipping build. Use the '-f' flag to force the build.");
//! }
//! # Ok(()) }
//! ```
//!
//! Order of [`push_changes`]:
//! 1. scan the tree against the index ([`crate::indexer`]). Every path is resent when the index
//!    was written for another pod UID or target directory, has no pod UID (first push, or written
//!    by odo or `odo utils index --write`), is corrupt, or `force` is set; deletions are still
//!    computed from the previous index whenever it is readable.
//! 2. refuse any path that would escape the target (`..`, absolute) before anything is sent.
//! 3. one `rm -rf -- <dir>/<path>...` per argument budget, for deleted paths and paths that
//!    changed kind, in the target and every [`SyncTarget::mirror_dirs`] (before extraction, so a
//!    directory replaced by a symlink can never make `rm` reach through the link).
//! 4. the archive of added + modified paths, written by a blocking task into a bounded pipe that
//!    feeds the stdin of `tar xf - -C <target>`.
//! 5. the caller's assemble closure.
//! 6. only if all of that succeeded, the new index (pod UID and target recorded) is written
//!    atomically. A failure anywhere leaves the old index, so the next push resends what is
//!    still pending.
//!
//! Executing commands is abstracted by [`RemoteExec`]: [`PodExec`] for a pod, [`LocalExec`] for a
//! local directory (tests run the real GNU `tar` and `rm` through it).

pub mod archive;
pub mod exec;
pub mod plan;
pub mod pod;

use std::future::Future;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use archive::ArchiveSummary;
pub use exec::{ExecError, ExecOutput, ExecStdin, LocalExec, RemoteExec};
pub use plan::{DEFAULT_ARG_BUDGET, UnsafePath};
pub use pod::PodExec;

use crate::indexer::{
    Changes, FileIndex, IgnoreConfig, IgnoreRules, IndexerError, ScanOptions, scan,
};

/// Boxed error returned by the caller's assemble step.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where the files go inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncTarget {
    /// Directory the archive is extracted into (absolute).
    pub dir: String,
    /// Other directories the workflow copies the sources into; deletions are applied there too.
    pub mirror_dirs: Vec<String>,
}

impl SyncTarget {
    /// Extract into `dir`, delete only there.
    pub fn new(dir: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            mirror_dirs: Vec::new(),
        }
    }

    /// The s2i layout: extract into `/tmp/src`.
    pub fn s2i_default() -> Self {
        Self::new("/tmp/src")
    }

    /// Also apply deletions in `dirs` (e.g. odo's deployment, working and backup directories).
    pub fn with_mirrors<I: IntoIterator<Item = S>, S: Into<String>>(mut self, dirs: I) -> Self {
        self.mirror_dirs.extend(dirs.into_iter().map(Into::into));
        self
    }

    fn delete_dirs(&self) -> Vec<String> {
        let mut v = vec![self.dir.clone()];
        for d in &self.mirror_dirs {
            if !v.contains(d) {
                v.push(d.clone());
            }
        }
        v
    }
}

/// Everything a push needs besides the exec channel and the assemble step.
#[derive(Debug, Clone)]
pub struct PushRequest<'a> {
    /// The component's source directory (holds `.odo/`).
    pub context: &'a Path,
    /// Ignore rules (`--ignore` or the ignore files).
    pub ignore: &'a IgnoreConfig,
    /// Where to extract.
    pub target: &'a SyncTarget,
    /// UID of the pod being synced into (a different UID than the index's means a full resend).
    pub pod_uid: &'a str,
    /// `containerID` of the target container's running instance, when the cluster reports one
    /// (a different one than the index's means the writable layer was reset: a full resend).
    pub container_id: Option<&'a str>,
    /// `-f`: resend everything (deletions still computed from the index).
    pub force: bool,
    /// Scan tuning (racy window, threads); defaults are right for the CLI.
    pub scan: ScanOptions,
    /// Byte budget of one `rm` command line.
    pub arg_budget: usize,
}

impl<'a> PushRequest<'a> {
    /// A non-forced push with default options.
    pub fn new(
        context: &'a Path,
        ignore: &'a IgnoreConfig,
        target: &'a SyncTarget,
        pod_uid: &'a str,
    ) -> Self {
        Self {
            context,
            ignore,
            target,
            pod_uid,
            container_id: None,
            force: false,
            scan: ScanOptions::default(),
            arg_budget: DEFAULT_ARG_BUDGET,
        }
    }

    /// Sets the target container instance.
    pub fn container(mut self, container_id: Option<&'a str>) -> Self {
        self.container_id = container_id;
        self
    }

    /// Sets `-f`.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// Why everything was resent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FullResend {
    /// No usable index (first push, odo-written, or corrupt).
    NoIndex,
    /// The index was written for another pod (the pod was replaced).
    PodChanged,
    /// The container restarted since the index was written (its writable layer is new).
    ContainerRestarted,
    /// The index was written for another target directory.
    TargetChanged,
    /// `-f` was given.
    Forced,
}

/// What a push did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushReport {
    /// The changes found by the scan.
    pub changes: Changes,
    /// Set when the whole tree was sent.
    pub full_resend: Option<FullResend>,
    /// Files, directories and symlinks put in the archive.
    pub sent_entries: u64,
    /// Bytes of file content in the archive.
    pub sent_bytes: u64,
    /// `rm` commands run.
    pub rm_commands: u64,
    /// Paths that could not be read and stay pending.
    pub unsent: Vec<String>,
    /// Everything worth telling the user (corrupt index, skipped files...).
    pub warnings: Vec<String>,
}

impl PushReport {
    /// True when nothing had to be sent or deleted (assemble not run, index not rewritten).
    pub fn nothing_to_do(&self) -> bool {
        self.changes.is_empty() && self.full_resend != Some(FullResend::Forced)
    }
}

/// Errors that abort a push (the index is then left untouched).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Scanning the tree or writing the index failed.
    #[error(transparent)]
    Indexer(#[from] IndexerError),
    /// A path would escape the target directory.
    #[error(transparent)]
    Unsafe(#[from] UnsafePath),
    /// A command could not be run.
    #[error("{what}: {cause}")]
    Exec {
        /// Which step.
        what: String,
        /// Transport error.
        cause: ExecError,
    },
    /// A command ran and failed.
    #[error("{what} failed with exit code {exit_code}: {stderr}")]
    Remote {
        /// Which step.
        what: String,
        /// Its exit code.
        exit_code: i32,
        /// Its stderr.
        stderr: String,
    },
    /// Writing the archive failed (the local side; usually the remote end closed early).
    #[error("writing the archive failed: {0}")]
    Archive(std::io::Error),
    /// The caller's assemble step failed.
    #[error("assemble step failed: {0}")]
    Assemble(BoxError),
    /// A background task died.
    #[error("internal task failed: {0}")]
    Task(String),
}

/// Runs one push; see the module docs for the steps and guarantees.
pub async fn push_changes<A, Fut>(
    exec: &dyn RemoteExec,
    req: &PushRequest<'_>,
    assemble: A,
) -> Result<PushReport, SyncError>
where
    A: FnOnce(&Changes) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    plan::check_target_dir(&req.target.dir)?;
    for d in &req.target.mirror_dirs {
        plan::check_target_dir(d)?;
    }
    let context: PathBuf = req.context.to_path_buf();
    let ignore = req.ignore.clone();
    let mut opts = req.scan.clone();
    opts.resend_all = req.force;
    let pod_uid = req.pod_uid.to_string();
    let container_id = req.container_id.map(str::to_string);
    let target_dir = req.target.dir.clone();
    let (scan, full_resend) = tokio::task::spawn_blocking(move || -> Result<_, IndexerError> {
        let rules = IgnoreRules::load(&context, &ignore)?;
        let forced = opts.resend_all;
        let load = || {
            let (previous, warning) = FileIndex::read_or_empty(&context);
            // Whatever the reason for a full resend, the previous index (when readable) still
            // says what was sent before, so deletions reach directories that outlive the pod
            // (PVCs).
            let full = if warning.is_some() || previous.pod_uid.is_none() {
                Some(FullResend::NoIndex)
            } else if previous.pod_uid.as_deref() != Some(pod_uid.as_str()) {
                Some(FullResend::PodChanged)
            } else if container_id.is_some()
                && previous.container_id.is_some()
                && previous.container_id != container_id
            {
                Some(FullResend::ContainerRestarted)
            } else if previous.target_dir.as_deref() != Some(target_dir.as_str()) {
                Some(FullResend::TargetChanged)
            } else if forced {
                Some(FullResend::Forced)
            } else {
                None
            };
            scan::Previous {
                index: previous,
                resend_all: full.is_some(),
                extra: (warning, full),
            }
        };
        let (mut scan, (warning, full)) = scan::scan_with(&context, &rules, &opts, load)?;
        if let Some(w) = warning {
            tracing::warn!("{w}");
            scan.changes.warnings.insert(0, w);
        }
        Ok((scan, full))
    })
    .await
    .map_err(|e| SyncError::Task(e.to_string()))??;

    let mut report = PushReport {
        changes: scan.changes.clone(),
        full_resend,
        ..Default::default()
    };
    report.warnings.clone_from(&scan.changes.warnings);
    if report.nothing_to_do() {
        return Ok(report);
    }

    // 2. Nothing leaves before every path is known to be safe.
    for p in scan
        .changes
        .added
        .iter()
        .chain(&scan.changes.modified)
        .chain(&scan.changes.deleted)
    {
        plan::check_relative(p)?;
    }

    // 3. Deletions (and kind changes) first.
    let removals = plan::collapse_removals(
        scan.changes
            .deleted
            .iter()
            .chain(&scan.type_changed)
            .map(String::as_str),
    );
    for cmd in plan::rm_commands(&req.target.delete_dirs(), &removals, req.arg_budget) {
        let what = format!("removing {} deleted path(s)", cmd.len() - 3);
        let out = exec
            .exec(&cmd, None)
            .await
            .map_err(|cause| SyncError::Exec {
                what: what.clone(),
                cause,
            })?;
        if !out.success() {
            return Err(SyncError::Remote {
                what,
                exit_code: out.exit_code,
                stderr: out.stderr_text(),
            });
        }
        report.rm_commands += 1;
    }

    // 4. One streamed archive.
    let (scan, summary) = if scan.to_send().next().is_some() {
        send_archive(exec, req.context, &req.target.dir, scan).await?
    } else {
        (scan, ArchiveSummary::default())
    };
    report.sent_entries = summary.files + summary.dirs + summary.symlinks;
    report.sent_bytes = summary.content_bytes;
    report.unsent.clone_from(&summary.unsent);
    report.warnings.extend(summary.warnings);

    // 5. The caller's assemble step.
    assemble(&report.changes)
        .await
        .map_err(SyncError::Assemble)?;

    // 6. Only now is the new state recorded.
    let mut index = scan.into_new_index(&summary.unsent);
    index.pod_uid = Some(req.pod_uid.to_string());
    index.container_id = req.container_id.map(str::to_string);
    index.target_dir = Some(req.target.dir.clone());
    let context = req.context.to_path_buf();
    tokio::task::spawn_blocking(move || index.write(&context))
        .await
        .map_err(|e| SyncError::Task(e.to_string()))?
        .map_err(|e| SyncError::Indexer(e.into()))?;
    Ok(report)
}

/// Streams the archive of `scan`'s added and modified entries into `tar xf - -C <dir>`.
async fn send_archive(
    exec: &dyn RemoteExec,
    context: &Path,
    dir: &str,
    scan: scan::Scan,
) -> Result<(scan::Scan, ArchiveSummary), SyncError> {
    let (reader, writer) = tokio::io::duplex(256 * 1024);
    let bridge = tokio_util::io::SyncIoBridge::new(writer);
    let root = context.to_path_buf();
    let producer = tokio::task::spawn_blocking(move || {
        let mut bridge = bridge;
        let result = archive::write_archive(&root, scan.to_send(), &mut bridge).and_then(|s| {
            bridge.shutdown()?;
            Ok(s)
        });
        (scan, result)
    });
    let cmd: Vec<String> = ["tar", "xf", "-", "-C", dir]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let what = format!("extracting the archive into {dir}");
    let (out, produced) = tokio::join!(exec.exec(&cmd, Some(Box::pin(reader))), producer);
    let (scan, archived) = produced.map_err(|e| SyncError::Task(e.to_string()))?;
    let out = out.map_err(|cause| SyncError::Exec {
        what: what.clone(),
        cause,
    })?;
    if !out.success() {
        return Err(SyncError::Remote {
            what,
            exit_code: out.exit_code,
            stderr: out.stderr_text(),
        });
    }
    let summary = archived.map_err(SyncError::Archive)?;
    Ok((scan, summary))
}

/// An assemble step that does nothing (tests, tools, components without a build step).
pub fn no_assemble(_: &Changes) -> std::future::Ready<Result<(), BoxError>> {
    std::future::ready(Ok(()))
}
