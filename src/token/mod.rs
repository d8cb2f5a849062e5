//! Access tokens: the claims, issuing and verifying them.
//!
//! Verification is strict and built once from the settings: the configured
//! algorithm only, a known `kid`, `exp` and `nbf` with the configured leeway,
//! `iss`, and `aud` when one is configured.

pub mod keys;
pub mod refresh;

use std::collections::HashSet;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Settings;
use keys::{KeyError, Keys};

/// The claims of a latchkey access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Username.
    pub sub: String,
    /// Numeric user id.
    pub user_id: i64,
    /// Session id.
    pub sid: String,
    /// Unique per token.
    pub jti: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires.
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Granted permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// The granted permissions, space-separated.
    #[serde(default)]
    pub scope: String,
}

impl Claims {
    /// True when the token grants `permission`.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

/// Why a token was refused. Every case answers the same to the client.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Malformed, badly signed, expired, wrong issuer... (the cause is kept
    /// for logs only).
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// The signing key is missing (nothing to sign with).
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// What to put in a new access token.
pub struct Grant<'a> {
    /// Username.
    pub username: &'a str,
    /// User id.
    pub user_id: i64,
    /// Session id.
    pub session_id: &'a str,
    /// Roles.
    pub roles: &'a [String],
    /// Granted permissions (already narrowed to the requested scope).
    pub permissions: &'a [String],
    /// The token never outlives this (the session's end).
    pub not_after: i64,
}

/// Issues and verifies access tokens with the node's keys.
pub struct TokenService {
    keys: Arc<Keys>,
    validation: Validation,
    algorithm: Algorithm,
    issuer: String,
    audience: Option<String>,
    ttl: i64,
}

impl TokenService {
    /// Builds the service; `keys` must be loaded for the same settings.
    pub fn new(settings: &Settings, keys: Arc<Keys>) -> Self {
        let algorithm = keys::algorithm(settings);
        let mut validation = Validation::new(algorithm);
        validation.leeway = settings.clock_leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&settings.issuer]);
        let mut required = vec!["exp", "nbf", "iat", "iss", "sub"];
        match &settings.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Self {
            keys,
            validation,
            algorithm,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl: settings.access_ttl_secs(),
        }
    }

    /// The node's keys.
    pub fn keys(&self) -> &Arc<Keys> {
        &self.keys
    }

    /// Access-token lifetime in seconds.
    pub fn ttl(&self) -> i64 {
        self.ttl
    }

    /// Signs a new access token; returns it with its claims.
    pub fn issue(&self, grant: &Grant<'_>, now: i64) -> Result<(String, Claims), TokenError> {
        let set = self.keys.get();
        let signer = set.signer(now).ok_or(TokenError::Keys(KeyError::Crypto(
            "no active signing key".into(),
        )))?;
        let claims = Claims {
            sub: grant.username.to_string(),
            user_id: grant.user_id,
            sid: grant.session_id.to_string(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            nbf: now,
            exp: (now + self.ttl).min(grant.not_after).max(now + 1),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            roles: grant.roles.to_vec(),
            permissions: grant.permissions.to_vec(),
            scope: grant.permissions.join(" "),
        };
        let mut header = Header::new(self.algorithm);
        header.kid = Some(signer.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &signer.key)
            .map_err(|e| TokenError::Keys(KeyError::Crypto(e.to_string())))?;
        Ok((token, claims))
    }

    /// Verifies signature and claims; any failure is [`TokenError::Invalid`].
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid("header"))?;
        if header.alg != self.algorithm {
            return Err(TokenError::Invalid("algorithm"));
        }
        let kid = header.kid.ok_or(TokenError::Invalid("no kid"))?;
        let verifier = self
            .keys
            .get()
            .verifier(&kid)
            .ok_or(TokenError::Invalid("unknown kid"))?;
        let data = jsonwebtoken::decode::<Claims>(token, &verifier.key, &self.validation)
            .map_err(|_| TokenError::Invalid("signature or claims"))?;
        let claims = data.claims;
        if uuid::Uuid::try_parse(&claims.sid).is_err() || claims.sub.is_empty() {
            return Err(TokenError::Invalid("claims"));
        }
        Ok(claims)
    }

    /// True when `kid` is unknown to this node (a reason to reload keys).
    pub fn is_unknown_kid(&self, token: &str) -> bool {
        jsonwebtoken::decode_header(token)
            .ok()
            .and_then(|h| h.kid)
            .is_some_and(|kid| self.keys.get().verifier(&kid).is_none())
    }
}

/// Narrows `granted` to the space-separated `requested` scope (all of
/// `granted` when no scope was asked for).
///
/// ```
/// let granted = vec!["a".to_string(), "b".to_string()];
/// assert_eq!(latchkey::token::narrow_scope(&granted, Some("b c")), vec!["b".to_string()]);
/// assert_eq!(latchkey::token::narrow_scope(&granted, None), granted);
/// ```
pub fn narrow_scope(granted: &[String], requested: Option<&str>) -> Vec<String> {
    match requested.map(str::trim) {
        None | Some("") => granted.to_vec(),
        Some(scope) => {
            let wanted: HashSet<&str> = scope.split_whitespace().collect();
            granted
                .iter()
                .filter(|p| wanted.contains(p.as_str()))
                .cloned()
                .collect()
        }
    }
}
