//! The `c360` command line, as a library so the integration tests can run
//! the very same code as a process of their own.

use std::process::ExitCode;

use clap::Parser;

pub mod auth;
pub mod bootstrap;
pub mod cmd;
pub mod config;
pub mod deadline;
pub mod in_process;
pub mod methods;
pub mod metrics;
pub mod private;
pub mod serve;
pub mod streams;
pub mod telemetry;

/// Parses the process arguments and runs the command.
pub fn main_entry() -> ExitCode {
    let cli = cmd::Cli::parse();
    if !cli.serves() {
        // Rust ignores SIGPIPE, so `c360 review list | head` would panic on
        // the closed pipe; a command-line tool should just stop.
        sigpipe::reset();
    }
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
