//! Benchmarks of the vault service (being built).
fn main() {}
