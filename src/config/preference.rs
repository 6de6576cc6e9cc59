//! `~/.odo/preference.yaml`: odo's global preferences (`kind: Preference`, `OdoSettings`), where the
//! file lives (`$GLOBALODOCONFIG`, else `$CUSTOM_HOMEDIR/.odo/`, else `$HOME/.odo/`), defaults, and
//! `odo preference set/unset/view`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::validate::{self, Invalid};
use super::{ConfigError, fsutil};

/// Env var naming the preference file (as in odo).
pub const GLOBAL_CONFIG_ENV: &str = "GLOBALODOCONFIG";
/// Env var replacing the home directory for the preference file (as in odo).
pub const CUSTOM_HOME_ENV: &str = "CUSTOM_HOMEDIR";
/// Default server connection check timeout, seconds.
pub const DEFAULT_TIMEOUT: u64 = 1;
/// Default git build timeout, seconds.
pub const DEFAULT_BUILD_TIMEOUT: u64 = 300;
/// Default wait for the component pod, seconds.
pub const DEFAULT_PUSH_TIMEOUT: u64 = 240;

/// A devfile registry entry (kept so files written by odo round-trip).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// Registry name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Registry URL.
    #[serde(rename = "URL")]
    pub url: String,
    /// Whether the registry needs a token.
    #[serde(rename = "secure", default)]
    pub secure: bool,
}

/// The `OdoSettings` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct OdoSettings {
    /// Whether odo checks for updates.
    #[serde(
        rename = "UpdateNotification",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub update_notification: Option<bool>,
    /// Prefix for generated component names.
    #[serde(
        rename = "NamePrefix",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub name_prefix: Option<String>,
    /// Server connection check timeout, seconds.
    #[serde(rename = "Timeout", default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Git build timeout, seconds.
    #[serde(
        rename = "BuildTimeout",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub build_timeout: Option<u64>,
    /// Wait for the component pod, seconds.
    #[serde(
        rename = "PushTimeout",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub push_timeout: Option<u64>,
    /// Experimental mode.
    #[serde(
        rename = "Experimental",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub experimental: Option<bool>,
    /// Push target (`kube` or `docker`).
    #[serde(
        rename = "PushTarget",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub push_target: Option<String>,
    /// Devfile registries.
    #[serde(
        rename = "RegistryList",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub registry_list: Option<Vec<Registry>>,
}

/// The preference document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preference {
    /// Always `Preference`.
    pub kind: String,
    /// `odo.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// The settings.
    #[serde(rename = "OdoSettings", default)]
    pub settings: OdoSettings,
}

impl Default for Preference {
    fn default() -> Self {
        Preference {
            kind: "Preference".into(),
            api_version: "odo.dev/v1alpha1".into(),
            settings: OdoSettings::default(),
        }
    }
}

/// Parameters `odo preference set` accepts, with their descriptions.
pub const PREFERENCE_PARAMS: &[(&str, &str)] = &[
    (
        "UpdateNotification",
        "Whether odo checks for a newer release (true/false, default true)",
    ),
    (
        "NamePrefix",
        "Prefix for generated component names (default: the directory name)",
    ),
    (
        "Timeout",
        "Seconds to wait for the cluster to answer (default 1)",
    ),
    (
        "BuildTimeout",
        "Seconds to wait for a git build (default 300)",
    ),
    (
        "PushTimeout",
        "Seconds to wait for the component pod to run (default 240)",
    ),
    (
        "Experimental",
        "Expose experimental features (true/false, default false)",
    ),
    (
        "PushTarget",
        "Where components are pushed: kube (default) or docker",
    ),
];

/// Path of the preference file, following odo's env overrides.
pub fn preference_path() -> Result<PathBuf, ConfigError> {
    if let Some(p) = std::env::var_os(GLOBAL_CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os(CUSTOM_HOME_ENV)
        .filter(|p| !p.is_empty())
        .or_else(|| std::env::var_os("HOME").filter(|p| !p.is_empty()))
        .ok_or(ConfigError::NoHome)?;
    Ok(Path::new(&home).join(".odo").join("preference.yaml"))
}

/// A preference document with its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferenceFile {
    /// Where it is read from and written to.
    pub path: PathBuf,
    /// The document (defaults when the file does not exist).
    pub preference: Preference,
}

impl PreferenceFile {
    /// Loads the preference file from its usual place.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(&preference_path()?)
    }

    /// Loads the preference file at `path`; missing means defaults.
    pub fn load_from(path: &Path) -> Result<Self, ConfigError> {
        let preference: Preference = fsutil::read_yaml(path)?.unwrap_or_default();
        Ok(PreferenceFile {
            path: path.to_path_buf(),
            preference,
        })
    }

    /// Writes it atomically.
    pub fn save(&self) -> Result<(), ConfigError> {
        fsutil::write_yaml_atomic(&self.path, &self.preference)
    }

    /// Server connection timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.preference.settings.timeout.unwrap_or(DEFAULT_TIMEOUT))
    }

    /// Pod wait timeout.
    pub fn push_timeout(&self) -> Duration {
        Duration::from_secs(
            self.preference
                .settings
                .push_timeout
                .unwrap_or(DEFAULT_PUSH_TIMEOUT),
        )
    }

    /// Whether experimental mode is on (preference or `ODO_EXPERIMENTAL=true`).
    pub fn experimental(&self) -> bool {
        std::env::var("ODO_EXPERIMENTAL").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
            || self.preference.settings.experimental.unwrap_or(false)
    }
}

