//! Scenarios that the API alone decides: ConfigMap, Secret and Service lifecycles, NodePort
//! allocation, namespace termination and what a watch delivers. They run on any backend.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{check, manifest, named};
use crate::backend::BoxFut;
use crate::harness::{Ctx, Scenario, StepResult};

/// The scenarios of this module.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "configmap_lifecycle",
            about: "a ConfigMap is created, replaced, patched and deleted; a watch sees each state",
            needs: &[],
            images: &[],
            run: configmap_lifecycle,
        },
        Scenario {
            name: "secret_lifecycle",
            about: "stringData becomes base64 data; keys change on update; deletion is observed",
            needs: &[],
            images: &[],
            run: secret_lifecycle,
        },
        Scenario {
            name: "service_lifecycle",
            about: "a ClusterIP Service gets an address that survives updates; headless stays None",
            needs: &[],
            images: &[],
            run: service_lifecycle,
        },
        Scenario {
            name: "nodeport_allocation",
            about: "NodePorts are allocated in 30000-32767, a taken or out-of-range port is refused",
            needs: &[],
            images: &[],
            run: nodeport_allocation,
        },
        Scenario {
            name: "namespace_deletion",
            about: "a deleted namespace refuses new content and disappears with its objects",
            needs: &[],
            images: &[],
            run: namespace_deletion,
        },
        Scenario {
            name: "watch_selector_transitions",
            about: "a label-selected watch sees objects enter and leave its selection in order",
            needs: &[],
            images: &[],
            run: watch_selector_transitions,
        },
    ]
}

const SHORT: Duration = Duration::from_secs(30);

fn data_is(
    key: &'static str,
    value: &'static str,
) -> impl FnMut(&[ConfigMap]) -> Option<ConfigMap> {
    move |cms| {
        cms.iter()
            .find(|c| c.data.as_ref().and_then(|d| d.get(key)).map(String::as_str) == Some(value))
            .cloned()
    }
}

fn configmap_lifecycle<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let cm: ConfigMap = manifest(
            "metadata: {name: app-config}\ndata: {otter.properties: \"nid=1\\n\", mode: dev}",
        )?;
        let created = ctx.create(&cm).await?;
        ctx.wait_for(
            "app-config has mode=dev",
            named("app-config"),
            SHORT,
            data_is("mode", "dev"),
        )
        .await?;

        let api = ctx.api::<ConfigMap>();
        let mut replaced = created.clone();
        replaced.data = Some(BTreeMap::from([("mode".into(), "prod".into())]));
        ctx.step("replace ConfigMap app-config (mode=prod, otter.properties removed)");
        let after = api
            .replace("app-config", &PostParams::default(), &replaced)
            .await?;
        check(
            after.resource_version() != created.resource_version(),
            || "a replace must change the resourceVersion".into(),
        )?;
        ctx.wait_for(
            "app-config has mode=prod",
            named("app-config"),
            SHORT,
            data_is("mode", "prod"),
        )
        .await?;

        // A stale update is refused with 409 Conflict.
        ctx.step("replace ConfigMap app-config with the first resourceVersion");
        let stale = api
            .replace("app-config", &PostParams::default(), &created)
            .await;
        match stale {
            Err(kube::Error::Api(s)) if s.code == 409 => {
                ctx.trace
                    .observed(format!("stale replace refused: {}", s.reason));
            }
            other => {
                return Err(anyhow::anyhow!("a stale replace must get 409, got {other:?}").into());
            }
        }

        ctx.step("merge-patch ConfigMap app-config (add replicas=2)");
        api.patch(
            "app-config",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"replicas": "2"}})),
        )
        .await?;
        ctx.wait_for(
            "app-config has replicas=2",
            named("app-config"),
            SHORT,
            data_is("replicas", "2"),
        )
        .await?;

        ctx.step("delete ConfigMap app-config");
        api.delete("app-config", &DeleteParams::default()).await?;
        ctx.wait_for::<ConfigMap>("app-config is gone", named("app-config"), SHORT, |cms| {
            cms.is_empty().then(ConfigMap::default)
        })
        .await?;
        match api.get("app-config").await {
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            other => Err(anyhow::anyhow!("a deleted ConfigMap must be 404, got {other:?}").into()),
        }
    })
}

