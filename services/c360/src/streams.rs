//! What the gate enforces on the bodies of calls, for every service at
//! once:
//!
//! - **Message size.** The request body is followed through its gRPC
//!   framing (a 5-byte prefix per message: flag and length); a message
//!   announced larger than `limits.max_message_bytes` ends the call with
//!   RESOURCE_EXHAUSTED naming the limit, before any of it is buffered
//!   (tonic's own check would say OUT_OF_RANGE).
//! - **Idle streams.** A call that streams requests is closed with
//!   DEADLINE_EXCEEDED when neither side has sent anything for
//!   `limits.stream_idle_timeout_secs`: a response sent counts as activity,
//!   so a client waiting for an answer is not idle.
//! - **Streams per caller.** At most `limits.max_streams_per_caller`
//!   request-streaming calls per caller at once; one more is refused with
//!   RESOURCE_EXHAUSTED naming the limit. The slot is held by the response
//!   body and freed when the call ends.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body::Frame;
use tokio::time::{Instant, Sleep};
use tonic::body::Body;

/// Follows the gRPC length-prefixed framing of a request body.
#[derive(Debug, Default)]
struct Framing {
    prefix: [u8; 5],
    have: usize,
    remaining: u64,
}

impl Framing {
    /// Consumes `data`; the announced length of the first message larger
    /// than `max`, if any.
    fn feed(&mut self, mut data: &[u8], max: usize) -> Result<(), u64> {
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = data
                    .len()
                    .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                self.remaining -= n as u64;
                data = &data[n..];
                continue;
            }
            let n = (5 - self.have).min(data.len());
            self.prefix[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have == 5 {
                self.have = 0;
                let len = u64::from(u32::from_be_bytes([
                    self.prefix[1],
                    self.prefix[2],
                    self.prefix[3],
                    self.prefix[4],
                ]));
                if len > max as u64 {
                    return Err(len);
                }
                self.remaining = len;
            }
        }
        Ok(())
    }
}

/// When either side of a call last sent something.
#[derive(Debug)]
pub struct Activity {
    base: Instant,
    /// Nanoseconds since `base`.
    last: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            base: Instant::now(),
            last: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let nanos = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last.store(nanos, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.base + Duration::from_nanos(self.last.load(Ordering::Relaxed))
    }
}

#[derive(Debug)]
struct Idle {
    timeout: Duration,
    activity: Arc<Activity>,
    sleep: Option<Pin<Box<Sleep>>>,
}

/// A request body checked for message size and, for streams, idleness.
#[derive(Debug)]
pub struct RequestBody {
    inner: Body,
    framing: Framing,
    max_message_bytes: usize,
    idle: Option<Idle>,
    failed: bool,
}

impl RequestBody {
    /// `idle`: the stream's timeout and the activity it shares with its
    /// response (see [`ResponseBody`]); `None` for single requests.
    pub fn wrap(
        inner: Body,
        max_message_bytes: usize,
        idle: Option<(Duration, Arc<Activity>)>,
    ) -> Body {
        Body::new(RequestBody {
            inner,
            framing: Framing::default(),
            max_message_bytes,
            idle: idle.map(|(timeout, activity)| Idle {
                timeout,
                activity,
                sleep: None,
            }),
            failed: false,
        })
    }

    fn fail(&mut self, status: tonic::Status) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        self.failed = true;
        // Dropping the rest of the request lets h2 reset the stream.
        self.inner = Body::empty();
        Poll::Ready(Some(Err(status)))
    }

    /// Whether the idle timeout has passed; arms the timer otherwise.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(idle) = &mut self.idle else {
            return false;
        };
        loop {
            let due = idle.activity.last() + idle.timeout;
            let sleep = idle
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
            if sleep.deadline() != due {
                sleep.as_mut().reset(due);
            }
            if sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            // The timer fired: expired unless the other side was active
            // meanwhile (then wait again from its last activity).
            if idle.activity.last() + idle.timeout <= Instant::now() {
                return true;
            }
        }
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let max = self.max_message_bytes;
                    if let Err(len) = self.framing.feed(data.chunk(), max) {
                        return self.fail(tonic::Status::resource_exhausted(format!(
                            "a message of {len} bytes is larger than the server accepts ({max} bytes, limits.max_message_bytes)"
                        )));
                    }
                }
                if let Some(idle) = &self.idle {
                    idle.activity.touch();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                if self.idle_expired(cx) {
                    let timeout = self.idle.as_ref().map_or(Duration::ZERO, |i| i.timeout);
                    return self.fail(tonic::Status::deadline_exceeded(format!(
                        "the stream was idle for {timeout:?} and is closed (limits.stream_idle_timeout_secs)"
                    )));
                }
                Poll::Pending
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }
}

