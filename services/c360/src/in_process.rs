//! Ports a service owns, implemented by a peer's domain when both run in
//! this process: no gRPC in between (across processes the service's own
//! gRPC implementation of the port is used).

use std::sync::{Arc, OnceLock};

use c360_resolver::{NumberState, Resolver};
use c360_rpc::{
    ErrorKind, IssuedNumbers, Lookup, LookupError, LookupFuture, NumberIssuer, NumberStatus,
    ServiceError,
};
use c360_search::{Fetched, GoldenSource};

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

    /// "Was this number issued?" answered by the resolver's domain.
    pub fn issued_numbers(&self) -> IssuedNumbers {
        IssuedNumbers::new(Some(Arc::new(self.clone())))
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

    fn issued_numbers(&self) -> IssuedNumbers {
        self.0.issued_numbers()
    }
}
