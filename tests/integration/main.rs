//! All integration tests, compiled into one binary.

mod cli;
mod common;
mod resolver;
mod server;
