//! Refresh tokens: rotation, every way of presenting one, reuse detection
//! that spares honest retries, the concurrent race, and refusals.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::helpers::{TestApp, json, spawn_app, spawn_app_with};

async fn refresh_json(app: &TestApp, refresh_token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/token/refresh"))
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .expect("refresh")
}

fn field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {v}"))
        .to_string()
}

#[tokio::test]
async fn every_way_of_presenting_a_refresh_token_rotates_it() {
    let app = spawn_app().await;
    let login = app.login("john", "secret").await;
    let mut current = field(&login, "refresh_token");
    assert_eq!(current.len(), 43, "256 bits, base64url");

    let ways: [&dyn Fn(&str) -> reqwest::RequestBuilder; 4] = [
        &|t| {
            app.client
                .post(app.url("/token/refresh"))
                .json(&json!({"refresh_token": t}))
        },
        &|t| {
            app.client
                .post(app.url("/token/refresh"))
                .form(&[("refresh_token", t)])
        },
        &|t| {
            app.client
                .post(app.url(&format!("/token/refresh?refresh_token={t}")))
        },
        &|t| {
            app.client
                .post(app.url("/token"))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", t)])
        },
    ];
    for (i, way) in ways.iter().enumerate() {
        let response = way(&current).send().await.expect("refresh");
        assert_eq!(response.status(), 200, "way {i}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body = json(response).await;
        assert_eq!(body["token_type"], "bearer");
        assert!(body["expires_in"].as_i64().is_some_and(|s| s > 0));
        let next = field(&body, "refresh_token");
        assert_ne!(next, current, "way {i} rotates");
        let access = field(&body, "access_token");
        assert_eq!(
            app.me(&access).await.status(),
            200,
            "way {i} access token works"
        );
        current = next;
    }
}

#[tokio::test]
async fn a_token_presented_again_at_once_is_409_and_revokes_nothing() {
    let app = spawn_app().await;
    let login = app.login("john", "secret").await;
    let first = field(&login, "refresh_token");
    let rotated = json(refresh_json(&app, &first).await).await;

    let again = refresh_json(&app, &first).await;

    assert_eq!(again.status(), 409);
    assert_eq!(
        json(again).await,
        json!({"detail": "Refresh token already used"})
    );
    assert_eq!(app.me(&field(&login, "access_token")).await.status(), 200);
    assert_eq!(app.me(&field(&rotated, "access_token")).await.status(), 200);
    assert_eq!(
        refresh_json(&app, &field(&rotated, "refresh_token"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn reuse_after_the_interval_revokes_the_whole_session() {
    let app = spawn_app_with(|s| s.refresh_reuse_interval = 0).await;
    let login = app.login("john", "secret").await;
    let first = field(&login, "refresh_token");
    let rotated = json(refresh_json(&app, &first).await).await;
    let other_session = app.token("john", "secret").await;

    let reuse = refresh_json(&app, &first).await;

    assert_eq!(reuse.status(), 401);
    assert!(reuse.headers().contains_key("www-authenticate"));
    assert_eq!(
        json(reuse).await,
        json!({"detail": "Invalid refresh token"})
    );
    for access in [
        field(&login, "access_token"),
        field(&rotated, "access_token"),
    ] {
        let response = app.me(&access).await;
        assert_eq!(response.status(), 401);
        assert_eq!(
            json(response).await,
            json!({"detail": "Token has been revoked"})
        );
    }
    assert_eq!(
        refresh_json(&app, &field(&rotated, "refresh_token"))
            .await
            .status(),
        401
    );
    assert_eq!(
        app.me(&other_session).await.status(),
        200,
        "other sessions are untouched"
    );
}

#[tokio::test]
async fn reuse_just_past_a_one_second_interval_is_detected() {
    let app = spawn_app_with(|s| s.refresh_reuse_interval = 1).await;
    let login = app.login("john", "secret").await;
    let first = field(&login, "refresh_token");
    assert_eq!(refresh_json(&app, &first).await.status(), 200);
    assert_eq!(refresh_json(&app, &first).await.status(), 409);

    tokio::time::sleep(Duration::from_millis(2100)).await;

    assert_eq!(refresh_json(&app, &first).await.status(), 401);
    assert_eq!(app.me(&field(&login, "access_token")).await.status(), 401);
}

#[tokio::test]
async fn eight_simultaneous_refreshes_give_one_pair_and_seven_409s() {
    let app = Arc::new(spawn_app().await);
    let token = field(&app.login("john", "secret").await, "refresh_token");
    let barrier = Arc::new(tokio::sync::Barrier::new(8));

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, token, barrier) = (app.clone(), token.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                refresh_json(&app, &token).await.status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    statuses.sort();

    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
}

#[tokio::test]
async fn refresh_is_refused_after_logout_disable_and_for_unknown_tokens() {
    let app = spawn_app().await;
    let login = app.login("john", "secret").await;
    assert_eq!(
        app.logout(&field(&login, "access_token")).await.status(),
        200
    );
    let after_logout = refresh_json(&app, &field(&login, "refresh_token")).await;
    assert_eq!(after_logout.status(), 401);
    assert_eq!(
        json(after_logout).await,
        json!({"detail": "Invalid refresh token"})
    );

    let user = app.add_user("soon-off", "soon-off-password").await;
    let session = app.login("soon-off", "soon-off-password").await;
    app.auth
        .update_user(
            user.id,
            latchkey::store::UserPatch {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("disable");
    assert_eq!(
        refresh_json(&app, &field(&session, "refresh_token"))
            .await
            .status(),
        401
    );

    let unknown = "A".repeat(43);
    for bad in [
        unknown.as_str(),
        "",
        "short",
        &"x".repeat(10_000),
        "../../etc/passwd",
    ] {
        let response = refresh_json(&app, bad).await;
        assert_eq!(response.status(), 401, "{bad:.20}");
        assert_eq!(
            json(response).await,
            json!({"detail": "Invalid refresh token"})
        );
    }
}

#[tokio::test]
async fn malformed_refresh_requests_are_422_never_5xx() {
    let app = spawn_app().await;
    let cases = [
        json!({}),
        json!({"refresh_token": 5}),
        json!({"refresh_token": ["a"]}),
        json!({"refresh_token": {}}),
    ];
    for body in cases {
        let response = app
            .client
            .post(app.url("/token/refresh"))
            .json(&body)
            .send()
            .await
            .expect("req");
        assert_eq!(response.status(), 422, "{body}");
    }
    let broken = app
        .client
        .post(app.url("/token/refresh"))
        .header("Content-Type", "application/json")
        .body("{\"refresh_token\":")
        .send()
        .await
        .expect("req");
    assert_eq!(broken.status(), 422);
    let grant = app
        .client
        .post(app.url("/token"))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .expect("req");
    assert_eq!(grant.status(), 422);
    assert_eq!(
        json(grant).await["detail"][0]["loc"],
        json!(["body", "refresh_token"])
    );
}

#[tokio::test]
async fn access_tokens_never_outlive_the_session() {
    let app = spawn_app_with(|s| s.session_max_days = 1).await;
    let login = app.login("john", "secret").await;
    let sid = app
        .auth
        .authenticate(&field(&login, "access_token"))
        .await
        .expect("valid")
        .sid;
    let session = app
        .auth
        .store
        .session(&sid)
        .await
        .expect("store")
        .expect("session");
    assert_eq!(session.expires_at - session.created_at, 86_400);
    let claims = app
        .auth
        .authenticate(&field(&login, "access_token"))
        .await
        .expect("valid");
    assert!(claims.exp <= session.expires_at);
}

#[tokio::test]
async fn refresh_and_reuse_detection_survive_a_restart() {
    let app = spawn_app_with(|s| s.refresh_reuse_interval = 0).await;
    let login = app.login("john", "secret").await;
    let first = field(&login, "refresh_token");
    let rotated = json(refresh_json(&app, &first).await).await;

    let app = app.restart().await;

    let next = refresh_json(&app, &field(&rotated, "refresh_token")).await;
    assert_eq!(next.status(), 200, "the stored refresh token still rotates");
    let next = json(next).await;
    assert_eq!(
        refresh_json(&app, &first).await.status(),
        401,
        "reuse still detected"
    );
    assert_eq!(
        app.me(&field(&next, "access_token")).await.status(),
        401,
        "and the session revoked"
    );
}
