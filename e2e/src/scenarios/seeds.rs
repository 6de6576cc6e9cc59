//! The seed documents' examples, with their manifests as written there: RC and RS
//! self-healing, headless Service endpoints, init containers waiting on Services through DNS,
//! a ConfigMap file mounted through `subPath`, a crashing container's restart back-off, and
//! an init container failing under each restart policy.
//!
//! Each creates its objects first (the API accepts them on every backend), then requires the
//! capability that makes them converge, so on a backend without it the trace shows how far
//! it got and the scenario is reported as skipped.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Pod, ReplicationController, Service};
use kube::ResourceExt;

use super::{CONVERGE, check, labelled, manifest, named, pod_running, probe_file};
use crate::backend::{BoxFut, Capability, Fault};
use crate::harness::{Ctx, Scenario, StepResult};

const HELLO: &str = "openshift/hello-openshift:latest";
const BUSYBOX: &str = "busybox:latest";

/// The scenarios of this module.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "rc_self_healing",
            about: "the seed's ReplicationController keeps one pod running when it is deleted",
            needs: &[],
            images: &[HELLO],
            run: rc_self_healing,
        },
        Scenario {
            name: "rs_self_healing",
            about: "the seed's ReplicaSet (set-based selector) keeps three pods",
            needs: &[],
            images: &[HELLO],
            run: rs_self_healing,
        },
        Scenario {
            name: "headless_service_endpoints",
            about: "a headless Service lists the IPs of the ready frontend pods",
            needs: &[],
            images: &[HELLO],
            run: headless_service_endpoints,
        },
        Scenario {
            name: "init_containers_wait_for_services",
            about: "myapp-pod's init containers wait until myservice and mydb resolve",
            needs: &[],
            images: &[BUSYBOX],
            run: init_containers_wait_for_services,
        },
        Scenario {
            name: "configmap_subpath_file",
            about: "one ConfigMap key is mounted as a single file through subPath",
            needs: &[],
            images: &[BUSYBOX],
            run: configmap_subpath_file,
        },
        Scenario {
            name: "crash_loop_backoff",
            about: "a container that exits 1 is restarted with back-off (CrashLoopBackOff)",
            needs: &[Capability::Kubelet],
            images: &[BUSYBOX],
            run: crash_loop_backoff,
        },
        Scenario {
            name: "init_failure_restart_policies",
            about: "a failing init container: retried under Always/OnFailure, pod Failed under Never",
            needs: &[Capability::Kubelet],
            images: &[BUSYBOX],
            run: init_failure_restart_policies,
        },
    ]
}

const RC: &str = r#"
apiVersion: v1
kind: ReplicationController
metadata:
  name: frontend-1
spec:
  replicas: 1
  selector:
    name: frontend
  template:
    metadata:
      labels:
        name: frontend
    spec:
      containers:
      - image: openshift/hello-openshift:latest
        name: helloworld
        ports:
        - containerPort: 8080
          protocol: TCP
      restartPolicy: Always
"#;

const RS: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend-1
  labels:
    tier: frontend
spec:
  replicas: 3
  selector:
    matchLabels:
      tier: frontend
    matchExpressions:
      - {key: tier, operator: In, values: [frontend]}
  template:
    metadata:
      labels:
        tier: frontend
    spec:
      containers:
      - image: openshift/hello-openshift:latest
        name: helloworld
        ports:
        - containerPort: 8080
          protocol: TCP
      restartPolicy: Always
"#;

/// Waits until `n` pods matching `selector` are running; returns them.
async fn running_pods(ctx: &Ctx<'_>, selector: &str, n: usize, what: &str) -> StepResult<Vec<Pod>> {
    let mut found = Vec::new();
    ctx.wait_for::<Pod>(what, labelled(selector), CONVERGE, |pods| {
        let running: Vec<Pod> = pods.iter().filter(|p| pod_running(p)).cloned().collect();
        if running.len() == n {
            found = running;
            pods.first().cloned()
        } else {
            None
        }
    })
    .await?;
    Ok(found)
}

