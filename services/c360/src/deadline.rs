//! Deadlines: the caller's `grpc-timeout` is honoured for the whole call,
//! streamed responses included, and answered with `DEADLINE_EXCEEDED`.
//!
//! tonic's own timeout stops at the response headers (a server stream or a
//! bidirectional `Ingest` runs on past the caller's deadline) and answers
//! `CANCELLED`. The gate therefore sets its own deadline a little before the
//! caller's ([`MARGIN`]), so the status reaches the caller while it is still
//! listening, and wraps streamed bodies in [`DeadlineBody`], which ends the
//! stream with `DEADLINE_EXCEEDED` trailers when the deadline passes.
//! Dropping the inner body drops the handler's stream, which stops the work.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use tokio::time::{Instant, Sleep};
use tonic::body::Body;

/// How much earlier than the caller's deadline the server gives up.
pub const MARGIN: Duration = Duration::from_millis(2);

/// Parses a `grpc-timeout` header value: at most eight ASCII digits and a
/// unit (`H`, `M`, `S`, `m`, `u`, `n`). `None` when absent; an error text
/// when malformed.
pub fn parse_grpc_timeout(headers: &http::HeaderMap) -> Result<Option<Duration>, &'static str> {
    let Some(value) = headers.get("grpc-timeout") else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| "grpc-timeout is not ASCII")?;
    if text.len() < 2 || text.len() > 9 {
        return Err("grpc-timeout must be 1 to 8 digits and a unit");
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("grpc-timeout must be 1 to 8 digits and a unit");
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| "grpc-timeout must be 1 to 8 digits and a unit")?;
    let d = match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return Err("grpc-timeout unit must be one of H M S m u n"),
    };
    Ok(Some(d))
}

/// The instant the server gives up on a call that arrived at `now` with
/// the caller's `timeout`.
pub fn server_deadline(now: Instant, timeout: Duration) -> Instant {
    now + timeout.saturating_sub(MARGIN)
}

/// A response body that ends with `DEADLINE_EXCEEDED` trailers once its
/// deadline passes.
#[derive(Debug)]
pub struct DeadlineBody {
    inner: Body,
    sleep: Pin<Box<Sleep>>,
    expired: bool,
}

impl DeadlineBody {
    pub fn wrap(inner: Body, deadline: Instant) -> Body {
        Body::new(Self {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            expired: false,
        })
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired = true;
            // Replacing the inner body drops the handler's stream.
            self.inner = Body::empty();
            let mut trailers = http::HeaderMap::new();
            // Only fails on a message that cannot be a header; this one can.
            let _ = tonic::Status::deadline_exceeded("deadline exceeded").add_header(&mut trailers);
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn header(v: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("grpc-timeout", v.parse().unwrap());
        h
    }

    #[test]
    fn parses_every_unit_and_refuses_malformed_values() {
        let cases = [
            ("1H", Duration::from_secs(3600)),
            ("2M", Duration::from_secs(120)),
            ("3S", Duration::from_secs(3)),
            ("250m", Duration::from_millis(250)),
            ("99999999u", Duration::from_micros(99_999_999)),
            ("0n", Duration::ZERO),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_grpc_timeout(&header(text)).unwrap(),
                Some(want),
                "{text}"
            );
        }
        for bad in ["", "S", "5", "123456789S", "5s", "-5S", "5 S"] {
            assert!(parse_grpc_timeout(&header(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(parse_grpc_timeout(&http::HeaderMap::new()).unwrap(), None);
    }
}
