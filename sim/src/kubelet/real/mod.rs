//! [`RealRuntime`]: the [`ContainerRuntime`] that runs containers for real in the simulated
//! runtime ([`crate::runtime`]): images from the catalogue, pod volumes with data read from
//! the store, the shell and builtin programs as processes, logs per container instance.
//!
//! # Processes and time
//! Processes are tasks of a deterministic [`executor::Executor`] owned by this runtime, not
//! tokio tasks. The cluster loop calls [`ContainerRuntime::run_processes`] at every virtual
//! instant until every process waits, and treats [`ContainerRuntime::next_wakeup`] (the
//! earliest virtual-time sleep, see [`host::SimHost`]) as one more event. So in manual mode
//! processes run during `advance`/`settle`; in auto mode time never jumps while a process
//! can run; in real-time mode sleeps take wall-clock time. Exec sessions in manual mode also
//! drive the executor themselves while their client waits, so `kubectl exec` works without
//! anybody advancing time.
//!
//! Exits are reported to the kubelet through the [`ExitSender`]; stopping sends SIGTERM and
//! the kubelet's grace handling ends in [`ContainerRuntime::kill`] (the task is dropped).

mod executor;
mod host;
mod logs;
mod resolve;
mod streams;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

pub use host::SimHost;

use self::executor::{Executor, TaskId};
use self::host::{HostShared, Timers};
use self::logs::{LogKey, Logs};
use super::streams::StreamKind;
use super::{
    ContainerId, ContainerRuntime, ExitSender, Outcome, PullError, StartError, StartRequest,
};
use crate::clock::{TimeMode, TimeSource};
use crate::runtime::{
    Catalogue, ContainerInstance, Host, Image, Input, Node, Out, PodInfo, Runtime, SIGTERM,
    SharedTree, Stdio, Vfs, programs, resolve_env,
};
use crate::store::Store;

/// One started container instance.
struct Instance {
    inst: Arc<ContainerInstance>,
    host: Arc<dyn Host>,
    task: TaskId,
    spec: Container,
    /// Exec sessions and probes running in it (they die with the container).
    sessions: Vec<TaskId>,
    /// The exit code once PID 1 ended (137 when killed).
    exit: watch::Receiver<Option<i32>>,
    /// PID 1's stdin, when the container spec asks for one (`stdin: true`).
    stdin: Option<mpsc::UnboundedSender<Bytes>>,
}

/// A running instance: its container, the host its processes see, and its exit code.
type Running = (
    Arc<ContainerInstance>,
    Arc<dyn Host>,
    watch::Receiver<Option<i32>>,
);

/// The container runtime of the simulated runtime crate, driven by the kubelet.
pub struct RealRuntime {
    rt: Runtime,
    store: Arc<Store>,
    exec: Arc<Executor>,
    shared: Arc<HostShared>,
    logs: Arc<Logs>,
    instances: Mutex<BTreeMap<LogKey, Instance>>,
    /// Whether exec sessions poll processes themselves (manual time: nobody else does).
    self_drive: bool,
    /// The root filesystem of images outside the catalogue (busybox plus `serve`).
    unknown_root: std::sync::OnceLock<Arc<Node>>,
}

/// Image labels naming the deployments directory (the first that is set wins in odo; all are
/// taken into a committed image here).
const DEPLOYMENTS_DIR_LABELS: [&str; 3] = [
    "com.redhat.deployments-dir",
    "org.jboss.deployments-dir",
    "org.jboss.container.deployments-dir",
];

impl std::fmt::Debug for RealRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealRuntime").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Ends an instance's log and records its exit when the PID 1 task finishes or is dropped.
struct Finish {
    logs: Arc<Logs>,
    key: LogKey,
    exit: watch::Sender<Option<i32>>,
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.logs.finish(&self.key);
        self.exit.send_if_modified(|e| {
            if e.is_none() {
                *e = Some(137);
                true
            } else {
                false
            }
        });
    }
}

fn key_of(id: &ContainerId) -> LogKey {
    (id.pod_uid.clone(), id.container.clone(), id.instance)
}

