//! kube-rs against the simulator, in-process and over HTTP: every verb, and every error the
//! real API server gives for it.

mod common;

use common::{MODES, api_err, harness};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use serde_json::json;

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "web", "tier": "front"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("pod")
}

fn deployment(name: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
        }
    }))
    .expect("deployment")
}

#[tokio::test]
async fn create_get_list_update_delete() {
    for mode in MODES {
        let h = harness(mode).await;
        let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
        let created = pods
            .create(&PostParams::default(), &pod("p1"))
            .await
            .expect("create");
        let meta = &created.metadata;
        assert_eq!(meta.name.as_deref(), Some("p1"), "{mode:?}");
        assert_eq!(meta.uid.as_ref().map(String::len), Some(36));
        assert!(meta.creation_timestamp.is_some());
        assert_eq!(meta.generation, Some(1));
        let spec = created.spec.as_ref().expect("spec");
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"), "defaulted");
        assert_eq!(
            created.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Pending")
        );

        let got = pods.get("p1").await.expect("get");
        assert_eq!(got.metadata.resource_version, meta.resource_version);

        let list = pods.list(&ListParams::default()).await.expect("list");
        assert_eq!(list.items.len(), 1);
        let list_rv: u64 = list
            .metadata
            .resource_version
            .as_deref()
            .unwrap_or("0")
            .parse()
            .expect("rv");
        assert!(
            list_rv
                >= meta
                    .resource_version
                    .as_deref()
                    .unwrap_or("0")
                    .parse::<u64>()
                    .expect("rv")
        );

        let mut changed = got.clone();
        changed
            .metadata
            .labels
            .get_or_insert_default()
            .insert("v".into(), "2".into());
        let updated = pods
            .replace("p1", &PostParams::default(), &changed)
            .await
            .expect("replace");
        assert_ne!(
            updated.metadata.resource_version,
            got.metadata.resource_version
        );
        assert_eq!(
            updated.metadata.generation,
            Some(1),
            "labels do not bump generation"
        );

        // A stale resourceVersion is a 409 Conflict with the real wording.
        let err = api_err(pods.replace("p1", &PostParams::default(), &changed).await);
        assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
        assert_eq!(
            err.message,
            "Operation cannot be fulfilled on pods \"p1\": the object has been modified; please apply your changes to the latest version and try again"
        );

        let deleted = pods
            .delete("p1", &DeleteParams::default())
            .await
            .expect("delete");
        assert!(deleted.is_left());
        let err = api_err(pods.get("p1").await);
        assert_eq!(
            (err.code, err.reason.as_str(), err.message.as_str()),
            (404, "NotFound", "pods \"p1\" not found")
        );
        let details = err.details.expect("details");
        assert_eq!(
            (details.name.as_str(), details.kind.as_str()),
            ("p1", "pods")
        );
    }
}

#[tokio::test]
async fn generation_tracks_spec_changes_only() {
    for mode in MODES {
        let h = harness(mode).await;
        let deps: Api<Deployment> = Api::namespaced(h.client.clone(), "default");
        deps.create(&PostParams::default(), &deployment("d"))
            .await
            .expect("create");
        let pp = PatchParams::default();
        let d = deps
            .patch(
                "d",
                &pp,
                &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
            )
            .await
            .expect("label");
        assert_eq!(d.metadata.generation, Some(1), "{mode:?}");
        let d = deps
            .patch("d", &pp, &Patch::Merge(json!({"spec": {"replicas": 3}})))
            .await
            .expect("scale");
        assert_eq!(d.metadata.generation, Some(2));
        let d = deps
            .patch_status(
                "d",
                &pp,
                &Patch::Merge(json!({"status": {"replicas": 3, "observedGeneration": 2}})),
            )
            .await
            .expect("status");
        assert_eq!(
            d.metadata.generation,
            Some(2),
            "status does not bump generation"
        );
        assert_eq!(d.status.and_then(|s| s.replicas), Some(3));
        // The main resource ignores status; the status subresource ignores spec.
        let d = deps
            .patch("d", &pp, &Patch::Merge(json!({"status": {"replicas": 9}})))
            .await
            .expect("main");
        assert_eq!(d.status.and_then(|s| s.replicas), Some(3));
        let d = deps
            .patch_status("d", &pp, &Patch::Merge(json!({"spec": {"replicas": 7}})))
            .await
            .expect("status");
        assert_eq!(d.spec.and_then(|s| s.replicas), Some(3));
    }
}

