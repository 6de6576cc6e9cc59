//! odo: the developer CLI for Kubernetes and OpenShift.
//!
//! Start at `DESIGN.md` for the data flow of `odo push`. The simulator that makes this crate
//! testable lives in the `odo-sim` crate.
//!
//! - [`cli`]: the command tree and output.
//! - [`cluster`]: connection, apply, prune, wait, exec and logs through kube-rs.
//! - [`catalog`]: the builder images and how component types resolve.
//! - [`config`]: `.odo/config.yaml` and `~/.odo/preference.yaml`, validation, atomic writes.
//! - [`manifests`]: pure rendering of the Kubernetes/OpenShift objects of a component.
//! - [`push`]: `odo push` and the other cluster-side component commands; [`push_sync`] plugs
//!   the indexer and sync into it.
//! - [`error`]: the error every command returns.
//! - [`indexer`]: which files changed since the last push (`.odo/odo-file-index.json`).
//! - [`sync`]: one streamed tar of the changes into the container, deletions, the new index.
//! - [`watch`]: `odo watch`: debounced file events driving pushes.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod catalog;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod error;
pub mod indexer;
pub mod manifests;
pub mod push;
mod push_built;
pub mod push_sync;
pub mod sync;
pub mod watch;
