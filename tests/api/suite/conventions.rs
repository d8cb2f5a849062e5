//! The contract's conventions: JSON errors, FastAPI-shaped 422s, 404/405,
//! 413 and 431, trailing slashes, health, and no secret in any answer.

use serde_json::{Value, json};

use super::helpers::{json, spawn_app};

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_json() {
    let app = spawn_app().await;

    let missing = app
        .client
        .get(app.url("/no/such/path"))
        .send()
        .await
        .expect("req");
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/json");
    assert_eq!(json(missing).await, json!({"detail": "Not Found"}));

    let wrong = app
        .client
        .delete(app.url("/users/me"))
        .send()
        .await
        .expect("req");
    assert_eq!(wrong.status(), 405);
    assert_eq!(json(wrong).await, json!({"detail": "Method Not Allowed"}));
    let wrong = app.client.get(app.url("/token")).send().await.expect("req");
    assert_eq!(wrong.status(), 405);
}

#[tokio::test]
async fn a_trailing_slash_is_the_same_path_without_a_redirect() {
    let app = spawn_app().await;
    let token = app.token("john", "secret").await;

    let response = app
        .client
        .get(app.url("/users/me/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("req");

    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["username"], "john");
    let login = app
        .client
        .post(app.url("/token/"))
        .form(&[("username", "john"), ("password", "secret")])
        .send()
        .await
        .expect("req");
    assert_eq!(login.status(), 200);
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let big = format!("username=john&password={}", "x".repeat(70 * 1024));

    let response = app
        .client
        .post(app.url("/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .expect("req");

    assert_eq!(response.status(), 413);
    assert!(json(response).await["detail"].is_string());
    let json_body = app
        .client
        .post(app.url("/users"))
        .json(&json!({"username": "x", "password": "y".repeat(70 * 1024)}))
        .send()
        .await
        .expect("req");
    assert_eq!(json_body.status(), 413);
}

#[tokio::test]
async fn an_over_long_header_is_431() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/users/me"))
        .header("X-Padding", "a".repeat(512 * 1024))
        .send()
        .await;

    match response {
        Ok(r) => assert_eq!(r.status(), 431),
        // hyper may also close the connection after writing the 431.
        Err(e) => panic!("expected a 431 answer, got {e}"),
    }
}

#[tokio::test]
async fn missing_and_mistyped_login_fields_are_fastapi_422s() {
    let app = spawn_app().await;

    let empty = app
        .client
        .post(app.url("/token"))
        .send()
        .await
        .expect("req");
    assert_eq!(empty.status(), 422);
    let body = json(empty).await;
    let items = body["detail"].as_array().expect("detail list");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["loc"], json!(["body", "username"]));
    assert_eq!(items[0]["type"], "missing");
    assert_eq!(items[0]["msg"], "Field required");
    assert_eq!(items[1]["loc"], json!(["body", "password"]));

    let typed = app
        .client
        .post(app.url("/token"))
        .json(&json!({"username": ["john"], "password": 12}))
        .send()
        .await
        .expect("req");
    assert_eq!(typed.status(), 422);
    let body = json(typed).await;
    assert_eq!(body["detail"][0]["type"], "string_type");
    assert_eq!(body["detail"][1]["loc"], json!(["body", "password"]));

    for malformed in ["{", "[1,2]", "null", "\"john\""] {
        let response = app
            .client
            .post(app.url("/token"))
            .header("Content-Type", "application/json")
            .body(malformed)
            .send()
            .await
            .expect("req");
        assert_eq!(response.status(), 422, "{malformed}");
        assert!(
            json(response).await["detail"][0]["loc"].is_array(),
            "{malformed}"
        );
    }
    let grant = app
        .client
        .post(app.url("/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("req");
    assert_eq!(grant.status(), 422);
    assert_eq!(
        json(grant).await["detail"][0]["loc"],
        json!(["body", "grant_type"])
    );
}

#[tokio::test]
async fn hostile_login_values_never_cause_a_5xx() {
    let app = spawn_app().await;
    let long = "u".repeat(10 * 1024);
    let cases: Vec<Value> = vec![
        json!({"username": long, "password": "secret"}),
        json!({"username": "john", "password": long}),
        json!({"username": "john\u{0}", "password": "secret"}),
        json!({"username": "' OR 1=1 --", "password": "x"}),
        json!({"username": "%", "password": "x"}),
        json!({"username": "john", "password": null}),
        json!({"username": {}, "password": "x"}),
        json!({"username": "😀", "password": "😀"}),
    ];
    for case in cases {
        let response = app
            .client
            .post(app.url("/token"))
            .json(&case)
            .send()
            .await
            .expect("req");
        let status = response.status().as_u16();
        assert!(status == 401 || status == 422, "{case} → {status}");
    }
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;

    let health = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("req");
    assert_eq!(health.status(), 200);
    assert_eq!(json(health).await["status"], "ok");
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("req");
    assert_eq!(ready.status(), 200);
    assert_eq!(json(ready).await["database"], "ok");
}

#[tokio::test]
async fn no_answer_shows_a_password_or_a_hash() {
    let app = spawn_app().await;
    let token = app.token("john", "secret").await;
    let admin = app.admin_token().await;
    let mut bodies = Vec::new();
    for (path, bearer) in [
        ("/users/me", &token),
        ("/sessions", &token),
        ("/admin/users", &admin),
        ("/admin/users/john", &admin),
        ("/admin/audit", &admin),
    ] {
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth(bearer)
            .send()
            .await
            .expect("req");
        bodies.push(r.text().await.expect("text"));
    }
    let failed = app.post_token("john", "hunter2-wrong").await;
    bodies.push(failed.text().await.expect("text"));
    for body in bodies {
        for secret in [
            "secret\"",
            "hunter2-wrong",
            "$argon2",
            "$2b$",
            super::helpers::ADMIN_PASSWORD,
        ] {
            assert!(!body.contains(secret), "{secret} leaked in {body}");
        }
    }
}

#[tokio::test]
async fn every_answer_has_a_request_id_and_nosniff() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("req");

    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let app = spawn_app().await;
    let _ = app.post_token("john", "wrong").await;
    let _ = app.token("john", "secret").await;

    let response = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("req");

    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("text");
    for metric in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "logins_total",
    ] {
        assert!(text.contains(metric), "{metric} in metrics");
    }
    assert!(text.contains("route=\"/token\""), "requests by route");
}
