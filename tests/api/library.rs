//! The crate as a library: the tutorials' demo application and the separate
//! resource service from `examples/`, run here on the library's API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey::app::{App, NewUser};
use latchkey::auth::Auth;
use latchkey::config::{Secret, Settings};
use latchkey::verifier::{Verifier, VerifierConfig};
use serde_json::{Value, json};

#[allow(dead_code)]
#[path = "../../examples/tutorial_app.rs"]
mod tutorial_app;

#[allow(dead_code)]
#[path = "../../examples/resource_service.rs"]
mod resource_service;

const ADMIN_PASSWORD: &str = "admin-pass-1234";

/// A server with the tutorial app's routes, on a fresh SQLite file.
struct Demo {
    url: String,
    auth: Arc<Auth>,
    database_url: String,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn start_demo(configure: impl FnOnce(&mut Settings)) -> Demo {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite://{}/latchkey.db", dir.path().display());
    let mut settings = Settings {
        database_url: database_url.clone(),
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        admin_password: Some(Secret::new(ADMIN_PASSWORD.into())),
        ..Settings::default()
    };
    configure(&mut settings);
    let app = App::build(settings)
        .await
        .expect("app builds")
        .with_routes(tutorial_app::routes());
    app.create_user(NewUser {
        username: "john".into(),
        password: "secret".into(),
        email: Some("john@example.com".into()),
        full_name: Some("John Doe".into()),
        ..NewUser::default()
    })
    .await
    .expect("john");
    let url = format!("http://{}", app.local_addr());
    let auth = app.auth().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    Demo {
        url,
        auth,
        database_url,
        http: reqwest::Client::new(),
        _stop: stop,
        _dir: dir,
    }
}

impl Demo {
    async fn login(&self, username: &str, password: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/token", self.url))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), 200, "login of {username}");
        response.json().await.expect("token json")
    }

    async fn token(&self, username: &str, password: &str) -> String {
        self.login(username, password).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    async fn call(&self, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

#[tokio::test]
async fn the_demo_app_lists_the_callers_items() {
    let demo = start_demo(|_| {}).await;
    let token = demo.token("john", "secret").await;

    let (status, body) = demo
        .call(reqwest::Method::GET, "/users/me/items", &token)
        .await;

    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!([{"item_id": 1, "owner": "john"}, {"item_id": 2, "owner": "john"}])
    );
}

#[tokio::test]
async fn deleting_a_post_needs_the_permission_and_losing_the_role_takes_effect_at_once() {
    let demo = start_demo(|_| {}).await;
    let admin = demo.token("admin", ADMIN_PASSWORD).await;
    let john = demo.token("john", "secret").await;

    let (status, body) = demo.call(reqwest::Method::DELETE, "/posts/7", &john).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({"detail": "Permission 'delete:posts' required"})
    );

    let put = demo
        .http
        .put(format!("{}/admin/roles/editor", demo.url))
        .bearer_auth(&admin)
        .json(&json!({"permissions": ["delete:posts"]}))
        .send()
        .await
        .expect("put role");
    assert_eq!(put.status(), 200);
    let patch = demo
        .http
        .patch(format!("{}/admin/users/john", demo.url))
        .bearer_auth(&admin)
        .json(&json!({"roles": ["editor"]}))
        .send()
        .await
        .expect("patch john");
    assert_eq!(patch.status(), 200);
    // The old token does not carry the permission: a fresh login does.
    let (status, _) = demo.call(reqwest::Method::DELETE, "/posts/7", &john).await;
    assert_eq!(
        status, 403,
        "a token issued before the grant carries no new permission"
    );
    let john = demo.token("john", "secret").await;
    let (status, body) = demo.call(reqwest::Method::DELETE, "/posts/7", &john).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"deleted": 7, "by": "john"}));

    let del = demo
        .http
        .delete(format!("{}/admin/roles/editor", demo.url))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("delete role");
    assert_eq!(del.status(), 200);
    let (status, body) = demo.call(reqwest::Method::DELETE, "/posts/7", &john).await;
    assert_eq!(
        status, 403,
        "the permission went with the role, before any refresh"
    );
    assert_eq!(
        body,
        json!({"detail": "Permission 'delete:posts' required"})
    );
}

#[tokio::test]
async fn protected_adds_a_new_token_only_when_the_old_one_is_about_to_expire() {
    let fresh = start_demo(|_| {}).await;
    let token = fresh.token("john", "secret").await;
    let (status, body) = fresh.call(reqwest::Method::GET, "/protected", &token).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"user": "john", "data": "protected data"}));

    let short = start_demo(|s| s.access_token_expire_minutes = 4).await;
    let token = short.token("john", "secret").await;
    let (status, body) = short.call(reqwest::Method::GET, "/protected", &token).await;
    assert_eq!(status, 200);
    let new_token = body["new_token"]
        .as_str()
        .expect("new_token when under 5 minutes left");
    assert_ne!(new_token, token);
    let (status, me) = short
        .call(reqwest::Method::GET, "/users/me", new_token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["username"], "john");
}