fn secret_lifecycle<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let s: Secret = manifest(
            "metadata: {name: db-credentials}\ntype: Opaque\nstringData: {username: admin, password: s3cr3t}",
        )?;
        ctx.create(&s).await?;
        let got = ctx
            .wait_for::<Secret>(
                "db-credentials has data",
                named("db-credentials"),
                SHORT,
                |v| {
                    v.iter()
                        .find(|s| s.data.as_ref().is_some_and(|d| d.len() == 2))
                        .cloned()
                },
            )
            .await?;
        let data = got.data.unwrap_or_default();
        check(
            data.get("password").map(|b| b.0.as_slice()) == Some(b"s3cr3t".as_slice()),
            || format!("stringData must become data: {data:?}"),
        )?;
        check(got.string_data.is_none(), || {
            "stringData is write-only".into()
        })?;

        let api = ctx.api::<Secret>();
        ctx.step("patch Secret db-credentials (add token, remove username)");
        api.patch(
            "db-credentials",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"token": "t"}, "data": {"username": null}})),
        )
        .await?;
        ctx.wait_for::<Secret>(
            "db-credentials has password and token",
            named("db-credentials"),
            SHORT,
            |v| {
                v.iter()
                    .find(|s| {
                        s.data.as_ref().is_some_and(|d| {
                            d.keys().map(String::as_str).collect::<Vec<_>>()
                                == ["password", "token"]
                        })
                    })
                    .cloned()
            },
        )
        .await?;
        ctx.step("delete Secret db-credentials");
        api.delete("db-credentials", &DeleteParams::default())
            .await?;
        ctx.wait_for::<Secret>(
            "db-credentials is gone",
            named("db-credentials"),
            SHORT,
            |v| v.is_empty().then(Secret::default),
        )
        .await?;
        Ok(())
    })
}

fn cluster_ip(s: &Service) -> Option<String> {
    s.spec.as_ref().and_then(|sp| sp.cluster_ip.clone())
}

fn service_lifecycle<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        // The seed's Service, without its fixed clusterIP (that one belongs to another cluster).
        let svc: Service = manifest(
            "metadata: {name: docker-registry}\nspec:\n  selector: {docker-registry: default}\n  ports:\n  - {port: 5000, protocol: TCP, targetPort: 5000}",
        )?;
        let created = ctx.create(&svc).await?;
        let ip = cluster_ip(&created).unwrap_or_default();
        check(ip.parse::<std::net::Ipv4Addr>().is_ok(), || {
            format!("a ClusterIP Service must get an IPv4 address, got {ip:?}")
        })?;
        ctx.trace.observed("docker-registry has a cluster IP");

        let api = ctx.api::<Service>();
        ctx.step("patch Service docker-registry (add port 5001)");
        let patched = api
            .patch(
                "docker-registry",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"ports": [
                    {"name": "a", "port": 5000, "targetPort": 5000, "protocol": "TCP"},
                    {"name": "b", "port": 5001, "targetPort": 5001, "protocol": "TCP"}
                ]}})),
            )
            .await?;
        check(cluster_ip(&patched).as_deref() == Some(ip.as_str()), || {
            "the cluster IP must survive an update".into()
        })?;
        ctx.wait_for::<Service>(
            "docker-registry has two ports",
            named("docker-registry"),
            SHORT,
            |v| {
                v.iter()
                    .find(|s| {
                        s.spec
                            .as_ref()
                            .and_then(|s| s.ports.as_ref())
                            .is_some_and(|p| p.len() == 2)
                    })
                    .cloned()
            },
        )
        .await?;

        // Changing the cluster IP is refused.
        ctx.step("patch Service docker-registry clusterIP (refused)");
        let moved = api
            .patch(
                "docker-registry",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"clusterIP": "10.96.200.200", "clusterIPs": ["10.96.200.200"]}})),
            )
            .await;
        match moved {
            Err(kube::Error::Api(s)) if s.code == 422 => {
                ctx.trace.observed("changing clusterIP is Invalid");
            }
            other => {
                return Err(
                    anyhow::anyhow!("changing clusterIP must be 422, got {other:?}").into(),
                );
            }
        }

        let headless: Service = manifest(
            "metadata: {name: frontend-headless}\nspec:\n  clusterIP: None\n  ports:\n  - {name: web, port: 5432, protocol: TCP, targetPort: 8080}\n  selector: {name: frontend}",
        )?;
        let h = ctx.create(&headless).await?;
        check(cluster_ip(&h).as_deref() == Some("None"), || {
            "a headless Service keeps clusterIP None".into()
        })?;

        ctx.step("delete both Services");
        api.delete("docker-registry", &DeleteParams::default())
            .await?;
        api.delete("frontend-headless", &DeleteParams::default())
            .await?;
        ctx.wait_for::<Service>(
            "both Services are gone",
            kube::runtime::watcher::Config::default(),
            SHORT,
            |v| v.is_empty().then(Service::default),
        )
        .await?;
        Ok(())
    })
}

