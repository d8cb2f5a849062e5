//! Metrics and logs: every domain event shows in `/metrics` under its name,
//! and JSON log lines carry the request id the answer's `x-request-id`
//! header names.

use std::fs::File;

use serde_json::Value;

use crate::helpers::{ADMIN_PASSWORD, Backend, ServerProcess, json, spawn_app_on};

#[tokio::test]
async fn metrics_count_logins_refreshes_reuse_revocations_and_rate_limits() {
    let app = spawn_app_on(Backend::Sqlite, |s| {
        s.refresh_reuse_interval = 0;
        s.login_max_failures = 2;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(app.post_token("john", "wrong").await.status(), 401);
    }
    assert_eq!(app.post_token("john", "wrong").await.status(), 429);
    let tokens = app.login("admin", ADMIN_PASSWORD).await;
    let first = tokens["refresh_token"].as_str().expect("refresh token");
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/token/refresh"))
                .json(&serde_json::json!({ "refresh_token": token }))
                .send()
                .await
                .expect("refresh")
                .status()
        }
    };
    assert_eq!(refresh(first.to_string()).await, 200);
    // The spent token again: reuse, and its session is revoked.
    assert_eq!(refresh(first.to_string()).await, 401);
    let other = app.login("admin", ADMIN_PASSWORD).await;
    let revoked = app
        .client
        .post(app.url("/revoke"))
        .form(&[("token", other["access_token"].as_str().expect("access"))])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 200);

    let response = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");

    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("text");
    for metric in [
        "logins_total{result=\"ok\"}",
        "logins_total{result=\"failed\"}",
        "login_rate_limited_total",
        "refreshes_total{result=\"ok\"}",
        "refresh_reuse_detected_total",
        "revocations_total",
        "http_request_duration_seconds_bucket{route=\"/token/refresh\"",
    ] {
        assert!(text.contains(metric), "{metric} in\n{text}");
    }
    let by_route_and_status = |route: &str, status: &str| {
        text.lines().any(|l| {
            l.starts_with("http_requests_total{")
                && l.contains(&format!("route=\"{route}\""))
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(by_route_and_status("/token", "429"), "{text}");
    assert!(by_route_and_status("/token/refresh", "401"), "{text}");
    assert!(by_route_and_status("/revoke", "200"), "{text}");
}

#[tokio::test]
async fn json_log_lines_carry_the_answers_request_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("server.log");
    let log = File::create(&log_path).expect("log file");
    let database_url = format!("sqlite://{}/latchkey.db", dir.path().display());
    let server = ServerProcess::start_logging(
        dir.path(),
        &database_url,
        &[
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info,tower_http=debug"),
            ("LATCHKEY_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ],
        log,
    );
    let client = reqwest::Client::new();

    let response = client
        .post(format!("{}/token", server.url))
        .form(&[("username", "admin"), ("password", "wrong")])
        .send()
        .await
        .expect("login");

    assert_eq!(response.status(), 401);
    let id = response.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    let _ = json(response).await;
    server.kill();
    let text = std::fs::read_to_string(&log_path).expect("log");
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| l.contains(&id))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("JSON line: {l}")))
        .collect();
    assert!(!lines.is_empty(), "request {id} in the log:\n{text}");
    for line in &lines {
        assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
        assert_eq!(line["span"]["path"], "/token", "{line}");
    }
    assert!(!text.contains("wrong\""), "no password in the log");
}

#[tokio::test]
async fn made_up_methods_share_one_metrics_label() {
    let app = spawn_app_on(Backend::Sqlite, |_| {}).await;
    for name in ["BREW", "XPROBE1", "XPROBE2"] {
        let method = reqwest::Method::from_bytes(name.as_bytes()).expect("method token");
        let response = app
            .client
            .request(method, app.url("/healthz"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 405);
    }

    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");

    for name in ["BREW", "XPROBE1", "XPROBE2"] {
        assert!(!text.contains(name), "{name} became a label:\n{text}");
    }
    assert!(
        text.lines().any(|l| l.starts_with(
            "http_requests_total{route=\"/healthz\",method=\"other\",status=\"405\"}"
        )),
        "{text}"
    );
}
