//! Logs and metrics: the `tracing` subscriber (`LOG_FORMAT=text|json`), and
//! Prometheus counters and latency histograms served at `/metrics`.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::config::LogFormat;

/// Installs the log subscriber (`RUST_LOG` filters; `LOG_FORMAT` shapes).
/// Lines go to standard error; later calls are no-ops.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Latency buckets in seconds, from a cached token check to a slow hash.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's metrics recorder (installed on first use; one per process,
/// shared by every server it runs).
pub fn metrics() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// The metrics in Prometheus text format.
pub fn render() -> String {
    upkeep();
    metrics().map(PrometheusHandle::render).unwrap_or_default()
}

/// Folds the latency samples recorded since the last call into their
/// histograms. The recorder keeps every sample until then, about 20 bytes
/// a request: without this, a server nobody scrapes grows without bound.
/// Runs every [`crate::app::KEY_RELOAD`] and before each `/metrics` answer.
pub fn upkeep() {
    if let Some(handle) = metrics() {
        handle.run_upkeep();
    }
}

/// Middleware: counts requests by route and status and times them.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The `method` label: a standard method's name, or `other`. A client may
/// send any token as its method, and each distinct label value would be a
/// new series kept for the life of the process.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Counts a domain event: `logins_total{result="ok|failed|inactive"}`,
/// `refreshes_total{result="ok|already_used|refused"}`,
/// `refresh_reuse_detected_total`, `revocations_total`,
/// `login_rate_limited_total`.
pub fn count(name: &'static str, result: Option<&'static str>) {
    match result {
        Some(r) => metrics::counter!(name, "result" => r).increment(1),
        None => metrics::counter!(name).increment(1),
    }
}
