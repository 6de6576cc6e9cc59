//! `odo link` and `odo unlink`: inject another component's connection Secret (or a service's
//! binding Secret) into this component's environment with `envFrom`.
//!
//! A component's per-port Secret `<component>-<app>-<port>` holds `COMPONENT_<NAME>_HOST` and
//! `COMPONENT_<NAME>_PORT`. The link is recorded in `.odo/config.yaml` (key `Link`) so it is
//! part of the rendered workload and survives the workload being recreated; when the
//! component is already on the cluster, its configuration is applied at once (a new pod
//! rolls out with the new environment; `-w` waits for it).

use std::collections::BTreeSet;

use clap::Args;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};

use super::GlobalArgs;
use super::component::PushArgs;
use super::progress::Step;
use crate::cluster::{self, ClusterError, Connection, query, wait};
use crate::config::{LinkEntry, LinkKind, LocalConfigFile};
use crate::error::{Error, Result};
use crate::manifests::meta;
use crate::push::{connect, prepare, push_component};

/// `odo link`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  # Give the frontend the backend's address (COMPONENT_BACKEND_HOST, COMPONENT_BACKEND_PORT)
  odo link backend --context ./frontend

  # The backend exposes several ports: choose one
  odo link backend --port 8080

  # Inject a service's binding Secret (a Secret of that name in the project)
  odo link mydb

  # Wait until the pod runs with the new environment
  odo link backend -w")]
pub struct LinkArgs {
    /// Component of the same application, or service, to link to
    pub target: String,
    /// Port of the linked component (required when it exposes more than one)
    #[arg(long)]
    pub port: Option<u16>,
    /// Wait until the component's pod runs with the new environment
    #[arg(short = 'w', long)]
    pub wait: bool,
}

/// `odo unlink`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  odo unlink backend
  odo unlink backend --port 8080 -w")]
pub struct UnlinkArgs {
    /// Linked component or service
    pub target: String,
    /// Port of the link to remove (when linked to several ports of the component)
    #[arg(long)]
    pub port: Option<u16>,
    /// Wait until the component's pod runs without the link
    #[arg(short = 'w', long)]
    pub wait: bool,
}

