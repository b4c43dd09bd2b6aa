//! All integration tests, compiled into one binary.

#![allow(clippy::unwrap_used)]

mod cli;
mod common;
mod durability;
mod incremental;
mod resolver;
mod server;
