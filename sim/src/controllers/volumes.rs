//! The PersistentVolumeClaim binder: the default StorageClass `standard`, binding claims to
//! matching Available volumes, dynamic provisioning (`pvc-<uid>` volumes; with
//! `WaitForFirstConsumer` only once a pod using the claim is scheduled), and reclaim when a
//! claim goes: `Delete` removes the volume, `Retain` leaves it `Released`.

use std::sync::Arc;

use serde_json::{Value, json};

use super::cache::{Cache, Kinds};
use crate::cluster::World;
use crate::json_ptr::Ptr;
use crate::kubelet::scheduler::quantity_milli;
use crate::store::{DeleteOptions, ObjKey, Part, Store, WriteOptions, meta};

/// The name of the default StorageClass.
pub const DEFAULT_CLASS: &str = "standard";
/// The provisioner named by the default StorageClass.
pub const PROVISIONER: &str = "odo-sim.io/hostpath";

/// Creates the default StorageClass when it is missing.
pub(crate) fn ensure_default_storage_class(store: &Store, kinds: Kinds) {
    let Some(tid) = kinds.sc else { return };
    if store.get(tid, "", DEFAULT_CLASS).is_ok() {
        return;
    }
    let sc = json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": true,
    });
    let _ = store.create(tid, "", sc, &WriteOptions::default());
}

/// The claim's class: `spec.storageClassName`, or the default class when it names none (the
/// API server's DefaultStorageClass admission would have written it at create).
fn effective_class(cache: &Cache, pvc: &Value) -> String {
    match pvc.ptr("/spec/storageClassName").and_then(Value::as_str) {
        Some(c) => c.to_string(),
        None if pvc.ptr("/spec/volumeName").is_some() => String::new(),
        None => default_class(cache).unwrap_or_default(),
    }
}

fn class_of<'a>(cache: &'a Cache, pvc: &Value) -> Option<&'a Arc<Value>> {
    cache.sc.get(&(String::new(), effective_class(cache, pvc)))
}

/// Whether a claim's class binds only once a consumer is scheduled.
pub(crate) fn waits_for_consumer(cache: &Cache, pvc: &Value) -> bool {
    class_of(cache, pvc)
        .and_then(|c| c.get("volumeBindingMode"))
        .and_then(Value::as_str)
        == Some("WaitForFirstConsumer")
}

fn default_class(cache: &Cache) -> Option<String> {
    cache
        .sc
        .values()
        .find(|c| {
            c.ptr("/metadata/annotations/storageclass.kubernetes.io~1is-default-class")
                .and_then(Value::as_str)
                == Some("true")
        })
        .map(|c| meta::name(c).to_string())
}

fn request(pvc: &Value) -> u64 {
    pvc.ptr("/spec/resources/requests/storage")
        .and_then(quantity_milli)
        .unwrap_or(0)
}

pub(crate) fn reconcile_claim(w: &mut World<'_>, key: &ObjKey) {
    let (Some(pvc_t), Some(pv_t)) = (w.kinds.pvc, w.kinds.pv) else {
        return;
    };
    let pvc = w.cache().pvc.get(key).cloned();
    let Some(pvc) = pvc else {
        release_volumes_of(w, key);
        return;
    };
    if meta::is_deleting(&pvc) {
        return;
    }
    if pvc.ptr("/status/phase").and_then(Value::as_str) == Some("Bound") {
        return;
    }
    let class = effective_class(&w.cache(), &pvc);
    let modes = pvc
        .ptr("/spec/accessModes")
        .cloned()
        .unwrap_or_else(|| json!(["ReadWriteOnce"]));
    let want = request(&pvc);
    // An existing volume first.
    let wanted_name = pvc
        .ptr("/spec/volumeName")
        .and_then(Value::as_str)
        .map(str::to_string);
    // A volume already claimed by this claim first: a bind whose claim-side write lost a
    // race (a client updated the claim in between) is finished, not started again.
    let uid = meta::uid(&pvc).to_string();
    let candidate = {
        let cache = w.cache();
        cache
            .pv
            .values()
            .find(|pv| {
                pv.ptr("/spec/claimRef/uid").and_then(Value::as_str) == Some(uid.as_str())
                    && !meta::is_deleting(pv)
            })
            .or_else(|| {
                cache
                    .pv
                    .values()
                    .find(|pv| fits_claim(pv, wanted_name.as_deref(), &class, want, &modes))
            })
            .cloned()
    };
    let pv = match candidate {
        Some(pv) => pv,
        None => {
            let sc = class_of(&w.cache(), &pvc).cloned();
            let Some(sc) = sc else { return };
            if waits_for_consumer(&w.cache(), &pvc) && !has_scheduled_consumer(&w.cache(), key) {
                let msg = "waiting for first consumer to be created before binding".to_string();
                w.event(
                    &pvc,
                    false,
                    "WaitForFirstConsumer",
                    msg,
                    "persistentvolume-controller",
                );
                return;
            }
            let size = pvc
                .ptr("/spec/resources/requests/storage")
                .cloned()
                .unwrap_or(json!("1Gi"));
            let name = format!("pvc-{}", meta::uid(&pvc));
            let pv = json!({
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": sc.get("provisioner").cloned().unwrap_or(json!(PROVISIONER))},
                    "finalizers": []},
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": modes,
                    "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy").cloned().unwrap_or(json!("Delete")),
                    "storageClassName": class,
                    "volumeMode": pvc.ptr("/spec/volumeMode").cloned().unwrap_or(json!("Filesystem")),
                    "hostPath": {"path": format!("/var/lib/odo-sim/volumes/{name}"), "type": "DirectoryOrCreate"},
                },
            });
            match w.store.create(pv_t, "", pv, &WriteOptions::default()) {
                Ok(pv) => {
                    w.event(
                        &pvc,
                        false,
                        "ProvisioningSucceeded",
                        format!("Successfully provisioned volume {name}"),
                        "persistentvolume-controller",
                    );
                    pv
                }
                Err(_) => return,
            }
        }
    };
    // Bind both sides.
    let pv_name = meta::name(&pv).to_string();
    let mut p = (*pv).clone();
    p["spec"]["claimRef"] = json!({"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": key.0, "name": key.1, "uid": meta::uid(&pvc), "resourceVersion": meta::resource_version(&pvc)});
    let Ok(p) = w
        .store
        .update(pv_t, "", &pv_name, p, Part::Main, &WriteOptions::default())
    else {
        return;
    };
    let mut ps = (*p).clone();
    ps["status"] = json!({"phase": "Bound"});
    let _ = w.store.update(
        pv_t,
        "",
        &pv_name,
        ps,
        Part::Status,
        &WriteOptions::default(),
    );
    let mut c = (*pvc).clone();
    c["spec"]["volumeName"] = json!(pv_name);
    let ann = &mut c["metadata"]["annotations"];
    if !ann.is_object() {
        *ann = json!({});
    }
    ann["pv.kubernetes.io/bind-completed"] = json!("yes");
    ann["pv.kubernetes.io/bound-by-controller"] = json!("yes");
    ann["volume.kubernetes.io/storage-provisioner"] = json!(PROVISIONER);
    let Ok(c) = w.store.update(
        pvc_t,
        &key.0,
        &key.1,
        c,
        Part::Main,
        &WriteOptions::default(),
    ) else {
        return;
    };
    let mut cs = (*c).clone();
    cs["status"] = json!({"phase": "Bound", "accessModes": p.ptr("/spec/accessModes").cloned().unwrap_or(json!([])), "capacity": p.ptr("/spec/capacity").cloned().unwrap_or(json!({}))});
    let _ = w.store.update(
        pvc_t,
        &key.0,
        &key.1,
        cs,
        Part::Status,
        &WriteOptions::default(),
    );
    w.trace(|| format!("claim-bound {}/{} {pv_name}", key.0, key.1));
}

