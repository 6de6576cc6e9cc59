//! The resource registry: which kinds the server serves, under which group, version and plural.
//!
//! Everything that is "about a resource type" lives here as data: discovery reads it, the
//! router resolves URLs through it, the store keys objects by it. A flavor (plain Kubernetes or
//! OpenShift) is just a different set of rows.

use std::fmt;

/// Which cluster the simulator pretends to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// A plain Kubernetes cluster.
    #[default]
    Kubernetes,
    /// An OpenShift cluster: Kubernetes plus the OpenShift API groups.
    Openshift,
}

impl std::str::FromStr for Flavor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "kubernetes" | "k8s" => Ok(Self::Kubernetes),
            "openshift" | "ocp" => Ok(Self::Openshift),
            other => Err(format!(
                "unknown flavor {other:?}: expected kubernetes or openshift"
            )),
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kubernetes => "kubernetes",
            Self::Openshift => "openshift",
        })
    }
}

/// The rules for a resource's object names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: lowercase alphanumerics, `-` and `.`, at most 253 characters.
    Subdomain,
    /// RFC 1123 label: lowercase alphanumerics and `-`, at most 63 characters.
    Label,
    /// RFC 1035 label (services): like a label but must start with a letter.
    Rfc1035,
    /// Any name without `/` or `%` (e.g. ImageStreamTags `name:tag`).
    Path,
}

/// One served resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// API group; empty for core.
    pub group: String,
    /// API version within the group.
    pub version: String,
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// URL plural, e.g. `pods`.
    pub plural: String,
    /// Lowercase singular, e.g. `pod`.
    pub singular: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Subresources served, e.g. `status`, `scale`, `log`.
    pub subresources: Vec<String>,
    /// Name validation rule.
    pub name_rule: NameRule,
    /// Verbs served on the collection and objects.
    pub verbs: Vec<String>,
}

impl ResourceType {
    /// `apiVersion` as written in objects: `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether a subresource is served.
    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.iter().any(|s| s == sub)
    }

    /// Whether a verb is served.
    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// `<plural>.<group>` or just `<plural>` for core.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

struct Row {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    all: bool,
    subs: &'static [&'static str],
    rule: NameRule,
}

#[allow(clippy::too_many_arguments)] // one argument per column of the table below
const fn row(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    all: bool,
    subs: &'static [&'static str],
    rule: NameRule,
) -> Row {
    Row {
        group,
        version,
        kind,
        plural,
        namespaced,
        short,
        all,
        subs,
        rule,
    }
}

use NameRule::{Label, Path, Rfc1035, Subdomain};

const KUBERNETES: &[Row] = &[
    row(
        "",
        "v1",
        "Namespace",
        "namespaces",
        false,
        &["ns"],
        false,
        &["status", "finalize"],
        Label,
    ),
    row(
        "",
        "v1",
        "Node",
        "nodes",
        false,
        &["no"],
        false,
        &["status", "proxy"],
        Subdomain,
    ),
    row(
        "",
        "v1",
        "Pod",
        "pods",
        true,
        &["po"],
        true,
        &[
            "status",
            "log",
            "exec",
            "attach",
            "binding",
            "eviction",
            "portforward",
            "ephemeralcontainers",
        ],
        Subdomain,
    ),
    row(
        "",
        "v1",
        "Service",
        "services",
        true,
        &["svc"],
        true,
        &["status", "proxy"],
        Rfc1035,
    ),
    row(
        "",
        "v1",
        "Endpoints",
        "endpoints",
        true,
        &["ep"],
        false,
        &[],
        Subdomain,
    ),
    row(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        true,
        &["cm"],
        false,
        &[],
        Subdomain,
    ),
    row(
        "",
        "v1",
        "Secret",
        "secrets",
        true,
        &[],
        false,
        &[],
        Subdomain,
    ),
    row(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        &["sa"],
        false,
        &["token"],
        Subdomain,
    ),
    row(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        &["pv"],
        false,
        &["status"],
        Subdomain,
    ),
    row(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
        false,
        &["status"],
        Subdomain,
    ),
    row(
        "",
        "v1",
        "Event",
        "events",
        true,
        &["ev"],
        false,
        &[],
        Subdomain,
    ),
    row(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        true,
        &["rc"],
        true,
        &["scale", "status"],
        Subdomain,
    ),
    row(
        "",
        "v1",
        "LimitRange",
        "limitranges",
        true,
        &["limits"],
        false,
        &[],
        Subdomain,
    ),
    row(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        true,
        &["quota"],
        false,
        &["status"],
        Subdomain,
    ),
    row(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
        true,
        &["scale", "status"],
        Subdomain,
    ),
    row(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        &["rs"],
        true,
        &["scale", "status"],
        Subdomain,
    ),
    row(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
        true,
        &["scale", "status"],
        Subdomain,
    ),
    row(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        true,
        &["ds"],
        true,
        &["status"],
        Subdomain,
    ),
    row(
        "batch",
        "v1",
        "Job",
        "jobs",
        true,
        &[],
        true,
        &["status"],
        Subdomain,
    ),
    row(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        true,
        &["cj"],
        true,
        &["status"],
        Subdomain,
    ),
    row(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        true,
        &["ing"],
        false,
        &["status"],
        Subdomain,
    ),
    row(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
        &["sc"],
        false,
        &[],
        Subdomain,
    ),
    row(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        true,
        &[],
        false,
        &[],
        Subdomain,
    ),
    row(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        true,
        &["ev"],
        false,
        &[],
        Subdomain,
    ),
    row(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        true,
        &[],
        false,
        &[],
        Subdomain,
    ),
    row(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
        false,
        &["status"],
        Subdomain,
    ),
];

