//! The resource-service verifier: checks latchkey access tokens in another
//! service with only the published keys (no signing secret), caching the
//! JWKS, and checks revocation through the shared store.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use latchkey::verifier::{Verifier, VerifierConfig};
//! let verifier = Verifier::start(VerifierConfig {
//!     jwks_url: "http://127.0.0.1:8000/.well-known/jwks.json".into(),
//!     database_url: Some("sqlite://latchkey.db".into()),
//!     ..VerifierConfig::default()
//! })
//! .await?;
//! let claims = verifier.verify("eyJ...").await?;
//! println!("{}", claims.sub);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::auth::AuthError;
use crate::clock;
use crate::config::Settings;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::presented_token;
use crate::revocation::{Revocations, Status};
use crate::store::{self, Store};
use crate::token::Claims;

/// Where the verifier finds keys and revocations, and what it accepts.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The latchkey server's `/.well-known/jwks.json`.
    pub jwks_url: String,
    /// The shared database, for revocations (`None`: revocation unchecked,
    /// tokens are trusted until they expire).
    pub database_url: Option<String>,
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`, when the server sets one.
    pub audience: Option<String>,
    /// Seconds of clock skew tolerated.
    pub leeway: u64,
    /// How long a fetched JWKS is used before it is fetched again.
    pub jwks_max_age: Duration,
    /// The server's access-token lifetime (how long revocations matter).
    pub access_token_expire_minutes: u64,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        let s = Settings::default();
        Self {
            jwks_url: "http://127.0.0.1:8000/.well-known/jwks.json".into(),
            database_url: None,
            issuer: s.issuer,
            audience: None,
            leeway: s.clock_leeway,
            jwks_max_age: Duration::from_secs(60),
            access_token_expire_minutes: s.access_token_expire_minutes,
        }
    }
}

struct CachedKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Verifies latchkey access tokens outside the server.
pub struct Verifier {
    config: VerifierConfig,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, Arc<CachedKey>>>,
    fetched_at_ms: AtomicI64,
    revocations: Option<Arc<Revocations>>,
    store: Option<Arc<dyn Store>>,
}

/// Why the verifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    /// The JWKS could not be fetched or read.
    #[error("fetching the JWKS: {0}")]
    Jwks(String),
    /// The shared store could not be opened.
    #[error("opening the shared store: {0}")]
    Store(#[from] store::StoreError),
}

impl Verifier {
    /// Fetches the JWKS and, with a database URL, loads and follows the
    /// revocations.
    pub async fn start(config: VerifierConfig) -> Result<Arc<Self>, VerifierError> {
        let (store, revocations) = match &config.database_url {
            Some(url) => {
                let settings = Settings {
                    database_url: url.clone(),
                    ..Settings::default()
                };
                let store = store::connect(&settings).await?;
                let remember =
                    i64::try_from(config.access_token_expire_minutes * 60 + config.leeway)
                        .unwrap_or(i64::MAX / 4);
                let revocations = Arc::new(Revocations::load(store.as_ref(), remember).await?);
                revocations.spawn_sync(store.clone());
                (Some(store), Some(revocations))
            }
            None => (None, None),
        };
        let this = Arc::new(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| VerifierError::Jwks(e.to_string()))?,
            config,
            keys: RwLock::new(HashMap::new()),
            fetched_at_ms: AtomicI64::new(0),
            revocations,
            store,
        });
        this.fetch_jwks().await?;
        Ok(this)
    }

    /// The shared store, when one was configured.
    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.store.as_ref()
    }

    async fn fetch_jwks(&self) -> Result<(), VerifierError> {
        let err = |e: reqwest::Error| VerifierError::Jwks(e.to_string());
        let set: JwkSet = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(err)?
            .error_for_status()
            .map_err(err)?
            .json()
            .await
            .map_err(err)?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let algorithm = match jwk.common.key_algorithm {
                Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
                Some(KeyAlgorithm::ES256) => Algorithm::ES256,
                Some(KeyAlgorithm::RS256) => Algorithm::RS256,
                _ => continue,
            };
            let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk))
            else {
                continue;
            };
            keys.insert(kid, Arc::new(CachedKey { algorithm, key }));
        }
        match self.keys.write() {
            Ok(mut g) => *g = keys,
            Err(p) => *p.into_inner() = keys,
        }
        self.fetched_at_ms.store(clock::now_ms(), Ordering::Relaxed);
        Ok(())
    }

    fn key(&self, kid: &str) -> Option<Arc<CachedKey>> {
        match self.keys.read() {
            Ok(g) => g.get(kid).cloned(),
            Err(p) => p.into_inner().get(kid).cloned(),
        }
    }

    /// Verifies a token: signature by a published key, claims, revocation.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken("header"))?;
        let kid = header.kid.ok_or(AuthError::InvalidToken("no kid"))?;
        let age_ms = clock::now_ms() - self.fetched_at_ms.load(Ordering::Relaxed);
        let max_age_ms = i64::try_from(self.config.jwks_max_age.as_millis()).unwrap_or(i64::MAX);
        let mut key = self.key(&kid);
        // Refetch when the cache is old, or (at most once a second) when a
        // token names a key not seen yet.
        if age_ms > max_age_ms || (key.is_none() && age_ms > 1_000) {
            if let Err(e) = self.fetch_jwks().await {
                tracing::warn!(error = %e, "JWKS refresh failed; using the cached keys");
            }
            key = self.key(&kid);
        }
        let key = key.ok_or(AuthError::InvalidToken("unknown kid"))?;
        if header.alg != key.algorithm {
            return Err(AuthError::InvalidToken("algorithm"));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = self.config.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.config.issuer]);
        match &self.config.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|_| AuthError::InvalidToken("signature or claims"))?
            .claims;
        if let Some(revocations) = &self.revocations {
            match revocations.check(&claims.sid) {
                Status::Active => {}
                Status::Revoked => return Err(AuthError::Revoked),
                Status::Unknown => {
                    return Err(AuthError::Unavailable("revocation state unknown".into()));
                }
            }
        }
        Ok(claims)
    }
}

/// An axum extractor for resource services: the claims of a verified token.
///
/// ```no_run
/// use latchkey::verifier::VerifiedClaims;
/// async fn handler(VerifiedClaims(claims): VerifiedClaims) -> String {
///     claims.sub
/// }
/// ```
pub struct VerifiedClaims(pub Claims);

impl<S> FromRequestParts<S> for VerifiedClaims
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        let verifier = Arc::<Verifier>::from_ref(state);
        let (token, _) = presented_token(parts)?;
        Ok(VerifiedClaims(verifier.verify(&token).await?))
    }
}
