//! `odo storage create/list/delete`: storage is kept in `.odo/config.yaml` and becomes a PVC
//! mounted into the component on the next push; list compares with the cluster.

use clap::Subcommand;

use super::GlobalArgs;
use super::output;
use crate::config::local::{DEFAULT_APP, StorageEntry};
use crate::config::validate;
use crate::error::{Error, Result};
use crate::push::Observed;

/// `odo storage` subcommands.
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Add storage to the component's configuration
    #[command(after_help = "Examples:
  # 1Gi mounted at /data
  odo storage create data --path /data

  # 5Gi for a database
  odo storage create db --path /var/lib/db --size 5Gi")]
    Create {
        /// Storage name (default: <component>-<4 random letters>)
        storage_name: Option<String>,
        /// Mount path in the component container
        #[arg(long)]
        path: String,
        /// Size (a Kubernetes quantity)
        #[arg(long, default_value = "1Gi")]
        size: String,
    },
    /// List the component's storage and whether it is pushed
    #[command(after_help = "Examples:
  odo storage list
  odo storage list -o json")]
    List,
    /// Remove storage from the component's configuration
    #[command(after_help = "Examples:
  # Remove storage data; the next push deletes its PVC
  odo storage delete data -f")]
    Delete {
        /// Storage name
        storage_name: String,
        /// Do not ask for confirmation
        #[arg(short = 'f', long)]
        force: bool,
    },
}

impl StorageCommand {
    /// Whether `-o json` is supported.
    pub fn machine_output(&self) -> bool {
        matches!(self, StorageCommand::Create { .. } | StorageCommand::List)
    }
}

/// Joins configured storage with the PVCs on the cluster (None: cluster state unknown).
pub fn storage_rows(
    config: &[StorageEntry],
    observed: Option<&Observed>,
) -> Vec<(StorageEntry, &'static str)> {
    let mut rows: Vec<(StorageEntry, &'static str)> = config
        .iter()
        .map(|s| {
            let state = match observed {
                None => "Unknown",
                Some(o) if o.storage.iter().any(|c| c.name == s.name) => "Pushed",
                Some(_) => "Not Pushed",
            };
            (s.clone(), state)
        })
        .collect();
    if let Some(o) = observed {
        for c in &o.storage {
            if !config.iter().any(|s| s.name == c.name) {
                rows.push((
                    StorageEntry {
                        name: c.name.clone(),
                        size: c.size.clone(),
                        path: String::new(),
                    },
                    "Locally Deleted",
                ));
            }
        }
    }
    rows
}

/// Runs an `odo storage` subcommand.
pub fn run(g: &GlobalArgs, cmd: StorageCommand) -> Result<()> {
    match cmd {
        StorageCommand::Create {
            storage_name,
            path,
            size,
        } => create(g, storage_name, path, size),
        StorageCommand::List => list(g),
        StorageCommand::Delete {
            storage_name,
            force,
        } => delete(g, &storage_name, force),
    }
}

fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..4)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

fn create(g: &GlobalArgs, name: Option<String>, path: String, size: String) -> Result<()> {
    let mut file = g.load_config()?;
    let component = file.settings().name.clone().unwrap_or_default();
    let app = file
        .settings()
        .application
        .clone()
        .unwrap_or_else(|| DEFAULT_APP.into());
    let name = name.unwrap_or_else(|| format!("{component}-{}", random_suffix()));
    validate::suffixed_name("storage name", &name, &app, "-pvc")?;
    validate::quantity("storage size", &size)?;
    validate::mount_path(&path)?;
    let list = file.settings_mut().storage.get_or_insert_with(Vec::new);
    if let Some(other) = list.iter().find(|s| s.name == name || s.path == path) {
        return Err(Error::user(
            format!(
                "storage {} already uses name {name:?} or path {path:?}",
                other.name
            ),
            "choose another name and path, or `odo storage delete` it first",
        ));
    }
    list.push(StorageEntry {
        name: name.clone(),
        size: size.clone(),
        path: path.clone(),
    });
    file.save()?;
    if g.json() {
        output::print_json(&output::storage(&name, &size, &path, "Not Pushed"));
    } else {
        println!(" ✓  Added storage {name} to {component}");
        println!("\nPlease use `odo push` command to make the storage accessible to the component");
    }
    Ok(())
}

fn list(g: &GlobalArgs) -> Result<()> {
    let file = g.load_config()?;
    let observed = super::remote::observe_best_effort(g, &file);
    let config = file.settings().storage.clone().unwrap_or_default();
    let rows = storage_rows(&config, observed.as_ref());
    if g.json() {
        let items = rows
            .iter()
            .map(|(s, state)| output::storage(&s.name, &s.size, &s.path, state))
            .collect();
        output::print_json(&output::list(items));
        return Ok(());
    }
    let component = file.settings().name.clone().unwrap_or_default();
    if rows.is_empty() {
        println!("The component '{component}' has no storage attached");
        return Ok(());
    }
    println!("The component '{component}' has the following storage attached:");
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|(s, state)| {
            vec![
                s.name.clone(),
                s.size.clone(),
                s.path.clone(),
                state.to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        output::table(&["NAME", "SIZE", "PATH", "STATE"], &table)
    );
    Ok(())
}

fn delete(g: &GlobalArgs, name: &str, force: bool) -> Result<()> {
    let mut file = g.load_config()?;
    let list = file.settings_mut().storage.get_or_insert_with(Vec::new);
    let before = list.len();
    list.retain(|s| s.name != name);
    if list.len() == before {
        return Err(Error::user(
            format!("storage {name} does not exist"),
            "see `odo storage list` for the component's storage",
        ));
    }
    if !force {
        return Err(Error::user(
            format!("deleting storage {name} needs confirmation"),
            "add -f",
        ));
    }
    if list.is_empty() {
        file.settings_mut().storage = None;
    }
    file.save()?;
    println!(" ✓  Removed storage {name} from the configuration");
    println!("\nPlease use `odo push` command to delete the storage from the cluster");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::Flavor;
    use crate::push::ClusterStorage;

    #[test]
    fn states() {
        let st = |n: &str| StorageEntry {
            name: n.into(),
            size: "1Gi".into(),
            path: format!("/{n}"),
        };
        let observed = Observed {
            exists: true,
            flavor: Flavor::Kubernetes,
            urls: vec![],
            storage: vec![
                ClusterStorage {
                    name: "a".into(),
                    size: "1Gi".into(),
                },
                ClusterStorage {
                    name: "old".into(),
                    size: "2Gi".into(),
                },
            ],
        };
        let rows = storage_rows(&[st("a"), st("b")], Some(&observed));
        let states: Vec<_> = rows.iter().map(|(s, st)| (s.name.as_str(), *st)).collect();
        assert_eq!(
            states,
            vec![
                ("a", "Pushed"),
                ("b", "Not Pushed"),
                ("old", "Locally Deleted")
            ]
        );
        assert_eq!(storage_rows(&[st("a")], None)[0].1, "Unknown");
    }
}