#[tokio::test]
async fn generate_name_and_already_exists() {
    for mode in MODES {
        let h = harness(mode).await;
        let cms: Api<ConfigMap> = Api::namespaced(h.client.clone(), "default");
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"generateName": "cfg-"}})).expect("cm");
        let a = cms
            .create(&PostParams::default(), &cm)
            .await
            .expect("create");
        let b = cms
            .create(&PostParams::default(), &cm)
            .await
            .expect("create");
        let (an, bn) = (
            a.metadata.name.expect("name"),
            b.metadata.name.expect("name"),
        );
        assert!(an.starts_with("cfg-") && an.len() == 9, "{an}");
        assert_ne!(an, bn);
        let named: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": an}})).expect("cm");
        let err = api_err(cms.create(&PostParams::default(), &named).await);
        assert_eq!(
            (err.code, err.reason.as_str()),
            (409, "AlreadyExists"),
            "{mode:?}"
        );
        assert_eq!(err.message, format!("configmaps \"{an}\" already exists"));
    }
}

#[tokio::test]
async fn invalid_objects_are_422_with_causes() {
    for mode in MODES {
        let h = harness(mode).await;
        let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
        let err = api_err(pods.create(&PostParams::default(), &pod("Bad_Name")).await);
        assert_eq!(
            (err.code, err.reason.as_str()),
            (422, "Invalid"),
            "{mode:?}"
        );
        assert!(err.message.starts_with("Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{}", err.message);
        let causes = err.details.expect("details").causes;
        assert_eq!(causes[0].field, "metadata.name");

        let no_image: Pod = serde_json::from_value(
            json!({"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c"}]}}),
        )
        .expect("pod");
        let err = api_err(pods.create(&PostParams::default(), &no_image).await);
        assert_eq!(err.code, 422);
        let causes = err.details.expect("details").causes;
        assert_eq!(
            (causes[0].field.as_str(), causes[0].reason.as_str()),
            ("spec.containers[0].image", "FieldValueRequired")
        );

        // One source per volume; the real path names the later ones (its typos included).
        let two_sources: Pod = serde_json::from_value(json!({"metadata": {"name": "v"}, "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [
                {"name": "ok", "secret": {"secretName": "s"}},
                {"name": "bad", "emptyDir": {}, "downwardAPI": {"items": []}, "configMap": {"name": "c"}},
            ],
        }}))
        .expect("pod");
        let err = api_err(pods.create(&PostParams::default(), &two_sources).await);
        assert_eq!(
            err.message,
            "Pod \"v\" is invalid: [spec.volumes[1].downwarAPI: Forbidden: may not specify more than 1 volume type, spec.volumes[1].configMap: Forbidden: may not specify more than 1 volume type]",
            "{mode:?}"
        );
        let causes = err.details.expect("details").causes;
        assert_eq!(
            (causes[0].field.as_str(), causes[0].reason.as_str()),
            ("spec.volumes[1].downwarAPI", "FieldValueForbidden")
        );

        // Immutable: pod spec beyond the image.
        pods.create(&PostParams::default(), &pod("imm"))
            .await
            .expect("create");
        let err = api_err(
            pods.patch(
                "imm",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"restartPolicy": "Never"}})),
            )
            .await,
        );
        assert_eq!(err.code, 422);
        assert!(
            err.message.contains("pod updates may not change fields"),
            "{}",
            err.message
        );
        // Image changes are allowed.
        pods.patch(
            "imm",
            &PatchParams::default(),
            &Patch::Strategic(
                json!({"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}),
            ),
        )
        .await
        .expect("image change");

        let svcs: Api<Service> = Api::namespaced(h.client.clone(), "default");
        let svc: Service = serde_json::from_value(
            json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}),
        )
        .expect("svc");
        let s = svcs
            .create(&PostParams::default(), &svc)
            .await
            .expect("svc");
        let ip = s.spec.and_then(|s| s.cluster_ip).expect("cluster ip");
        assert!(ip.starts_with("10."), "{ip}");
        let err = api_err(
            svcs.patch(
                "s",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"clusterIP": "10.96.0.99"}})),
            )
            .await,
        );
        assert_eq!(err.code, 422);
        assert_eq!(
            err.details.expect("d").causes[0].field,
            "spec.clusterIPs[0]"
        );
    }
}

