use std::sync::Arc;

use tonic::body::Body;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::Caller;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The channel a service calls its peers through. Generated clients run on
/// it unchanged (`VaultServiceClient::new(channel)`), whether the peer is in
/// the same process or across the network.
pub type PeerChannel = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, PeerError>;

/// A transport failure calling a peer. A concrete type (not a boxed trait
/// object) so the futures of generated clients stay provably `Send`.
#[derive(Debug)]
pub struct PeerError(BoxError);

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for PeerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// A channel to a co-located service: requests go straight to its generated
/// server (no socket, no authentication layer), carrying `caller` as the
/// identity the authentication layer would have attached, unless the
/// request already carries one ([`as_caller`]).
pub fn in_process<S>(server: S, caller: Caller) -> PeerChannel
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    let svc = server
        .map_request(move |mut req: http::Request<Body>| {
            if req.extensions().get::<Caller>().is_none() {
                req.extensions_mut().insert(caller.clone());
            }
            req
        })
        .map_err(|e| PeerError(e.into()));
    BoxCloneSyncService::new(svc)
}

/// `channel` with every in-process call made as `caller` (one shared
/// in-process peer, each co-located service calling it as itself). A
/// remote peer ignores it: there the bearer token says who calls.
pub fn as_caller(channel: PeerChannel, caller: Caller) -> PeerChannel {
    BoxCloneSyncService::new(channel.map_request(move |mut req: http::Request<Body>| {
        req.extensions_mut().insert(caller.clone());
        req
    }))
}

/// Adds headers to every outgoing request: the bearer token, and whatever
/// the hook adds (the binary injects the W3C `traceparent` there).
pub type HeaderHook = Arc<dyn Fn(&mut http::HeaderMap) + Send + Sync>;

/// A channel to a remote service over gRPC. `token` is sent as
/// `authorization: Bearer <token>` on every call.
pub fn remote(
    channel: tonic::transport::Channel,
    token: Option<&str>,
    hook: Option<HeaderHook>,
) -> Result<PeerChannel, BoxError> {
    let auth = match token {
        Some(t) => {
            let mut v = http::HeaderValue::from_str(&format!("Bearer {t}"))?;
            v.set_sensitive(true);
            Some(v)
        }
        None => None,
    };
    let svc = channel
        .map_request(move |mut req: http::Request<Body>| {
            if let Some(v) = &auth {
                req.headers_mut()
                    .insert(http::header::AUTHORIZATION, v.clone());
            }
            if let Some(h) = &hook {
                h(req.headers_mut());
            }
            req
        })
        .map_err(|e| PeerError(e.into()));
    Ok(BoxCloneSyncService::new(svc))
}

/// A channel handed out before its peer exists: two co-located services
/// that need each other at start (the vault calls the resolver; the
/// resolver's keys are the vault's). Calls before [`LatePeer::bind`] fail
/// as a transport error, which callers retry like any unavailable peer.
#[derive(Clone, Default)]
pub struct LatePeer(Arc<std::sync::OnceLock<PeerChannel>>);

impl std::fmt::Debug for LatePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatePeer")
            .field("bound", &self.0.get().is_some())
            .finish()
    }
}

impl LatePeer {
    /// The channel; it reaches the peer once bound.
    pub fn channel(&self) -> PeerChannel {
        let cell = self.0.clone();
        BoxCloneSyncService::new(tower::service_fn(move |req: http::Request<Body>| {
            let peer = cell.get().cloned();
            async move {
                match peer {
                    Some(peer) => peer.oneshot(req).await,
                    None => Err(PeerError("the peer is not started yet".into())),
                }
            }
        }))
    }

    /// Binds the peer (once; later calls are ignored).
    pub fn bind(&self, channel: PeerChannel) {
        let _ = self.0.set(channel);
    }
}
