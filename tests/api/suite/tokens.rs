//! Access-token claims, the JWKS, and every forgery the contract lists,
//! each refused with `401 "Could not validate credentials"`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::helpers::{TestApp, assert_refused, json, spawn_app, spawn_app_with};

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&B64.decode(part).expect("base64url")).expect("json")
}

fn parts(token: &str) -> (Value, Value) {
    let p: Vec<&str> = token.split('.').collect();
    (decode_part(p[0]), decode_part(p[1]))
}

/// Valid claims for john, as a real token of `app` carries them.
async fn real_claims(app: &TestApp) -> (Value, Value) {
    parts(&app.token("john", "secret").await)
}

fn sign(header: &Value, claims: &Value, alg: Algorithm, key: &EncodingKey) -> String {
    let mut h = Header::new(alg);
    h.kid = header["kid"].as_str().map(str::to_string);
    jsonwebtoken::encode(&h, claims, key).expect("sign")
}

#[tokio::test]
async fn access_tokens_carry_every_claim_and_a_published_kid() {
    let app = spawn_app().await;
    let (header, claims) = real_claims(&app).await;

    assert_eq!(header["alg"], "EdDSA");
    for claim in [
        "sub",
        "user_id",
        "sid",
        "jti",
        "iat",
        "nbf",
        "exp",
        "iss",
        "roles",
        "permissions",
        "scope",
    ] {
        assert!(claims.get(claim).is_some(), "claim {claim} in {claims}");
    }
    assert_eq!(claims["sub"], "john");
    assert_eq!(claims["iss"], "latchkey");
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        1800
    );
    assert!(claims.get("aud").is_none(), "no audience configured");
    let jwks = json(
        app.client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .expect("jwks"),
    )
    .await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], header["kid"]);
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert!(key.get("d").is_none(), "no private part published");
}

#[tokio::test]
async fn two_logins_make_distinct_sessions_and_token_ids() {
    let app = spawn_app().await;
    let (_, a) = real_claims(&app).await;
    let (_, b) = real_claims(&app).await;
    assert_ne!(a["jti"], b["jti"]);
    assert_ne!(a["sid"], b["sid"]);
}

#[tokio::test]
async fn hs256_mode_signs_with_the_secret_and_publishes_no_key() {
    let app =
        spawn_app_with(|s| s.secret_key = Some(latchkey::config::Secret::new(SECRET.into()))).await;
    let token = app.token("john", "secret").await;
    let (header, _) = parts(&token);

    assert_eq!(header["alg"], "HS256");
    assert!(header["kid"].is_string());
    assert_eq!(app.me(&token).await.status(), 200);
    let jwks = json(
        app.client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .expect("jwks"),
    )
    .await;
    assert_eq!(jwks, json!({"keys": []}));
}

#[tokio::test]
async fn es256_and_rs256_keys_are_generated_published_and_sign_tokens() {
    for (alg, kty) in [("ES256", "EC"), ("RS256", "RSA")] {
        let app = spawn_app_with(|s| s.algorithm = Some(alg.into())).await;
        let token = app.token("john", "secret").await;
        let (header, _) = parts(&token);

        assert_eq!(header["alg"], alg);
        assert_eq!(app.me(&token).await.status(), 200, "{alg}");
        let jwks = json(
            app.client
                .get(app.url("/.well-known/jwks.json"))
                .send()
                .await
                .expect("jwks"),
        )
        .await;
        let keys = jwks["keys"].as_array().expect("keys");
        let key = keys
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .unwrap_or_else(|| panic!("{alg}: the signing kid is published: {jwks}"));
        assert_eq!(key["kty"], kty);
        assert_eq!(key["alg"], alg);
        assert!(
            key.get("d").is_none(),
            "{alg}: no private part is published"
        );

        // A changed signature is refused.
        let mut tampered = token.clone();
        tampered.push('x');
        assert_refused(&app, &tampered, "bad signature").await;
    }
}

#[tokio::test]
async fn an_audience_is_set_and_checked_when_configured() {
    let app = spawn_app_with(|s| {
        s.secret_key = Some(latchkey::config::Secret::new(SECRET.into()));
        s.audience = Some("my-api".into());
    })
    .await;
    let (header, mut claims) = real_claims(&app).await;
    assert_eq!(claims["aud"], "my-api");
    let key = EncodingKey::from_secret(SECRET.as_bytes());

    claims["aud"] = json!("someone-else");
    assert_refused(
        &app,
        &sign(&header, &claims, Algorithm::HS256, &key),
        "wrong aud",
    )
    .await;
    claims.as_object_mut().expect("object").remove("aud");
    assert_refused(
        &app,
        &sign(&header, &claims, Algorithm::HS256, &key),
        "missing aud",
    )
    .await;
}

