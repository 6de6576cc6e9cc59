//! odo: the developer CLI for Kubernetes and OpenShift.
//!
//! Start at `DESIGN.md` for the data flow of `odo push`. The simulator that makes this crate
//! testable lives in the `odo-sim` crate.

pub mod indexer;
pub mod sync;
pub mod watch;
