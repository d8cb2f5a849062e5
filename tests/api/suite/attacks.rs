//! Attacks over HTTP: algorithm confusion, hostile `kid`s, key-fetching
//! headers, tokens of deleted users and of other latchkey instances, tokens
//! of the wrong kind, CSRF on every cookie-authenticated change, user
//! enumeration, size limits, and slow clients. Each is refused with the
//! contract's answer and never a 5xx.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::helpers::{
    ADMIN_PASSWORD, TestApp, assert_refused, client, json, spawn_app, spawn_app_with,
};

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&B64.decode(part).expect("base64url")).expect("json")
}

fn header_of(token: &str) -> Value {
    let part = token.split('.').next().expect("header");
    serde_json::from_slice(&B64.decode(part).expect("base64url")).expect("json")
}

/// Deleting a user revokes its sessions: its tokens answer as revoked.
async fn assert_revoked(app: &TestApp, token: &str) {
    let response = app.me(token).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        json(response).await,
        json!({"detail": "Token has been revoked"})
    );
}

/// The key `app` signs with right now, and its kid.
fn real_signer(app: &TestApp) -> (String, EncodingKey) {
    let now = latchkey::clock::now();
    let signer = app
        .auth
        .tokens
        .keys()
        .get()
        .signer(now)
        .expect("an active signing key");
    (signer.kid.clone(), signer.key.clone())
}

fn sign(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

fn with_kid(alg: Algorithm, kid: &str) -> Header {
    let mut h = Header::new(alg);
    h.kid = Some(kid.to_string());
    h
}

fn stranger_eddsa() -> (EncodingKey, Jwk) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&key).expect("der");
    let public = DecodingKey::from_ed_der(key.verifying_key().as_bytes());
    let mut jwk = Jwk::from_decoding_key(&public, Some(Algorithm::EdDSA)).expect("jwk");
    jwk.common.key_id = Some("stranger".into());
    (EncodingKey::from_ed_der(der.as_bytes()), jwk)
}

#[tokio::test]
async fn every_algorithm_name_in_the_header_is_refused_on_an_eddsa_server() {
    let app = spawn_app().await;
    let token = app.token("john", "secret").await;
    let claims = payload(&token);
    let kid = header_of(&token)["kid"].as_str().expect("kid").to_string();
    let jwks = json(
        app.client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .expect("jwks"),
    )
    .await;
    let public_x = jwks["keys"][0]["x"].as_str().expect("x").to_string();
    let public = B64.decode(&public_x).expect("public key");
    let (stranger, _) = stranger_eddsa();

    // The published key as an HMAC secret, in each form an attacker might try.
    for secret in [
        public.clone(),
        public_x.into_bytes(),
        jwks["keys"][0].to_string().into_bytes(),
    ] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let forged = sign(
                with_kid(alg, &kid),
                &claims,
                &EncodingKey::from_secret(&secret),
            );
            assert_refused(&app, &forged, &format!("{alg:?} with the public key")).await;
        }
    }
    // EdDSA signed by a key latchkey never made.
    assert_refused(
        &app,
        &sign(with_kid(Algorithm::EdDSA, &kid), &claims, &stranger),
        "stranger EdDSA",
    )
    .await;
    // Every other name, with the real signature bytes, a blank one or none.
    let segments: Vec<&str> = token.split('.').collect();
    for alg in [
        "none", "None", "NONE", "nOnE", "", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "ES256K", "Ed25519", "eddsa", "EDDSA", "HS256",
    ] {
        let header = B64.encode(json!({"alg": alg, "typ": "JWT", "kid": kid}).to_string());
        for signature in ["", segments[2], "AAAA"] {
            let forged = format!("{header}.{}.{signature}", segments[1]);
            assert_refused(&app, &forged, &format!("alg {alg:?}")).await;
        }
    }
    assert_eq!(
        app.me(&token).await.status(),
        200,
        "the real token still works"
    );
}

