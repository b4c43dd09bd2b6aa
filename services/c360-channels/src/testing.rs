//! Stand-ins for the peers, for tests and benchmarks only: the ports
//! answered from memory, no gRPC. [`MemoryVault`] is the vault
//! ([`VaultPort`]: a consent ledger and a reversible seal);
//! [`MemoryResolver`] is the resolver ([`ResolverPort`] and the issuer of
//! numbers: clients from a map, every number issued but those marked).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use c360_proto::resolver::v1 as resolver;
use c360_rpc::{Lookup, LookupFuture, NumberIssuer, NumberStatus};

use crate::ports::{
    ClientRecords, ConsentAnswer, ConsentCheck, ConsentDecision, ConsentEntry, PortFuture,
    ResolverPort, ToSeal, VaultPort, WITHDRAWAL_SOURCE, Withdrawal,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Default)]
struct VaultState {
    entries: Vec<ConsentEntry>,
    unavailable: bool,
    checks: u64,
}

/// A consent ledger and sealer in memory: the latest entry for (client,
/// purpose) on the channel (or every channel) captured by then decides.
#[derive(Debug, Clone, Default)]
pub struct MemoryVault {
    state: Arc<Mutex<VaultState>>,
}

impl MemoryVault {
    pub fn new() -> Self {
        Self::default()
    }

    fn record(&self, entry: ConsentEntry) -> ConsentEntry {
        let mut s = lock(&self.state);
        let entry = ConsentEntry {
            sequence: s.entries.len() as u64 + 1,
            kind: "consent".into(),
            lawful_basis: 1,
            ..entry
        };
        s.entries.push(entry.clone());
        entry
    }

    /// Records a grant for (client, purpose, channel); channel "" is every channel.
    pub fn grant(&self, client: &str, purpose: &str, channel: &str) {
        self.record(ConsentEntry {
            client_number: client.into(),
            purpose: purpose.into(),
            channel: channel.into(),
            decision: ConsentDecision::Granted,
            ..Default::default()
        });
    }

    /// Makes every call fail with UNAVAILABLE (or work again).
    pub fn set_unavailable(&self, unavailable: bool) {
        lock(&self.state).unavailable = unavailable;
    }

    pub fn entries(&self) -> Vec<ConsentEntry> {
        lock(&self.state).entries.clone()
    }

    pub fn checks(&self) -> u64 {
        lock(&self.state).checks
    }

    fn check(s: &VaultState, c: &ConsentCheck) -> ConsentAnswer {
        let deciding = s
            .entries
            .iter()
            .rev()
            .filter(|e| e.client_number == c.client_number && e.purpose == c.purpose)
            .filter(|e| e.channel.is_empty() || e.channel == c.channel.as_str())
            .find(|e| c.at_ms == 0 || e.captured_at_ms <= c.at_ms);
        let Some(e) = deciding else {
            return ConsentAnswer {
                allowed: false,
                deciding_entry: None,
                reason: "no consent recorded".into(),
            };
        };
        let granted = e.decision == ConsentDecision::Granted;
        let expired = e.expires_at_ms != 0 && c.at_ms >= e.expires_at_ms;
        ConsentAnswer {
            allowed: granted && !expired,
            deciding_entry: Some(e.clone()),
            reason: match (granted, expired) {
                (true, false) => format!("granted by entry {}", e.sequence),
                (true, true) => format!("expired at {}", e.expires_at_ms),
                _ => format!("withdrawn by entry {}", e.sequence),
            },
        }
    }

    fn available(&self) -> crate::Result<()> {
        if lock(&self.state).unavailable {
            Err(crate::Error::Unavailable("test vault down".into()))
        } else {
            Ok(())
        }
    }
}

impl VaultPort for MemoryVault {
    fn check_consents(&self, checks: Vec<ConsentCheck>) -> PortFuture<'_, Vec<ConsentAnswer>> {
        let answer = self.available().map(|()| {
            let mut s = lock(&self.state);
            s.checks += checks.len() as u64;
            checks.iter().map(|c| Self::check(&s, c)).collect()
        });
        Box::pin(std::future::ready(answer))
    }

    fn seal(&self, values: Vec<ToSeal>) -> PortFuture<'_, Vec<Vec<u8>>> {
        let sealed = self.available().map(|()| {
            values
                .iter()
                .map(|v| {
                    let mut out = b"test-sealed:".to_vec();
                    out.extend(v.value.bytes().map(|b| b ^ 0x5a));
                    out
                })
                .collect()
        });
        Box::pin(std::future::ready(sealed))
    }

    fn withdraw(&self, w: Withdrawal) -> PortFuture<'_, Option<ConsentEntry>> {
        let entry = self.available().map(|()| {
            Some(self.record(ConsentEntry {
                client_number: w.client_number,
                purpose: w.purpose,
                channel: w.channel,
                decision: ConsentDecision::Withdrawn,
                evidence_ref: w.evidence_ref,
                source_system: WITHDRAWAL_SOURCE.into(),
                captured_at_ms: w.captured_at_ms,
                record_ids: w.record_ids,
                ..Default::default()
            }))
        });
        Box::pin(std::future::ready(entry))
    }
}

/// A resolver holding clients in a map (others: erased or unknown), every
/// number issued but those marked never issued.
#[derive(Debug, Clone, Default)]
pub struct MemoryResolver {
    clients: Arc<Mutex<HashMap<String, ClientRecords>>>,
    never_issued: Arc<Mutex<HashSet<String>>>,
}

impl MemoryResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets what the resolver answers for `number`, as its `GetClient`
    /// would.
    pub fn set(&self, number: &str, client: resolver::GetClientResponse) {
        lock(&self.clients).insert(number.to_string(), crate::convert::client_from_api(client));
    }

    pub fn remove(&self, number: &str) {
        lock(&self.clients).remove(number);
    }

    /// The resolver says `number` was never issued.
    pub fn never_issued(&self, number: &str) {
        lock(&self.never_issued).insert(number.to_string());
    }
}

impl ResolverPort for MemoryResolver {
    fn client(&self, number: &str) -> PortFuture<'_, Option<ClientRecords>> {
        let client = lock(&self.clients).get(number).cloned();
        Box::pin(std::future::ready(Ok(client)))
    }

    fn issuer(&self) -> Arc<dyn NumberIssuer> {
        Arc::new(self.clone())
    }
}

impl NumberIssuer for MemoryResolver {
    fn lookup(&self, numbers: Vec<String>) -> LookupFuture<'_> {
        let never = lock(&self.never_issued);
        let statuses = numbers
            .iter()
            .map(|n| {
                if never.contains(n) {
                    NumberStatus::Unknown
                } else {
                    NumberStatus::Active
                }
            })
            .collect();
        Box::pin(std::future::ready(Ok(Lookup {
            statuses,
            feed_offset: 0,
        })))
    }
}