/// Deletes one of the pods and waits until `n` run again, one of them new.
async fn heal(ctx: &Ctx<'_>, selector: &str, n: usize, pods: &[Pod]) -> StepResult {
    let victim = pods
        .first()
        .ok_or_else(|| anyhow::anyhow!("no pod to delete"))?;
    let old_uid = victim.uid();
    ctx.inject(Fault::DeletePod {
        namespace: ctx.ns.clone(),
        pod: victim.name_any(),
    })
    .await?;
    let again = running_pods(
        ctx,
        selector,
        n,
        &format!("{n} pods running again after one was deleted"),
    )
    .await?;
    check(again.iter().all(|p| p.uid() != old_uid), || {
        "the deleted pod must be replaced by a new one".into()
    })
}

fn rc_self_healing<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let rc: ReplicationController = manifest(RC)?;
        ctx.create(&rc).await?;
        ctx.require(Capability::Controllers)?;
        ctx.require(Capability::Kubelet)?;
        let pods = running_pods(ctx, "name=frontend", 1, "one frontend pod running").await?;
        ctx.wait_for::<ReplicationController>(
            "frontend-1 reports 1 ready",
            named("frontend-1"),
            CONVERGE,
            |v| {
                v.iter()
                    .find(|r| r.status.as_ref().and_then(|s| s.ready_replicas) == Some(1))
                    .cloned()
            },
        )
        .await?;
        heal(ctx, "name=frontend", 1, &pods).await
    })
}

fn rs_self_healing<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let rs: ReplicaSet = manifest(RS)?;
        ctx.create(&rs).await?;
        ctx.require(Capability::Controllers)?;
        ctx.require(Capability::Kubelet)?;
        let pods = running_pods(ctx, "tier=frontend", 3, "three frontend pods running").await?;
        for p in &pods {
            let owner = p.owner_references().first().map(|o| o.name.clone());
            check(owner.as_deref() == Some("frontend-1"), || {
                format!(
                    "pod {} must be owned by frontend-1, is {owner:?}",
                    p.name_any()
                )
            })?;
        }
        heal(ctx, "tier=frontend", 3, &pods).await
    })
}

fn headless_service_endpoints<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let headless: Service = manifest(
            r#"
apiVersion: v1
kind: Service
metadata:
  labels:
    app: ruby-helloworld-sample
    template: application-template-stibuild
  name: frontend-headless
spec:
  clusterIP: None
  ports:
  - name: web
    port: 5432
    protocol: TCP
    targetPort: 8080
  selector:
    name: frontend
  sessionAffinity: None
  type: ClusterIP
"#,
        )?;
        let h = ctx.create(&headless).await?;
        check(
            h.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None"),
            || "a headless Service has no cluster IP".into(),
        )?;
        let mut rc: ReplicationController = manifest(RC)?;
        if let Some(spec) = rc.spec.as_mut() {
            spec.replicas = Some(2);
        }
        ctx.create(&rc).await?;
        ctx.require(Capability::Controllers)?;
        ctx.require(Capability::Kubelet)?;
        let pods = running_pods(ctx, "name=frontend", 2, "two frontend pods running").await?;
        let mut want: Vec<String> = pods
            .iter()
            .filter_map(|p| p.status.as_ref().and_then(|s| s.pod_ip.clone()))
            .collect();
        want.sort();
        ctx.wait_for::<Endpoints>(
            "frontend-headless lists both pod IPs on 8080",
            named("frontend-headless"),
            CONVERGE,
            |v| {
                v.iter()
                    .find(|e| {
                        let subsets = e.subsets.clone().unwrap_or_default();
                        let mut ips: Vec<String> = subsets
                            .iter()
                            .flat_map(|s| s.addresses.clone().unwrap_or_default())
                            .map(|a| a.ip)
                            .collect();
                        ips.sort();
                        let ports_ok = subsets.iter().all(|s| {
                            s.ports
                                .as_ref()
                                .is_some_and(|ps| ps.iter().all(|p| p.port == 8080))
                        });
                        ips == want && ports_ok
                    })
                    .cloned()
            },
        )
        .await?;
        Ok(())
    })
}

