//! Which cluster a command talks to: a real one from KUBECONFIG / `~/.kube/config` (or in-cluster
//! credentials) when one is configured, otherwise the embedded simulator; `--cluster` overrides.
//! Also where the embedded simulator keeps its state. Pure functions over an environment view.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `--cluster` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClusterChoice {
    /// The embedded simulator.
    Sim,
    /// The cluster of the kubeconfig.
    Kube,
}

/// Env var naming the simulator's state directory.
pub const SIM_STATE_ENV: &str = "ODO_SIM_STATE";

/// Decides the backend. `var` reads an environment variable, `exists` checks a file.
pub fn choose(
    explicit: Option<ClusterChoice>,
    var: &dyn Fn(&str) -> Option<OsString>,
    exists: &dyn Fn(&Path) -> bool,
) -> ClusterChoice {
    if let Some(c) = explicit {
        return c;
    }
    if let Some(list) = var("KUBECONFIG").filter(|v| !v.is_empty())
        && std::env::split_paths(&list).any(|p| exists(&p))
    {
        return ClusterChoice::Kube;
    }
    if let Some(home) = var("HOME").filter(|v| !v.is_empty())
        && exists(&Path::new(&home).join(".kube").join("config"))
    {
        return ClusterChoice::Kube;
    }
    if var("KUBERNETES_SERVICE_HOST").is_some_and(|v| !v.is_empty()) {
        return ClusterChoice::Kube;
    }
    ClusterChoice::Sim
}

/// The embedded simulator's state directory: `$ODO_SIM_STATE`, else `$XDG_STATE_HOME/odo/sim`,
/// else `$HOME/.local/state/odo/sim`.
pub fn sim_state_dir(var: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(dir) = var(SIM_STATE_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Some(Path::new(&dir).join("odo").join("sim"));
    }
    var("HOME").filter(|v| !v.is_empty()).map(|h| {
        Path::new(&h)
            .join(".local")
            .join("state")
            .join("odo")
            .join("sim")
    })
}

/// `choose` over the process environment and file system.
pub fn choose_from_env(explicit: Option<ClusterChoice>) -> ClusterChoice {
    choose(explicit, &|k| std::env::var_os(k), &|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).map(OsString::from)
    }

    #[test]
    fn explicit_wins() {
        let e = env(&[("KUBECONFIG", "/k")]);
        assert_eq!(
            choose(Some(ClusterChoice::Sim), &e, &|_| true),
            ClusterChoice::Sim
        );
    }

    #[test]
    fn kubeconfig_only_when_a_file_exists() {
        let e = env(&[("KUBECONFIG", "/missing:/present"), ("HOME", "/h")]);
        assert_eq!(
            choose(None, &e, &|p| p == Path::new("/present")),
            ClusterChoice::Kube
        );
        assert_eq!(choose(None, &e, &|_| false), ClusterChoice::Sim);
    }

    #[test]
    fn home_kube_config_and_in_cluster() {
        let e = env(&[("HOME", "/h")]);
        assert_eq!(
            choose(None, &e, &|p| p == Path::new("/h/.kube/config")),
            ClusterChoice::Kube
        );
        assert_eq!(choose(None, &e, &|_| false), ClusterChoice::Sim);
        let e = env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")]);
        assert_eq!(choose(None, &e, &|_| false), ClusterChoice::Kube);
    }

    #[test]
    fn state_dir_precedence() {
        let e = env(&[
            ("ODO_SIM_STATE", "/s"),
            ("XDG_STATE_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(sim_state_dir(&e), Some(PathBuf::from("/s")));
        let e = env(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(sim_state_dir(&e), Some(PathBuf::from("/x/odo/sim")));
        let e = env(&[("HOME", "/h")]);
        assert_eq!(
            sim_state_dir(&e),
            Some(PathBuf::from("/h/.local/state/odo/sim"))
        );
        assert_eq!(sim_state_dir(&env(&[])), None);
    }
}
