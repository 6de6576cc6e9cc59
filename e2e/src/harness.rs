//! Running a scenario on a backend: a fresh namespace, the capability check (a scenario that
//! needs what the backend lacks is reported as skipped, with the reason), image preparation,
//! trace recording, the run itself, the trace file and the namespace's deletion.
//!
//! Scenarios get a [`Ctx`]: the backend, their namespace, the trace recorder, and helpers to
//! wait for a condition through a watch (time passes through [`Backend::wait`], so the same
//! wait is instant on the simulator and real on kind).

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::backend::{Backend, BackendError, BoxFut, Capability, Fault, Injected};
use crate::odo::OdoDriver;
use crate::trace::{self, Recorder};

/// Why a scenario stopped early. (Not a `std::error::Error`, so that `?` converts any error
/// into [`Stop::Fail`].)
#[derive(Debug)]
pub enum Stop {
    /// The backend lacks something the scenario needs: reported as skipped, never as passed.
    Skip(String),
    /// The scenario failed.
    Fail(anyhow::Error),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Skip(why) => write!(f, "skipped: {why}"),
            Stop::Fail(e) => write!(f, "{e:#}"),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for Stop {
    fn from(e: E) -> Self {
        Stop::Fail(e.into())
    }
}

/// What a scenario step returns.
pub type StepResult<T = ()> = Result<T, Stop>;

/// The outcome of a scenario that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// The backend lacks a capability or cannot cause a fault; the reason says which.
    Skipped(String),
}

/// A scenario: a name, what it needs, and its body written once against [`Ctx`].
#[derive(Clone, Copy)]
pub struct Scenario {
    /// Unique name (also the trace file name).
    pub name: &'static str,
    /// One line: what it proves.
    pub about: &'static str,
    /// Capabilities needed before anything is done (others may be required mid-way with
    /// [`Ctx::require`]).
    pub needs: &'static [Capability],
    /// Images its pods use (loaded into kind nodes beforehand).
    pub images: &'static [&'static str],
    /// The body.
    pub run: for<'a> fn(&'a Ctx<'a>) -> BoxFut<'a, StepResult>,
}

impl Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

/// What a scenario sees while it runs.
pub struct Ctx<'a> {
    /// The backend.
    pub backend: &'a dyn Backend,
    /// The scenario's own namespace.
    pub ns: String,
    /// The trace being recorded.
    pub trace: Recorder,
    /// The odo driver, when one is available.
    pub odo: Option<Arc<dyn OdoDriver>>,
    client: kube::Client,
}

impl<'a> Ctx<'a> {
    /// A namespaced API in the scenario's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// The backend's client.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Whether the backend (with the odo driver, for [`Capability::Odo`]) offers `cap`.
    pub fn has(&self, cap: Capability) -> bool {
        match cap {
            Capability::Odo => self.odo.is_some(),
            _ => self.backend.capabilities().has(cap),
        }
    }

    /// Stops the scenario as skipped unless `cap` is offered (recorded in the trace).
    pub fn require(&self, cap: Capability) -> StepResult {
        if self.has(cap) {
            return Ok(());
        }
        let why = format!(
            "needs {cap}, which the {} backend lacks",
            self.backend.name()
        );
        self.trace.log(json!({ "skipped": why }));
        Err(Stop::Skip(why))
    }

    /// Records a step in the trace.
    pub fn step(&self, text: impl Into<String>) {
        self.trace.step(text);
    }

    /// Creates an object in the namespace, recording the step.
    pub async fn create<K>(&self, obj: &K) -> StepResult<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + Debug
            + Serialize
            + DeserializeOwned,
    {
        let name = obj.meta().name.clone().unwrap_or_default();
        self.step(format!("create {} {name}", K::kind(&())));
        let created = self
            .api::<K>()
            .create(&PostParams::default(), obj)
            .await
            .map_err(|e| anyhow::anyhow!("creating {} {name}: {e}", K::kind(&())))?;
        Ok(created)
    }

    /// Causes a fault; a backend that cannot makes the scenario skipped (never passed).
    pub async fn inject(&self, fault: Fault) -> StepResult<Injected> {
        match self.backend.inject(&fault).await {
            Ok(done) => {
                self.trace
                    .log(json!({ "inject": fault.to_string(), "how": done.how }));
                Ok(done)
            }
            Err(unsupported) => {
                let why = unsupported.to_string();
                self.trace.log(json!({ "skipped": why }));
                Err(Stop::Skip(why))
            }
        }
    }

