//! "Was this client number issued?", asked before any write that names
//! one. Client numbers are handed out in order, so the next one is easy to
//! guess: without this check a consent or a phone written for a number not
//! yet issued would be waiting for the next new person. The resolver issues
//! numbers and answers, through the [`NumberIssuer`] port: its gRPC client
//! (`LookupNumbers`) across processes, its domain when it runs in the same
//! process (the `c360` binary wires that). Numbers it confirmed are
//! remembered (a number once issued stays issued; erasure is each
//! service's own business, from the feed).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use c360_proto::resolver::v1 as rapi;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;

use crate::PeerChannel;

/// Numbers remembered as issued before the memory is emptied and filled
/// again (bounds memory; a forgotten number costs one more lookup).
const REMEMBERED: usize = 200_000;

/// Most numbers asked of the issuer in one lookup (the resolver's limit).
const LOOKUP_CHUNK: usize = 4096;

/// What the issuer says a client number is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberStatus {
    /// Never issued (or not yet).
    Unknown,
    /// Issued and not erased.
    Active,
    /// Issued, then erased.
    Erased,
}

/// The issuer's answer to one lookup: the status of each number asked, in
/// order, and the offset of the last event of its feed published when it
/// read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub statuses: Vec<NumberStatus>,
    pub feed_offset: u64,
}

/// Why the issuer gave no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// A number is malformed (its check character does not match).
    Malformed,
    /// The issuer could not answer; why (never a value).
    Unavailable(String),
}

/// What a lookup gives back, later.
pub type LookupFuture<'a> = Pin<Box<dyn Future<Output = Result<Lookup, LookupError>> + Send + 'a>>;

/// The resolver as the issuer of client numbers: what each number is now.
pub trait NumberIssuer: Send + Sync + 'static {
    /// The status of each of `numbers` (at most 4,096), in order.
    fn lookup(&self, numbers: Vec<String>) -> LookupFuture<'_>;
}

/// The issuer over gRPC: the resolver's `LookupNumbers`, as the caller's
/// channel identifies it.
impl NumberIssuer for ResolverServiceClient<PeerChannel> {
    fn lookup(&self, numbers: Vec<String>) -> LookupFuture<'_> {
        let mut client = self.clone();
        Box::pin(async move {
            let answer = client
                .lookup_numbers(rapi::LookupNumbersRequest {
                    client_numbers: numbers,
                })
                .await
                .map_err(|s| match s.code() {
                    tonic::Code::InvalidArgument => LookupError::Malformed,
                    _ => LookupError::Unavailable(s.message().to_string()),
                })?
                .into_inner();
            Ok(Lookup {
                statuses: answer
                    .numbers
                    .iter()
                    .map(|n| match n.state() {
                        rapi::NumberState::Active => NumberStatus::Active,
                        rapi::NumberState::Erased => NumberStatus::Erased,
                        rapi::NumberState::Unknown | rapi::NumberState::Unspecified => {
                            NumberStatus::Unknown
                        }
                    })
                    .collect(),
                feed_offset: answer.feed_offset,
            })
        })
    }
}

/// Checks numbers against the issuer; cheap to clone.
#[derive(Clone)]
pub struct IssuedNumbers {
    issuer: Option<Arc<dyn NumberIssuer>>,
    confirmed: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for IssuedNumbers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedNumbers")
            .field("issuer", &self.issuer.is_some())
            .finish_non_exhaustive()
    }
}

impl IssuedNumbers {
    /// Without an issuer nothing can be confirmed: every write that names
    /// a number is refused (fails closed).
    pub fn new(issuer: Option<Arc<dyn NumberIssuer>>) -> Self {
        IssuedNumbers {
            issuer,
            confirmed: Arc::default(),
        }
    }

    fn issuer(&self) -> Result<&dyn NumberIssuer, tonic::Status> {
        self.issuer.as_deref().ok_or_else(|| {
            tonic::Status::unavailable("no resolver to confirm that the client number was issued")
        })
    }

    /// The resolver's answer for one number now (never from memory): OK
    /// with the feed offset a follower must have applied to see the
    /// number as the resolver does, NOT_FOUND when it was never issued or
    /// was erased.
    pub async fn current(&self, field: &str, number: &str) -> Result<u64, tonic::Status> {
        let answer = self
            .issuer()?
            .lookup(vec![number.to_string()])
            .await
            .map_err(|e| lookup_failed(field, e))?;
        match answer.statuses.first() {
            Some(NumberStatus::Active) => Ok(answer.feed_offset),
            status => Err(not_issued(number, status.copied())),
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
        let issuer = self.issuer()?;
        let mut answered: Vec<(String, NumberStatus)> = Vec::with_capacity(unknown.len());
        for chunk in unknown.chunks(LOOKUP_CHUNK) {
            let answer = issuer
                .lookup(chunk.to_vec())
                .await
                .map_err(|e| lookup_failed(field, e))?;
            answered.extend(chunk.iter().cloned().zip(answer.statuses));
        }
        let mut confirmed = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        for (number, status) in &answered {
            if *status == NumberStatus::Active {
                if confirmed.len() >= REMEMBERED {
                    confirmed.clear();
                }
                confirmed.insert(number.clone());
            }
        }
        match answered.iter().find(|(_, s)| *s != NumberStatus::Active) {
            None => Ok(()),
            Some((number, status)) => Err(not_issued(number, Some(*status))),
        }
    }
}

/// NOT_FOUND for a number that is not active: erased, or never issued
/// (`None`: the issuer said nothing of it).
fn not_issued(number: &str, status: Option<NumberStatus>) -> tonic::Status {
    tonic::Status::not_found(match status {
        Some(NumberStatus::Erased) => format!("client {number} was erased"),
        _ => format!("client {number} not found (no such client number was issued)"),
    })
}

fn lookup_failed(field: &str, e: LookupError) -> tonic::Status {
    match e {
        LookupError::Malformed => crate::invalid_argument(
            field,
            "is not a valid client number (its check character does not match)",
        ),
        LookupError::Unavailable(why) => tonic::Status::unavailable(format!(
            "cannot confirm the client number with the resolver: {why}"
        )),
    }
}
