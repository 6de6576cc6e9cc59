//! Observable traces: what a scenario did and what it saw, in order, written as JSON under
//! `target/e2e-traces/<backend>/<scenario>.json` so that runs on kind and on the simulator
//! can be compared (`trace-diff`).
//!
//! A trace holds the scenario's own ordered log (steps, observations, injected faults, file
//! probes) and, per object of its namespace, the sequence of distinct states a watch saw
//! (summarised by [`summary`], so that only what a user would observe is compared).
//! Normalisation and comparison live in [`diff`].

pub mod diff;
pub mod summary;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Namespace, PersistentVolumeClaim, Pod, ReplicationController, Secret,
    Service,
};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The ConfigMap every real namespace gets: cluster-made, not an object of a scenario.
const ROOT_CA: &str = "kube-root-ca.crt";

/// One scenario's trace, as written to disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Scenario name.
    pub scenario: String,
    /// Backend name (`sim`, `kind`, ...).
    pub backend: String,
    /// The namespace the scenario ran in (replaced by `<ns>` when comparing).
    pub namespace: String,
    /// `passed`, `skipped: <why>` or `failed: <error>`.
    pub outcome: String,
    /// The scenario's ordered log.
    pub steps: Vec<Value>,
    /// Per object (`Kind/name`), the distinct states in the order a watch saw them.
    pub objects: BTreeMap<String, Vec<Value>>,
}

/// Where traces of `backend` go: `$ODO_E2E_TRACES/<backend>` or
/// `<target dir>/e2e-traces/<backend>`.
pub fn trace_dir(backend: &str) -> PathBuf {
    traces_root().join(backend)
}

/// The root of all traces: `$ODO_E2E_TRACES`, else `$CARGO_TARGET_DIR/e2e-traces`, else the
/// workspace's `target/e2e-traces`.
pub fn traces_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("ODO_E2E_TRACES").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    target.join("e2e-traces")
}

impl Trace {
    /// Writes the trace as pretty JSON to `<dir>/<scenario>.json` (temp file + rename).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let path = dir.join(format!("{}.json", self.scenario));
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        odo_sim::server::write_atomic(&path, &(text + "\n"))?;
        Ok(path)
    }

    /// Reads a trace file.
    pub fn read_from(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a trace file: {e}", path.display()))
    }
}

/// A trace being recorded, shared between the scenario and its watchers.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Trace>>);

impl Recorder {
    /// A recorder for `scenario` on `backend` in `namespace`.
    pub fn new(scenario: &str, backend: &str, namespace: &str) -> Self {
        Self(Arc::new(Mutex::new(Trace {
            scenario: scenario.into(),
            backend: backend.into(),
            namespace: namespace.into(),
            ..Trace::default()
        })))
    }

    fn with<R>(&self, f: impl FnOnce(&mut Trace) -> R) -> R {
        f(&mut self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Appends an entry to the scenario's log.
    pub fn log(&self, entry: Value) {
        self.with(|t| t.steps.push(entry));
    }

    /// Appends a step (something the scenario did).
    pub fn step(&self, text: impl Into<String>) {
        self.log(json!({ "step": text.into() }));
    }

    /// Appends an observation (a condition the scenario waited for and saw).
    pub fn observed(&self, text: impl Into<String>) {
        self.log(json!({ "observed": text.into() }));
    }

    /// Records a state of `key` unless it equals the last one recorded.
    pub fn object_state(&self, key: &str, state: Value) {
        self.with(|t| {
            let states = t.objects.entry(key.to_string()).or_default();
            if states.last() != Some(&state) {
                states.push(state);
            }
        });
    }

    /// Sets the outcome.
    pub fn outcome(&self, text: impl Into<String>) {
        let text = text.into();
        self.with(|t| t.outcome = text);
    }

    /// A copy of the trace so far.
    pub fn snapshot(&self) -> Trace {
        self.with(|t| t.clone())
    }
}

fn watch_kind<K>(api: Api<K>, cfg: watcher::Config, rec: Recorder) -> JoinHandle<()>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Serialize + Send + 'static,
{
    tokio::spawn(async move {
        let kind = K::kind(&()).to_string();
        let mut stream = watcher(api, cfg).default_backoff().boxed();
        while let Some(event) = stream.next().await {
            let (obj, deleted) = match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => (o, false),
                Ok(watcher::Event::Delete(o)) => (o, true),
                Ok(_) => continue,
                Err(e) => {
                    tracing::debug!(target: "e2e::trace", "watch of {kind}: {e}");
                    continue;
                }
            };
            let name = obj.name_any();
            if kind == "ConfigMap" && name == ROOT_CA {
                continue;
            }
            let state = if deleted {
                json!("deleted")
            } else {
                summary::summarise(&kind, &serde_json::to_value(&obj).unwrap_or(Value::Null))
            };
            rec.object_state(&format!("{kind}/{name}"), state);
        }
    })
}

/// Starts watches on the kinds scenarios create in `ns` (and on `ns` itself), feeding `rec`.
/// Abort the returned tasks to stop recording.
pub fn spawn_watchers(client: &kube::Client, ns: &str, rec: &Recorder) -> Vec<JoinHandle<()>> {
    let c = client;
    let cfg = watcher::Config::default;
    vec![
        watch_kind::<Namespace>(
            Api::all(c.clone()),
            cfg().fields(&format!("metadata.name={ns}")),
            rec.clone(),
        ),
        watch_kind::<ConfigMap>(Api::namespaced(c.clone(), ns), cfg(), rec.clone()),
        watch_kind::<Secret>(Api::namespaced(c.clone(), ns), cfg(), rec.clone()),
        watch_kind::<Service>(Api::namespaced(c.clone(), ns), cfg(), rec.clone()),
        watch_kind::<Endpoints>(Api::namespaced(c.clone(), ns), cfg(), rec.clone()),
        watch_kind::<Pod>(Api::namespaced(c.clone(), ns), cfg(), rec.clone()),
        watch_kind::<ReplicationController>(Api::namespaced(c.clone(), ns), cfg(), rec.clone()),
        watch_kind::<ReplicaSet>(Api::namespaced(c.clone(), ns), cfg(), rec.clone()),
        watch_kind::<Deployment>(Api::namespaced(c.clone(), ns), cfg(), rec.clone()),
        watch_kind::<PersistentVolumeClaim>(Api::namespaced(c.clone(), ns), cfg(), rec.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_states_are_recorded_once() {
        let rec = Recorder::new("s", "sim", "ns");
        rec.object_state("Pod/a", json!({"phase": "Pending"}));
        rec.object_state("Pod/a", json!({"phase": "Pending"}));
        rec.object_state("Pod/a", json!({"phase": "Running"}));
        rec.object_state("Pod/a", json!({"phase": "Pending"}));
        rec.step("did");
        let t = rec.snapshot();
        assert_eq!(t.objects["Pod/a"].len(), 3);
        assert_eq!(t.steps, vec![json!({"step": "did"})]);
    }

    #[test]
    fn traces_round_trip_through_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rec = Recorder::new("round_trip", "sim", "ns-1");
        rec.step("x");
        rec.object_state("ConfigMap/c", json!({"data": {"k": "v"}}));
        rec.outcome("passed");
        let path = rec.snapshot().write_to(dir.path()).expect("write");
        assert!(path.ends_with("round_trip.json"));
        assert_eq!(Trace::read_from(&path).expect("read"), rec.snapshot());
        let err = Trace::read_from(&dir.path().join("missing.json")).expect_err("missing");
        assert!(err.contains("missing.json"), "{err}");
    }
}
