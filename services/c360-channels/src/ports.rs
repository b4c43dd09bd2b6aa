//! What channels needs of the vault, as a trait the service owns: consent
//! answers, opt-out withdrawals and the sealing of contact values. The
//! service calls these and nothing of gRPC; [`crate::peers::VaultOverGrpc`]
//! implements them over the vault's client (in process or remote), and
//! tests plug in [`crate::testing::MemoryVault`]. A consent entry is the
//! vault's ledger entry as the vault writes it (`ConsentEntry`), carried
//! into receipts unchanged.

use std::future::Future;
use std::pin::Pin;

use c360_proto::vault::v1::ConsentEntry;

use crate::Result;
use crate::model::Channel;

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
