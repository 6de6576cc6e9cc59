//! runtime (public surface documented once the container module lands)
pub mod fs;
pub mod host;
pub mod io;
pub mod process;
pub mod programs;
pub mod shell;
