//! The `odo` binary.

fn main() -> std::process::ExitCode {
    odo::cli::main()
}
