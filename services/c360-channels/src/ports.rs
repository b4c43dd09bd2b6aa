//! What channels needs of its peers, as traits the service owns. Of the
//! vault ([`VaultPort`]): consent answers, opt-out withdrawals and the
//! sealing of contact values. Of the resolver ([`ResolverPort`]): a
//! client's records (the feed reads their phones and e-mails) and whether
//! a client number was issued. The service calls these and nothing of
//! gRPC: [`crate::peers`] implements them over the peers' gRPC clients
//! (another process), the `c360` binary over the peers' domains (one
//! process), and tests plug in [`crate::testing`]'s fakes. A consent entry
//! is the vault's ledger entry as the vault wrote it ([`ConsentEntry`]),
//! carried into receipts unchanged.

use std::future::Future;
use std::pin::Pin;

use std::sync::Arc;

use c360_rpc::NumberIssuer;

use crate::Result;
use crate::model::Channel;

/// The source system a withdrawal written by channels names.
pub const WITHDRAWAL_SOURCE: &str = "c360-channels";

/// What a recorded consent decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConsentDecision {
    /// None (the ledger's identity entries decide nothing).
    #[default]
    Unspecified,
    Granted,
    Denied,
    Withdrawn,
}

/// One entry of the vault's consent ledger, as the vault wrote it: the one
/// that decided a consent question, or the withdrawal an opt-out wrote.
/// Holds numbers, purposes and references, never a personal value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentEntry {
    /// Position in the ledger, from 1.
    pub sequence: u64,
    pub client_number: String,
    pub purpose: String,
    /// Empty: every channel.
    pub channel: String,
    pub decision: ConsentDecision,
    /// The ledger's lawful basis, by its number (1 consent, 2 contract...).
    pub lawful_basis: u8,
    pub evidence_ref: String,
    pub source_system: String,
    /// Who recorded it.
    pub actor: String,
    pub notice_version: String,
    pub captured_at_ms: i64,
    /// 0: does not expire.
    pub expires_at_ms: i64,
    pub recorded_at_ms: i64,
    /// "consent", or the identity change that wrote it.
    pub kind: String,
    pub related_clients: Vec<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    /// The resolver records the entry was recorded for.
    pub record_ids: Vec<String>,
}

/// What a port call gives back, later.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// One consent question: may `client_number` be contacted for `purpose`
/// on `channel` at `at_ms` (0: now)?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentCheck {
    pub client_number: String,
    pub purpose: String,
    pub channel: Channel,
    pub at_ms: i64,
}

/// The vault's answer to one [`ConsentCheck`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentAnswer {
    pub allowed: bool,
    pub deciding_entry: Option<ConsentEntry>,
    pub reason: String,
}

/// A contact value to seal, bound to the client, point and field it
/// belongs to. `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ToSeal {
    pub client_number: String,
    pub record_id: String,
    pub field: String,
    pub value: String,
}

impl std::fmt::Debug for ToSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToSeal")
            .field("client_number", &self.client_number)
            .field("record_id", &self.record_id)
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

/// A withdrawal of consent written to the vault's ledger (an opt-out
/// keyword or reply): for `purpose` on `channel` ("" is every channel),
/// filed under the records it came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub client_number: String,
    pub purpose: String,
    pub channel: String,
    pub evidence_ref: String,
    pub captured_at_ms: i64,
    pub record_ids: Vec<String>,
}

/// The vault as channels calls it. Every call may fail (the vault is down
/// or not configured): consent then defers, a write is refused as
/// UNAVAILABLE.
pub trait VaultPort: Send + Sync + 'static {
    /// The answers to `checks`, in order, in one round trip.
    fn check_consents(&self, checks: Vec<ConsentCheck>) -> PortFuture<'_, Vec<ConsentAnswer>>;
    /// The sealed form of each value, in order, in one round trip.
    fn seal(&self, values: Vec<ToSeal>) -> PortFuture<'_, Vec<Vec<u8>>>;
    /// Records a withdrawal; the ledger entry written, if the vault says.
    fn withdraw(&self, withdrawal: Withdrawal) -> PortFuture<'_, Option<ConsentEntry>>;
}

/// A client as the resolver holds it, as much as channels reads of it:
/// golden values (the sector profile) and member records (their phones and
/// e-mails become contact points). `Debug` never shows a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientRecords {
    /// (field, value) of the golden record.
    pub golden: Vec<(String, String)>,
    pub records: Vec<MemberRecord>,
}

impl ClientRecords {
    /// The golden value of `field`, "" when it has none.
    pub fn golden(&self, field: &str) -> &str {
        self.golden
            .iter()
            .find(|(f, _)| f == field)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for ClientRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRecords")
            .field("golden", &self.golden.len())
            .field("records", &self.records)
            .finish()
    }
}

/// One member record of a client. `Debug` never shows a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MemberRecord {
    pub record_id: String,
    pub source_system: String,
    /// The values channels reads, when the resolver sent the record.
    pub values: Option<RecordValues>,
    /// (field, index of the value) the resolver flagged as unusable.
    pub flags: Vec<(String, usize)>,
}

impl MemberRecord {
    /// Whether the value `index` of `field` is flagged as unusable.
    pub fn flagged(&self, field: &str, index: usize) -> bool {
        self.flags.iter().any(|(f, i)| f == field && *i == index)
    }
}

impl std::fmt::Debug for MemberRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberRecord")
            .field("record_id", &self.record_id)
            .field("source_system", &self.source_system)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

/// A record's contact values, as the source system wrote them. `Debug`
/// shows how many, never a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RecordValues {
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub country: String,
}

impl std::fmt::Debug for RecordValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordValues")
            .field("phones", &self.phones.len())
            .field("emails", &self.emails.len())
            .finish_non_exhaustive()
    }
}

/// The resolver as channels calls it.
pub trait ResolverPort: Send + Sync + 'static {
    /// What the resolver holds of `number` now, every value in clear (read
    /// as a peer: processing inside the platform, unlogged); `None` when it
    /// is erased or unknown since (its event follows). Fails when the
    /// resolver cannot be asked.
    fn client(&self, number: &str) -> PortFuture<'_, Option<ClientRecords>>;
    /// Who says whether a client number was issued (the edge checks
    /// before any write naming one).
    fn issuer(&self) -> Arc<dyn NumberIssuer>;
}