#[tokio::test]
async fn hmac_signed_with_the_rsa_public_key_is_refused_on_an_rs256_server() {
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let app = spawn_app_with(|s| s.algorithm = Some("RS256".into())).await;
    let token = app.token("john", "secret").await;
    let claims = payload(&token);
    let kid = header_of(&token)["kid"].as_str().expect("kid").to_string();
    let jwks = json(
        app.client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .expect("jwks"),
    )
    .await;
    let number = |name: &str| {
        rsa::BigUint::from_bytes_be(
            &B64.decode(jwks["keys"][0][name].as_str().expect("n/e"))
                .expect("base64url"),
        )
    };
    let public = rsa::RsaPublicKey::new(number("n"), number("e")).expect("public key");

    for secret in [
        public
            .to_public_key_pem(LineEnding::LF)
            .expect("pem")
            .into_bytes(),
        public
            .to_pkcs1_pem(LineEnding::LF)
            .expect("pem")
            .into_bytes(),
        public.to_pkcs1_der().expect("der").as_bytes().to_vec(),
        public.to_public_key_der().expect("der").as_bytes().to_vec(),
    ] {
        for alg in [Algorithm::HS256, Algorithm::HS512] {
            let forged = sign(
                with_kid(alg, &kid),
                &claims,
                &EncodingKey::from_secret(&secret),
            );
            assert_refused(&app, &forged, &format!("{alg:?} with the RSA public key")).await;
        }
    }
    assert_eq!(app.me(&token).await.status(), 200);
}

#[tokio::test]
async fn hostile_kids_are_a_lookup_never_a_path_or_a_query() {
    let app = spawn_app().await;
    let claims = payload(&app.token("john", "secret").await);
    let (_, key) = real_signer(&app);

    for kid in [
        "../../../../../../dev/null",
        "/etc/passwd",
        "..\\..\\windows\\win.ini",
        "' OR '1'='1",
        "\"; DROP TABLE signing_keys; --",
        "%00",
        "\u{0}",
        "kid\r\nX-Injected: 1",
        "${jndi:ldap://127.0.0.1/a}",
        "",
        &"k".repeat(8 * 1024),
    ] {
        // Signed with the server's own key: only the kid is wrong.
        let forged = sign(with_kid(Algorithm::EdDSA, kid), &claims, &key);
        assert_refused(&app, &forged, &format!("kid {kid:?}")).await;
    }
    let keys = app.auth.store.signing_keys().await.expect("keys");
    assert_eq!(keys.len(), 1, "the key table is untouched");
}

/// A loopback server that counts the connections it is offered, standing
/// in for the attacker's key server.
async fn key_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = stream
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    (url, hits)
}

#[tokio::test]
async fn jku_x5u_jwk_and_x5c_headers_are_ignored() {
    let app = spawn_app().await;
    let claims = payload(&app.token("john", "secret").await);
    let (url, hits) = key_server().await;
    let (stranger, stranger_jwk) = stranger_eddsa();
    let (kid, key) = real_signer(&app);
    let fetching = |kid: &str| {
        let mut h = with_kid(Algorithm::EdDSA, kid);
        h.jku = Some(url.clone());
        h.x5u = Some(url.clone());
        h.jwk = Some(stranger_jwk.clone());
        h.x5c = Some(vec![B64.encode(b"not a certificate")]);
        h
    };

    // The stranger's key, offered in the header and at the URLs: refused.
    assert_refused(&app, &sign(fetching("stranger"), &claims, &stranger), "jku").await;
    assert_refused(&app, &sign(fetching(&kid), &claims, &stranger), "jwk").await;
    // The server's own key with those headers added: they change nothing.
    let real = sign(fetching(&kid), &claims, &key);
    assert_eq!(app.me(&real).await.status(), 200);

    assert_eq!(hits.load(Ordering::SeqCst), 0, "no key was fetched");
}

