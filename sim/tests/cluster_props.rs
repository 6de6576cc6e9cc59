//! Property test: random sequences of API actions and faults against the simulated cluster.
//!
//! Invariants checked after every step and at the end:
//! - no app container has started unless every init container of its pod succeeded, and
//!   (from the trace) init containers started strictly one after another;
//! - once faults stop (nodes back up, pulls healed), every ReplicaSet converges to its
//!   replica count with Ready pods, and bare pods that were not deleted still exist;
//! - the same seed and the same actions give the same trace, byte for byte.
//!
//! Runs 256 cases by default (each case runs twice, for the replay check; about 40 s of CPU
//! in a debug build); set `PROPTEST_CASES` for more (soak runs) or fewer. A failing case
//! prints its seed and actions; proptest also records it in `proptest-regressions/`.

use std::collections::BTreeMap;
use std::time::Duration;

use odo_sim::store::{DeleteOptions, ListQuery, Part, WriteOptions};
use odo_sim::{Fault, Sim};
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
enum Outcome {
    Ok,
    Fail,
    Sleep(u8),
    Forever,
}

impl Outcome {
    fn command(&self) -> Value {
        match self {
            Outcome::Ok => json!(["sh", "-c", "exit 0"]),
            Outcome::Fail => json!(["sh", "-c", "exit 1"]),
            Outcome::Sleep(s) => json!(["sh", "-c", format!("sleep {s}")]),
            Outcome::Forever => json!(["sleep", "infinity"]),
        }
    }
}

#[derive(Debug, Clone)]
enum Action {
    Pod {
        policy: &'static str,
        init: Vec<Outcome>,
        app: Outcome,
    },
    ReplicaSet {
        replicas: u8,
        init: bool,
    },
    Scale {
        rs: u8,
        replicas: u8,
    },
    DeletePod {
        pick: u8,
    },
    Advance {
        secs: u16,
    },
    Kill {
        pick: u8,
    },
    NodeDown {
        node: u8,
    },
    NodeUp {
        node: u8,
    },
    PullFailure {
        on: bool,
    },
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        3 => Just(Outcome::Ok),
        2 => Just(Outcome::Fail),
        1 => (1u8..20).prop_map(Outcome::Sleep),
        1 => Just(Outcome::Forever),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (prop::sample::select(vec!["Always", "OnFailure", "Never"]), prop::collection::vec(outcome(), 0..3), outcome())
            .prop_map(|(policy, init, app)| Action::Pod { policy, init, app }),
        2 => (0u8..4, any::<bool>()).prop_map(|(replicas, init)| Action::ReplicaSet { replicas, init }),
        1 => (any::<u8>(), 0u8..5).prop_map(|(rs, replicas)| Action::Scale { rs, replicas }),
        2 => any::<u8>().prop_map(|pick| Action::DeletePod { pick }),
        4 => (0u16..400).prop_map(|secs| Action::Advance { secs }),
        2 => any::<u8>().prop_map(|pick| Action::Kill { pick }),
        1 => (0u8..3).prop_map(|node| Action::NodeDown { node }),
        1 => (0u8..3).prop_map(|node| Action::NodeUp { node }),
        1 => any::<bool>().prop_map(|on| Action::PullFailure { on }),
    ]
}

const IMAGE: &str = "busybox:1.36";
const NODES: usize = 3;

struct Run {
    sim: Sim,
    pod_t: usize,
    rs_t: usize,
    bare: usize,
    rs_count: usize,
    deleted_bare: Vec<String>,
}

fn pods(sim: &Sim, pod_t: usize) -> Vec<std::sync::Arc<Value>> {
    sim.store()
        .list(pod_t, Some("default"), &ListQuery::default())
        .map(|l| l.items)
        .unwrap_or_default()
}