    /// Waits, through a watch, until an object of kind `K` selected by `fields`/`labels`
    /// satisfies `pred`, letting cluster time pass in [`Backend::step`]s up to `timeout`.
    /// Returns the object that satisfied it and records `what` as an observation.
    pub async fn wait_for<K>(
        &self,
        what: &str,
        cfg: watcher::Config,
        timeout: Duration,
        mut pred: impl FnMut(&[K]) -> Option<K>,
    ) -> StepResult<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + Debug
            + DeserializeOwned
            + Send
            + 'static,
    {
        let mut stream = watcher(self.api::<K>(), cfg).default_backoff().boxed();
        let mut objects: Vec<K> = Vec::new();
        let mut waited = Duration::ZERO;
        loop {
            // Drain what the watch has delivered until it stays quiet.
            while let Ok(Some(ev)) = tokio::time::timeout(self.backend.quiet(), stream.next()).await
            {
                match ev {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                        upsert(&mut objects, o);
                    }
                    Ok(watcher::Event::Delete(o)) => {
                        objects.retain(|x| x.meta().uid != o.meta().uid);
                    }
                    Ok(watcher::Event::Init) => objects.clear(),
                    Ok(watcher::Event::InitDone) => {}
                    Err(e) => tracing::debug!(target: "e2e::wait", "{what}: {e}"),
                }
            }
            if let Some(found) = pred(&objects) {
                self.trace.observed(what);
                return Ok(found);
            }
            if waited >= timeout {
                return Err(Stop::Fail(anyhow::anyhow!(
                    "timed out after {timeout:?} waiting for {what} in namespace {}; last seen: {}",
                    self.ns,
                    objects
                        .iter()
                        .map(|o| o.meta().name.clone().unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let step = self.backend.step();
            self.backend.wait(step).await;
            waited += step;
        }
    }

    /// Lets `d` of cluster time pass.
    pub async fn wait(&self, d: Duration) {
        self.backend.wait(d).await;
    }
}

fn upsert<K: Resource>(objects: &mut Vec<K>, o: K) {
    match objects.iter_mut().find(|x| x.meta().uid == o.meta().uid) {
        Some(slot) => *slot = o,
        None => objects.push(o),
    }
}

/// A scenario that failed, with what is needed to repeat and inspect it.
#[derive(Debug, thiserror::Error)]
#[error("scenario {scenario} failed on {backend}: {error}\n  trace: {trace}")]
pub struct ScenarioFailed {
    /// The scenario.
    pub scenario: String,
    /// The backend's description (seed, cluster).
    pub backend: String,
    /// The error.
    pub error: String,
    /// The trace file.
    pub trace: String,
}

/// The namespace name for a scenario: `e2e-<scenario with dashes>`, at most 63 characters.
pub fn namespace_for(scenario: &str) -> String {
    let base: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut ns = format!("e2e-{base}");
    ns.truncate(57);
    let suffix = std::process::id() % 100_000;
    format!("{}-{suffix}", ns.trim_end_matches('-'))
}

/// Runs one scenario on `backend`: skipped when a needed capability is missing, otherwise
/// in a fresh namespace with its trace written to `target/e2e-traces/<backend>/`.
pub async fn run(
    backend: &dyn Backend,
    scenario: &Scenario,
    odo: Option<Arc<dyn OdoDriver>>,
) -> Result<Outcome, ScenarioFailed> {
    let ns = namespace_for(scenario.name);
    let rec = Recorder::new(scenario.name, backend.name(), &ns);
    let dir = trace::trace_dir(backend.name());
    let failed = |error: String, rec: &Recorder| {
        rec.outcome(format!("failed: {error}"));
        let path = write_trace(rec, &dir);
        ScenarioFailed {
            scenario: scenario.name.into(),
            backend: backend.describe(),
            error,
            trace: path,
        }
    };
    let client = backend.client();
    let ctx = Ctx {
        backend,
        ns: ns.clone(),
        trace: rec.clone(),
        odo,
        client: client.clone(),
    };
    if let Some(cap) = scenario.needs.iter().copied().find(|c| !ctx.has(*c)) {
        let why = format!("needs {cap}, which the {} backend lacks", backend.name());
        rec.log(json!({ "skipped": why }));
        rec.outcome(format!("skipped: {why}"));
        write_trace(&rec, &dir);
        return Ok(Outcome::Skipped(why));
    }
    let images: Vec<String> = scenario.images.iter().map(|s| s.to_string()).collect();
    if let Err(e) = backend.prepare_images(&images).await {
        return Err(failed(format!("preparing images: {e}"), &rec));
    }
    if let Err(e) = create_namespace(&client, &ns).await {
        return Err(failed(e.to_string(), &rec));
    }
    let watchers = trace::spawn_watchers(&client, &ns, &rec);
    // Let the watches list before the scenario acts, so that every state is seen.
    settle(backend).await;
    let result = (scenario.run)(&ctx).await;
    settle(backend).await;
    for w in &watchers {
        w.abort();
    }
    let outcome = match result {
        Ok(()) => {
            rec.outcome("passed");
            Outcome::Passed
        }
        Err(Stop::Skip(why)) => {
            rec.outcome(format!("skipped: {why}"));
            Outcome::Skipped(why)
        }
        Err(Stop::Fail(e)) => return Err(failed(format!("{e:#}"), &rec)),
    };
    write_trace(&rec, &dir);
    // Best effort: a real cluster keeps namespaces otherwise; the simulator is dropped.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    let _ = namespaces.delete(&ns, &DeleteParams::background()).await;
    Ok(outcome)
}

async fn settle(backend: &dyn Backend) {
    for _ in 0..3 {
        tokio::time::sleep(backend.quiet()).await;
    }
}

async fn create_namespace(client: &kube::Client, ns: &str) -> Result<(), BackendError> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let mut obj = k8s_openapi::api::core::v1::Namespace::default();
    obj.metadata.name = Some(ns.to_string());
    obj.metadata.labels = Some([("odo-e2e".to_string(), "true".to_string())].into());
    api.create(&PostParams::default(), &obj)
        .await
        .map(drop)
        .map_err(|source| BackendError::Api {
            what: format!("creating namespace {ns}"),
            source,
        })
}

fn write_trace(rec: &Recorder, dir: &std::path::Path) -> String {
    match rec.snapshot().write_to(dir) {
        Ok(p) => p.display().to_string(),
        Err(e) => format!("(not written to {}: {e})", dir.display()),
    }
}

/// Where the trace of `scenario` on `backend` is written.
pub fn trace_path(backend: &str, scenario: &str) -> PathBuf {
    trace::trace_dir(backend).join(format!("{scenario}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_are_dns_labels() {
        let ns = namespace_for("configmap_subpath_file");
        assert!(ns.starts_with("e2e-configmap-subpath-file-"), "{ns}");
        let long = namespace_for(&"x".repeat(100));
        assert!(long.len() <= 63, "{long}");
        assert!(
            long.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}

/// The outcomes of a suite run on one backend.
#[derive(Debug, Default)]
pub struct SuiteReport {
    /// Scenarios that passed.
    pub passed: Vec<String>,
    /// Scenarios skipped, with why.
    pub skipped: Vec<(String, String)>,
    /// Scenarios that failed.
    pub failed: Vec<ScenarioFailed>,
}

impl std::fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for name in &self.passed {
            writeln!(f, "PASSED  {name}")?;
        }
        for (name, why) in &self.skipped {
            writeln!(f, "SKIPPED {name}: {why}")?;
        }
        for failed in &self.failed {
            writeln!(f, "FAILED  {failed}")?;
        }
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed.len(),
            self.failed.len(),
            self.skipped.len()
        )
    }
}

/// The scenario names selected by `ODO_E2E_SCENARIOS` (comma-separated), or all.
pub fn selected(all: Vec<Scenario>) -> Vec<Scenario> {
    match std::env::var("ODO_E2E_SCENARIOS") {
        Ok(list) if !list.trim().is_empty() => {
            let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
            all.into_iter()
                .filter(|s| wanted.contains(&s.name))
                .collect()
        }
        _ => all,
    }
}

/// Runs scenarios one after another on one backend.
pub async fn run_suite(
    backend: &dyn Backend,
    scenarios: &[Scenario],
    odo: Option<Arc<dyn OdoDriver>>,
) -> SuiteReport {
    let mut report = SuiteReport::default();
    for s in scenarios {
        eprintln!("[e2e] {} on {}: {}", s.name, backend.name(), s.about);
        match run(backend, s, odo.clone()).await {
            Ok(Outcome::Passed) => report.passed.push(s.name.into()),
            Ok(Outcome::Skipped(why)) => report.skipped.push((s.name.into(), why)),
            Err(failed) => {
                eprintln!("[e2e] {failed}");
                report.failed.push(failed);
            }
        }
    }
    report
}
