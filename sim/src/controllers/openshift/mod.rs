//! The OpenShift controllers (flavor `openshift` only): what makes the objects of the
//! OpenShift API groups act, driven by the same work queue and virtual clock as the
//! Kubernetes controllers.
//!
//! - [`deploymentconfig`][]: DeploymentConfigs (ConfigChange and ImageChange triggers, one
//!   ReplicationController `<dc>-<n>` per version, a deployer pod per rollout, Rolling and
//!   Recreate strategies, revision history)
//! - [`strategy`][]: the deployer's steps (what the deployer pod does on a real cluster)
//! - [`imagestream`][]: ImageStreams (tag imports, tracking tags, history, scheduled imports)
//! - [`route`][]: the default router admitting Routes (`status.ingress`)
//! - [`build`][]: BuildConfigs and Builds (S2I: the builder's `assemble` over the source in
//!   a build pod, the assembled image pushed to its ImageStreamTag and the image catalogue)
//! - [`images`][]: image references, simulated digests and ImageStream status helpers shared
//!   with the API endpoints
//! - [`admission`][]: OpenShift defaulting and validation called from the store's admission

pub mod admission;
pub mod build;
mod deployer_log;
pub(crate) mod deploymentconfig;
mod hooks;
pub mod images;
pub(crate) mod imagestream;
pub(crate) mod route;
pub(crate) mod strategy;
mod tag_images;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Value;

use super::cache::{Objects, controller_of};
use crate::cluster::World;
use crate::resources::TypeId;
use crate::store::{EventType, ObjKey, Store, StoreEvent, meta};

/// Annotation naming the DeploymentConfig of a ReplicationController, its pods and deployer.
pub const DC_NAME: &str = "openshift.io/deployment-config.name";
/// Label naming the ReplicationController a deployer or hook pod works for.
pub const DEPLOYER_FOR: &str = "openshift.io/deployer-pod-for.name";

/// The OpenShift resource types the controllers work with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kinds {
    /// deploymentconfigs.apps.openshift.io
    pub dc: Option<TypeId>,
    /// imagestreams.image.openshift.io
    pub is: Option<TypeId>,
    /// routes.route.openshift.io
    pub route: Option<TypeId>,
    /// buildconfigs.build.openshift.io
    pub bc: Option<TypeId>,
    /// builds.build.openshift.io
    pub build: Option<TypeId>,
}

impl Kinds {
    /// Looks the types up in a store's registry (all None on the kubernetes flavor).
    pub fn of(store: &Store) -> Self {
        let id = |g: &str, p: &str| store.resolve(g, "v1", p).map(|(id, _)| id);
        Self {
            dc: id("apps.openshift.io", "deploymentconfigs"),
            is: id("image.openshift.io", "imagestreams"),
            route: id("route.openshift.io", "routes"),
            bc: id("build.openshift.io", "buildconfigs"),
            build: id("build.openshift.io", "builds"),
        }
    }

    /// Every type whose objects the cache keeps.
    pub fn all(&self) -> [Option<TypeId>; 5] {
        [self.dc, self.is, self.route, self.bc, self.build]
    }
}

/// One OpenShift reconcile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Work {
    /// DeploymentConfig controller.
    DeploymentConfig(ObjKey),
    /// ImageStream controller (imports, tracking tags, status).
    ImageStream(ObjKey),
    /// A scheduled re-import of one tag of an ImageStream fell due.
    ScheduledImport(ObjKey, String),
    /// The router admitting a Route.
    Route(ObjKey),
    /// BuildConfig controller.
    BuildConfig(ObjKey),
    /// Build controller.
    Build(ObjKey),
}

impl Work {
    /// A short name of the kind of work, for statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Work::DeploymentConfig(_) => "deploymentconfig",
            Work::ImageStream(_) => "imagestream",
            Work::ScheduledImport(..) => "imageimport",
            Work::Route(_) => "route",
            Work::BuildConfig(_) => "buildconfig",
            Work::Build(_) => "build",
        }
    }
}

/// The OpenShift objects the controllers read, kept by the cluster's store hook.
#[derive(Debug, Default)]
pub struct Cache {
    /// DeploymentConfigs.
    pub dc: Objects,
    /// ImageStreams.
    pub is: Objects,
    /// Routes.
    pub routes: Objects,
    /// BuildConfigs.
    pub bcs: Objects,
    /// Builds.
    pub builds: Objects,
    /// Scheduled imports waiting on the clock: (stream, tag) -> when.
    pub(crate) imports: BTreeMap<(ObjKey, String), Timestamp>,
}

fn key_of(obj: &Value) -> ObjKey {
    (
        meta::namespace(obj).to_string(),
        meta::name(obj).to_string(),
    )
}

fn put(map: &mut Objects, ev: &StoreEvent) -> ObjKey {
    let key = key_of(&ev.object);
    if ev.event_type == EventType::Deleted {
        map.remove(&key);
    } else {
        map.insert(key.clone(), ev.object.clone());
    }
    key
}

