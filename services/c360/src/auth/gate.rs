//! The gate: one tower layer in front of every service (authentication,
//! rate limit, deadline, span, metrics).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tonic::body::Body;
use tracing::Instrument;

use super::{RateLimiter, TokenStore};

/// What the layer needs, shared by every connection.
#[derive(Debug)]
pub struct Gate {
    pub tokens: TokenStore,
    pub limiter: RateLimiter,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// How long a call may take to start answering when the caller set no
    /// deadline (a stream, once started, runs on).
    pub default_timeout: Duration,
    /// The methods served: metric labels and which calls stream requests.
    pub methods: crate::methods::Methods,
    /// Open request streams per caller, bounded.
    pub streams: Arc<crate::streams::StreamSlots>,
    /// A request stream idle this long is closed; `None`: never.
    pub stream_idle_timeout: Option<Duration>,
    /// Largest request message (checked on the wire, for every service).
    pub max_message_bytes: usize,
}

/// The tower layer: authentication, rate limit, deadline, span, metrics.
#[derive(Clone, Debug)]
pub struct GateLayer(pub Arc<Gate>);

impl<S> tower::Layer<S> for GateLayer {
    type Service = GateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            gate: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone, Debug)]
pub struct GateService<S> {
    gate: Arc<Gate>,
    inner: S,
}

fn reject(status: tonic::Status) -> http::Response<Body> {
    status.into_http()
}

pub(super) fn bearer(headers: &http::HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(http::header::AUTHORIZATION)?;
    let text = value.to_str().map_err(|_| ()).ok();
    // The scheme is case-insensitive (RFC 6750 via RFC 7235): "Bearer",
    // "bearer", "BEARER" alike.
    let token = text.and_then(|t| {
        let (scheme, rest) = t.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    Some(token.filter(|t| !t.is_empty()).ok_or(()))
}

impl<S> tower::Service<http::Request<Body>> for GateService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        // The ready inner service goes with this call; a fresh clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        // Unknown paths share one label: made-up methods cannot grow metrics.
        let method = gate.methods.label(req.uri().path()).to_string();
        let streaming = gate.methods.client_streaming(req.uri().path());
        let parent = crate::telemetry::extract_context(req.headers());
        Box::pin(async move {
            let caller = match bearer(req.headers()) {
                None => None,
                Some(Err(())) => {
                    return Ok(reject(tonic::Status::unauthenticated(
                        "malformed authorization header (expected `Bearer <token>`)",
                    )));
                }
                Some(Ok(token)) => match gate.tokens.authenticate(token) {
                    Some(c) => Some(c),
                    None => {
                        gate.metrics.request(&method, "UNAUTHENTICATED", 0.0);
                        return Ok(reject(tonic::Status::unauthenticated("unknown token")));
                    }
                },
            };
            let role = caller.as_ref().map_or("none", |c| c.role.as_str());
            if let Some(c) = &caller {
                if !gate.limiter.allow(&c.id) {
                    gate.metrics.request(&method, "RESOURCE_EXHAUSTED", 0.0);
                    return Ok(reject(tonic::Status::resource_exhausted(
                        "rate limit exceeded for this caller",
                    )));
                }
                req.extensions_mut().insert(c.clone());
            }
            let slot = match (&caller, streaming) {
                (Some(c), true) => match gate.streams.take(&c.id) {
                    Some(slot) => Some(slot),
                    None => {
                        gate.metrics.request(&method, "RESOURCE_EXHAUSTED", 0.0);
                        return Ok(reject(tonic::Status::resource_exhausted(format!(
                            "this caller already has {} streams open (limits.max_streams_per_caller)",
                            gate.streams.max()
                        ))));
                    }
                },
                _ => None,
            };
            let activity = streaming.then(crate::streams::Activity::new);
            let idle = gate.stream_idle_timeout.zip(activity.clone());
            let max_message_bytes = gate.max_message_bytes;
            let req = req.map(|b| crate::streams::RequestBody::wrap(b, max_message_bytes, idle));
            let span = tracing::info_span!(
                "grpc",
                otel.name = %method,
                otel.kind = "server",
                rpc.system = "grpc",
                rpc.method = %method,
                caller.role = role,
                grpc.status = tracing::field::Empty,
            );
            crate::telemetry::set_parent(&span, parent);
            let start = Instant::now();
            let now = tokio::time::Instant::now();
            let caller_deadline = match crate::deadline::parse_grpc_timeout(req.headers()) {
                Ok(t) => t.map(|t| crate::deadline::server_deadline(now, t)),
                Err(why) => {
                    gate.metrics.request(&method, "INVALID_ARGUMENT", 0.0);
                    return Ok(reject(tonic::Status::invalid_argument(why)));
                }
            };
            if caller_deadline.is_some_and(|d| d <= now) {
                gate.metrics.request(&method, "DEADLINE_EXCEEDED", 0.0);
                return Ok(reject(tonic::Status::deadline_exceeded(
                    "deadline exceeded before the call started",
                )));
            }
            let start_by = caller_deadline.map_or(now + gate.default_timeout, |d| {
                d.min(now + gate.default_timeout)
            });
            let call = inner.call(req).instrument(span.clone());
            let result = match tokio::time::timeout_at(start_by, call).await {
                Ok(result) => result.map(|resp| {
                    let resp = match activity {
                        Some(a) => resp.map(|b| crate::streams::ResponseBody::wrap(b, a, slot)),
                        None => resp,
                    };
                    match caller_deadline {
                        Some(d) => resp.map(|body| crate::deadline::DeadlineBody::wrap(body, d)),
                        None => resp,
                    }
                }),
                Err(_elapsed) => Ok(reject(tonic::Status::deadline_exceeded(
                    if caller_deadline == Some(start_by) {
                        "deadline exceeded".to_string()
                    } else {
                        format!(
                            "no answer within the server's default timeout of {} s",
                            gate.default_timeout.as_secs()
                        )
                    },
                ))),
            };
            if let Ok(resp) = &result {
                let code = resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or("OK", code_name);
                span.record("grpc.status", code);
                gate.metrics
                    .request(&method, code, start.elapsed().as_secs_f64());
            }
            result
        })
    }
}

fn code_name(code: i32) -> &'static str {
    match tonic::Code::from_i32(code) {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
