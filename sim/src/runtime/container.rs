//! Containers: a root filesystem (the image layer plus a copy-on-write layer that a restart
//! discards) with the pod's volumes mounted, the command Kubernetes rules select, and the
//! processes started in it (`start` for PID 1, `exec` for `kubectl exec`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Container;

use super::fs::{Kind, Mount, Node, SharedTree, Vfs, absolute, components};
use super::host::Host;
use super::image::Image;
use super::io::Stdio;
use super::process::{ContainerCtx, Identity, Jobs, Proc, System};
use super::shell::{ExecError, resolve, run_external};
use super::volumes::{PodVolumes, ensure_sub_dir};

/// Who a pod is, for the containers created in it.
#[derive(Debug, Clone, Default)]
pub struct PodInfo {
    /// Pod UID (emptyDirs are keyed by it).
    pub uid: String,
    /// Pod name.
    pub name: String,
    /// Namespace (DNS search domain).
    pub namespace: String,
    /// Hostname (`spec.hostname` or the pod name).
    pub hostname: String,
    /// Node the pod runs on (hostPath volumes are per node).
    pub node: String,
    /// Pod IP.
    pub ip: Option<std::net::Ipv4Addr>,
}

/// Why a container could not be created (the kubelet reports `CreateContainerConfigError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// A volumeMount names a volume the pod does not have.
    #[error(
        "container {container}: volumeMount {volume:?} refers to no volume of the pod (add it to spec.volumes)"
    )]
    MissingVolume {
        /// Container name.
        container: String,
        /// Volume name.
        volume: String,
    },
    /// A subPath is invalid or cannot be created.
    #[error("container {container}: subPath {sub_path:?} of volume {volume:?}: {reason}")]
    BadSubPath {
        /// Container name.
        container: String,
        /// Volume name.
        volume: String,
        /// The subPath.
        sub_path: String,
        /// Why.
        reason: String,
    },
}

/// Expands Kubernetes `$(VAR)` references against `env`; `$$` escapes a `$`.
pub fn expand_k8s_refs(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        if b[i] == b'$' && i + 1 < s.len() {
            if b[i + 1] == b'$' {
                out.push('$');
                i += 2;
                continue;
            }
            if b[i + 1] == b'('
                && let Some(end) = s[i + 2..].find(')')
            {
                let name = &s[i + 2..i + 2 + end];
                match env.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&s[i..i + 3 + end]),
                }
                i += 3 + end;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The command line Kubernetes runs: `command` replaces the entrypoint, `args` the cmd.
pub fn container_argv(c: &Container, image: &Image, env: &BTreeMap<String, String>) -> Vec<String> {
    let expand =
        |v: &Vec<String>| -> Vec<String> { v.iter().map(|a| expand_k8s_refs(a, env)).collect() };
    match (&c.command, &c.args) {
        (Some(cmd), Some(args)) => [expand(cmd), expand(args)].concat(),
        (Some(cmd), None) => expand(cmd),
        (None, Some(args)) => [image.config.entrypoint.clone(), expand(args)].concat(),
        (None, None) => [image.config.entrypoint.clone(), image.config.cmd.clone()].concat(),
    }
}

fn parse_user(u: Option<&str>) -> (u32, u32) {
    let u = u.unwrap_or("0");
    let (user, group) = u.split_once(':').unwrap_or((u, ""));
    let uid = match user {
        "" | "root" => 0,
        "default" => 1001,
        "jboss" => 185,
        other => other.parse().unwrap_or(0),
    };
    (uid, group.parse().unwrap_or(0))
}

/// A created container: what it runs and the filesystem it sees.
pub struct ContainerInstance {
    name: String,
    image: Arc<Image>,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    workdir: String,
    mounts: Vec<Mount>,
    root: SharedTree,
    identity: Identity,
    ctx: Mutex<Arc<ContainerCtx>>,
    restarts: Mutex<u32>,
}

impl std::fmt::Debug for ContainerInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerInstance")
            .field("name", &self.name)
            .field("image", &self.image.reference)
            .field("argv", &self.argv)
            .finish()
    }
}