#[tokio::test]
async fn hs256_tokens_with_bad_claims_are_refused() {
    let app =
        spawn_app_with(|s| s.secret_key = Some(latchkey::config::Secret::new(SECRET.into()))).await;
    let (header, claims) = real_claims(&app).await;
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let now = claims["iat"].as_i64().expect("iat");
    let variants: Vec<(&str, Value)> = vec![
        (
            "expired beyond the leeway",
            json!({"exp": now - 120, "iat": now - 2000, "nbf": now - 2000}),
        ),
        ("nbf beyond the leeway", json!({"nbf": now + 120})),
        ("wrong issuer", json!({"iss": "someone-else"})),
        ("no expiry", json!({"exp": null})),
        ("sid not a session id", json!({"sid": "x"})),
        ("no user id", json!({"user_id": null})),
    ];
    for (why, change) in variants {
        let mut forged = claims.clone();
        for (k, v) in change.as_object().expect("object") {
            if v.is_null() {
                forged.as_object_mut().expect("object").remove(k);
            } else {
                forged[k] = v.clone();
            }
        }
        assert_refused(&app, &sign(&header, &forged, Algorithm::HS256, &key), why).await;
    }
    // Within the 30 s leeway an expired token still passes.
    let mut lenient = claims.clone();
    lenient["exp"] = json!(now - 5);
    assert_eq!(
        app.me(&sign(&header, &lenient, Algorithm::HS256, &key))
            .await
            .status(),
        200
    );
    // A token signed with another secret.
    let other = EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!!");
    assert_refused(
        &app,
        &sign(&header, &claims, Algorithm::HS256, &other),
        "other secret",
    )
    .await;
    // HS512 with the right secret is another algorithm.
    assert_refused(
        &app,
        &sign(&header, &claims, Algorithm::HS512, &key),
        "other algorithm",
    )
    .await;
}

#[tokio::test]
async fn forged_eddsa_tokens_are_refused() {
    let app = spawn_app().await;
    let token = app.token("john", "secret").await;
    let (header, claims) = parts(&token);
    let segments: Vec<&str> = token.split('.').collect();

    // alg: none
    let none_header =
        B64.encode(json!({"alg": "none", "typ": "JWT", "kid": header["kid"]}).to_string());
    assert_refused(&app, &format!("{none_header}.{}.", segments[1]), "alg none").await;

    // Signed by a key latchkey never made, claiming latchkey's kid.
    let seed = [7u8; 32];
    let stranger = ed25519_dalek::SigningKey::from_bytes(&seed);
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&stranger).expect("der");
    let stranger_key = EncodingKey::from_ed_der(der.as_bytes());
    assert_refused(
        &app,
        &sign(&header, &claims, Algorithm::EdDSA, &stranger_key),
        "wrong key",
    )
    .await;

    // HS256 with the published public key as the HMAC secret.
    let jwks = json(
        app.client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .expect("jwks"),
    )
    .await;
    let public = B64
        .decode(jwks["keys"][0]["x"].as_str().expect("x"))
        .expect("public key");
    assert_refused(
        &app,
        &sign(
            &header,
            &claims,
            Algorithm::HS256,
            &EncodingKey::from_secret(&public),
        ),
        "key confusion",
    )
    .await;

    // Tampered payload, original signature.
    let mut tampered = claims.clone();
    tampered["sub"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        segments[0],
        B64.encode(tampered.to_string()),
        segments[2]
    );
    assert_refused(&app, &forged, "tampered payload").await;

    // Unknown kid.
    let mut unknown = header.clone();
    unknown["kid"] = json!("not-a-key");
    let forged = format!(
        "{}.{}.{}",
        B64.encode(unknown.to_string()),
        segments[1],
        segments[2]
    );
    assert_refused(&app, &forged, "unknown kid").await;

    // No kid at all.
    let mut anonymous = header.clone();
    anonymous.as_object_mut().expect("object").remove("kid");
    let forged = format!(
        "{}.{}.{}",
        B64.encode(anonymous.to_string()),
        segments[1],
        segments[2]
    );
    assert_refused(&app, &forged, "no kid").await;

    for garbage in [
        "garbage",
        "a.b.c",
        "a.b.c.d",
        &format!("{token}.x"),
        &"x".repeat(10_000),
        "é.é.é",
    ] {
        assert_refused(&app, garbage, "garbage").await;
    }
}

#[tokio::test]
async fn malformed_authorization_headers_answer_the_contract() {
    let app = spawn_app().await;
    let token = app.token("john", "secret").await;

    let empty = app
        .client
        .get(app.url("/users/me"))
        .header("Authorization", "Bearer ")
        .send()
        .await
        .expect("req");
    assert_eq!(empty.status(), 401);
    assert_eq!(
        json(empty).await,
        json!({"detail": "Could not validate credentials"})
    );

    let basic = app
        .client
        .get(app.url("/users/me"))
        .header("Authorization", format!("Basic {token}"))
        .send()
        .await
        .expect("req");
    assert_eq!(basic.status(), 401);
    assert_eq!(json(basic).await, json!({"detail": "Not authenticated"}));

    let lower = app
        .client
        .get(app.url("/users/me"))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .expect("req");
    assert_eq!(lower.status(), 200, "the scheme is case-insensitive");
}

#[tokio::test]
async fn a_deleted_users_token_is_refused() {
    let app = spawn_app().await;
    let user = app.add_user("gone", "gone-password").await;
    let token = app.token("gone", "gone-password").await;

    app.auth.delete_user(user.id).await.expect("delete");

    let response = app.me(&token).await;
    assert_eq!(response.status(), 401);
}
