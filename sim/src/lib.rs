//! odo-sim: an in-memory Kubernetes API server and cluster simulator.
pub mod runtime;
