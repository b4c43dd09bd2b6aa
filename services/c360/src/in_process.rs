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
