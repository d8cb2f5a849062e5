//! Liveness, readiness and the published keys.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::Auth;
use crate::http::schema::{Detail, Health, Jwks, Readiness};

/// `GET /healthz`: the process answers.
#[utoipa::path(
    get, path = "/healthz", tag = "meta", summary = "Liveness",
    responses((status = 200, description = "The process answers", body = Health))
)]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database (and Redis, when configured) answer
/// within a second.
#[utoipa::path(
    get, path = "/readyz", tag = "meta", summary = "Readiness: database (and Redis) reachable",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Database or Redis unavailable", body = Detail),
    )
)]
pub async fn readyz(State(auth): State<Arc<Auth>>) -> Response {
    let db = tokio::time::timeout(Duration::from_millis(800), auth.store.ping()).await;
    if !matches!(db, Ok(Ok(()))) {
        return unavailable("Database unavailable");
    }
    if let Some(broker) = &auth.broker {
        if broker.ping().await.is_err() {
            return unavailable("Redis unavailable");
        }
        return Json(json!({"status": "ready", "database": "ok", "redis": "ok"})).into_response();
    }
    Json(json!({"status": "ready", "database": "ok"})).into_response()
}

fn unavailable(detail: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "detail": detail })),
    )
        .into_response()
}

/// `GET /.well-known/jwks.json`: the public signing keys.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "standards", summary = "Public signing keys (RFC 7517)",
    responses((status = 200, description = "The JWKS (empty with an HMAC secret)", body = Jwks))
)]
pub async fn jwks(State(auth): State<Arc<Auth>>) -> Response {
    let keys = auth.tokens.keys().get();
    let mut response = Json(keys.jwks()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(
    get, path = "/metrics", tag = "meta", summary = "Prometheus metrics",
    responses((status = 200, description = "Prometheus text format", body = String,
        content_type = "text/plain; version=0.0.4"))
)]
pub async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::render(),
    )
        .into_response()
}