fn init_containers_wait_for_services<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let pod: Pod = manifest(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: myapp-pod
  labels:
    app: myapp
spec:
  containers:
  - name: myapp-container
    image: busybox:latest
    command: ['sh', '-c', 'echo The app is running! && sleep 3600']
  initContainers:
  - name: init-myservice
    image: busybox:latest
    command: ['sh', '-c', 'until nslookup myservice; do echo waiting for myservice; sleep 2; done;']
  - name: init-mydb
    image: busybox:latest
    command: ['sh', '-c', 'until nslookup mydb; do echo waiting for mydb; sleep 2; done;']
"#,
        )?;
        ctx.create(&pod).await?;
        ctx.require(Capability::Kubelet)?;
        ctx.require(Capability::Dns)?;
        let init_state = |p: &Pod, i: usize| -> String {
            let st = p
                .status
                .as_ref()
                .and_then(|s| s.init_container_statuses.as_ref())
                .and_then(|v| v.get(i))
                .and_then(|c| c.state.clone())
                .unwrap_or_default();
            if st.running.is_some() {
                "running".into()
            } else if let Some(t) = st.terminated {
                format!("terminated:{}", t.exit_code)
            } else {
                "waiting".into()
            }
        };
        ctx.wait_for::<Pod>(
            "init-myservice is running (waiting for myservice)",
            named("myapp-pod"),
            CONVERGE,
            |v| v.iter().find(|p| init_state(p, 0) == "running").cloned(),
        )
        .await?;
        ctx.wait(std::time::Duration::from_secs(10)).await;
        let still: Pod = ctx.api::<Pod>().get("myapp-pod").await?;
        check(init_state(&still, 0) == "running", || {
            "init-myservice must keep waiting while myservice does not exist".into()
        })?;
        let svc = |name: &str, port: u16| -> StepResult<Service> {
            manifest(&format!(
                "metadata: {{name: {name}}}\nspec:\n  ports:\n  - {{protocol: TCP, port: {port}, targetPort: {}}}",
                port + 9296
            ))
        };
        ctx.create(&svc("myservice", 80)?).await?;
        ctx.wait_for::<Pod>(
            "init-myservice completed, init-mydb running",
            named("myapp-pod"),
            CONVERGE,
            |v| {
                v.iter()
                    .find(|p| init_state(p, 0) == "terminated:0" && init_state(p, 1) == "running")
                    .cloned()
            },
        )
        .await?;
        ctx.create(&svc("mydb", 80)?).await?;
        ctx.wait_for::<Pod>("myapp-pod is running", named("myapp-pod"), CONVERGE, |v| {
            v.iter().find(|p| pod_running(p)).cloned()
        })
        .await?;
        Ok(())
    })
}

fn configmap_subpath_file<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let cm: ConfigMap = manifest(
            "metadata: {name: otter-manager-dev-config}\ndata:\n  otter.properties: |\n    otter.domainName = dev\n    otter.port = 8080\n",
        )?;
        ctx.create(&cm).await?;
        let pod: Pod = manifest(
            r#"
metadata: {name: otter-manager}
spec:
  containers:
  - name: otter
    image: busybox:latest
    command: ['sh', '-c', 'mkdir -p /home/admin/conf && echo kept > /home/admin/conf/other.txt; sleep 3600']
    volumeMounts:
    - name: config
      mountPath: /home/admin/conf/otter.properties
      subPath: otter.properties
  volumes:
  - name: config
    configMap:
      name: otter-manager-dev-config
"#,
        )?;
        ctx.create(&pod).await?;
        ctx.require(Capability::Kubelet)?;
        ctx.wait_for::<Pod>(
            "otter-manager is running",
            named("otter-manager"),
            CONVERGE,
            |v| v.iter().find(|p| pod_running(p)).cloned(),
        )
        .await?;
        let content = probe_file(
            ctx,
            "otter-manager",
            "otter",
            "/home/admin/conf/otter.properties",
        )
        .await?;
        check(
            content == "otter.domainName = dev\notter.port = 8080\n",
            || format!("the subPath file must hold the key's value, holds {content:?}"),
        )?;
        let other = probe_file(ctx, "otter-manager", "otter", "/home/admin/conf/other.txt").await?;
        check(other == "kept\n", || {
            "a subPath mount must not hide the rest of the directory".into()
        })
    })
}