/// The ImageStreams (namespace, name) an ImageChange trigger or tag `from` refers to.
pub(crate) fn referenced_stream(from: &Value, default_ns: &str) -> Option<ObjKey> {
    let kind = from.get("kind").and_then(Value::as_str)?;
    let name = from.get("name").and_then(Value::as_str)?;
    let ns = from
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(default_ns);
    let stream = match kind {
        "ImageStreamTag" => name.split_once(':').map(|(s, _)| s)?,
        "ImageStreamImage" => name.split_once('@').map(|(s, _)| s)?,
        _ => return None,
    };
    Some((ns.to_string(), stream.to_string()))
}

impl Cache {
    /// Updates the cache from one committed change; returns the reconciles it triggers.
    pub fn observe(&mut self, k: &super::cache::Kinds, ev: &StoreEvent) -> Vec<Work> {
        let os = k.openshift;
        let t = Some(ev.type_id);
        let mut out = Vec::new();
        // The kubernetes flavor serves none of these types: nothing here has work to do.
        if os.dc.is_none() {
            return out;
        }
        if t == os.dc {
            out.push(Work::DeploymentConfig(put(&mut self.dc, ev)));
        } else if t == os.is {
            let key = put(&mut self.is, ev);
            out.push(Work::ImageStream(key.clone()));
            // Streams with tags tracking this one, and DeploymentConfigs triggered by it.
            for (k2, s) in &self.is {
                let spec_tags = s.pointer("/spec/tags").and_then(Value::as_array);
                if *k2 != key
                    && spec_tags.is_some_and(|tags| {
                        tags.iter().any(|tag| {
                            tag.get("from")
                                .and_then(|f| referenced_stream(f, &k2.0))
                                .as_ref()
                                == Some(&key)
                        })
                    })
                {
                    out.push(Work::ImageStream(k2.clone()));
                }
            }
            for (k2, bc) in &self.bcs {
                if build::image_trigger_streams(bc).contains(&key) {
                    out.push(Work::BuildConfig(k2.clone()));
                }
            }
            for (k2, dc) in &self.dc {
                if deploymentconfig::image_triggers(dc).any(|p| {
                    p.get("from").and_then(|f| referenced_stream(f, &k2.0)) == Some(key.clone())
                }) {
                    out.push(Work::DeploymentConfig(k2.clone()));
                }
            }
        } else if t == os.route {
            let key = put(&mut self.routes, ev);
            // Host conflicts are decided among all routes: the others may change state too.
            for k2 in self.routes.keys() {
                if *k2 != key {
                    out.push(Work::Route(k2.clone()));
                }
            }
            out.push(Work::Route(key));
        } else if t == os.bc {
            out.push(Work::BuildConfig(put(&mut self.bcs, ev)));
        } else if t == os.build {
            out.push(Work::Build(put(&mut self.builds, ev)));
        } else if t == k.rc || t == k.pod {
            for o in [ev.old.as_deref(), Some(&*ev.object)].into_iter().flatten() {
                let ns = meta::namespace(o).to_string();
                if t == k.pod
                    && let Some(b) = o
                        .pointer("/metadata/annotations")
                        .and_then(|a| a.get(build::BUILD_NAME))
                        .and_then(Value::as_str)
                {
                    out.push(Work::Build((ns.clone(), b.to_string())));
                }
                if t == k.rc
                    && let Some(("DeploymentConfig", name, _)) = controller_of(o)
                {
                    out.push(Work::DeploymentConfig((ns.clone(), name.to_string())));
                }
                // Deployer pods and the pods of every version carry the DC's name: the
                // deployer waits on both (Recreate waits for old pods to be gone).
                if t == k.pod
                    && let Some(dc) = o
                        .pointer("/metadata/annotations")
                        .and_then(|a| a.get(DC_NAME))
                        .and_then(Value::as_str)
                {
                    out.push(Work::DeploymentConfig((ns, dc.to_string())));
                }
            }
        }
        out
    }
}

/// Runs one OpenShift reconcile.
pub(crate) fn reconcile(w: &mut World<'_>, work: Work) {
    match work {
        Work::DeploymentConfig(k) => deploymentconfig::reconcile(w, &k),
        Work::ImageStream(k) => imagestream::reconcile(w, &k, None),
        Work::ScheduledImport(k, tag) => {
            w.cache()
                .openshift
                .imports
                .remove(&(k.clone(), tag.clone()));
            imagestream::reconcile(w, &k, Some(&tag));
        }
        Work::Route(k) => route::reconcile(w, &k),
        Work::BuildConfig(k) => build::reconcile_config(w, &k),
        Work::Build(k) => build::reconcile_build(w, &k),
    }
}

/// A fresh copy of a cached object.
pub(crate) fn cached(map: &Objects, key: &ObjKey) -> Option<Arc<Value>> {
    map.get(key).cloned()
}