/// The response of a request-streaming call: marks activity and holds the
/// caller's stream slot until the call ends.
#[derive(Debug)]
pub struct ResponseBody {
    inner: Body,
    activity: Arc<Activity>,
    slot: Option<StreamSlot>,
}

impl ResponseBody {
    pub fn wrap(inner: Body, activity: Arc<Activity>, slot: Option<StreamSlot>) -> Body {
        Body::new(ResponseBody {
            inner,
            activity,
            slot,
        })
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) if frame.is_data() => self.activity.touch(),
            // The call ends (trailers, end, error): the slot is free before
            // the caller can see the end and open another stream.
            Poll::Ready(_) => self.slot = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

/// Open request-streaming calls per caller, bounded.
#[derive(Debug)]
pub struct StreamSlots {
    max: usize,
    open: Mutex<HashMap<String, usize>>,
}

impl StreamSlots {
    /// At most `max` streams per caller; 0: unbounded.
    pub fn new(max: usize) -> Arc<StreamSlots> {
        Arc::new(StreamSlots {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot for one more stream of `caller`, or `None` at the limit.
    pub fn take(self: &Arc<Self>, caller: &str) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(caller.to_string()).or_insert(0);
        if self.max > 0 && *n >= self.max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            slots: self.clone(),
            caller: caller.to_string(),
        })
    }

    /// Streams `caller` has open now.
    pub fn open(&self, caller: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(caller).copied().unwrap_or(0)
    }
}

/// One open stream of a caller; freed on drop.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    caller: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.caller);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn message(len: u32) -> Vec<u8> {
        let mut m = vec![0u8];
        m.extend_from_slice(&len.to_be_bytes());
        m.extend(std::iter::repeat_n(7u8, len as usize));
        m
    }

    #[test]
    fn framing_finds_an_oversized_message_across_any_split() {
        let mut stream = message(10);
        stream.extend(message(0));
        stream.extend(message(100));
        stream.extend(message(101));
        for split in 1..stream.len() {
            let mut f = Framing::default();
            let mut result = Ok(());
            for piece in stream.chunks(split) {
                result = f.feed(piece, 100);
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(result, Err(101), "split {split}");
        }
        let mut f = Framing::default();
        assert_eq!(f.feed(&stream[..stream.len() - 106], 100), Ok(()));
    }

    #[test]
    fn slots_are_bounded_per_caller_and_freed_on_drop() {
        let slots = StreamSlots::new(2);
        let a1 = slots.take("a").unwrap();
        let _a2 = slots.take("a").unwrap();
        assert!(slots.take("a").is_none());
        let _b = slots.take("b").unwrap();
        drop(a1);
        assert_eq!(slots.open("a"), 1);
        assert!(slots.take("a").is_some());
        assert!(StreamSlots::new(0).take("x").is_some());
    }

    #[tokio::test]
    async fn an_idle_stream_ends_with_deadline_exceeded_while_activity_defers_it() {
        use http_body_util::BodyExt;
        use std::sync::atomic::AtomicBool;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, tonic::Status>>(4);
        let inner = Body::new(http_body_util::StreamBody::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ));
        let activity = Activity::new();
        let mut body = RequestBody::wrap(
            inner,
            1 << 20,
            Some((Duration::from_millis(500), activity.clone())),
        );
        tx.send(Ok(Frame::data(Bytes::from(message(3)))))
            .await
            .unwrap();
        assert!(body.frame().await.unwrap().is_ok());
        // The response side stays active for a while: the request side
        // may be silent meanwhile.
        let stopped = Arc::new(AtomicBool::new(false));
        let (a, s) = (activity.clone(), stopped.clone());
        tokio::spawn(async move {
            for _ in 0..40 {
                a.touch();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            s.store(true, Ordering::SeqCst);
        });
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(
            stopped.load(Ordering::SeqCst),
            "closed while the response was active"
        );
        assert_eq!(err.code(), tonic::Code::DeadlineExceeded);
        assert!(
            err.message().contains("stream_idle_timeout_secs"),
            "{}",
            err.message()
        );
        assert!(body.frame().await.is_none());
        drop(tx);
    }
}
