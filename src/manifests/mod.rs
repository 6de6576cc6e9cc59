//! Pure functions from a validated component to the Kubernetes objects that run it, for two
//! flavors: `kubernetes` (Deployment + Service + Secrets + PVCs + Ingress) and `openshift`
//! (DeploymentConfig + ImageStream + Service + Secrets + PVCs + Route). No I/O happens here; the
//! `cluster` module applies what this module renders.

pub mod common;
pub mod kubernetes;
pub mod meta;
pub mod openshift;
pub mod pod;

use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use serde::Serialize;

use crate::catalog::{ResolvedType, S2iPaths};
use crate::config::local::UrlEntry;
use crate::config::validate::PortSpec;
use crate::config::{Component, SourceType, UrlKind};

/// Which set of workload and exposure objects to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flavor {
    /// Deployment + Ingress.
    Kubernetes,
    /// DeploymentConfig + ImageStream + Route.
    OpenShift,
}

impl Flavor {
    /// Lower-case name (`kubernetes`, `openshift`).
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Kubernetes => "kubernetes",
            Flavor::OpenShift => "openshift",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Flavor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "kubernetes" | "kube" | "k8s" => Ok(Flavor::Kubernetes),
            "openshift" | "ocp" => Ok(Flavor::OpenShift),
            _ => Err(format!(
                "unknown flavor {s:?}: expected kubernetes or openshift"
            )),
        }
    }
}

/// Everything rendering needs.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    /// The validated component.
    pub component: &'a Component,
    /// Namespace the objects go into.
    pub namespace: &'a str,
    /// The resolved builder image.
    pub builder: &'a ResolvedType,
    /// The builder's s2i paths.
    pub s2i: &'a S2iPaths,
    /// The init image reference.
    pub init_image: &'a str,
    /// The odo version written into `managed-by-version`.
    pub odo_version: &'a str,
}

impl RenderInput<'_> {
    /// The component's ports, or the builder image's when the component sets none.
    pub fn ports(&self) -> Vec<PortSpec> {
        if self.component.ports.is_empty() {
            self.builder.builder.port_specs()
        } else {
            self.component.ports.clone()
        }
    }
}

/// The kinds odo renders, with their API coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Kind {
    /// core/v1 PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// image.openshift.io/v1 ImageStream.
    ImageStream,
    /// build.openshift.io/v1 BuildConfig (git components).
    BuildConfig,
    /// apps.openshift.io/v1 DeploymentConfig.
    DeploymentConfig,
    /// apps/v1 Deployment.
    Deployment,
    /// core/v1 Service.
    Service,
    /// core/v1 Secret.
    Secret,
    /// networking.k8s.io/v1 Ingress.
    Ingress,
    /// route.openshift.io/v1 Route.
    Route,
}

impl Kind {
    /// Every kind, in apply order.
    pub const ALL: [Kind; 9] = [
        Kind::PersistentVolumeClaim,
        Kind::ImageStream,
        Kind::BuildConfig,
        Kind::DeploymentConfig,
        Kind::Deployment,
        Kind::Service,
        Kind::Secret,
        Kind::Ingress,
        Kind::Route,
    ];

    /// (group, version, kind, plural).
    pub fn gvk(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Kind::PersistentVolumeClaim => {
                ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims")
            }
            Kind::ImageStream => ("image.openshift.io", "v1", "ImageStream", "imagestreams"),
            Kind::BuildConfig => ("build.openshift.io", "v1", "BuildConfig", "buildconfigs"),
            Kind::DeploymentConfig => (
                "apps.openshift.io",
                "v1",
                "DeploymentConfig",
                "deploymentconfigs",
            ),
            Kind::Deployment => ("apps", "v1", "Deployment", "deployments"),
            Kind::Service => ("", "v1", "Service", "services"),
            Kind::Secret => ("", "v1", "Secret", "secrets"),
            Kind::Ingress => ("networking.k8s.io", "v1", "Ingress", "ingresses"),
            Kind::Route => ("route.openshift.io", "v1", "Route", "routes"),
        }
    }

    /// The kinds a flavor uses.
    pub fn for_flavor(flavor: Flavor) -> Vec<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|k| match flavor {
                Flavor::Kubernetes => !matches!(
                    k,
                    Kind::ImageStream | Kind::BuildConfig | Kind::DeploymentConfig | Kind::Route
                ),
                // Ingresses too: urls made with `--ingress`.
                Flavor::OpenShift => !matches!(k, Kind::Deployment),
            })
            .collect()
    }
}

/// One rendered object in a form any client can apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Its kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// The object (apiVersion, kind, metadata, spec ...).
    pub object: serde_json::Value,
}

/// The workload, per flavor.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// kubernetes flavor.
    Deployment(Box<Deployment>),
    /// openshift flavor.
    DeploymentConfig(Box<openshift::DeploymentConfig>),
}

/// Everything that runs a component, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The flavor rendered.
    pub flavor: Flavor,
    /// The `-s2idata` PVC first, then user storage.
    pub pvcs: Vec<PersistentVolumeClaim>,
    /// openshift only.
    pub image_stream: Option<openshift::ImageStream>,
    /// openshift git components only: builds the ImageStream's `latest` tag.
    pub build_config: Option<openshift::BuildConfig>,
    /// Deployment or DeploymentConfig.
    pub workload: Workload,
    /// The component's Service.
    pub service: Option<Service>,
    /// Per-port Secrets.
    pub secrets: Vec<Secret>,
    /// kubernetes only.
    pub ingresses: Vec<Ingress>,
    /// openshift only.
    pub routes: Vec<openshift::Route>,
}

