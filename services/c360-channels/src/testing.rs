//! Stand-ins for the peers, for tests and benchmarks only: the vault port
//! answered from memory ([`MemoryVault`]), and a resolver that answers
//! `GetClient` and `LookupNumbers` from a map ([`MemoryResolver`]; the feed
//! handler and the vault still call the resolver through its gRPC client,
//! so it speaks just enough of that contract, routed by method path, other
//! methods UNIMPLEMENTED).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use c360_proto::resolver::v1 as resolver;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::vault::v1 as vault;
use c360_rpc::{Caller, PeerChannel, Role, in_process};
use tonic::Status;
use tonic::body::Body;

use crate::ports::{ConsentAnswer, ConsentCheck, PortFuture, ToSeal, VaultPort, Withdrawal};
use tonic::codegen::{BoxFuture, http};

type Handler =
    Arc<dyn Fn(http::Request<Body>) -> BoxFuture<http::Response<Body>, Infallible> + Send + Sync>;

/// A gRPC server made of unary handlers keyed by method path.
#[derive(Clone, Default)]
pub struct Routes {
    map: Arc<HashMap<&'static str, Handler>>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("methods", &self.map.len())
            .finish()
    }
}

struct SyncUnary<F>(F);

impl<Req, Resp, F> tonic::server::UnaryService<Req> for SyncUnary<F>
where
    F: Fn(Req) -> Result<Resp, Status>,
{
    type Response = Resp;
    type Future = std::future::Ready<Result<tonic::Response<Resp>, Status>>;

    fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
        std::future::ready((self.0)(request.into_inner()).map(tonic::Response::new))
    }
}

fn unary<Req, Resp, F>(f: F) -> Handler
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: Fn(Req) -> Result<Resp, Status> + Clone + Send + Sync + 'static,
{
    Arc::new(move |req: http::Request<Body>| {
        let f = f.clone();
        Box::pin(async move {
            let mut grpc =
                tonic::server::Grpc::new(tonic_prost::ProstCodec::<Resp, Req>::default());
            Ok(grpc.unary(SyncUnary(f), req).await)
        })
    })
}

impl tonic::codegen::Service<http::Request<Body>> for Routes {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match self.map.get(req.uri().path()) {
            Some(h) => h(req),
            None => {
                Box::pin(async { Ok(Status::unimplemented("not in this stand-in").into_http()) })
            }
        }
    }
}

#[derive(Debug, Default)]
struct VaultState {
    entries: Vec<vault::ConsentEntry>,
    /// (client, purpose) -> positions in `entries`.
    index: HashMap<(String, String), Vec<usize>>,
    unavailable: bool,
    checks: u64,
}

/// A consent ledger and sealer in memory: the [`VaultPort`] channels owns,
/// answered from a list of entries.
#[derive(Debug, Clone, Default)]
pub struct MemoryVault {
    state: Arc<Mutex<VaultState>>,
}

const SEAL_PREFIX: &[u8] = b"test-sealed:";

impl MemoryVault {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VaultState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, r: vault::RecordConsentRequest) -> vault::ConsentEntry {
        let mut s = self.lock();
        let entry = vault::ConsentEntry {
            sequence: s.entries.len() as u64 + 1,
            client_number: r.client_number,
            purpose: r.purpose,
            channel: r.channel,
            decision: r.decision,
            lawful_basis: r.lawful_basis,
            evidence_ref: r.evidence_ref,
            source_system: r.source_system,
            captured_at_unix_ms: r.captured_at_unix_ms,
            expires_at_unix_ms: r.expires_at_unix_ms,
            record_ids: r.record_ids,
            kind: "consent".into(),
            ..Default::default()
        };
        let at = s.entries.len();
        s.index
            .entry((entry.client_number.clone(), entry.purpose.clone()))
            .or_default()
            .push(at);
        s.entries.push(entry.clone());
        entry
    }

    /// Records a grant for (client, purpose, channel); channel "" is every channel.
    pub fn grant(&self, client: &str, purpose: &str, channel: &str) {
        self.record(vault::RecordConsentRequest {
            client_number: client.into(),
            purpose: purpose.into(),
            channel: channel.into(),
            decision: vault::ConsentDecision::Granted as i32,
            lawful_basis: vault::LawfulBasis::Consent as i32,
            ..Default::default()
        });
    }

    /// Makes every call fail with UNAVAILABLE (or work again).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    pub fn entries(&self) -> Vec<vault::ConsentEntry> {
        self.lock().entries.clone()
    }

    pub fn checks(&self) -> u64 {
        self.lock().checks
    }

    fn check(&self, r: &vault::CheckConsentRequest) -> vault::CheckConsentResponse {
        let s = self.lock();
        let at = r.at_unix_ms;
        let deciding = s
            .index
            .get(&(r.client_number.clone(), r.purpose.clone()))
            .into_iter()
            .flatten()
            .rev()
            .map(|&i| &s.entries[i])
            .filter(|e| e.channel.is_empty() || e.channel == r.channel)
            .find(|e| at == 0 || e.captured_at_unix_ms <= at);
        match deciding {
            None => vault::CheckConsentResponse {
                allowed: false,
                deciding_entry: None,
                reason: "no consent recorded".into(),
                client_number: r.client_number.clone(),
            },
            Some(e) => {
                let granted = e.decision == vault::ConsentDecision::Granted as i32;
                let expired = e.expires_at_unix_ms != 0 && at >= e.expires_at_unix_ms;
                vault::CheckConsentResponse {
                    allowed: granted && !expired,
                    deciding_entry: Some(e.clone()),
                    reason: match (granted, expired) {
                        (true, false) => format!("granted by entry {}", e.sequence),
                        (true, true) => format!("expired at {}", e.expires_at_unix_ms),
                        _ => format!("withdrawn by entry {}", e.sequence),
                    },
                    client_number: r.client_number.clone(),
                }
            }
        }
    }

    fn available(&self) -> crate::Result<()> {
        if self.lock().unavailable {
            Err(crate::Error::Unavailable("test vault down".into()))
        } else {
            Ok(())
        }
    }
}

