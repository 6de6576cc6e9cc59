//! The crate's top-level error: every module's error, plus user errors with a hint. The CLI
//! renders it with its cause chain and hint, and maps it to an exit code (1 user error, 2 usage).

use std::path::PathBuf;

use crate::catalog::CatalogError;
use crate::cluster::ClusterError;
use crate::config::ConfigError;
use crate::config::params::ParamError;
use crate::config::validate::Invalid;
use crate::manifests::ManifestError;
use crate::push::PushError;

/// Any error odo reports to the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Local files.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `config set/unset`.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// Component types.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Rendering.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Talking to the cluster.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// `odo push`.
    #[error(transparent)]
    Push(#[from] PushError),
    /// A rejected value.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Misuse of flags or arguments that clap cannot detect.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
    },
    /// Any other user-facing problem.
    #[error("{message}")]
    User {
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// A local I/O problem.
    #[error("{what} {}", path.display())]
    Io {
        /// What was attempted ("cannot read").
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A user error with a hint.
    pub fn user(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::User {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// How to fix it, when known.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Config(e) => e.hint(),
            Error::Param(ParamError::Unknown(_)) => Some(format!(
                "known parameters: {}",
                crate::config::params::PARAMS
                    .iter()
                    .map(|(p, _)| *p)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Error::Param(ParamError::NotSet(_)) => Some("see `odo config view`".into()),
            Error::Catalog(e) => Some(e.hint()),
            Error::Manifest(ManifestError::UrlPort { .. }) => {
                Some("delete the url (`odo url delete <name>`) or add the port (`odo config set Ports ...`)".into())
            }
            Error::Cluster(e) => e.hint(),
            Error::Push(e) => e.hint(),
            Error::User { hint, .. } => hint.clone(),
            Error::Usage { .. } => Some("see `odo <command> --help`".into()),
            _ => None,
        }
    }

    /// Process exit code: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { .. } => 2,
            _ => 1,
        }
    }

    /// The message followed by every cause, outermost first.
    pub fn chain(&self) -> Vec<String> {
        let mut out = vec![self.to_string()];
        let mut source = std::error::Error::source(self);
        // `transparent` variants forward `source()` to the inner error's source, so the first
        // element already is the inner message.
        while let Some(s) = source {
            let mut text = s.to_string();
            // kube's API errors end with a Debug dump of the Status they already summarised.
            if let Some(idx) = text.find(" (Status {") {
                text.truncate(idx);
            }
            // Some errors repeat their cause in their own message; show it once.
            if !out.last().is_some_and(|last| last.contains(&text)) {
                out.push(text);
            }
            source = s.source();
        }
        out
    }
}
