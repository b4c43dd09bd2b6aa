//! What the resolver answers and publishes, in its own types: records are
//! `c360_core::Record` (whose `Debug` shows no value), clients are
//! [`ClientNumber`]s. The gRPC edge converts them (`convert.rs`).

use c360_core::Record;
use c360_matching::{Explanation, ValueFlag};

use crate::golden::GoldenValue;
use crate::number::ClientNumber;
use crate::stored::Lineage;

/// Most numbers one `lookup_numbers` call answers.
pub const MAX_LOOKUP: usize = 4096;

/// What became of a resolved record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Attached to an existing client.
    Matched,
    /// A new client was created.
    New,
    /// Uncertain: a new client was created and a review task opened.
    Review,
}

/// A client the record was scored against.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub client: ClientNumber,
    /// Match probability of the best member record.
    pub probability: f64,
    /// Why this candidate was not chosen, if a rule excluded it.
    pub excluded_by: Option<&'static str>,
}

/// The outcome of resolving one record.
#[derive(Clone, Debug)]
pub struct Resolution {
    pub client: Option<ClientNumber>,
    pub decision: Decision,
    pub confidence: f64,
    pub candidates: Vec<Candidate>,
    pub record_id: String,
    pub updated: bool,
    /// The record's values kept but flagged as unusable (accepted with
    /// warnings).
    pub flags: Vec<ValueFlag>,
}

/// A record to resolve, and how to treat a value that cannot be
/// standardised: keep it flagged, or (strict) refuse the record. The
/// record's `record_id` is the source system's id of it.
#[derive(Clone, Debug, Default)]
pub struct Incoming {
    pub record: Record,
    pub strict: bool,
}

impl From<Record> for Incoming {
    fn from(record: Record) -> Self {
        Incoming {
            record,
            strict: false,
        }
    }
}

/// What a client number is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumberState {
    /// Never issued (or not yet).
    Unknown,
    /// Issued and not erased: resolves to this number (itself unless merged).
    Active(ClientNumber),
    Erased,
}

/// One record pair explained.
#[derive(Clone, Debug)]
pub struct ExplainedPair {
    pub record_a: String,
    pub record_b: String,
    pub explanation: Explanation,
}

/// A record holding values flagged as unusable, and their flags.
#[derive(Clone, Debug, PartialEq)]
pub struct FlaggedRecord {
    pub record_id: String,
    pub flags: Vec<ValueFlag>,
}

/// What `Explain` answers: the pairs explained and the flagged values of
/// their records.
#[derive(Clone, Debug, Default)]
pub struct Explained {
    pub pairs: Vec<ExplainedPair>,
    pub flagged_records: Vec<FlaggedRecord>,
}

/// An open review task: two records the resolver was unsure about.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewTask {
    pub task_id: u64,
    pub record_a: String,
    pub record_b: String,
    /// The clients the records belong to now (none once erased).
    pub client_a: Option<ClientNumber>,
    pub client_b: Option<ClientNumber>,
    pub probability: f64,
    pub created_ms: i64,
}

/// A member record of a client.
#[derive(Clone, Debug)]
pub struct Member {
    /// The resolver's id of the record (`R0000000001`); the source
    /// system's is `record.record_id`.
    pub record_id: String,
    pub record: Record,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Values of this record kept but flagged as unusable.
    pub flags: Vec<ValueFlag>,
}

/// A client as the resolver holds it: its golden record, members, aliases
/// and lineage. Personal values are disclosed at the edge, under the
/// vault's policy.
#[derive(Clone, Debug)]
pub struct Client {
    pub number: ClientNumber,
    /// The number asked for (an alias when it was absorbed in a merge).
    pub requested: ClientNumber,
    pub golden: Vec<GoldenValue>,
    pub members: Vec<Member>,
    /// Numbers that now resolve to this client.
    pub aliases: Vec<ClientNumber>,
    pub group_ids: Vec<String>,
    pub lineage: Vec<Lineage>,
}

impl Client {
    /// Whether the number asked for was absorbed in a merge.
    pub fn redirected(&self) -> bool {
        self.number != self.requested
    }
}

/// What happened, as the event feed publishes it: numbers and record ids,
/// never personal values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    ClientCreated,
    RecordAttached,
    RecordUpdated,
    ClientsMerged,
    ClientSplit,
    ClientErased,
}

/// One event of a write (its offset is given when it is published).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub client: ClientNumber,
    pub record_id: String,
    pub related_clients: Vec<ClientNumber>,
    pub record_ids: Vec<String>,
    pub at_ms: i64,
}

impl Event {
    pub(crate) fn new(kind: EventKind, client: u64, record_id: &str, at_ms: i64) -> Self {
        Event {
            kind,
            client: ClientNumber::from_sequence(client),
            record_id: record_id.to_string(),
            related_clients: Vec::new(),
            record_ids: Vec::new(),
            at_ms,
        }
    }
}
