//! Volume lifetimes and container filesystems at the runtime level (no kubelet): emptyDir per
//! pod UID, PV data until reclaimed, the writable layer reset on restart, configMap subPath
//! content, env visible to printenv, image pulls.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvFromSource,
    EnvVar, EnvVarSource, KeyToPath, ObjectFieldSelector, PersistentVolumeClaimVolumeSource,
    PodSpec, SecretEnvSource, SecretKeySelector, Volume, VolumeMount,
};
use md5::{Digest, Md5};
use odo_sim::runtime::sandbox::Sandbox;
use odo_sim::runtime::{Catalogue, Host, PodVolumes, PullError, VolumeData, resolve_env};
use proptest::prelude::*;

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..Default::default()
    }
}

fn busybox(mounts: Vec<VolumeMount>) -> Container {
    Container {
        name: "c".into(),
        image: Some("busybox".into()),
        volume_mounts: Some(mounts),
        ..Default::default()
    }
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

fn pvc(name: &str, claim: &str) -> Volume {
    Volume {
        name: name.into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.into(),
            read_only: None,
        }),
        ..Default::default()
    }
}

fn spec(volumes: Vec<Volume>) -> PodSpec {
    PodSpec {
        volumes: Some(volumes),
        ..Default::default()
    }
}

#[tokio::test]
async fn empty_dir_survives_restart_and_is_fresh_for_a_new_pod_uid() {
    let mut sb = Sandbox::new().unwrap();
    let spec = spec(vec![empty_dir("cache")]);
    let c = busybox(vec![mount("cache", "/cache")]);
    let vols = sb.volumes(&spec, &VolumeData::default()).unwrap();
    let inst = sb.container(&c, &[], &vols).unwrap();
    let w = sb
        .exec(
            &inst,
            &["sh", "-c", "echo data > /cache/f && echo layer > /tmp/l"],
            b"",
        )
        .await;
    assert_eq!(w.code, 0, "{w:?}");

    inst.restart(sb.host.now());
    assert_eq!(inst.restart_count(), 1);
    let r = sb.exec(&inst, &["cat", "/cache/f"], b"").await;
    assert_eq!((r.stdout.as_str(), r.code), ("data\n", 0));
    // The writable layer is new: the file written outside volumes is gone.
    let r = sb.exec(&inst, &["cat", "/tmp/l"], b"").await;
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, "cat: /tmp/l: No such file or directory\n");

    // The same UID syncing again keeps the data; a replacement pod gets an empty dir.
    let again = sb.volumes(&spec, &VolumeData::default()).unwrap();
    let inst2 = sb.container(&c, &[], &again).unwrap();
    assert_eq!(
        sb.exec(&inst2, &["cat", "/cache/f"], b"").await.stdout,
        "data\n"
    );
    sb.rt.remove_pod(&sb.pod.uid);
    sb.pod.uid = "uid-2".into();
    let fresh = sb.volumes(&spec, &VolumeData::default()).unwrap();
    let inst3 = sb.container(&c, &[], &fresh).unwrap();
    let r = sb
        .exec(&inst3, &["sh", "-c", "ls -A /cache | wc -l"], b"")
        .await;
    assert_eq!(r.stdout, "0\n");
}

#[tokio::test]
async fn pv_data_is_kept_across_pods_until_reclaimed() {
    let mut sb = Sandbox::new().unwrap();
    let spec = spec(vec![pvc("data", "app-pvc")]);
    let c = busybox(vec![mount("data", "/data")]);
    let data = VolumeData {
        claims: BTreeMap::from([("app-pvc".to_string(), "pv-0001".to_string())]),
        ..Default::default()
    };
    let vols = sb.volumes(&spec, &data).unwrap();
    let inst = sb.container(&c, &[], &vols).unwrap();
    sb.exec(
        &inst,
        &["sh", "-c", "mkdir -p /data/db && echo row > /data/db/t"],
        b"",
    )
    .await;

    sb.rt.remove_pod(&sb.pod.uid);
    sb.pod.uid = "uid-2".into();
    let vols = sb.volumes(&spec, &data).unwrap();
    let inst = sb.container(&c, &[], &vols).unwrap();
    assert_eq!(
        sb.exec(&inst, &["cat", "/data/db/t"], b"").await.stdout,
        "row\n"
    );

    // Retain: nothing happens. Delete: the data goes, and a new binding starts empty.
    assert!(sb.rt.reclaim_pv("pv-0001"));
    assert!(!sb.rt.reclaim_pv("pv-0001"));
    sb.rt.remove_pod(&sb.pod.uid);
    sb.pod.uid = "uid-3".into();
    let vols = sb.volumes(&spec, &data).unwrap();
    let inst = sb.container(&c, &[], &vols).unwrap();
    let r = sb.exec(&inst, &["ls", "-A", "/data"], b"").await;
    assert_eq!((r.stdout.as_str(), r.code), ("", 0));

    // An unbound claim is a mount error that says which claim.
    let err = sb.volumes(&spec, &VolumeData::default()).unwrap_err();
    assert!(
        err.to_string().contains("\"app-pvc\" is not bound"),
        "{err}"
    );
}

