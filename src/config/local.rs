//! `.odo/config.yaml`: odo's LocalConfig (kind `LocalConfig`, `ComponentSettings` with odo's keys),
//! where it lives (`<context>/.odo/config.yaml`, or `$LOCALODOCONFIG`), loading and saving.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ConfigError, fsutil};

/// `kind` written into the local config.
pub const LOCAL_CONFIG_KIND: &str = "LocalConfig";
/// `apiVersion` written into the local config (odo v1.2.5).
pub const LOCAL_CONFIG_API_VERSION: &str = "odo.dev/v1alpha1";
/// Older odo releases wrote this apiVersion; it is still accepted on read.
pub const LEGACY_LOCAL_CONFIG_API_VERSION: &str = "odo.openshift.io/v1alpha1";
/// Env var that replaces the local config path (as in odo).
pub const LOCAL_CONFIG_ENV: &str = "LOCALODOCONFIG";
/// Default application name.
pub const DEFAULT_APP: &str = "app";
/// Default debug port.
pub const DEFAULT_DEBUG_PORT: u16 = 5858;

/// Where a component's source comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    /// A local directory (the default).
    #[default]
    Local,
    /// A git repository built on the cluster.
    Git,
    /// A binary (e.g. a jar) in the context directory.
    Binary,
}

impl SourceType {
    /// The spelling used in the config and in annotations.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Local => "local",
            SourceType::Git => "git",
            SourceType::Binary => "binary",
        }
    }
}

/// One `Envs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    /// Variable name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Variable value.
    #[serde(rename = "Value", default)]
    pub value: String,
}

/// One `Storage` entry (a PVC mounted into the component).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageEntry {
    /// Storage name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Requested size (a Kubernetes quantity).
    #[serde(rename = "Size")]
    pub size: String,
    /// Mount path in the component container.
    #[serde(rename = "Path")]
    pub path: String,
}

/// What a url becomes on the cluster (odo's `Kind` of a url: `route` or `ingress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UrlKind {
    /// An OpenShift Route.
    Route,
    /// A networking.k8s.io Ingress.
    Ingress,
}

impl UrlKind {
    /// The name odo prints and stores (`route`, `ingress`).
    pub fn as_str(self) -> &'static str {
        match self {
            UrlKind::Route => "route",
            UrlKind::Ingress => "ingress",
        }
    }
}

/// One `Url` entry (a Route on OpenShift unless its kind says ingress, an Ingress on
/// Kubernetes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UrlEntry {
    /// URL name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Component port the URL points to.
    #[serde(rename = "Port")]
    pub port: u16,
    /// Whether the URL uses TLS.
    #[serde(rename = "Secure", default, skip_serializing_if = "is_false")]
    pub secure: bool,
    /// Host domain for an Ingress (the rule host is `<name>.<host>`).
    #[serde(rename = "Host", default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// TLS secret for a secure Ingress.
    #[serde(rename = "TLSSecret", default, skip_serializing_if = "Option::is_none")]
    pub tls_secret: Option<String>,
    /// `ingress` when `odo url create --ingress` asked for an Ingress on OpenShift; unset
    /// means the flavor's own kind.
    #[serde(rename = "Kind", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<UrlKind>,
}

