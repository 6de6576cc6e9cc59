//! Test support shared by the odo CLI tests that run the real binary.

#![allow(dead_code)] // each test binary uses a different part of this module
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the odo binary in `dir/app` with a clean environment: `dir/home` as HOME,
/// `dir/preference.yaml` as the global config, and `kubeconfig` as KUBECONFIG.
pub fn odo(dir: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_odo"))
        .args(args)
        .current_dir(dir.join("app"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.join("home"))
        .env("GLOBALODOCONFIG", dir.join("preference.yaml"))
        .env("KUBECONFIG", kubeconfig)
        .output()
        .unwrap()
}
