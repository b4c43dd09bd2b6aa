use clap::{Parser, Subcommand};

mod dedupe;
mod eval;
mod gen_cmd;
mod privacy;
mod progress;
mod quality;
mod quickstart;
pub(crate) mod remote;
mod search;
mod token;
mod train;
mod vault;

/// c360: one stable client number per person, from messy records.
#[derive(Debug, Parser)]
#[command(name = "c360", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the platform with demo data and walk through it (start here).
    Quickstart(quickstart::Args),
    /// Deduplicate a CSV file: one client id per input record.
    Dedupe(dedupe::Args),
    /// Compare a predicted clustering with the truth.
    Eval(eval::Args),
    /// Profile a CSV source: fill rates, formats, unusable values, and the
    /// weights the matching model learns from it.
    Profile(dedupe::ProfileArgs),
    /// The matching settings: check a file, or print every key (`--dump`).
    Settings(dedupe::SettingsArgs),
    /// Deduplicate a CSV file with a model taught by steward labels (a file
    /// of labelled pairs): the model version with and without them.
    Train(train::TrainArgs),
    /// Re-estimate a running resolver's model from its records and every
    /// steward decision (admin).
    Retrain(train::RetrainArgs),
    /// Generate realistic microfinance records with their truth (seeded).
    Gen(gen_cmd::Args),
    /// Serve the gRPC services on embedded storage.
    Serve(crate::serve::Args),
    /// Send a CSV file of records to a running server.
    Ingest(remote::IngestArgs),
    /// Look at, merge or split clients on a running server.
    Client(remote::ClientArgs),
    /// Values kept but flagged as unusable, per source system and field, on
    /// a running server.
    Quality(quality::QualityArgs),
    /// The steward review queue of a running server.
    Review(remote::ReviewArgs),
    /// The consent ledger of a running server: record, check, show, verify, export.
    Consent(privacy::ConsentArgs),
    /// Erase a client everywhere (refused under a legal hold).
    Erase(privacy::EraseArgs),
    /// Contact decisions and touches on a running server.
    Contact(privacy::ContactArgs),
    /// Personal data in the vault: reads, lookups, tokens, the access log,
    /// legal holds, exports, key rotation.
    Vault(vault::VaultArgs),
    /// Search clients on a running server (`reindex` rebuilds the index).
    Search(search::SearchArgs),
    /// Mint API tokens or hash one for a tokens file.
    Token(token::TokenArgs),
    /// Print a new key-encryption keyring.
    Keygen {
        /// Id of the key in the keyring.
        #[arg(long, default_value = "kek-1")]
        id: String,
    },
}

impl Cli {
    /// Whether the command runs a server, which must survive a closed
    /// pipe; the others end quietly when their reader goes (`| head`).
    pub fn serves(&self) -> bool {
        matches!(self.command, Command::Serve(_) | Command::Quickstart(_))
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Quickstart(args) => quickstart::run(args),
        Command::Dedupe(args) => dedupe::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Profile(args) => dedupe::profile(args),
        Command::Settings(args) => dedupe::settings(args),
        Command::Train(args) => train::train(args),
        Command::Retrain(args) => train::retrain(args),
        Command::Gen(args) => gen_cmd::run(args),
        Command::Serve(args) => crate::serve::command(args),
        Command::Ingest(args) => remote::ingest(args),
        Command::Client(args) => remote::client(args),
        Command::Quality(args) => quality::run(args),
        Command::Review(args) => remote::review(args),
        Command::Consent(args) => privacy::consent(args),
        Command::Erase(args) => privacy::erase(args),
        Command::Contact(args) => privacy::contact(args),
        Command::Search(args) => search::run(args),
        Command::Vault(args) => vault::run(args),
        Command::Token(args) => token::run(args),
        Command::Keygen { id } => token::keygen(&id),
    }
}
