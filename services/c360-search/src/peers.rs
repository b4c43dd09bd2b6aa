//! The resolver as search calls it: golden records over gRPC
//! (`GetClient`), behind the [`GoldenSource`] port the feed handler owns.

use std::sync::Arc;

use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::resolver::v1::{GetClientRequest, GetClientResponse};
use c360_rpc::PeerChannel;

use crate::doc::push_distinct;
use crate::feed::{Fetched, GoldenSource};
use crate::{ClientDoc, Error, Result, SearchPeers};

/// Golden records from the resolver's `GetClient`.
#[derive(Debug, Clone)]
pub struct ResolverGolden {
    client: ResolverServiceClient<PeerChannel>,
}

/// Concurrent `GetClient` calls per batch.
const FETCH_CONCURRENCY: usize = 16;

impl ResolverGolden {
    pub fn new(client: ResolverServiceClient<PeerChannel>) -> Self {
        ResolverGolden { client }
    }
}

impl GoldenSource for ResolverGolden {
    fn fetch(&self, numbers: &[String]) -> Result<Vec<Fetched>> {
        // The follower applies batches on tokio's blocking pool.
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Internal("golden records fetched outside a runtime".into()))?;
        handle.block_on(async {
            let mut out = Vec::with_capacity(numbers.len());
            for chunk in numbers.chunks(FETCH_CONCURRENCY) {
                let mut tasks = tokio::task::JoinSet::new();
                for (i, number) in chunk.iter().enumerate() {
                    let mut client = self.client.clone();
                    let number = number.clone();
                    tasks.spawn(async move {
                        let request = GetClientRequest {
                            client_number: number.clone(),
                            purpose: "indexing".into(),
                        };
                        (i, number, client.get_client(request).await)
                    });
                }
                let mut results: Vec<Option<Fetched>> = vec![None; chunk.len()];
                while let Some(joined) = tasks.join_next().await {
                    let (i, number, answer) =
                        joined.map_err(|e| Error::Internal(format!("fetch task: {e}")))?;
                    let fetched = match answer {
                        Ok(response) => {
                            let client = response.into_inner();
                            let doc = client_doc(&client);
                            if client.client_number == number {
                                Fetched::Current(doc)
                            } else {
                                Fetched::Moved(doc)
                            }
                        }
                        Err(status) if status.code() == tonic::Code::NotFound => Fetched::Gone,
                        Err(status) => {
                            return Err(Error::Unavailable(format!(
                                "GetClient: {}",
                                status.code()
                            )));
                        }
                    };
                    results[i] = Some(fetched);
                }
                out.extend(results.into_iter().map(|r| r.unwrap_or(Fetched::Gone)));
            }
            Ok(out)
        })
    }
}

/// The document of a client from the resolver's `GetClient` answer.
pub fn client_doc(client: &GetClientResponse) -> ClientDoc {
    let mut doc = ClientDoc {
        client_number: client.client_number.clone(),
        ..ClientDoc::default()
    };
    for v in &client.golden {
        let value = v.value.trim().to_string();
        match v.field.as_str() {
            "given_name" => doc.given_name = value,
            "middle_name" => doc.middle_name = value,
            "surname" => doc.surname = value,
            "full_name" => doc.full_name = value,
            "date_of_birth" => doc.date_of_birth = value,
            "national_id" => push_distinct(&mut doc.national_ids, &value),
            "phone" => push_distinct(&mut doc.phones, &value),
            "email" => push_distinct(&mut doc.emails, &value),
            "address" => doc.address = value,
            "locality" => doc.locality = value,
            "region" => doc.region = value,
            "country" => doc.country = value,
            _ => {}
        }
    }
    for member in &client.records {
        push_distinct(&mut doc.source_systems, &member.source_system);
        let Some(r) = &member.record else { continue };
        let name = [&r.given_name, &r.middle_name, &r.surname, &r.full_name]
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim())
            .collect::<Vec<_>>()
            .join(" ");
        push_distinct(&mut doc.other_names, &name);
        push_distinct(&mut doc.national_ids, &r.national_id);
        for p in &r.phone {
            push_distinct(&mut doc.phones, p);
        }
        for e in &r.email {
            push_distinct(&mut doc.emails, e);
        }
    }
    doc
}

impl SearchPeers {
    /// The resolver reached through its gRPC client (in process or remote).
    pub fn over_grpc(resolver: Option<ResolverServiceClient<PeerChannel>>) -> Self {
        SearchPeers {
            resolver: resolver
                .map(|client| Arc::new(ResolverGolden::new(client)) as Arc<dyn GoldenSource>),
        }
    }
}
