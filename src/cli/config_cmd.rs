//! `odo config set/unset/view`: edit and show `.odo/config.yaml`.

use clap::Subcommand;

use super::GlobalArgs;
use super::output;
use crate::config::params;
use crate::error::Result;

/// `odo config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Set a parameter (or environment variables with --env)
    #[command(after_help = "Examples:
  odo config set Ports 8080,8443/tcp
  odo config set Memory 512Mi
  odo config set MinCPU 100m -f
  odo config set --env NODE_ENV=development --env DEBUG=1

Parameters (case-insensitive): Type, Name, SourceLocation, SourceType, Ref, Application, Project,
Ports, MinMemory, MaxMemory, Memory, DebugPort, Ignore, MinCPU, MaxCPU, CPU")]
    Set {
        /// Parameter name
        #[arg(required_unless_present = "env")]
        parameter: Option<String>,
        /// Value
        #[arg(required_unless_present = "env")]
        value: Option<String>,
        /// Overwrite an existing value without asking
        #[arg(short = 'f', long)]
        force: bool,
        /// Environment variables KEY=VALUE (repeatable)
        #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// Push right away
        #[arg(long)]
        now: bool,
    },
    /// Unset a parameter (or environment variables with --env)
    #[command(after_help = "Examples:
  odo config unset Memory
  odo config unset --env NODE_ENV")]
    Unset {
        /// Parameter name
        #[arg(required_unless_present = "env")]
        parameter: Option<String>,
        /// Do not ask for confirmation
        #[arg(short = 'f', long)]
        force: bool,
        /// Environment variable names (repeatable)
        #[arg(short = 'e', long = "env", value_name = "KEY")]
        env: Vec<String>,
        /// Push right away
        #[arg(long)]
        now: bool,
    },
    /// Show the configuration
    #[command(after_help = "Examples:
  odo config view
  odo config view --context ./backend -o json")]
    View,
}

impl ConfigCommand {
    /// Whether `-o json` is supported.
    pub fn machine_output(&self) -> bool {
        matches!(self, ConfigCommand::View)
    }
}

/// Runs an `odo config` subcommand.
pub fn run(g: &GlobalArgs, cmd: ConfigCommand) -> Result<()> {
    match cmd {
        ConfigCommand::Set {
            parameter,
            value,
            force,
            env,
            now,
        } => {
            let mut file = g.load_config()?;
            if let (Some(p), Some(v)) = (&parameter, &value) {
                params::set(file.settings_mut(), p, v, force)?;
            }
            if !env.is_empty() {
                params::set_envs(file.settings_mut(), &env)?;
            }
            file.save()?;
            println!("Local config was successfully updated.");
            if now {
                return super::component::push(g, Default::default());
            }
            Ok(())
        }
        ConfigCommand::Unset {
            parameter,
            force: _,
            env,
            now,
        } => {
            let mut file = g.load_config()?;
            if let Some(p) = &parameter {
                params::unset(file.settings_mut(), p)?;
            }
            if !env.is_empty() {
                params::unset_envs(file.settings_mut(), &env)?;
            }
            file.save()?;
            println!("Local config was successfully updated.");
            if now {
                return super::component::push(g, Default::default());
            }
            Ok(())
        }
        ConfigCommand::View => {
            let file = g.load_config()?;
            if g.json() {
                output::print_json(&file.config);
                return Ok(());
            }
            let s = file.settings();
            println!("COMPONENT SETTINGS");
            println!("------------------------------------------------");
            let rows: Vec<Vec<String>> = params::PARAMS
                .iter()
                .filter(|(p, _)| !matches!(*p, "Memory" | "CPU"))
                .map(|(p, _)| vec![p.to_string(), params::get(s, p).unwrap_or_default()])
                .collect();
            print!("{}", output::table(&["PARAMETER", "CURRENT_VALUE"], &rows));
            let section = |title: &str, header: &[&str], rows: Vec<Vec<String>>| {
                if !rows.is_empty() {
                    println!("\n{title}");
                    println!("------------------------------------------------");
                    print!("{}", output::table(header, &rows));
                }
            };
            section(
                "ENVIRONMENT VARIABLES",
                &["NAME", "VALUE"],
                s.envs
                    .iter()
                    .flatten()
                    .map(|e| vec![e.name.clone(), e.value.clone()])
                    .collect(),
            );
            section(
                "URLS",
                &["NAME", "PORT", "SECURE"],
                s.urls
                    .iter()
                    .flatten()
                    .map(|u| vec![u.name.clone(), u.port.to_string(), u.secure.to_string()])
                    .collect(),
            );
            section(
                "STORAGE",
                &["NAME", "SIZE", "PATH"],
                s.storage
                    .iter()
                    .flatten()
                    .map(|st| vec![st.name.clone(), st.size.clone(), st.path.clone()])
                    .collect(),
            );
            Ok(())
        }
    }
}
