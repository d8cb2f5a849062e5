//! Signing keys: the HMAC secret, or asymmetric keys generated on first start
//! and stored in the database so every node shares them; the JWKS; rotation.
//!
//! A key signs from its `activates_at` on; a rotated-out key stays published
//! (and accepted) until every token it signed has expired.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::store::{KeyRow, Store, StoreError};

/// Why keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key generation or decoding failed.
    #[error("signing key error: {0}")]
    Crypto(String),
}

/// The configured signing algorithm.
pub fn algorithm(settings: &Settings) -> Algorithm {
    let name = settings.algorithm.as_deref().map(str::to_ascii_uppercase);
    match (settings.secret_key.is_some(), name.as_deref()) {
        (true, Some("HS384")) => Algorithm::HS384,
        (true, Some("HS512")) => Algorithm::HS512,
        (true, _) => Algorithm::HS256,
        (false, Some("ES256")) => Algorithm::ES256,
        (false, Some("RS256")) => Algorithm::RS256,
        (false, _) => Algorithm::EdDSA,
    }
}

/// The name an algorithm has in `ALGORITHM` and in the `alg` header.
pub fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::RS256 => "RS256",
        Algorithm::EdDSA => "EdDSA",
        _ => "unsupported",
    }
}

/// A key that can sign.
pub struct Signer {
    /// Key id, put in the token header.
    pub kid: String,
    /// Signing key.
    pub key: EncodingKey,
}

/// A key that can verify.
pub struct Verifier {
    /// Verification key.
    pub key: DecodingKey,
}

/// Every key a node knows at one moment.
pub struct KeySet {
    /// The algorithm every key uses.
    pub algorithm: Algorithm,
    signers: Vec<(i64, Arc<Signer>)>,
    verifiers: HashMap<String, Arc<Verifier>>,
    jwks: JwkSet,
}

impl KeySet {
    /// The key that signs at `now`: the latest already active one.
    pub fn signer(&self, now: i64) -> Option<Arc<Signer>> {
        self.signers
            .iter()
            .filter(|(activates_at, _)| *activates_at <= now)
            .max_by_key(|(activates_at, _)| *activates_at)
            .map(|(_, s)| s.clone())
    }

    /// The verifier for `kid`.
    pub fn verifier(&self, kid: &str) -> Option<Arc<Verifier>> {
        self.verifiers.get(kid).cloned()
    }

    /// The public keys (empty in HMAC mode).
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

/// The node's current key set, replaceable when keys rotate.
pub struct Keys {
    current: RwLock<Arc<KeySet>>,
}

impl Keys {
    /// Loads the keys (creating the first asymmetric key if there is none).
    pub async fn load(store: &dyn Store, settings: &Settings, now: i64) -> Result<Self, KeyError> {
        let set = build(store, settings, now, true).await?;
        Ok(Self {
            current: RwLock::new(Arc::new(set)),
        })
    }

    /// Keys from rows already read (ignored in HMAC mode), without a store:
    /// for checking tokens offline, in tests and under a fuzzer. Rows of
    /// another algorithm than the configured one are left out.
    ///
    /// ```
    /// use latchkey::config::{Secret, Settings};
    /// use latchkey::token::keys::Keys;
    /// let settings = Settings { secret_key: Some(Secret::new("k".repeat(32))), ..Settings::default() };
    /// let keys = Keys::from_rows(&settings, Vec::new(), 0).unwrap();
    /// assert!(keys.get().signer(0).is_some());
    /// ```
    pub fn from_rows(settings: &Settings, rows: Vec<KeyRow>, now: i64) -> Result<Self, KeyError> {
        let set = assemble(settings, rows, now)?;
        Ok(Self {
            current: RwLock::new(Arc::new(set)),
        })
    }

