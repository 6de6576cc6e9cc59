//! odo-sim: an in-memory Kubernetes API server and cluster simulator that real clients accept.
//!
//! Where to start:
//! - [`Sim`] builds a simulated cluster in-process; [`Sim::client`] gives a `kube::Client`
//!   that talks to it without a socket.
//! - [`server`] serves the same API over HTTP for `kubectl` and any other client
//!   (`odo-sim serve`).
//! - [`store`] holds every object: resourceVersions, watches, admission, cascading deletion
//!   and durability. [`api`] turns HTTP requests into store calls and store errors into
//!   `Status` objects. [`resources`] lists the served kinds.
//! - [`runtime`] is what runs inside containers: filesystems, volumes, the image catalogue and
//!   a shell.
//! - [`cluster`] runs the [`controllers`] and the [`kubelet`] on the virtual [`clock`];
//!   [`faults`] are injected with [`Sim::inject`], or into a served simulator through the
//!   [`admin`] endpoint (`odo-sim fault ...`).

pub mod admin;
pub mod api;
pub mod clock;
pub mod cluster;
pub mod controllers;
pub mod error;
pub mod faults;
pub(crate) mod json_build;
pub(crate) mod json_ptr;
pub mod kubelet;
pub(crate) mod lookup;
pub mod resources;
pub mod runtime;
pub mod server;
mod sim;
pub mod store;

pub use clock::TimeMode;
pub use error::{ApiError, ApiResult};
pub use faults::Fault;
pub use resources::Flavor;
pub use sim::{DEFAULT_SETTLE_HORIZON, Sim, SimBuilder};
