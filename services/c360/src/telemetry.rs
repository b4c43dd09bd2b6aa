//! Logs, traces and trace-context propagation.
//!
//! - Logs: `tracing` to stderr, text or JSON lines (`telemetry.json_logs`);
//!   colour only when stderr is a terminal (and `NO_COLOR` is unset).
//! - Traces: exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//!   set (the standard OpenTelemetry variables apply, e.g.
//!   `OTEL_SERVICE_NAME`).
//! - Context: the W3C `traceparent` of an incoming call becomes the parent
//!   of its span; calls to remote peers carry the current span's context.
//!
//! Spans carry method names, roles, status codes and client numbers, never
//! personal values.

use std::sync::Arc;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::TelemetryConfig;

/// Keeps the exporter alive; flush it with [`Telemetry::shutdown`].
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes pending spans.
    pub fn shutdown(self) {
        if let Some(Err(e)) = self.provider.map(|p| p.shutdown()) {
            eprintln!("warning: cannot flush traces: {e}");
        }
    }
}

/// Installs the global subscriber (once per process).
pub fn init(config: &TelemetryConfig, service_name: &str) -> anyhow::Result<Telemetry> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log_filter))?;
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
    let provider = match endpoint.filter(|e| !e.is_empty()) {
        Some(_) => {
            use opentelemetry_otlp::WithExportConfig as _;
            // The builder reads OTEL_EXPORTER_OTLP_ENDPOINT itself.
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_protocol(opentelemetry_otlp::Protocol::Grpc)
                .build()?;
            let name =
                std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service_name.to_string());
            let resource = opentelemetry_sdk::Resource::builder()
                .with_service_name(name)
                .build();
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource)
                    .build(),
            )
        }
        None => None,
    };
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("c360")));
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let result = if config.json_logs {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        // Colour only on a terminal: a file or a pipe gets plain text.
        use std::io::IsTerminal;
        let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            )
            .try_init()
    };
    if result.is_err() {
        // Already installed (several servers in one test process).
        tracing::debug!("tracing subscriber already installed");
    }
    Ok(Telemetry { provider })
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// The trace context an incoming call carries, if any.
pub fn extract_context(headers: &http::HeaderMap) -> Option<opentelemetry::Context> {
    headers.get("traceparent")?;
    Some(TraceContextPropagator::new().extract(&HeaderExtractor(headers)))
}

/// Makes `parent` (from [`extract_context`]) the parent of `span`.
pub fn set_parent(span: &tracing::Span, parent: Option<opentelemetry::Context>) {
    if let Some(cx) = parent {
        let _ = span.set_parent(cx);
    }
}

/// The hook remote peer channels run on every request: injects the
/// current span's `traceparent`.
pub fn inject_hook() -> c360_rpc::HeaderHook {
    Arc::new(|headers: &mut http::HeaderMap| {
        let cx = tracing::Span::current().context();
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
    })
}
