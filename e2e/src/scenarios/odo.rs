//! odo's own workflow on a cluster, through an [`OdoDriver`]: create+push of the nodejs, java
//! and python fixtures (pod Running with both init containers completed in order, seen through
//! a watch), incremental push, pod replaced (emptyDir refilled, PVC kept, next push resends
//! everything), url and storage, and delete. They need the odo driver, a kubelet and exec.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use kube::ResourceExt;

use super::{CONVERGE, check, labelled, pod_running, probe_file};
use crate::backend::{BoxFut, Capability, Fault};
use crate::harness::{Ctx, Scenario, StepResult};
use crate::odo::{Component, OdoDriver, PushReport};

const NEEDS: &[Capability] = &[Capability::Odo, Capability::Kubelet, Capability::Exec];
const INIT_IMAGE: &str = "registry.access.redhat.com/ocp-tools-4/odo-init-container-rhel8:1.1.5";
const NODEJS: &str = "registry.access.redhat.com/ubi8/nodejs-14:latest";
const JAVA: &str = "registry.access.redhat.com/ubi8/openjdk-11:latest";
const PYTHON: &str = "registry.access.redhat.com/ubi8/python-38:latest";

/// The scenarios of this module.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "odo_push_nodejs",
            about: "odo create + push of fixtures/nodejs: pod Running, init containers in order",
            needs: NEEDS,
            images: &[INIT_IMAGE, NODEJS],
            run: push_nodejs,
        },
        Scenario {
            name: "odo_push_java",
            about: "odo create + push of fixtures/java",
            needs: NEEDS,
            images: &[INIT_IMAGE, JAVA],
            run: push_java,
        },
        Scenario {
            name: "odo_push_python",
            about: "odo create + push of fixtures/python",
            needs: NEEDS,
            images: &[INIT_IMAGE, PYTHON],
            run: push_python,
        },
        Scenario {
            name: "odo_incremental_push",
            about: "later pushes send only what changed and delete what was deleted",
            needs: NEEDS,
            images: &[INIT_IMAGE, NODEJS],
            run: incremental_push,
        },
        Scenario {
            name: "odo_pod_replaced",
            about: "a replaced pod gets /opt/odo back, keeps the PVC, and the next push resends all",
            needs: NEEDS,
            images: &[INIT_IMAGE, NODEJS],
            run: pod_replaced,
        },
        Scenario {
            name: "odo_url_storage",
            about: "odo url and odo storage create a Service port and a mounted PVC",
            needs: NEEDS,
            images: &[INIT_IMAGE, NODEJS],
            run: url_storage,
        },
        Scenario {
            name: "odo_delete",
            about: "odo delete removes every object of the component",
            needs: NEEDS,
            images: &[INIT_IMAGE, NODEJS],
            run: delete,
        },
    ]
}

fn driver<'c>(ctx: &'c Ctx<'_>) -> StepResult<&'c dyn OdoDriver> {
    ctx.require(Capability::Odo)?;
    ctx.odo
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("no odo driver").into())
}

/// Copies `fixtures/<lang>` into a fresh directory, without its `.odo/` (the scenario's own
/// `odo create` writes one for its namespace).
fn fixture(lang: &str) -> StepResult<(tempfile::TempDir, PathBuf)> {
    let src = crate::workspace_root().join("fixtures").join(lang);
    let tmp = tempfile::tempdir()?;
    let dst = tmp.path().join(lang);
    copy_tree(&src, &dst)
        .map_err(|e| anyhow::anyhow!("copying the fixture {}: {e}", src.display()))?;
    Ok((tmp, dst))
}

fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let to = dst.join(entry.file_name());
        if entry.file_name() == ".odo" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

fn component(ctx: &Ctx<'_>, lang: &str) -> Component {
    Component {
        component_type: lang.into(),
        name: format!("{lang}-comp"),
        app: "app".into(),
        namespace: ctx.ns.clone(),
    }
}

/// The label odo's pod template carries: `component=<component>-<app>` on Kubernetes,
/// `deploymentconfig=<component>-<app>` on OpenShift (the flavor the cluster serves).
async fn pod_selector(ctx: &Ctx<'_>, c: &Component) -> StepResult<String> {
    let flavor = odo::cluster::flavor::detect(&ctx.client())
        .await
        .map_err(|e| anyhow::anyhow!("detecting the cluster's flavor: {e}"))?;
    let key = match flavor {
        odo::manifests::Flavor::Kubernetes => "component",
        odo::manifests::Flavor::OpenShift => "deploymentconfig",
    };
    Ok(format!("{key}={}-{}", c.name, c.app))
}

/// The labels on every object odo creates for a component.
fn selector(c: &Component) -> String {
    format!(
        "app.kubernetes.io/instance={},app.kubernetes.io/part-of={}",
        c.name, c.app
    )
}

