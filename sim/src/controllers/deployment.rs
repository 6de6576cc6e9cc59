//! Deployments: one ReplicaSet per pod-template hash (`<name>-<hash>`, label
//! `pod-template-hash`), revisions in `deployment.kubernetes.io/revision`, RollingUpdate with
//! maxSurge/maxUnavailable and Recreate as the real controller computes them, old ReplicaSets
//! pruned past `revisionHistoryLimit` (in [`rollout`], with the paused conditions), and status with the `Available` and `Progressing`
//! conditions that `kubectl rollout status` reads (a rollout without progress for
//! `progressDeadlineSeconds` is `Progressing=False`, `ProgressDeadlineExceeded`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::cache::selector_of;
use super::rollout::{self, revision};
use super::{condition, controller_ref, write, write_status};
use crate::cluster::{Timer, World};
use crate::json_ptr::Ptr;
use crate::store::{ObjKey, WriteOptions, meta};

const HASH_LABEL: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for k in keys {
                out.push_str(k);
                out.push(':');
                canonical(&m[k], out);
                out.push(',');
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for x in a {
                canonical(x, out);
                out.push(',');
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The pod-template hash: FNV-1a over the canonical template, encoded with the alphabet the
/// real controller uses (`rand.SafeEncodeString`).
pub(crate) fn template_hash(template: &Value) -> String {
    let mut s = String::new();
    canonical(template, &mut s);
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|c| ALPHABET[usize::from(c) % ALPHABET.len()] as char)
        .collect()
}

fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(l) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        l.remove(HASH_LABEL);
        if l.is_empty()
            && let Some(m) = t.get_mut("metadata").and_then(Value::as_object_mut)
        {
            m.remove("labels");
        }
    }
    t
}

fn int_or_percent(v: Option<&Value>, total: i64, round_up: bool, default: &str) -> i64 {
    let v = v.cloned().unwrap_or_else(|| json!(default));
    if let Some(n) = v.as_i64() {
        return n;
    }
    let s = v.as_str().unwrap_or(default);
    let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(25.0);
    let x = pct * total as f64 / 100.0;
    if round_up {
        x.ceil() as i64
    } else {
        x.floor() as i64
    }
}

