//! The odo operations the odo scenarios drive, as a trait: the scenarios are written against
//! it, and a driver over the odo CLI library (or the `odo` binary) implements it. With no
//! driver registered, the harness reports [`crate::backend::Capability::Odo`] as missing and
//! the odo scenarios as skipped.

use std::path::Path;

use crate::backend::BoxFut;

/// A component to create: `odo create <component_type> <name> --app <app> --project <ns>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Component type (`nodejs`, `java`, `python`).
    pub component_type: String,
    /// Component name.
    pub name: String,
    /// Application name.
    pub app: String,
    /// Namespace (odo project).
    pub namespace: String,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Files sent to the container.
    pub files_sent: usize,
    /// Files deleted in the container.
    pub files_deleted: usize,
    /// Whether everything was sent (first push, or the pod was replaced).
    pub full: bool,
    /// The name of the pod pushed to.
    pub pod: String,
}

/// What the odo scenarios need from odo; every call runs with the backend's client.
pub trait OdoDriver: Send + Sync {
    /// `odo create` in the component directory `dir` (writes `.odo/config.yaml`).
    fn create<'a>(
        &'a self,
        dir: &'a Path,
        component: &'a Component,
    ) -> BoxFut<'a, anyhow::Result<()>>;
    /// `odo push` from `dir`.
    fn push<'a>(&'a self, dir: &'a Path) -> BoxFut<'a, anyhow::Result<PushReport>>;
    /// `odo url create <name> --port <port>` in `dir` (applied on the next push).
    fn url_create<'a>(
        &'a self,
        dir: &'a Path,
        name: &'a str,
        port: u16,
    ) -> BoxFut<'a, anyhow::Result<()>>;
    /// `odo storage create <name> --path <path> --size <size>` in `dir`.
    fn storage_create<'a>(
        &'a self,
        dir: &'a Path,
        name: &'a str,
        path: &'a str,
        size: &'a str,
    ) -> BoxFut<'a, anyhow::Result<()>>;
    /// `odo delete -f` in `dir`.
    fn delete<'a>(&'a self, dir: &'a Path) -> BoxFut<'a, anyhow::Result<()>>;
}