impl ContainerInstance {
    /// Creates container `c` of pod `pod` from `image`, with the environment the kubelet
    /// resolved (`env`/`envFrom` in order, plus service variables) and the pod's volumes.
    pub fn create(
        pod: &PodInfo,
        c: &Container,
        image: Arc<Image>,
        resolved_env: &[(String, String)],
        volumes: &PodVolumes,
        now: Timestamp,
    ) -> Result<Self, CreateError> {
        let mut env: BTreeMap<String, String> = image.config.env.iter().cloned().collect();
        env.insert("HOSTNAME".into(), pod.hostname.clone());
        for (k, v) in resolved_env {
            let v = expand_k8s_refs(v, &env);
            env.insert(k.clone(), v);
        }
        env.entry("PATH".into())
            .or_insert_with(|| super::shell::DEFAULT_PATH.to_string());
        let (mut uid, mut gid) = parse_user(image.config.user.as_deref());
        if let Some(sc) = &c.security_context {
            if let Some(u) = sc.run_as_user {
                uid = u32::try_from(u).unwrap_or(uid);
            }
            if let Some(g) = sc.run_as_group {
                gid = u32::try_from(g).unwrap_or(gid);
            }
        }
        env.entry("HOME".into()).or_insert_with(
            || {
                if uid == 0 { "/root".into() } else { "/".into() }
            },
        );
        let mut mounts = Vec::new();
        for m in c.volume_mounts.iter().flatten() {
            let handle =
                volumes
                    .by_name
                    .get(&m.name)
                    .ok_or_else(|| CreateError::MissingVolume {
                        container: c.name.clone(),
                        volume: m.name.clone(),
                    })?;
            let sub_path = match (&m.sub_path, &m.sub_path_expr) {
                (Some(s), _) if !s.is_empty() => s.clone(),
                (_, Some(e)) if !e.is_empty() => expand_k8s_refs(e, &env),
                _ => String::new(),
            };
            let bad = |reason: &str| CreateError::BadSubPath {
                container: c.name.clone(),
                volume: m.name.clone(),
                sub_path: sub_path.clone(),
                reason: reason.to_string(),
            };
            if sub_path.starts_with('/') {
                return Err(bad("must be a relative path"));
            }
            let sub_comps = components(&sub_path);
            if sub_comps.iter().any(|s| s == "..") {
                return Err(bad("must not contain '..'"));
            }
            let mut sub = handle.sub.clone();
            sub.extend(sub_comps);
            if !handle.read_only {
                ensure_sub_dir(&handle.tree, &sub, now).map_err(|e| bad(&e.to_string()))?;
            }
            mounts.push(Mount {
                at: components(&m.mount_path),
                tree: handle.tree.clone(),
                sub,
                read_only: handle.read_only || m.read_only.unwrap_or(false),
            });
        }
        let argv = container_argv(c, &image, &env);
        let workdir = c
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .or_else(|| image.config.workdir.clone())
            .unwrap_or_else(|| "/".into());
        let identity = Identity {
            pod_uid: pod.uid.clone(),
            pod_name: pod.name.clone(),
            namespace: pod.namespace.clone(),
            hostname: pod.hostname.clone(),
            pod_ip: pod.ip,
            container: c.name.clone(),
            uid,
            gid,
        };
        let inst = ContainerInstance {
            name: c.name.clone(),
            root: SharedTree::new(image.root.clone()),
            image,
            argv,
            env,
            workdir,
            mounts,
            ctx: Mutex::new(ContainerCtx::new(identity.clone())),
            identity,
            restarts: Mutex::new(0),
        };
        inst.reset_root(now);
        Ok(inst)
    }