/// The per-port Secrets of component `target` in application `app`: (port, secret name).
async fn port_secrets(
    conn: &Connection,
    target: &str,
    app: &str,
) -> std::result::Result<Vec<(u16, String)>, ClusterError> {
    let secrets: Api<Secret> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let list = secrets
        .list(&ListParams::default().labels(&meta::component_selector(target, app)))
        .await
        .map_err(|e| ClusterError::api(format!("cannot list the secrets of {target}"), e))?;
    let mut out: Vec<(u16, String)> = list
        .items
        .into_iter()
        .filter_map(|s| {
            let port = s
                .metadata
                .annotations
                .as_ref()?
                .get(meta::COMPONENT_PORT)?
                .parse()
                .ok()?;
            Some((port, s.metadata.name?))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Decides what `odo link <target>` links to.
async fn resolve(
    conn: &Connection,
    me: &str,
    app: &str,
    target: &str,
    port: Option<u16>,
) -> Result<LinkEntry> {
    if target == me {
        return Err(Error::user(
            format!("component {me} cannot be linked to itself"),
            "name another component of the application (see `odo list`)",
        ));
    }
    let ports = port_secrets(conn, target, app).await?;
    if !ports.is_empty() {
        let listed = ports
            .iter()
            .map(|(p, _)| p.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let chosen = match port {
            Some(p) => ports.iter().find(|(q, _)| *q == p).ok_or_else(|| {
                Error::user(
                    format!("component {target} does not expose port {p}"),
                    format!("choose one of its ports: {listed}"),
                )
            })?,
            None if ports.len() == 1 => &ports[0],
            None => {
                return Err(Error::user(
                    format!("component {target} exposes several ports ({listed})"),
                    "choose one with --port",
                ));
            }
        };
        return Ok(LinkEntry {
            name: target.to_string(),
            kind: LinkKind::Component,
            port: Some(chosen.0),
            secret: chosen.1.clone(),
        });
    }
    let secrets: Api<Secret> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let service = secrets
        .get_opt(target)
        .await
        .map_err(|e| ClusterError::api(format!("cannot read secret {target}"), e))?;
    if service.is_some() {
        if port.is_some() {
            return Err(Error::user(
                format!("{target} is a service; --port only applies to components"),
                "drop --port",
            ));
        }
        return Ok(LinkEntry {
            name: target.to_string(),
            kind: LinkKind::Service,
            port: None,
            secret: target.to_string(),
        });
    }
    Err(Error::user(
        format!(
            "there is no component {target} in application {app} and no service (Secret) {target} in project {}",
            conn.namespace
        ),
        "push the component first (`odo push` in its directory), or check `odo list`",
    ))
}

/// Applies the component's configuration when it is on the cluster (and waits for the new pod
/// with `wait`); otherwise says the link takes effect on the next push.
async fn apply(conn: &Connection, file: &LocalConfigFile, wait_for_pod: bool) -> Result<()> {
    let p = prepare(file)?;
    let c = &p.component;
    if !query::observe(conn, &c.name, &c.app).await?.exists {
        println!(
            "Component {} is not pushed yet: the change takes effect on the next `odo push`",
            c.name
        );
        return Ok(());
    }
    let selector = meta::pod_selector(conn.flavor, &c.object_name());
    let before: BTreeSet<String> = query::pod_uids(conn, &selector).await?;
    let args = PushArgs {
        config: true,
        ..PushArgs::default()
    };
    let sync = crate::push::default_sync();
    let timeout = crate::config::PreferenceFile::load()?.push_timeout();
    push_component(conn, file, &args, sync.as_ref(), timeout).await?;
    if wait_for_pod {
        let step = Step::start("Waiting for the component to restart with its new environment");
        let mut notes = step.notifier();
        match wait::wait_for_pod(
            conn,
            &selector,
            &c.object_name(),
            timeout,
            before,
            &mut notes,
        )
        .await
        {
            Ok(_) => step.success(),
            Err(e) => {
                step.fail();
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Runs `odo link`.
pub fn link(g: &GlobalArgs, a: LinkArgs) -> Result<()> {
    let mut file = g.load_config()?;
    let p = prepare(&file)?;
    let (me, app) = (p.component.name.clone(), p.component.app.clone());
    cluster::block_on(async {
        let conn = connect(g, Some(&file)).await?;
        let entry = resolve(&conn, &me, &app, &a.target, a.port).await?;
        let links = file.settings_mut().links.get_or_insert_with(Vec::new);
        if links.iter().any(|l| l.secret == entry.secret) {
            return Err(Error::user(
                format!("component {me} is already linked to {}", a.target),
                "see the links with `odo describe`",
            ));
        }
        let what = match entry.port {
            Some(port) => format!("component {} (port {port})", entry.name),
            None => format!("service {}", entry.name),
        };
        let secret = entry.secret.clone();
        links.push(entry);
        file.save()?;
        apply(&conn, &file, a.wait).await?;
        println!(
            " ✓  Component {me} has been linked to {what}: the keys of secret {secret} are now environment variables"
        );
        Ok(())
    })
}

/// Runs `odo unlink`.
pub fn unlink(g: &GlobalArgs, a: UnlinkArgs) -> Result<()> {
    let mut file = g.load_config()?;
    let p = prepare(&file)?;
    let me = p.component.name.clone();
    let links = file.settings_mut().links.get_or_insert_with(Vec::new);
    let matching: Vec<usize> = links
        .iter()
        .enumerate()
        .filter(|(_, l)| l.name == a.target && (a.port.is_none() || l.port == a.port))
        .map(|(i, _)| i)
        .collect();
    match matching.as_slice() {
        [] => {
            return Err(Error::user(
                format!("component {me} is not linked to {}", a.target),
                "see the links with `odo describe`",
            ));
        }
        [i] => {
            links.remove(*i);
        }
        _ => {
            return Err(Error::user(
                format!("component {me} is linked to several ports of {}", a.target),
                "choose one with --port",
            ));
        }
    }
    if links.is_empty() {
        file.settings_mut().links = None;
    }
    file.save()?;
    cluster::block_on(async {
        let conn = connect(g, Some(&file)).await?;
        apply(&conn, &file, a.wait).await?;
        println!(" ✓  Component {me} has been unlinked from {}", a.target);
        Ok(())
    })
}
