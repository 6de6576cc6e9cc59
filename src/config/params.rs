//! `odo config set/unset/view` parameters: odo's names (case-insensitive), per-parameter
//! validation, and the rows `config view` prints.

use super::local::{ComponentSettings, EnvVar, SourceType};
use super::validate::{self, Invalid};

/// Parameters `odo config set` accepts, in the order `config view` prints them.
pub const PARAMS: &[(&str, &str)] = &[
    (
        "Type",
        "The type of component (builder image), e.g. nodejs or nodejs:14",
    ),
    ("Name", "The name of the component"),
    (
        "SourceLocation",
        "The path, relative to the context, of the source or binary",
    ),
    ("SourceType", "The type of source: local, git or binary"),
    ("Ref", "The git ref to build from (git components)"),
    ("Application", "The application the component belongs to"),
    (
        "Project",
        "The project (namespace) the component is created in",
    ),
    (
        "Ports",
        "Ports to open, comma-separated, e.g. 8080,8443/tcp",
    ),
    ("MinMemory", "The minimum memory (request), e.g. 256Mi"),
    ("MaxMemory", "The maximum memory (limit), e.g. 512Mi"),
    ("Memory", "Sets MinMemory and MaxMemory to the same value"),
    ("DebugPort", "The port used by odo debug"),
    (
        "Ignore",
        "Whether .odoignore/.gitignore rules apply (true/false)",
    ),
    ("MinCPU", "The minimum CPU (request), e.g. 100m"),
    ("MaxCPU", "The maximum CPU (limit), e.g. 1"),
    ("CPU", "Sets MinCPU and MaxCPU to the same value"),
];

/// Errors from setting a parameter.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    /// The parameter name is not known.
    #[error("unknown parameter {0:?}")]
    Unknown(String),
    /// The value is invalid.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The parameter already has a value and `-f` was not given.
    #[error("parameter {0} is already set; use -f to overwrite it")]
    AlreadySet(String),
    /// Unset of a parameter that has no value.
    #[error("parameter {0} is not set")]
    NotSet(String),
}

/// Canonical spelling of a parameter name (case-insensitive lookup).
pub fn canonical(name: &str) -> Result<&'static str, ParamError> {
    PARAMS
        .iter()
        .map(|(p, _)| *p)
        .find(|p| p.eq_ignore_ascii_case(name))
        .ok_or_else(|| ParamError::Unknown(name.to_string()))
}

fn parse_bool(what: &'static str, value: &str) -> Result<bool, Invalid> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(Invalid {
            what,
            value: value.to_string(),
            reason: "expected true or false".into(),
        }),
    }
}

/// Sets `name` to `value`. `app` is used for the name length check. Without `force`, an
/// already-set value is an error (odo prompts; we ask for `-f`).
pub fn set(
    s: &mut ComponentSettings,
    name: &str,
    value: &str,
    force: bool,
) -> Result<(), ParamError> {
    let param = canonical(name)?;
    if !force && get(s, param).is_some() && get(s, param).as_deref() != Some(value) {
        return Err(ParamError::AlreadySet(param.to_string()));
    }
    let app = s
        .application
        .clone()
        .unwrap_or_else(|| super::local::DEFAULT_APP.into());
    let some = |v: &str| Some(v.to_string());
    match param {
        "Type" => {
            if value.trim().is_empty() {
                return Err(Invalid {
                    what: "component type",
                    value: value.into(),
                    reason: "must not be empty".into(),
                }
                .into());
            }
            s.component_type = some(value);
        }
        "Name" => {
            validate::component_name(value, &app)?;
            s.name = some(value);
        }
        "Application" => {
            let name = s.name.clone().unwrap_or_else(|| "a".into());
            validate::component_name(&name, value)?;
            s.application = some(value);
        }
        "Project" => {
            validate::dns_label("project name", value)?;
            s.project = some(value);
        }
        "SourceLocation" => s.source_location = some(value),
        "SourceType" => {
            s.source_type = Some(match value.to_ascii_lowercase().as_str() {
                "local" => SourceType::Local,
                "git" => SourceType::Git,
                "binary" => SourceType::Binary,
                _ => {
                    return Err(Invalid {
                        what: "source type",
                        value: value.into(),
                        reason: "expected local, git or binary".into(),
                    }
                    .into());
                }
            });
        }
        "Ref" => s.git_ref = some(value),
        "Ports" => {
            let ports = validate::ports(&[value])?;
            s.ports = Some(ports.iter().map(|p| p.to_string()).collect());
        }
        "MinMemory" | "MaxMemory" | "Memory" | "MinCPU" | "MaxCPU" | "CPU" => {
            validate::quantity(param, value)?;
            match param {
                "MinMemory" => s.min_memory = some(value),
                "MaxMemory" => s.max_memory = some(value),
                "Memory" => {
                    s.min_memory = some(value);
                    s.max_memory = some(value);
                }
                "MinCPU" => s.min_cpu = some(value),
                "MaxCPU" => s.max_cpu = some(value),
                _ => {
                    s.min_cpu = some(value);
                    s.max_cpu = some(value);
                }
            }
        }
        "DebugPort" => {
            let port = validate::port(value)?;
            s.debug_port = Some(port.port);
        }
        "Ignore" => s.ignore = Some(parse_bool("Ignore", value)?),
        other => return Err(ParamError::Unknown(other.to_string())),
    }
    Ok(())
}