fn spec_replicas(rs: &Value) -> i64 {
    rs.ptr("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

fn status_i(rs: &Value, f: &str) -> i64 {
    rs.ptr(&format!("/status/{f}"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

fn scale(
    w: &mut World<'_>,
    d: &Value,
    rs: &Arc<Value>,
    to: i64,
    max_surge: i64,
) -> Option<Arc<Value>> {
    let from = spec_replicas(rs);
    let replicas = spec_replicas(d);
    let mut o = (**rs).clone();
    o["spec"]["replicas"] = json!(to);
    let ann = o["metadata"]
        .as_object_mut()
        .map(|m| m.entry("annotations").or_insert_with(|| json!({})));
    if let Some(a) = ann {
        a["deployment.kubernetes.io/desired-replicas"] = json!(replicas.to_string());
        a["deployment.kubernetes.io/max-replicas"] = json!((replicas + max_surge).to_string());
    }
    if from == to && o == **rs {
        return Some(rs.clone());
    }
    let out = write(w, w.kinds.rs, o);
    if out.is_some() && from != to {
        let dir = if to > from { "up" } else { "down" };
        w.event(
            d,
            false,
            "ScalingReplicaSet",
            format!(
                "Scaled {dir} replica set {} from {from} to {to}",
                meta::name(rs)
            ),
            "deployment-controller",
        );
    }
    out
}

pub(crate) fn reconcile(w: &mut World<'_>, key: &ObjKey) {
    let d = w.cache().deploy.get(key).cloned();
    let Some(d) = d else { return };
    if meta::is_deleting(&d) {
        return;
    }
    let Some(selector) = selector_of(&d) else {
        return;
    };
    let uid = meta::uid(&d).to_string();
    // Adopt orphan ReplicaSets that match.
    let orphans: Vec<Arc<Value>> = crate::controllers::cache::Cache::in_ns(&w.cache().rs, &key.0)
        .into_iter()
        .filter(|r| {
            crate::controllers::cache::controller_of(r).is_none()
                && !meta::is_deleting(r)
                && selector.matches(r)
        })
        .collect();
    for r in orphans {
        let mut o = (*r).clone();
        let mut refs = o["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        refs.push(controller_ref(&d));
        o["metadata"]["ownerReferences"] = json!(refs);
        write(w, w.kinds.rs, o);
    }
    let mut all: Vec<Arc<Value>> = w.cache().replicasets_of(&uid);
    all.sort_by_key(|r| {
        (
            meta::meta_str(r, "creationTimestamp").to_string(),
            meta::name(r).to_string(),
        )
    });
    let template = d.ptr("/spec/template").cloned().unwrap_or_default();
    let plain = without_hash(&template);
    let new_idx = all.iter().position(|r| {
        r.ptr("/spec/template").map(without_hash).as_ref() == Some(&plain) && !meta::is_deleting(r)
    });
    let replicas = d.ptr("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let strategy = d
        .ptr("/spec/strategy/type")
        .and_then(Value::as_str)
        .unwrap_or("RollingUpdate");
    let recreate = strategy == "Recreate";
    let (max_surge, max_unavailable) = if recreate {
        (0, replicas)
    } else {
        let s = int_or_percent(
            d.ptr("/spec/strategy/rollingUpdate/maxSurge"),
            replicas,
            true,
            "25%",
        );
        let mut u = int_or_percent(
            d.ptr("/spec/strategy/rollingUpdate/maxUnavailable"),
            replicas,
            false,
            "25%",
        );
        if s == 0 && u == 0 {
            u = 1;
        }
        (s, u.min(replicas))
    };
    let paused = d.ptr("/spec/paused").and_then(Value::as_bool) == Some(true);
    let max_rev = all.iter().map(|r| revision(r)).max().unwrap_or(0);
    let mut created_new = false;
    let mut new_rs = match new_idx {
        Some(i) => Some(all.remove(i)),
        None if paused => None,
        None => {
            let hash = template_hash(&plain);
            let mut t = plain.clone();
            t["metadata"]["labels"][HASH_LABEL] = json!(hash);
            let mut sel = d
                .ptr("/spec/selector")
                .cloned()
                .unwrap_or_else(|| json!({}));
            sel["matchLabels"][HASH_LABEL] = json!(hash);
            let mut labels = t["metadata"]["labels"].clone();
            labels[HASH_LABEL] = json!(hash);
            let rs = json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": format!("{}-{hash}", key.1),
                    "namespace": key.0,
                    "labels": labels,
                    "annotations": {
                        REVISION: (max_rev + 1).to_string(),
                        "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                        "deployment.kubernetes.io/max-replicas": (replicas + max_surge).to_string(),
                    },
                    "ownerReferences": [controller_ref(&d)],
                },
                "spec": {
                    "replicas": 0,
                    "minReadySeconds": d.ptr("/spec/minReadySeconds").cloned().unwrap_or(json!(0)),
                    "selector": sel,
                    "template": t,
                },
            });
            let created = w.kinds.rs.and_then(|tid| {
                w.store
                    .create(tid, &key.0, rs, &WriteOptions::default())
                    .ok()
            });
            created_new = created.is_some();
            created
        }
    };
    // The newest template gets the highest revision.
    if let Some(n) = &new_rs
        && revision(n) <= all.iter().map(|r| revision(r)).max().unwrap_or(0)
    {
        let mut o = (**n).clone();
        o["metadata"]["annotations"][REVISION] = json!((max_rev + 1).to_string());
        new_rs = write(w, w.kinds.rs, o).or(new_rs);
    }
    if let Some(n) = &new_rs
        && revision(&d) != revision(n)
    {
        let mut o = (*d).clone();
        o["metadata"]["annotations"][REVISION] = json!(revision(n).to_string());
        write(w, w.kinds.deploy, o);
    }
    let olds: Vec<Arc<Value>> = all;
    if !paused && let Some(new) = new_rs.clone() {
        if recreate {
            let olds_up: Vec<&Arc<Value>> = olds.iter().filter(|r| spec_replicas(r) > 0).collect();
            if !olds_up.is_empty() {
                for r in olds_up {
                    scale(w, &d, r, 0, max_surge);
                }
            } else {
                let old_pods = olds
                    .iter()
                    .any(|r| !w.cache().pods_of(meta::uid(r)).is_empty());
                if !old_pods && spec_replicas(&new) != replicas {
                    new_rs = scale(w, &d, &new, replicas, max_surge);
                }
            }
        } else {
            let mut new = new;
            let total: i64 =
                spec_replicas(&new) + olds.iter().map(|r| spec_replicas(r)).sum::<i64>();
            let cur = spec_replicas(&new);
            if cur > replicas {
                if let Some(n) = scale(w, &d, &new, replicas, max_surge) {
                    new = n;
                }
            } else if cur < replicas && total < replicas + max_surge {
                let up = (replicas + max_surge - total).min(replicas - cur);
                if let Some(n) = scale(w, &d, &new, cur + up, max_surge) {
                    new = n;
                }
            }
            let old_count: i64 = olds.iter().map(|r| spec_replicas(r)).sum();
            if old_count > 0 {
                let all_count = spec_replicas(&new) + old_count;
                let min_available = replicas - max_unavailable;
                let new_unavailable = spec_replicas(&new) - status_i(&new, "availableReplicas");
                let mut max_down = all_count - min_available - new_unavailable;
                let mut olds_now: Vec<Arc<Value>> = olds.clone();
                if max_down > 0 {
                    for r in olds_now.iter_mut() {
                        if max_down <= 0 {
                            break;
                        }
                        let unhealthy = spec_replicas(r) - status_i(r, "availableReplicas");
                        if unhealthy <= 0 {
                            continue;
                        }
                        let down = max_down.min(unhealthy);
                        if let Some(x) = scale(w, &d, r, spec_replicas(r) - down, max_surge) {
                            *r = x;
                        }
                        max_down -= down;
                    }
                    let available: i64 = status_i(&new, "availableReplicas")
                        + olds
                            .iter()
                            .map(|r| status_i(r, "availableReplicas"))
                            .sum::<i64>();
                    let mut total_down = available - min_available;
                    for r in olds_now.iter_mut() {
                        if total_down <= 0 {
                            break;
                        }
                        let cur = spec_replicas(r);
                        if cur == 0 {
                            continue;
                        }
                        let down = cur.min(total_down);
                        if let Some(x) = scale(w, &d, r, cur - down, max_surge) {
                            *r = x;
                        }
                        total_down -= down;
                    }
                }
            }
            new_rs = Some(new);
        }
    }
    // The real controller prunes history only once the rollout is complete, or while paused.
    if paused || status_complete(&d) {
        rollout::cleanup(w, &d, &olds);
    }
    status(w, &d, new_rs.as_ref(), created_new, max_unavailable, paused);
}

fn status(
    w: &mut World<'_>,
    d: &Arc<Value>,
    new: Option<&Arc<Value>>,
    created: bool,
    max_unavailable: i64,
    paused: bool,
) {
    let d = w
        .cache()
        .deploy
        .get(&(meta::namespace(d).to_string(), meta::name(d).to_string()))
        .cloned()
        .unwrap_or_else(|| d.clone());
    let all = w.cache().replicasets_of(meta::uid(&d));
    let replicas = d.ptr("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let sum = |f: &str| all.iter().map(|r| status_i(r, f)).sum::<i64>();
    let total = sum("replicas");
    let ready = sum("readyReplicas");
    let available = sum("availableReplicas");
    let new = new.and_then(|n| {
        w.cache()
            .rs
            .get(&(meta::namespace(n).to_string(), meta::name(n).to_string()))
            .cloned()
    });
    let updated = new.as_ref().map(|n| status_i(n, "replicas")).unwrap_or(0);
    let spec_total: i64 = all.iter().map(|r| spec_replicas(r)).sum();
    let unavailable = (spec_total.max(replicas) - available).max(0);
    let now = crate::clock::rfc3339(w.now);
    let new_name = new
        .as_ref()
        .map(|n| meta::name(n).to_string())
        .unwrap_or_default();
    let complete = updated == replicas
        && total == updated
        && available >= updated
        && new.as_ref().is_some_and(|n| spec_replicas(n) == replicas);
    let min_ok = available >= replicas - max_unavailable;
    let progressing = progressing_condition(
        w,
        &d,
        Progress {
            complete,
            created,
            paused,
            new_name: &new_name,
            updated,
            total,
            ready,
            available,
        },
        &now,
    );
    let mut status = json!({
        "observedGeneration": d.ptr("/metadata/generation").cloned().unwrap_or(json!(1)),
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
        "conditions": [
            condition(Some(&d), "Available", min_ok, if min_ok { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                if min_ok { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." }, &now),
            progressing,
        ],
    });
    if let Some(m) = status.as_object_mut() {
        for f in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        ] {
            if m.get(f).and_then(Value::as_i64) == Some(0) {
                m.remove(f);
            }
        }
    }
    // Keep the condition order stable: Available first, as the real controller writes it.
    write_status(w, w.kinds.deploy, &d, status);
}

/// Whether the Deployment's last written status shows its rollout complete
/// (`DeploymentComplete` on `d.Status`).
fn status_complete(d: &Value) -> bool {
    let want = spec_replicas(d);
    let observed = d
        .ptr("/status/observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    status_i(d, "updatedReplicas") == want
        && status_i(d, "replicas") == want
        && status_i(d, "availableReplicas") == want
        && observed
            >= d.ptr("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
}

/// Where a rollout stands, for its `Progressing` condition.
struct Progress<'a> {
    complete: bool,
    created: bool,
    paused: bool,
    new_name: &'a str,
    updated: i64,
    total: i64,
    ready: i64,
    available: i64,
}

/// The `Progressing` condition as the deployment controller's `syncRolloutStatus` writes it:
/// NewReplicaSetAvailable once complete; NewReplicaSetCreated for a new ReplicaSet;
/// ReplicaSetUpdated, with a fresh `lastUpdateTime`, whenever the rollout made progress (more
/// updated, ready or available pods, fewer old ones); otherwise the condition stays as it was
/// until `progressDeadlineSeconds` after its `lastUpdateTime`, when it turns False with
/// ProgressDeadlineExceeded (a reconcile is scheduled for that moment). Paused rollouts do not
/// time out: they say DeploymentPaused, and a resumed one counts its deadline from the resume
/// (see [`rollout`]).
fn progressing_condition(w: &mut World<'_>, d: &Value, p: Progress<'_>, now: &str) -> Value {
    let key = (meta::namespace(d).to_string(), meta::name(d).to_string());
    let cond = if p.paused {
        (rollout::paused_condition(d, now), None)
    } else {
        let resumed = rollout::resumed(d, now);
        progressing_or_deadline(w, resumed.as_ref().unwrap_or(d), &p, now)
    };
    // Only a rollout still waiting for progress keeps a deadline timer.
    match cond.1 {
        Some(due) => {
            if w.st.deadlines.get(&key) != Some(&due) {
                w.st.deadlines.insert(key.clone(), due);
                w.at_instant(
                    due,
                    Timer::Deadline {
                        deployment: key,
                        at: due,
                    },
                );
            }
        }
        None => {
            w.st.deadlines.remove(&key);
        }
    }
    cond.0
}

/// The Progressing condition, and the deadline it times out at when the rollout is waiting
/// for progress.
fn progressing_or_deadline(
    w: &World<'_>,
    d: &Value,
    p: &Progress<'_>,
    now: &str,
) -> (Value, Option<jiff::Timestamp>) {
    let new_name = p.new_name;
    let fresh =
        |reason: &str, msg: String| condition(Some(d), "Progressing", true, reason, &msg, now);
    if p.complete {
        let msg = format!("ReplicaSet \"{new_name}\" has successfully progressed.");
        return (fresh("NewReplicaSetAvailable", msg), None);
    }
    let prev = d
        .ptr("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing"))
        .cloned();
    let cond = if p.created {
        fresh(
            "NewReplicaSetCreated",
            format!("Created new replica set \"{new_name}\""),
        )
    } else {
        let was = |f: &str| {
            d.ptr(&format!("/status/{f}"))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        let progressed = p.updated > was("updatedReplicas")
            || p.total - p.updated < was("replicas") - was("updatedReplicas")
            || p.ready > was("readyReplicas")
            || p.available > was("availableReplicas");
        let updated_msg = format!("ReplicaSet \"{new_name}\" is progressing.");
        match prev {
            // A finished rollout that is only scaling (one ReplicaSet) is not estimated again.
            Some(c) if c["reason"] == "NewReplicaSetAvailable" && p.total == p.updated => {
                return (c, None);
            }
            // Timed out and still no progress: it stays so.
            Some(c) if !progressed && c["reason"] == "ProgressDeadlineExceeded" => {
                return (c, None);
            }
            Some(c) if !progressed && c["reason"] != "NewReplicaSetAvailable" => c,
            Some(c) if c["status"] == "True" => {
                // Progress: a fresh lastUpdateTime, the transition time kept.
                let mut c = fresh("ReplicaSetUpdated", updated_msg);
                c["lastUpdateTime"] = json!(now);
                c
            }
            _ => fresh("ReplicaSetUpdated", updated_msg),
        }
    };
    let deadline = d
        .ptr("/spec/progressDeadlineSeconds")
        .and_then(Value::as_i64)
        .filter(|s| *s > 0 && *s < i64::from(i32::MAX));
    let since = cond["lastUpdateTime"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let (Some(deadline), Some(since)) = (deadline, since) else {
        return (cond, None);
    };
    let due = crate::clock::after(since, std::time::Duration::from_secs(deadline as u64));
    if due > w.now {
        return (cond, Some(due));
    }
    let msg = format!("ReplicaSet \"{new_name}\" has timed out progressing.");
    (
        condition(
            Some(d),
            "Progressing",
            false,
            "ProgressDeadlineExceeded",
            &msg,
            now,
        ),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_safe() {
        let a = template_hash(
            &json!({"spec": {"containers": [{"name": "a", "image": "x"}]}, "metadata": {"labels": {"app": "a"}}}),
        );
        let b = template_hash(
            &json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"image": "x", "name": "a"}]}}),
        );
        assert_eq!(a, b);
        assert!(a.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        let c = template_hash(&json!({"spec": {"containers": [{"name": "a", "image": "y"}]}}));
        assert_ne!(a, c);
    }

    #[test]
    fn percentages_round_like_the_controller() {
        assert_eq!(int_or_percent(Some(&json!("25%")), 10, true, "25%"), 3);
        assert_eq!(int_or_percent(Some(&json!("25%")), 10, false, "25%"), 2);
        assert_eq!(int_or_percent(Some(&json!(2)), 10, false, "25%"), 2);
        assert_eq!(int_or_percent(None, 4, true, "25%"), 1);
    }
}
