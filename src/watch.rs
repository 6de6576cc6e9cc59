//! `odo watch`: push whenever the source tree changes.
//!
//! One recursive `notify` watcher on the context directory (symlinks not followed). Events for
//! ignored paths (the push's ignore rules, plus `.odo/` and `.git/`, so writing the index never
//! triggers a push) are dropped. The others are debounced: a push starts once no new event has
//! arrived for [`WatchOptions::delay`] (0 = at once, after taking every event already queued),
//! so a burst such as a `git checkout` touching 10k files becomes one push. The push itself is
//! the caller's callback (normally [`crate::sync::push_changes`], which rescans and so never
//! depends on the exact events); a failed push is reported with its reason and watching goes on.
//! The loop ends when the `shutdown` future completes (Ctrl-C), also in the middle of a push:
//! an interrupted push leaves the index untouched, so nothing is lost.
//!
//! CLI wiring: `odo watch --delay N --ignore ...` calls [`watch`] with `tokio::signal::ctrl_c()`
//! (mapped to `()`) as `shutdown` and [`print_notice`] as the reporter.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::time::Instant;

use crate::indexer::{IgnoreConfig, IgnoreRules, RulesError};
use crate::sync::BoxError;

/// Watch settings.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Quiet period before a push (`--delay`, default 1 s; zero = push immediately).
    pub delay: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            delay: Duration::from_secs(1),
        }
    }
}

/// What triggered a push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchBatch {
    /// Changed paths relative to the context (sorted, deduplicated).
    pub paths: Vec<String>,
    /// The watcher lost events (queue overflow or error): the whole tree must be rescanned.
    pub rescan: bool,
}

/// Progress of the watch loop, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchNotice {
    /// Idle.
    Waiting {
        /// The watched directory.
        dir: PathBuf,
    },
    /// A push is starting for these paths.
    Pushing(WatchBatch),
    /// The push succeeded.
    Pushed,
    /// The push failed; watching continues.
    PushFailed {
        /// The error with its causes.
        reason: String,
    },
    /// The ignore file changed but could not be parsed; the previous rules stay in force.
    RulesError {
        /// What was wrong.
        reason: String,
    },
}

/// Prints a notice the way odo does (`File x changed`, `Pushing files...`).
pub fn print_notice(notice: &WatchNotice) {
    match notice {
        WatchNotice::Waiting { dir } => {
            println!("Waiting for something to change in {}", dir.display())
        }
        WatchNotice::Pushing(batch) => {
            for p in &batch.paths {
                println!("File {p} changed");
            }
            println!("Pushing files...");
        }
        WatchNotice::Pushed => println!("Changes pushed."),
        WatchNotice::PushFailed { reason } => eprintln!("Push failed: {reason}"),
        WatchNotice::RulesError { reason } => eprintln!("Ignoring the new ignore rules: {reason}"),
    }
}

/// Counters returned when the watch stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchStats {
    /// Pushes started.
    pub pushes: u64,
    /// Pushes that failed.
    pub failures: u64,
}

/// Errors that stop the watch before it starts.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The context directory cannot be resolved.
    #[error("cannot watch {path}: {cause}")]
    Root {
        /// Directory.
        path: PathBuf,
        /// I/O error.
        cause: std::io::Error,
    },
    /// The ignore rules are invalid.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// The OS watcher could not be set up (e.g. inotify limits).
    #[error(
        "cannot set up the file watcher on {path}: {cause}; on Linux raise fs.inotify.max_user_watches"
    )]
    Notify {
        /// Directory.
        path: PathBuf,
        /// The watcher error.
        cause: notify::Error,
    },
}

/// Watches `root` and calls `push` after each debounced burst of relevant changes, until
/// `shutdown` completes. See the module docs.
pub async fn watch<F, Fut, N, S>(
    root: &Path,
    ignore: &IgnoreConfig,
    opts: &WatchOptions,
    mut push: F,
    mut report: N,
    shutdown: S,
) -> Result<WatchStats, WatchError>
where
    F: FnMut(WatchBatch) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
    N: FnMut(&WatchNotice),
    S: Future<Output = ()>,
{
    let root = root.canonicalize().map_err(|cause| WatchError::Root {
        path: root.to_path_buf(),
        cause,
    })?;
    let mut rules = IgnoreRules::load(&root, ignore)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<notify::Result<notify::Event>>();
    let config = notify::Config::default().with_follow_symlinks(false);
    let notify_err = |cause| WatchError::Notify {
        path: root.clone(),
        cause,
    };
    let mut watcher = notify::RecommendedWatcher::new(
        move |ev| {
            let _ = tx.send(ev);
        },
        config,
    )
    .map_err(notify_err)?;
    watcher
        .watch(&root, RecursiveMode::Recursive)
        .map_err(notify_err)?;

    let mut stats = WatchStats::default();
    let mut pending = Pending::default();
    let mut deadline: Option<Instant> = None;
    tokio::pin!(shutdown);
    report(&WatchNotice::Waiting { dir: root.clone() });
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                if pending.take(&root, &mut rules, ignore, ev, &mut report) {
                    deadline = Some(Instant::now() + opts.delay);
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                // Coalesce whatever is already queued into this push.
                while let Ok(ev) = rx.try_recv() {
                    pending.take(&root, &mut rules, ignore, ev, &mut report);
                }
                deadline = None;
                let batch = pending.drain();
                stats.pushes += 1;
                report(&WatchNotice::Pushing(batch.clone()));
                tokio::select! {
                    () = &mut shutdown => break,
                    result = push(batch) => match result {
                        Ok(()) => report(&WatchNotice::Pushed),
                        Err(e) => {
                            stats.failures += 1;
                            report(&WatchNotice::PushFailed { reason: error_chain(e.as_ref()) });
                        }
                    },
                }
                report(&WatchNotice::Waiting { dir: root.clone() });
            }
        }
    }
    drop(watcher);
    Ok(stats)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// An error and its sources, joined with ": ".
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[derive(Default)]
struct Pending {
    paths: BTreeSet<String>,
    rescan: bool,
}

impl Pending {
    /// Records an event; true if it is relevant (should (re)start the debounce timer).
    fn take<N: FnMut(&WatchNotice)>(
        &mut self,
        root: &Path,
        rules: &mut IgnoreRules,
        ignore: &IgnoreConfig,
        ev: notify::Result<notify::Event>,
        report: &mut N,
    ) -> bool {
        let ev = match ev {
            Ok(ev) => ev,
            Err(_) => {
                self.rescan = true;
                return true;
            }
        };
        if ev.need_rescan() {
            self.rescan = true;
            return true;
        }
        if matches!(ev.kind, EventKind::Access(_)) {
            return false;
        }
        let mut relevant = false;
        for path in &ev.paths {
            let Some(rel) = path.strip_prefix(root).ok().and_then(|r| r.to_str()) else {
                continue;
            };
            if rel.is_empty() {
                continue;
            }
            if ignore.globs.is_empty() && (rel == ".gitignore" || rel == ".odoignore") {
                match IgnoreRules::load(root, ignore) {
                    Ok(r) => *rules = r,
                    Err(e) => report(&WatchNotice::RulesError {
                        reason: e.to_string(),
                    }),
                }
            }
            let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
            if rules.is_ignored_path(rel, is_dir) {
                continue;
            }
            self.paths.insert(rel.to_string());
            relevant = true;
        }
        relevant
    }

    fn drain(&mut self) -> WatchBatch {
        let batch = WatchBatch {
            paths: std::mem::take(&mut self.paths).into_iter().collect(),
            rescan: self.rescan,
        };
        self.rescan = false;
        batch
    }
}