fn config_error(message: String) -> StartError {
    StartError {
        reason: "CreateContainerConfigError".into(),
        message,
    }
}

impl RealRuntime {
    /// A runtime over `catalogue` reading volume data and DNS from `store`, with time from
    /// `clock` (the cluster's clock) moving per `mode`.
    pub fn new(
        catalogue: Catalogue,
        store: Arc<Store>,
        clock: Arc<dyn TimeSource>,
        mode: TimeMode,
    ) -> Self {
        use k8s_openapi::api::core::v1 as core;
        let shared = Arc::new(HostShared {
            clock: clock.clone(),
            timers: Mutex::new(Timers::default()),
            svc: store.type_id_of::<core::Service>(),
            ep: store.type_id_of::<core::Endpoints>(),
            pod: store.type_id_of::<core::Pod>(),
            store: store.clone(),
        });
        let rt = Runtime::new(catalogue);
        // PV data lives until its PV object is deleted under reclaimPolicy Delete; Retain
        // keeps the data (as the backing disk would be kept).
        if let Some(pv_tid) = store.type_id_of::<core::PersistentVolume>() {
            let volumes = rt.clone();
            store.add_hook(Arc::new(move |ev| {
                if ev.type_id == pv_tid
                    && ev.event_type == crate::store::EventType::Deleted
                    && ev
                        .object
                        .pointer("/spec/persistentVolumeReclaimPolicy")
                        .and_then(Value::as_str)
                        == Some("Delete")
                {
                    volumes.reclaim_pv(crate::store::meta::name(&ev.object));
                }
            }));
        }
        Self {
            rt,
            store,
            exec: Arc::new(Executor::default()),
            shared,
            logs: Logs::new(clock),
            instances: Mutex::default(),
            self_drive: mode == TimeMode::Manual,
            unknown_root: std::sync::OnceLock::new(),
        }
    }

    /// The runtime underneath (image catalogue, volume storage).
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// The container instance `id`, while the runtime knows it (for inspection in tests).
    pub fn container(&self, id: &ContainerId) -> Option<Arc<ContainerInstance>> {
        lock(&self.instances)
            .get(&key_of(id))
            .map(|i| i.inst.clone())
    }

    /// The host (virtual clock and cluster DNS) that processes of a pod with this hostname
    /// and IP see.
    pub fn host_for(&self, hostname: &str, ip: Option<std::net::Ipv4Addr>) -> SimHost {
        SimHost::new(self.shared.clone(), ip.map(|ip| (hostname.to_string(), ip)))
    }

    fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// The running instance `id`: its container, host and exit code (set when PID 1 ends).
    /// The exit code, not the task table, says whether it runs: a task being polled on
    /// another thread is briefly out of the table.
    fn running(&self, id: &ContainerId) -> Option<Running> {
        let inst = lock(&self.instances);
        let i = inst.get(&key_of(id))?;
        i.exit
            .borrow()
            .is_none()
            .then(|| (i.inst.clone(), i.host.clone(), i.exit.clone()))
    }

