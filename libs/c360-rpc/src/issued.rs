//! "Was this client number issued?", asked before any write that names
//! one. Client numbers are handed out in order, so the next one is easy to
//! guess: without this check a consent or a phone written for a number not
//! yet issued would be waiting for the next new person. The resolver issues
//! numbers and answers (`LookupNumbers`); numbers it confirmed are
//! remembered (a number once issued stays issued; erasure is each
//! service's own business, from the feed).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::resolver::v1::{LookupNumbersRequest, NumberState};

use crate::PeerChannel;

/// Numbers remembered as issued before the memory is emptied and filled
/// again (bounds memory; a forgotten number costs one more lookup).
const REMEMBERED: usize = 200_000;

/// Checks numbers against the resolver; cheap to clone.
#[derive(Clone)]
pub struct IssuedNumbers {
    resolver: Option<ResolverServiceClient<PeerChannel>>,
    confirmed: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for IssuedNumbers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedNumbers")
            .field("resolver", &self.resolver.is_some())
            .finish_non_exhaustive()
    }
}

impl IssuedNumbers {
    /// Without a resolver nothing can be confirmed: every write that names
    /// a number is refused (fails closed).
    pub fn new(resolver: Option<ResolverServiceClient<PeerChannel>>) -> Self {
        IssuedNumbers {
            resolver,
            confirmed: Arc::default(),
        }
    }

    /// The resolver's answer for one number now (never from memory): OK
    /// with the feed offset a follower must have applied to see the
    /// number as the resolver does, NOT_FOUND when it was never issued or
    /// was erased.
    pub async fn current(&self, field: &str, number: &str) -> Result<u64, tonic::Status> {
        let Some(mut resolver) = self.resolver.clone() else {
            return Err(tonic::Status::unavailable(
                "no resolver to confirm that the client number was issued",
            ));
        };
        let answer = resolver
            .lookup_numbers(LookupNumbersRequest {
                client_numbers: vec![number.to_string()],
            })
            .await
            .map_err(|s| lookup_failed(field, s))?
            .into_inner();
        match answer.numbers.first().map(|n| n.state()) {
            Some(NumberState::Active) => Ok(answer.feed_offset),
            Some(NumberState::Erased) => Err(tonic::Status::not_found(format!(
                "client {number} was erased"
            ))),
            _ => Err(tonic::Status::not_found(format!(
                "client {number} not found (no such client number was issued)"
            ))),
        }
    }

    /// OK when every number was issued and is not erased; else NOT_FOUND
    /// naming the first that was not (numbers are not personal data).
    /// `field` names the request field for a malformed number.
    pub async fn check(&self, field: &str, numbers: &[&str]) -> Result<(), tonic::Status> {
        let unknown: Vec<String> = {
            let confirmed = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
            let mut seen = HashSet::new();
            numbers
                .iter()
                .filter(|n| !confirmed.contains(**n) && seen.insert(**n))
                .map(|n| n.to_string())
                .collect()
        };
        if unknown.is_empty() {
            return Ok(());
        }
        let Some(mut resolver) = self.resolver.clone() else {
            return Err(tonic::Status::unavailable(
                "no resolver to confirm that the client number was issued",
            ));
        };
        let mut answered = Vec::with_capacity(unknown.len());
        for chunk in unknown.chunks(4096) {
            let response = resolver
                .lookup_numbers(LookupNumbersRequest {
                    client_numbers: chunk.to_vec(),
                })
                .await
                .map_err(|s| lookup_failed(field, s))?;
            answered.extend(response.into_inner().numbers);
        }
        let mut confirmed = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        for n in &answered {
            if n.state() == NumberState::Active {
                if confirmed.len() >= REMEMBERED {
                    confirmed.clear();
                }
                confirmed.insert(n.client_number.clone());
            }
        }
        match answered.iter().find(|n| n.state() != NumberState::Active) {
            None => Ok(()),
            Some(n) if n.state() == NumberState::Erased => Err(tonic::Status::not_found(format!(
                "client {} was erased",
                n.client_number
            ))),
            Some(n) => Err(tonic::Status::not_found(format!(
                "client {} not found (no such client number was issued)",
                n.client_number
            ))),
        }
    }
}

fn lookup_failed(field: &str, s: tonic::Status) -> tonic::Status {
    match s.code() {
        tonic::Code::InvalidArgument => crate::invalid_argument(
            field,
            "is not a valid client number (its check character does not match)",
        ),
        _ => tonic::Status::unavailable(format!(
            "cannot confirm the client number with the resolver: {}",
            s.message()
        )),
    }
}