impl UrlEntry {
    /// What this url is on a cluster of `flavor`: always an Ingress on Kubernetes (there
    /// are no Routes), on OpenShift a Route unless it was created with `--ingress`.
    pub fn kind_on(&self, flavor: crate::manifests::Flavor) -> UrlKind {
        match flavor {
            crate::manifests::Flavor::Kubernetes => UrlKind::Ingress,
            crate::manifests::Flavor::OpenShift => self.kind.unwrap_or(UrlKind::Route),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The `ComponentSettings` block, keys exactly as odo writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ComponentSettings {
    /// Component type (builder image), e.g. `nodejs` or `nodejs:14`.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub component_type: Option<String>,
    /// Source location relative to the context (`./` for local).
    #[serde(
        rename = "SourceLocation",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_location: Option<String>,
    /// Git ref.
    #[serde(rename = "Ref", default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// Source type.
    #[serde(
        rename = "SourceType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_type: Option<SourceType>,
    /// Ports, `8080/TCP`.
    #[serde(rename = "Ports", default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
    /// Application name.
    #[serde(
        rename = "Application",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub application: Option<String>,
    /// Project (namespace).
    #[serde(rename = "Project", default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Component name.
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Memory request.
    #[serde(rename = "MinMemory", default, skip_serializing_if = "Option::is_none")]
    pub min_memory: Option<String>,
    /// Memory limit.
    #[serde(rename = "MaxMemory", default, skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<String>,
    /// Debug port.
    #[serde(rename = "DebugPort", default, skip_serializing_if = "Option::is_none")]
    pub debug_port: Option<u16>,
    /// Storage.
    #[serde(rename = "Storage", default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Vec<StorageEntry>>,
    /// Whether ignore files are used.
    #[serde(rename = "Ignore", default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<bool>,
    /// CPU request.
    #[serde(rename = "MinCPU", default, skip_serializing_if = "Option::is_none")]
    pub min_cpu: Option<String>,
    /// CPU limit.
    #[serde(rename = "MaxCPU", default, skip_serializing_if = "Option::is_none")]
    pub max_cpu: Option<String>,
    /// Environment variables.
    #[serde(rename = "Envs", default, skip_serializing_if = "Option::is_none")]
    pub envs: Option<Vec<EnvVar>>,
    /// URLs.
    #[serde(rename = "Url", default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<UrlEntry>>,
    /// Components and services this one is linked to (`odo link`).
    #[serde(rename = "Link", default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<LinkEntry>>,
}

/// One `odo link`: the Secret whose keys become environment variables of the component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkEntry {
    /// The linked component or service, as given to `odo link`.
    #[serde(rename = "Name")]
    pub name: String,
    /// `component` or `service`.
    #[serde(rename = "Kind")]
    pub kind: LinkKind,
    /// The linked component's port (components only).
    #[serde(rename = "Port", default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The Secret injected with `envFrom`.
    #[serde(rename = "Secret")]
    pub secret: String,
}

/// What a link points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// Another odo component of the same application (its per-port Secret).
    Component,
    /// A service's binding Secret.
    Service,
}

/// The whole `.odo/config.yaml` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalConfig {
    /// Always `LocalConfig`.
    pub kind: String,
    /// `odo.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// The component's settings.
    #[serde(rename = "ComponentSettings", default)]
    pub settings: ComponentSettings,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            kind: LOCAL_CONFIG_KIND.to_string(),
            api_version: LOCAL_CONFIG_API_VERSION.to_string(),
            settings: ComponentSettings::default(),
        }
    }
}

/// A local config together with the file it was loaded from (or will be saved to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfigFile {
    /// Path of `config.yaml`.
    pub path: PathBuf,
    /// Context directory (the component's source root).
    pub context: PathBuf,
    /// The document.
    pub config: LocalConfig,
    /// Whether the file existed when loaded.
    pub exists: bool,
}

/// Path of the local config for a context directory: `$LOCALODOCONFIG` if set, else
/// `<context>/.odo/config.yaml`.
pub fn local_config_path(context: &Path) -> PathBuf {
    match std::env::var_os(LOCAL_CONFIG_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => context.join(".odo").join("config.yaml"),
    }
}

impl LocalConfigFile {
    /// Loads the config of `context`; a missing file yields an empty config with `exists == false`.
    pub fn load(context: &Path) -> Result<Self, ConfigError> {
        let path = local_config_path(context);
        let loaded: Option<LocalConfig> = fsutil::read_yaml(&path)?;
        let exists = loaded.is_some();
        let config = loaded.unwrap_or_default();
        if exists {
            check_header(&path, &config)?;
        }
        Ok(LocalConfigFile {
            path,
            context: context.to_path_buf(),
            config,
            exists,
        })
    }

