//! e2e: scenarios written once, run on the simulator and on kind.
//!
//! - [`backend`]: where scenarios run ([`backend::Backend`]; the simulator, kind, any
//!   kubeconfig).
//! - [`harness`]: running one scenario (namespace, capability check, trace, cleanup).
//! - [`scenarios`]: the scenarios themselves, listed by [`scenarios::all`].
//! - [`trace`]: the observable traces and their comparison across backends.
//! - [`odo`]: the odo operations the odo scenarios drive; [`driver`] implements them over the
//!   odo crate.

pub mod backend;
pub mod driver;
pub mod harness;
pub mod odo;
pub mod scenarios;
pub mod trace;

use std::path::PathBuf;

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}
