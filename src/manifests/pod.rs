//! The pod odo runs a component in (DESIGN.md, odo.md 3a): init containers `copy-files-to-volume`
//! and `copy-supervisord`, the app container with go-init as PID 1, the `/opt/odo` emptyDir, the
//! `-s2idata` PVC at `/opt/app-root`, the `ODO_S2I_*` environment, resources and user storage.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvFromSource, EnvVar,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, ResourceRequirements,
    SecretEnvSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta::{self, SUPERVISORD_VOLUME};
use super::{Flavor, RenderInput};

/// Where go-init, supervisord and the s2i helper scripts live in the app container.
pub const ODO_DIR: &str = "/opt/odo/";
/// The directory seeded from the image into the PVC.
pub const APP_ROOT: &str = "/opt/app-root";
/// Backup dir for local sources (`ODO_SRC_BACKUP_DIR`).
pub const SRC_BACKUP_DIR: &str = "/opt/app-root/src-backup";
/// PID 1 of the app container.
pub const GO_INIT: &str = "/opt/odo/bin/go-init";
/// Arguments of go-init.
pub const GO_INIT_ARGS: [&str; 4] = [
    "-pre",
    "/opt/odo/bin/s2i-setup",
    "-main",
    "/opt/odo/bin/supervisord -c /opt/app-root/conf/supervisor.conf",
];
/// Script of `copy-files-to-volume`: seed the PVC from the image's `/opt/app-root` once.
pub const COPY_FILES_SCRIPT: &str = "SRC=/opt/app-root
DEST=/mnt/app-root
if [ -d $DEST ]; then
  exit 0
fi
rm -rf $DEST.setup-volume
mkdir -p $DEST.setup-volume
tar -C $SRC -cf - . | tar -C $DEST.setup-volume -xf -
mv $DEST.setup-volume $DEST
";

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.into()),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str, sub_path: Option<&str>) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        sub_path: sub_path.map(str::to_string),
        ..Default::default()
    }
}

