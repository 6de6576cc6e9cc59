//! The validated view of a local config: every name checked, ports parsed, defaults filled in.
//! This is what `manifests` renders from and what `push` works with.

use super::ConfigError;
use super::local::{
    ComponentSettings, DEFAULT_APP, DEFAULT_DEBUG_PORT, EnvVar, LinkEntry, SourceType,
    StorageEntry, UrlEntry,
};
use super::validate::{self, Invalid, PortSpec};

/// CPU and memory requests (`Min*`) and limits (`Max*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU request.
    pub min_cpu: Option<String>,
    /// CPU limit.
    pub max_cpu: Option<String>,
    /// Memory request.
    pub min_memory: Option<String>,
    /// Memory limit.
    pub max_memory: Option<String>,
}

/// A component whose settings passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Component name (DNS-1035 label).
    pub name: String,
    /// Application name.
    pub app: String,
    /// Project (namespace); `None` means the connection's current namespace.
    pub project: Option<String>,
    /// Component type as written (`nodejs`, `nodejs:14`, `openshift/nodejs:14`).
    pub component_type: String,
    /// Source type.
    pub source_type: SourceType,
    /// Source location relative to the context.
    pub source_location: String,
    /// Ports; empty means "the builder image's exposed ports".
    pub ports: Vec<PortSpec>,
    /// User environment, in order.
    pub envs: Vec<EnvVar>,
    /// Storage, in order.
    pub storage: Vec<StorageEntry>,
    /// URLs, in order.
    pub urls: Vec<UrlEntry>,
    /// Resources.
    pub resources: Resources,
    /// Debug port.
    pub debug_port: u16,
    /// Links (`odo link`), in order.
    pub links: Vec<LinkEntry>,
    /// Git ref to build (git components; the repository's default branch when absent).
    pub git_ref: Option<String>,
}

impl Component {
    /// Validates settings read from `path` (used in error messages).
    pub fn from_settings(
        path: &std::path::Path,
        s: &ComponentSettings,
    ) -> Result<Self, ConfigError> {
        let wrap = |e: Invalid| ConfigError::Invalid {
            path: path.to_path_buf(),
            source: e,
        };
        let missing = |key: &'static str| ConfigError::Missing {
            path: path.to_path_buf(),
            key,
        };
        let name = s.name.clone().ok_or_else(|| missing("Name"))?;
        let component_type = s.component_type.clone().ok_or_else(|| missing("Type"))?;
        let app = s
            .application
            .clone()
            .unwrap_or_else(|| DEFAULT_APP.to_string());
        validate::component_name(&name, &app).map_err(wrap)?;
        if let Some(project) = &s.project {
            validate::dns_label("project name", project).map_err(wrap)?;
        }
        let ports = validate::ports(s.ports.as_deref().unwrap_or_default()).map_err(wrap)?;
        let envs = s.envs.clone().unwrap_or_default();
        for env in &envs {
            validate::env_name(&env.name).map_err(wrap)?;
        }
        let storage = s.storage.clone().unwrap_or_default();
        for (i, st) in storage.iter().enumerate() {
            validate::suffixed_name("storage name", &st.name, &app, "-pvc").map_err(wrap)?;
            validate::quantity("storage size", &st.size).map_err(wrap)?;
            validate::mount_path(&st.path).map_err(wrap)?;
            if storage[..i]
                .iter()
                .any(|o| o.name == st.name || o.path == st.path)
            {
                return Err(wrap(Invalid {
                    what: "storage",
                    value: st.name.clone(),
                    reason: "another storage has the same name or path".into(),
                }));
            }
        }
        let urls = s.urls.clone().unwrap_or_default();
        for (i, url) in urls.iter().enumerate() {
            validate::suffixed_name("url name", &url.name, &app, "").map_err(wrap)?;
            if urls[..i].iter().any(|o| o.name == url.name) {
                return Err(wrap(Invalid {
                    what: "url name",
                    value: url.name.clone(),
                    reason: "is used twice".into(),
                }));
            }
        }
        let links = s.links.clone().unwrap_or_default();
        for (i, link) in links.iter().enumerate() {
            validate::dns_subdomain("linked secret name", &link.secret).map_err(wrap)?;
            if links[..i].iter().any(|o| o.secret == link.secret) {
                return Err(wrap(Invalid {
                    what: "link",
                    value: link.name.clone(),
                    reason: "is linked twice".into(),
                }));
            }
        }
        let resources = Resources {
            min_cpu: s.min_cpu.clone(),
            max_cpu: s.max_cpu.clone(),
            min_memory: s.min_memory.clone(),
            max_memory: s.max_memory.clone(),
        };
        for (what, v) in [
            ("MinCPU", &resources.min_cpu),
            ("MaxCPU", &resources.max_cpu),
            ("MinMemory", &resources.min_memory),
            ("MaxMemory", &resources.max_memory),
        ] {
            if let Some(v) = v {
                validate::quantity(what, v).map_err(wrap)?;
            }
        }
        Ok(Component {
            name,
            app,
            project: s.project.clone(),
            component_type,
            source_type: s.source_type.unwrap_or_default(),
            source_location: s.source_location.clone().unwrap_or_else(|| "./".into()),
            ports,
            envs,
            storage,
            urls,
            resources,
            debug_port: s.debug_port.unwrap_or(DEFAULT_DEBUG_PORT),
            links,
            git_ref: s.git_ref.clone(),
        })
    }

    /// `<component>-<app>`: the name of the workload, Service and ImageStream.
    pub fn object_name(&self) -> String {
        format!("{}-{}", self.name, self.app)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn settings() -> ComponentSettings {
        ComponentSettings {
            name: Some("web".into()),
            component_type: Some("nodejs".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_filled() {
        let c = Component::from_settings(Path::new("c.yaml"), &settings()).unwrap();
        assert_eq!(c.app, "app");
        assert_eq!(c.object_name(), "web-app");
        assert_eq!(c.debug_port, 5858);
        assert_eq!(c.source_type, SourceType::Local);
    }

    #[test]
    fn errors_name_the_file() {
        let mut s = settings();
        s.ports = Some(vec!["80/http".into()]);
        let err = Component::from_settings(Path::new("/p/.odo/config.yaml"), &s).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/p/.odo/config.yaml"), "{text}");
        let mut s = settings();
        s.name = None;
        let err = Component::from_settings(Path::new("c.yaml"), &s).unwrap_err();
        assert!(err.to_string().contains("Name"), "{err}");
    }

    #[test]
    fn duplicate_storage_path_rejected() {
        let mut s = settings();
        let st = |n: &str| StorageEntry {
            name: n.into(),
            size: "1Gi".into(),
            path: "/data".into(),
        };
        s.storage = Some(vec![st("a"), st("b")]);
        assert!(Component::from_settings(Path::new("c"), &s).is_err());
    }
}
