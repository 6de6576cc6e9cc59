//! Traces across runs and backends: the same scenario and seed on the simulator gives the
//! same normalised trace, and the `trace-diff` binary reports agreement, differences and
//! missing traces with the right exit codes.

use std::process::Command;

use e2e::backend::sim::SimBackend;
use e2e::harness::{self, Outcome};
use e2e::scenarios;
use e2e::trace::{Trace, diff};
use serde_json::json;

async fn trace_of(name: &str, seed: u64) -> Trace {
    let backend = SimBackend::with_seed(seed).expect("sim");
    let scenario = scenarios::by_name(name).expect("scenario");
    let outcome = harness::run(&backend, &scenario, None).await.expect("runs");
    assert_eq!(outcome, Outcome::Passed);
    Trace::read_from(&harness::trace_path("sim", name)).expect("trace")
}

#[tokio::test]
async fn a_scenario_repeats_its_trace() {
    let first = trace_of("nodeport_allocation", 11).await;
    let second = trace_of("nodeport_allocation", 12).await;
    assert!(!first.objects.is_empty() && !first.steps.is_empty());
    assert_eq!(diff::compare(&first, &second), None);
}

fn write(dir: &std::path::Path, t: &Trace) {
    t.write_to(dir).expect("write");
}

fn trace(backend: &str, scenario: &str, phases: &[&str]) -> Trace {
    Trace {
        scenario: scenario.into(),
        backend: backend.into(),
        namespace: format!("e2e-{scenario}-{backend}"),
        outcome: "passed".into(),
        steps: vec![json!({"step": "create Pod p"})],
        objects: [(
            "Pod/p".to_string(),
            phases.iter().map(|p| json!({"phase": p})).collect(),
        )]
        .into(),
    }
}

#[test]
fn trace_diff_reports_same_different_and_missing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (kind, sim) = (tmp.path().join("kind"), tmp.path().join("sim"));
    write(&kind, &trace("kind", "same", &["Pending", "Running"]));
    write(&sim, &trace("sim", "same", &["Pending", "Running"]));
    write(&kind, &trace("kind", "differs", &["Pending", "Running"]));
    write(&sim, &trace("sim", "differs", &["Pending", "Failed"]));
    write(&kind, &trace("kind", "only_kind", &["Pending"]));

    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_trace-diff"))
            .arg("--left")
            .arg(&kind)
            .arg("--right")
            .arg(&sim)
            .args(args)
            .output()
            .expect("trace-diff runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };

    let (code, out) = run(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("same: same"), "{out}");
    assert!(out.contains("differs: differs"), "{out}");
    assert!(
        out.contains("kind | Pod/p [1] {\"phase\":\"Running\"}"),
        "{out}"
    );
    assert!(
        out.contains(" sim | Pod/p [1] {\"phase\":\"Failed\"}"),
        "{out}"
    );
    assert!(out.contains("only_kind: no trace in"), "{out}");
    assert!(out.contains("1 same, 1 different, 1 missing"), "{out}");

    let (code, out) = run(&["same"]);
    assert_eq!(code, Some(0), "{out}");

    let missing = Command::new(env!("CARGO_BIN_EXE_trace-diff"))
        .arg("--left")
        .arg(tmp.path().join("nowhere"))
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nowhere"));
}