impl Run {
    fn new(seed: u64) -> Self {
        let sim = Sim::builder().seed(seed).nodes(NODES).build().expect("sim");
        let pod_t = sim
            .store()
            .type_id_of::<k8s_openapi::api::core::v1::Pod>()
            .expect("pods");
        let rs_t = sim
            .store()
            .type_id_of::<k8s_openapi::api::apps::v1::ReplicaSet>()
            .expect("rs");
        Self {
            sim,
            pod_t,
            rs_t,
            bare: 0,
            rs_count: 0,
            deleted_bare: Vec::new(),
        }
    }

    fn apply(&mut self, a: &Action) {
        let store = self.sim.store().clone();
        let wo = WriteOptions::default();
        match a {
            Action::Pod { policy, init, app } => {
                self.bare += 1;
                let inits: Vec<Value> = init.iter().enumerate()
                    .map(|(i, o)| json!({"name": format!("init-{i}"), "image": IMAGE, "command": o.command()}))
                    .collect();
                let pod = json!({"metadata": {"name": format!("bare-{}", self.bare), "labels": {"bare": "yes"}},
                    "spec": {"restartPolicy": policy, "initContainers": inits,
                        "containers": [{"name": "app", "image": IMAGE, "command": app.command()}]}});
                store
                    .create(self.pod_t, "default", pod, &wo)
                    .expect("create pod");
            }
            Action::ReplicaSet { replicas, init } => {
                self.rs_count += 1;
                let name = format!("rs-{}", self.rs_count);
                let inits = if *init {
                    json!([{"name": "setup", "image": IMAGE, "command": ["sh", "-c", "sleep 2"]}])
                } else {
                    json!([])
                };
                let rs = json!({"metadata": {"name": name}, "spec": {"replicas": replicas,
                    "selector": {"matchLabels": {"rs": name}},
                    "template": {"metadata": {"labels": {"rs": name}}, "spec": {"initContainers": inits,
                        "containers": [{"name": "app", "image": IMAGE, "command": ["sleep", "infinity"]}]}}}});
                store
                    .create(self.rs_t, "default", rs, &wo)
                    .expect("create rs");
            }
            Action::Scale { rs, replicas } => {
                if self.rs_count == 0 {
                    return;
                }
                let name = format!("rs-{}", 1 + usize::from(*rs) % self.rs_count);
                let mut o = (*store.get(self.rs_t, "default", &name).expect("rs")).clone();
                o["spec"]["replicas"] = json!(replicas);
                store
                    .update(self.rs_t, "default", &name, o, Part::Main, &wo)
                    .expect("scale");
            }
            Action::DeletePod { pick } => {
                let ps = pods(&self.sim, self.pod_t);
                if ps.is_empty() {
                    return;
                }
                let p = &ps[usize::from(*pick) % ps.len()];
                let name = p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if name.starts_with("bare-") {
                    self.deleted_bare.push(name.clone());
                }
                let _ = store.delete(self.pod_t, "default", &name, &DeleteOptions::default());
            }
            Action::Advance { secs } => {
                self.sim.advance(Duration::from_secs(u64::from(*secs)));
            }
            Action::Kill { pick } => {
                let ps = pods(&self.sim, self.pod_t);
                if ps.is_empty() {
                    return;
                }
                let p = &ps[usize::from(*pick) % ps.len()];
                let _ = self.sim.inject(Fault::KillContainer {
                    namespace: "default".into(),
                    pod: p["metadata"]["name"].as_str().unwrap_or_default().into(),
                    container: None,
                    oom: false,
                });
            }
            Action::NodeDown { node } => {
                self.sim
                    .inject(Fault::NodeDown {
                        node: format!("sim-node-{}", node + 1),
                    })
                    .expect("node down");
            }
            Action::NodeUp { node } => {
                self.sim
                    .inject(Fault::NodeUp {
                        node: format!("sim-node-{}", node + 1),
                    })
                    .expect("node up");
            }
            Action::PullFailure { on } => {
                self.sim
                    .inject(Fault::ImagePullFailure {
                        image: IMAGE.into(),
                        active: *on,
                    })
                    .expect("pull");
            }
        }
    }

