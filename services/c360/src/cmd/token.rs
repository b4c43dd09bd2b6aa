//! `c360 token` and `c360 keygen`: credentials without a running server.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use c360_rpc::Role;

use crate::auth;

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Mint a token in the data directory's token list and print it once.
    Create {
        /// admin, steward, compliance, app, source or service.
        #[arg(long)]
        role: Role,
        /// A name for the holder (shown in logs and audit trails).
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "./c360-data")]
        data_dir: PathBuf,
    },
    /// Read a token on stdin and print its `name role sha256hex` line, for a
    /// tokens file kept in a Secret.
    Hash {
        #[arg(long)]
        role: Role,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    match args.command {
        TokenCommand::Create {
            role,
            name,
            data_dir,
        } => {
            let token = auth::create_token(&data_dir, &name, role)?;
            println!("{}", token.expose());
            eprintln!(
                "token {name:?} ({role}) created in {}; shown once, keep it safe",
                data_dir.join("tokens").display()
            );
        }
        TokenCommand::Hash { role, name } => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the token on stdin")?;
            let token = auth::Secret::new(line.trim().to_string());
            anyhow::ensure!(!token.expose().is_empty(), "no token on stdin");
            println!("{}", auth::token_line(&name, role, &token));
        }
    }
    Ok(())
}

/// Prints a new key-encryption keyring (for `C360_KEK` or a Secret).
pub fn keygen(id: &str) -> anyhow::Result<()> {
    print!("{}", c360_crypto::LocalKeyring::generate_text(id)?);
    Ok(())
}
