//! The `odo` binary.

fn main() {
    println!("odo {}", env!("CARGO_PKG_VERSION"));
}