    fn create(&self, req: &StartRequest<'_>, exits: &ExitSender) -> Result<(), StartError> {
        let id = req.id;
        let pod = req.pod;
        let spec: PodSpec = serde_json::from_value(pod.get("spec").cloned().unwrap_or_default())
            .map_err(|e| config_error(format!("pod {}: invalid spec: {e}", id.pod)))?;
        let mut c: Container = serde_json::from_value(req.container.clone())
            .map_err(|e| config_error(format!("container {}: invalid spec: {e}", id.container)))?;
        effective_security_context(&mut c, &spec);
        let ip = req.pod_ip.parse().ok();
        let hostname = spec.hostname.clone().unwrap_or_else(|| id.pod.clone());
        let info = PodInfo {
            uid: id.pod_uid.clone(),
            name: id.pod.clone(),
            namespace: id.namespace.clone(),
            hostname: hostname.clone(),
            node: req.node.to_string(),
            ip,
        };
        let now = self.now();
        let data = resolve::volume_data(&self.store, pod, req.node, req.pod_ip);
        let vols = self
            .rt
            .prepare_pod_volumes(&info, &spec, &data, now)
            .map_err(|e| {
                let text = e.to_string();
                let prefix = format!("volume {}: ", e.volume());
                StartError {
                    reason: super::CONTAINER_CREATING.into(),
                    message: format!(
                        "MountVolume.SetUp failed for volume \"{}\" : {}",
                        e.volume(),
                        text.strip_prefix(&prefix).unwrap_or(&text)
                    ),
                }
            })?;
        let reference = c.image.as_deref().unwrap_or_default();
        let mut image = self.rt.pull(reference).map_err(|e| StartError {
            reason: "ErrImagePull".into(),
            message: e.to_string(),
        })?;
        if self.rt.catalogue().get(reference).is_none() {
            image = self.unknown_image(&image, &c);
        }
        let mut env = resolve::service_env(&self.store, pod);
        env.extend(resolve_env(&c, &data).map_err(|e| config_error(e.to_string()))?);
        let inst = Arc::new(
            self.rt
                .create_container(&info, &c, image, &env, &vols, now)
                .map_err(|e| config_error(e.to_string()))?,
        );
        let key = key_of(id);
        self.logs.open(&key);
        let out = Out::new(self.logs.sink(&key, StreamKind::Stdout));
        let err = Out::new(self.logs.sink(&key, StreamKind::Stderr));
        let mut stdio = Stdio::new(out, err);
        let stdin = if c.stdin == Some(true) {
            let (tx, rx) = mpsc::unbounded_channel();
            stdio = stdio.with_stdin(Input::channel(rx));
            Some(tx)
        } else {
            None
        };
        let host: Arc<dyn Host> = Arc::new(self.host_for(&hostname, ip));
        let fut = inst.start(host.clone(), stdio);
        let (exit_tx, exit_rx) = watch::channel(None);
        let finish = Finish {
            logs: self.logs.clone(),
            key: key.clone(),
            exit: exit_tx,
        };
        // A command that cannot be started ends the container at once with exit code 128
        // and the OCI runtime's message in its log, as containerd reports it.
        let reason = inst.check_command().is_err().then_some("StartError");
        let report = exits.clone();
        let who = id.clone();
        let task = self.exec.spawn(Box::pin(async move {
            let code = fut.await;
            finish.exit.send_replace(Some(code));
            drop(finish);
            report.report(super::ExitReport {
                id: who,
                code,
                reason,
            });
        }));
        lock(&self.instances).insert(
            key,
            Instance {
                inst,
                host,
                task,
                spec: c,
                sessions: Vec::new(),
                exit: exit_rx,
                stdin,
            },
        );
        Ok(())
    }

    /// What an image outside the catalogue runs: its files are busybox's, and its own
    /// entrypoint (which the simulator cannot know) is taken to be a server: `serve` on the
    /// container's declared ports until stopped. A `command` or `args` in the spec replaces
    /// it as usual, so `image: anything` with `sh -c ...` still runs the script.
    fn unknown_image(&self, base: &Arc<Image>, c: &Container) -> Arc<Image> {
        let root = self
            .unknown_root
            .get_or_init(|| {
                let tree = SharedTree::new(base.root.clone());
                let fs = Vfs::new(tree.clone(), vec![]);
                let t = self.now();
                let _ = fs.mkdir("/usr/local/bin", true, 0o755, t);
                let _ = fs.put(
                    "/usr/local/bin/serve",
                    Node::file(programs::program_file("serve"), 0o755, t),
                    true,
                );
                tree.snapshot()
            })
            .clone();
        let mut config = base.config.clone();
        config.entrypoint = Vec::new();
        config.cmd = std::iter::once("serve".to_string())
            .chain(
                c.ports
                    .iter()
                    .flatten()
                    .filter(|p| p.protocol.as_deref().is_none_or(|p| p == "TCP"))
                    .map(|p| p.container_port.to_string()),
            )
            .collect();
        Arc::new(Image {
            reference: base.reference.clone(),
            root,
            config,
        })
    }

