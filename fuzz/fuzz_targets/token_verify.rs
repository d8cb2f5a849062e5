//! Access-token verification on hostile input: any text, and tokens built
//! from fuzzed header, claims and signature parts (and fuzzed claims signed
//! with the real HMAC key). Nothing may panic, and nothing the fuzzer makes
//! without a key may verify.

#![no_main]

use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use latchkey::config::{Secret, Settings};
use latchkey::token::TokenService;
use latchkey::token::keys::{self, Keys};
use libfuzzer_sys::fuzz_target;

/// One service per algorithm family: HMAC, EdDSA, ES256.
static SERVICES: LazyLock<Vec<TokenService>> = LazyLock::new(|| {
    let hmac = Settings {
        secret_key: Some(Secret::new("fuzzing-secret-of-at-least-32-bytes".into())),
        ..Settings::default()
    };
    let mut services = vec![service(&hmac, Vec::new())];
    for alg in ["EdDSA", "ES256"] {
        let settings = Settings {
            algorithm: Some(alg.into()),
            ..Settings::default()
        };
        let row = keys::generate(keys::algorithm(&settings), 0, 0).expect("key generation");
        services.push(service(&settings, vec![row]));
    }
    services
});

fn service(settings: &Settings, rows: Vec<latchkey::store::KeyRow>) -> TokenService {
    let keys = Keys::from_rows(settings, rows, 0).expect("keys");
    TokenService::new(settings, Arc::new(keys))
}

fuzz_target!(|data: &[u8]| {
    let services = &*SERVICES;
    if let Ok(text) = std::str::from_utf8(data) {
        for s in services {
            assert!(s.verify(text).is_err(), "arbitrary text verified");
            let _ = s.is_unknown_kid(text);
        }
    }
    // Header, claims and signature separated by 0xff, each base64url-encoded,
    // so the fuzzer reaches the JSON and signature checks.
    let mut parts = data.splitn(3, |b| *b == 0xff);
    let header = parts.next().unwrap_or_default();
    let claims = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let token = format!(
        "{}.{}.{}",
        B64.encode(header),
        B64.encode(claims),
        B64.encode(signature)
    );
    for s in services {
        assert!(s.verify(&token).is_err(), "unsigned token verified");
    }
    // Fuzzed claims signed with the real HMAC key and kid: whatever they
    // hold, verification answers without panicking.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(claims) {
        let hmac = &services[0];
        if let Some(signer) = hmac.keys().get().signer(0) {
            let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            h.kid = Some(signer.kid.clone());
            if let Ok(signed) = jsonwebtoken::encode(&h, &value, &signer.key) {
                let _ = hmac.verify(&signed);
            }
        }
    }
});