    /// Puts the image layer back with mount points and the working dir created.
    fn reset_root(&self, now: Timestamp) {
        self.root.replace(self.image.root.clone());
        let bare = Vfs::new(self.root.clone(), vec![]);
        let fs = self.fs();
        for m in &self.mounts {
            let path = format!("/{}", m.at.join("/"));
            let is_file = fs
                .lstat(&path)
                .map(|meta| meta.kind == Kind::File)
                .unwrap_or(false);
            if bare.exists(&path) {
                continue;
            }
            let parent = absolute(&path, "..");
            let _ = bare.mkdir(&parent, true, 0o755, now);
            let node = if is_file {
                Node::file(Vec::new(), 0o644, now)
            } else {
                Node::empty_dir(0o755, now)
            };
            let _ = bare.put(&path, node, false);
        }
        let _ = fs.mkdir(&self.workdir, true, 0o755, now);
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The image it runs.
    pub fn image(&self) -> &Arc<Image> {
        &self.image
    }

    /// The command line PID 1 runs.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// The environment of its processes.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// Its working directory.
    pub fn workdir(&self) -> &str {
        &self.workdir
    }

    /// The filesystem its processes see (root layer plus mounts).
    pub fn fs(&self) -> Vfs {
        Vfs::new(self.root.clone(), self.mounts.clone())
    }

    /// How many times [`ContainerInstance::restart`] was called.
    pub fn restart_count(&self) -> u32 {
        self.restarts.lock().map(|r| *r).unwrap_or(0)
    }

    fn ctx(&self) -> Arc<ContainerCtx> {
        self.ctx
            .lock()
            .map(|c| c.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Checks that the command can be started (missing binary is a `StartError` in Kubernetes).
    pub fn check_command(&self) -> Result<(), ExecError> {
        if self.argv.is_empty() {
            return Err(ExecError::NotFound("(no command specified)".into()));
        }
        resolve(&self.fs(), &self.env, &self.workdir, &self.argv).map(|_| ())
    }

    /// Starts PID 1. The future ends with its exit code; dropping it kills every process of the
    /// container (SIGKILL). A missing command prints the OCI runtime error and exits 128.
    pub fn start(&self, host: Arc<dyn Host>, io: Stdio) -> BoxFuture<'static, i32> {
        // Every run of the container is a new PID namespace: PID 1 is its first process.
        let ctx = ContainerCtx::new(self.identity.clone());
        if let Ok(mut c) = self.ctx.lock() {
            *c = ctx.clone();
        }
        if let Err(e) = self.check_command() {
            let msg = format!(
                "failed to create containerd task: OCI runtime create failed: exec: \"{}\": {}\n",
                self.argv.first().cloned().unwrap_or_default(),
                match e {
                    ExecError::NotFound(_) => "executable file not found in $PATH",
                    ExecError::PermissionDenied(_) => "permission denied",
                }
            );
            return Box::pin(async move {
                io.stderr.print(&msg);
                128
            });
        }
        let argv = self.argv.clone();
        let this = self.proc_factory();
        Box::pin(Jobs::run_with(move |jobs| {
            ctx.set_daemon_jobs(Some(jobs.clone()));
            let p = this(argv, host, io, ctx.clone(), jobs);
            async move {
                let code = run_external(p).await;
                ctx.set_daemon_jobs(None);
                code
            }
        }))
    }

    /// Runs `argv` in the running container (as `kubectl exec` does), with the container's env
    /// and working dir. Errors when the command does not exist.
    pub fn exec(
        &self,
        argv: Vec<String>,
        host: Arc<dyn Host>,
        io: Stdio,
    ) -> Result<BoxFuture<'static, i32>, ExecError> {
        if argv.is_empty() {
            return Err(ExecError::NotFound(String::new()));
        }
        resolve(&self.fs(), &self.env, &self.workdir, &argv)?;
        let ctx = self.ctx();
        let this = self.proc_factory();
        Ok(Box::pin(Jobs::run_with(move |jobs| {
            let p = this(argv, host, io, ctx, jobs);
            run_external(p)
        })))
    }

    /// A detached constructor for processes, so futures do not borrow the instance.
    #[allow(clippy::type_complexity)]
    fn proc_factory(
        &self,
    ) -> impl FnOnce(Vec<String>, Arc<dyn Host>, Stdio, Arc<ContainerCtx>, Jobs) -> Proc + Send + 'static
    {
        let env = self.env.clone();
        let cwd = self.workdir.clone();
        let fs = self.fs();
        move |argv, host, io, ctx, jobs| {
            let pid = Arc::new(ctx.register(argv.join(" "), host.now()));
            Proc {
                argv,
                env,
                cwd,
                io,
                sys: System { fs, host, ctx },
                pid,
                jobs,
            }
        }
    }

    /// Sends `sig` to PID 1 (SIGTERM on stop; the kubelet drops the future after the grace
    /// period, which is SIGKILL). Returns whether a PID 1 was running.
    pub fn signal(&self, sig: i32) -> bool {
        self.ctx().signal(1, sig)
    }

    /// The processes running in the container now (what `ps` shows).
    pub fn processes(&self) -> Vec<super::process::ProcInfo> {
        self.ctx().processes()
    }

    /// TCP ports listened on in the container now, with the listening PID (for httpGet and
    /// tcpSocket probes, endpoints readiness and port-forward).
    pub fn listening_ports(&self) -> BTreeMap<u16, u32> {
        self.ctx().listening()
    }

    /// Prepares a restart: a fresh writable layer (the image's files again) and a new PID
    /// namespace. Volumes keep their data.
    pub fn restart(&self, now: Timestamp) {
        self.reset_root(now);
        if let Ok(mut c) = self.ctx.lock() {
            *c = ContainerCtx::new(self.identity.clone());
        }
        if let Ok(mut r) = self.restarts.lock() {
            *r += 1;
        }
    }
}
