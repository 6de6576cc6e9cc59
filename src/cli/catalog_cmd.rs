//! `odo catalog list components`: the builder images with their tags, as a table or odo's JSON.

use clap::Subcommand;
use serde_json::{Value, json};

use super::GlobalArgs;
use super::output::{self, API_VERSION};
use crate::catalog::{BUILDERS, BuilderImage, CATALOG_NAMESPACE};
use crate::error::Result;

/// `odo catalog` subcommands.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// List what can be created
    #[command(subcommand)]
    List(CatalogList),
}

/// `odo catalog list` subcommands.
#[derive(Debug, Subcommand)]
pub enum CatalogList {
    /// List the component types (builder images)
    #[command(after_help = "Examples:
  odo catalog list components
  odo catalog list components -o json")]
    Components,
}

/// The ComponentType document of one builder image.
pub fn component_type_json(b: &BuilderImage) -> Value {
    let tags: Vec<&str> = b.tags.to_vec();
    let ports: Vec<String> = b.port_specs().iter().map(|p| p.to_string()).collect();
    json!({
        "kind": "ComponentType",
        "apiVersion": API_VERSION,
        "metadata": output::metadata(b.name, Some(CATALOG_NAMESPACE)),
        "spec": {
            "allTags": tags,
            "nonHiddenTags": tags,
            "supportedTags": tags,
            "image": b.image,
            "ports": ports,
            "description": b.description,
        },
    })
}

/// Runs an `odo catalog` subcommand.
pub fn run(g: &GlobalArgs, cmd: CatalogCommand) -> Result<()> {
    match cmd {
        CatalogCommand::List(CatalogList::Components) => {
            if g.json() {
                output::print_json(&output::list(
                    BUILDERS.iter().map(component_type_json).collect(),
                ));
                return Ok(());
            }
            println!("Odo S2I Components:");
            let rows: Vec<Vec<String>> = BUILDERS
                .iter()
                .map(|b| {
                    vec![
                        b.name.to_string(),
                        CATALOG_NAMESPACE.to_string(),
                        b.tags.join(","),
                        b.port_specs()
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join(","),
                        "YES".to_string(),
                    ]
                })
                .collect();
            print!(
                "{}",
                output::table(&["NAME", "PROJECT", "TAGS", "PORTS", "SUPPORTED"], &rows)
            );
            Ok(())
        }
    }
}