#[tokio::test]
async fn nodeports_are_allocated_in_range_and_conflicts_are_422() {
    for mode in MODES {
        let h = harness(mode).await;
        let svcs: Api<Service> = Api::namespaced(h.client.clone(), "default");
        let np = |name: &str, port: Option<i32>| -> Service {
            let mut p = json!({"port": 80});
            if let Some(n) = port {
                p["nodePort"] = json!(n);
            }
            serde_json::from_value(
                json!({"metadata": {"name": name}, "spec": {"type": "NodePort", "ports": [p]}}),
            )
            .expect("svc")
        };
        let a = svcs
            .create(&PostParams::default(), &np("a", None))
            .await
            .expect("a");
        let port = a
            .spec
            .and_then(|s| s.ports)
            .and_then(|p| p[0].node_port)
            .expect("node port");
        assert!((30000..=32767).contains(&port), "{port}");
        let err = api_err(
            svcs.create(&PostParams::default(), &np("b", Some(port)))
                .await,
        );
        assert_eq!(err.code, 422, "{mode:?}");
        assert!(
            err.message.contains("provided port is already allocated"),
            "{}",
            err.message
        );
        let err = api_err(
            svcs.create(&PostParams::default(), &np("c", Some(80)))
                .await,
        );
        assert!(
            err.message
                .contains("provided port is not in the valid range"),
            "{}",
            err.message
        );
        // A replace that leaves the nodePort out keeps the allocated one (`kubectl replace -f`
        // of the manifest that created it); one that names another port moves to it.
        let mut fresh = svcs.get("a").await.expect("a");
        if let Some(ports) = fresh.spec.as_mut().and_then(|s| s.ports.as_mut()) {
            ports[0].node_port = None;
        }
        let kept = svcs
            .replace("a", &PostParams::default(), &fresh)
            .await
            .expect("replace without nodePort");
        assert_eq!(
            kept.spec.and_then(|s| s.ports).and_then(|p| p[0].node_port),
            Some(port),
            "{mode:?}"
        );
        let other = if port == 32767 { 30000 } else { port + 1 };
        let mut moved = svcs.get("a").await.expect("a");
        if let Some(ports) = moved.spec.as_mut().and_then(|s| s.ports.as_mut()) {
            ports[0].node_port = Some(other);
        }
        let moved = svcs
            .replace("a", &PostParams::default(), &moved)
            .await
            .expect("replace with another nodePort");
        assert_eq!(
            moved
                .spec
                .and_then(|s| s.ports)
                .and_then(|p| p[0].node_port),
            Some(other)
        );
        // The old port is free again.
        svcs.create(&PostParams::default(), &np("d", Some(port)))
            .await
            .expect("the released port");
    }
}

#[tokio::test]
async fn namespaces_missing_and_terminating() {
    for mode in MODES {
        let h = harness(mode).await;
        let missing: Api<ConfigMap> = Api::namespaced(h.client.clone(), "nope");
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "c"}})).expect("cm");
        let err = api_err(missing.create(&PostParams::default(), &cm).await);
        assert_eq!(
            (err.code, err.message.as_str()),
            (404, "namespaces \"nope\" not found"),
            "{mode:?}"
        );

        let nss: Api<Namespace> = Api::all(h.client.clone());
        nss.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "t"}})).expect("ns"),
        )
        .await
        .expect("ns");
        let cms: Api<ConfigMap> = Api::namespaced(h.client.clone(), "t");
        let held: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}),
        )
        .expect("cm");
        cms.create(&PostParams::default(), &held)
            .await
            .expect("held");
        cms.create(&PostParams::default(), &cm)
            .await
            .expect("plain");
        nss.delete("t", &DeleteParams::default())
            .await
            .expect("delete ns");
        let ns = nss.get("t").await.expect("still there");
        assert_eq!(
            ns.status.and_then(|s| s.phase).as_deref(),
            Some("Terminating")
        );
        assert!(
            api_err(cms.get("c").await).code == 404,
            "content without finalizers is gone"
        );
        let err = api_err(
            cms.create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "new"}})).expect("cm"),
            )
            .await,
        );
        assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
        assert!(
            err.message.contains("because it is being terminated"),
            "{}",
            err.message
        );
        // Removing the last finalizer lets the namespace finish.
        cms.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("unhold");
        assert_eq!(api_err(nss.get("t").await).code, 404);
    }
}

