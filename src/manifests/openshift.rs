//! The `openshift` flavor's own objects, as small typed structs because k8s-openapi has no
//! OpenShift types: DeploymentConfig (apps.openshift.io/v1), ImageStream (image.openshift.io/v1)
//! and Route (route.openshift.io/v1).
//!
//! Unlike odo, the DeploymentConfig of a local or binary component names the builder image
//! directly and has only a ConfigChange trigger (odo sets the image to `" "` and lets an
//! ImageChange trigger on an ImageStreamTag in the `openshift` namespace fill it in); this keeps
//! the pod identical on both flavors and does not depend on the cluster's ImageStreams. A git
//! component gets a BuildConfig too, and its DeploymentConfig's image comes from the build's
//! output tag `<component>-<app>:latest` through an ImageChange trigger, as in odo: not
//! automatic for git (odo starts the rollout after the build, see [`rolls_out_itself`]),
//! automatic for binary components.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

use super::{Flavor, RenderInput, meta, pod};
use crate::config::SourceType;
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
#[serde(rename_all = "camelCase")]
pub struct DeploymentTrigger {
    /// `ConfigChange` or `ImageChange`.
    #[serde(rename = "type")]
    pub type_: String,
    /// For `ImageChange`: which tag fills which containers' image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub image_change_params: Option<ImageChangeParams>,
}

/// What an ImageChange trigger follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageChangeParams {
    /// Roll out when the tag moves.
    pub automatic: bool,
    /// Containers whose image is set from the tag.
    pub container_names: Vec<String>,
    /// The ImageStreamTag.
    pub from: ObjectReference,
}

/// A reference to an image (`ImageStreamTag` or `DockerImage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectReference {
    /// `ImageStreamTag` or `DockerImage`.
    pub kind: String,
    /// `<stream>:<tag>` or an image reference.
    pub name: String,
}

/// An OpenShift BuildConfig (what odo sets for a git component).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildConfig {
    /// `build.openshift.io/v1`.
    pub api_version: String,
    /// `BuildConfig`.
    pub kind: String,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: BuildConfigSpec,
}

/// BuildConfig spec: a Source (s2i) build of a git repository into an ImageStreamTag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildConfigSpec {
    /// The source.
    pub source: BuildSource,
    /// The strategy.
    pub strategy: BuildStrategy,
    /// Where the image goes.
    pub output: BuildOutput,
}

/// Build source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildSource {
    /// `Git` or `Binary`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The repository (`Git`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub git: Option<GitBuildSource>,
    /// The uploaded file (`Binary`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub binary: Option<BinaryBuildSource>,
}

/// A binary build's upload: one file, stored under this name in the build's source directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BinaryBuildSource {
    /// File name of the upload.
    pub as_file: String,
}

/// Git repository of a build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitBuildSource {
    /// Repository URL.
    pub uri: String,
    /// Branch, tag or commit.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none", default)]
    pub ref_: Option<String>,
}

/// Build strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildStrategy {
    /// `Source`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The builder image.
    pub source_strategy: SourceStrategy,
}

/// Source (s2i) strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceStrategy {
    /// The builder image.
    pub from: ObjectReference,
}

/// Build output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildOutput {
    /// The ImageStreamTag the image is pushed to.
    pub to: ObjectReference,
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
            template: if is_built(c) {
                pod::built_image_pod_template(input, Flavor::OpenShift)
            } else {
                pod::pod_template(input, Flavor::OpenShift)
            },
            triggers: triggers(input),
        },
    }
}

/// The `latest` tag of the component's ImageStream, where its build puts the image.
pub fn output_tag(input: &RenderInput<'_>) -> String {
    let c = input.component;
    format!("{}:latest", meta::object_name(&c.name, &c.app))
}

fn triggers(input: &RenderInput<'_>) -> Vec<DeploymentTrigger> {
    let c = input.component;
    let config_change = DeploymentTrigger {
        type_: "ConfigChange".into(),
        image_change_params: None,
    };
    if !is_built(c) {
        return vec![config_change];
    }
    let image_change = DeploymentTrigger {
        type_: "ImageChange".into(),
        image_change_params: Some(ImageChangeParams {
            automatic: !rolls_out_itself(c),
            container_names: vec![meta::object_name(&c.name, &c.app)],
            from: ObjectReference {
                kind: "ImageStreamTag".into(),
                name: output_tag(input),
            },
        }),
    };
    if rolls_out_itself(c) {
        // As odo's git DeploymentConfig: only a non-automatic ImageChange trigger (kept so a
        // rollout started with `latest` resolves the image), no ConfigChange trigger. The pod
        // template names no image (`" "`) until a rollout resolves it, and odo starts every
        // rollout itself once its build completed.
        vec![image_change]
    } else {
        vec![config_change, image_change]
    }
}

/// Whether odo starts the rollouts of the component's DeploymentConfig itself (a
/// `DeploymentRequest` after each completed build) instead of an automatic ImageChange
/// trigger: git components, as in odo (`NewAppS2I` + `StartDeployment`). A binary
/// component's trigger stays automatic, as the ImageChange trigger odo gives local and binary
/// components is.
pub fn rolls_out_itself(c: &crate::config::Component) -> bool {
    c.source_type == SourceType::Git
}

/// The file name a binary component's file is uploaded as (the last part of its path).
pub fn binary_file_name(location: &str) -> String {
    let name = location.rsplit(['/', '\\']).find(|p| !p.is_empty());
    name.unwrap_or(location).to_string()
}

/// Whether a component runs the image an OpenShift build made (git and binary components)
/// rather than the builder image with synced sources.
pub fn is_built(c: &crate::config::Component) -> bool {
    matches!(c.source_type, SourceType::Git | SourceType::Binary)
}

/// The BuildConfig of a git or binary component: an s2i build of the repository (or of the
/// uploaded file) with the builder image, into `<component>-<app>:latest`.
pub fn build_config(input: &RenderInput<'_>) -> BuildConfig {
    let c = input.component;
    BuildConfig {
        api_version: "build.openshift.io/v1".into(),
        kind: "BuildConfig".into(),
        metadata: meta::component_meta(input, meta::object_name(&c.name, &c.app)),
        spec: BuildConfigSpec {
            source: if c.source_type == SourceType::Binary {
                BuildSource {
                    type_: "Binary".into(),
                    git: None,
                    binary: Some(BinaryBuildSource {
                        as_file: binary_file_name(&c.source_location),
                    }),
                }
            } else {
                BuildSource {
                    type_: "Git".into(),
                    git: Some(GitBuildSource {
                        uri: c.source_location.clone(),
                        ref_: c.git_ref.clone(),
                    }),
                    binary: None,
                }
            },
            strategy: BuildStrategy {
                type_: "Source".into(),
                source_strategy: SourceStrategy {
                    from: ObjectReference {
                        kind: "DockerImage".into(),
                        name: input.builder.builder.image.to_string(),
                    },
                },
            },
            output: BuildOutput {
                to: ObjectReference {
                    kind: "ImageStreamTag".into(),
                    name: output_tag(input),
                },
            },
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