/// Canonical spelling of a preference parameter.
pub fn canonical(name: &str) -> Option<&'static str> {
    PREFERENCE_PARAMS
        .iter()
        .map(|(p, _)| *p)
        .find(|p| p.eq_ignore_ascii_case(name))
}

fn invalid(what: &'static str, value: &str, reason: &str) -> Invalid {
    Invalid {
        what,
        value: value.into(),
        reason: reason.into(),
    }
}

/// Sets a preference; `Err` names the parameter or the bad value.
pub fn set(s: &mut OdoSettings, param: &'static str, value: &str) -> Result<(), Invalid> {
    let boolean = |v: &str| match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(param, v, "expected true or false")),
    };
    let seconds = |v: &str| {
        v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            invalid(
                param,
                v,
                "expected a whole number of seconds greater than 0",
            )
        })
    };
    match param {
        "UpdateNotification" => s.update_notification = Some(boolean(value)?),
        "Experimental" => s.experimental = Some(boolean(value)?),
        "NamePrefix" => {
            validate::dns_label("NamePrefix", value)?;
            s.name_prefix = Some(value.into());
        }
        "Timeout" => s.timeout = Some(seconds(value)?),
        "BuildTimeout" => s.build_timeout = Some(seconds(value)?),
        "PushTimeout" => s.push_timeout = Some(seconds(value)?),
        "PushTarget" => match value {
            "kube" | "docker" => s.push_target = Some(value.into()),
            _ => return Err(invalid(param, value, "expected kube or docker")),
        },
        _ => return Err(invalid("preference", param, "unknown preference")),
    }
    Ok(())
}

/// Clears a preference; returns whether it had a value.
pub fn unset(s: &mut OdoSettings, param: &'static str) -> bool {
    match param {
        "UpdateNotification" => s.update_notification.take().is_some(),
        "Experimental" => s.experimental.take().is_some(),
        "NamePrefix" => s.name_prefix.take().is_some(),
        "Timeout" => s.timeout.take().is_some(),
        "BuildTimeout" => s.build_timeout.take().is_some(),
        "PushTimeout" => s.push_timeout.take().is_some(),
        "PushTarget" => s.push_target.take().is_some(),
        _ => false,
    }
}

/// Current value as shown by `preference view` (empty when unset).
pub fn get(s: &OdoSettings, param: &str) -> String {
    let opt = |o: Option<String>| o.unwrap_or_default();
    match param {
        "UpdateNotification" => opt(s.update_notification.map(|b| b.to_string())),
        "Experimental" => opt(s.experimental.map(|b| b.to_string())),
        "NamePrefix" => opt(s.name_prefix.clone()),
        "Timeout" => opt(s.timeout.map(|n| n.to_string())),
        "BuildTimeout" => opt(s.build_timeout.map(|n| n.to_string())),
        "PushTimeout" => opt(s.push_timeout.map(|n| n.to_string())),
        "PushTarget" => opt(s.push_target.clone()),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        let mut file = PreferenceFile::load_from(&path).unwrap();
        assert_eq!(file.timeout(), Duration::from_secs(1));
        assert_eq!(file.push_timeout(), Duration::from_secs(240));
        set(&mut file.preference.settings, "PushTimeout", "30").unwrap();
        set(&mut file.preference.settings, "Timeout", "5").unwrap();
        file.save().unwrap();
        let back = PreferenceFile::load_from(&path).unwrap();
        assert_eq!(back.push_timeout(), Duration::from_secs(30));
        assert_eq!(back.timeout(), Duration::from_secs(5));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("kind: Preference") && text.contains("PushTimeout: 30"),
            "{text}"
        );
    }

    #[test]
    fn bad_values() {
        let mut s = OdoSettings::default();
        assert!(set(&mut s, "Timeout", "0").is_err());
        assert!(set(&mut s, "Timeout", "1s").is_err());
        assert!(set(&mut s, "UpdateNotification", "yes please").is_err());
        assert!(set(&mut s, "PushTarget", "podman").is_err());
        assert!(canonical("pushtimeout") == Some("PushTimeout"));
        assert!(canonical("nope").is_none());
    }

    #[test]
    fn reads_odo_file() {
        let text = "kind: Preference\napiVersion: odo.dev/v1alpha1\nOdoSettings:\n  UpdateNotification: false\n  RegistryList:\n  - Name: DefaultDevfileRegistry\n    URL: https://github.com/odo-devfiles/registry\n    secure: false\n";
        let p: Preference = fsutil::parse_yaml(Path::new("p"), text).unwrap();
        assert_eq!(p.settings.update_notification, Some(false));
        assert_eq!(p.settings.registry_list.unwrap().len(), 1);
    }
}
