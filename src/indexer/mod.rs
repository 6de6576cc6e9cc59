//! The file indexer: which files of a component's source tree changed since the last push.
//!
//! `odo push`, `odo watch` and `odo utils index` all start here. The tree is walked in parallel
//! (the `ignore` crate) under the ignore rules of [`rules`], and compared with the index file
//! `.odo/odo-file-index.json` ([`index`]), whose format odo itself reads. The result is a
//! [`Changes`]: sorted added/modified/deleted relative paths plus byte totals, serialisable for
//! `-o json`.
//!
//! Change detection (see [`scan`]): a path is added, deleted, or modified when its size, mtime
//! (nanoseconds), permission bits or kind differ; a file whose mtime is not older than the
//! previous scan (minus [`ScanOptions::racy_window`]) has its content hash compared as well, so
//! an edit in the same clock tick as the last push is not missed. Directories are reported when
//! added, deleted or chmod'ed, never because their children changed. Symlinks are compared by
//! target and never followed. Special files and unreadable paths are skipped with a warning; what
//! was indexed under an unreadable directory is kept (not reported deleted).
//!
//! Entry points for the CLI:
//! - `odo utils index --context DIR [-o json]`: [`pending_changes`] (does not write the index);
//!   with `--write`: [`write_index`].
//! - `odo push` / `odo watch`: [`crate::sync::push_changes`], which scans, syncs, and writes the
//!   index only after every step succeeded.
//! - Lower level: [`scan_tree`] returns a [`Scan`] (changes plus the metadata needed to build the
//!   archive and the next index).
//!
//! A corrupt or unreadable index never fails a command: it is reported once in
//! [`Changes::warnings`] and treated as empty (everything is resent).

pub mod index;
pub mod rules;
pub mod scan;
#[doc(hidden)]
pub mod testtree;
pub mod timefmt;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use index::{EntryKind, FileIndex, IndexError, Meta, index_path};
pub use rules::{IgnoreConfig, IgnoreRules, RuleSource, RulesError};
pub use scan::{ChangeKind, Scan, ScanError, ScanOptions, Update};

/// What differs between the source tree and its index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    /// New paths (files, directories, symlinks), sorted.
    pub added: Vec<String>,
    /// Changed paths, sorted.
    pub modified: Vec<String>,
    /// Paths in the index that are gone (or now ignored), sorted; a deleted directory and each
    /// of its indexed children are all listed.
    pub deleted: Vec<String>,
    /// Total size of the added regular files.
    pub added_bytes: u64,
    /// Total size of the modified regular files.
    pub modified_bytes: u64,
    /// Total size of the deleted regular files, as recorded in the index.
    pub deleted_bytes: u64,
    /// Paths skipped and other problems met on the way (one line each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Changes {
    /// True when nothing needs to be sent or deleted.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.deleted.is_empty()
    }
}

/// Errors that stop the indexer.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    /// Ignore rules could not be built.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// The tree could not be walked at all.
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// The new index could not be written.
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Reads the index of `context` (warning, not failing, when corrupt) and scans the tree.
pub fn scan_tree(
    context: &Path,
    ignore: &IgnoreConfig,
    opts: &ScanOptions,
) -> Result<Scan, IndexerError> {
    let rules = IgnoreRules::load(context, ignore)?;
    let load = || {
        let (index, warning) = FileIndex::read_or_empty(context);
        scan::Previous {
            index,
            resend_all: opts.resend_all,
            extra: warning,
        }
    };
    let (mut scan, warning) = scan::scan_with(context, &rules, opts, load)?;
    if let Some(w) = warning {
        tracing::warn!("{w}");
        scan.changes.warnings.insert(0, w);
    }
    Ok(scan)
}

/// The changes a push of `context` would send now (`odo utils index`); writes nothing.
pub fn pending_changes(context: &Path, ignore: &IgnoreConfig) -> Result<Changes, IndexerError> {
    Ok(scan_tree(context, ignore, &ScanOptions::default())?.changes)
}

/// Scans `context` and records the result as the new index (`odo utils index --write`).
/// Returns what changed. No sync went with it, so the pod and container of the last sync are
/// forgotten: the next push sends everything, and an index written here never hides a file
/// from the container.
pub fn write_index(context: &Path, ignore: &IgnoreConfig) -> Result<Changes, IndexerError> {
    let scan = scan_tree(context, ignore, &ScanOptions::default())?;
    let changes = scan.changes.clone();
    let mut index = scan.into_new_index(&[]);
    index.pod_uid = None;
    index.container_id = None;
    index.write(context)?;
    Ok(changes)
}
