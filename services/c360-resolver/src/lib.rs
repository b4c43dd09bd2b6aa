//! The resolver service: real-time entity resolution over gRPC, stable
//! client numbers, steward operations and an event feed.
//!
//! The domain ([`Resolver`], in `resolver.rs` and `resolver/`) holds
//! `c360_core::Record` and answers in its own types ([`answers`]); no
//! generated or tonic type is named in it. [`grpc`] adapts it to
//! `c360.resolver.v1.ResolverService`, converting through [`convert`]
//! (which also holds the codecs of the stored record payloads and events,
//! the wire's encodings). Its errors say their `c360_rpc::ErrorKind`.
//! The first model is the caller's (the `c360` binary trains one on
//! synthetic records), asked for only when the store holds none.
//!
//! Values that cannot be standardised (a birth date "1950-51-01") are kept
//! on their record, flagged and counted ([`quality`]); a strict request
//! refuses them instead.
//!
//! Survivor rule: when clients merge, the client created first (the lowest
//! sequence behind its number) survives; the others become its aliases and
//! keep resolving to it.

pub mod answers;
pub mod convert;
pub mod disclose;
mod error;
pub mod golden;
pub mod grpc;
mod number;
mod persist;
pub mod quality;
mod resolver;
mod stored;
mod validate;

pub use answers::{
    Candidate, Client, Decision, Event, EventKind, Explained, ExplainedPair, FlaggedRecord,
    Incoming, MAX_LOOKUP, Member, NumberState, Resolution, ReviewTask,
};
pub use error::{Error, Result};
pub use golden::GoldenValue;
pub use golden::{Rule, Survivorship};
pub use number::{ClientNumber, NumberError};
pub use persist::Pending;
pub use resolver::{Resolver, ResolverConfig, Retrained};
pub use stored::{Lineage, LineageKind, SPACES, STORAGE};
pub use validate::{MAX_FIELD_BYTES, MAX_VALUES, validate};
