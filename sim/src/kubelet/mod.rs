//! The simulated kubelet: the scheduler, the per-pod state machine, and the seam to the
//! container runtime.
//!
//! # The container runtime seam
//!
//! The kubelet decides *when* containers start, restart and stop (init order, restart
//! policies, back-off, grace periods); what a container *does* is the business of a
//! [`ContainerRuntime`]. The kubelet calls it at four points:
//!
//! 1. [`ContainerRuntime::pull`] before a container is created, when the image is not on the
//!    node yet (or `imagePullPolicy: Always`): `Ok(duration)` is how long the pull takes in
//!    virtual time, `Err` a pull failure (`ErrImagePull`, then `ImagePullBackOff`).
//! 2. [`ContainerRuntime::start`] once the image is there: the runtime creates and starts
//!    the process and answers with an [`Outcome`]: it exits with a code after some virtual
//!    time, or it runs until stopped. A runtime whose processes end later for reasons of its
//!    own (an exec that kills PID 1, a shell that finishes) reports that through the
//!    [`ExitSender`] it was given.
//! 3. [`ContainerRuntime::stop`] on deletion or a kill: SIGTERM, and how long the process
//!    takes to exit (the kubelet caps it at the grace period, then SIGKILLs).
//! 4. [`ContainerRuntime::remove_pod`] when the pod is gone (volumes, logs of that UID).
//!
//! A runtime that runs real processes ([`RealRuntime`]) also gets [`ContainerRuntime::kill`]
//! when the kubelet considers an instance terminated, and lets the cluster loop run its
//! processes ([`ContainerRuntime::run_processes`]) and see their virtual-time sleeps
//! ([`ContainerRuntime::next_wakeup`]) so time only moves when every process waits.
//!
//! The default, [`RealRuntime`], runs containers in simulated filesystems with the image
//! catalogue and the mini shell (see [`crate::runtime`]). [`ScriptedRuntime`]
//! (`Sim::builder().scripted_runtime()`) needs no images or filesystems: a container behaves
//! as its command says (`exit N`, `sh -c "...; exit N"`, `sleep N` in virtual time, `true`,
//! `false`; anything else runs until stopped).

mod backoff;
mod fake;
mod lifecycle;
pub(crate) mod pod;
mod probes;
mod real;
mod sched_facts;
pub(crate) mod scheduler;
mod status;
pub mod streams;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub use backoff::Backoff;
pub use fake::ScriptedRuntime;
pub(crate) use pod::Kubelet;
pub use real::{RealRuntime, SimHost};

use crate::controllers::cache::Cache;

/// Identifies one container instance: a restart is a new instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerId {
    /// Namespace of the pod.
    pub namespace: String,
    /// Name of the pod.
    pub pod: String,
    /// UID of the pod (a recreated pod with the same name is another pod).
    pub pod_uid: String,
    /// Container name.
    pub container: String,
    /// 0 for the first run, +1 per restart.
    pub instance: u32,
    /// Whether it is an init container.
    pub init: bool,
}

impl ContainerId {
    /// The `containerID` shown in pod status (`odo-sim://<hash>`).
    pub fn runtime_id(&self) -> String {
        use sha2::Digest;
        let h = sha2::Sha256::digest(format!(
            "{}/{}/{}",
            self.pod_uid, self.container, self.instance
        ));
        format!("odo-sim://{}", hex::encode(h))
    }
}

/// What a started container will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The process exits with `code` after `after` of virtual time.
    ExitsAfter {
        /// Run time.
        after: Duration,
        /// Exit code.
        code: i32,
    },
    /// The process runs until it is stopped (or reports an exit through its [`ExitSender`]).
    RunsUntilStopped,
}

/// Why a container could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct StartError {
    /// Waiting reason shown in status (`CreateContainerError`, `RunContainerError`, ...).
    pub reason: String,
    /// The message shown with it.
    pub message: String,
}

/// The waiting reason of a container whose pod's volumes cannot be set up yet.
pub const CONTAINER_CREATING: &str = "ContainerCreating";

impl StartError {
    /// The reason and message of the Warning event the kubelet posts for this error:
    /// `FailedMount` for a volume that cannot be set up (the container stays
    /// `ContainerCreating`), `Failed` with `Error: ...` otherwise.
    pub fn event(&self) -> (&'static str, String) {
        if self.reason == CONTAINER_CREATING {
            ("FailedMount", self.message.clone())
        } else {
            ("Failed", format!("Error: {}", self.message))
        }
    }
}

/// Why an image could not be pulled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PullError {
    /// The message shown in `ErrImagePull` / the `Failed` event.
    pub message: String,
}

/// A container exit reported by a runtime outside of [`Outcome::ExitsAfter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitReport {
    /// Which container instance.
    pub id: ContainerId,
    /// Its exit code.
    pub code: i32,
    /// The terminated reason, when not the usual `Completed` (code 0) or `Error`
    /// (e.g. `StartError` for a command that could not be started).
    pub reason: Option<&'static str>,
}

/// Lets a runtime report that a container exited on its own.
#[derive(Clone)]
pub struct ExitSender {
    cache: Arc<Mutex<Cache>>,
    notify: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for ExitSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExitSender")
    }
}

impl ExitSender {
    pub(crate) fn new(cache: Arc<Mutex<Cache>>, notify: Arc<tokio::sync::Notify>) -> Self {
        Self { cache, notify }
    }

    /// Wakes the cluster loop (a process became runnable).
    pub(crate) fn wake(&self) {
        self.notify.notify_one();
    }

    /// Reports that `id` exited with `code` (processed at the current virtual instant).
    pub fn exited(&self, id: ContainerId, code: i32) {
        self.report(ExitReport {
            id,
            code,
            reason: None,
        });
    }