    /// No app container has run unless every init container succeeded.
    fn check_init_order(&self) -> Result<(), String> {
        for p in pods(&self.sim, self.pod_t) {
            let inits = p
                .pointer("/status/initContainerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let apps = p
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let app_ran = apps.iter().any(|c| {
                c["state"].get("running").is_some()
                    || c["state"].get("terminated").is_some()
                    || c["restartCount"].as_u64().unwrap_or(0) > 0
            });
            let all_ok = inits.iter().all(|c| {
                c.pointer("/state/terminated/exitCode")
                    .and_then(Value::as_i64)
                    == Some(0)
            });
            if app_ran && !all_ok {
                return Err(format!(
                    "app container ran before init succeeded in {}: {:#}",
                    p["metadata"]["name"], p["status"]
                ));
            }
            // At most one init container is past "waiting" and not done, and those after it
            // have not started.
            let mut seen_unfinished = false;
            for c in &inits {
                let done = c
                    .pointer("/state/terminated/exitCode")
                    .and_then(Value::as_i64)
                    == Some(0);
                let started = c["containerID"].is_string();
                if seen_unfinished && started {
                    return Err(format!(
                        "init container {} started before its predecessor succeeded in {}",
                        c["name"], p["metadata"]["name"]
                    ));
                }
                if !done {
                    seen_unfinished = true;
                }
            }
        }
        Ok(())
    }

    /// Trace order: per pod, `Started container init-k` only after `init-(k-1)` exited 0,
    /// and `Started container app` only after the last init container exited 0.
    fn check_trace_order(&self) -> Result<(), String> {
        let mut ok: BTreeMap<String, Vec<bool>> = BTreeMap::new();
        for e in self.sim.trace() {
            let w = &e.what;
            if let Some(rest) = w.strip_prefix("container-exit default/") {
                let mut it = rest.split('/');
                let (Some(pod), Some(tail)) = (it.next(), it.next()) else {
                    continue;
                };
                let Some((c, code)) = tail.split_once(" code ") else {
                    continue;
                };
                if let Some(i) = c
                    .strip_prefix("init-")
                    .or_else(|| (c == "setup").then_some("0"))
                    .and_then(|i| i.parse::<usize>().ok())
                {
                    let v = ok.entry(pod.to_string()).or_default();
                    if v.len() <= i {
                        v.resize(i + 1, false);
                    }
                    v[i] = code == "0";
                }
            } else if let Some(rest) = w.strip_prefix("event Started Pod default/") {
                let Some((pod, c)) = rest.split_once(": Started container ") else {
                    continue;
                };
                let v = ok.get(pod).cloned().unwrap_or_default();
                let need = match c
                    .strip_prefix("init-")
                    .and_then(|i| i.parse::<usize>().ok())
                {
                    Some(i) => i,
                    None if c == "setup" => 0,
                    None => usize::MAX,
                };
                let preds_ok = if need == usize::MAX {
                    v.iter().all(|x| *x)
                } else {
                    v.iter().take(need).all(|x| *x) && v.len() >= need
                };
                if !preds_ok {
                    return Err(format!(
                        "{pod}: {c} started before its predecessors succeeded ({v:?}) at {}",
                        e
                    ));
                }
            }
        }
        Ok(())
    }

    fn heal_and_check_convergence(&mut self) -> Result<(), String> {
        for n in 0..NODES {
            self.sim
                .inject(Fault::NodeUp {
                    node: format!("sim-node-{}", n + 1),
                })
                .map_err(|e| e.to_string())?;
        }
        self.sim
            .inject(Fault::ImagePullFailure {
                image: IMAGE.into(),
                active: false,
            })
            .map_err(|e| e.to_string())?;
        self.sim.settle_for(Duration::from_secs(1800));
        let store = self.sim.store();
        let all = pods(&self.sim, self.pod_t);
        for i in 1..=self.rs_count {
            let name = format!("rs-{i}");
            let rs = store
                .get(self.rs_t, "default", &name)
                .map_err(|e| e.to_string())?;
            let want = rs["spec"]["replicas"].as_u64().unwrap_or(0) as usize;
            let owned: Vec<_> = all
                .iter()
                .filter(|p| p["metadata"]["labels"]["rs"] == name.as_str())
                .collect();
            let live: Vec<_> = owned
                .iter()
                .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
                .collect();
            let ready = live
                .iter()
                .filter(|p| {
                    p["status"]["conditions"].as_array().is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
                })
                .count();
            if live.len() != want || ready != want || owned.len() != want {
                return Err(format!(
                    "{name}: want {want}, have {} pods ({} live, {ready} ready)",
                    owned.len(),
                    live.len()
                ));
            }
            if rs
                .pointer("/status/readyReplicas")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize
                != want
            {
                return Err(format!("{name}: status {:#}", rs["status"]));
            }
        }
        let trace = self.sim.trace_text();
        for i in 1..=self.bare {
            let name = format!("bare-{i}");
            let exists = store.get(self.pod_t, "default", &name).is_ok();
            // Deleted by the test, or evicted from a lost node (and not recreated).
            let evicted =
                trace.contains(&format!("event TaintManagerEviction Pod default/{name}:"));
            let deleted = self.deleted_bare.contains(&name) || evicted;
            if deleted && exists {
                return Err(format!("{name} was deleted but still exists"));
            }
            if !deleted && !exists {
                return Err(format!("{name} vanished without a delete"));
            }
        }
        Ok(())
    }
}

fn run_case(seed: u64, actions: &[Action]) -> Result<String, String> {
    let mut run = Run::new(seed);
    for a in actions {
        run.apply(a);
        run.check_init_order()?;
    }
    run.check_trace_order()?;
    run.heal_and_check_convergence()?;
    run.check_init_order()?;
    Ok(run.sim.trace_text())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// One property case: runs the actions, checks the invariants and `extra` (on the trace), then
/// replays the same seed and actions and requires the same trace. Every failure names the
/// seed, which with the actions (printed by proptest as the minimal failing input) replays it.
fn check_case(
    seed: u64,
    actions: &[Action],
    extra: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(), TestCaseError> {
    let run = |what: &str| {
        run_case(seed, actions)
            .and_then(|trace| extra(&trace).map(|()| trace))
            .map_err(|e| TestCaseError::fail(format!("seed {seed}{what}: {e}")))
    };
    let first = run("")?;
    let second = run(" (replay)")?;
    prop_assert!(
        first == second,
        "seed {}: the replay gave another trace",
        seed
    );
    Ok(())
}

fn case_strategy() -> impl Strategy<Value = (u64, Vec<Action>)> {
    (any::<u64>(), prop::collection::vec(action(), 1..25))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_actions_and_faults_keep_invariants((seed, actions) in case_strategy()) {
        check_case(seed, &actions, &|_| Ok(()))?;
    }
}

/// The failure path of the property itself: with a planted invariant that random runs break
/// ("no container is ever killed"), proptest finds and shrinks a failing case; its message
/// names the case's seed, and that seed with the minimal actions fails again on a fresh
/// simulator with the same trace each time.
#[test]
fn a_failing_case_names_its_seed_and_the_seed_replays_it() {
    let no_kills = |trace: &str| {
        if trace.contains("event Killing ") {
            Err("a container was killed".to_string())
        } else {
            Ok(())
        }
    };
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 32,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&case_strategy(), |(seed, actions)| {
        check_case(seed, &actions, &no_kills)
    });
    let Err(proptest::test_runner::TestError::Fail(reason, (seed, actions))) = result else {
        panic!("the planted invariant must fail within 32 cases: {result:?}");
    };
    assert!(
        reason.message().starts_with(&format!("seed {seed}: ")),
        "the failure names its seed: {reason}"
    );
    assert!(
        reason.message().ends_with("a container was killed"),
        "{reason}"
    );
    let first = run_case(seed, &actions).expect("the real invariants hold");
    assert!(no_kills(&first).is_err(), "seed {seed} replays the failure");
    assert_eq!(
        run_case(seed, &actions).expect("replay"),
        first,
        "seed {seed} replays the same trace"
    );
}
