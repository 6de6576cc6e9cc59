//! `odo project create/list/get/set/delete`: projects are namespaces.

use clap::Subcommand;

use super::{GlobalArgs, output};
use crate::cluster::{self, projects};
use crate::config::validate;
use crate::error::{Error, Result};
use crate::push::connect;

/// `odo project` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project
    #[command(after_help = "Examples:
  odo project create myproject")]
    Create {
        /// Project name
        name: String,
        /// Wait until it is active
        #[arg(short = 'w', long)]
        wait: bool,
    },
    /// List projects
    #[command(after_help = "Examples:
  odo project list
  odo project list -o json")]
    List,
    /// Print the current project
    #[command(after_help = "Examples:
  odo project get
  odo project get -q")]
    Get {
        /// Only the name
        #[arg(short = 'q', long)]
        short: bool,
    },
    /// Make a project the current one of the context's component
    #[command(after_help = "Examples:
  odo project set myproject")]
    Set {
        /// Project name
        name: String,
        /// Print nothing
        #[arg(short = 'q', long)]
        short: bool,
    },
    /// Delete a project and everything in it
    #[command(after_help = "Examples:
  odo project delete myproject -f")]
    Delete {
        /// Project name
        name: String,
        /// Do not ask for confirmation
        #[arg(short = 'f', long)]
        force: bool,
        /// Wait until it is gone
        #[arg(short = 'w', long)]
        wait: bool,
    },
}

/// Runs an `odo project` subcommand.
pub fn run(g: &GlobalArgs, cmd: ProjectCommand) -> Result<()> {
    let context = g.context_dir()?;
    let local = crate::config::LocalConfigFile::load(&context)?;
    let local = local.exists.then_some(local);
    match cmd {
        ProjectCommand::Create { name, wait: _ } => {
            validate::dns_label("project name", &name)?;
            cluster::block_on(async {
                let conn = connect(g, local.as_ref()).await?;
                projects::create_project(&conn, &name).await?;
                println!(" ✓  Project '{name}' is ready for use");
                Ok(())
            })
        }
        ProjectCommand::List => cluster::block_on(async {
            let conn = connect(g, local.as_ref()).await?;
            let names = projects::list_projects(&conn).await?;
            if g.json() {
                let items = names
                    .iter()
                    .map(|n| output::project(n, *n == conn.namespace))
                    .collect();
                output::print_json(&output::list(items));
                return Ok(());
            }
            let rows: Vec<Vec<String>> = names
                .iter()
                .map(|n| {
                    vec![
                        if *n == conn.namespace {
                            "*".into()
                        } else {
                            String::new()
                        },
                        n.clone(),
                    ]
                })
                .collect();
            print!("{}", output::table(&["ACTIVE", "NAME"], &rows));
            Ok(())
        }),
        ProjectCommand::Get { short } => cluster::block_on(async {
            let conn = connect(g, local.as_ref()).await?;
            if g.json() {
                output::print_json(&output::project(&conn.namespace, true));
            } else if short {
                println!("{}", conn.namespace);
            } else {
                println!("The current project is: {}", conn.namespace);
            }
            Ok(())
        }),
        ProjectCommand::Set { name, short } => {
            validate::dns_label("project name", &name)?;
            let Some(mut file) = local else {
                return Err(Error::user(
                    "odo project set records the project in the component's .odo/config.yaml, and there is none here",
                    "run it in a component's directory (or pass --context), or use --project on each command",
                ));
            };
            cluster::block_on(async {
                let mut g2 = g.clone();
                g2.project = Some(name.clone());
                let conn = connect(&g2, Some(&file)).await?;
                conn.ensure_namespace().await?;
                Ok::<_, Error>(())
            })?;
            file.settings_mut().project = Some(name.clone());
            file.save()?;
            if !short {
                println!("Switched to project: {name}");
            }
            Ok(())
        }
        ProjectCommand::Delete {
            name,
            force,
            wait: _,
        } => {
            if !force {
                return Err(Error::user(
                    format!("deleting project {name} needs confirmation"),
                    "add -f",
                ));
            }
            cluster::block_on(async {
                let conn = connect(g, local.as_ref()).await?;
                projects::delete_project(&conn, &name).await?;
                println!(" ✓  Deleted project: {name}");
                Ok(())
            })
        }
    }
}