/// Whether both init containers completed and the app container runs: the order is checked
/// on the trace of states the watch saw. The order is odo's (reference/odo.md 3a):
/// `copy-files-to-volume` seeds the PVC first, then `copy-supervisord` fills `/opt/odo`.
fn initialised(p: &Pod) -> bool {
    let Some(inits) = p
        .status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_ref())
    else {
        return false;
    };
    let names: Vec<&str> = inits.iter().map(|c| c.name.as_str()).collect();
    names == ["copy-files-to-volume", "copy-supervisord"]
        && inits.iter().all(|c| {
            c.state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .is_some_and(|t| t.exit_code == 0)
        })
        && pod_running(p)
}

async fn create_and_push(
    ctx: &Ctx<'_>,
    lang: &str,
) -> StepResult<(tempfile::TempDir, PathBuf, Component, Pod, PushReport)> {
    let odo = driver(ctx)?;
    let (tmp, dir) = fixture(lang)?;
    let c = component(ctx, lang);
    ctx.step(format!("odo create {lang} {} --app {}", c.name, c.app));
    odo.create(&dir, &c).await?;
    ctx.step("odo push");
    let report = odo.push(&dir).await?;
    check(report.full && report.files_sent > 0, || {
        format!("a first push sends everything: {report:?}")
    })?;
    let pod = ctx
        .wait_for::<Pod>(
            "the component's pod runs with both init containers completed",
            labelled(&pod_selector(ctx, &c).await?),
            CONVERGE,
            |v| v.iter().find(|p| initialised(p)).cloned(),
        )
        .await?;
    check_init_order(ctx, &pod)?;
    Ok((tmp, dir, c, pod, report))
}

/// The init containers finished in order: the first finished before the second started.
fn check_init_order(ctx: &Ctx<'_>, pod: &Pod) -> StepResult {
    let trace = ctx.trace.snapshot();
    let states = trace
        .objects
        .get(&format!("Pod/{}", pod.name_any()))
        .cloned()
        .unwrap_or_default();
    let second_started_before_first_done = states.iter().any(|s| {
        let init = s
            .get("init")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        let first = init.first().and_then(|v| v.as_str()).unwrap_or("");
        let second = init.get(1).and_then(|v| v.as_str()).unwrap_or("");
        !first.contains("terminated:Completed:0")
            && (second.contains("running") || second.contains("terminated"))
    });
    check(!second_started_before_first_done, || {
        format!("copy-supervisord must start after copy-files-to-volume completed: {states:?}")
    })
}

async fn push_lang(ctx: &Ctx<'_>, lang: &str, probe: &str) -> StepResult {
    let (_tmp, _dir, c, pod, _) = create_and_push(ctx, lang).await?;
    let container = format!("{}-{}", c.name, c.app);
    probe_file(ctx, &pod.name_any(), &container, probe).await?;
    Ok(())
}

fn push_nodejs<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(push_lang(ctx, "nodejs", "/tmp/src/package.json"))
}

fn push_java<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(push_lang(ctx, "java", "/tmp/src/pom.xml"))
}

fn push_python<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(push_lang(ctx, "python", "/tmp/src/requirements.txt"))
}

fn incremental_push<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let (_tmp, dir, c, pod, _) = create_and_push(ctx, "nodejs").await?;
        let odo = driver(ctx)?;
        ctx.step("change one file, odo push");
        std::fs::write(dir.join("changed.txt"), "second push\n")?;
        let report = odo.push(&dir).await?;
        check(!report.full && report.files_sent == 1, || {
            format!("only the changed file is sent: {report:?}")
        })?;
        let container = format!("{}-{}", c.name, c.app);
        let got = probe_file(ctx, &pod.name_any(), &container, "/tmp/src/changed.txt").await?;
        check(got == "second push\n", || {
            format!("the pushed file holds {got:?}")
        })?;
        let built = probe_file(
            ctx,
            &pod.name_any(),
            &container,
            "/opt/app-root/src/changed.txt",
        )
        .await?;
        check(built == "second push\n", || {
            format!("assemble copied the file onto the PVC: {built:?}")
        })?;

        ctx.step("edit one file, delete another, odo push");
        let server = dir.join("server.js");
        let mut edited = std::fs::read_to_string(&server)?;
        edited.push_str("// edited\n");
        std::fs::write(&server, &edited)?;
        std::fs::remove_file(dir.join("changed.txt"))?;
        let report = odo.push(&dir).await?;
        check(
            !report.full && report.files_sent == 1 && report.files_deleted == 1,
            || format!("one file sent, one deleted: {report:?}"),
        )?;
        let got = probe_file(ctx, &pod.name_any(), &container, "/tmp/src/server.js").await?;
        check(got == edited, || format!("the edited file holds {got:?}"))?;
        // The deletion reaches the sync target and the assembled copy on the PVC.
        for path in ["/tmp/src/changed.txt", "/opt/app-root/src/changed.txt"] {
            let test = format!("test -e {path} && echo present || echo absent");
            let got = super::exec(ctx, &pod.name_any(), &container, &["sh", "-c", &test]).await?;
            check(got.trim() == "absent", || {
                format!("{path} is {}", got.trim())
            })?;
        }
        Ok(())
    })
}

