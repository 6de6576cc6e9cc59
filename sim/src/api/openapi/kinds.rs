//! Component schemas by kind: k8s-openapi's JSON schemas for the built-in kinds, a CRD's
//! `openAPIV3Schema` for custom resources, an open object otherwise; plus the extensions
//! clients read from them (`x-kubernetes-group-version-kind`, `x-kubernetes-patch-merge-key`,
//! `x-kubernetes-patch-strategy`).

use k8s_openapi::schemars::JsonSchema;
use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::resources::ResourceType;
use crate::store::Store;

/// Whether a type is a custom resource (served because a CRD defines it).
pub fn is_custom(t: &ResourceType) -> bool {
    builtin_name(&t.group, &t.kind).is_none()
        && !t.group.ends_with(".openshift.io")
        && t.group.contains('.')
}

macro_rules! kinds {
    ($group:expr, $kind:expr, $gen:expr; $( ($g:literal, $k:literal) => $t:ty ),* $(,)?) => {
        match ($group, $kind) {
            $( ($g, $k) => {
                if let Some(generator) = $gen {
                    generator.subschema_for::<$t>();
                }
                Some(<$t as JsonSchema>::schema_name().into_owned())
            } )*
            _ => None,
        }
    };
}

fn builtin(group: &str, kind: &str, generator: Option<&mut SchemaGenerator>) -> Option<String> {
    use k8s_openapi::api::storage::v1 as storage;
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
    use k8s_openapi::api::{coordination::v1 as coordination, discovery::v1 as discovery};
    use k8s_openapi::api::{events::v1 as events, networking::v1 as networking};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    kinds!(group, kind, generator;
        ("", "Namespace") => core::Namespace,
        ("", "Node") => core::Node,
        ("", "Pod") => core::Pod,
        ("", "Service") => core::Service,
        ("", "Endpoints") => core::Endpoints,
        ("", "ConfigMap") => core::ConfigMap,
        ("", "Secret") => core::Secret,
        ("", "ServiceAccount") => core::ServiceAccount,
        ("", "PersistentVolume") => core::PersistentVolume,
        ("", "PersistentVolumeClaim") => core::PersistentVolumeClaim,
        ("", "Event") => core::Event,
        ("", "ReplicationController") => core::ReplicationController,
        ("", "LimitRange") => core::LimitRange,
        ("", "ResourceQuota") => core::ResourceQuota,
        ("apps", "Deployment") => apps::Deployment,
        ("apps", "ReplicaSet") => apps::ReplicaSet,
        ("apps", "StatefulSet") => apps::StatefulSet,
        ("apps", "DaemonSet") => apps::DaemonSet,
        ("batch", "Job") => batch::Job,
        ("batch", "CronJob") => batch::CronJob,
        ("networking.k8s.io", "Ingress") => networking::Ingress,
        ("storage.k8s.io", "StorageClass") => storage::StorageClass,
        ("discovery.k8s.io", "EndpointSlice") => discovery::EndpointSlice,
        ("events.k8s.io", "Event") => events::Event,
        ("coordination.k8s.io", "Lease") => coordination::Lease,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => apiext::CustomResourceDefinition,
    )
}

fn builtin_name(group: &str, kind: &str) -> Option<String> {
    builtin(group, kind, None)
}

/// The schemas of one OpenAPI document being assembled.
pub struct Schemas {
    generator: SchemaGenerator,
    extra: Map<String, Value>,
    gvks: Vec<(String, Value)>,
}

impl Schemas {
    /// An empty set, generating OpenAPI 3 schemas.
    pub fn new() -> Self {
        Self {
            generator: SchemaGenerator::new(SchemaSettings::openapi3()),
            extra: Map::new(),
            gvks: Vec::new(),
        }
    }

    /// Adds the schema of `t`; returns its component name and whether it is a built-in kind
    /// (which accepts strategic merge patches).
    pub fn add(&mut self, store: &Store, t: &ResourceType) -> (String, bool) {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        if let Some(name) = builtin(&t.group, &t.kind, Some(&mut self.generator)) {
            self.gvks.push((name.clone(), gvk));
            return (name, true);
        }
        let reversed: Vec<&str> = t.group.split('.').rev().collect();
        let name = format!("{}.{}.{}", reversed.join("."), t.version, t.kind);
        let schema = crd_schema(store, t)
            .map(|s| self.with_object_fields(s))
            .unwrap_or_else(|| {
            json!({
                "description": format!("{} of {}/{} (served by the simulator without a detailed schema)", t.kind, t.group, t.version),
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
            })
        });
        self.extra.insert(name.clone(), schema);
        self.gvks.push((name.clone(), gvk));
        (name, false)
    }