#[tokio::test]
async fn selectors_and_paging() {
    for mode in MODES {
        let h = harness(mode).await;
        let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
        for (i, tier) in ["front", "back", "front", "db", "back"].iter().enumerate() {
            let p: Pod = serde_json::from_value(json!({
                "metadata": {"name": format!("p{i}"), "labels": {"tier": tier, "idx": i.to_string()}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}], "nodeName": if i % 2 == 0 { "n1" } else { "n2" }}
            }))
            .expect("pod");
            pods.create(&PostParams::default(), &p)
                .await
                .expect("create");
        }
        let names = |l: kube::core::ObjectList<Pod>| {
            l.items
                .into_iter()
                .filter_map(|p| p.metadata.name)
                .collect::<Vec<_>>()
        };
        let sel = |s: &str| ListParams::default().labels(s);
        assert_eq!(
            names(pods.list(&sel("tier in (front,db)")).await.expect("in")),
            ["p0", "p2", "p3"],
            "{mode:?}"
        );
        assert_eq!(
            names(
                pods.list(&sel("tier notin (front),idx!=4"))
                    .await
                    .expect("notin")
            ),
            ["p1", "p3"]
        );
        assert_eq!(
            names(pods.list(&sel("!nothing,tier=back")).await.expect("exists")),
            ["p1", "p4"]
        );
        assert_eq!(
            names(
                pods.list(&ListParams::default().fields("spec.nodeName=n2"))
                    .await
                    .expect("field")
            ),
            ["p1", "p3"]
        );
        assert_eq!(
            names(
                pods.list(&ListParams::default().fields("metadata.name!=p0,spec.nodeName==n1"))
                    .await
                    .expect("field")
            ),
            ["p2", "p4"]
        );
        let err = api_err(
            pods.list(&ListParams::default().fields("spec.bogus=1"))
                .await,
        );
        assert_eq!(
            (err.code, err.message.as_str()),
            (400, "field label not supported: spec.bogus")
        );
        let err = api_err(pods.list(&sel("tier in front")).await);
        assert_eq!(err.code, 400);

        let mut seen = Vec::new();
        let mut lp = ListParams::default().limit(2);
        loop {
            let page = pods.list(&lp).await.expect("page");
            let cont = page.metadata.continue_.clone();
            assert!(page.items.len() <= 2);
            seen.extend(names(page));
            match cont {
                Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
                _ => break,
            }
        }
        assert_eq!(seen, ["p0", "p1", "p2", "p3", "p4"]);
    }
}