#[tokio::test]
async fn config_map_with_sub_path_is_byte_for_byte_and_read_only() {
    let sb = Sandbox::new().unwrap();
    let content: Vec<u8> = b"{\"port\": 8080}\n\x00\xff\xfe no trailing newline".to_vec();
    let spec = spec(vec![Volume {
        name: "cfg".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: "app-config".into(),
            items: Some(vec![KeyToPath {
                key: "app.json".into(),
                path: "conf/app.json".into(),
                mode: Some(0o600),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    let data = VolumeData {
        config_maps: BTreeMap::from([(
            "app-config".to_string(),
            BTreeMap::from([
                ("app.json".to_string(), content.clone()),
                ("other".to_string(), b"x".to_vec()),
            ]),
        )]),
        ..Default::default()
    };
    let vols = sb.volumes(&spec, &data).unwrap();
    let c = busybox(vec![
        VolumeMount {
            sub_path: Some("conf/app.json".into()),
            ..mount("cfg", "/etc/app/config.json")
        },
        mount("cfg", "/cfg"),
    ]);
    let inst = sb.container(&c, &[], &vols).unwrap();
    assert_eq!(
        inst.fs().read("/etc/app/config.json").unwrap().to_vec(),
        content
    );
    let r = sb
        .exec(&inst, &["md5sum", "/etc/app/config.json"], b"")
        .await;
    let want = format!(
        "{}  /etc/app/config.json\n",
        hex::encode(Md5::digest(&content))
    );
    assert_eq!(r.stdout, want);
    assert_eq!(inst.fs().stat("/cfg/conf/app.json").unwrap().mode, 0o600);
    // Only the listed item is projected.
    let r = sb
        .exec(&inst, &["sh", "-c", "ls /cfg /cfg/conf"], b"")
        .await;
    assert_eq!(r.stdout, "/cfg:\nconf\n\n/cfg/conf:\napp.json\n");
    let r = sb
        .exec(&inst, &["sh", "-c", "echo x > /etc/app/config.json"], b"")
        .await;
    assert_eq!(
        r.code, 2,
        "a failed redirection is status 2 in ash and dash"
    );
    assert!(r.stderr.contains("Read-only file system"), "{r:?}");
}

#[tokio::test]
async fn env_from_spec_config_maps_and_secrets_is_visible_to_printenv() {
    let sb = Sandbox::new().unwrap();
    let c = Container {
        name: "app".into(),
        image: Some("registry.access.redhat.com/ubi8/nodejs-14:latest".into()),
        command: Some(vec!["sh".into(), "-c".into()]),
        args: Some(vec!["echo $(GREETING) '$$(GREETING)'".into()]),
        env_from: Some(vec![
            EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: "settings".into(),
                    optional: None,
                }),
                prefix: Some("CFG_".into()),
                ..Default::default()
            },
            EnvFromSource {
                secret_ref: Some(SecretEnvSource {
                    name: "nodejs-app-8080".into(),
                    optional: None,
                }),
                ..Default::default()
            },
        ]),
        env: Some(vec![
            EnvVar {
                name: "GREETING".into(),
                value: Some("hello".into()),
                value_from: None,
            },
            EnvVar {
                name: "COMBINED".into(),
                value: Some("$(GREETING)-world".into()),
                value_from: None,
            },
            EnvVar {
                name: "DB_PASSWORD".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: "db".into(),
                        key: "password".into(),
                        optional: None,
                    }),
                    ..Default::default()
                }),
            },
            EnvVar {
                name: "POD_NAME".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "metadata.name".into(),
                        api_version: None,
                    }),
                    ..Default::default()
                }),
            },
        ]),
        ..Default::default()
    };
    let data = VolumeData {
        config_maps: BTreeMap::from([(
            "settings".to_string(),
            BTreeMap::from([("MODE".to_string(), b"dev".to_vec())]),
        )]),
        secrets: BTreeMap::from([
            (
                "db".to_string(),
                BTreeMap::from([("password".to_string(), b"s3cr3t".to_vec())]),
            ),
            (
                "nodejs-app-8080".to_string(),
                BTreeMap::from([("COMPONENT_NODEJS_HOST".to_string(), b"nodejs-app".to_vec())]),
            ),
        ]),
        fields: BTreeMap::from([("metadata.name".to_string(), "sandbox".to_string())]),
        ..Default::default()
    };
    let env = resolve_env(&c, &data).unwrap();
    let inst = sb.container(&c, &env, &PodVolumes::default()).unwrap();
    let r = sb
        .exec(
            &inst,
            &[
                "printenv",
                "GREETING",
                "COMBINED",
                "DB_PASSWORD",
                "CFG_MODE",
                "COMPONENT_NODEJS_HOST",
                "POD_NAME",
                "NODEJS_VERSION",
                "HOSTNAME",
            ],
            b"",
        )
        .await;
    assert_eq!(
        r.stdout,
        "hello\nhello-world\ns3cr3t\ndev\nnodejs-app\nsandbox\n14\nsandbox\n"
    );
    // command/args with $(VAR) references, started as PID 1.
    assert_eq!(inst.argv(), ["sh", "-c", "echo hello '$(GREETING)'"]);
    let (io, log) = odo_sim::runtime::sandbox::log_sink();
    let code = inst.start(sb.host(), io).await;
    assert_eq!((code, log.text()), (0, "hello $(GREETING)\n".to_string()));
    // A missing Secret key is a config error naming the key.
    let err = resolve_env(
        &c,
        &VolumeData {
            secrets: BTreeMap::from([
                ("db".to_string(), BTreeMap::new()),
                ("nodejs-app-8080".to_string(), BTreeMap::new()),
            ]),
            ..data.clone()
        },
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "couldn't find key password in Secret db");
}