    /// A CRD's schema with the fields every object has (`apiVersion`, `kind`, `metadata`),
    /// which the API server adds to the schema a CRD declares.
    fn with_object_fields(&mut self, mut schema: Value) -> Value {
        let meta = self
            .generator
            .subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>();
        if let Some(s) = schema.as_object_mut() {
            let props = s
                .entry("properties")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(p) = props.as_object_mut() {
                p.entry("apiVersion").or_insert_with(|| json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}));
                p.entry("kind").or_insert_with(|| json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}));
                p.entry("metadata").or_insert_with(|| json!({"allOf": [meta.as_value()], "description": "Standard object's metadata."}));
            }
        }
        schema
    }

    /// The component schemas, with the extensions added.
    pub fn finish(mut self) -> Map<String, Value> {
        let mut defs = self.generator.take_definitions(true);
        defs.append(&mut self.extra);
        for (name, gvk) in self.gvks {
            if let Some(Value::Object(s)) = defs.get_mut(&name) {
                s.insert("x-kubernetes-group-version-kind".into(), json!([gvk]));
                // Server-side validation decides what is required; client-side tools must
                // not demand fields (k8s-openapi marks `metadata` required).
                s.remove("required");
            }
        }
        for (name, schema) in &mut defs {
            if let Some(Value::Object(props)) = schema.get_mut("properties") {
                for (field, prop) in props.iter_mut() {
                    add_patch_extensions(name, field, prop);
                }
            }
        }
        defs
    }
}

/// The `patchMergeKey`/`patchStrategy` tags of the built-in types' list fields.
fn patch_meta(def: &str, field: &str) -> Option<(Option<&'static str>, &'static str)> {
    let short = def.rsplit('.').next().unwrap_or(def);
    Some(match (short, field) {
        (
            "PodSpec",
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "imagePullSecrets"
            | "resourceClaims"
            | "schedulingGates",
        ) => (Some("name"), "merge"),
        ("PodSpec", "volumes") => (Some("name"), "merge,retainKeys"),
        ("DeploymentSpec", "strategy") => (None, "retainKeys"),
        ("PodSpec", "hostAliases") => (Some("ip"), "merge"),
        ("PodSpec", "topologySpreadConstraints") => (Some("topologyKey"), "merge"),
        ("Container" | "EphemeralContainer", "env") => (Some("name"), "merge"),
        ("Container" | "EphemeralContainer", "ports") => (Some("containerPort"), "merge"),
        ("Container" | "EphemeralContainer", "volumeMounts") => (Some("mountPath"), "merge"),
        ("Container" | "EphemeralContainer", "volumeDevices") => (Some("devicePath"), "merge"),
        ("ServiceSpec", "ports") => (Some("port"), "merge"),
        ("ObjectMeta", "finalizers") => (None, "merge"),
        ("ObjectMeta", "ownerReferences") => (Some("uid"), "merge"),
        (_, "conditions") if short.ends_with("Status") => (Some("type"), "merge"),
        _ => return None,
    })
}

fn add_patch_extensions(def: &str, field: &str, prop: &mut Value) {
    let Some((key, strategy)) = patch_meta(def, field) else {
        return;
    };
    let Some(p) = prop.as_object_mut() else {
        return;
    };
    p.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
    if let Some(k) = key {
        p.insert("x-kubernetes-patch-merge-key".into(), json!(k));
        p.insert("x-kubernetes-list-type".into(), json!("map"));
        p.insert("x-kubernetes-list-map-keys".into(), json!([k]));
    }
}

/// The `openAPIV3Schema` of the CRD that defines `t`, if any.
fn crd_schema(store: &Store, t: &ResourceType) -> Option<Value> {
    let (tid, _) = store.resolve("apiextensions.k8s.io", "v1", "customresourcedefinitions")?;
    let crd = store
        .get(tid, "", &format!("{}.{}", t.plural, t.group))
        .ok()?;
    let versions = crd.pointer("/spec/versions")?.as_array()?;
    let v = versions
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(t.version.as_str()))?;
    v.pointer("/schema/openAPIV3Schema").cloned()
}
