//! `odo push` through the library against the in-process simulator: what the push creates
//! beyond the rendered manifests.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use clap::Parser;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::Api;
use odo::cli::Cli;
use odo::cli::component::PushArgs;
use odo::cluster::{ConnectOptions, Connection, attach_sim};
use odo::config::LocalConfigFile;
use odo::manifests::Flavor;

fn odo(dir: &Path, args: &[&str]) {
    let mut argv = vec!["odo"];
    argv.extend_from_slice(args);
    let ctx = dir.to_str().unwrap();
    argv.extend_from_slice(&["--context", ctx]);
    let cli = Cli::try_parse_from(argv).unwrap();
    odo::cli::run(cli).unwrap();
}

async fn connect(sim: &odo_sim::Sim, namespace: &str) -> Connection {
    let opts = ConnectOptions {
        timeout: Duration::from_secs(5),
        flavor: Some(Flavor::Kubernetes),
        ..Default::default()
    };
    attach_sim(sim, "sim".into(), namespace, &opts)
        .await
        .unwrap()
}

async fn push_config(conn: &Connection, dir: &Path) {
    let file = LocalConfigFile::load_existing(dir).unwrap();
    let args = PushArgs {
        config: true,
        ..PushArgs::default()
    };
    let sync = odo::push::default_sync();
    odo::push::push_component(conn, &file, &args, sync.as_ref(), Duration::from_secs(30))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_ingress_gets_a_self_signed_secret_that_goes_with_the_url() {
    let sim = odo_sim::Sim::builder().build().unwrap();
    let conn = connect(&sim, "default").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    odo(d, &["create", "nodejs", "web", "--app", "shop"]);
    odo(
        d,
        &[
            "url",
            "create",
            "site",
            "--port",
            "8080",
            "--secure",
            "--host",
            "example.com",
        ],
    );
    push_config(&conn, d).await;

    let secrets: Api<Secret> = Api::namespaced(sim.client(), "default");
    let ingresses: Api<Ingress> = Api::namespaced(sim.client(), "default");
    let ingress = ingresses.get("site-shop").await.unwrap();
    let tls = ingress.spec.unwrap().tls.unwrap();
    assert_eq!(tls[0].secret_name.as_deref(), Some("web-shop-tlssecret"));
    let secret = secrets.get("web-shop-tlssecret").await.unwrap();
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let crt = &secret.data.as_ref().unwrap()["tls.crt"].0;
    assert!(crt.starts_with(b"-----BEGIN CERTIFICATE-----"));
    let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.uid, ingress.metadata.uid.clone().unwrap());

    // A second push keeps the same certificate.
    push_config(&conn, d).await;
    let again = secrets.get("web-shop-tlssecret").await.unwrap();
    assert_eq!(again.data, secret.data);

    // Removing the url removes its Ingress, and the garbage collector its certificate.
    odo(d, &["url", "delete", "site", "-f"]);
    push_config(&conn, d).await;
    assert!(ingresses.get_opt("site-shop").await.unwrap().is_none());
    assert!(
        secrets
            .get_opt("web-shop-tlssecret")
            .await
            .unwrap()
            .is_none()
    );
}
