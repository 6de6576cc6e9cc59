//! Snapshot tests of every rendered shape: the three builder types on both flavors, and the
//! parts that component settings change (ports, env, resources, storage, url, secure url), and
//! git and binary components on OpenShift (BuildConfig, ImageChange-fed DeploymentConfig).

#![allow(clippy::unwrap_used)]

use std::path::Path;

use odo::catalog;
use odo::config::local::{EnvVar, StorageEntry, UrlEntry};
use odo::config::{Component, ComponentSettings};
use odo::manifests::{Flavor, Kind, Manifest, RenderInput, render};
use serde_json::Value;

fn settings(ty: &str) -> ComponentSettings {
    ComponentSettings {
        name: Some(format!("{}-web", ty.split(':').next().unwrap())),
        component_type: Some(ty.to_string()),
        application: Some("shop".into()),
        project: Some("dev".into()),
        ..Default::default()
    }
}

fn manifests(s: &ComponentSettings, flavor: Flavor) -> Vec<Manifest> {
    let component = Component::from_settings(Path::new("config.yaml"), s).unwrap();
    let builder = catalog::resolve(&component.component_type).unwrap();
    let s2i = catalog::s2i_paths(builder.builder).unwrap();
    let input = RenderInput {
        component: &component,
        namespace: "dev",
        builder: &builder,
        s2i: &s2i,
        init_image: catalog::INIT_IMAGE,
        odo_version: "v0.0.0-test",
    };
    render(&input, flavor).unwrap().manifests().unwrap()
}

fn all(s: &ComponentSettings, flavor: Flavor) -> Vec<Value> {
    manifests(s, flavor).into_iter().map(|m| m.object).collect()
}

fn of_kind(s: &ComponentSettings, flavor: Flavor, kinds: &[Kind]) -> Vec<Value> {
    manifests(s, flavor)
        .into_iter()
        .filter(|m| kinds.contains(&m.kind))
        .map(|m| m.object)
        .collect()
}

/// The app container (`<comp>-<app>`) of the workload.
fn app_container(s: &ComponentSettings, flavor: Flavor) -> Value {
    let workload = manifests(s, flavor)
        .into_iter()
        .find(|m| matches!(m.kind, Kind::Deployment | Kind::DeploymentConfig))
        .unwrap();
    workload.object["spec"]["template"]["spec"]["containers"][0].clone()
}

#[test]
fn nodejs_kubernetes() {
    insta::assert_yaml_snapshot!(all(&settings("nodejs"), Flavor::Kubernetes));
}

#[test]
fn nodejs_openshift() {
    insta::assert_yaml_snapshot!(all(&settings("nodejs"), Flavor::OpenShift));
}

#[test]
fn java_kubernetes() {
    insta::assert_yaml_snapshot!(all(&settings("java"), Flavor::Kubernetes));
}

#[test]
fn java_openshift() {
    insta::assert_yaml_snapshot!(all(&settings("java:11"), Flavor::OpenShift));
}

#[test]
fn python_kubernetes() {
    insta::assert_yaml_snapshot!(all(&settings("python:3.8"), Flavor::Kubernetes));
}

#[test]
fn python_openshift() {
    insta::assert_yaml_snapshot!(all(&settings("python"), Flavor::OpenShift));
}