    /// The last instance of `container` of pod `pod_uid`.
    fn last_instance(&self, pod_uid: &str, container: &str) -> Option<Arc<ContainerInstance>> {
        lock(&self.instances)
            .iter()
            .filter(|(k, _)| k.0 == pod_uid && k.1 == container)
            .max_by_key(|(k, _)| k.2)
            .map(|(_, i)| i.inst.clone())
    }

    /// Resolves a probe's `port` (a number or the name of a container port).
    fn probe_port(spec: &Container, port: Option<&Value>) -> Option<u16> {
        match port? {
            Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            Value::String(s) => s.parse().ok().or_else(|| {
                spec.ports.iter().flatten().find_map(|p| {
                    (p.name.as_deref() == Some(s.as_str()))
                        .then(|| u16::try_from(p.container_port).ok())
                        .flatten()
                })
            }),
            _ => None,
        }
    }

    /// Runs an exec probe's command to completion at this instant: exit 0 passes; a command
    /// still running when every process waits has timed out and fails.
    fn exec_probe(&self, inst: &ContainerInstance, host: Arc<dyn Host>, cmd: Vec<String>) -> bool {
        let Ok(fut) = inst.exec(cmd, host, Stdio::new(Out::null(), Out::null())) else {
            return false;
        };
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let task = self.exec.spawn(Box::pin(async move {
            let _ = tx.send(fut.await);
        }));
        self.exec.run_ready();
        let code = rx.try_recv().ok();
        self.exec.kill(task);
        code == Some(0)
    }
}

impl ContainerRuntime for RealRuntime {
    fn pull(&self, image: &str, _node: &str) -> Result<Duration, PullError> {
        self.rt
            .pull(image)
            .map(|_| Duration::from_secs(1))
            .map_err(|e| PullError {
                message: e.to_string(),
            })
    }

    fn start(&self, req: StartRequest<'_>, exits: ExitSender) -> Result<Outcome, StartError> {
        self.exec.wakeup.set_cluster(&exits);
        self.create(&req, &exits)?;
        Ok(Outcome::RunsUntilStopped)
    }

    fn stop(&self, id: &ContainerId, _container: &Value, grace: Duration) -> Duration {
        let Some((inst, _, exit)) = self.running(id) else {
            return Duration::ZERO;
        };
        inst.signal(SIGTERM);
        self.exec.run_ready();
        if exit.borrow().is_none() {
            grace
        } else {
            Duration::ZERO
        }
    }

    fn kill(&self, id: &ContainerId) {
        let tasks: Vec<TaskId> = lock(&self.instances)
            .get(&key_of(id))
            .map(|i| {
                std::iter::once(i.task)
                    .chain(i.sessions.iter().copied())
                    .collect()
            })
            .unwrap_or_default();
        for t in tasks {
            self.exec.kill(t);
        }
    }

    fn remove_pod(&self, pod_uid: &str) {
        let gone: Vec<Instance> = {
            let mut inst = lock(&self.instances);
            let keys: Vec<LogKey> = inst.keys().filter(|k| k.0 == pod_uid).cloned().collect();
            keys.iter().filter_map(|k| inst.remove(k)).collect()
        };
        for i in &gone {
            self.exec.kill(i.task);
            for t in &i.sessions {
                self.exec.kill(*t);
            }
        }
        drop(gone);
        self.logs.remove_pod(pod_uid);
        self.rt.remove_pod(pod_uid);
    }

    fn probe(&self, id: &ContainerId, probe: &Value) -> bool {
        let Some((inst, host, _)) = self.running(id) else {
            return false;
        };
        let spec = lock(&self.instances)
            .get(&key_of(id))
            .map(|i| i.spec.clone())
            .unwrap_or_default();
        let listening = |port: Option<&Value>| {
            Self::probe_port(&spec, port).is_some_and(|p| inst.listening_ports().contains_key(&p))
        };
        if let Some(h) = probe.get("httpGet") {
            return listening(h.get("port"));
        }
        if let Some(t) = probe.get("tcpSocket") {
            return listening(t.get("port"));
        }
        if let Some(g) = probe.get("grpc") {
            return listening(g.get("port"));
        }
        if let Some(cmd) = probe.pointer("/exec/command").and_then(Value::as_array) {
            let argv: Vec<String> = cmd
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect();
            return self.exec_probe(&inst, host, argv);
        }
        true
    }

