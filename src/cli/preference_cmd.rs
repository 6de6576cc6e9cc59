//! `odo preference set/unset/view`: edit and show `~/.odo/preference.yaml`.

use clap::Subcommand;

use super::GlobalArgs;
use super::output;
use crate::config::preference::{self, PREFERENCE_PARAMS, PreferenceFile};
use crate::error::{Error, Result};

/// `odo preference` subcommands.
#[derive(Debug, Subcommand)]
pub enum PreferenceCommand {
    /// Set a preference
    #[command(after_help = "Examples:
  odo preference set PushTimeout 60
  odo preference set UpdateNotification false -f

Preferences (case-insensitive): UpdateNotification, NamePrefix, Timeout, BuildTimeout,
PushTimeout, Experimental, PushTarget")]
    Set {
        /// Preference name
        parameter: String,
        /// Value
        value: String,
        /// Overwrite an existing value without asking
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Unset a preference (back to its default)
    #[command(after_help = "Examples:
  odo preference unset PushTimeout -f")]
    Unset {
        /// Preference name
        parameter: String,
        /// Do not ask for confirmation
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Show the preferences
    #[command(after_help = "Examples:
  odo preference view
  odo preference view -o json")]
    View,
}

impl PreferenceCommand {
    /// Whether `-o json` is supported.
    pub fn machine_output(&self) -> bool {
        matches!(self, PreferenceCommand::View)
    }
}

fn param(name: &str) -> Result<&'static str> {
    preference::canonical(name).ok_or_else(|| {
        Error::user(
            format!("unknown preference {name:?}"),
            format!(
                "known preferences: {}",
                PREFERENCE_PARAMS
                    .iter()
                    .map(|(p, _)| *p)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// Runs an `odo preference` subcommand.
pub fn run(g: &GlobalArgs, cmd: PreferenceCommand) -> Result<()> {
    match cmd {
        PreferenceCommand::Set {
            parameter,
            value,
            force,
        } => {
            let p = param(&parameter)?;
            let mut file = PreferenceFile::load()?;
            let current = preference::get(&file.preference.settings, p);
            if !force && !current.is_empty() && current != value {
                return Err(Error::user(
                    format!("preference {p} is already set to {current:?}"),
                    "add -f to overwrite it",
                ));
            }
            preference::set(&mut file.preference.settings, p, &value)?;
            file.save()?;
            println!("Global preference was successfully updated");
            Ok(())
        }
        PreferenceCommand::Unset {
            parameter,
            force: _,
        } => {
            let p = param(&parameter)?;
            let mut file = PreferenceFile::load()?;
            if !preference::unset(&mut file.preference.settings, p) {
                return Err(Error::user(
                    format!("preference {p} is not set"),
                    "see `odo preference view`",
                ));
            }
            file.save()?;
            println!("Global preference was successfully updated");
            Ok(())
        }
        PreferenceCommand::View => {
            let file = PreferenceFile::load()?;
            if g.json() {
                output::print_json(&file.preference);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = PREFERENCE_PARAMS
                .iter()
                .map(|(p, _)| vec![p.to_string(), preference::get(&file.preference.settings, p)])
                .collect();
            print!("{}", output::table(&["PARAMETER", "CURRENT_VALUE"], &rows));
            Ok(())
        }
    }
}
