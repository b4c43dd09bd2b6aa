//! All integration tests, compiled into one binary.

mod cli;
mod common;
mod durability;
mod incremental;
mod resolver;
mod server;
