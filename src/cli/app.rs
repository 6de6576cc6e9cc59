//! `odo app list/describe/delete`: applications are the `app.kubernetes.io/part-of` label.

use clap::Subcommand;

use super::{GlobalArgs, output};
use crate::cluster::{self, prune, query};
use crate::error::{Error, Result};
use crate::manifests::{Kind, meta};
use crate::push::connect;

/// `odo app` subcommands.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// List the applications of the project
    #[command(after_help = "Examples:
  odo app list
  odo app list --project myproject -o json")]
    List,
    /// Describe an application (its components)
    #[command(after_help = "Examples:
  odo app describe shop")]
    Describe {
        /// Application name (default: --app, the context's, or app)
        name: Option<String>,
    },
    /// Delete an application with all its components
    #[command(after_help = "Examples:
  odo app delete shop -f")]
    Delete {
        /// Application name
        name: Option<String>,
        /// Do not ask for confirmation
        #[arg(short = 'f', long)]
        force: bool,
    },
}

/// Runs an `odo app` subcommand.
pub fn run(g: &GlobalArgs, cmd: AppCommand) -> Result<()> {
    let context = g.context_dir()?;
    let local = crate::config::LocalConfigFile::load(&context)?;
    let local = local.exists.then_some(local);
    let default_app = g
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
        match cmd {
            AppCommand::List => {
                let apps = query::list_apps(&conn).await?;
                if g.json() {
                    let mut items = Vec::new();
                    for a in &apps {
                        let comps: Vec<String> = query::list_components(&conn, Some(a))
                            .await?
                            .into_iter()
                            .map(|c| c.name)
                            .collect();
                        items.push(output::application(a, &conn.namespace, &comps));
                    }
                    output::print_json(&output::list(items));
                } else if apps.is_empty() {
                    println!(
                        "There are no applications deployed in the project '{}'",
                        conn.namespace
                    );
                } else {
                    println!(
                        "The project '{}' has the following applications:",
                        conn.namespace
                    );
                    let rows: Vec<Vec<String>> = apps.iter().map(|a| vec![a.clone()]).collect();
                    print!("{}", output::table(&["NAME"], &rows));
                }
                Ok(())
            }
            AppCommand::Describe { name } => {
                let app = name.unwrap_or(default_app);
                let comps = query::list_components(&conn, Some(&app)).await?;
                if g.json() {
                    let names: Vec<String> = comps.iter().map(|c| c.name.clone()).collect();
                    output::print_json(&output::application(&app, &conn.namespace, &names));
                } else {
                    println!("Application Name: {app} has {} component(s):", comps.len());
                    for c in &comps {
                        println!(" · {} ({})", c.name, c.component_type);
                    }
                }
                Ok(())
            }
            AppCommand::Delete { name, force } => {
                let app = name.unwrap_or(default_app);
                if !force {
                    return Err(Error::user(
                        format!("deleting application {app} needs confirmation"),
                        "add -f",
                    ));
                }
                let selector = format!(
                    "{},{}={}",
                    meta::app_selector(&app),
                    meta::MANAGED_BY,
                    meta::MANAGER
                );
                let objects = prune::list_by_selector(&conn, &Kind::ALL, &selector).await?;
                if objects.is_empty() {
                    return Err(Error::user(
                        format!(
                            "application {app} has no components in project {}",
                            conn.namespace
                        ),
                        "see `odo app list`",
                    ));
                }
                prune::delete_objects(&conn, &objects).await?;
                println!(" ✓  Deleted application {app} ({} objects)", objects.len());
                Ok(())
            }
        }
    })
}