    /// The current set.
    pub fn get(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the keys from the store (after a rotation by another process).
    pub async fn reload(
        &self,
        store: &dyn Store,
        settings: &Settings,
        now: i64,
    ) -> Result<(), KeyError> {
        let set = Arc::new(build(store, settings, now, false).await?);
        match self.current.write() {
            Ok(mut guard) => *guard = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        Ok(())
    }
}

/// The key id of an HMAC secret: a hash prefix, so nodes sharing the secret
/// agree on it without storing anything.
fn hmac_kid(secret: &str) -> String {
    let digest = Sha256::digest([b"latchkey kid\0".as_slice(), secret.as_bytes()].concat());
    format!("hs-{}", hex(&digest[..8]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn build(
    store: &dyn Store,
    settings: &Settings,
    now: i64,
    create: bool,
) -> Result<KeySet, KeyError> {
    if settings.secret_key.is_some() {
        return assemble(settings, Vec::new(), now);
    }
    let alg = algorithm(settings);
    let name = algorithm_name(alg);
    let mut rows: Vec<KeyRow> = store.signing_keys().await?;
    if create
        && !rows
            .iter()
            .any(|k| k.algorithm == name && k.activates_at <= now)
    {
        let row = generate(alg, now, now)?;
        store.insert_signing_key(&row).await?;
        rows.push(row);
    }
    assemble(settings, rows, now)
}

/// The key set of `rows` at `now` (or of the HMAC secret).
fn assemble(settings: &Settings, rows: Vec<KeyRow>, now: i64) -> Result<KeySet, KeyError> {
    let alg = algorithm(settings);
    if let Some(secret) = &settings.secret_key {
        let kid = hmac_kid(secret.expose());
        let signer = Arc::new(Signer {
            kid: kid.clone(),
            key: EncodingKey::from_secret(secret.expose().as_bytes()),
        });
        let verifier = Arc::new(Verifier {
            key: DecodingKey::from_secret(secret.expose().as_bytes()),
        });
        return Ok(KeySet {
            algorithm: alg,
            signers: vec![(i64::MIN, signer)],
            verifiers: HashMap::from([(kid, verifier)]),
            jwks: JwkSet { keys: vec![] },
        });
    }
    let name = algorithm_name(alg);
    let rows = rows.into_iter().filter(|k| k.algorithm == name);
    let mut signers = Vec::new();
    let mut verifiers = HashMap::new();
    let mut jwks = Vec::new();
    let publish_until = |k: &KeyRow| {
        k.retired_at.map(|r| {
            r + settings.access_ttl_secs() + i64::try_from(settings.clock_leeway).unwrap_or(0)
        })
    };
    for row in rows {
        if publish_until(&row).is_some_and(|until| until < now) {
            continue;
        }
        let (signer, verifier, jwk) = materialise(&row, alg)?;
        if row.retired_at.is_none_or(|retired| retired > now) {
            signers.push((row.activates_at, Arc::new(signer)));
        }
        verifiers.insert(row.kid.clone(), Arc::new(verifier));
        jwks.push(jwk);
    }
    Ok(KeySet {
        algorithm: alg,
        signers,
        verifiers,
        jwks: JwkSet { keys: jwks },
    })
}

fn crypto(e: impl std::fmt::Display) -> KeyError {
    KeyError::Crypto(e.to_string())
}

fn materialise(row: &KeyRow, alg: Algorithm) -> Result<(Signer, Verifier, Jwk), KeyError> {
    let (encoding, decoding) = match alg {
        Algorithm::EdDSA => (
            EncodingKey::from_ed_der(&row.private_key),
            DecodingKey::from_ed_der(&row.public_key),
        ),
        Algorithm::ES256 => (
            EncodingKey::from_ec_der(&row.private_key),
            DecodingKey::from_ec_der(&row.public_key),
        ),
        Algorithm::RS256 => (
            EncodingKey::from_rsa_der(&row.private_key),
            DecodingKey::from_rsa_der(&row.public_key),
        ),
        other => return Err(KeyError::Crypto(format!("{other:?} keys are not stored"))),
    };
    let mut jwk = Jwk::from_decoding_key(&decoding, Some(alg)).map_err(crypto)?;
    jwk.common.key_id = Some(row.kid.clone());
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    Ok((
        Signer {
            kid: row.kid.clone(),
            key: encoding,
        },
        Verifier { key: decoding },
        jwk,
    ))
}

/// Makes a new key pair that signs from `activates_at`.
pub fn generate(alg: Algorithm, now: i64, activates_at: i64) -> Result<KeyRow, KeyError> {
    let (private_key, public_key) = match alg {
        Algorithm::EdDSA => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            let mut seed = [0u8; 32];
            rand::fill(&mut seed);
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let der = key.to_pkcs8_der().map_err(crypto)?;
            (
                der.as_bytes().to_vec(),
                key.verifying_key().to_bytes().to_vec(),
            )
        }
        Algorithm::ES256 => {
            use p256::pkcs8::EncodePrivateKey;
            let key = loop {
                let mut seed = [0u8; 32];
                rand::fill(&mut seed);
                // Fails only for the ~2^-128 seeds outside the curve's order.
                if let Ok(key) = p256::SecretKey::from_slice(&seed) {
                    break key;
                }
            };
            let der = key.to_pkcs8_der().map_err(crypto)?;
            let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &key.public_key(),
                false,
            );
            (der.as_bytes().to_vec(), point.as_bytes().to_vec())
        }
        Algorithm::RS256 => {
            use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
            let key = rsa::RsaPrivateKey::new(&mut rand_core06::OsRng, 2048).map_err(crypto)?;
            let der = key.to_pkcs1_der().map_err(crypto)?;
            let public = key.to_public_key().to_pkcs1_der().map_err(crypto)?;
            (der.as_bytes().to_vec(), public.as_bytes().to_vec())
        }
        other => return Err(KeyError::Crypto(format!("cannot generate {other:?} keys"))),
    };
    let digest = Sha256::digest(&public_key);
    Ok(KeyRow {
        kid: hex(&digest[..12]),
        algorithm: algorithm_name(alg).to_string(),
        private_key,
        public_key,
        created_at: now,
        activates_at,
        retired_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify_for_each_algorithm() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
            let row = generate(alg, 0, 0).expect("generate");
            let (signer, verifier, jwk) = materialise(&row, alg).expect("materialise");
            let mut header = jsonwebtoken::Header::new(alg);
            header.kid = Some(signer.kid.clone());
            let claims = serde_json::json!({"sub": "x", "exp": 4_000_000_000u64});
            let token = jsonwebtoken::encode(&header, &claims, &signer.key).expect("sign");
            let mut v = jsonwebtoken::Validation::new(alg);
            v.required_spec_claims.clear();
            jsonwebtoken::decode::<serde_json::Value>(&token, &verifier.key, &v).expect("verify");
            let from_jwk = DecodingKey::from_jwk(&jwk).expect("jwk decodes");
            jsonwebtoken::decode::<serde_json::Value>(&token, &from_jwk, &v)
                .expect("verify via jwk");
            assert_eq!(jwk.common.key_id.as_deref(), Some(row.kid.as_str()));
        }
    }

    #[test]
    fn hmac_kid_is_stable_per_secret() {
        let secret = "0123456789abcdef0123456789abcdef";
        assert_eq!(hmac_kid(secret), hmac_kid(secret));
        assert_ne!(
            hmac_kid(secret),
            hmac_kid("another secret of enough length!!")
        );
    }
}