#[tokio::test]
async fn finalizers_and_propagation_policies() {
    for mode in MODES {
        let h = harness(mode).await;
        let cms: Api<ConfigMap> = Api::namespaced(h.client.clone(), "default");
        let owner = cms
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "owner"}})).expect("cm"),
            )
            .await
            .expect("owner");
        let uid = owner.metadata.uid.clone().expect("uid");
        let dependent = |name: &str| -> ConfigMap {
            serde_json::from_value(json!({"metadata": {"name": name, "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid, "blockOwnerDeletion": true
            }]}}))
            .expect("cm")
        };
        // Background: owner goes, then its dependents.
        cms.create(&PostParams::default(), &dependent("d1"))
            .await
            .expect("d1");
        cms.delete("owner", &DeleteParams::background())
            .await
            .expect("delete");
        assert_eq!(api_err(cms.get("d1").await).code, 404, "{mode:?}");

        // Orphan: dependents stay, without the owner reference.
        let owner = cms
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "owner"}})).expect("cm"),
            )
            .await
            .expect("owner");
        let uid2 = owner.metadata.uid.clone().expect("uid");
        let mut d2 = dependent("d2");
        d2.metadata.owner_references.as_mut().expect("refs")[0].uid = uid2.clone();
        cms.create(&PostParams::default(), &d2).await.expect("d2");
        cms.delete("owner", &DeleteParams::orphan())
            .await
            .expect("orphan delete");
        let kept = cms.get("d2").await.expect("orphaned dependent stays");
        assert!(kept.metadata.owner_references.is_none());

        // Foreground: a dependent held by a finalizer keeps the owner with foregroundDeletion.
        let owner = cms
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "owner"}})).expect("cm"),
            )
            .await
            .expect("owner");
        let uid3 = owner.metadata.uid.clone().expect("uid");
        let mut d3 = dependent("d3");
        d3.metadata.owner_references.as_mut().expect("refs")[0].uid = uid3;
        d3.metadata.finalizers = Some(vec!["example.com/hold".into()]);
        cms.create(&PostParams::default(), &d3).await.expect("d3");
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            ..DeleteParams::default()
        };
        let res = cms.delete("owner", &dp).await.expect("foreground");
        let marked = res.left().expect("object returned");
        assert!(marked.metadata.deletion_timestamp.is_some());
        assert_eq!(
            marked.metadata.finalizers.as_deref(),
            Some(&["foregroundDeletion".to_string()][..])
        );
        let d3 = cms.get("d3").await.expect("held dependent");
        assert!(d3.metadata.deletion_timestamp.is_some());
        cms.patch(
            "d3",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("release");
        assert_eq!(api_err(cms.get("d3").await).code, 404);
        assert_eq!(
            api_err(cms.get("owner").await).code,
            404,
            "owner finishes after its dependents"
        );
    }
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    for mode in MODES {
        let h = harness(mode).await;
        let cms: Api<ConfigMap> = Api::namespaced(h.client.clone(), "default");
        let pp = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "dry"}, "data": {"a": "b"}}))
                .expect("cm");
        let out = cms.create(&pp, &cm).await.expect("dry create");
        assert_eq!(
            out.data.and_then(|d| d.get("a").cloned()).as_deref(),
            Some("b")
        );
        assert_eq!(api_err(cms.get("dry").await).code, 404, "{mode:?}");
        cms.create(&PostParams::default(), &cm)
            .await
            .expect("create");
        let dp = DeleteParams {
            dry_run: true,
            ..DeleteParams::default()
        };
        cms.delete("dry", &dp).await.expect("dry delete");
        cms.get("dry").await.expect("still there");
    }
}

#[tokio::test]
async fn patch_types() {
    for mode in MODES {
        let h = harness(mode).await;
        let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
        pods.create(&PostParams::default(), &pod("p"))
            .await
            .expect("create");
        let pp = PatchParams::default();
        let patch: json_patch::Patch = serde_json::from_value(json!([
            {"op": "add", "path": "/metadata/labels/added", "value": "yes"},
            {"op": "remove", "path": "/metadata/labels/tier"}
        ]))
        .expect("json patch");
        let p = pods
            .patch("p", &pp, &Patch::Json::<()>(patch))
            .await
            .expect("json patch");
        let labels = p.metadata.labels.expect("labels");
        assert_eq!(
            labels.get("added").map(String::as_str),
            Some("yes"),
            "{mode:?}"
        );
        assert!(!labels.contains_key("tier"));
        let failing: json_patch::Patch = serde_json::from_value(
            json!([{"op": "test", "path": "/metadata/labels/app", "value": "other"}]),
        )
        .expect("test op");
        assert_eq!(
            api_err(pods.patch("p", &pp, &Patch::Json::<()>(failing)).await).code,
            422
        );
        let p = pods
            .patch(
                "p",
                &pp,
                &Patch::Merge(json!({"metadata": {"labels": {"app": null}}})),
            )
            .await
            .expect("merge");
        assert!(!p.metadata.labels.expect("labels").contains_key("app"));

        // Server-side apply: a second manager's conflicting change is a 409 unless forced.
        let cms: Api<ConfigMap> = Api::namespaced(h.client.clone(), "default");
        let a = PatchParams::apply("alice");
        cms.patch("cfg", &a, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "1"}})))
            .await
            .expect("apply creates");
        let b = PatchParams::apply("bob");
        let err = api_err(cms.patch("cfg", &b, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "2"}}))).await);
        assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
        assert!(
            err.message.contains("conflict with \"alice\""),
            "{}",
            err.message
        );
        let forced = cms
            .patch("cfg", &b.clone().force(), &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "2"}})))
            .await
            .expect("forced");
        assert_eq!(
            forced.data.and_then(|d| d.get("k").cloned()).as_deref(),
            Some("2")
        );
        let managers: Vec<String> = forced
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.manager)
            .collect();
        assert!(managers.contains(&"bob".to_string()), "{managers:?}");

        // The real wording: an applier by name, an updater with its apiVersion, several
        // conflicts grouped by manager.
        cms.patch(
            "cfg",
            &PatchParams::apply("bob").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "2", "j": "1"}})),
        )
        .await
        .expect("bob adds j");
        let err = api_err(cms.patch("cfg", &a, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "3"}}))).await);
        assert_eq!(
            err.message, "Apply failed with 1 conflict: conflict with \"bob\": .data.k",
            "{mode:?}"
        );
        let causes = err.details.expect("details").causes;
        assert_eq!(
            (
                causes[0].reason.as_str(),
                causes[0].message.as_str(),
                causes[0].field.as_str()
            ),
            ("FieldManagerConflict", "conflict with \"bob\"", ".data.k")
        );
        let carol = PatchParams {
            field_manager: Some("carol".into()),
            ..PatchParams::default()
        };
        cms.patch("cfg", &carol, &Patch::Merge(json!({"data": {"j": "2"}})))
            .await
            .expect("carol updates j");
        let err = api_err(cms.patch("cfg", &a, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "3", "j": "3"}}))).await);
        assert_eq!(
            err.message,
            "Apply failed with 2 conflicts: conflicts with \"bob\":\n- .data.k\nconflicts with \"carol\" using v1:\n- .data.j",
            "{mode:?}"
        );
    }
}

