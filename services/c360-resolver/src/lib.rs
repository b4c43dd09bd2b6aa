//! The resolver service: real-time entity resolution over gRPC, stable
//! client numbers, steward operations and an event feed.
//!
//! The domain ([`Resolver`]) knows nothing of the wire; [`grpc`] adapts it
//! to `c360.resolver.v1.ResolverService`.
//!
//! Values that cannot be standardised (a birth date "1950-51-01") are kept
//! on their record, flagged and counted ([`quality`]); a strict request
//! refuses them instead.
//!
//! Survivor rule: when clients merge, the client created first (the lowest
//! sequence behind its number) survives; the others become its aliases and
//! keep resolving to it.

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

pub use error::{Error, Result};
pub use golden::{Rule, Survivorship};
pub use number::{ClientNumber, NumberError};
pub use persist::Pending;
pub use resolver::{
    Explained, Incoming, MAX_LOOKUP, NumberState, Resolution, Resolver, ResolverConfig, Retrained,
};
pub use stored::SPACES;