fn node_ports(s: &Service) -> Vec<i32> {
    s.spec
        .as_ref()
        .and_then(|sp| sp.ports.as_ref())
        .map(|ps| ps.iter().filter_map(|p| p.node_port).collect())
        .unwrap_or_default()
}

fn nodeport_allocation<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let auto: Service = manifest(
            "metadata: {name: web}\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports:\n  - {port: 8080, targetPort: 8080}",
        )?;
        let auto = ctx.create(&auto).await?;
        let ports = node_ports(&auto);
        check(
            ports.len() == 1 && ports.iter().all(|p| (30000..=32767).contains(p)),
            || format!("an unset nodePort must be allocated in 30000-32767, got {ports:?}"),
        )?;
        ctx.trace.observed("web got a node port in range");

        // Ask for the port just taken: refused with the real message.
        let taken = ports[0];
        let clash: Service = manifest(&format!(
            "metadata: {{name: web-clash}}\nspec:\n  type: NodePort\n  ports:\n  - {{port: 80, nodePort: {taken}}}"
        ))?;
        ctx.step("create Service web-clash with the same nodePort (refused)");
        match ctx
            .api::<Service>()
            .create(&PostParams::default(), &clash)
            .await
        {
            Err(kube::Error::Api(s))
                if s.code == 422 && s.message.contains("provided port is already allocated") =>
            {
                ctx.trace
                    .observed("a taken nodePort is Invalid: provided port is already allocated");
            }
            other => {
                return Err(anyhow::anyhow!("a taken nodePort must be 422, got {other:?}").into());
            }
        }

        let out: Service = manifest(
            "metadata: {name: web-out}\nspec:\n  type: NodePort\n  ports:\n  - {port: 80, nodePort: 80}",
        )?;
        ctx.step("create Service web-out with nodePort 80 (refused)");
        match ctx
            .api::<Service>()
            .create(&PostParams::default(), &out)
            .await
        {
            Err(kube::Error::Api(s)) if s.code == 422 && s.message.contains("30000-32767") => {
                ctx.trace.observed("an out-of-range nodePort is Invalid");
            }
            other => {
                return Err(anyhow::anyhow!("nodePort 80 must be 422, got {other:?}").into());
            }
        }

        // Deleting the Service frees the port for another one.
        ctx.step("delete Service web, then take its port with web-again");
        ctx.api::<Service>()
            .delete("web", &DeleteParams::default())
            .await?;
        ctx.wait_for::<Service>("web is gone", named("web"), SHORT, |v| {
            v.is_empty().then(Service::default)
        })
        .await?;
        let again: Service = manifest(&format!(
            "metadata: {{name: web-again}}\nspec:\n  type: NodePort\n  ports:\n  - {{port: 80, nodePort: {taken}}}"
        ))?;
        let again = ctx.create(&again).await?;
        check(node_ports(&again) == vec![taken], || {
            "a freed nodePort can be taken again".into()
        })?;
        Ok(())
    })
}