/// A raw PATCH with `body` as `application/json-patch+json`: (code, Status or object).
async fn raw_json_patch(client: &kube::Client, path: &str, body: &str) -> (u16, serde_json::Value) {
    let req = http::Request::builder()
        .method(http::Method::PATCH)
        .uri(path)
        .header(http::header::CONTENT_TYPE, "application/json-patch+json")
        .body(kube::client::Body::from(body.as_bytes().to_vec()))
        .expect("request");
    let resp = client.send(req).await.expect("transport");
    let code = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn json_patch_errors_are_400_or_422_as_on_a_real_server() {
    for mode in MODES {
        let h = harness(mode).await;
        let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
        let before = pods
            .create(&PostParams::default(), &pod("p"))
            .await
            .expect("create");
        let pp = PatchParams::default();
        // Patches that decode but do not apply: the apiserver's bare 422, nothing changed.
        for ops in [
            json!([{"op": "remove", "path": "/metadata/labels/nope"}]),
            json!([{"op": "replace", "path": "/spec/nope", "value": 1}]),
            json!([{"op": "add", "path": "/spec/containers/5", "value": {"name": "x"}}]),
            json!([{"op": "add", "path": "/metadata/labels/ok", "value": "1"},
                   {"op": "move", "from": "/metadata/missing", "path": "/metadata/x"}]),
            json!([{"op": "test", "path": "/metadata/labels/app", "value": "other"}]),
        ] {
            let patch: json_patch::Patch = serde_json::from_value(ops.clone()).expect("ops");
            let err = api_err(pods.patch("p", &pp, &Patch::Json::<()>(patch)).await);
            assert_eq!(
                (err.code, err.reason.as_str(), err.message.as_str()),
                (
                    422,
                    "Invalid",
                    "the server rejected our request due to an error in our request"
                ),
                "{mode:?} {ops}"
            );
            assert!(
                err.details.is_none_or(|d| d.causes.is_empty()),
                "{mode:?} {ops}"
            );
        }
        let path = "/api/v1/namespaces/default/pods/p";
        let (code, status) =
            raw_json_patch(&h.client, path, r#"[{"op":"frobnicate","path":"/spec"}]"#).await;
        assert_eq!(
            (code, &status["reason"]),
            (422, &json!("Invalid")),
            "{mode:?} {status}"
        );
        let after = pods.get("p").await.expect("get");
        assert_eq!(
            after.metadata.resource_version, before.metadata.resource_version,
            "{mode:?}: a failed patch changes nothing, not even its first op"
        );

        // Bodies that are not a JSON patch at all: 400 BadRequest.
        for (body, message) in [
            (
                r#"{"op":"add","path":"/metadata/labels/x","value":"1"}"#,
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
            ),
            (
                r#"["remove /metadata"]"#,
                "json: cannot unmarshal string into Go value of type jsonpatch.Operation",
            ),
        ] {
            let (code, status) = raw_json_patch(&h.client, path, body).await;
            assert_eq!(
                (code, &status["reason"], &status["message"]),
                (400, &json!("BadRequest"), &json!(message)),
                "{mode:?} {body}"
            );
        }
        let (code, status) = raw_json_patch(&h.client, path, "[{not json").await;
        assert_eq!(
            (code, &status["reason"]),
            (400, &json!("BadRequest")),
            "{mode:?} {status}"
        );
    }
}

#[tokio::test]
async fn delete_collection_and_consistent_lists() {
    for mode in MODES {
        let h = harness(mode).await;
        let cms: Api<ConfigMap> = Api::namespaced(h.client.clone(), "default");
        for i in 0..6 {
            let c: ConfigMap = serde_json::from_value(json!({"metadata": {"name": format!("c{i}"), "labels": {"even": (i % 2 == 0).to_string()}}})).expect("cm");
            cms.create(&PostParams::default(), &c)
                .await
                .expect("create");
        }
        // A paged list stays consistent with its first page while writes happen in between.
        let first = cms
            .list(&ListParams::default().limit(3))
            .await
            .expect("page 1");
        let token = first.metadata.continue_.clone().expect("continue");
        cms.delete("c4", &DeleteParams::default())
            .await
            .expect("delete");
        let c: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "c5a"}})).expect("cm");
        cms.create(&PostParams::default(), &c)
            .await
            .expect("create");
        let second = cms
            .list(&ListParams::default().limit(3).continue_token(&token))
            .await
            .expect("page 2");
        let names: Vec<String> = second
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        assert_eq!(
            names,
            ["c3", "c4", "c5"],
            "{mode:?}: continuation served at the first page's version"
        );
        assert_eq!(
            second.metadata.resource_version,
            first.metadata.resource_version
        );

        // resourceVersionMatch=Exact lists history; a compacted version is 410.
        let rv = first.metadata.resource_version.clone().expect("rv");
        let exact = ListParams {
            resource_version: Some(rv.clone()),
            version_match: Some(kube::api::VersionMatch::Exact),
            ..ListParams::default()
        };
        assert_eq!(cms.list(&exact).await.expect("exact").items.len(), 6);
        h.sim.store().compact();
        assert_eq!(api_err(cms.list(&exact).await).code, 410);

        let gone = cms
            .delete_collection(
                &DeleteParams::default(),
                &ListParams::default().labels("even=true"),
            )
            .await
            .expect("deletecollection");
        let deleted: Vec<String> = gone
            .left()
            .expect("list")
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        assert_eq!(deleted, ["c0", "c2"]);
        let left: Vec<String> = cms
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        assert_eq!(left, ["c1", "c3", "c5", "c5a"]);
    }
}

