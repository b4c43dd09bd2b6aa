//! All integration tests, compiled into one binary.

#![allow(clippy::unwrap_used)]

mod cli;
mod cluster;
mod common;
mod compat;
mod consent;
mod custody;
mod durability;
mod edges;
mod incremental;
mod platform;
mod protocol;
mod quality;
mod resolver;
mod roles;
mod scenario;
mod search;
mod server;
mod teach;
