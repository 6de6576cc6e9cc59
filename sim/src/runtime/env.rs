//! A container's environment from its spec: `envFrom` (ConfigMaps, Secrets, with prefix) then
//! `env` (values, `$(VAR)` references, configMapKeyRef, secretKeyRef, fieldRef,
//! resourceFieldRef), resolved from plain data the kubelet read from the API.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;

use super::container::expand_k8s_refs;
use super::volumes::VolumeData;

/// Why a container's environment cannot be built (`CreateContainerConfigError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A referenced ConfigMap or Secret does not exist and is not optional.
    #[error("{kind} \"{name}\" not found")]
    MissingObject {
        /// `configmap` or `secret`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A `resourceFieldRef` whose value cannot be worked out.
    #[error("env {var}: {reason}")]
    Resource {
        /// The variable.
        var: String,
        /// Why.
        reason: String,
    },
    /// A referenced key does not exist and is not optional.
    #[error("couldn't find key {key} in {kind} {name}")]
    MissingKey {
        /// `ConfigMap` or `Secret`.
        kind: &'static str,
        /// Object name.
        name: String,
        /// The key.
        key: String,
    },
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// Resolves `c.envFrom` and `c.env` in Kubernetes order; later entries override earlier ones,
/// and `$(VAR)` in values refers to variables defined before.
pub fn resolve_env(c: &Container, data: &VolumeData) -> Result<Vec<(String, String)>, EnvError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let set = |out: &mut Vec<(String, String)>, k: String, v: String| match out
        .iter_mut()
        .find(|(n, _)| *n == k)
    {
        Some(e) => e.1 = v,
        None => out.push((k, v)),
    };
    for src in c.env_from.iter().flatten() {
        let prefix = src.prefix.clone().unwrap_or_default();
        let (kind, name, optional, source) = if let Some(cm) = &src.config_map_ref {
            (
                "configmap",
                cm.name.clone(),
                cm.optional.unwrap_or(false),
                data.config_maps.get(&cm.name),
            )
        } else if let Some(s) = &src.secret_ref {
            (
                "secret",
                s.name.clone(),
                s.optional.unwrap_or(false),
                data.secrets.get(&s.name),
            )
        } else {
            continue;
        };
        match source {
            Some(map) => {
                for (k, v) in map {
                    set(&mut out, format!("{prefix}{k}"), text(v));
                }
            }
            None if optional => {}
            None => return Err(EnvError::MissingObject { kind, name }),
        }
    }
    for e in c.env.iter().flatten() {
        let defined: BTreeMap<String, String> = out.iter().cloned().collect();
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) => expand_k8s_refs(v, &defined),
            (None, Some(from)) => {
                let lookup = |kind: &'static str,
                              objects: &BTreeMap<String, BTreeMap<String, Vec<u8>>>,
                              name: &str,
                              key: &str,
                              optional: bool|
                 -> Result<Option<String>, EnvError> {
                    match objects.get(name).map(|m| m.get(key)) {
                        Some(Some(v)) => Ok(Some(text(v))),
                        _ if optional => Ok(None),
                        None => Err(EnvError::MissingObject {
                            kind: if kind == "ConfigMap" {
                                "configmap"
                            } else {
                                "secret"
                            },
                            name: name.to_string(),
                        }),
                        Some(None) => Err(EnvError::MissingKey {
                            kind,
                            name: name.to_string(),
                            key: key.to_string(),
                        }),
                    }
                };
                let v = if let Some(r) = &from.config_map_key_ref {
                    lookup(
                        "ConfigMap",
                        &data.config_maps,
                        &r.name,
                        &r.key,
                        r.optional.unwrap_or(false),
                    )?
                } else if let Some(r) = &from.secret_key_ref {
                    lookup(
                        "Secret",
                        &data.secrets,
                        &r.name,
                        &r.key,
                        r.optional.unwrap_or(false),
                    )?
                } else if let Some(f) = &from.field_ref {
                    Some(data.fields.get(&f.field_path).cloned().unwrap_or_default())
                } else if let Some(r) = &from.resource_field_ref {
                    // Without a container name, the value is this container's.
                    let container = r
                        .container_name
                        .as_deref()
                        .filter(|n| !n.is_empty())
                        .unwrap_or(&c.name);
                    let v = data
                        .resources
                        .value(
                            container,
                            &r.resource,
                            r.divisor.as_ref().map(|d| d.0.as_str()),
                        )
                        .map_err(|reason| EnvError::Resource {
                            var: e.name.clone(),
                            reason: reason.to_string(),
                        })?;
                    Some(v)
                } else {
                    Some(String::new())
                };
                match v {
                    Some(v) => v,
                    None => continue,
                }
            }
            (None, None) => String::new(),
        };
        set(&mut out, e.name.clone(), value);
    }
    Ok(out)
}
