//! Objects both flavors share: the component's Service, the per-port Secrets (odo's link
//! secrets), the `-s2idata` PVC and the user storage PVCs.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, Secret, Service, ServicePort, ServiceSpec,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta;
use super::{Flavor, RenderInput};

/// Size of the `-s2idata` PVC.
pub const S2I_DATA_SIZE: &str = "1Gi";

/// The component's Service: one port per container port, selecting the component's pods.
/// `None` when the component has no ports.
pub fn service(input: &RenderInput<'_>, flavor: Flavor) -> Option<Service> {
    let c = input.component;
    let name = meta::object_name(&c.name, &c.app);
    let ports: Vec<ServicePort> = input
        .ports()
        .iter()
        .map(|p| ServicePort {
            name: Some(p.name()),
            port: i32::from(p.port),
            target_port: Some(IntOrString::Int(i32::from(p.port))),
            protocol: Some(p.protocol.as_str().into()),
            ..Default::default()
        })
        .collect();
    if ports.is_empty() {
        return None;
    }
    let (k, v) = meta::pod_selector_label(flavor, &name);
    Some(Service {
        metadata: meta::component_meta(input, name),
        spec: Some(ServiceSpec {
            ports: Some(ports),
            selector: Some(BTreeMap::from([(k.to_string(), v)])),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// One Opaque Secret per port: `COMPONENT_<NAME>_HOST` and `COMPONENT_<NAME>_PORT`.
pub fn port_secrets(input: &RenderInput<'_>) -> Vec<Secret> {
    let c = input.component;
    let svc = meta::object_name(&c.name, &c.app);
    let env_name = c.name.to_ascii_uppercase().replace('-', "_");
    input
        .ports()
        .iter()
        .map(|p| {
            let mut metadata = meta::meta(
                input,
                meta::port_secret(&c.name, &c.app, p.port),
                meta::component_labels(input),
            );
            metadata.annotations = Some(BTreeMap::from([(
                meta::COMPONENT_PORT.to_string(),
                p.port.to_string(),
            )]));
            Secret {
                metadata,
                type_: Some("Opaque".into()),
                string_data: Some(BTreeMap::from([
                    (format!("COMPONENT_{env_name}_HOST"), svc.clone()),
                    (format!("COMPONENT_{env_name}_PORT"), p.port.to_string()),
                ])),
                ..Default::default()
            }
        })
        .collect()
}

fn pvc(
    input: &RenderInput<'_>,
    name: String,
    size: &str,
    labels: BTreeMap<String, String>,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: meta::meta(input, name, labels),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(size.to_string()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The PVC seeded from the image's `/opt/app-root`.
pub fn s2i_data_pvc(input: &RenderInput<'_>) -> PersistentVolumeClaim {
    let c = input.component;
    pvc(
        input,
        meta::s2i_data_pvc(&c.name, &c.app),
        S2I_DATA_SIZE,
        meta::component_labels(input),
    )
}

/// PVCs for the component's `Storage` entries.
pub fn storage_pvcs(input: &RenderInput<'_>) -> Vec<PersistentVolumeClaim> {
    let c = input.component;
    c.storage
        .iter()
        .map(|st| {
            let mut labels = meta::component_labels(input);
            labels.insert(meta::STORAGE_NAME.into(), st.name.clone());
            pvc(input, meta::storage_pvc(&st.name, &c.app), &st.size, labels)
        })
        .collect()
}
