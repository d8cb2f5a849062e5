//! A separate resource service that trusts latchkey's tokens: it verifies
//! them with the published JWKS (no signing secret) and checks revocation in
//! the shared database.
//!
//! Run: `LATCHKEY_JWKS_URL=http://127.0.0.1:8000/.well-known/jwks.json
//! DATABASE_URL=sqlite://latchkey.db cargo run --example resource_service`
//! (listens on `RESOURCE_BIND`, default 127.0.0.1:8001).

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use latchkey::http::error::ApiError;
use latchkey::verifier::{VerifiedClaims, Verifier, VerifierConfig};
use serde_json::{Value, json};

/// The service's routes over a started verifier.
pub fn router(verifier: Arc<Verifier>) -> Router {
    Router::new()
        .route("/data", get(data))
        .fallback(|| async { ApiError::NotFound })
        .with_state(verifier)
}

async fn data(VerifiedClaims(claims): VerifiedClaims) -> Json<Value> {
    Json(json!({"owner": claims.sub, "scope": claims.scope, "data": "resource data"}))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jwks_url = std::env::var("LATCHKEY_JWKS_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8000/.well-known/jwks.json".into());
    let verifier = Verifier::start(VerifierConfig {
        jwks_url,
        database_url: std::env::var("DATABASE_URL").ok(),
        ..VerifierConfig::default()
    })
    .await?;
    let bind = std::env::var("RESOURCE_BIND").unwrap_or_else(|_| "127.0.0.1:8001".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!(
        "resource service listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, router(verifier)).await?;
    Ok(())
}
