//! Benchmarks of the search service (being built).
fn main() {}
