//! The default router: admits Routes by writing `status.ingress` (router `default`, condition
//! `Admitted`), as the OpenShift ingress operator's router does. When two Routes in different
//! namespaces claim the same host and path, the older one keeps it and the newer one is
//! rejected with reason `HostAlreadyClaimed`, like the real router.

use serde_json::{Value, json};

use super::admission::ROUTER_DOMAIN;
use super::cached;
use crate::controllers::write_status;
use crate::store::{ObjKey, meta};

/// The router's name in `status.ingress[].routerName`.
pub const ROUTER_NAME: &str = "default";

fn host_path(r: &Value) -> (String, String) {
    let s = |p: &str| r.pointer(p).and_then(Value::as_str).unwrap_or_default();
    (s("/spec/host").to_string(), s("/spec/path").to_string())
}

fn age(r: &Value) -> (String, String, String) {
    (
        meta::meta_str(r, "creationTimestamp").to_string(),
        meta::namespace(r).to_string(),
        meta::name(r).to_string(),
    )
}

pub(crate) fn reconcile(w: &mut crate::cluster::World<'_>, key: &ObjKey) {
    let (route, others) = {
        let c = w.cache();
        let Some(r) = cached(&c.openshift.routes, key) else {
            return;
        };
        let hp = host_path(&r);
        let others: Vec<_> = c
            .openshift
            .routes
            .values()
            .filter(|o| meta::namespace(o) != key.0 && host_path(o) == hp && age(o) < age(&r))
            .cloned()
            .collect();
        (r, others)
    };
    if meta::is_deleting(&route) {
        return;
    }
    let (host, _) = host_path(&route);
    let old_since = route
        .pointer("/status/ingress/0/conditions/0/lastTransitionTime")
        .cloned();
    let now = json!(crate::clock::rfc3339(w.now));
    let mut cond = match others.first() {
        None => json!({"type": "Admitted", "status": "True"}),
        Some(o) => json!({
            "type": "Admitted",
            "status": "False",
            "reason": "HostAlreadyClaimed",
            "message": format!("route {} already exposes {host} and is older", meta::name(o)),
        }),
    };
    let prev_status = route
        .pointer("/status/ingress/0/conditions/0/status")
        .cloned();
    cond["lastTransitionTime"] = match old_since {
        Some(t) if prev_status.as_ref() == cond.get("status") => t,
        _ => now,
    };
    let status = json!({
        "ingress": [{
            "host": host,
            "routerName": ROUTER_NAME,
            "routerCanonicalHostname": format!("router-default.{ROUTER_DOMAIN}"),
            "wildcardPolicy": route.pointer("/spec/wildcardPolicy").cloned().unwrap_or(json!("None")),
            "conditions": [cond],
        }]
    });
    write_status(w, w.kinds.openshift.route, &route, status);
}