    /// Reports an exit with its terminated reason (`StartError`, `OOMKilled`, ...).
    pub fn report(&self, report: ExitReport) {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .exits
            .push_back(report);
        self.notify.notify_one();
    }
}

/// What the kubelet tells the runtime about a container it starts.
#[derive(Debug, Clone, Copy)]
pub struct StartRequest<'a> {
    /// Which instance.
    pub id: &'a ContainerId,
    /// The pod as stored.
    pub pod: &'a Value,
    /// The container's spec (an entry of `spec.containers` or `spec.initContainers`).
    pub container: &'a Value,
    /// The node it runs on.
    pub node: &'a str,
    /// The pod's IP.
    pub pod_ip: &'a str,
}

/// What [`ContainerRuntime::commit`] makes of a finished container: its image with one
/// directory replaced by the container's copy, under new references (what the S2I builder
/// commits and pushes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// The directory taken from the container (`/opt/app-root`).
    pub path: String,
    /// References the new image is pushed under (the first is its own).
    pub references: Vec<String>,
    /// The new image's default command (`[]` keeps the base image's).
    pub cmd: Vec<String>,
    /// Labels added to the base image's.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The container runtime the kubelet drives (see the module documentation).
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Pulls `image` onto `node`: the virtual time it takes, or why it failed.
    fn pull(&self, image: &str, node: &str) -> Result<Duration, PullError>;

    /// Creates and starts a container; `exits` reports exits that happen later.
    fn start(&self, req: StartRequest<'_>, exits: ExitSender) -> Result<Outcome, StartError>;

    /// Sends SIGTERM to `container` (its spec); returns how long the process takes to exit
    /// (capped by the kubelet at the grace period, after which it is killed with exit code 137).
    fn stop(&self, id: &ContainerId, container: &Value, grace: Duration) -> Duration;

    /// Forgets everything about a pod that left its node (its emptyDirs, logs, processes).
    fn remove_pod(&self, _pod_uid: &str) {}

    /// The kubelet considers instance `id` terminated (it exited, or the grace period ran
    /// out, or a fault killed it): SIGKILL whatever of it still runs.
    fn kill(&self, _id: &ContainerId) {}

    /// Lets processes that can run at the current virtual instant run until every one of
    /// them waits (fires due sleeps first); true if anything ran. The cluster loop calls it
    /// until it returns false before it moves time on.
    fn run_processes(&self) -> bool {
        false
    }

    /// The earliest virtual instant a process sleeps until (an event for the cluster loop).
    fn next_wakeup(&self) -> Option<jiff::Timestamp> {
        None
    }

    /// Whether a probe (readiness, liveness or startup: `httpGet`, `tcpSocket`, `grpc` or
    /// `exec`) of a running container succeeds now (default: yes).
    fn probe(&self, _id: &ContainerId, _probe: &Value) -> bool {
        true
    }

    /// Commits a directory of the last instance of `container` of pod `pod_uid` (finished or
    /// not) into a new image derived from that container's image, and pushes it to the
    /// image catalogue under `commit.references`. Err says why it could not.
    fn commit(&self, _pod_uid: &str, _container: &str, _commit: &Commit) -> Result<(), String> {
        Err("this simulator's container runtime has no container filesystems to commit".into())
    }

    /// The bytes of file `path` in the last instance of `container` of pod `pod_uid`, if it
    /// exists there.
    fn read_file(&self, _pod_uid: &str, _container: &str, _path: &str) -> Option<Vec<u8>> {
        None
    }

    /// Marks a volume (namespace, claim name) as full or not (fault injection).
    fn set_disk_full(&self, _namespace: &str, _claim: &str, _full: bool) {}

    /// Runs `command` in a running container instance (`pods/exec`).
    fn exec(
        &self,
        _id: &ContainerId,
        _command: Vec<String>,
        _io: streams::SessionIo,
    ) -> Result<streams::Session, streams::StreamError> {
        Err(streams::StreamError::Unsupported(
            "this simulator's container runtime runs no processes, so it cannot exec".into(),
        ))
    }

    /// Attaches to the main process of a running container instance (`pods/attach`).
    fn attach(
        &self,
        _id: &ContainerId,
        _io: streams::SessionIo,
    ) -> Result<streams::Session, streams::StreamError> {
        Err(streams::StreamError::Unsupported(
            "this simulator's container runtime runs no processes, so it cannot attach".into(),
        ))
    }

    /// Appends `text` to the log of the running container instance `id` as output of its
    /// process on `stream`, with the current virtual time: what a controller that stands in
    /// for a container's process (the OpenShift deployer) reports there. False when the
    /// runtime keeps no log for that instance or it no longer runs.
    fn append_log(&self, _id: &ContainerId, _stream: streams::StreamKind, _text: &str) -> bool {
        false
    }

    /// The lines a container instance has logged so far, without following its log (what
    /// a controller standing in for its process reads back). Empty when the runtime keeps
    /// no log for it.
    fn log_history(&self, _id: &ContainerId) -> Vec<streams::LogLine> {
        Vec::new()
    }

    /// The log of a container instance (`pods/log`).
    fn logs(&self, _id: &ContainerId) -> Result<streams::LogStream, streams::StreamError> {
        Err(streams::StreamError::Unsupported(
            "this simulator's container runtime keeps no container logs".into(),
        ))
    }

    /// Opens a connection to `port` in the network namespace of pod `pod_uid`
    /// (`pods/portforward`).
    fn connect(
        &self,
        _pod_uid: &str,
        _port: u16,
    ) -> Result<tokio::io::DuplexStream, streams::StreamError> {
        Err(streams::StreamError::Unsupported(
            "this simulator's container runtime serves no ports".into(),
        ))
    }
}
