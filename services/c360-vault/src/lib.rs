//! The consent and privacy vault (`c360.vault.v1`).
//!
//! - **Key custody**: a data key per client (AES-256-GCM, `c360-crypto`),
//!   stored wrapped by the key-encryption key, cached with a bounded
//!   lifetime; every field is encrypted on its own, bound to (client,
//!   record, field). [`Vault::rotate_kek`] re-wraps keys, never data.
//! - **Consent ledger** ([`ledger`]): append-only, hash-chained (SHA-256),
//!   no personal data; checks fail closed; a withdrawal recorded later is
//!   never overtaken by a grant recorded earlier. Merges and splits from
//!   the resolver's feed move entries with the records they were recorded
//!   for ([`consent`]).
//! - **Purpose-bound access** ([`policy`]): role × field × purpose → clear,
//!   masked or denied; consent-based purposes need a valid consent; every
//!   access is logged.
//! - **Tokens, blind indexes, legal holds, erasure, subject export.**
//!
//! The domain type is [`Vault`] (`vault.rs` and `vault/`, with `consent`,
//! `ledger`, `policy`), which names no generated type and no tonic. The
//! edges do: [`grpc`], the thin tonic adapter ([`Error`] maps once to gRPC
//! codes); [`peers`], the resolver port over gRPC and the feed read off
//! the wire; [`custody`], the vault's key custody as another process
//! reaches it over gRPC.

mod config;
pub mod consent;
pub mod custody;
mod error;
pub mod grpc;
pub mod ledger;
pub mod peers;
pub mod policy;
mod vault;

use std::sync::Arc;

pub use config::VaultConfig;
pub use custody::RemoteCustodian;
pub use error::{Error, Result};
pub use grpc::VaultGrpc;
pub use peers::ResolverPeer;
pub use vault::{
    AccessQuery, AccessRecord, CheckInput, CheckOutcome, ConsentInput, ConsentsView, EraseOutcome,
    ExportFormat, FieldRef, FieldResult, LegalHold, MAX_TARGETS, PROFILE_RECORD, Plain, ReadGrant,
    ReadOutcome, Resolver, RotateOutcome, STORAGE, Vault, VaultCustodian, VaultPeers, VerifyReport,
};

impl Vault {
    /// The vault as a consumer of the resolver's event feed (merges, splits,
    /// erasures), for `c360_rpc::follow_feed`.
    pub fn feed_handler(&self) -> Arc<dyn c360_rpc::FeedHandler> {
        Arc::new(peers::VaultFeed(self.clone()))
    }
}

#[cfg(test)]
mod tests;
