//! The `odo-sim` binary.

fn main() {
    println!("odo-sim {}", env!("CARGO_PKG_VERSION"));
}
