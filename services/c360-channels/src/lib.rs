//! The contact-channel registry (`c360.channels.v1.ChannelService`).
//!
//! Downstream systems ask before every outbound touch "may I contact client
//! X, for purpose P, now, and on which channel?" and get one answer (ALLOW
//! with the channel and contact point, DENY, or DEFER with the time it
//! becomes allowed) and a receipt naming every rule evaluated and the one
//! that decided. Everything fails closed.
//!
//! - [`decide`]: the pure decision (policy, client state, consent answers,
//!   time in; decision and receipt out), every rule unit-tested.
//! - [`policy`]: the contact policy file (`policy.example.toml`, also the
//!   built-in default).
//! - `registry`: client states in memory, persisted in one durable batch
//!   per write; `feed`: follows the resolver's event feed (merges, splits,
//!   erasures) with the offset in the same batch.
//! - `service`: gathers inputs (consent answers and sealed values from the
//!   vault through [`ports::VaultPort`]; records and issued numbers from
//!   the resolver through [`ports::ResolverPort`]).
//! - The edges, the only modules that name generated types or tonic:
//!   [`grpc`], the thin tonic adapter with role checks; [`peers`], the
//!   ports over the peers' gRPC clients and the feed read off the wire;
//!   [`convert`], generated ↔ domain types. In one process the `c360`
//!   binary implements the ports over the peers' domains.
//!
//! Contact point values are never stored in clear: the vault seals them
//! (bound to client, point id and field); the registry keeps the sealed
//! form, a blind-index tag (HMAC under an index key wrapped by the KEK, to
//! spot a phone shared by several clients) and a mask.

use std::path::PathBuf;
use std::sync::Arc;

use c360_crypto::KekProvider;
use c360_storage::{ServiceStorage, StorageConfig, Store};
use serde::{Deserialize, Serialize};

pub mod convert;
pub mod decide;
mod error;
mod feed;
pub mod grpc;
pub mod model;
pub mod peers;
pub mod policy;
pub mod ports;
mod registry;
pub mod sector;
mod service;
#[doc(hidden)]
pub mod testing;
mod value;
mod zone;

pub use error::{Error, Result};
pub use feed::ChannelsFeed;
pub use grpc::ChannelsGrpc;
pub use model::Channel;
pub use policy::Policy;
pub use ports::{ResolverPort, VaultPort};
pub use registry::SPACES;

/// What the channels service stores, for `c360_storage::open`.
pub const STORAGE: ServiceStorage = ServiceStorage {
    name: "channels",
    spaces: SPACES,
};

/// Configuration of the channels service (`[channels]` in the server's
/// file). The contact rules themselves are in the policy file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    /// The contact policy (TOML, see `policy.example.toml`); unset: the
    /// built-in default policy.
    pub policy_file: Option<PathBuf>,
    /// Country (ISO 3166 alpha-2) whose numbering plan reads phone numbers
    /// written without an international prefix.
    pub default_country: String,
    /// The channels each phone number read from a resolver record becomes a
    /// contact point for.
    pub feed_phone_channels: Vec<Channel>,
    /// Source systems whose records are interactions (transactions,
    /// tickets): a client with such a record is traceable (sectors).
    pub transaction_sources: Vec<String>,
    /// How long a call to the vault may take before the decision fails
    /// closed (DEFER) or the write fails (UNAVAILABLE).
    pub vault_timeout_ms: u64,
    /// Largest MayContactBatch accepted.
    pub max_batch_requests: usize,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        ChannelsConfig {
            policy_file: None,
            default_country: "CI".to_string(),
            feed_phone_channels: vec![Channel::Sms, Channel::Voice],
            transaction_sources: vec![
                "core_banking".to_string(),
                "mobile_money".to_string(),
                "loan_origination".to_string(),
            ],
            vault_timeout_ms: 1_000,
            max_batch_requests: 1_000,
        }
    }
}

/// The peers the channels service calls, through the ports it owns (over
/// gRPC: [`ChannelsPeers::over_grpc`]; in one process the `c360` binary
/// answers them with the peers' domains).
#[derive(Clone, Default)]
pub struct ChannelsPeers {
    /// Consent checks, opt-out withdrawals, sealing of values. Without it
    /// every decision defers and every write of a value fails.
    pub vault: Option<Arc<dyn VaultPort>>,
    /// Clients' records for the feed handler (phones and e-mails), and
    /// whether a client number was issued. Without it the feed cannot add
    /// contact points and every write naming a number is refused.
    pub resolver: Option<Arc<dyn ResolverPort>>,
}

impl std::fmt::Debug for ChannelsPeers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelsPeers")
            .field("vault", &self.vault.is_some())
            .field("resolver", &self.resolver.is_some())
            .finish()
    }
}

/// The channels service: open it, serve [`Channels::grpc`], and follow the
/// resolver's feed into [`Channels::feed_handler`].
#[derive(Debug, Clone)]
pub struct Channels {
    service: Arc<service::Service>,
}

impl Channels {
    /// Opens (or creates) the registry's store as `storage` says
    /// (`c360_storage::open`).
    pub fn open(
        storage: &StorageConfig,
        config: ChannelsConfig,
        kek: Arc<dyn KekProvider>,
        peers: ChannelsPeers,
    ) -> Result<Channels> {
        let store = c360_storage::open(storage, &STORAGE)?;
        Self::open_store(store, config, kek, peers)
    }

    /// Opens over any [`Store`] (tests use `MemoryStore`).
    pub fn open_store(
        store: Arc<dyn Store>,
        config: ChannelsConfig,
        kek: Arc<dyn KekProvider>,
        peers: ChannelsPeers,
    ) -> Result<Channels> {
        let policy = match &config.policy_file {
            Some(path) => Policy::load(path)?,
            None => Policy::default(),
        };
        let phones = c360_standardise::phone::Phones::new(&config.default_country)
            .map_err(|e| Error::Config(format!("default_country: {e}")))?;
        let registry = registry::Registry::open(store, kek.as_ref(), Arc::new(policy))?;
        Ok(Channels {
            service: Arc::new(service::Service {
                registry,
                config,
                phones,
                vault: peers.vault,
                resolver: peers.resolver,
            }),
        })
    }

    pub fn feed_handler(&self) -> Arc<dyn c360_rpc::FeedHandler> {
        Arc::new(ChannelsFeed {
            service: self.service.clone(),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        self.service.policy()
    }

    /// Number of clients known (after merges and erasures).
    pub fn client_count(&self) -> usize {
        self.service.registry.client_count()
    }
}

#[cfg(test)]
mod tests;
