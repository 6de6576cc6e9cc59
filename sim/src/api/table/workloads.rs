//! Printers of the workload kinds: deployments, replica sets and replication controllers,
//! stateful sets, daemon sets, jobs and cron jobs (with the `-o wide` CONTAINERS, IMAGES and
//! SELECTOR columns).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::columns::{AGE, NAME, format_labels, st};
use super::{Column, age, arr, col, i, name, or_none, s, since, wide};

const CONTAINERS: Column = wide(
    "Containers",
    "string",
    "Names of each container in the template.",
);
const IMAGES: Column = wide(
    "Images",
    "string",
    "Images referenced by each container in the template.",
);
const SELECTOR: Column = wide(
    "Selector",
    "string",
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
);

/// A `LabelSelector` as `metav1.FormatLabelSelector` writes it.
fn format_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel.filter(|v| v.is_object()) else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        let mut pairs: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        pairs.sort();
        parts.extend(pairs);
    }
    for e in arr(sel, "/matchExpressions") {
        let key = s(e, "/key");
        let mut values: Vec<&str> = arr(e, "/values").iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let values = values.join(",");
        parts.push(match s(e, "/operator") {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other} ({values})"),
        });
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn template_containers(o: &Value, pointer: &str) -> (Value, Value) {
    let cs = arr(o, pointer);
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (st(names.join(",")), st(images.join(",")))
}

pub(super) const DEPLOYMENT: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    col(
        "Up-to-date",
        "integer",
        "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
    ),
    col(
        "Available",
        "integer",
        "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn deployment(o: &Value, now: Timestamp) -> Vec<Value> {
    let (c, im) = template_containers(o, "/spec/template/spec/containers");
    vec![
        name(o),
        st(format!(
            "{}/{}",
            i(o, "/status/readyReplicas"),
            i(o, "/spec/replicas")
        )),
        json!(i(o, "/status/updatedReplicas")),
        json!(i(o, "/status/availableReplicas")),
        age(o, now),
        c,
        im,
        st(format_selector(o.pointer("/spec/selector"))),
    ]
}

pub(super) const REPLICASET: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        "Replicas is the number of desired replicas.",
    ),
    col(
        "Current",
        "integer",
        "Replicas is the most recently observed number of replicas.",
    ),
    col(
        "Ready",
        "integer",
        "The number of ready replicas for this replica set.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn replicaset(o: &Value, now: Timestamp) -> Vec<Value> {
    let (c, im) = template_containers(o, "/spec/template/spec/containers");
    let sel = o.pointer("/spec/selector");
    // ReplicationControllers select with a plain map, ReplicaSets with a LabelSelector.
    let selector = if sel
        .is_some_and(|v| v.get("matchLabels").is_some() || v.get("matchExpressions").is_some())
    {
        format_selector(sel)
    } else {
        format_labels(sel)
    };
    vec![
        name(o),
        json!(i(o, "/spec/replicas")),
        json!(i(o, "/status/replicas")),
        json!(i(o, "/status/readyReplicas")),
        age(o, now),
        c,
        im,
        st(selector),
    ]
}

pub(super) const STATEFULSET: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

pub(super) fn statefulset(o: &Value, now: Timestamp) -> Vec<Value> {
    let (c, im) = template_containers(o, "/spec/template/spec/containers");
    vec![
        name(o),
        st(format!(
            "{}/{}",
            i(o, "/status/readyReplicas"),
            i(o, "/spec/replicas")
        )),
        age(o, now),
        c,
        im,
    ]
}

pub(super) const DAEMONSET: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        "The total number of nodes that should be running the daemon pod.",
    ),
    col(
        "Current",
        "integer",
        "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
    ),
    col(
        "Ready",
        "integer",
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
    ),
    col(
        "Up-to-date",
        "integer",
        "The total number of nodes that are running updated daemon pod.",
    ),
    col(
        "Available",
        "integer",
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.",
    ),
    col(
        "Node Selector",
        "string",
        "NodeSelector is a selector which must be true for the pod to fit on a node.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn daemonset(o: &Value, now: Timestamp) -> Vec<Value> {
    let (c, im) = template_containers(o, "/spec/template/spec/containers");
    vec![
        name(o),
        json!(i(o, "/status/desiredNumberScheduled")),
        json!(i(o, "/status/currentNumberScheduled")),
        json!(i(o, "/status/numberReady")),
        json!(i(o, "/status/updatedNumberScheduled")),
        json!(i(o, "/status/numberAvailable")),
        st(format_labels(o.pointer("/spec/template/spec/nodeSelector"))),
        age(o, now),
        c,
        im,
        st(format_selector(o.pointer("/spec/selector"))),
    ]
}

pub(super) const JOB: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the job."),
    col(
        "Completions",
        "string",
        "The completed job pods out of the desired.",
    ),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn has_true_condition(o: &Value, ty: &str) -> bool {
    arr(o, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == ty && s(c, "/status") == "True")
}

pub(super) fn job(o: &Value, now: Timestamp) -> Vec<Value> {
    let (c, im) = template_containers(o, "/spec/template/spec/containers");
    let succeeded = i(o, "/status/succeeded");
    let completions = match o.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(n) => format!("{succeeded}/{n}"),
        None => match i(o, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = super::timestamp(o.pointer("/status/startTime"));
    let end = super::timestamp(o.pointer("/status/completionTime"));
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(st), None) => super::human_duration(now.as_second() - st.as_second()),
        (Some(st), Some(en)) => super::human_duration(en.as_second() - st.as_second()),
    };
    let status = if has_true_condition(o, "Complete") {
        "Complete"
    } else if has_true_condition(o, "Failed") {
        "Failed"
    } else if o.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if has_true_condition(o, "Suspended") {
        "Suspended"
    } else if has_true_condition(o, "FailureTarget") {
        "FailureTarget"
    } else if has_true_condition(o, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    vec![
        name(o),
        st(status),
        st(completions),
        st(duration),
        age(o, now),
        c,
        im,
        st(format_selector(o.pointer("/spec/selector"))),
    ]
}

pub(super) const CRONJOB: &[Column] = &[
    NAME,
    col("Schedule", "string", "The schedule in Cron format."),
    col(
        "Timezone",
        "string",
        "The time zone name for the given schedule.",
    ),
    col(
        "Suspend",
        "boolean",
        "This flag tells the controller to suspend subsequent executions.",
    ),
    col(
        "Active",
        "integer",
        "A list of pointers to currently running jobs.",
    ),
    col(
        "Last Schedule",
        "string",
        "Information when was the last time the job was successfully scheduled.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn cronjob(o: &Value, now: Timestamp) -> Vec<Value> {
    let (c, im) = template_containers(o, "/spec/jobTemplate/spec/template/spec/containers");
    let last = match o.pointer("/status/lastScheduleTime") {
        Some(v) if v.is_string() => since(Some(v), now),
        _ => "<none>".into(),
    };
    let suspend = o.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
    vec![
        name(o),
        st(s(o, "/spec/schedule")),
        or_none(s(o, "/spec/timeZone")),
        st(if suspend { "True" } else { "False" }),
        json!(arr(o, "/status/active").len()),
        st(last),
        age(o, now),
        c,
        im,
        st(format_selector(
            o.pointer("/spec/jobTemplate/spec/selector"),
        )),
    ]
}