/// Errors rendering a component.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// A url points at a port the component does not expose.
    #[error(
        "url {url:?} uses port {port}, which component {component:?} does not expose (ports: {ports})"
    )]
    UrlPort {
        /// Url name.
        url: String,
        /// Its port.
        port: u16,
        /// Component name.
        component: String,
        /// The component's ports.
        ports: String,
    },
    /// Serialization failed (a bug).
    #[error("cannot serialize {0}: {1}")]
    Serialize(String, String),
}

/// Renders the objects for a flavor.
pub fn render(input: &RenderInput<'_>, flavor: Flavor) -> Result<Rendered, ManifestError> {
    let ports = input.ports();
    for url in &input.component.urls {
        if !ports.iter().any(|p| p.port == url.port) {
            return Err(ManifestError::UrlPort {
                url: url.name.clone(),
                port: url.port,
                component: input.component.name.clone(),
                ports: ports
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            });
        }
    }
    let git = input.component.source_type == SourceType::Git;
    let built = git || (flavor == Flavor::OpenShift && openshift::is_built(input.component));
    // A git (or, on OpenShift, binary) component runs the image its build produced: no sources
    // are synced, so no `-s2idata` PVC.
    let mut pvcs = if built {
        Vec::new()
    } else {
        vec![common::s2i_data_pvc(input)]
    };
    pvcs.extend(common::storage_pvcs(input));
    let build_config =
        (built && flavor == Flavor::OpenShift).then(|| openshift::build_config(input));
    let (image_stream, workload, ingresses, routes) = match flavor {
        Flavor::Kubernetes => (
            None,
            Workload::Deployment(Box::new(kubernetes::deployment(input))),
            input
                .component
                .urls
                .iter()
                .map(|u| kubernetes::ingress(input, u))
                .collect(),
            Vec::new(),
        ),
        // A url made with `odo url create --ingress` is an Ingress on OpenShift too.
        Flavor::OpenShift => {
            let (ingress, route): (Vec<&UrlEntry>, Vec<&UrlEntry>) = input
                .component
                .urls
                .iter()
                .partition(|u| u.kind_on(flavor) == UrlKind::Ingress);
            (
                Some(openshift::image_stream(input)),
                Workload::DeploymentConfig(Box::new(openshift::deployment_config(input))),
                ingress
                    .into_iter()
                    .map(|u| kubernetes::ingress(input, u))
                    .collect(),
                route
                    .into_iter()
                    .map(|u| openshift::route(input, u))
                    .collect(),
            )
        }
    };
    Ok(Rendered {
        flavor,
        pvcs,
        image_stream,
        build_config,
        workload,
        service: common::service(input, flavor),
        secrets: common::port_secrets(input),
        ingresses,
        routes,
    })
}

fn to_manifest<T: Serialize>(
    kind: Kind,
    name: Option<&String>,
    obj: &T,
) -> Result<Manifest, ManifestError> {
    let mut object = serde_json::to_value(obj)
        .map_err(|e| ManifestError::Serialize(kind.gvk().2.into(), e.to_string()))?;
    // Typed k8s-openapi objects carry apiVersion/kind through their Resource impl; make sure every
    // manifest has them, whatever type it came from.
    let (group, version, kind_name, _) = kind.gvk();
    if let Some(map) = object.as_object_mut() {
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        map.insert("apiVersion".into(), api_version.into());
        map.insert("kind".into(), kind_name.into());
    }
    Ok(Manifest {
        kind,
        name: name.cloned().unwrap_or_default(),
        object,
    })
}

impl Rendered {
    /// All objects in apply order: PVCs, ImageStream, workload, Service, Secrets, Ingresses/Routes.
    pub fn manifests(&self) -> Result<Vec<Manifest>, ManifestError> {
        let mut out = Vec::new();
        for pvc in &self.pvcs {
            out.push(to_manifest(
                Kind::PersistentVolumeClaim,
                pvc.metadata.name.as_ref(),
                pvc,
            )?);
        }
        if let Some(is) = &self.image_stream {
            out.push(to_manifest(
                Kind::ImageStream,
                is.metadata.name.as_ref(),
                is,
            )?);
        }
        if let Some(bc) = &self.build_config {
            out.push(to_manifest(
                Kind::BuildConfig,
                bc.metadata.name.as_ref(),
                bc,
            )?);
        }
        match &self.workload {
            Workload::Deployment(d) => {
                out.push(to_manifest(Kind::Deployment, d.metadata.name.as_ref(), d)?)
            }
            Workload::DeploymentConfig(dc) => out.push(to_manifest(
                Kind::DeploymentConfig,
                dc.metadata.name.as_ref(),
                dc,
            )?),
        }
        if let Some(svc) = &self.service {
            out.push(to_manifest(Kind::Service, svc.metadata.name.as_ref(), svc)?);
        }
        for s in &self.secrets {
            out.push(to_manifest(Kind::Secret, s.metadata.name.as_ref(), s)?);
        }
        for i in &self.ingresses {
            out.push(to_manifest(Kind::Ingress, i.metadata.name.as_ref(), i)?);
        }
        for r in &self.routes {
            out.push(to_manifest(Kind::Route, r.metadata.name.as_ref(), r)?);
        }
        Ok(out)
    }

    /// The workload's kind.
    pub fn workload_kind(&self) -> Kind {
        match self.workload {
            Workload::Deployment(_) => Kind::Deployment,
            Workload::DeploymentConfig(_) => Kind::DeploymentConfig,
        }
    }
}
