//! The `c360` binary: a thin wrapper over the library.

fn main() -> std::process::ExitCode {
    c360::main_entry()
}