#[test]
fn ports_service_secrets_and_container_ports() {
    let mut s = settings("nodejs");
    s.ports = Some(vec!["3000/TCP".into(), "9100/UDP".into()]);
    let mut out = of_kind(&s, Flavor::Kubernetes, &[Kind::Service, Kind::Secret]);
    out.push(app_container(&s, Flavor::Kubernetes)["ports"].clone());
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn env_order_user_then_debug_then_s2i() {
    let mut s = settings("nodejs");
    s.envs = Some(vec![
        EnvVar {
            name: "NODE_ENV".into(),
            value: "development".into(),
        },
        EnvVar {
            name: "GREETING".into(),
            value: "hello world".into(),
        },
    ]);
    s.debug_port = Some(9229);
    insta::assert_yaml_snapshot!(app_container(&s, Flavor::OpenShift)["env"]);
}

#[test]
fn resources_requests_min_limits_max() {
    let mut s = settings("java");
    s.min_cpu = Some("100m".into());
    s.max_cpu = Some("1".into());
    s.min_memory = Some("256Mi".into());
    s.max_memory = Some("512Mi".into());
    insta::assert_yaml_snapshot!(app_container(&s, Flavor::Kubernetes)["resources"]);
}

#[test]
fn storage_pvcs_volumes_and_mounts() {
    let mut s = settings("python");
    s.storage = Some(vec![
        StorageEntry {
            name: "data".into(),
            size: "2Gi".into(),
            path: "/data".into(),
        },
        StorageEntry {
            name: "cache".into(),
            size: "500Mi".into(),
            path: "/var/cache/app".into(),
        },
    ]);
    let mut out = of_kind(&s, Flavor::Kubernetes, &[Kind::PersistentVolumeClaim]);
    let workload = of_kind(&s, Flavor::Kubernetes, &[Kind::Deployment]).remove(0);
    out.push(workload["spec"]["template"]["spec"]["volumes"].clone());
    out.push(app_container(&s, Flavor::Kubernetes)["volumeMounts"].clone());
    insta::assert_yaml_snapshot!(out);
}

fn with_urls() -> ComponentSettings {
    let mut s = settings("java");
    s.urls = Some(vec![
        UrlEntry {
            name: "web".into(),
            port: 8080,
            secure: false,
            host: Some("apps.example.com".into()),
            tls_secret: None,
            kind: None,
        },
        UrlEntry {
            name: "admin".into(),
            port: 8443,
            secure: false,
            host: None,
            tls_secret: None,
            kind: None,
        },
    ]);
    s
}

fn with_secure_urls() -> ComponentSettings {
    let mut s = settings("nodejs");
    s.urls = Some(vec![
        UrlEntry {
            name: "site".into(),
            port: 8080,
            secure: true,
            host: Some("apps.example.com".into()),
            tls_secret: None,
            kind: None,
        },
        UrlEntry {
            name: "api".into(),
            port: 8080,
            secure: true,
            host: Some("example.org".into()),
            tls_secret: Some("api-cert".into()),
            kind: None,
        },
    ]);
    s
}

#[test]
fn url_ingress_kubernetes() {
    insta::assert_yaml_snapshot!(of_kind(
        &with_urls(),
        Flavor::Kubernetes,
        &[Kind::Ingress, Kind::Route]
    ));
}

#[test]
fn url_route_openshift() {
    insta::assert_yaml_snapshot!(of_kind(
        &with_urls(),
        Flavor::OpenShift,
        &[Kind::Ingress, Kind::Route]
    ));
}

/// `odo url create --ingress` on OpenShift: that url is an Ingress (the same shape as on
/// Kubernetes), the other one stays a Route.
#[test]
fn url_ingress_next_to_a_route_openshift() {
    let mut s = with_urls();
    if let Some(urls) = s.urls.as_mut() {
        urls[0].kind = Some(odo::config::UrlKind::Ingress);
    }
    let out = of_kind(&s, Flavor::OpenShift, &[Kind::Ingress, Kind::Route]);
    let kinds: Vec<&str> = out.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(kinds, ["Ingress", "Route"]);
    assert_eq!(
        out[0],
        of_kind(&with_urls(), Flavor::Kubernetes, &[Kind::Ingress])[0]
    );
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn secure_url_ingress_kubernetes() {
    insta::assert_yaml_snapshot!(of_kind(
        &with_secure_urls(),
        Flavor::Kubernetes,
        &[Kind::Ingress, Kind::Route]
    ));
}

#[test]
fn secure_url_route_openshift() {
    insta::assert_yaml_snapshot!(of_kind(
        &with_secure_urls(),
        Flavor::OpenShift,
        &[Kind::Ingress, Kind::Route]
    ));
}

#[test]
fn url_to_unexposed_port_is_an_error() {
    let mut s = settings("nodejs");
    s.urls = Some(vec![UrlEntry {
        name: "web".into(),
        port: 9999,
        secure: false,
        host: None,
        tls_secret: None,
        kind: None,
    }]);
    let component = Component::from_settings(Path::new("config.yaml"), &s).unwrap();
    let builder = catalog::resolve("nodejs").unwrap();
    let s2i = catalog::s2i_paths(builder.builder).unwrap();
    let input = RenderInput {
        component: &component,
        namespace: "dev",
        builder: &builder,
        s2i: &s2i,
        init_image: catalog::INIT_IMAGE,
        odo_version: "v0",
    };
    let err = render(&input, Flavor::Kubernetes).unwrap_err();
    assert!(err.to_string().contains("port 9999"), "{err}");
    assert!(err.to_string().contains("8080/TCP"), "{err}");
}

#[test]
fn flavors_differ_only_in_workload_and_exposure() {
    let s = with_urls();
    let kinds = |f| {
        manifests(&s, f)
            .into_iter()
            .map(|m| (m.kind, m.name))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kinds(Flavor::Kubernetes),
        vec![
            (
                Kind::PersistentVolumeClaim,
                "java-web-shop-s2idata".to_string()
            ),
            (Kind::Deployment, "java-web-shop".into()),
            (Kind::Service, "java-web-shop".into()),
            (Kind::Secret, "java-web-shop-8080".into()),
            (Kind::Secret, "java-web-shop-8443".into()),
            (Kind::Ingress, "web-shop".into()),
            (Kind::Ingress, "admin-shop".into()),
        ]
    );
    assert_eq!(
        kinds(Flavor::OpenShift),
        vec![
            (
                Kind::PersistentVolumeClaim,
                "java-web-shop-s2idata".to_string()
            ),
            (Kind::ImageStream, "java-web-shop".into()),
            (Kind::DeploymentConfig, "java-web-shop".into()),
            (Kind::Service, "java-web-shop".into()),
            (Kind::Secret, "java-web-shop-8080".into()),
            (Kind::Secret, "java-web-shop-8443".into()),
            (Kind::Route, "web-shop".into()),
            (Kind::Route, "admin-shop".into()),
        ]
    );
    // the pod spec is the same on both flavors
    let pod = |f| {
        let w = manifests(&s, f)
            .into_iter()
            .find(|m| matches!(m.kind, Kind::Deployment | Kind::DeploymentConfig))
            .unwrap();
        w.object["spec"]["template"]["spec"].clone()
    };
    assert_eq!(pod(Flavor::Kubernetes), pod(Flavor::OpenShift));
}

#[test]
fn fixtures_ship_valid_configs_that_render() {
    for (dir, ty) in [("nodejs", "nodejs"), ("java", "java"), ("python", "python")] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(dir);
        let file = odo::config::LocalConfigFile::load_existing(&path).unwrap();
        let p = odo::push::prepare(&file).unwrap();
        assert_eq!(p.builder.builder.name, ty);
        let input = RenderInput {
            component: &p.component,
            namespace: "default",
            builder: &p.builder,
            s2i: &p.s2i,
            init_image: catalog::INIT_IMAGE,
            odo_version: "v0",
        };
        for flavor in [Flavor::Kubernetes, Flavor::OpenShift] {
            let names: Vec<String> = render(&input, flavor)
                .unwrap()
                .manifests()
                .unwrap()
                .into_iter()
                .map(|m| m.name)
                .collect();
            assert!(names.contains(&format!("{dir}-app")), "{names:?}");
            assert!(names.contains(&format!("{dir}-app-s2idata")), "{names:?}");
        }
    }
}

#[test]
fn git_openshift() {
    let s = ComponentSettings {
        source_type: Some(odo::config::SourceType::Git),
        source_location: Some("https://github.com/openshift/nodejs-ex".into()),
        git_ref: Some("v1.0".into()),
        ..settings("nodejs:14")
    };
    insta::assert_yaml_snapshot!(all(&s, Flavor::OpenShift));
}

#[test]
fn binary_openshift() {
    let s = ComponentSettings {
        source_type: Some(odo::config::SourceType::Binary),
        source_location: Some("target/app.jar".into()),
        ..settings("java:11")
    };
    insta::assert_yaml_snapshot!(all(&s, Flavor::OpenShift));
}
