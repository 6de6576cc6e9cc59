//! Durability of `odo-sim serve --state DIR`: restarts restore every object with its
//! resourceVersion, a SIGKILL loses no acknowledged write, and damaged state is a clear error.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use odo_sim::Sim;
use serde_json::json;

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": name}})).expect("cm")
}

#[tokio::test]
async fn restart_restores_objects_and_resource_versions() {
    let dir = tempfile::tempdir().expect("dir");
    let (names, rvs) = {
        let sim = Sim::builder().state_dir(dir.path()).build().expect("sim");
        let cms: Api<ConfigMap> = Api::namespaced(sim.client(), "default");
        let mut rvs = Vec::new();
        for i in 0..20 {
            let c = cms
                .create(&PostParams::default(), &cm(&format!("c{i}")))
                .await
                .expect("create");
            rvs.push(c.metadata.resource_version.expect("rv"));
        }
        cms.delete("c3", &Default::default()).await.expect("delete");
        (
            (0..20)
                .filter(|i| *i != 3)
                .map(|i| format!("c{i}"))
                .collect::<Vec<_>>(),
            rvs,
        )
    };
    let sim = Sim::builder()
        .state_dir(dir.path())
        .build()
        .expect("reopen");
    let cms: Api<ConfigMap> = Api::namespaced(sim.client(), "default");
    let list = cms.list(&ListParams::default()).await.expect("list");
    let got: Vec<String> = list
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    let mut want = names.clone();
    want.sort();
    assert_eq!(got, want);
    let c5 = cms.get("c5").await.expect("c5");
    assert_eq!(
        c5.metadata.resource_version.as_deref(),
        Some(rvs[5].as_str())
    );
    // New writes continue after the restored resourceVersion.
    let fresh = cms
        .create(&PostParams::default(), &cm("after"))
        .await
        .expect("create");
    let last: u64 = rvs.last().expect("rv").parse().expect("num");
    assert!(
        fresh
            .metadata
            .resource_version
            .expect("rv")
            .parse::<u64>()
            .expect("num")
            > last + 1
    );
}

#[test]
fn corrupt_state_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("snapshot.json"),
        b"{\"resourceVersion\": 5, \"objects\": [",
    )
    .expect("write");
    let err = Sim::builder()
        .state_dir(dir.path())
        .build()
        .expect_err("corrupt snapshot");
    assert!(err.to_string().contains("snapshot.json"), "{err}");

    let dir = tempfile::tempdir().expect("dir");
    {
        let _sim = Sim::builder().state_dir(dir.path()).build().expect("sim");
    }
    let wal = dir.path().join("wal.log");
    let mut bytes = std::fs::read(&wal).expect("wal");
    assert!(bytes.len() > 100, "bootstrap writes are logged");
    bytes[20] ^= 0xff; // inside the first record, which is followed by others
    std::fs::write(&wal, &bytes).expect("write");
    let err = Sim::builder()
        .state_dir(dir.path())
        .build()
        .expect_err("corrupt log");
    assert!(
        err.to_string().contains("wal.log") && err.to_string().contains("checksum"),
        "{err}"
    );
}

#[test]
fn a_torn_last_record_is_dropped() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let _sim = Sim::builder().state_dir(dir.path()).build().expect("sim");
    }
    let wal = dir.path().join("wal.log");
    let len = std::fs::metadata(&wal).expect("wal").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .expect("open");
    f.set_len(len - 7).expect("truncate");
    let sim = Sim::builder()
        .state_dir(dir.path())
        .build()
        .expect("a torn tail is not corruption");
    drop(sim);
}

fn start(bin: &str, state: &Path, kc: &Path) -> Child {
    let mut child = Command::new(bin)
        .args(["serve", "--addr", "127.0.0.1:0", "--state"])
        .arg(state)
        .arg("--kubeconfig")
        .arg(kc)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn odo-sim");
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).expect("banner");
    assert!(line.contains("serving"), "{line}");
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_write() {
    let bin = env!("CARGO_BIN_EXE_odo-sim");
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let kc = dir.path().join("kubeconfig");
    let mut acknowledged: Vec<String> = Vec::new();
    let mut n = 0usize;
    for round in 0..5u64 {
        let mut child = start(bin, &state, &kc);
        let client = common::client_from_kubeconfig(&kc).await;
        let cms: Api<ConfigMap> = Api::namespaced(client, "default");
        // Everything acknowledged before must have survived the previous kill.
        let present: std::collections::BTreeSet<String> = cms
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        for name in &acknowledged {
            assert!(
                present.contains(name),
                "round {round}: acknowledged write {name} was lost"
            );
        }
        // Write concurrently with a kill at a varying moment.
        let writer = {
            let cms = cms.clone();
            let start = n;
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in start..start + 10_000 {
                    let name = format!("w{i}");
                    match cms.create(&PostParams::default(), &cm(&name)).await {
                        Ok(_) => acked.push(name),
                        Err(_) => break,
                    }
                }
                acked
            })
        };
        tokio::time::sleep(Duration::from_millis(60 + round * 37)).await;
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let acked = writer.await.expect("writer");
        assert!(
            !acked.is_empty(),
            "round {round}: the server acknowledged nothing before the kill"
        );
        n += acked.len() + 1;
        acknowledged.extend(acked);
    }
    let mut child = start(bin, &state, &kc);
    let client = common::client_from_kubeconfig(&kc).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let present: std::collections::BTreeSet<String> = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    for name in &acknowledged {
        assert!(present.contains(name), "acknowledged write {name} was lost");
    }
    child.kill().expect("kill");
    child.wait().expect("reap");
}
