//! Names, labels and annotations odo puts on the objects of a component (odo.md section 3a):
//! `<component>-<app>` for the workload, `<component>-<app>-s2idata` for the source volume,
//! `<storage>-<app>-pvc`, `<url>-<app>`, and the `app.kubernetes.io/*` label set.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Flavor, RenderInput};

/// Label: the application.
pub const PART_OF: &str = "app.kubernetes.io/part-of";
/// Label: the component.
pub const INSTANCE: &str = "app.kubernetes.io/instance";
/// Label: the application (short form).
pub const APP: &str = "app";
/// Label: who manages the object.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Label: version of the manager.
pub const MANAGED_BY_VERSION: &str = "app.kubernetes.io/managed-by-version";
/// Label: component type (builder image name).
pub const NAME: &str = "app.kubernetes.io/name";
/// Label: component type version (tag).
pub const RUNTIME_VERSION: &str = "app.openshift.io/runtime-version";
/// Label on user storage PVCs: the storage name.
pub const STORAGE_NAME: &str = "app.kubernetes.io/storage-name";
/// Label on Routes and Ingresses: the url name.
pub const URL_NAME: &str = "odo.openshift.io/url-name";
/// Annotation: source type.
pub const SOURCE_TYPE: &str = "app.kubernetes.io/component-source-type";
/// Annotation: the repository of a git component.
pub const VCS_URI: &str = "app.openshift.io/vcs-uri";
/// Annotation on Secrets: the port.
pub const COMPONENT_PORT: &str = "component-port";
/// Pod template label selecting a DeploymentConfig's pods.
pub const DC_SELECTOR: &str = "deploymentconfig";
/// Pod template label selecting a Deployment's pods.
pub const DEPLOYMENT_SELECTOR: &str = "component";
/// Value of `managed-by`.
pub const MANAGER: &str = "odo";
/// Name of the emptyDir holding odo's init tools.
pub const SUPERVISORD_VOLUME: &str = "odo-supervisord-shared-data";

/// `<component>-<app>`: workload, Service and ImageStream name.
pub fn object_name(component: &str, app: &str) -> String {
    format!("{component}-{app}")
}

/// `<component>-<app>-s2idata`: the PVC holding `/opt/app-root`.
pub fn s2i_data_pvc(component: &str, app: &str) -> String {
    format!("{component}-{app}-s2idata")
}

/// `<storage>-<app>-pvc`: a user storage PVC.
pub fn storage_pvc(storage: &str, app: &str) -> String {
    format!("{storage}-{app}-pvc")
}

/// `<url>-<app>`: the Route or Ingress of a url.
pub fn url_object(url: &str, app: &str) -> String {
    format!("{url}-{app}")
}

/// `<component>-<app>-<port>`: the Secret describing one port.
pub fn port_secret(component: &str, app: &str, port: u16) -> String {
    format!("{component}-{app}-{port}")
}

/// Label selector string that finds every object of a component.
pub fn component_selector(component: &str, app: &str) -> String {
    format!("{INSTANCE}={component},{PART_OF}={app}")
}

/// Label selector string that finds every object of an application.
pub fn app_selector(app: &str) -> String {
    format!("{PART_OF}={app}")
}

/// The pod template label (key, value) for a flavor.
pub fn pod_selector_label(flavor: Flavor, object_name: &str) -> (&'static str, String) {
    match flavor {
        Flavor::Kubernetes => (DEPLOYMENT_SELECTOR, object_name.to_string()),
        Flavor::OpenShift => (DC_SELECTOR, object_name.to_string()),
    }
}

/// Label selector string for the component's pods.
pub fn pod_selector(flavor: Flavor, object_name: &str) -> String {
    let (k, v) = pod_selector_label(flavor, object_name);
    format!("{k}={v}")
}

/// The labels every object of the component carries.
pub fn component_labels(input: &RenderInput<'_>) -> BTreeMap<String, String> {
    let c = input.component;
    BTreeMap::from([
        (PART_OF.into(), c.app.clone()),
        (INSTANCE.into(), c.name.clone()),
        (APP.into(), c.app.clone()),
        (MANAGED_BY.into(), MANAGER.into()),
        (MANAGED_BY_VERSION.into(), input.odo_version.to_string()),
        (NAME.into(), input.builder.builder.name.to_string()),
        (RUNTIME_VERSION.into(), input.builder.tag.clone()),
    ])
}

/// Annotations of the workload, ImageStream and Service.
pub fn component_annotations(input: &RenderInput<'_>) -> BTreeMap<String, String> {
    let c = input.component;
    let mut out = BTreeMap::from([(SOURCE_TYPE.into(), c.source_type.as_str().to_string())]);
    if c.source_type == crate::config::SourceType::Git {
        out.insert(VCS_URI.into(), c.source_location.clone());
    }
    out
}

/// Metadata with a name, the namespace and the given labels.
pub fn meta(input: &RenderInput<'_>, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(input.namespace.to_string()),
        labels: Some(labels),
        ..Default::default()
    }
}

/// Metadata with the component labels and annotations.
pub fn component_meta(input: &RenderInput<'_>, name: String) -> ObjectMeta {
    ObjectMeta {
        annotations: Some(component_annotations(input)),
        ..meta(input, name, component_labels(input))
    }
}