fn pvc_volume(name: &str) -> Volume {
    Volume {
        name: name.to_string(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: name.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The app container's environment, in odo's order.
pub fn container_env(input: &RenderInput<'_>) -> Vec<EnvVar> {
    let c = input.component;
    let s2i = input.s2i;
    let mut out: Vec<EnvVar> = c
        .envs
        .iter()
        .map(|e| env(&e.name, e.value.clone()))
        .collect();
    out.push(env("DEBUG_PORT", c.debug_port.to_string()));
    out.push(env("ODO_S2I_SCRIPTS_URL", s2i.scripts_url.clone()));
    out.push(env(
        "ODO_S2I_SCRIPTS_PROTOCOL",
        s2i.scripts_protocol.clone(),
    ));
    out.push(env("ODO_S2I_SRC_BIN_PATH", s2i.src_bin_path.clone()));
    if let Some(dir) = &s2i.deployment_dir {
        out.push(env("ODO_S2I_DEPLOYMENT_DIR", dir.clone()));
    }
    out.push(env("ODO_S2I_WORKING_DIR", s2i.working_dir.clone()));
    if let Some(img) = &s2i.builder_img {
        out.push(env("ODO_S2I_BUILDER_IMG", img.clone()));
    }
    if c.source_type == crate::config::SourceType::Local {
        out.push(env("ODO_SRC_BACKUP_DIR", SRC_BACKUP_DIR));
    }
    out
}

fn resources(input: &RenderInput<'_>) -> Option<ResourceRequirements> {
    let r = &input.component.resources;
    let pair = |cpu: &Option<String>, memory: &Option<String>| {
        let mut m = BTreeMap::new();
        if let Some(v) = cpu {
            m.insert("cpu".to_string(), Quantity(v.clone()));
        }
        if let Some(v) = memory {
            m.insert("memory".to_string(), Quantity(v.clone()));
        }
        (!m.is_empty()).then_some(m)
    };
    let requests = pair(&r.min_cpu, &r.min_memory);
    let limits = pair(&r.max_cpu, &r.max_memory);
    (requests.is_some() || limits.is_some()).then(|| ResourceRequirements {
        requests,
        limits,
        ..Default::default()
    })
}

/// Whether the image's deployments dir needs its own mount (set, and neither `/opt/app-root`
/// nor a direct child of it).
fn deployment_dir_mount(dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    let parent = dir.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    dir != APP_ROOT && parent != APP_ROOT
}

/// The pod template of the component's workload.
pub fn pod_template(input: &RenderInput<'_>, flavor: Flavor) -> PodTemplateSpec {
    let c = input.component;
    let name = meta::object_name(&c.name, &c.app);
    let data_pvc = meta::s2i_data_pvc(&c.name, &c.app);
    let image = input.builder.builder.image.to_string();

    let copy_files = Container {
        name: "copy-files-to-volume".into(),
        image: Some(image.clone()),
        command: Some(vec!["sh".into(), "-c".into()]),
        args: Some(vec![COPY_FILES_SCRIPT.into()]),
        volume_mounts: Some(vec![mount(&data_pvc, "/mnt", None)]),
        ..Default::default()
    };
    let copy_supervisord = Container {
        name: "copy-supervisord".into(),
        image: Some(input.init_image.to_string()),
        command: Some(vec!["/usr/bin/cp".into()]),
        args: Some(vec!["-r".into(), "/opt/odo-init/.".into(), ODO_DIR.into()]),
        volume_mounts: Some(vec![mount(SUPERVISORD_VOLUME, ODO_DIR, None)]),
        ..Default::default()
    };

    let mut mounts = vec![
        mount(SUPERVISORD_VOLUME, ODO_DIR, None),
        mount(&data_pvc, APP_ROOT, Some("app-root")),
    ];
    if let Some(dir) = input
        .s2i
        .deployment_dir
        .as_deref()
        .filter(|d| deployment_dir_mount(d))
    {
        mounts.push(mount(&data_pvc, dir, Some("deployment")));
    }
    let mut volumes = vec![
        Volume {
            name: SUPERVISORD_VOLUME.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
        pvc_volume(&data_pvc),
    ];
    for st in &c.storage {
        let pvc = meta::storage_pvc(&st.name, &c.app);
        mounts.push(mount(&pvc, &st.path, None));
        volumes.push(pvc_volume(&pvc));
    }

    let ports: Vec<ContainerPort> = input
        .ports()
        .iter()
        .map(|p| ContainerPort {
            name: Some(p.name()),
            container_port: i32::from(p.port),
            protocol: Some(p.protocol.as_str().into()),
            ..Default::default()
        })
        .collect();

    let app = Container {
        name: name.clone(),
        image: Some(image),
        command: Some(vec![GO_INIT.into()]),
        args: Some(GO_INIT_ARGS.iter().map(|s| s.to_string()).collect()),
        ports: (!ports.is_empty()).then_some(ports),
        env: Some(container_env(input)),
        env_from: (!input.component.links.is_empty()).then(|| {
            input
                .component
                .links
                .iter()
                .map(|l| EnvFromSource {
                    secret_ref: Some(SecretEnvSource {
                        name: l.secret.clone(),
                        optional: None,
                    }),
                    ..Default::default()
                })
                .collect()
        }),
        resources: resources(input),
        volume_mounts: Some(mounts),
        ..Default::default()
    };

    let (sel_key, sel_value) = meta::pod_selector_label(flavor, &name);
    let annotations = match flavor {
        Flavor::OpenShift => Some(BTreeMap::from([(
            "alpha.image.policy.openshift.io/resolve-names".to_string(),
            "*".to_string(),
        )])),
        Flavor::Kubernetes => None,
    };
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(BTreeMap::from([(sel_key.to_string(), sel_value)])),
            annotations,
            ..Default::default()
        }),
        spec: Some(PodSpec {
            init_containers: Some(vec![copy_files, copy_supervisord]),
            containers: vec![app],
            volumes: Some(volumes),
            ..Default::default()
        }),
    }
}

/// The pod template of a component that runs the image its build produced (git components on
/// OpenShift): one container whose image `" "` is filled in by the DeploymentConfig's
/// ImageChange trigger, running the image's own command; no init containers, no odo volumes.
pub fn built_image_pod_template(input: &RenderInput<'_>, flavor: Flavor) -> PodTemplateSpec {
    let mut template = pod_template(input, flavor);
    let c = input.component;
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for st in &c.storage {
        let pvc = meta::storage_pvc(&st.name, &c.app);
        mounts.push(mount(&pvc, &st.path, None));
        volumes.push(pvc_volume(&pvc));
    }
    if let Some(spec) = template.spec.as_mut() {
        spec.init_containers = None;
        spec.volumes = (!volumes.is_empty()).then_some(volumes);
        for app in &mut spec.containers {
            app.image = Some(" ".into());
            app.command = None;
            app.args = None;
            app.volume_mounts = (!mounts.is_empty()).then(|| mounts.clone());
            let mut vars: Vec<EnvVar> = c
                .envs
                .iter()
                .map(|e| env(&e.name, e.value.clone()))
                .collect();
            vars.push(env("DEBUG_PORT", c.debug_port.to_string()));
            app.env = Some(vars);
        }
    }
    template
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_dir_rules() {
        assert!(deployment_dir_mount("/deployments"));
        assert!(!deployment_dir_mount("/opt/app-root"));
        assert!(!deployment_dir_mount("/opt/app-root/deploy"));
        assert!(deployment_dir_mount("/opt/app-root/a/b"));
    }
}