#[tokio::test]
async fn a_token_from_another_latchkey_instance_is_refused() {
    let ours = spawn_app().await;
    let theirs = spawn_app().await;
    let foreign = theirs.token("john", "secret").await;
    assert_refused(&ours, &foreign, "another instance's EdDSA key").await;

    let hs_ours =
        spawn_app_with(|s| s.secret_key = Some(latchkey::config::Secret::new(SECRET.into()))).await;
    let hs_theirs = spawn_app_with(|s| {
        s.secret_key = Some(latchkey::config::Secret::new(format!("{SECRET}-other")));
    })
    .await;
    let foreign = hs_theirs.token("john", "secret").await;
    assert_refused(&hs_ours, &foreign, "another instance's secret").await;

    // Same secret, another issuer: still not ours.
    let hs_elsewhere = spawn_app_with(|s| {
        s.secret_key = Some(latchkey::config::Secret::new(SECRET.into()));
        s.issuer = "https://elsewhere.example".into();
    })
    .await;
    let foreign = hs_elsewhere.token("john", "secret").await;
    assert_refused(&hs_ours, &foreign, "another issuer").await;
}

#[tokio::test]
async fn a_deleted_users_token_stays_dead_even_for_a_new_user_of_that_name() {
    let app = spawn_app().await;
    let user = app.add_user("gone", "gone-password").await;
    let token = app.token("gone", "gone-password").await;
    let refresh = app.login("gone", "gone-password").await["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();

    app.auth.delete_user(user.id).await.expect("delete");
    assert_revoked(&app, &token).await;
    app.add_user("gone", "new-password").await;

    assert_revoked(&app, &token).await;
    let refreshed = app
        .client
        .post(app.url("/token/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(refreshed.status(), 401);
    assert_eq!(
        json(refreshed).await,
        json!({"detail": "Invalid refresh token"})
    );
}

#[tokio::test]
async fn access_and_refresh_tokens_are_not_interchangeable() {
    let app = spawn_app().await;
    let tokens = app.login("john", "secret").await;
    let access = tokens["access_token"].as_str().expect("access");
    let refresh = tokens["refresh_token"].as_str().expect("refresh");

    assert_refused(&app, refresh, "a refresh token as a bearer token").await;
    let response = app
        .client
        .post(app.url("/token/refresh"))
        .json(&json!({"refresh_token": access}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(response.status(), 401);
    assert_eq!(
        json(response).await,
        json!({"detail": "Invalid refresh token"})
    );
}

/// Logs `admin` in with cookies; the client then holds them.
async fn cookie_admin(app: &TestApp) -> (reqwest::Client, String) {
    let browser = client();
    let response = browser
        .post(app.url("/login/secure"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200);
    let csrf = response
        .cookies()
        .find(|c| c.name() == "csrf_token")
        .map(|c| c.value().to_string())
        .expect("csrf cookie");
    (browser, csrf)
}

#[tokio::test]
async fn every_cookie_authenticated_change_needs_the_csrf_header() {
    let app = spawn_app_with(|s| s.cookie_secure = false).await;
    let (browser, csrf) = cookie_admin(&app).await;
    let john_sessions = app.login("john", "secret").await;
    let session = payload(john_sessions["access_token"].as_str().expect("token"))["sid"].clone();
    let changes: Vec<(reqwest::Method, &str, Value)> = vec![
        (reqwest::Method::POST, "/logout", json!({})),
        (reqwest::Method::POST, "/logout/all", json!({})),
        (
            reqwest::Method::POST,
            "/logout/device",
            json!({"jti": session}),
        ),
        (
            reqwest::Method::POST,
            "/users/me/password",
            json!({"current_password": ADMIN_PASSWORD, "new_password": "changed-by-csrf"}),
        ),
        (reqwest::Method::POST, "/token/refresh", json!({})),
        (
            reqwest::Method::POST,
            "/admin/users",
            json!({"username": "csrfmade", "password": "csrf-password"}),
        ),
        (
            reqwest::Method::PATCH,
            "/admin/users/john",
            json!({"disabled": true}),
        ),
        (reqwest::Method::DELETE, "/admin/users/john", json!({})),
        (reqwest::Method::POST, "/admin/users/john/logout", json!({})),
        (
            reqwest::Method::PUT,
            "/admin/roles/csrfrole",
            json!({"permissions": ["users:admin"]}),
        ),
        (reqwest::Method::DELETE, "/admin/roles/admin", json!({})),
    ];

    for (method, path, body) in &changes {
        for header in [None, Some("wrong"), Some("")] {
            let mut request = browser.request(method.clone(), app.url(path)).json(body);
            if let Some(value) = header {
                request = request.header("X-CSRF-Token", value);
            }
            let response = request.send().await.expect("request");
            assert_eq!(
                response.status(),
                403,
                "{method} {path} with CSRF header {header:?}"
            );
        }
    }

    // Nothing changed: john is there, enabled, logged in; admin's password,
    // roles and session are as they were.
    let admin = app.admin_token().await;
    let john = app
        .client
        .get(app.url("/admin/users/john"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("show john");
    assert_eq!(john.status(), 200);
    assert_eq!(json(john).await["disabled"], false);
    assert_eq!(
        app.me(john_sessions["access_token"].as_str().expect("token"))
            .await
            .status(),
        200
    );
    let roles = json(
        app.client
            .get(app.url("/admin/roles"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("roles"),
    )
    .await
    .to_string();
    assert!(
        roles.contains("admin") && !roles.contains("csrfrole"),
        "{roles}"
    );
    let made = app
        .auth
        .store
        .user_by_username("csrfmade")
        .await
        .expect("lookup");
    assert!(made.is_none());
    let me = browser.get(app.url("/users/me")).send().await.expect("me");
    assert_eq!(me.status(), 200, "the cookie session is still live");

    // With the header, the same cookie session may change things.
    let disable = browser
        .patch(app.url("/admin/users/john"))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .expect("patch");
    assert_eq!(disable.status(), 200);
}

#[tokio::test]
async fn an_unknown_user_costs_one_password_check_and_answers_like_a_wrong_password() {
    let app = spawn_app_with(|s| {
        s.login_max_failures = 1000;
        s.login_max_failures_per_ip = 1000;
    })
    .await;
    let disabled = app.add_user("dormant", "dormant-password").await;
    app.auth
        .update_user(
            disabled.id,
            latchkey::store::UserPatch {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("disable");

    let mut answers = Vec::new();
    for (username, password) in [
        ("john", "wrong-password"),
        ("nobody", "wrong-password"),
        ("nobody@example.com", "wrong-password"),
        ("dormant", "wrong-password"),
        (&"u".repeat(300) as &str, "wrong-password"),
    ] {
        let before = app.auth.hasher.verifications();
        let response = app.post_token(username, password).await;
        let checks = app.auth.hasher.verifications() - before;
        let status = response.status();
        let mut headers: Vec<String> = response
            .headers()
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "date"))
            .map(|(name, value)| format!("{name}: {value:?}"))
            .collect();
        headers.sort();
        let body = response.bytes().await.expect("body");
        assert_eq!(checks, 1, "{username}: one password check");
        answers.push((status, headers, body));
    }

    let (status, headers, body) = &answers[0];
    assert_eq!(*status, 401);
    assert_eq!(
        body.as_ref(),
        br#"{"detail":"Incorrect username or password"}"#
    );
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer.0, *status, "answer {i}");
        assert_eq!(&answer.1, headers, "answer {i}");
        assert_eq!(&answer.2, body, "answer {i}");
    }
}

/// Sends raw bytes and reads the answer's status line (or `None` when the
/// connection was closed without one).
async fn raw_status(app: &TestApp, request: &[u8]) -> Option<String> {
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    // The server may answer and close before reading everything.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().map(str::to_string)
}

#[tokio::test]
async fn header_and_body_limits_answer_4xx() {
    let app = spawn_app().await;

    let mut many = String::from("GET /healthz HTTP/1.1\r\nhost: x\r\n");
    for i in 0..200 {
        many.push_str(&format!("x-h{i}: {i}\r\n"));
    }
    many.push_str("connection: close\r\n\r\n");
    let status = raw_status(&app, many.as_bytes()).await;
    assert_eq!(
        status.as_deref(),
        Some("HTTP/1.1 431 Request Header Fields Too Large")
    );

    let long_uri = format!(
        "GET /{} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let status = raw_status(&app, long_uri.as_bytes())
        .await
        .unwrap_or_default();
    assert!(
        status.starts_with("HTTP/1.1 414") || status.starts_with("HTTP/1.1 431"),
        "{status}"
    );

    // A Content-Length over the limit is refused before the body is sent.
    let status = raw_status(
        &app,
        b"POST /token HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\nconnection: close\r\n\r\n{",
    )
    .await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 413 Payload Too Large"));

    // A chunked body with no length is cut at the limit too.
    let chunk = "x".repeat(16 * 1024);
    let mut chunked = String::from(
        "POST /users HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
    );
    for _ in 0..6 {
        chunked.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    chunked.push_str("0\r\n\r\n");
    let status = raw_status(&app, chunked.as_bytes()).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 413 Payload Too Large"));
}

#[tokio::test]
async fn deeply_nested_and_field_flooded_bodies_are_422_or_401() {
    let app = spawn_app().await;

    let nested = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let response = app
        .client
        .post(app.url("/token"))
        .header("Content-Type", "application/json")
        .body(nested)
        .send()
        .await
        .expect("req");
    assert_eq!(response.status(), 422);
    let objects = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let response = app
        .client
        .post(app.url("/users"))
        .header("Content-Type", "application/json")
        .body(objects)
        .send()
        .await
        .expect("req");
    assert_eq!(response.status(), 422);

    let flood = format!("username=john&password=wrong&{}", "a=1&".repeat(12_000));
    let response = app
        .client
        .post(app.url("/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(flood)
        .send()
        .await
        .expect("req");
    assert_eq!(response.status(), 401);
}

/// Writes `bytes` one a second until the server answers or closes the
/// connection; returns how many it accepted and what it answered.
async fn dribble(stream: &mut TcpStream, bytes: &[u8]) -> (usize, Vec<u8>) {
    let mut answer = Vec::new();
    for (i, byte) in bytes.iter().enumerate() {
        if stream.write_all(&[*byte]).await.is_err() {
            return (i, answer);
        }
        let mut buf = [0u8; 512];
        // A read that ends (EOF, reset or an answer) means the server is done with us.
        if let Ok(read) = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await
        {
            if let Ok(n) = read {
                answer.extend_from_slice(&buf[..n]);
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
                        .await;
            }
            return (i + 1, answer);
        }
    }
    (bytes.len(), answer)
}

#[tokio::test]
async fn a_client_dribbling_its_headers_is_cut_off_while_others_are_served() {
    let app = spawn_app_with(|s| s.request_timeout = 2).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let request =
        b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nuser-agent: one-byte-a-second\r\n\r\n";
    let mut slow = TcpStream::connect(&address).await.expect("connect");

    let dribbler = tokio::spawn(async move { dribble(&mut slow, request).await });
    // Meanwhile, other clients are answered.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ok = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("req");
        assert_eq!(ok.status(), 200);
    }
    let (sent, rest) = dribbler.await.expect("dribbler");

    assert!(
        sent < request.len(),
        "the server let a one-byte-a-second client send all {sent} bytes"
    );
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "the slow request was not served"
    );
    assert_eq!(app.me("x").await.status(), 401, "the server still serves");
}

#[tokio::test]
async fn a_client_dribbling_its_body_gets_408_while_others_are_served() {
    let app = spawn_app_with(|s| s.request_timeout = 2).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let body = b"username=john&password=secret&padding=aaaaaaaaaaaaaaaaaaaaaaaa";
    let head = format!(
        "POST /token HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut slow = TcpStream::connect(&address).await.expect("connect");
    slow.write_all(head.as_bytes()).await.expect("head");

    let dribbler = tokio::spawn(async move { dribble(&mut slow, body).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ok = app.post_token("john", "secret").await;
    assert_eq!(ok.status(), 200, "another client logs in meanwhile");
    let (sent, rest) = dribbler.await.expect("dribbler");

    assert!(sent < body.len(), "all {sent} body bytes were accepted");
    let answer = String::from_utf8_lossy(&rest);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}
