//! `c360 token` and `c360 keygen`: credentials without a running server.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use c360_rpc::{Peer, Role, Sources};

use crate::auth::{self, Grants};

/// What a token may write, and which service holds it.
#[derive(Debug, clap::Args)]
pub struct GrantArgs {
    /// Source systems whose records the token may write (comma-separated,
    /// or `*` for any). Required for role `source`; on an app, steward or
    /// service token it grants writing records (otherwise they only look
    /// up, with dry runs).
    #[arg(long, value_parser = parse_sources)]
    sources: Option<Sources>,
    /// For a `service` token: the c360 service that presents it to its
    /// peers (resolver, vault, search, channels).
    #[arg(long)]
    peer: Option<Peer>,
}

fn parse_sources(text: &str) -> Result<Sources, String> {
    Sources::parse(text)
}

impl GrantArgs {
    fn grants(self) -> Grants {
        Grants {
            sources: self.sources.unwrap_or_default(),
            peer: self.peer,
        }
    }
}

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
        #[command(flatten)]
        grants: GrantArgs,
        #[arg(long, default_value = "./c360-data")]
        data_dir: PathBuf,
    },
    /// Read a token on stdin and print its tokens-file line (`name role
    /// sha256hex [sources=...] [peer=...]`), for a tokens file kept in a
    /// Secret. A chosen token needs at least 32 random characters.
    Hash {
        #[arg(long)]
        role: Role,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        grants: GrantArgs,
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
            grants,
            data_dir,
        } => {
            let token = auth::create_token(&data_dir, &name, role, &grants.grants())?;
            println!("{}", token.expose());
            eprintln!(
                "token {name:?} ({role}) created in {}; shown once, keep it safe",
                data_dir.join("tokens").display()
            );
        }
        TokenCommand::Hash { role, name, grants } => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the token on stdin")?;
            let token = auth::Secret::new(line.trim().to_string());
            anyhow::ensure!(!token.expose().is_empty(), "no token on stdin");
            auth::check_strength(token.expose(), "the token on stdin")?;
            let grants = grants.grants();
            grants.check(role)?;
            println!("{}", auth::token_line(&name, role, &grants, &token));
        }
    }
    Ok(())
}

/// Prints a new key-encryption keyring (for `C360_KEK` or a Secret).
pub fn keygen(id: &str) -> anyhow::Result<()> {
    print!("{}", c360_crypto::LocalKeyring::generate_text(id)?);
    Ok(())
}
