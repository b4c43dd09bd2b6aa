//! All integration tests, compiled into one binary.

#![allow(clippy::unwrap_used)]

mod cli;
mod cluster;
mod common;
mod custody;
mod durability;
mod incremental;
mod platform;
mod resolver;
mod scenario;
mod search;
mod server;
