//! Prometheus metrics: calls and latency per method and status, plus
//! gauges read at scrape time (review-queue size, event-feed lag). Labels
//! are method names and status codes only (bounded, never personal).

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FollowerLabels {
    follower: String,
}

type Probe = Box<dyn Fn() -> i64 + Send + Sync>;

pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    latency: Family<MethodLabels, Histogram>,
    review_queue: Gauge,
    feed_lag: Family<FollowerLabels, Gauge>,
    probes: Mutex<Vec<(Option<String>, Probe)>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("c360");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "grpc_requests",
            "gRPC calls by method and status code",
            calls.clone(),
        );
        let latency = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ])
        });
        registry.register(
            "grpc_request_duration_seconds",
            "gRPC call latency by method",
            latency.clone(),
        );
        let review_queue = Gauge::default();
        registry.register(
            "review_queue_size",
            "Open steward review tasks",
            review_queue.clone(),
        );
        let feed_lag = Family::<FollowerLabels, Gauge>::default();
        registry.register(
            "feed_lag_events",
            "Resolver events not yet applied by a follower",
            feed_lag.clone(),
        );
        Metrics {
            registry,
            calls,
            latency,
            review_queue,
            feed_lag,
            probes: Mutex::new(Vec::new()),
        }
    }

    /// Counts one call (latency in seconds; 0 for calls refused early).
    pub fn request(&self, method: &str, code: &str, seconds: f64) {
        self.calls
            .get_or_create(&CallLabels {
                method: method.to_string(),
                code: code.to_string(),
            })
            .inc();
        if seconds > 0.0 {
            self.latency
                .get_or_create(&MethodLabels {
                    method: method.to_string(),
                })
                .observe(seconds);
        }
    }

    /// Reads the review-queue size at each scrape.
    pub fn watch_review_queue(&self, probe: impl Fn() -> i64 + Send + Sync + 'static) {
        self.lock_probes().push((None, Box::new(probe)));
    }

    /// Reads a follower's lag at each scrape.
    pub fn watch_feed_lag(&self, follower: &str, probe: impl Fn() -> i64 + Send + Sync + 'static) {
        self.lock_probes()
            .push((Some(follower.to_string()), Box::new(probe)));
    }

    fn lock_probes(&self) -> std::sync::MutexGuard<'_, Vec<(Option<String>, Probe)>> {
        self.probes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        for (follower, probe) in self.lock_probes().iter() {
            match follower {
                None => {
                    self.review_queue.set(probe());
                }
                Some(name) => {
                    self.feed_lag
                        .get_or_create(&FollowerLabels {
                            follower: name.clone(),
                        })
                        .set(probe());
                }
            }
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Serves `GET /metrics` until `shutdown` resolves.
pub async fn serve(
    metrics: Arc<Metrics>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let m = metrics.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    m.render(),
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_calls_latency_and_probes() {
        let m = Metrics::new();
        m.request("/c360.vault.v1.VaultService/CheckConsent", "OK", 0.001);
        m.watch_review_queue(|| 3);
        m.watch_feed_lag("search", || 7);
        let text = m.render();
        assert!(text.contains("c360_grpc_requests_total{method=\"/c360.vault.v1.VaultService/CheckConsent\",code=\"OK\"} 1"), "{text}");
        assert!(text.contains("c360_review_queue_size 3"), "{text}");
        assert!(
            text.contains("c360_feed_lag_events{follower=\"search\"} 7"),
            "{text}"
        );
        assert!(
            text.contains("c360_grpc_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