/// The port itself, no gRPC: checks, withdrawals and a reversible seal.
impl VaultPort for MemoryVault {
    fn check_consents(&self, checks: Vec<ConsentCheck>) -> PortFuture<'_, Vec<ConsentAnswer>> {
        let answer = self.available().map(|()| {
            self.lock().checks += checks.len() as u64;
            checks
                .iter()
                .map(|c| {
                    let r = self.check(&vault::CheckConsentRequest {
                        client_number: c.client_number.clone(),
                        purpose: c.purpose.clone(),
                        channel: c.channel.as_str().to_string(),
                        at_unix_ms: c.at_ms,
                    });
                    ConsentAnswer {
                        allowed: r.allowed,
                        deciding_entry: r.deciding_entry,
                        reason: r.reason,
                    }
                })
                .collect()
        });
        Box::pin(std::future::ready(answer))
    }

    fn seal(&self, values: Vec<ToSeal>) -> PortFuture<'_, Vec<Vec<u8>>> {
        let sealed = self.available().map(|()| {
            values
                .iter()
                .map(|v| {
                    let mut out = SEAL_PREFIX.to_vec();
                    out.extend(v.value.bytes().map(|b| b ^ 0x5a));
                    out
                })
                .collect()
        });
        Box::pin(std::future::ready(sealed))
    }

    fn withdraw(&self, w: Withdrawal) -> PortFuture<'_, Option<vault::ConsentEntry>> {
        let entry = self
            .available()
            .map(|()| Some(self.record(crate::peers::withdrawal_request(w))));
        Box::pin(std::future::ready(entry))
    }
}

/// A resolver that answers GetClient from a map and LookupNumbers with
/// every number issued but those marked never issued (others:
/// UNIMPLEMENTED).
#[derive(Debug, Clone, Default)]
pub struct MemoryResolver {
    clients: Arc<Mutex<HashMap<String, resolver::GetClientResponse>>>,
    never_issued: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl MemoryResolver {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, resolver::GetClientResponse>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets what GetClient answers for `number`.
    pub fn set(&self, number: &str, client: resolver::GetClientResponse) {
        self.lock().insert(number.to_string(), client);
    }

    pub fn remove(&self, number: &str) {
        self.lock().remove(number);
    }

    /// LookupNumbers answers that `number` was never issued.
    pub fn never_issued(&self, number: &str) {
        self.never_issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(number.to_string());
    }

    pub fn routes(&self) -> Routes {
        let mut map: HashMap<&'static str, Handler> = HashMap::new();
        let r = self.clone();
        map.insert(
            "/c360.resolver.v1.ResolverService/GetClient",
            unary(move |q: resolver::GetClientRequest| {
                r.lock()
                    .get(&q.client_number)
                    .cloned()
                    .ok_or_else(|| Status::not_found("client not found"))
            }),
        );
        let never = self.never_issued.clone();
        map.insert(
            "/c360.resolver.v1.ResolverService/LookupNumbers",
            unary(move |q: resolver::LookupNumbersRequest| {
                let never = never.lock().unwrap_or_else(|p| p.into_inner());
                Ok(resolver::LookupNumbersResponse {
                    numbers: q
                        .client_numbers
                        .into_iter()
                        .map(|n| {
                            let issued = !never.contains(&n);
                            resolver::NumberLookup {
                                state: if issued {
                                    resolver::NumberState::Active
                                } else {
                                    resolver::NumberState::Unknown
                                } as i32,
                                survivor: if issued { n.clone() } else { String::new() },
                                client_number: n,
                            }
                        })
                        .collect(),
                    feed_offset: 0,
                })
            }),
        );
        Routes { map: Arc::new(map) }
    }

    pub fn client(&self) -> ResolverServiceClient<PeerChannel> {
        ResolverServiceClient::new(in_process(
            self.routes(),
            Caller::new("channels", Role::Service),
        ))
    }
}
