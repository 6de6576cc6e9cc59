//! Local files odo reads and writes: the component's `.odo/config.yaml` (odo's LocalConfig), the
//! global `~/.odo/preference.yaml`, their validation, and atomic writes.

pub mod component;
pub mod fsutil;
pub mod local;
pub mod params;
pub mod preference;
pub mod validate;

use std::path::PathBuf;

pub use component::{Component, Resources};
pub use local::{
    ComponentSettings, LinkEntry, LinkKind, LocalConfig, LocalConfigFile, SourceType, UrlKind,
};
pub use preference::PreferenceFile;

/// Errors reading, validating or writing odo's local files.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid YAML or has the wrong shape.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Serialization failed.
    #[error("cannot serialize {}: {message}", path.display())]
    Serialize {
        /// The file.
        path: PathBuf,
        /// What the serializer said.
        message: String,
    },
    /// The file has an unexpected `kind`/`apiVersion`.
    #[error("{} is not an odo file: expected {expected}, found {found:?}", path.display())]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// Expected kind or apiVersion.
        expected: &'static str,
        /// What the file says.
        found: String,
    },
    /// No component config in the context.
    #[error("no component config at {}", path.display())]
    NotFound {
        /// Where it was looked for.
        path: PathBuf,
        /// The context directory.
        context: PathBuf,
    },
    /// A required key is missing.
    #[error("{}: ComponentSettings.{key} is not set", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The key.
        key: &'static str,
    },
    /// A value in the file is invalid.
    #[error("{}: {source}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: validate::Invalid,
    },
    /// Neither `$HOME` nor `$CUSTOM_HOMEDIR` nor `$GLOBALODOCONFIG` is set.
    #[error("cannot locate the preference file: HOME is not set")]
    NoHome,
}

impl ConfigError {
    /// A hint telling the user how to fix the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            ConfigError::NotFound { context, .. } => Some(format!(
                "run `odo create <type>` in {} first, or point --context at a directory that has a .odo/config.yaml",
                context.display()
            )),
            ConfigError::Parse { path, line, .. } => Some(format!(
                "fix line {line} of {} (or delete the file and recreate it with odo)",
                path.display()
            )),
            ConfigError::Missing { key, .. } => {
                Some(format!("set it with `odo config set {key} <value>`"))
            }
            ConfigError::NoHome => {
                Some("set HOME or GLOBALODOCONFIG to the preference file path".into())
            }
            _ => None,
        }
    }
}
