//! All integration tests, compiled into one binary.

#![allow(clippy::unwrap_used)]

mod channels;
mod cli;
mod cluster;
mod common;
mod durability;
mod incremental;
mod platform;
mod resolver;
mod scenario;
mod search;
mod server;
mod vault;
