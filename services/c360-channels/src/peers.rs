//! Channels' peers over gRPC, as the ports channels owns: the vault
//! ([`VaultPort`]) and the resolver ([`ResolverPort`]) reached through
//! their generated clients (another process, or the peer's generated
//! server in process), requests and answers converted here; and the
//! resolver's event feed read off the wire (as `c360_rpc::FeedEvent`s). A failed
//! call is an UNAVAILABLE error naming the call and its code (never a
//! value): [`vault_failed`] and [`client_answer`] say it for whoever
//! implements the ports.

use std::sync::Arc;

use c360_proto::resolver::v1 as rapi;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::vault::v1 as vault;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::{NumberIssuer, PeerChannel};

use crate::convert::{client_from_api, entry_from_api};
use crate::feed::ChannelsFeed;
use crate::ports::{
    ClientRecords, ConsentAnswer, ConsentCheck, ConsentEntry, PortFuture, ResolverPort, ToSeal,
    VaultPort, WITHDRAWAL_SOURCE, Withdrawal,
};
use crate::{ChannelsPeers, Error, Result};

impl ChannelsPeers {
    /// The vault and the resolver through their gRPC clients (in process or
    /// remote).
    pub fn over_grpc(
        vault: Option<VaultServiceClient<PeerChannel>>,
        resolver: Option<ResolverServiceClient<PeerChannel>>,
    ) -> Self {
        ChannelsPeers {
            vault: vault.map(|c| Arc::new(VaultOverGrpc::new(c)) as Arc<dyn VaultPort>),
            resolver: resolver.map(|c| Arc::new(ResolverOverGrpc::new(c)) as Arc<dyn ResolverPort>),
        }
    }
}

/// The vault calls of the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultCall {
    CheckConsents,
    Encrypt,
    RecordConsent,
}

/// The error a failed vault call is to channels (UNAVAILABLE: a decision
/// defers, a write is refused and retried).
pub fn vault_failed(call: VaultCall, status: &tonic::Status) -> Error {
    Error::Unavailable(match call {
        VaultCall::CheckConsents => format!("vault check consents: {}", status.code()),
        VaultCall::Encrypt => format!("vault encrypt: {}: {}", status.code(), status.message()),
        VaultCall::RecordConsent => format!("vault record consent: {}; retry", status.code()),
    })
}

/// The vault reached through its generated client.
#[derive(Debug, Clone)]
pub struct VaultOverGrpc {
    client: VaultServiceClient<PeerChannel>,
}

impl VaultOverGrpc {
    pub fn new(client: VaultServiceClient<PeerChannel>) -> Self {
        VaultOverGrpc { client }
    }
}

impl VaultPort for VaultOverGrpc {
    fn check_consents(&self, checks: Vec<ConsentCheck>) -> PortFuture<'_, Vec<ConsentAnswer>> {
        let mut client = self.client.clone();
        Box::pin(async move {
            let request = vault::CheckConsentsRequest {
                checks: checks
                    .into_iter()
                    .map(|c| vault::CheckConsentRequest {
                        client_number: c.client_number,
                        purpose: c.purpose,
                        channel: c.channel.as_str().to_string(),
                        at_unix_ms: c.at_ms,
                    })
                    .collect(),
            };
            let response = client
                .check_consents(request)
                .await
                .map_err(|s| vault_failed(VaultCall::CheckConsents, &s))?
                .into_inner();
            Ok(response
                .results
                .into_iter()
                .map(|r| ConsentAnswer {
                    allowed: r.allowed,
                    deciding_entry: r.deciding_entry.map(entry_from_api),
                    reason: r.reason,
                })
                .collect())
        })
    }

    fn seal(&self, values: Vec<ToSeal>) -> PortFuture<'_, Vec<Vec<u8>>> {
        let mut client = self.client.clone();
        Box::pin(async move {
            let fields = values
                .into_iter()
                .map(|v| vault::PlainField {
                    r#ref: Some(vault::FieldRef {
                        client_number: v.client_number,
                        record_id: v.record_id,
                        field: v.field,
                    }),
                    value: v.value,
                })
                .collect();
            Ok(client
                .encrypt(vault::EncryptRequest { fields })
                .await
                .map_err(|s| vault_failed(VaultCall::Encrypt, &s))?
                .into_inner()
                .ciphertexts)
        })
    }

    fn withdraw(&self, w: Withdrawal) -> PortFuture<'_, Option<ConsentEntry>> {
        let mut client = self.client.clone();
        Box::pin(async move {
            Ok(client
                .record_consent(withdrawal_request(w))
                .await
                .map_err(|s| vault_failed(VaultCall::RecordConsent, &s))?
                .into_inner()
                .entry
                .map(entry_from_api))
        })
    }
}

/// The vault's request recording a withdrawal (written by the channels
/// service, under the consent basis).
pub fn withdrawal_request(w: Withdrawal) -> vault::RecordConsentRequest {
    vault::RecordConsentRequest {
        client_number: w.client_number,
        purpose: w.purpose,
        channel: w.channel,
        decision: vault::ConsentDecision::Withdrawn as i32,
        lawful_basis: vault::LawfulBasis::Consent as i32,
        evidence_ref: w.evidence_ref,
        source_system: WITHDRAWAL_SOURCE.to_string(),
        notice_version: String::new(),
        captured_at_unix_ms: w.captured_at_ms,
        expires_at_unix_ms: 0,
        record_ids: w.record_ids,
    }
}

/// What a `GetClient` answer is to the feed: the client, none when it was
/// erased or is unknown since (its event follows), else the resolver is
/// unavailable.
pub fn client_answer(
    answer: std::result::Result<rapi::GetClientResponse, tonic::Status>,
) -> Result<Option<ClientRecords>> {
    match answer {
        Ok(c) => Ok(Some(client_from_api(c))),
        Err(s)
            if matches!(
                s.code(),
                tonic::Code::NotFound | tonic::Code::FailedPrecondition
            ) =>
        {
            Ok(None)
        }
        Err(s) => Err(Error::Unavailable(format!(
            "resolver get client: {}",
            s.code()
        ))),
    }
}

/// The resolver reached through its generated client.
#[derive(Debug, Clone)]
pub struct ResolverOverGrpc {
    client: ResolverServiceClient<PeerChannel>,
}

impl ResolverOverGrpc {
    pub fn new(client: ResolverServiceClient<PeerChannel>) -> Self {
        ResolverOverGrpc { client }
    }
}

impl ResolverPort for ResolverOverGrpc {
    fn client(&self, number: &str) -> PortFuture<'_, Option<ClientRecords>> {
        let mut client = self.client.clone();
        let request = rapi::GetClientRequest {
            client_number: number.to_string(),
            purpose: "contact_points".into(),
        };
        Box::pin(async move {
            client_answer(
                client
                    .get_client(request)
                    .await
                    .map(tonic::Response::into_inner),
            )
        })
    }

    fn issuer(&self) -> Arc<dyn NumberIssuer> {
        Arc::new(self.client.clone())
    }
}

/// Channels as a consumer of the resolver's feed: the wire's events read
/// as `c360_rpc::FeedEvent`s.
impl c360_rpc::FeedHandler for ChannelsFeed {
    fn applied(&self) -> u64 {
        self.service.registry.applied()
    }

    fn apply(&self, events: &[rapi::Event]) -> std::result::Result<(), String> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| "channels feed: no tokio runtime".to_string())?;
        handle
            .block_on(self.apply_async(&c360_rpc::feed_events(events)))
            .map_err(|e| e.to_string())
    }
}
