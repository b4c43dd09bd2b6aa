//! The c360 CLI, built inside the test crate for the integration tests.

fn main() -> std::process::ExitCode {
    c360::main_entry()
}
