//! Volume storage and its lifetimes: emptyDir per pod UID, PV data per PV name, hostPath per
//! node, and read-only trees materialised from configMap/secret/downwardAPI/projected data.
//!
//! The runtime never talks to the API: the kubelet resolves ConfigMaps, Secrets, claims and
//! downward fields into a [`VolumeData`] and passes it in.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, PodSpec, Volume};

use super::fs::{FsError, Node, SharedTree, Vfs, components};
use super::resources::PodResources;

/// Data the kubelet resolved from the API for one pod's volumes.
#[derive(Debug, Clone, Default)]
pub struct VolumeData {
    /// ConfigMap name to its keys and bytes (`data` and `binaryData` merged).
    pub config_maps: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Secret name to its keys and decoded bytes.
    pub secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// PVC name (in the pod's namespace) to the name of the PV bound to it.
    pub claims: BTreeMap<String, String>,
    /// Downward API field paths (`metadata.name`, `metadata.labels`, ...) to their rendering.
    pub fields: BTreeMap<String, String>,
    /// The containers' resources and the node's allocatable (`resourceFieldRef`).
    pub resources: PodResources,
}

/// Why a pod's volumes could not be set up (the kubelet reports `FailedMount`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    /// A PVC is not bound to a PV yet.
    #[error(
        "volume {volume}: persistentVolumeClaim \"{claim}\" is not bound (bind it to a PV first)"
    )]
    UnboundClaim {
        /// Volume name.
        volume: String,
        /// Claim name.
        claim: String,
    },
    /// A ConfigMap or Secret that is not optional is missing.
    #[error("volume {volume}: {kind} \"{name}\" not found")]
    MissingSource {
        /// Volume name.
        volume: String,
        /// `configmap` or `secret`.
        kind: &'static str,
        /// Object name.
        name: String,
    },
    /// A key listed in `items` is missing from its ConfigMap or Secret.
    #[error("volume {volume}: key \"{key}\" not found in {kind} \"{name}\"")]
    MissingKey {
        /// Volume name.
        volume: String,
        /// `configmap` or `secret`.
        kind: &'static str,
        /// Object name.
        name: String,
        /// Missing key.
        key: String,
    },
    /// A hostPath of type Directory/File does not exist on the node.
    #[error("volume {volume}: hostPath {path} of type {type_} does not exist on node {node}")]
    HostPathMissing {
        /// Volume name.
        volume: String,
        /// Path on the node.
        path: String,
        /// The declared type.
        type_: String,
        /// Node name.
        node: String,
    },
    /// A `resourceFieldRef` item whose value cannot be worked out.
    #[error("volume {volume}: item {path:?}: {reason}")]
    Resource {
        /// Volume name.
        volume: String,
        /// The item's path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A path inside the volume is invalid (absolute, `..`).
    #[error("volume {volume}: invalid path {path:?}: {reason}")]
    BadPath {
        /// Volume name.
        volume: String,
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

impl VolumeError {
    /// The name of the volume that could not be set up.
    pub fn volume(&self) -> &str {
        match self {
            VolumeError::UnboundClaim { volume, .. }
            | VolumeError::MissingSource { volume, .. }
            | VolumeError::MissingKey { volume, .. }
            | VolumeError::HostPathMissing { volume, .. }
            | VolumeError::Resource { volume, .. }
            | VolumeError::BadPath { volume, .. } => volume,
        }
    }
}

/// One prepared volume: a tree (and the path inside it) containers mount.
#[derive(Debug, Clone)]
pub struct VolumeHandle {
    /// The shared tree.
    pub tree: SharedTree,
    /// Path inside the tree that the volume's root is (hostPath), as components.
    pub sub: Vec<String>,
    /// Read-only by nature (configMap, secret, downwardAPI, projected).
    pub read_only: bool,
}

/// The prepared volumes of one pod, by volume name.
#[derive(Debug, Clone, Default)]
pub struct PodVolumes {
    /// Volume name to handle.
    pub by_name: BTreeMap<String, VolumeHandle>,
}

#[derive(Default)]
struct Store {
    empty_dirs: BTreeMap<(String, String), SharedTree>,
    files: BTreeMap<(String, String), SharedTree>,
    pvs: BTreeMap<String, SharedTree>,
    nodes: BTreeMap<String, SharedTree>,
}

/// Every volume's data on every simulated node.
#[derive(Clone, Default)]
pub struct Volumes {
    store: Arc<Mutex<Store>>,
}

fn key_path(volume: &str, p: &str) -> Result<Vec<String>, VolumeError> {
    let bad = |reason: &str| VolumeError::BadPath {
        volume: volume.to_string(),
        path: p.to_string(),
        reason: reason.to_string(),
    };
    if p.starts_with('/') {
        return Err(bad("must be relative"));
    }
    let comps = components(p);
    if comps.iter().any(|c| c == "..") {
        return Err(bad("must not contain '..'"));
    }
    if comps.is_empty() {
        return Err(bad("must not be empty"));
    }
    Ok(comps)
}

fn insert_file(root: &mut Node, path: &[String], data: Vec<u8>, mode: u32, t: Timestamp) {
    let Some((name, dirs)) = path.split_last() else {
        return;
    };
    let mut cur = root;
    for d in dirs {
        let Node::Dir(dir) = cur else { return };
        let child = dir
            .entries
            .entry(d.clone())
            .or_insert_with(|| Arc::new(Node::empty_dir(0o755, t)));
        cur = Arc::make_mut(child);
    }
    if let Node::Dir(dir) = cur {
        dir.entries
            .insert(name.clone(), Arc::new(Node::file(data, mode, t)));
    }
}

fn mode_of(m: Option<i32>, default: u32) -> u32 {
    m.and_then(|m| u32::try_from(m).ok()).unwrap_or(default) & 0o7777
}

/// Materialises the keys of a ConfigMap/Secret into `root` (all keys, or `items`).
#[allow(clippy::too_many_arguments)]
fn project_keys(
    root: &mut Node,
    volume: &str,
    kind: &'static str,
    name: &str,
    source: Option<&BTreeMap<String, Vec<u8>>>,
    items: Option<&Vec<KeyToPath>>,
    optional: bool,
    default_mode: u32,
    t: Timestamp,
) -> Result<(), VolumeError> {
    let Some(data) = source else {
        if optional {
            return Ok(());
        }
        return Err(VolumeError::MissingSource {
            volume: volume.to_string(),
            kind,
            name: name.to_string(),
        });
    };
    match items {
        None => {
            for (k, v) in data {
                let path = key_path(volume, k)?;
                insert_file(root, &path, v.clone(), default_mode, t);
            }
        }
        Some(items) => {
            for item in items {
                let Some(v) = data.get(&item.key) else {
                    if optional {
                        continue;
                    }
                    return Err(VolumeError::MissingKey {
                        volume: volume.to_string(),
                        kind,
                        name: name.to_string(),
                        key: item.key.clone(),
                    });
                };
                let path = key_path(volume, &item.path)?;
                insert_file(root, &path, v.clone(), mode_of(item.mode, default_mode), t);
            }
        }
    }
    Ok(())
}

fn project_fields(
    root: &mut Node,
    volume: &str,
    items: &[DownwardAPIVolumeFile],
    data: &VolumeData,
    default_mode: u32,
    t: Timestamp,
) -> Result<(), VolumeError> {
    for item in items {
        let value = match (&item.field_ref, &item.resource_field_ref) {
            (Some(f), _) => data.fields.get(&f.field_path).cloned().unwrap_or_default(),
            (None, Some(r)) => {
                let failed = |reason: String| VolumeError::Resource {
                    volume: volume.to_string(),
                    path: item.path.clone(),
                    reason,
                };
                // A volume belongs to no one container: the API requires the name.
                let container = r
                    .container_name
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| failed("resourceFieldRef.containerName is required".into()))?;
                data.resources
                    .value(
                        container,
                        &r.resource,
                        r.divisor.as_ref().map(|d| d.0.as_str()),
                    )
                    .map_err(|e| failed(e.to_string()))?
            }
            (None, None) => String::new(),
        };
        let path = key_path(volume, &item.path)?;
        insert_file(
            root,
            &path,
            value.into_bytes(),
            mode_of(item.mode, default_mode),
            t,
        );
    }
    Ok(())
}

/// Builds the read-only tree of a configMap/secret/downwardAPI/projected volume, if it is one.
fn materialise(v: &Volume, data: &VolumeData, t: Timestamp) -> Result<Option<Node>, VolumeError> {
    let mut root = Node::empty_dir(0o777, t);
    let vol = v.name.as_str();
    if let Some(cm) = &v.config_map {
        project_keys(
            &mut root,
            vol,
            "configmap",
            &cm.name,
            data.config_maps.get(&cm.name),
            cm.items.as_ref(),
            cm.optional.unwrap_or(false),
            mode_of(cm.default_mode, 0o644),
            t,
        )?;
    } else if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        project_keys(
            &mut root,
            vol,
            "secret",
            &name,
            data.secrets.get(&name),
            s.items.as_ref(),
            s.optional.unwrap_or(false),
            mode_of(s.default_mode, 0o644),
            t,
        )?;
    } else if let Some(d) = &v.downward_api {
        project_fields(
            &mut root,
            vol,
            d.items.as_deref().unwrap_or_default(),
            data,
            mode_of(d.default_mode, 0o644),
            t,
        )?;
    } else if let Some(p) = &v.projected {
        let mode = mode_of(p.default_mode, 0o644);
        for src in p.sources.iter().flatten() {
            if let Some(cm) = &src.config_map {
                project_keys(
                    &mut root,
                    vol,
                    "configmap",
                    &cm.name,
                    data.config_maps.get(&cm.name),
                    cm.items.as_ref(),
                    cm.optional.unwrap_or(false),
                    mode,
                    t,
                )?;
            }
            if let Some(s) = &src.secret {
                project_keys(
                    &mut root,
                    vol,
                    "secret",
                    &s.name,
                    data.secrets.get(&s.name),
                    s.items.as_ref(),
                    s.optional.unwrap_or(false),
                    mode,
                    t,
                )?;
            }
            if let Some(d) = &src.downward_api {
                project_fields(
                    &mut root,
                    vol,
                    d.items.as_deref().unwrap_or_default(),
                    data,
                    mode,
                    t,
                )?;
            }
            if let Some(tok) = &src.service_account_token {
                let path = key_path(vol, &tok.path)?;
                insert_file(
                    &mut root,
                    &path,
                    b"sim-service-account-token".to_vec(),
                    mode,
                    t,
                );
            }
        }
    } else {
        return Ok(None);
    }
    Ok(Some(root))
}