fn namespace_deletion<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let cm: ConfigMap = manifest("metadata: {name: doomed}\ndata: {k: v}")?;
        ctx.create(&cm).await?;
        let namespaces: Api<Namespace> = Api::all(ctx.client());
        ctx.step("delete the scenario's namespace");
        namespaces.delete(&ctx.ns, &DeleteParams::default()).await?;

        // New content is refused: 403 while it terminates, 404 once it is gone.
        let late: ConfigMap = manifest("metadata: {name: late}")?;
        match ctx
            .api::<ConfigMap>()
            .create(&PostParams::default(), &late)
            .await
        {
            Err(kube::Error::Api(s)) if s.code == 403 || s.code == 404 => {
                ctx.trace
                    .observed("new content in a deleted namespace is refused");
            }
            other => {
                return Err(anyhow::anyhow!(
                    "creating in a deleted namespace must be refused (403 or 404), got {other:?}"
                )
                .into());
            }
        }

        let ns = ctx.ns.clone();
        let mut waited = Duration::ZERO;
        loop {
            match namespaces.get_opt(&ns).await? {
                None => break,
                Some(n) => {
                    let phase = n.status.and_then(|s| s.phase).unwrap_or_default();
                    check(phase == "Terminating", || {
                        format!(
                            "a deleted namespace must be Terminating until gone, it is {phase:?}"
                        )
                    })?;
                }
            }
            check(waited < super::CONVERGE, || {
                format!("namespace {ns} never went away")
            })?;
            ctx.wait(Duration::from_secs(1)).await;
            waited += Duration::from_secs(1);
        }
        ctx.trace.observed("the namespace is gone");
        let left = ctx.api::<ConfigMap>().list(&Default::default()).await?;
        check(left.items.iter().all(|c| c.name_any() != "doomed"), || {
            "the namespace's objects must go with it".into()
        })?;
        Ok(())
    })
}

fn watch_selector_transitions<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let api = ctx.api::<ConfigMap>();
        let rv = api
            .list(&kube::api::ListParams::default().limit(1))
            .await?
            .metadata
            .resource_version
            .unwrap_or_default();
        let stream = api
            .watch(
                &WatchParams::default().labels("watched=yes").timeout(60),
                &rv,
            )
            .await?
            .boxed();

        for (name, label) in [("a", "yes"), ("b", "yes"), ("c", "no")] {
            let cm: ConfigMap = manifest(&format!(
                "metadata: {{name: {name}, labels: {{watched: \"{label}\"}}}}"
            ))?;
            ctx.create(&cm).await?;
        }
        ctx.step("relabel b out of the selection, c into it");
        api.patch(
            "b",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"watched": "no"}}})),
        )
        .await?;
        api.patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"watched": "yes"}}})),
        )
        .await?;
        ctx.step("update a, delete a");
        api.patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"x": "1"}})),
        )
        .await?;
        api.delete("a", &DeleteParams::default()).await?;

        let want = [
            "ADDED a",
            "ADDED b",
            "DELETED b",
            "ADDED c",
            "MODIFIED a",
            "DELETED a",
        ];
        let mut seen: Vec<String> = Vec::new();
        let mut stream = stream;
        let mut waited = Duration::ZERO;
        while seen.len() < want.len() {
            match tokio::time::timeout(ctx.backend.quiet(), stream.try_next()).await {
                Ok(Ok(Some(ev))) => {
                    let (what, name) = match ev {
                        WatchEvent::Added(o) => ("ADDED", o.name_any()),
                        WatchEvent::Modified(o) => ("MODIFIED", o.name_any()),
                        WatchEvent::Deleted(o) => ("DELETED", o.name_any()),
                        WatchEvent::Bookmark(_) => continue,
                        WatchEvent::Error(e) => {
                            return Err(anyhow::anyhow!("watch error: {e:?}").into());
                        }
                    };
                    let line = format!("{what} {name}");
                    ctx.trace.observed(format!("watch: {line}"));
                    seen.push(line);
                }
                Ok(Ok(None)) => break,
                Ok(Err(e)) => return Err(anyhow::anyhow!("watch failed: {e}").into()),
                Err(_) => {
                    check(waited < SHORT, || {
                        format!("the watch stalled after {seen:?}")
                    })?;
                    let step = ctx.backend.step();
                    ctx.wait(step).await;
                    waited += step;
                }
            }
        }
        check(seen == want, || {
            format!("watch events: expected {want:?}, saw {seen:?}")
        })?;
        Ok(())
    })
}
