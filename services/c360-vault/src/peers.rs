//! The vault's peers over the wire: the resolver reached through its gRPC
//! client (the [`Resolver`] port the domain owns), and its event feed
//! read as `c360_rpc::FeedEvent`s for the domain.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use c360_proto::resolver::v1 as rapi;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_rpc::{NumberIssuer, PeerChannel};

use crate::vault::Resolver;
use crate::{Result, Vault, VaultPeers};

/// The resolver over gRPC.
#[derive(Clone, Debug)]
pub struct ResolverPeer {
    client: ResolverServiceClient<PeerChannel>,
}

impl ResolverPeer {
    pub fn new(client: ResolverServiceClient<PeerChannel>) -> Self {
        ResolverPeer { client }
    }
}

impl Resolver for ResolverPeer {
    fn erase<'a>(
        &'a self,
        number: &'a str,
        reason: &'a str,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        let mut client = self.client.clone();
        let request = rapi::EraseClientRequest {
            client_number: number.to_string(),
            reason: reason.to_string(),
        };
        Box::pin(async move {
            match client.erase_client(request).await {
                Ok(_) => true,
                // Unknown to the resolver (a vault-only number) or already
                // erased there: nothing left to do.
                Err(s) => matches!(
                    s.code(),
                    tonic::Code::NotFound | tonic::Code::FailedPrecondition
                ),
            }
        })
    }

    fn issuer(&self) -> Arc<dyn NumberIssuer> {
        Arc::new(self.client.clone())
    }
}

impl VaultPeers {
    /// The peers with the resolver over gRPC, when there is one.
    pub fn over_grpc(resolver: Option<ResolverServiceClient<PeerChannel>>) -> Self {
        VaultPeers {
            resolver: resolver.map(|c| Arc::new(ResolverPeer::new(c)) as Arc<dyn Resolver>),
        }
    }
}

impl Vault {
    /// Applies the resolver's events as they come off the wire (one durable
    /// write with the checkpoint).
    pub fn apply_events(&self, events: &[rapi::Event]) -> Result<()> {
        self.apply_feed(&c360_rpc::feed_events(events))
    }
}

/// The vault as a consumer of the resolver's feed; the checkpoint is stored
/// in the same batch as the effects of the events.
#[derive(Debug)]
pub(crate) struct VaultFeed(pub(crate) Vault);

impl c360_rpc::FeedHandler for VaultFeed {
    fn applied(&self) -> u64 {
        self.0.applied()
    }

    fn apply(&self, events: &[rapi::Event]) -> std::result::Result<(), String> {
        self.0.apply_events(events).map_err(|e| e.to_string())
    }
}
