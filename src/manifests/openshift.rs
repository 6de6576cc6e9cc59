//! The `openshift` flavor's own objects, as small typed structs because k8s-openapi has no
//! OpenShift types: DeploymentConfig (apps.openshift.io/v1), ImageStream (image.openshift.io/v1)
//! and Route (route.openshift.io/v1).
//!
//! Unlike odo, the DeploymentConfig names the builder image directly and has only a ConfigChange
//! trigger (odo sets the image to `" "` and lets an ImageChange trigger on an ImageStreamTag in the
//! `openshift` namespace fill it in); this keeps the pod identical on both flavors and does not
//! depend on the cluster's ImageStreams.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

use super::{Flavor, RenderInput, meta, pod};
use crate::config::local::UrlEntry;

/// An OpenShift DeploymentConfig (the fields odo sets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfig {
    /// `apps.openshift.io/v1`.
    pub api_version: String,
    /// `DeploymentConfig`.
    pub kind: String,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: DeploymentConfigSpec,
}

/// DeploymentConfig spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfigSpec {
    /// Replica count.
    pub replicas: i32,
    /// Pod selector (plain map, as in OpenShift).
    pub selector: BTreeMap<String, String>,
    /// Rollout strategy.
    pub strategy: DeploymentStrategy,
    /// Pod template.
    pub template: PodTemplateSpec,
    /// Triggers.
    pub triggers: Vec<DeploymentTrigger>,
}

/// DeploymentConfig strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentStrategy {
    /// `Recreate` or `Rolling`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// DeploymentConfig trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentTrigger {
    /// `ConfigChange` or `ImageChange`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// An OpenShift ImageStream (odo creates it with an empty spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStream {
    /// `image.openshift.io/v1`.
    pub api_version: String,
    /// `ImageStream`.
    pub kind: String,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Empty spec.
    pub spec: BTreeMap<String, serde_json::Value>,
}

/// An OpenShift Route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// `route.openshift.io/v1`.
    pub api_version: String,
    /// `Route`.
    pub kind: String,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: RouteSpec,
}

/// Route spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// Host; the router generates one when absent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host: Option<String>,
    /// Path.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
    /// Target Service.
    pub to: RouteTarget,
    /// Target port.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub port: Option<RoutePort>,
    /// TLS.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls: Option<RouteTls>,
}

/// Route target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteTarget {
    /// `Service`.
    pub kind: String,
    /// Service name.
    pub name: String,
    /// Weight.
    pub weight: i32,
}

/// Route port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutePort {
    /// Service target port.
    pub target_port: IntOrString,
}

/// Route TLS settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTls {
    /// `edge`.
    pub termination: String,
    /// `Redirect`.
    pub insecure_edge_termination_policy: String,
}

/// The component's DeploymentConfig.
pub fn deployment_config(input: &RenderInput<'_>) -> DeploymentConfig {
    let c = input.component;
    let name = meta::object_name(&c.name, &c.app);
    let (k, v) = meta::pod_selector_label(Flavor::OpenShift, &name);
    DeploymentConfig {
        api_version: "apps.openshift.io/v1".into(),
        kind: "DeploymentConfig".into(),
        metadata: meta::component_meta(input, name),
        spec: DeploymentConfigSpec {
            replicas: 1,
            selector: BTreeMap::from([(k.to_string(), v)]),
            strategy: DeploymentStrategy {
                type_: "Recreate".into(),
            },
            template: pod::pod_template(input, Flavor::OpenShift),
            triggers: vec![DeploymentTrigger {
                type_: "ConfigChange".into(),
            }],
        },
    }
}

/// The component's (empty) ImageStream.
pub fn image_stream(input: &RenderInput<'_>) -> ImageStream {
    let c = input.component;
    ImageStream {
        api_version: "image.openshift.io/v1".into(),
        kind: "ImageStream".into(),
        metadata: meta::component_meta(input, meta::object_name(&c.name, &c.app)),
        spec: BTreeMap::new(),
    }
}

/// One Route for a url.
pub fn route(input: &RenderInput<'_>, url: &UrlEntry) -> Route {
    let c = input.component;
    let mut labels = meta::component_labels(input);
    labels.insert(meta::URL_NAME.into(), url.name.clone());
    Route {
        api_version: "route.openshift.io/v1".into(),
        kind: "Route".into(),
        metadata: meta::meta(input, meta::url_object(&url.name, &c.app), labels),
        spec: RouteSpec {
            host: None,
            path: Some("/".into()),
            to: RouteTarget {
                kind: "Service".into(),
                name: meta::object_name(&c.name, &c.app),
                weight: 100,
            },
            port: Some(RoutePort {
                target_port: IntOrString::Int(i32::from(url.port)),
            }),
            tls: url.secure.then(|| RouteTls {
                termination: "edge".into(),
                insecure_edge_termination_policy: "Redirect".into(),
            }),
        },
    }
}
