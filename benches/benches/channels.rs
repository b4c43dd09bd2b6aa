//! Benchmarks of the channels service (being built).
fn main() {}