impl Volumes {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets up (or finds again) the volumes of pod `pod_uid` on `node`. Calling it again for the
    /// same UID returns the same emptyDirs and refreshes configMap/secret content in place.
    pub fn prepare(
        &self,
        pod_uid: &str,
        node: &str,
        spec: &PodSpec,
        data: &VolumeData,
        now: Timestamp,
    ) -> Result<PodVolumes, VolumeError> {
        let mut out = PodVolumes::default();
        for v in spec.volumes.iter().flatten() {
            let key = (pod_uid.to_string(), v.name.clone());
            let handle = if let Some(pvc) = &v.persistent_volume_claim {
                let pv =
                    data.claims
                        .get(&pvc.claim_name)
                        .ok_or_else(|| VolumeError::UnboundClaim {
                            volume: v.name.clone(),
                            claim: pvc.claim_name.clone(),
                        })?;
                let tree = self
                    .store()
                    .pvs
                    .entry(pv.clone())
                    .or_insert_with(|| SharedTree::empty(now))
                    .clone();
                VolumeHandle {
                    tree,
                    sub: vec![],
                    read_only: pvc.read_only.unwrap_or(false),
                }
            } else if let Some(hp) = &v.host_path {
                let tree = self
                    .store()
                    .nodes
                    .entry(node.to_string())
                    .or_insert_with(|| SharedTree::empty(now))
                    .clone();
                let vfs = Vfs::new(tree.clone(), vec![]);
                let type_ = hp.type_.clone().unwrap_or_default();
                let exists = vfs.exists(&hp.path);
                match type_.as_str() {
                    "Directory" | "File" | "Socket" | "CharDevice" | "BlockDevice" if !exists => {
                        return Err(VolumeError::HostPathMissing {
                            volume: v.name.clone(),
                            path: hp.path.clone(),
                            type_,
                            node: node.to_string(),
                        });
                    }
                    "FileOrCreate" if !exists => {
                        let parent = super::fs::absolute(&hp.path, "..");
                        let _ = vfs.mkdir(&parent, true, 0o755, now);
                        let _ = vfs.write(&hp.path, b"", false, 0o644, now);
                    }
                    _ if !exists => {
                        let _ = vfs.mkdir(&hp.path, true, 0o755, now);
                    }
                    _ => {}
                }
                VolumeHandle {
                    tree,
                    sub: components(&hp.path),
                    read_only: false,
                }
            } else if let Some(root) = materialise(v, data, now)? {
                let mut st = self.store();
                let tree = st
                    .files
                    .entry(key)
                    .or_insert_with(|| SharedTree::empty(now))
                    .clone();
                tree.replace(Arc::new(root));
                VolumeHandle {
                    tree,
                    sub: vec![],
                    read_only: true,
                }
            } else {
                // emptyDir, and any other source (ephemeral, csi, nfs ...) as node-local storage
                // that lives as long as the pod.
                let tree = self
                    .store()
                    .empty_dirs
                    .entry(key)
                    .or_insert_with(|| SharedTree::empty(now))
                    .clone();
                VolumeHandle {
                    tree,
                    sub: vec![],
                    read_only: false,
                }
            };
            out.by_name.insert(v.name.clone(), handle);
        }
        Ok(out)
    }

