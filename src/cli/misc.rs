//! `odo version`, `odo completion` and `odo utils index`.

use clap::{Args, CommandFactory, Subcommand};
use clap_complete::Shell;
use serde_json::json;

use super::{Cli, GlobalArgs, output};
use crate::cluster;
use crate::error::Result;

/// `odo version`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  odo version
  odo version --client")]
pub struct VersionArgs {
    /// Only the client version (do not contact the cluster)
    #[arg(long)]
    pub client: bool,
}

/// `odo completion`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  # bash: load now, or save to a completions directory
  source <(odo completion bash)
  odo completion bash > ~/.local/share/bash-completion/completions/odo

  # zsh
  odo completion zsh > \"${fpath[1]}/_odo\"

  # fish
  odo completion fish > ~/.config/fish/completions/odo.fish")]
pub struct CompletionArgs {
    /// Shell (bash, zsh, fish, powershell, elvish)
    pub shell: Shell,
}

/// `odo utils` subcommands.
#[derive(Debug, Subcommand)]
pub enum UtilsCommand {
    /// Show what the next push would send: added, modified and deleted files
    #[command(after_help = "Examples:
  odo utils index
  odo utils index --context ./frontend -o json
  odo utils index --ignore 'dist/**'
  odo utils index --write      # record the tree as the index; the next push sends everything")]
    Index {
        /// Ignore rules replacing .odoignore/.gitignore (repeatable)
        #[arg(long = "ignore", value_name = "GLOB")]
        ignore: Vec<String>,
        /// Also write the index (.odo/odo-file-index.json). It forgets the pod of the last
        /// push, so the next push sends every file again: nothing is hidden from the container
        #[arg(long)]
        write: bool,
    },
}

impl UtilsCommand {
    /// Whether `-o json` is supported.
    pub fn machine_output(&self) -> bool {
        true
    }
}

/// Runs `odo version`.
pub fn version(g: &GlobalArgs, a: VersionArgs) -> Result<()> {
    let client = format!("v{}", env!("CARGO_PKG_VERSION"));
    let server = if a.client {
        None
    } else {
        let opts = crate::push::connect_options(g, None)?;
        cluster::block_on(async {
            match cluster::connect(&opts).await {
                Ok(conn) => {
                    let v = conn.client.apiserver_version().await.ok();
                    Some((conn.server.clone(), v.map(|v| v.git_version), conn.flavor))
                }
                Err(e) => {
                    tracing::info!("no cluster: {e}");
                    None
                }
            }
        })
    };
    if g.json() {
        let mut doc =
            json!({"kind": "Version", "apiVersion": output::API_VERSION, "client": client});
        if let Some((url, version, flavor)) = &server {
            doc["server"] = json!({"url": url, "kubernetes": version, "flavor": flavor.as_str()});
        }
        output::print_json(&doc);
        return Ok(());
    }
    println!("odo {client} (odo-rs)");
    if let Some((url, version, flavor)) = server {
        println!();
        println!("Server: {url}");
        if let Some(v) = version {
            println!("Kubernetes: {v}");
        }
        println!("Flavor: {flavor}");
    }
    Ok(())
}

/// Runs `odo completion`.
pub fn completion(a: CompletionArgs) -> Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "odo", &mut std::io::stdout());
    Ok(())
}

/// Runs an `odo utils` subcommand.
pub fn utils(g: &GlobalArgs, cmd: UtilsCommand) -> Result<()> {
    match cmd {
        UtilsCommand::Index { ignore, write } => {
            let file = g.load_config()?;
            let pending = if write {
                crate::push::record_index(&file, ignore)?
            } else {
                crate::push::run_index(&file, ignore)?
            };
            if g.json() {
                output::print_json(&json!({
                    "kind": "FileIndexChanges", "apiVersion": output::API_VERSION,
                    "added": pending.added, "modified": pending.modified, "deleted": pending.deleted,
                }));
                return Ok(());
            }
            let mut rows = Vec::new();
            for (state, list) in [
                ("added", &pending.added),
                ("modified", &pending.modified),
                ("deleted", &pending.deleted),
            ] {
                rows.extend(list.iter().map(|p| vec![state.to_string(), p.clone()]));
            }
            if rows.is_empty() {
                println!("No file changes: the next push sends nothing");
            } else {
                print!("{}", output::table(&["CHANGE", "PATH"], &rows));
            }
            Ok(())
        }
    }
}
