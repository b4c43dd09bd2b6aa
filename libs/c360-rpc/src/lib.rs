//! What every c360 gRPC service shares.
//!
//! - [`Caller`] and [`Role`]: who is calling. The server's authentication
//!   layer (in the `c360` binary) puts a `Caller` into each request's
//!   extensions; each RPC checks it with [`authorize`].
//! - [`PeerChannel`]: the channel a service uses to call another one, the
//!   same generated client code whether the peer is in the same process
//!   ([`in_process`]) or across the network ([`remote`]).
//! - [`follow_feed`]: follows the resolver's event feed from a checkpoint,
//!   reconnecting after failures, so that vault, search and channels follow
//!   identity (merges, splits, erasures).
//! - [`IssuedNumbers`]: was a client number issued? asked of the resolver
//!   through the [`NumberIssuer`] port (its gRPC client, or its domain in
//!   one process).
//! - [`Disclosure`]: what an outside caller may see of a client's personal
//!   values, as the vault's policy decides (and logs).
//! - [`invalid_argument`]: the one way to say "bad input" (INVALID_ARGUMENT
//!   with a `BadRequest` naming the field, never its value), and
//!   [`ErrorKind`] → [`status`]: the one mapping of a service error's kind
//!   to a gRPC code and details.

mod auth;
mod disclosure;
mod error;
mod feed;
mod issued;
mod peer;

pub use auth::{Caller, Peer, Role, Sources, authorize, authorize_only, with_caller};
pub use disclosure::{Access, Disclosure, Grant};
pub use error::{ErrorKind, ServiceError, status, status_of};
pub use feed::{
    EventKind, FeedEvent, FeedHandler, FeedProgress, Follower, feed_events, follow_feed,
};
pub use issued::{IssuedNumbers, Lookup, LookupError, LookupFuture, NumberIssuer, NumberStatus};
pub use peer::{
    BoxError, HeaderHook, LatePeer, PeerChannel, PeerError, as_caller, in_process, remote,
};

/// Runs blocking domain work (locks, durable commits) on tokio's blocking
/// pool and maps the domain error to a gRPC status, for the adapters.
pub async fn blocking<T, E>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, tonic::Status>
where
    T: Send + 'static,
    E: Into<tonic::Status> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| tonic::Status::internal(format!("task failed: {e}")))?
        .map_err(Into::into)
}

/// INVALID_ARGUMENT naming the offending field in a `BadRequest` detail.
/// `description` must not contain the value (it may be personal data).
pub fn invalid_argument(field: &str, description: impl Into<String>) -> tonic::Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let description = description.into();
    let message = format!("invalid {field}: {description}");
    let details = ErrorDetails::with_bad_request_violation(field, description);
    tonic::Status::with_error_details(tonic::Code::InvalidArgument, message, details)
}