    /// Drops everything that lives as long as the pod (emptyDirs, materialised volumes).
    pub fn remove_pod(&self, pod_uid: &str) {
        let mut st = self.store();
        st.empty_dirs.retain(|(uid, _), _| uid != pod_uid);
        st.files.retain(|(uid, _), _| uid != pod_uid);
    }

    /// Deletes a PV's data (reclaim policy Delete). Returns whether there was any.
    pub fn reclaim_pv(&self, pv: &str) -> bool {
        self.store().pvs.remove(pv).is_some()
    }

    /// The data tree of PV `pv`, if it holds data.
    pub fn pv(&self, pv: &str) -> Option<SharedTree> {
        self.store().pvs.get(pv).cloned()
    }

    /// Names of the PVs that hold data.
    pub fn pv_names(&self) -> Vec<String> {
        self.store().pvs.keys().cloned().collect()
    }

    /// The emptyDir `volume` of pod `pod_uid`, if it exists.
    pub fn empty_dir(&self, pod_uid: &str, volume: &str) -> Option<SharedTree> {
        self.store()
            .empty_dirs
            .get(&(pod_uid.to_string(), volume.to_string()))
            .cloned()
    }

    /// The root filesystem of `node` (what hostPath volumes see).
    pub fn node_fs(&self, node: &str) -> SharedTree {
        self.store()
            .nodes
            .entry(node.to_string())
            .or_insert_with(|| SharedTree::empty(Timestamp::UNIX_EPOCH))
            .clone()
    }
}

/// Makes sure `sub` exists in `tree` as a directory (kubelet creates missing subPaths).
pub(crate) fn ensure_sub_dir(
    tree: &SharedTree,
    sub: &[String],
    now: Timestamp,
) -> Result<(), FsError> {
    if sub.is_empty() {
        return Ok(());
    }
    let vfs = Vfs::new(tree.clone(), vec![]);
    let path = format!("/{}", sub.join("/"));
    if vfs.exists(&path) {
        return Ok(());
    }
    vfs.mkdir(&path, true, 0o755, now)
}