#[tokio::test]
async fn custom_resources_and_the_openshift_flavor() {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    for mode in MODES {
        let h = common::harness_with(
            mode,
            odo_sim::Sim::builder().flavor(odo_sim::Flavor::Openshift),
        )
        .await;
        let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(h.client.clone());
        let crd = serde_json::from_value(json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
        }))
        .expect("crd");
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("crd");
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Widget"),
            "widgets",
        );
        let widgets: Api<DynamicObject> = Api::namespaced_with(h.client.clone(), "default", &ar);
        let w: DynamicObject = serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}})).expect("w");
        widgets
            .create(&PostParams::default(), &w)
            .await
            .expect("custom resource");
        assert_eq!(
            widgets.get("w1").await.expect("get").data["spec"]["size"],
            3,
            "{mode:?}"
        );

        let dc_ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apps.openshift.io", "v1", "DeploymentConfig"),
            "deploymentconfigs",
        );
        let dcs: Api<DynamicObject> = Api::namespaced_with(h.client.clone(), "default", &dc_ar);
        let dc: DynamicObject = serde_json::from_value(json!({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig", "metadata": {"name": "app"},
            "spec": {"replicas": 1, "selector": {"app": "app"}, "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
        .expect("dc");
        dcs.create(&PostParams::default(), &dc)
            .await
            .expect("deploymentconfig");
        let discovery = kube::discovery::Discovery::new(h.client.clone())
            .run()
            .await
            .expect("discovery");
        assert!(discovery.groups().any(|g| g.name() == "route.openshift.io"));
        assert!(discovery.groups().any(|g| g.name() == "example.com"));
    }
}

/// The nodePort rules that depend on the type and protocol: none on a ClusterIP service
/// (Forbidden), dropped when a NodePort service becomes ClusterIP naming only ports it held,
/// one shared by the TCP and UDP ports of the same number, and the range in the message.
#[tokio::test]
async fn nodeports_follow_type_and_protocol() {
    let h = harness(common::Mode::InProcess).await;
    let svcs: Api<Service> = Api::namespaced(h.client.clone(), "default");
    let pp = PostParams::default();
    let svc = |name: &str, ty: &str, ports: serde_json::Value| -> Service {
        serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"type": ty, "ports": ports}}),
        )
        .expect("svc")
    };
    let node_ports = |s: &Service| -> Vec<Option<i32>> {
        s.spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default()
            .iter()
            .map(|p| p.node_port)
            .collect()
    };
    // A nodePort on a ClusterIP service.
    let err = api_err(
        svcs.create(
            &pp,
            &svc("cip", "ClusterIP", json!([{"port": 80, "nodePort": 30080}])),
        )
        .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    let cause = &err.details.expect("details").causes[0];
    assert_eq!(
        (cause.field.as_str(), cause.reason.as_str()),
        ("spec.ports[0].nodePort", "FieldValueForbidden")
    );
    assert!(
        cause
            .message
            .contains("may not be used when `type` is 'ClusterIP'"),
        "{}",
        cause.message
    );
    // TCP and UDP on port 53 share one allocated nodePort; asked for, they share it too.
    let dns = json!([{"name": "dns-tcp", "port": 53, "protocol": "TCP"}, {"name": "dns-udp", "port": 53, "protocol": "UDP"}]);
    let created = svcs
        .create(&pp, &svc("dns", "NodePort", dns))
        .await
        .expect("dns");
    let nps = node_ports(&created);
    assert!(nps[0].is_some() && nps[0] == nps[1], "{nps:?}");
    let asked = json!([{"name": "t", "port": 54, "protocol": "TCP", "nodePort": 30054}, {"name": "u", "port": 54, "protocol": "UDP", "nodePort": 30054}]);
    let both = svcs
        .create(&pp, &svc("both", "NodePort", asked))
        .await
        .expect("shared");
    assert_eq!(node_ports(&both), vec![Some(30054), Some(30054)]);
    // The same nodePort twice for one protocol is a duplicate.
    let twice = json!([{"name": "a", "port": 55, "nodePort": 30055}, {"name": "b", "port": 56, "nodePort": 30055}]);
    let err = api_err(svcs.create(&pp, &svc("twice", "NodePort", twice)).await);
    assert_eq!(err.code, 422);
    assert_eq!(
        err.details.expect("details").causes[0].field,
        "spec.ports[1].nodePort"
    );
    // NodePort -> ClusterIP keeping the held nodePorts (what `kubectl edit` of the type
    // sends): they are dropped and free again.
    let mut to_cip = svcs.get("both").await.expect("both");
    if let Some(s) = to_cip.spec.as_mut() {
        s.type_ = Some("ClusterIP".into());
    }
    let now = svcs
        .replace("both", &pp, &to_cip)
        .await
        .expect("to ClusterIP");
    assert_eq!(node_ports(&now), vec![None, None]);
    svcs.create(
        &pp,
        &svc(
            "reuse",
            "NodePort",
            json!([{"port": 80, "nodePort": 30054}]),
        ),
    )
    .await
    .expect("the dropped nodePort is free");
    // Naming a new nodePort on the way to ClusterIP is refused, not dropped.
    let mut bad = svcs.get("dns").await.expect("dns");
    if let Some(s) = bad.spec.as_mut() {
        s.type_ = Some("ClusterIP".into());
        if let Some(ports) = s.ports.as_mut() {
            ports[0].node_port = Some(30999);
        }
    }
    let err = api_err(svcs.replace("dns", &pp, &bad).await);
    assert_eq!(err.code, 422);
    assert!(
        err.message
            .contains("may not be used when `type` is 'ClusterIP'"),
        "{}",
        err.message
    );
    // Out of range: the value unquoted and the range.
    let err = api_err(
        svcs.create(
            &pp,
            &svc("low", "NodePort", json!([{"port": 80, "nodePort": 80}])),
        )
        .await,
    );
    assert!(
        err.message.contains("spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"),
        "{}",
        err.message
    );
}
