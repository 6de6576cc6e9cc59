//! A one-pod sandbox over the runtime, for tests and experiments without a kubelet: build a
//! container from an image reference and a `k8s_openapi` Container, run scripts, exec.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::{
    Captured, Catalogue, ContainerInstance, Host, Input, Out, PodInfo, PodVolumes, Runtime, Stdio,
    TestHost, VolumeData,
};

/// What a finished process printed and returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code.
    pub code: i32,
}

/// A runtime, a test host and one pod.
pub struct Sandbox {
    /// The runtime.
    pub rt: Runtime,
    /// Virtual time and DNS.
    pub host: TestHost,
    /// The pod.
    pub pod: PodInfo,
}

impl Sandbox {
    /// A sandbox with the built-in catalogue and a pod `sandbox` (UID `uid-1`) in `default`.
    pub fn new() -> Result<Self, super::CatalogueError> {
        Ok(Sandbox {
            rt: Runtime::new(Catalogue::builtin()?),
            host: TestHost::new(),
            pod: PodInfo {
                uid: "uid-1".into(),
                name: "sandbox".into(),
                namespace: "default".into(),
                hostname: "sandbox".into(),
                node: "node-1".into(),
                ip: Some(std::net::Ipv4Addr::new(10, 244, 0, 5)),
            },
        })
    }

    /// The host as the trait object processes use.
    pub fn host(&self) -> Arc<dyn Host> {
        Arc::new(self.host.clone())
    }

    /// Prepares `spec`'s volumes with `data` for the current pod UID.
    pub fn volumes(
        &self,
        spec: &PodSpec,
        data: &VolumeData,
    ) -> Result<PodVolumes, super::VolumeError> {
        self.rt
            .prepare_pod_volumes(&self.pod, spec, data, self.host.now())
    }

    /// Creates container `c` (its image pulled from the catalogue) with `env`.
    pub fn container(
        &self,
        c: &Container,
        env: &[(String, String)],
        vols: &PodVolumes,
    ) -> Result<ContainerInstance, String> {
        let image = self
            .rt
            .pull(c.image.as_deref().unwrap_or("busybox"))
            .map_err(|e| e.to_string())?;
        self.rt
            .create_container(&self.pod, c, image, env, vols, self.host.now())
            .map_err(|e| e.to_string())
    }

    /// A busybox container with no volumes.
    pub fn busybox(&self) -> Result<ContainerInstance, String> {
        let c = Container {
            name: "main".into(),
            image: Some("busybox".into()),
            ..Default::default()
        };
        self.container(&c, &[], &PodVolumes::default())
    }

    /// Runs `argv` in `inst` to completion with `stdin`.
    pub async fn exec(&self, inst: &ContainerInstance, argv: &[&str], stdin: &[u8]) -> Finished {
        let (out, ob) = Out::capture();
        let (err, eb) = Out::capture();
        let io = Stdio::new(out, err.clone()).with_stdin(Input::bytes(stdin.to_vec()));
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let code = match inst.exec(argv, self.host(), io) {
            Ok(f) => f.await,
            Err(e) => {
                err.print(&format!("{e}\n"));
                127
            }
        };
        Finished {
            stdout: ob.text(),
            stderr: eb.text(),
            code,
        }
    }

    /// Runs `sh -c script` in a fresh busybox container.
    pub async fn sh(&self, script: &str) -> Finished {
        match self.busybox() {
            Ok(inst) => self.exec(&inst, &["sh", "-c", script], b"").await,
            Err(e) => Finished {
                stdout: String::new(),
                stderr: e,
                code: 125,
            },
        }
    }
}

/// Captured stdout/stderr sinks joined into one log, as a container log is.
pub fn log_sink() -> (Stdio, Captured) {
    let (out, buf) = Out::capture();
    (Stdio::new(out.clone(), out), buf)
}