/// Clears `name`.
pub fn unset(s: &mut ComponentSettings, name: &str) -> Result<(), ParamError> {
    let param = canonical(name)?;
    let set = match param {
        "Memory" => s.min_memory.is_some() || s.max_memory.is_some(),
        "CPU" => s.min_cpu.is_some() || s.max_cpu.is_some(),
        _ => get(s, param).is_some(),
    };
    if !set {
        return Err(ParamError::NotSet(param.to_string()));
    }
    match param {
        "Type" => s.component_type = None,
        "Name" => s.name = None,
        "Application" => s.application = None,
        "Project" => s.project = None,
        "SourceLocation" => s.source_location = None,
        "SourceType" => s.source_type = None,
        "Ref" => s.git_ref = None,
        "Ports" => s.ports = None,
        "MinMemory" => s.min_memory = None,
        "MaxMemory" => s.max_memory = None,
        "Memory" => {
            s.min_memory = None;
            s.max_memory = None;
        }
        "DebugPort" => s.debug_port = None,
        "Ignore" => s.ignore = None,
        "MinCPU" => s.min_cpu = None,
        "MaxCPU" => s.max_cpu = None,
        "CPU" => {
            s.min_cpu = None;
            s.max_cpu = None;
        }
        other => return Err(ParamError::Unknown(other.to_string())),
    }
    Ok(())
}

/// Current value of a parameter as `config view` shows it.
pub fn get(s: &ComponentSettings, param: &str) -> Option<String> {
    let both = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) if a == b => Some(a.clone()),
        _ => None,
    };
    match param {
        "Type" => s.component_type.clone(),
        "Name" => s.name.clone(),
        "Application" => s.application.clone(),
        "Project" => s.project.clone(),
        "SourceLocation" => s.source_location.clone(),
        "SourceType" => s.source_type.map(|t| t.as_str().to_string()),
        "Ref" => s.git_ref.clone(),
        "Ports" => s
            .ports
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(|p| p.join(",")),
        "MinMemory" => s.min_memory.clone(),
        "MaxMemory" => s.max_memory.clone(),
        "Memory" => both(&s.min_memory, &s.max_memory),
        "DebugPort" => s.debug_port.map(|p| p.to_string()),
        "Ignore" => s.ignore.map(|b| b.to_string()),
        "MinCPU" => s.min_cpu.clone(),
        "MaxCPU" => s.max_cpu.clone(),
        "CPU" => both(&s.min_cpu, &s.max_cpu),
        _ => None,
    }
}

/// Sets or replaces environment variables (`config set --env K=V`).
pub fn set_envs(s: &mut ComponentSettings, pairs: &[String]) -> Result<(), ParamError> {
    let mut envs = s.envs.clone().unwrap_or_default();
    for pair in pairs {
        let (name, value) = validate::env_pair(pair)?;
        match envs.iter_mut().find(|e| e.name == name) {
            Some(e) => e.value = value,
            None => envs.push(EnvVar { name, value }),
        }
    }
    s.envs = Some(envs);
    Ok(())
}

/// Removes environment variables by name (`config unset --env K`).
pub fn unset_envs(s: &mut ComponentSettings, names: &[String]) -> Result<(), ParamError> {
    let mut envs = s.envs.clone().unwrap_or_default();
    for name in names {
        let before = envs.len();
        envs.retain(|e| &e.name != name);
        if envs.len() == before {
            return Err(ParamError::NotSet(format!("env {name}")));
        }
    }
    s.envs = if envs.is_empty() { None } else { Some(envs) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_and_combined() {
        let mut s = ComponentSettings::default();
        set(&mut s, "memory", "512Mi", false).unwrap();
        assert_eq!(s.min_memory.as_deref(), Some("512Mi"));
        assert_eq!(s.max_memory.as_deref(), Some("512Mi"));
        assert_eq!(get(&s, "Memory").as_deref(), Some("512Mi"));
        set(&mut s, "PORTS", "8080,8443/udp", false).unwrap();
        assert_eq!(s.ports.clone().unwrap(), vec!["8080/TCP", "8443/UDP"]);
        unset(&mut s, "cpu").unwrap_err();
        unset(&mut s, "Memory").unwrap();
        assert!(s.min_memory.is_none());
    }

    #[test]
    fn overwrite_needs_force() {
        let mut s = ComponentSettings::default();
        set(&mut s, "Name", "web", false).unwrap();
        assert!(matches!(
            set(&mut s, "Name", "api", false),
            Err(ParamError::AlreadySet(_))
        ));
        set(&mut s, "Name", "api", true).unwrap();
        assert_eq!(s.name.as_deref(), Some("api"));
    }

    #[test]
    fn rejects_bad_values() {
        let mut s = ComponentSettings::default();
        assert!(matches!(
            set(&mut s, "Nope", "x", true),
            Err(ParamError::Unknown(_))
        ));
        assert!(set(&mut s, "Name", "Web", true).is_err());
        assert!(set(&mut s, "MinCPU", "lots", true).is_err());
        assert!(set(&mut s, "Ports", "80/http", true).is_err());
        assert!(set(&mut s, "Ignore", "maybe", true).is_err());
    }

    #[test]
    fn envs_replace_in_place() {
        let mut s = ComponentSettings::default();
        set_envs(&mut s, &["A=1".into(), "B=2".into()]).unwrap();
        set_envs(&mut s, &["A=3".into()]).unwrap();
        let envs = s.envs.clone().unwrap();
        assert_eq!((envs[0].name.as_str(), envs[0].value.as_str()), ("A", "3"));
        assert_eq!(envs.len(), 2);
        unset_envs(&mut s, &["A".into()]).unwrap();
        assert!(unset_envs(&mut s, &["A".into()]).is_err());
    }
}
