//! The container runtime the kubelet drives: images, volumes, container filesystems, and the
//! processes (a shell and builtin programs) that run in them.
//!
//! Nothing here talks to the API server or reads the wall clock: the kubelet passes resolved
//! data in (ConfigMap bytes, bound PV names, env) and provides time and DNS through [`Host`].
//!
//! # How the kubelet uses it
//! ```no_run
//! # async fn demo(pod_spec: k8s_openapi::api::core::v1::PodSpec) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use odo_sim::runtime::*;
//! let rt = Runtime::new(Catalogue::builtin()?);
//! let host: Arc<dyn Host> = Arc::new(TestHost::new());
//! let pod = PodInfo { uid: "u1".into(), name: "p".into(), namespace: "default".into(),
//!                     hostname: "p".into(), node: "node-1".into(), ip: None };
//! // 1. volumes (again on every sync: the same emptyDirs come back for the same UID)
//! let vols = rt.prepare_pod_volumes(&pod, &pod_spec, &VolumeData::default(), host.now())?;
//! // 2. per container: pull (ErrImagePull on error), create (CreateContainerConfigError),
//! //    start; the future's output is the exit code, the sinks are the container log
//! let c = &pod_spec.containers[0];
//! let image = rt.pull(c.image.as_deref().unwrap_or(""))?;
//! let inst = rt.create_container(&pod, c, image, &[], &vols, host.now())?;
//! let (log, buf) = Out::capture();
//! let exit = inst.start(host.clone(), Stdio::new(log.clone(), log)).await;
//! // 3. restart with a fresh writable layer, or exec into it:
//! inst.restart(host.now());
//! let code = inst.exec(vec!["ls".into()], host.clone(), Stdio::new(Out::null(), Out::null()))?.await;
//! // 4. pod gone: emptyDirs go; PV data stays until reclaimed with policy Delete
//! rt.remove_pod(&pod.uid);
//! rt.reclaim_pv("pv-1");
//! # let _ = (exit, code, buf); Ok(()) }
//! ```
//! Stopping a container: `inst.signal(SIGTERM)`, wait for the future up to the grace period,
//! then drop it (SIGKILL). PID 1 ignores SIGTERM unless the program handles it (go-init,
//! supervisord, the servers and shells with `trap ... TERM` do; a plain `sh -c` does not), as
//! on Linux.
//!
//! Notes for the kubelet:
//! - Env: [`resolve_env`] turns `envFrom`/`env` into the list `create_container` takes (the
//!   kubelet adds Service variables); `$(VAR)` in command/args is expanded at create.
//! - Errors map to reasons: [`PullError`] to `ErrImagePull`, [`VolumeError`] to `FailedMount`,
//!   [`CreateError`]/[`EnvError`] to `CreateContainerConfigError`, a failing
//!   [`ContainerInstance::check_command`] to `StartError` (start then exits 128 with the
//!   containerd message in the log).
//! - Each `start` is a new PID namespace; exec only into a started, running container (an exec
//!   before start would become PID 1 of an unstarted namespace).
//! - [`ContainerInstance::listening_ports`] says which TCP ports are served now (node, python,
//!   java, hello-openshift, `serve PORT`): use it for httpGet/tcpSocket probes and endpoints.
//! - Logs: pass a [`Sink`] that timestamps and stores lines; stdout and stderr may be the same.
//! - Time: implement [`Host`] over the simulator clock; [`TestHost`] is instant by default and
//!   has a manual mode (`TestHost::manual`, `advance`) for tests of waiting behaviour.

pub mod container;
pub mod env;
pub mod fs;
pub mod host;
pub mod image;
pub mod image_journal;
pub mod io;
pub mod process;
pub mod programs;
pub mod resources;
pub mod sandbox;
pub mod shell;
pub mod volumes;

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, PodSpec};

pub use container::{ContainerInstance, CreateError, PodInfo, container_argv, expand_k8s_refs};
pub use env::{EnvError, resolve_env};
pub use fs::{FsError, Node, SharedTree, Vfs};
pub use host::{Host, TestHost};
pub use image::{Catalogue, CatalogueError, Image, ImageConfig, PullError, normalize};
pub use io::{Captured, Input, Out, Sink, Stdio};
pub use process::{SIGKILL, SIGTERM};
pub use resources::{ContainerResources, PodResources, Quantity, ResourceError};
pub use shell::ExecError;
pub use volumes::{PodVolumes, VolumeData, VolumeError, VolumeHandle, Volumes};

/// The runtime of a simulated cluster: one image catalogue and the volume data of every node.
#[derive(Clone)]
pub struct Runtime {
    catalogue: Arc<Catalogue>,
    volumes: Volumes,
}

impl Runtime {
    /// A runtime over `catalogue`.
    pub fn new(catalogue: Catalogue) -> Self {
        Runtime {
            catalogue: Arc::new(catalogue),
            volumes: Volumes::default(),
        }
    }

    /// The image catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Resolves an image reference (`ErrImagePull` when it fails).
    pub fn pull(&self, reference: &str) -> Result<Arc<Image>, PullError> {
        self.catalogue.pull(reference)
    }

    /// Sets up the volumes of a pod (idempotent per pod UID).
    pub fn prepare_pod_volumes(
        &self,
        pod: &PodInfo,
        spec: &PodSpec,
        data: &VolumeData,
        now: Timestamp,
    ) -> Result<PodVolumes, VolumeError> {
        self.volumes.prepare(&pod.uid, &pod.node, spec, data, now)
    }

    /// Creates a container of a pod (see [`ContainerInstance::create`]).
    pub fn create_container(
        &self,
        pod: &PodInfo,
        container: &Container,
        image: Arc<Image>,
        env: &[(String, String)],
        volumes: &PodVolumes,
        now: Timestamp,
    ) -> Result<ContainerInstance, CreateError> {
        ContainerInstance::create(pod, container, image, env, volumes, now)
    }

    /// Drops what lives as long as the pod UID (emptyDirs, materialised volumes).
    pub fn remove_pod(&self, pod_uid: &str) {
        self.volumes.remove_pod(pod_uid);
    }

    /// Deletes the data of PV `name` (reclaim policy Delete); true if it held data.
    pub fn reclaim_pv(&self, name: &str) -> bool {
        self.volumes.reclaim_pv(name)
    }

    /// Volume storage, for inspection (tests, `odo-sim` state dumps).
    pub fn volumes(&self) -> &Volumes {
        &self.volumes
    }
}