/// Whether an unclaimed volume can serve a claim: the one it names, or (naming none) an
/// available volume of its class, large enough, with every access mode it asks for.
fn fits_claim(
    pv: &Value,
    wanted_name: Option<&str>,
    class: &str,
    want: u64,
    modes: &Value,
) -> bool {
    if pv.ptr("/spec/claimRef").is_some() {
        return false;
    }
    if let Some(n) = wanted_name {
        return meta::name(pv) == n;
    }
    let phase = pv.ptr("/status/phase").and_then(Value::as_str);
    matches!(phase, Some("Available" | "Pending"))
        && pv
            .ptr("/spec/storageClassName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            == class
        && pv
            .ptr("/spec/capacity/storage")
            .and_then(quantity_milli)
            .unwrap_or(0)
            >= want
        && modes.as_array().is_none_or(|ms| {
            ms.iter().all(|m| {
                pv.ptr("/spec/accessModes")
                    .and_then(Value::as_array)
                    .is_some_and(|pm| pm.contains(m))
            })
        })
}

fn has_scheduled_consumer(cache: &Cache, key: &ObjKey) -> bool {
    Cache::in_ns(&cache.pods, &key.0).iter().any(|p| {
        p.ptr("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
            && p.ptr("/spec/volumes")
                .and_then(Value::as_array)
                .is_some_and(|vs| {
                    vs.iter().any(|v| {
                        v.ptr("/persistentVolumeClaim/claimName")
                            .and_then(Value::as_str)
                            == Some(key.1.as_str())
                    })
                })
    })
}

/// A claim is gone: its volume is released, then deleted or kept per reclaim policy.
fn release_volumes_of(w: &mut World<'_>, key: &ObjKey) {
    let Some(pv_t) = w.kinds.pv else { return };
    let bound: Vec<Arc<Value>> = w
        .cache()
        .pv
        .values()
        .filter(|pv| {
            pv.ptr("/spec/claimRef/namespace").and_then(Value::as_str) == Some(key.0.as_str())
                && pv.ptr("/spec/claimRef/name").and_then(Value::as_str) == Some(key.1.as_str())
                && pv.ptr("/status/phase").and_then(Value::as_str) == Some("Bound")
        })
        .cloned()
        .collect();
    for pv in bound {
        let name = meta::name(&pv).to_string();
        let policy = pv
            .ptr("/spec/persistentVolumeReclaimPolicy")
            .and_then(Value::as_str)
            .unwrap_or("Retain");
        if policy == "Delete" {
            let _ = w.store.delete(pv_t, "", &name, &DeleteOptions::default());
            w.runtime.set_disk_full(&key.0, &key.1, false);
            w.trace(|| format!("volume-deleted {name}"));
        } else {
            let mut o = (*pv).clone();
            o["status"] = json!({"phase": "Released"});
            let _ = w
                .store
                .update(pv_t, "", &name, o, Part::Status, &WriteOptions::default());
            w.trace(|| format!("volume-released {name}"));
        }
    }
}
