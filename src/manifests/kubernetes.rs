//! The `kubernetes` flavor's own objects: a Deployment (instead of odo's DeploymentConfig) with the
//! same pod, and one Ingress per url (instead of a Route).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::{Flavor, RenderInput, meta, pod};
use crate::config::local::UrlEntry;

/// The component's Deployment: one replica, Recreate (the source PVC is ReadWriteOnce).
pub fn deployment(input: &RenderInput<'_>) -> Deployment {
    let c = input.component;
    let name = meta::object_name(&c.name, &c.app);
    let (k, v) = meta::pod_selector_label(Flavor::Kubernetes, &name);
    Deployment {
        metadata: meta::component_meta(input, name),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([(k.to_string(), v)])),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..Default::default()
            }),
            template: pod::pod_template(input, Flavor::Kubernetes),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Host of a url's Ingress rule: `<url>.<host>` when a host domain is set.
pub fn ingress_host(url: &UrlEntry) -> Option<String> {
    url.host.as_ref().map(|h| format!("{}.{h}", url.name))
}

/// Secret holding the certificate of a secure Ingress.
pub fn tls_secret_name(input: &RenderInput<'_>, url: &UrlEntry) -> String {
    let c = input.component;
    url.tls_secret
        .clone()
        .unwrap_or_else(|| format!("{}-tlssecret", meta::object_name(&c.name, &c.app)))
}

/// One Ingress for a url: path `/` to the component's Service on the url's port.
pub fn ingress(input: &RenderInput<'_>, url: &UrlEntry) -> Ingress {
    let c = input.component;
    let mut labels = meta::component_labels(input);
    labels.insert(meta::URL_NAME.into(), url.name.clone());
    let host = ingress_host(url);
    let tls = url.secure.then(|| {
        vec![IngressTLS {
            hosts: host.clone().map(|h| vec![h]),
            secret_name: Some(tls_secret_name(input, url)),
        }]
    });
    Ingress {
        metadata: meta::meta(input, meta::url_object(&url.name, &c.app), labels),
        spec: Some(IngressSpec {
            rules: Some(vec![IngressRule {
                host,
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: meta::object_name(&c.name, &c.app),
                                port: Some(ServiceBackendPort {
                                    number: Some(i32::from(url.port)),
                                    ..Default::default()
                                }),
                            }),
                            ..Default::default()
                        },
                    }],
                }),
            }]),
            tls,
            ..Default::default()
        }),
        ..Default::default()
    }
}
