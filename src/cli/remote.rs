//! Component commands that read or change the cluster without pushing: `delete`, `list`,
//! `describe`, `log`, and the cluster half of `url list` / `storage list` (their states).

use std::collections::BTreeSet;

use super::GlobalArgs;
use super::component::{component_json, describe_text};
use super::output;
use super::progress::Step;
use crate::cluster::exec;
use crate::cluster::{self, ClusterError, Connection, prune, query};
use crate::config::LocalConfigFile;
use crate::error::{Error, Result};
use crate::manifests::meta;
use crate::push::{Observed, connect, prepare};

/// The cluster state of a component, or None (with a warning) when the cluster cannot be read.
pub fn observe_best_effort(g: &GlobalArgs, file: &LocalConfigFile) -> Option<Observed> {
    let s = file.settings();
    let name = s.name.clone()?;
    let app = s.application.clone().unwrap_or_else(|| "app".into());
    let result = cluster::block_on(async {
        let conn = connect(g, Some(file)).await?;
        Ok::<_, Error>(query::observe(&conn, &name, &app).await?)
    });
    match result {
        Ok(o) => Some(o),
        Err(e) => {
            eprintln!(
                "warning: cannot read the cluster state ({}); states are shown as Unknown",
                e.chain().join(": ")
            );
            None
        }
    }
}

/// `odo delete` from the CLI.
pub fn run_delete(g: &GlobalArgs, file: &LocalConfigFile, wait_gone: bool) -> Result<()> {
    let p = prepare(file)?;
    let c = &p.component;
    cluster::block_on(async {
        let conn = connect(g, Some(file)).await?;
        let deleted = prune::delete_component(&conn, &c.name, &c.app).await?;
        if deleted.is_empty() {
            println!(
                "Component {} was not found in project {}",
                c.name, conn.namespace
            );
            return Ok(());
        }
        for (kind, name) in &deleted {
            println!(" ✓  Deleted {} {name}", kind.gvk().2);
        }
        if wait_gone {
            let step = Step::start("Waiting for the component's pods to go");
            let selector = meta::pod_selector(conn.flavor, &c.object_name());
            wait_pods_gone(&conn, &selector).await?;
            step.success();
        }
        println!(
            "Component {} deleted from project {}",
            c.name, conn.namespace
        );
        Ok(())
    })
}

async fn wait_pods_gone(
    conn: &Connection,
    selector: &str,
) -> std::result::Result<(), ClusterError> {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::{WatchStreamExt, watcher};
    let pods: kube::Api<Pod> = kube::Api::namespaced(conn.client.clone(), &conn.namespace);
    let mut stream = watcher(pods, watcher::Config::default().labels(selector))
        .default_backoff()
        .boxed();
    let mut live: BTreeSet<String> = BTreeSet::new();
    let mut listed = false;
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(watcher::Event::Init) => live.clear(),
            Ok(watcher::Event::InitApply(p)) | Ok(watcher::Event::Apply(p)) => {
                live.extend(p.metadata.name);
            }
            Ok(watcher::Event::Delete(p)) => {
                if let Some(n) = p.metadata.name {
                    live.remove(&n);
                }
            }
            Ok(watcher::Event::InitDone) => listed = true,
            Err(e) => tracing::debug!("pod watch: {e}"),
        }
        if listed && live.is_empty() {
            break;
        }
    }
    Ok(())
}

/// `odo list` from the CLI.
pub fn run_list(g: &GlobalArgs, all_apps: bool) -> Result<()> {
    let context = g.context_dir()?;
    let local = LocalConfigFile::load(&context)?;
    let local = local.exists.then_some(local);
    let app = g
        .app
        .clone()
        .or_else(|| {
            local
                .as_ref()
                .and_then(|f| f.settings().application.clone())
        })
        .unwrap_or_else(|| "app".into());
    cluster::block_on(async {
        let conn = connect(g, local.as_ref()).await?;
        let found = query::list_components(&conn, (!all_apps).then_some(app.as_str())).await?;
        if g.json() {
            let items = found
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "kind": "Component", "apiVersion": output::API_VERSION,
                        "metadata": output::metadata(&c.name, Some(&conn.namespace)),
                        "spec": {"app": c.app, "type": c.component_type},
                        "status": {"state": "Pushed"},
                    })
                })
                .collect();
            output::print_json(&output::list(items));
            return Ok(());
        }
        if found.is_empty() {
            println!("There are no components deployed.");
            return Ok(());
        }
        let rows: Vec<Vec<String>> = found
            .iter()
            .map(|c| {
                vec![
                    c.app.clone(),
                    c.name.clone(),
                    conn.namespace.clone(),
                    c.component_type.clone(),
                    "Pushed".into(),
                ]
            })
            .collect();
        print!(
            "{}",
            output::table(&["APP", "NAME", "PROJECT", "TYPE", "STATE"], &rows)
        );
        Ok(())
    })
}

/// `odo describe` from the CLI.
pub fn run_describe(g: &GlobalArgs, file: &LocalConfigFile) -> Result<()> {
    let observed = observe_best_effort(g, file);
    let state = match &observed {
        Some(o) if o.exists => "Pushed",
        Some(_) => "Not Pushed",
        None => "Unknown",
    };
    if g.json() {
        output::print_json(&component_json(file, g.project.as_deref(), state));
        return Ok(());
    }
    let urls = crate::cli::url::url_rows(
        &file.settings().urls.clone().unwrap_or_default(),
        observed.as_ref(),
    );
    let lines: Vec<String> = urls
        .iter()
        .map(|r| {
            format!(
                "{} ({}) exposed via port {}",
                r.url.name, r.state, r.url.port
            )
        })
        .collect();
    print!("{}", describe_text(file, state, &lines));
    Ok(())
}

/// `odo log` from the CLI.
pub fn run_log(g: &GlobalArgs, file: &LocalConfigFile, follow: bool) -> Result<()> {
    let p = prepare(file)?;
    let c = &p.component;
    cluster::block_on(async {
        let conn = connect(g, Some(file)).await?;
        let selector = meta::pod_selector(conn.flavor, &c.object_name());
        let pod = match query::component_pod(&conn, &selector).await? {
            Some(pod) => pod,
            None if query::observe(&conn, &c.name, &c.app).await?.exists => {
                return Err(ClusterError::NoPod(c.name.clone()).into());
            }
            None => return Err(ClusterError::NotPushed(c.name.clone()).into()),
        };
        let container = c.object_name();
        let mut name = pod.metadata.name.clone().unwrap_or_default();
        if matches!(
            cluster::wait::assess(&pod, &container),
            cluster::wait::PodState::Pending(_)
        ) {
            // A pod still starting has no log yet; a crash-looping or exited one has, so only
            // a start is waited for.
            // Progress goes to stderr: stdout is the log, often redirected to a file.
            let timeout = crate::config::PreferenceFile::load()?.push_timeout();
            eprintln!("Waiting for component {} to start ...", c.name);
            let ready = cluster::wait::wait_for_pod(
                &conn,
                &selector,
                &container,
                timeout,
                BTreeSet::new(),
                &mut |line| eprintln!("    {line}"),
            )
            .await?;
            name = ready.name;
        }
        exec::logs(&conn, &name, &container, follow, &mut |line| {
            println!("{line}")
        })
        .await?;
        Ok(())
    })
}
