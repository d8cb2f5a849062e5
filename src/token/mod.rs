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

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::config::Secret;

    /// Every algorithm name a header may claim, and some spellings of none.
    const ALGS: &[&str] = &[
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "ES384", "ES512", "ES256K", "EdDSA", "Ed25519", "none", "None", "NONE", "nOnE", "",
        "hs256", "EDDSA",
    ];

    const SECRET: &str = "property-test-secret-of-32-bytes!!";

    /// An HMAC service and an EdDSA one.
    fn services() -> &'static [TokenService] {
        static SERVICES: OnceLock<Vec<TokenService>> = OnceLock::new();
        SERVICES.get_or_init(|| {
            let hmac = Settings {
                secret_key: Some(Secret::new(SECRET.into())),
                ..Settings::default()
            };
            let eddsa = Settings::default();
            let row = keys::generate(Algorithm::EdDSA, 0, 0).expect("key");
            vec![
                TokenService::new(
                    &hmac,
                    Arc::new(Keys::from_rows(&hmac, vec![], 0).expect("keys")),
                ),
                TokenService::new(
                    &eddsa,
                    Arc::new(Keys::from_rows(&eddsa, vec![row], 0).expect("keys")),
                ),
            ]
        })
    }

    fn kid(service: &TokenService) -> String {
        service.keys().get().signer(0).expect("signer").kid.clone()
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A claim that is right, missing, or wrong in some way.
    fn claim(good: Value) -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            3 => Just(Some(good)),
            1 => Just(None),
            1 => json_value().prop_map(Some),
        ]
    }

    fn claims() -> impl Strategy<Value = Value> {
        let now = crate::clock::now();
        let time = move |offset: i64| {
            prop_oneof![
                3 => Just(Some(json!(now + offset))),
                1 => (-100_000i64..100_000).prop_map(move |d| Some(json!(now + d))),
                1 => Just(Some(json!(i64::MAX))),
                1 => Just(Some(json!(-1))),
                1 => Just(Some(json!(1e300))),
                1 => Just(None),
                1 => json_value().prop_map(Some),
            ]
        };
        (
            (
                claim(json!("john")),
                claim(json!(1)),
                claim(json!(uuid::Uuid::new_v4().to_string())),
                claim(json!("jti")),
            ),
            (time(0), time(0), time(600)),
            (
                claim(json!("latchkey")),
                claim(json!(["admin"])),
                claim(json!(["users:admin"])),
                claim(json!("users:admin")),
            ),
        )
            .prop_map(
                |((sub, user_id, sid, jti), (iat, nbf, exp), (iss, roles, permissions, scope))| {
                    let mut map = serde_json::Map::new();
                    let fields = [
                        ("sub", sub),
                        ("user_id", user_id),
                        ("sid", sid),
                        ("jti", jti),
                        ("iat", iat),
                        ("nbf", nbf),
                        ("exp", exp),
                        ("iss", iss),
                        ("roles", roles),
                        ("permissions", permissions),
                        ("scope", scope),
                    ];
                    for (name, value) in fields {
                        if let Some(v) = value {
                            map.insert(name.to_string(), v);
                        }
                    }
                    Value::Object(map)
                },
            )
    }

    fn encode(part: &[u8]) -> String {
        B64.encode(part)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn arbitrary_text_never_verifies(text in "\\PC{0,300}") {
            for s in services() {
                prop_assert!(matches!(s.verify(&text), Err(TokenError::Invalid(_))));
            }
        }

        #[test]
        fn arbitrary_segments_never_verify(
            parts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 1..5),
        ) {
            let token = parts.iter().map(|p| encode(p)).collect::<Vec<_>>().join(".");
            for s in services() {
                prop_assert!(matches!(s.verify(&token), Err(TokenError::Invalid(_))));
            }
        }

        /// Any `alg`, a real, hostile or missing `kid`, key-fetching headers,
        /// any claims, any signature: refused, by both kinds of service.
        #[test]
        fn arbitrary_headers_and_claims_with_every_alg_name_never_verify(
            alg in prop::sample::select(ALGS),
            hostile_kid in prop_oneof![
                Just(None),
                Just(Some("real".to_string())),
                Just(Some("../../../../dev/null".to_string())),
                Just(Some("' OR '1'='1".to_string())),
                "\\PC{0,40}".prop_map(Some),
            ],
            extra in prop::collection::btree_map(
                prop::sample::select(&["jku", "x5u", "jwk", "x5c", "crit", "typ", "cty"][..]),
                json_value(),
                0..3,
            ),
            claims in prop_oneof![claims(), json_value()],
            signature in prop::collection::vec(any::<u8>(), 0..100),
        ) {
            for s in services() {
                let mut header = json!({"alg": alg, "typ": "JWT"});
                match hostile_kid.as_deref() {
                    Some("real") => header["kid"] = json!(kid(s)),
                    Some(k) => header["kid"] = json!(k),
                    None => {}
                }
                for (name, value) in &extra {
                    header[*name] = value.clone();
                }
                let token = format!(
                    "{}.{}.{}",
                    encode(header.to_string().as_bytes()),
                    encode(claims.to_string().as_bytes()),
                    encode(&signature),
                );
                prop_assert!(matches!(s.verify(&token), Err(TokenError::Invalid(_))), "{header}");
            }
        }

        /// Claims signed with the real key pass only when every check holds.
        #[test]
        fn signed_claims_verify_only_when_valid(claims in claims()) {
            let service = &services()[0];
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(kid(service));
            let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
            let token = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
            let now = crate::clock::now();
            match service.verify(&token) {
                Ok(c) => {
                    prop_assert_eq!(c.iss.as_str(), "latchkey");
                    prop_assert!(c.exp.saturating_add(30) >= now, "expired: {}", claims);
                    prop_assert!(c.nbf.saturating_sub(30) <= now, "not yet valid: {}", claims);
                    prop_assert!(uuid::Uuid::try_parse(&c.sid).is_ok());
                    prop_assert!(!c.sub.is_empty());
                }
                Err(e) => prop_assert!(matches!(e, TokenError::Invalid(_))),
            }
        }
    }
}