fn pod_replaced<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let (_tmp, dir, c, pod, _) = create_and_push(ctx, "nodejs").await?;
        let odo = driver(ctx)?;
        let container = format!("{}-{}", c.name, c.app);
        ctx.inject(Fault::DeletePod {
            namespace: ctx.ns.clone(),
            pod: pod.name_any(),
        })
        .await?;
        let old = pod.uid();
        let new = ctx
            .wait_for::<Pod>(
                "a new pod runs with both init containers completed",
                labelled(&pod_selector(ctx, &c).await?),
                CONVERGE,
                |v| v.iter().find(|p| p.uid() != old && initialised(p)).cloned(),
            )
            .await?;
        probe_file(
            ctx,
            &new.name_any(),
            &container,
            "/opt/odo/conf/supervisor.conf",
        )
        .await?;
        probe_file(
            ctx,
            &new.name_any(),
            &container,
            "/opt/app-root/src/package.json",
        )
        .await?;
        ctx.step("odo push after the pod was replaced");
        let report = odo.push(&dir).await?;
        check(report.full, || {
            format!("a push to a replaced pod resends everything: {report:?}")
        })
    })
}

fn url_storage<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let (_tmp, dir, c, _, _) = create_and_push(ctx, "nodejs").await?;
        let odo = driver(ctx)?;
        ctx.step("odo url create web --port 8080; odo storage create data --path /data --size 1Gi; odo push");
        odo.url_create(&dir, "web", 8080).await?;
        odo.storage_create(&dir, "data", "/data", "1Gi").await?;
        odo.push(&dir).await?;
        ctx.wait_for::<Service>(
            "the component's Service exposes 8080",
            labelled(&selector(&c)),
            CONVERGE,
            |v| {
                v.iter()
                    .find(|s| {
                        s.spec
                            .as_ref()
                            .and_then(|s| s.ports.as_ref())
                            .is_some_and(|p| p.iter().any(|p| p.port == 8080))
                    })
                    .cloned()
            },
        )
        .await?;
        ctx.wait_for::<PersistentVolumeClaim>(
            "the storage claim is bound",
            labelled(&selector(&c)),
            CONVERGE,
            |v| {
                v.iter()
                    .find(|p| {
                        p.name_any().starts_with("data")
                            && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
                    })
                    .cloned()
            },
        )
        .await?;
        let pod = ctx
            .wait_for::<Pod>(
                "a pod mounting /data runs",
                labelled(&pod_selector(ctx, &c).await?),
                CONVERGE,
                |v| {
                    v.iter()
                        .find(|p| {
                            initialised(p)
                                && p.spec.as_ref().is_some_and(|s| {
                                    s.containers.iter().any(|c| {
                                        c.volume_mounts.as_ref().is_some_and(|m| {
                                            m.iter().any(|m| m.mount_path == "/data")
                                        })
                                    })
                                })
                        })
                        .cloned()
                },
            )
            .await?;
        let out = super::exec(
            ctx,
            &pod.name_any(),
            &format!("{}-{}", c.name, c.app),
            &["sh", "-c", "echo ok > /data/probe && cat /data/probe"],
        )
        .await?;
        check(out == "ok\n", || {
            format!("/data must be writable, got {out:?}")
        })
    })
}

fn delete<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let (_tmp, dir, c, _, _) = create_and_push(ctx, "nodejs").await?;
        let odo = driver(ctx)?;
        let sel = selector(&c);
        // What is to go must be there first, or the checks below would hold vacuously.
        let params = kube::api::ListParams::default().labels(&sel);
        let services = ctx.api::<Service>().list(&params).await?.items.len();
        let claims = ctx
            .api::<PersistentVolumeClaim>()
            .list(&params)
            .await?
            .items
            .len();
        check(services > 0 && claims > 0, || {
            format!("before odo delete: {services} Service(s), {claims} claim(s) labelled {sel}")
        })?;
        ctx.step("odo delete -f");
        odo.delete(&dir).await?;
        ctx.wait_for::<Pod>(
            "the component's pods are gone",
            labelled(&pod_selector(ctx, &c).await?),
            CONVERGE,
            |v| v.is_empty().then(Pod::default),
        )
        .await?;
        ctx.wait_for::<Service>(
            "the component's Services are gone",
            labelled(&sel),
            CONVERGE,
            |v| v.is_empty().then(Service::default),
        )
        .await?;
        ctx.wait_for::<PersistentVolumeClaim>(
            "the component's claims are gone",
            labelled(&sel),
            CONVERGE,
            |v| v.is_empty().then(PersistentVolumeClaim::default),
        )
        .await?;
        Ok(())
    })
}