#[tokio::test]
async fn unknown_images_run_on_busybox_unless_strict() {
    let sb = Sandbox::new().unwrap();
    let c = Container {
        name: "x".into(),
        image: Some("example.com/team/anything:v2".into()),
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            "echo ran on $(cat /etc/os-release | head -n 1)".into(),
        ]),
        ..Default::default()
    };
    let inst = sb.container(&c, &[], &PodVolumes::default()).unwrap();
    let (io, log) = odo_sim::runtime::sandbox::log_sink();
    assert_eq!(inst.start(sb.host(), io).await, 0);
    assert_eq!(log.text(), "ran on NAME=\"BusyBox\"\n");

    let mut strict = Catalogue::builtin().unwrap();
    strict.strict = true;
    let err = strict.pull("example.com/team/anything:v2").unwrap_err();
    assert!(matches!(err, PullError::NotFound { .. }));
    assert!(
        err.to_string()
            .contains("not found in the simulator's image catalogue")
    );
    assert!(strict.pull("busybox").is_ok());
    assert!(
        strict
            .pull("registry.access.redhat.com/ubi8/python-38:latest")
            .is_ok()
    );
}

#[tokio::test]
async fn missing_command_fails_to_start_like_containerd() {
    let sb = Sandbox::new().unwrap();
    let c = Container {
        name: "x".into(),
        image: Some("busybox".into()),
        command: Some(vec!["/no/such/binary".into()]),
        ..Default::default()
    };
    let inst = sb.container(&c, &[], &PodVolumes::default()).unwrap();
    assert!(inst.check_command().is_err());
    let (io, log) = odo_sim::runtime::sandbox::log_sink();
    assert_eq!(inst.start(sb.host(), io).await, 128);
    assert!(
        log.text().contains("executable file not found in $PATH"),
        "{}",
        log.text()
    );
}

