//! Ports a service owns, implemented by a peer's domain when both run in
//! this process: no gRPC in between (across processes the service's own
//! gRPC implementation of the port is used). Each answers as the peer's
//! gRPC service answers the caller's peer identity: the same checks, the
//! same answers (converted by the same edge functions), the same errors.
//!
//! - search's [`GoldenSource`]: [`ResolverGolden`];
//! - the vault's `Resolver` (erasure, issued numbers): [`ResolverForVault`];
//! - channels' `VaultPort` (consent, withdrawals, sealing):
//!   [`VaultForChannels`]; its `ResolverPort` (the feed's reads, issued
//!   numbers): [`ResolverForChannels`];
//! - `c360_rpc::IssuedNumbers` everywhere: [`LocalResolver`].

use std::sync::{Arc, OnceLock};

use c360_channels::peers::{VaultCall, vault_failed};
use c360_channels::ports::{
    ClientRecords, ConsentAnswer, ConsentCheck, ConsentEntry, PortFuture, ResolverPort, ToSeal,
    VaultPort, Withdrawal,
};
use c360_resolver::{NumberState, Resolver};
use c360_rpc::{
    ErrorKind, IssuedNumbers, Lookup, LookupError, LookupFuture, NumberIssuer, NumberStatus,
    ServiceError,
};
use c360_search::{Fetched, GoldenSource};
use c360_vault::{CheckInput, FieldRef, Plain, Vault};

/// Search's golden records read from the resolver's domain. What search
/// indexes is what the resolver's `GetClient` answers a peer (every value
/// in clear, unlogged: processing inside the platform).
#[derive(Debug, Clone)]
pub struct ResolverGolden(pub Arc<Resolver>);

impl GoldenSource for ResolverGolden {
    fn fetch(&self, numbers: &[String]) -> c360_search::Result<Vec<Fetched>> {
        numbers
            .iter()
            .map(|number| match self.0.get_client(number) {
                Ok(client) => {
                    let doc =
                        c360_search::client_doc(&c360_resolver::convert::client_to_proto(&client));
                    Ok(if client.number.to_string() == *number {
                        Fetched::Current(doc)
                    } else {
                        Fetched::Moved(doc)
                    })
                }
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(Fetched::Gone),
                Err(e) => Err(c360_search::Error::Unavailable(format!(
                    "GetClient: {}",
                    c360_rpc::status_of(&e).code()
                ))),
            })
            .collect()
    }
}

/// The resolver's domain in this process, bound once it is open (the
/// vault opens first: it holds the keys the resolver reads its records
/// with). Cheap to clone; every clone sees the binding.
#[derive(Debug, Clone, Default)]
pub struct LocalResolver(Arc<OnceLock<Arc<Resolver>>>);

impl LocalResolver {
    /// Already open.
    pub fn open(resolver: Arc<Resolver>) -> Self {
        let local = LocalResolver::default();
        local.bind(resolver);
        local
    }

    /// Binds the resolver, once open.
    pub fn bind(&self, resolver: Arc<Resolver>) {
        // Bound once; a second open resolver is never made.
        let _bound = self.0.set(resolver);
    }

    fn get(&self) -> Option<Arc<Resolver>> {
        self.0.get().cloned()
    }
}

/// The issuer of client numbers is the resolver's domain: what its
/// `LookupNumbers` answers, with a malformed number said as such and any
/// other failure as unavailable (as over gRPC).
impl NumberIssuer for LocalResolver {
    fn lookup(&self, numbers: Vec<String>) -> LookupFuture<'_> {
        let bound = self.get();
        Box::pin(async move {
            let Some(resolver) = bound else {
                return Err(LookupError::Unavailable(
                    "the resolver is not open yet".to_string(),
                ));
            };
            let looked = tokio::task::spawn_blocking(move || resolver.lookup_numbers(&numbers))
                .await
                .map_err(|e| LookupError::Unavailable(format!("task failed: {e}")))?;
            match looked {
                Ok((states, feed_offset)) => Ok(Lookup {
                    statuses: states
                        .iter()
                        .map(|s| match s {
                            NumberState::Unknown => NumberStatus::Unknown,
                            NumberState::Active(_) => NumberStatus::Active,
                            NumberState::Erased => NumberStatus::Erased,
                        })
                        .collect(),
                    feed_offset,
                }),
                Err(e) if matches!(e.kind(), ErrorKind::InvalidArgument { .. }) => {
                    Err(LookupError::Malformed)
                }
                Err(e) => Err(LookupError::Unavailable(
                    c360_rpc::status_of(&e).message().to_string(),
                )),
            }
        })
    }
}

/// The vault's resolver port, answered by the resolver's domain in this
/// process once it is open. Until then an erasure is not confirmed, and
/// the vault retries it, as with a peer that is not up; and no number can
/// be confirmed as issued (writes naming one are refused as UNAVAILABLE).
#[derive(Debug, Clone, Default)]
pub struct ResolverForVault(pub LocalResolver);

