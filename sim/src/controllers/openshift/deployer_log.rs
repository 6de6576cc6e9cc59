//! The log of the deployer pod `<rc>-deploy`: the lines the deployer process of a real
//! cluster prints while it rolls a version out, appended by [`super::strategy`] to the
//! deployer container's log as it takes each step (read with `pods/log`,
//! `deploymentconfigs/<name>/log` and `kubectl logs`).
//!
//! The controller keeps no memory between reconciles: the log itself records what was
//! already said, so a step that is seen again on the next reconcile (a hook pod that
//! stays Succeeded, the rolling update's first line) is not said twice. A reconcile reads
//! the log back once, when it opens it ([`DeployerLog::of`]), and keeps its own copy
//! up to date as it writes.
//!
//! The wording follows openshift's deployer (`openshift-deploy`): `--> ` lines of its
//! own and of the Recreate strategy, the rolling updater's lines indented under its first
//! one, hook lines prefixed with the hook's stage, `--> Success` at the end, or
//! `error: <why>` on standard error when the rollout fails. A hook pod's own log is copied
//! into the deployer's once the hook pod has finished (the real deployer streams it while
//! the hook runs), so its lines carry the instant the hook ended.
//!
//! Known differences: a `Retry` hook is a new pod per attempt here (the real one restarts
//! its container), so each attempt logs `Running hook pod ...` and `Failed` instead of
//! `Retrying hook pod (retry #n)`; the rolling updater's timeout is counted from the
//! deployer's start, not from its last progress.

use std::cell::RefCell;

use serde_json::Value;

use crate::cluster::World;
use crate::kubelet::ContainerId;
use crate::kubelet::streams::StreamKind;
use crate::store::meta;

/// The container of deployer pods.
pub(super) const DEPLOYER_CONTAINER: &str = "deployment";

/// The container of lifecycle hook pods.
pub(super) const HOOK_CONTAINER: &str = "lifecycle";

/// The last instance of container `container` of `pod` (from its status).
pub(super) fn instance_of(pod: &Value, container: &str) -> Option<ContainerId> {
    let cs = pod
        .pointer("/status/containerStatuses")?
        .as_array()?
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(container))?;
    Some(ContainerId {
        namespace: meta::namespace(pod).to_string(),
        pod: meta::name(pod).to_string(),
        pod_uid: meta::uid(pod).to_string(),
        container: container.to_string(),
        instance: cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0) as u32,
        init: false,
    })
}

/// The log of one deployer container instance (nothing is written when the pod has no
/// running deployer container or the runtime keeps no logs).
pub(super) struct DeployerLog {
    id: Option<ContainerId>,
    /// The lines written so far (without their newline): read once, then kept up to date.
    lines: RefCell<Vec<String>>,
}

impl DeployerLog {
    /// The log of the running deployer container of `pod`.
    pub(super) fn of(w: &World<'_>, pod: &Value) -> Self {
        let running = pod
            .pointer("/status/containerStatuses/0/state/running")
            .is_some();
        let id = running
            .then(|| instance_of(pod, DEPLOYER_CONTAINER))
            .flatten();
        let lines = id.as_ref().map(|id| lines_of(w, id)).unwrap_or_default();
        Self {
            id,
            lines: RefCell::new(lines),
        }
    }

    /// Whether a line written so far satisfies `pred`.
    fn has(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.lines.borrow().iter().any(|l| pred(l))
    }

    fn write(&self, w: &World<'_>, stream: StreamKind, line: &str) {
        if let Some(id) = &self.id
            && w.runtime.append_log(id, stream, &format!("{line}\n"))
        {
            self.lines.borrow_mut().push(line.to_string());
        }
    }

    /// Writes `line` to standard output.
    pub(super) fn say(&self, w: &World<'_>, line: &str) {
        self.write(w, StreamKind::Stdout, line);
    }

    /// Writes `line` unless the log already has that exact line.
    pub(super) fn say_once(&self, w: &World<'_>, line: &str) {
        if !self.has(|l| l == line) {
            self.say(w, line);
        }
    }

    /// Writes the line `make` gives unless the log already has a line starting with
    /// `prefix` (a line whose numbers change as the rollout goes on).
    pub(super) fn say_once_as(&self, w: &World<'_>, prefix: &str, make: impl FnOnce() -> String) {
        if !self.has(|l| l.starts_with(prefix)) {
            self.say(w, &make());
        }
    }

    /// Whether the deployer already said how the rollout ended.
    pub(super) fn ended(&self) -> bool {
        self.has(|l| l == SUCCESS || l.starts_with("error: "))
    }

    /// Writes how the rollout ended: `--> Success`, or `error: <why>` on standard error.
    pub(super) fn end(&self, w: &World<'_>, outcome: &Result<(), String>) {
        match outcome {
            Ok(()) => self.say(w, SUCCESS),
            Err(why) => self.write(w, StreamKind::Stderr, &format!("error: {why}")),
        }
    }

    /// Once per hook pod of `stage` (each `Running hook pod` line): copies the finished
    /// hook pod's log, then `--> <stage>: Success` or `--> <stage>: Failed`.
    pub(super) fn hook_finished(&self, w: &World<'_>, stage: &str, hook_pod: &Value, ok: bool) {
        let (started, ended) = {
            let lines = self.lines.borrow();
            let count = |l: &str| lines.iter().filter(|x| *x == l).count();
            (
                count(&hook_started(stage)),
                count(&format!("--> {stage}: Success")) + count(&format!("--> {stage}: Failed")),
            )
        };
        if started <= ended {
            return;
        }
        if let Some(id) = instance_of(hook_pod, HOOK_CONTAINER) {
            for line in lines_of(w, &id) {
                self.say(w, &line);
            }
        }
        self.say(
            w,
            &format!("--> {stage}: {}", if ok { "Success" } else { "Failed" }),
        );
    }
}

/// The deployer's last line when the rollout succeeded.
const SUCCESS: &str = "--> Success";

/// The line the deployer writes when it creates the pod of a hook.
pub(super) fn hook_started(stage: &str) -> String {
    format!("--> {stage}: Running hook pod ...")
}

/// The lines of container instance `id`'s log (without their newline).
fn lines_of(w: &World<'_>, id: &ContainerId) -> Vec<String> {
    w.runtime
        .log_history(id)
        .iter()
        .map(|l| {
            String::from_utf8_lossy(&l.bytes)
                .trim_end_matches('\n')
                .to_string()
        })
        .collect()
}

/// Why a hook with `failurePolicy: Abort` failed the rollout of `rc`, in the deployer's
/// words (`msg` is the hook pod's status message, or why a tag could not be set).
pub(super) fn hook_failed(stage: &str, rc: &Value, msg: &str) -> String {
    format!(
        "{stage} hook failed: the {stage} hook failed: {msg}, aborting rollout of {}/{}",
        meta::namespace(rc),
        meta::name(rc)
    )
}