#[derive(Debug, Clone)]
enum Op {
    /// Prepare the volumes of pod `uid` (the kubelet's sync).
    Prepare(u8),
    /// Pod `uid` writes file `name` into its emptyDir.
    Write(u8, u8),
    /// Pod `uid` is deleted.
    Remove(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4).prop_map(Op::Prepare),
        (0u8..4, 0u8..5).prop_map(|(u, f)| Op::Write(u, f)),
        (0u8..4).prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every emptyDir starts empty; while its pod exists it holds exactly what was written.
    #[test]
    fn every_empty_dir_starts_empty(ops in proptest::collection::vec(op(), 1..40)) {
        let mut sb = Sandbox::new().unwrap();
        let spec = spec(vec![empty_dir("scratch")]);
        let c = busybox(vec![mount("scratch", "/scratch")]);
        // Model: live pods (by generation-qualified uid) and the files each wrote.
        let mut generation = [0u32; 4];
        let mut model: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Prepare(u) | Op::Write(u, _) => {
                    let uid = format!("pod-{u}-gen-{}", generation[u as usize]);
                    sb.pod.uid = uid.clone();
                    let vols = sb.volumes(&spec, &VolumeData::default()).unwrap();
                    let inst = sb.container(&c, &[], &vols).unwrap();
                    let fresh = !model.contains_key(&uid);
                    let files: Vec<String> = inst.fs().read_dir("/scratch").unwrap().into_iter().map(|(n, _)| n).collect();
                    if fresh {
                        prop_assert!(files.is_empty(), "new emptyDir of {uid} holds {files:?}");
                    }
                    let entry = model.entry(uid).or_default();
                    prop_assert_eq!(&files, &entry.iter().cloned().collect::<Vec<_>>());
                    if let Op::Write(_, f) = op {
                        let name = format!("f{f}");
                        inst.fs().write(&format!("/scratch/{name}"), b"x", false, 0o644, sb.host.now()).unwrap();
                        entry.insert(name);
                    }
                }
                Op::Remove(u) => {
                    let uid = format!("pod-{u}-gen-{}", generation[u as usize]);
                    sb.rt.remove_pod(&uid);
                    model.remove(&uid);
                    // A replacement pod has a new UID.
                    generation[u as usize] += 1;
                }
            }
        }
    }

    /// No PV data is lost while its claim exists: pods come and go, PVs that are still claimed
    /// keep every file; only reclaiming an unclaimed PV drops its data.
    #[test]
    fn no_pv_data_lost_while_claimed(ops in proptest::collection::vec((0u8..3, 0u8..4, 0u8..6), 1..40)) {
        let mut sb = Sandbox::new().unwrap();
        let spec = spec(vec![pvc("data", "claim")]);
        let c = busybox(vec![mount("data", "/data")]);
        let mut claimed = [true; 3];
        let mut model: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
        let mut pod = 0u32;
        for (pv_i, action, n) in ops {
            let pv = format!("pv-{pv_i}");
            match action {
                // a new pod using the claim writes a file
                0 | 1 => {
                    if !claimed[pv_i as usize] { continue; }
                    pod += 1;
                    sb.pod.uid = format!("pod-{pod}");
                    let data = VolumeData { claims: BTreeMap::from([("claim".to_string(), pv.clone())]), ..Default::default() };
                    let vols = sb.volumes(&spec, &data).unwrap();
                    let inst = sb.container(&c, &[], &vols).unwrap();
                    let content = format!("{pod}:{n}").into_bytes();
                    inst.fs().write(&format!("/data/f{n}"), &content, false, 0o644, sb.host.now()).unwrap();
                    model.entry(pv.clone()).or_default().insert(format!("f{n}"), content);
                    sb.rt.remove_pod(&sb.pod.uid);
                }
                // the claim is deleted and the PV reclaimed with policy Delete
                2 => {
                    claimed[pv_i as usize] = false;
                    sb.rt.reclaim_pv(&pv);
                    model.remove(&pv);
                }
                // a claim binds the PV again (a new claim starts from whatever the PV holds)
                _ => claimed[pv_i as usize] = true,
            }
            for (pv, files) in &model {
                let tree = sb.rt.volumes().pv(pv);
                prop_assert!(tree.is_some(), "{pv} lost its data");
                let got: BTreeMap<String, Vec<u8>> = tree.unwrap().snapshot().files().into_iter().map(|(k, v)| (k, v.to_vec())).collect();
                prop_assert_eq!(&got, files);
            }
        }
    }
}
