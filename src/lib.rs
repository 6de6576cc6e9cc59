//! odo: the developer CLI for Kubernetes and OpenShift.
//!
//! Start at `DESIGN.md` for the data flow of `odo push`. The simulator that makes this crate
//! testable lives in the `odo-sim` crate.
//!
//! - [`catalog`]: the builder images and how component types resolve.
//! - [`config`]: `.odo/config.yaml` and `~/.odo/preference.yaml`, validation, atomic writes.
//! - [`manifests`]: pure rendering of the Kubernetes/OpenShift objects of a component.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod catalog;
pub mod config;
pub mod manifests;
