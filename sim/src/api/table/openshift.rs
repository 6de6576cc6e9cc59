//! Printers of the OpenShift kinds odo uses: DeploymentConfigs and Routes, with the columns
//! `oc get` shows.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::columns::{AGE, NAME, st};
use super::{Column, age, arr, col, i, name, s};

/// DeploymentConfig columns.
pub(super) const DEPLOYMENTCONFIG: &[Column] = &[
    NAME,
    col("Revision", "integer", "The latest deployed revision."),
    col("Desired", "integer", "The desired number of replicas."),
    col("Current", "integer", "The current number of replicas."),
    col("Triggered By", "string", "What triggers new deployments."),
];

/// A DeploymentConfig's cells.
pub(super) fn deploymentconfig(o: &Value, _now: Timestamp) -> Vec<Value> {
    let triggers: Vec<String> = arr(o, "/spec/triggers")
        .iter()
        .filter_map(|t| match s(t, "/type") {
            "ConfigChange" => Some("config".to_string()),
            "ImageChange" => {
                let from = s(t, "/imageChangeParams/from/name");
                Some(if from.is_empty() {
                    "image".to_string()
                } else {
                    format!("image({from})")
                })
            }
            _ => None,
        })
        .collect();
    vec![
        name(o),
        json!(i(o, "/status/latestVersion")),
        json!(i(o, "/spec/replicas")),
        json!(i(o, "/status/replicas")),
        st(if triggers.is_empty() {
            "manual".to_string()
        } else {
            triggers.join(",")
        }),
    ]
}

/// Route columns.
pub(super) const ROUTE: &[Column] = &[
    NAME,
    col("Host/Port", "string", "The host the route answers for."),
    col("Path", "string", "The path the route matches."),
    col(
        "Services",
        "string",
        "The services the route sends traffic to.",
    ),
    col("Port", "string", "The target port on the services."),
    col("Termination", "string", "How TLS is terminated."),
    col("Wildcard", "string", "The wildcard policy."),
    AGE,
];

/// A Route's cells.
pub(super) fn route(o: &Value, now: Timestamp) -> Vec<Value> {
    let alternates = arr(o, "/spec/alternateBackends");
    let services = if alternates.is_empty() {
        s(o, "/spec/to/name").to_string()
    } else {
        let mut backends: Vec<(&str, i64)> = vec![(s(o, "/spec/to/name"), i(o, "/spec/to/weight"))];
        backends.extend(alternates.iter().map(|b| (s(b, "/name"), i(b, "/weight"))));
        let total: i64 = backends.iter().map(|(_, w)| *w).sum();
        backends
            .iter()
            .map(|(n, w)| {
                let pct = if total > 0 { w * 100 / total } else { 0 };
                format!("{n}({pct}%)")
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let port = match o.pointer("/spec/port/targetPort") {
        Some(Value::String(p)) => p.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "<all>".into(),
    };
    let termination = match (
        s(o, "/spec/tls/termination"),
        s(o, "/spec/tls/insecureEdgeTerminationPolicy"),
    ) {
        (t, "") => t.to_string(),
        (t, p) => format!("{t}/{p}"),
    };
    let wildcard = match s(o, "/spec/wildcardPolicy") {
        "" => "None",
        w => w,
    };
    vec![
        name(o),
        st(s(o, "/spec/host")),
        st(s(o, "/spec/path")),
        st(services),
        st(port),
        st(termination),
        st(wildcard),
        age(o, now),
    ]
}