fn waiting_reason(p: &Pod, init: bool) -> Option<String> {
    let st = p.status.as_ref()?;
    let list = if init {
        st.init_container_statuses.as_ref()
    } else {
        st.container_statuses.as_ref()
    }?;
    list.first()?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
}

fn restarts(p: &Pod, init: bool) -> i32 {
    let Some(st) = p.status.as_ref() else {
        return 0;
    };
    let list = if init {
        st.init_container_statuses.as_ref()
    } else {
        st.container_statuses.as_ref()
    };
    list.and_then(|l| l.first()).map_or(0, |c| c.restart_count)
}

fn crash_loop_backoff<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        let pod: Pod = manifest(
            "metadata: {name: crasher}\nspec:\n  containers:\n  - name: crash\n    image: busybox:latest\n    command: ['sh', '-c', 'echo crashing; exit 1']\n",
        )?;
        ctx.create(&pod).await?;
        ctx.wait_for::<Pod>(
            "crasher restarted twice and is in CrashLoopBackOff",
            named("crasher"),
            CONVERGE,
            |v| {
                v.iter()
                    .find(|p| {
                        restarts(p, false) >= 2
                            && waiting_reason(p, false).as_deref() == Some("CrashLoopBackOff")
                    })
                    .cloned()
            },
        )
        .await?;
        // Logs exist where container processes really run (the same capability as exec).
        ctx.require(Capability::Exec)?;
        let log = ctx
            .api::<Pod>()
            .logs("crasher", &kube::api::LogParams::default())
            .await?;
        check(log.contains("crashing"), || {
            format!("the container's log must hold its output, got {log:?}")
        })
    })
}

fn init_failure_restart_policies<'a>(ctx: &'a Ctx<'a>) -> BoxFut<'a, StepResult> {
    Box::pin(async move {
        for policy in ["Always", "OnFailure", "Never"] {
            let name = format!("init-fails-{}", policy.to_lowercase());
            let pod: Pod = manifest(&format!(
                "metadata: {{name: {name}}}\nspec:\n  restartPolicy: {policy}\n  initContainers:\n  - name: setup\n    image: busybox:latest\n    command: ['sh', '-c', 'exit 1']\n  containers:\n  - name: app\n    image: busybox:latest\n    command: ['sleep', '3600']\n"
            ))?;
            ctx.create(&pod).await?;
            if policy == "Never" {
                ctx.wait_for::<Pod>(
                    &format!("{name} Failed without retry"),
                    named(&name),
                    CONVERGE,
                    |v| {
                        v.iter()
                            .find(|p| {
                                p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
                                    && restarts(p, true) == 0
                            })
                            .cloned()
                    },
                )
                .await?;
            } else {
                ctx.wait_for::<Pod>(
                    &format!("{name} retries its init container (Init:CrashLoopBackOff)"),
                    named(&name),
                    CONVERGE,
                    |v| {
                        v.iter()
                            .find(|p| {
                                restarts(p, true) >= 1
                                    && p.status.as_ref().and_then(|s| s.phase.as_deref())
                                        == Some("Pending")
                                    && waiting_reason(p, false).as_deref()
                                        == Some("PodInitializing")
                            })
                            .cloned()
                    },
                )
                .await?;
            }
        }
        Ok(())
    })
}
