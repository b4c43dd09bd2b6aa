//! A real `c360 serve` process for the outside-client benchmarks: started
//! from a release binary, found by its "listening" line, stopped with
//! SIGTERM or killed with SIGKILL.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The admin token the benchmark servers accept.
pub const ADMIN_TOKEN: &str = "c360_outside-bench-admin-token-0123456789";

/// The `c360` release binary: `C360_BIN`, else `<target>/release/c360`
/// (build it first: `cargo build --release -p c360`).
pub fn c360_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("C360_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_file("target"));
    let bin = target.join("release/c360");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p c360` first, or set C360_BIN",
        bin.display()
    );
    bin
}

/// A running server.
#[derive(Debug)]
pub struct ServerProcess {
    pub child: Child,
    pub addr: String,
}

impl ServerProcess {
    /// Starts `c360 serve --services resolver` on `dir`, pinned to the CPUs
    /// in `C360_BENCH_SERVER_CPUS` (e.g. `0`) with taskset when set.
    pub fn start(dir: &Path, keyring: &str) -> ServerProcess {
        let bin = c360_bin();
        let mut cmd = match std::env::var("C360_BENCH_SERVER_CPUS") {
            Ok(cpus) if !cpus.is_empty() => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpus]).arg(&bin);
                c
            }
            _ => Command::new(&bin),
        };
        let mut child = cmd
            .args(["serve", "--services", "resolver", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir)
            .env("C360_KEK", keyring)
            .env("C360_BOOTSTRAP_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("C360__LIMITS__REQUESTS_PER_SECOND_PER_CALLER", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("c360 serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("listening line");
        let addr = line
            .strip_prefix("c360 listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        ServerProcess { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGTERM, then wait: a clean shutdown.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