    /// Loads the config of `context` and fails with a hint when it does not exist.
    pub fn load_existing(context: &Path) -> Result<Self, ConfigError> {
        let file = Self::load(context)?;
        if !file.exists {
            return Err(ConfigError::NotFound {
                path: file.path,
                context: context.to_path_buf(),
            });
        }
        Ok(file)
    }

    /// Writes the config atomically.
    pub fn save(&mut self) -> Result<(), ConfigError> {
        self.config.kind = LOCAL_CONFIG_KIND.to_string();
        self.config.api_version = LOCAL_CONFIG_API_VERSION.to_string();
        fsutil::write_yaml_atomic(&self.path, &self.config)?;
        self.exists = true;
        Ok(())
    }

    /// The component settings.
    pub fn settings(&self) -> &ComponentSettings {
        &self.config.settings
    }

    /// The component settings, mutable.
    pub fn settings_mut(&mut self) -> &mut ComponentSettings {
        &mut self.config.settings
    }
}

fn check_header(path: &Path, config: &LocalConfig) -> Result<(), ConfigError> {
    if config.kind != LOCAL_CONFIG_KIND {
        return Err(ConfigError::WrongKind {
            path: path.to_path_buf(),
            expected: LOCAL_CONFIG_KIND,
            found: config.kind.clone(),
        });
    }
    if config.api_version != LOCAL_CONFIG_API_VERSION
        && config.api_version != LEGACY_LOCAL_CONFIG_API_VERSION
    {
        return Err(ConfigError::WrongKind {
            path: path.to_path_buf(),
            expected: LOCAL_CONFIG_API_VERSION,
            found: config.api_version.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ODO_WRITTEN: &str = "kind: LocalConfig
apiVersion: odo.dev/v1alpha1
ComponentSettings:
  Type: nodejs
  SourceLocation: ./
  SourceType: local
  Ports:
  - 8080/TCP
  Application: app
  Project: myproject
  Name: nodejs-foo-abcd
  MinCPU: 100m
  Envs:
  - Name: A
    Value: b
  Url:
  - Name: web
    Port: 8080
    Secure: true
  Storage:
  - Name: data
    Size: 1Gi
    Path: /data
";

    #[test]
    fn reads_odo_written_file() {
        let cfg: LocalConfig = serde_yaml::from_str(ODO_WRITTEN).unwrap();
        let s = &cfg.settings;
        assert_eq!(s.component_type.as_deref(), Some("nodejs"));
        assert_eq!(s.source_type, Some(SourceType::Local));
        assert_eq!(s.min_cpu.as_deref(), Some("100m"));
        assert!(s.urls.as_ref().unwrap()[0].secure);
        assert_eq!(s.storage.as_ref().unwrap()[0].path, "/data");
        // and writes the same keys back
        let back = serde_yaml::to_string(&cfg).unwrap();
        let again: LocalConfig = serde_yaml::from_str(&back).unwrap();
        assert_eq!(again, cfg);
        assert!(back.contains("ComponentSettings:") && back.contains("MinCPU: 100m"));
    }

    #[test]
    fn load_save_in_context() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = LocalConfigFile::load(dir.path()).unwrap();
        assert!(!file.exists);
        file.settings_mut().name = Some("web".into());
        file.save().unwrap();
        let loaded = LocalConfigFile::load_existing(dir.path()).unwrap();
        assert_eq!(loaded.settings().name.as_deref(), Some("web"));
        assert_eq!(loaded.path, dir.path().join(".odo/config.yaml"));
    }

    #[test]
    fn missing_config_is_an_error_with_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalConfigFile::load_existing(dir.path()).unwrap_err();
        assert!(err.to_string().contains(".odo/config.yaml"), "{err}");
    }

    #[test]
    fn wrong_kind_rejected() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".odo")).unwrap();
        std::fs::write(
            dir.path().join(".odo/config.yaml"),
            "kind: Preference\napiVersion: odo.dev/v1alpha1\n",
        )
        .unwrap();
        assert!(LocalConfigFile::load(dir.path()).is_err());
    }
}