#[tokio::test]
async fn the_demo_app_refuses_what_latchkey_refuses() {
    let demo = start_demo(|_| {}).await;
    let token = demo.token("john", "secret").await;

    let none = demo
        .http
        .get(format!("{}/users/me/items", demo.url))
        .send()
        .await
        .expect("request");
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");

    let logout = demo.call(reqwest::Method::POST, "/logout", &token).await;
    assert_eq!(logout.0, 200);
    let (status, body) = demo
        .call(reqwest::Method::GET, "/users/me/items", &token)
        .await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"detail": "Token has been revoked"}));
}

/// The resource service of `examples/`, verifying latchkey's tokens.
async fn start_resource_service(demo: &Demo) -> (String, Arc<Verifier>) {
    let verifier = Verifier::start(VerifierConfig {
        jwks_url: format!("{}/.well-known/jwks.json", demo.url),
        database_url: Some(demo.database_url.clone()),
        ..VerifierConfig::default()
    })
    .await
    .expect("verifier starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = resource_service::router(verifier.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, verifier)
}

#[tokio::test]
async fn the_resource_service_accepts_latchkey_tokens_with_only_the_jwks() {
    let demo = start_demo(|_| {}).await;
    let (resource, _) = start_resource_service(&demo).await;
    let token = demo.token("john", "secret").await;

    let response = demo
        .http
        .get(format!("{resource}/data"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("resource call");

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["owner"], "john");
}

#[tokio::test]
async fn the_resource_service_sees_a_logout_through_the_shared_store() {
    let demo = start_demo(|_| {}).await;
    let (resource, _) = start_resource_service(&demo).await;
    let token = demo.token("john", "secret").await;
    let (status, _) = demo.call(reqwest::Method::POST, "/logout", &token).await;
    assert_eq!(status, 200);
    let answered = Instant::now();

    let mut last = (0, Value::Null);
    while answered.elapsed() < Duration::from_secs(2) {
        let response = demo
            .http
            .get(format!("{resource}/data"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("resource call");
        last = (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        );
        if last.0 == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(last, (401, json!({"detail": "Token has been revoked"})));
}

#[tokio::test]
async fn the_resource_service_refuses_forged_and_missing_tokens() {
    let demo = start_demo(|_| {}).await;
    let (resource, verifier) = start_resource_service(&demo).await;
    let token = demo.token("john", "secret").await;
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    let tampered = parts.join(".");

    for bad in [tampered.as_str(), "garbage", "a.b.c"] {
        let response = demo
            .http
            .get(format!("{resource}/data"))
            .bearer_auth(bad)
            .send()
            .await
            .expect("resource call");
        assert_eq!(response.status(), 401, "{bad}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body, json!({"detail": "Could not validate credentials"}));
    }
    let none = demo
        .http
        .get(format!("{resource}/data"))
        .send()
        .await
        .expect("call");
    assert_eq!(none.status(), 401);
    let body: Value = none.json().await.expect("json");
    assert_eq!(body, json!({"detail": "Not authenticated"}));
    assert!(verifier.verify(&token).await.is_ok());
    assert!(demo.auth.authenticate(&token).await.is_ok());
}

#[tokio::test]
async fn the_resource_service_cannot_verify_hmac_tokens_without_the_secret() {
    let demo = start_demo(|s| s.secret_key = Some(Secret::new("k".repeat(40)))).await;
    let (resource, _) = start_resource_service(&demo).await;
    let token = demo.token("john", "secret").await;

    let response = demo
        .http
        .get(format!("{resource}/data"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("resource call");

    assert_eq!(response.status(), 401, "HS256 keys are not published");
}

#[tokio::test]
async fn a_key_rotation_never_fails_a_resource_service_that_caches_the_jwks() {
    let demo = start_demo(|s| s.key_publish_delay = 4).await;
    let verifier = Verifier::start(VerifierConfig {
        jwks_url: format!("{}/.well-known/jwks.json", demo.url),
        database_url: Some(demo.database_url.clone()),
        jwks_max_age: Duration::from_secs(1),
        ..VerifierConfig::default()
    })
    .await
    .expect("verifier");
    let before = demo.token("john", "secret").await;
    let old_kid = kid(&before);

    let rotate = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["keys", "rotate", "--database-url", &demo.database_url])
        .env_clear()
        .env("KEY_PUBLISH_DELAY", "4")
        .output()
        .expect("keys rotate");
    assert!(
        rotate.status.success(),
        "{}",
        String::from_utf8_lossy(&rotate.stderr)
    );

    let started = Instant::now();
    let mut kids = std::collections::BTreeSet::new();
    while started.elapsed() < Duration::from_secs(9) {
        let token = demo.token("john", "secret").await;
        kids.insert(kid(&token));
        verifier.verify(&token).await.unwrap_or_else(|e| {
            panic!(
                "a token of kid {} failed at {:?}: {e}",
                kid(&token),
                started.elapsed()
            )
        });
        verifier
            .verify(&before)
            .await
            .expect("tokens of the old key keep working");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = demo.token("john", "secret").await;
    assert_ne!(kid(&after), old_kid, "the new key signs after the delay");
    assert_eq!(kids.len(), 2, "both keys signed during the test: {kids:?}");
    let jwks: Value = demo
        .http
        .get(format!("{}/.well-known/jwks.json", demo.url))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        published.contains(&old_kid.as_str()),
        "the old key stays published: {published:?}"
    );
    assert!(published.contains(&kid(&after).as_str()));
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}
