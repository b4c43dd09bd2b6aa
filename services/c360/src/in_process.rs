//! Ports a service owns, implemented by a peer's domain when both run in
//! this process: no gRPC in between (across processes the service's own
//! gRPC implementation of the port is used).

use std::sync::Arc;

use c360_resolver::Resolver;
use c360_rpc::ServiceError;
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
                Err(e) if e.kind() == c360_rpc::ErrorKind::NotFound => Ok(Fetched::Gone),
                Err(e) => Err(c360_search::Error::Unavailable(format!(
                    "GetClient: {}",
                    c360_rpc::status_of(&e).code()
                ))),
            })
            .collect()
    }
}

/// The vault's resolver port, answered by the resolver's domain in this
/// process once it is open (the vault opens first: it holds the keys the
/// resolver reads its records with). Until then an erasure is not
/// confirmed, and the vault retries it, as with a peer that is not up.
/// Whether numbers were issued is still asked through the resolver's
/// gRPC client (`c360_rpc::IssuedNumbers`).
#[derive(Debug, Clone)]
pub struct ResolverForVault {
    resolver: Arc<std::sync::OnceLock<Arc<Resolver>>>,
    grpc: c360_vault::ResolverPeer,
}

impl ResolverForVault {
    pub fn new(grpc: c360_vault::ResolverPeer) -> Self {
        ResolverForVault {
            resolver: Arc::default(),
            grpc,
        }
    }

    /// The resolver, once open.
    pub fn bind(&self, resolver: Arc<Resolver>) {
        // Bound once; a second open resolver is never made.
        let _bound = self.resolver.set(resolver);
    }
}

impl c360_vault::Resolver for ResolverForVault {
    fn erase<'a>(
        &'a self,
        number: &'a str,
        reason: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        let bound = self.resolver.get().cloned();
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
                    c360_rpc::ErrorKind::NotFound | c360_rpc::ErrorKind::FailedPrecondition
                ),
                Err(_) => false,
            }
        })
    }

    fn issued_numbers(&self) -> c360_rpc::IssuedNumbers {
        c360_vault::Resolver::issued_numbers(&self.grpc)
    }
}