    fn commit(&self, pod_uid: &str, container: &str, commit: &super::Commit) -> Result<(), String> {
        let inst = self
            .last_instance(pod_uid, container)
            .ok_or_else(|| format!("container {container} of pod {pod_uid} is not on this node"))?;
        let base = inst.image().clone();
        // A real build commits the whole container; here `commit.path`, plus the deployments
        // directory the base image declares when it lies outside of it (the s2i Java images
        // install a binary build's jar into /deployments).
        let mut paths = vec![commit.path.clone()];
        for label in DEPLOYMENTS_DIR_LABELS {
            if let Some(dir) = base.config.labels.get(label) {
                let inside = dir == &commit.path
                    || dir.starts_with(&format!("{}/", commit.path.trim_end_matches('/')));
                if !inside && !paths.contains(dir) && inst.fs().is_dir(dir) {
                    paths.push(dir.clone());
                }
            }
        }
        let mut layers = Vec::new();
        for path in &paths {
            let dir = inst
                .fs()
                .subtree(path, true)
                .map_err(|e| format!("reading {path} of container {container}: {e}"))?;
            layers.push((path.clone(), dir));
        }
        let mut config = base.config.clone();
        if !commit.cmd.is_empty() {
            config.entrypoint = Vec::new();
            config.cmd = commit.cmd.clone();
        }
        config.labels.extend(commit.labels.clone());
        let record = crate::runtime::image_journal::PushRecord {
            references: commit.references.clone(),
            base: base.reference.clone(),
            layers,
            config,
            time: self.now(),
        };
        self.rt.catalogue().push_recorded(&record)
    }

    fn read_file(&self, pod_uid: &str, container: &str, path: &str) -> Option<Vec<u8>> {
        let inst = self.last_instance(pod_uid, container)?;
        inst.fs().read(path).ok().map(|b| b.to_vec())
    }

    fn run_processes(&self) -> bool {
        let fired = lock(&self.shared.timers).fire(self.now());
        let ran = self.exec.run_ready();
        fired || ran
    }

    fn next_wakeup(&self) -> Option<Timestamp> {
        lock(&self.shared.timers).next()
    }

    fn exec(
        &self,
        id: &ContainerId,
        command: Vec<String>,
        io: super::streams::SessionIo,
    ) -> Result<super::streams::Session, super::streams::StreamError> {
        streams::exec(self, id, command, io)
    }

    fn attach(
        &self,
        id: &ContainerId,
        io: super::streams::SessionIo,
    ) -> Result<super::streams::Session, super::streams::StreamError> {
        streams::attach(self, id, io)
    }

    fn append_log(&self, id: &ContainerId, stream: StreamKind, text: &str) -> bool {
        if self.running(id).is_none() {
            return false;
        }
        crate::runtime::Sink::write(&self.logs.sink(&key_of(id), stream), text.as_bytes());
        true
    }

    fn log_history(&self, id: &ContainerId) -> Vec<super::streams::LogLine> {
        self.logs.history(&key_of(id)).unwrap_or_default()
    }

    fn logs(
        &self,
        id: &ContainerId,
    ) -> Result<super::streams::LogStream, super::streams::StreamError> {
        streams::logs(self, id)
    }

    fn connect(
        &self,
        pod_uid: &str,
        port: u16,
    ) -> Result<tokio::io::DuplexStream, super::streams::StreamError> {
        streams::connect(self, pod_uid, port)
    }
}

/// The pod's `securityContext` user and group apply to each container that does not set its
/// own (the kubelet's effective security context).
fn effective_security_context(c: &mut Container, spec: &PodSpec) {
    let Some(pod_sc) = &spec.security_context else {
        return;
    };
    let sc = c.security_context.get_or_insert_with(Default::default);
    if sc.run_as_user.is_none() {
        sc.run_as_user = pod_sc.run_as_user;
    }
    if sc.run_as_group.is_none() {
        sc.run_as_group = pod_sc.run_as_group;
    }
}