const OPENSHIFT: &[Row] = &[
    row(
        "apps.openshift.io",
        "v1",
        "DeploymentConfig",
        "deploymentconfigs",
        true,
        &["dc"],
        true,
        &["scale", "status", "instantiate", "log", "rollback"],
        Subdomain,
    ),
    row(
        "route.openshift.io",
        "v1",
        "Route",
        "routes",
        true,
        &[],
        true,
        &["status"],
        Subdomain,
    ),
    row(
        "image.openshift.io",
        "v1",
        "ImageStream",
        "imagestreams",
        true,
        &["is"],
        true,
        &["status"],
        Subdomain,
    ),
    row(
        "image.openshift.io",
        "v1",
        "ImageStreamTag",
        "imagestreamtags",
        true,
        &["istag"],
        false,
        &[],
        Path,
    ),
    row(
        "image.openshift.io",
        "v1",
        "ImageStreamImage",
        "imagestreamimages",
        true,
        &["isimage"],
        false,
        &[],
        Path,
    ),
    row(
        "image.openshift.io",
        "v1",
        "ImageStreamMapping",
        "imagestreammappings",
        true,
        &[],
        false,
        &[],
        Subdomain,
    ),
    row(
        "build.openshift.io",
        "v1",
        "BuildConfig",
        "buildconfigs",
        true,
        &["bc"],
        true,
        &["status", "instantiate", "instantiatebinary", "webhooks"],
        Subdomain,
    ),
    row(
        "build.openshift.io",
        "v1",
        "Build",
        "builds",
        true,
        &[],
        true,
        &["log", "details", "clone"],
        Subdomain,
    ),
    row(
        "template.openshift.io",
        "v1",
        "Template",
        "templates",
        true,
        &[],
        false,
        &[],
        Subdomain,
    ),
    row(
        "template.openshift.io",
        "v1",
        "Template",
        "processedtemplates",
        true,
        &[],
        false,
        &[],
        Subdomain,
    ),
    row(
        "project.openshift.io",
        "v1",
        "Project",
        "projects",
        false,
        &[],
        false,
        &[],
        Label,
    ),
    row(
        "project.openshift.io",
        "v1",
        "ProjectRequest",
        "projectrequests",
        false,
        &[],
        false,
        &[],
        Label,
    ),
];

/// The set of resource types one simulated cluster serves.
#[derive(Debug, Clone)]
pub struct Registry {
    types: Vec<std::sync::Arc<ResourceType>>,
}

/// A stable handle to a resource type inside a [`Registry`].
pub type TypeId = usize;

impl Registry {
    /// The built-in resource types for a flavor.
    pub fn for_flavor(flavor: Flavor) -> Self {
        let mut rows: Vec<&Row> = KUBERNETES.iter().collect();
        if flavor == Flavor::Openshift {
            rows.extend(OPENSHIFT.iter());
        }
        let types = rows
            .into_iter()
            .map(|r| {
                let verbs: Vec<String> = match (r.kind, r.plural) {
                    ("ProjectRequest", _) => vec!["create".into(), "list".into()],
                    (_, "imagestreamimages") => vec!["get".into()],
                    (_, "imagestreammappings" | "processedtemplates") => vec!["create".into()],
                    (_, "imagestreamtags") => ["create", "delete", "get", "list", "update"]
                        .iter()
                        .map(|v| (*v).to_string())
                        .collect(),
                    (_, "projects") => ["create", "delete", "get", "list", "watch"]
                        .iter()
                        .map(|v| (*v).to_string())
                        .collect(),
                    _ => ALL_VERBS.iter().map(|v| (*v).to_string()).collect(),
                };
                ResourceType {
                    group: r.group.into(),
                    version: r.version.into(),
                    kind: r.kind.into(),
                    plural: r.plural.into(),
                    singular: r.kind.to_ascii_lowercase(),
                    namespaced: r.namespaced,
                    short_names: r.short.iter().map(|s| (*s).to_string()).collect(),
                    categories: if r.all {
                        vec!["all".into()]
                    } else {
                        Vec::new()
                    },
                    subresources: r.subs.iter().map(|s| (*s).to_string()).collect(),
                    name_rule: r.rule,
                    verbs,
                }
            })
            .map(std::sync::Arc::new)
            .collect();
        Self { types }
    }

    /// Adds a resource type (a served CRD version); returns its handle. An existing
    /// group/version/plural is replaced.
    pub fn add(&mut self, rt: ResourceType) -> TypeId {
        if let Some(id) = self.find(&rt.group, &rt.version, &rt.plural) {
            self.types[id] = std::sync::Arc::new(rt);
            return id;
        }
        self.types.push(std::sync::Arc::new(rt));
        self.types.len() - 1
    }

    /// Looks a type up by group, version and plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<TypeId> {
        self.types
            .iter()
            .position(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// Looks a type up by `apiVersion` and kind, as written in an object.
    pub fn find_kind(&self, api_version: &str, kind: &str) -> Option<TypeId> {
        let (group, version) = split_api_version(api_version);
        self.types
            .iter()
            .position(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// The type behind a handle.
    pub fn get(&self, id: TypeId) -> &std::sync::Arc<ResourceType> {
        &self.types[id]
    }

    /// All types, in registration order (stable, so discovery output is deterministic).
    pub fn iter(&self) -> impl Iterator<Item = (TypeId, &ResourceType)> {
        self.types.iter().map(AsRef::as_ref).enumerate()
    }

    /// The distinct `(group, version)` pairs, core first, in registration order.
    pub fn group_versions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for t in &self.types {
            let gv = (t.group.clone(), t.version.clone());
            if !out.contains(&gv) {
                out.push(gv);
            }
        }
        out
    }
}

/// Splits `apps/v1` into `("apps", "v1")` and `v1` into `("", "v1")`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}