impl c360_vault::Resolver for ResolverForVault {
    fn erase<'a>(
        &'a self,
        number: &'a str,
        reason: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        let bound = self.0.get();
        let (number, reason) = (number.to_string(), reason.to_string());
        Box::pin(async move {
            let Some(resolver) = bound else {
                return false;
            };
            // The actor the resolver records, as when the vault calls it
            // over gRPC as its peer identity.
            let actor = c360_rpc::Caller::peer(c360_rpc::Peer::Vault).id;
            let erased =
                tokio::task::spawn_blocking(move || resolver.erase(&number, &actor, &reason)).await;
            match erased {
                Ok(Ok(_)) => true,
                // Unknown to the resolver (a vault-only number) or already
                // erased there: nothing left to do.
                Ok(Err(e)) => matches!(
                    e.kind(),
                    ErrorKind::NotFound | ErrorKind::FailedPrecondition
                ),
                Err(_) => false,
            }
        })
    }

    fn issuer(&self) -> Arc<dyn NumberIssuer> {
        Arc::new(self.0.clone())
    }
}

/// Channels' resolver port answered by the resolver's domain: a client as
/// the resolver's `GetClient` answers a peer (every value in clear,
/// unlogged), and its issued numbers.
#[derive(Debug, Clone)]
pub struct ResolverForChannels(pub LocalResolver);

impl ResolverPort for ResolverForChannels {
    fn client(&self, number: &str) -> PortFuture<'_, Option<ClientRecords>> {
        let bound = self.0.get();
        let number = number.to_string();
        Box::pin(async move {
            let Some(resolver) = bound else {
                return Err(c360_channels::Error::Unavailable(
                    "the resolver is not open yet".into(),
                ));
            };
            let answer = c360_rpc::blocking(move || resolver.get_client(&number)).await;
            c360_channels::peers::client_answer(
                answer.map(|c| c360_resolver::convert::client_to_proto(&c)),
            )
        })
    }

    fn issuer(&self) -> Arc<dyn NumberIssuer> {
        Arc::new(self.0.clone())
    }
}

/// Channels' vault port answered by the vault's domain, as the vault's
/// gRPC service answers channels' peer identity: a value is sealed and a
/// withdrawal recorded only for an issued number, a withdrawal is
/// recorded as written by channels, and a failure is the error the gRPC
/// path gives.
#[derive(Debug, Clone)]
pub struct VaultForChannels {
    vault: Vault,
    /// The vault's own check (its resolver port), as its gRPC service has.
    issued: IssuedNumbers,
}

impl VaultForChannels {
    pub fn new(vault: Vault) -> Self {
        let issued = IssuedNumbers::new(vault.resolver().map(|r| r.issuer()));
        VaultForChannels { vault, issued }
    }
}

/// A vault ledger entry as channels carries it (the edges' conversions).
fn entry_for_channels(e: &c360_vault::ledger::Entry) -> ConsentEntry {
    c360_channels::convert::entry_from_api(c360_vault::grpc::entry_to_api(e))
}

impl VaultPort for VaultForChannels {
    fn check_consents(&self, checks: Vec<ConsentCheck>) -> PortFuture<'_, Vec<ConsentAnswer>> {
        let vault = self.vault.clone();
        Box::pin(async move {
            let inputs: Vec<CheckInput> = checks
                .into_iter()
                .map(|c| CheckInput {
                    client_number: c.client_number,
                    purpose: c.purpose,
                    channel: c.channel.as_str().to_string(),
                    at_ms: c.at_ms,
                })
                .collect();
            let outcomes = c360_rpc::blocking(move || vault.check_consents(&inputs))
                .await
                .map_err(|s| vault_failed(VaultCall::CheckConsents, &s))?;
            Ok(outcomes
                .into_iter()
                .map(|o| ConsentAnswer {
                    allowed: o.verdict.allowed,
                    deciding_entry: o.deciding.as_ref().map(entry_for_channels),
                    reason: o.verdict.reason,
                })
                .collect())
        })
    }

    fn seal(&self, values: Vec<ToSeal>) -> PortFuture<'_, Vec<Vec<u8>>> {
        let (vault, issued) = (self.vault.clone(), self.issued.clone());
        Box::pin(async move {
            let fields: Vec<(FieldRef, Plain)> = values
                .into_iter()
                .map(|v| {
                    let at = FieldRef {
                        client_number: v.client_number,
                        record_id: v.record_id,
                        field: v.field,
                    };
                    (at, Plain(v.value))
                })
                .collect();
            let failed = |s: tonic::Status| vault_failed(VaultCall::Encrypt, &s);
            let numbers: Vec<&str> = fields
                .iter()
                .map(|(r, _)| r.client_number.as_str())
                .collect();
            issued
                .check("fields.ref.client_number", &numbers)
                .await
                .map_err(failed)?;
            c360_rpc::blocking(move || vault.encrypt(&fields))
                .await
                .map_err(failed)
        })
    }

    fn withdraw(&self, withdrawal: Withdrawal) -> PortFuture<'_, Option<ConsentEntry>> {
        let (vault, issued) = (self.vault.clone(), self.issued.clone());
        Box::pin(async move {
            let failed = |s: tonic::Status| vault_failed(VaultCall::RecordConsent, &s);
            let input = c360_vault::grpc::consent_input(c360_channels::peers::withdrawal_request(
                withdrawal,
            ));
            issued
                .check("client_number", &[input.client_number.as_str()])
                .await
                .map_err(failed)?;
            let caller = c360_rpc::Caller::peer(c360_rpc::Peer::Channels);
            let entry = c360_rpc::blocking(move || vault.record_consent(&caller, &input))
                .await
                .map_err(failed)?;
            Ok(Some(entry_for_channels(&entry)))
        })
    }
}
