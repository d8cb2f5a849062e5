//! Registration (`POST /users`) and password changes.

use serde_json::{Value, json};

use super::helpers::{TestApp, json, spawn_app, spawn_app_with};

async fn register(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/users"))
        .json(&body)
        .send()
        .await
        .expect("register")
}

#[tokio::test]
async fn registration_creates_a_user_who_can_log_in() {
    let app = spawn_app().await;

    let response = register(
        &app,
        json!({"username": "newbie", "password": "new-password", "email": "New@Example.com", "full_name": "New Bie"}),
    )
    .await;

    assert_eq!(response.status(), 201);
    let text = response.text().await.expect("text");
    assert!(
        !text.contains("new-password") && !text.contains("argon2"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).expect("json");
    for key in [
        "id",
        "username",
        "email",
        "full_name",
        "disabled",
        "roles",
        "permissions",
        "created_at",
    ] {
        assert!(body.get(key).is_some(), "{key} in {body}");
    }
    assert_eq!(body["username"], "newbie");
    assert_eq!(body["disabled"], false);
    assert_eq!(body["roles"], json!([]));
    let token = app.token("newbie", "new-password").await;
    assert_eq!(app.me(&token).await.status(), 200);
}

#[tokio::test]
async fn taken_usernames_and_emails_conflict_case_insensitively() {
    let app = spawn_app().await;
    let cases = [
        json!({"username": "john", "password": "long-password"}),
        json!({"username": "JoHn", "password": "long-password"}),
        json!({"username": "other", "password": "long-password", "email": "JOHN@example.com"}),
    ];
    for body in cases {
        let response = register(&app, body.clone()).await;
        assert_eq!(response.status(), 409, "{body}");
        assert!(json(response).await["detail"].is_string());
    }
}

#[tokio::test]
async fn invalid_registrations_are_422() {
    let app = spawn_app().await;
    let long = "u".repeat(10_000);
    let cases = [
        json!({"username": "shorty", "password": "1234567"}),
        json!({"username": "huge", "password": "p".repeat(1025)}),
        json!({"username": "a b", "password": "long-password"}),
        json!({"username": "", "password": "long-password"}),
        json!({"username": long, "password": "long-password"}),
        json!({"username": "ok", "password": "long-password", "email": "not-an-email"}),
        json!({"username": 42, "password": "long-password"}),
        json!({"username": "ok", "password": ["long-password"]}),
        json!({"username": "ok", "password": "long-password", "email": 3}),
        json!({"password": "long-password"}),
        json!({"username": "ok"}),
    ];
    for body in cases {
        let response = register(&app, body.clone()).await;
        assert_eq!(response.status(), 422, "{body:.80}");
        let detail = json(response).await;
        assert!(detail["detail"][0]["loc"][0] == "body", "{detail}");
    }
    let exactly_1024 = register(
        &app,
        json!({"username": "edge", "password": "p".repeat(1024)}),
    )
    .await;
    assert_eq!(exactly_1024.status(), 201);
    let not_json = app
        .client
        .post(app.url("/users"))
        .header("Content-Type", "application/json")
        .body("{oops")
        .send()
        .await
        .expect("req");
    assert_eq!(not_json.status(), 422);
}

#[tokio::test]
async fn closed_registration_is_403() {
    let app = spawn_app_with(|s| s.registration = latchkey::config::Registration::Closed).await;

    let response = register(
        &app,
        json!({"username": "newbie", "password": "new-password"}),
    )
    .await;

    assert_eq!(response.status(), 403);
    assert!(json(response).await["detail"].is_string());
}

async fn change_password(
    app: &TestApp,
    token: &str,
    current: &str,
    new: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/users/me/password"))
        .bearer_auth(token)
        .json(&json!({"current_password": current, "new_password": new}))
        .send()
        .await
        .expect("change password")
}

#[tokio::test]
async fn changing_the_password_revokes_every_other_session() {
    let app = spawn_app().await;
    let other = app.token("john", "secret").await;
    let current = app.token("john", "secret").await;

    let response = change_password(&app, &current, "secret", "a-better-password").await;

    assert_eq!(response.status(), 200);
    let revoked = app.me(&other).await;
    assert_eq!(
        json(revoked).await,
        json!({"detail": "Token has been revoked"})
    );
    assert_eq!(
        app.me(&current).await.status(),
        200,
        "the session that changed it stays"
    );
    assert_eq!(app.post_token("john", "secret").await.status(), 401);
    assert_eq!(
        app.post_token("john", "a-better-password").await.status(),
        200
    );
}

#[tokio::test]
async fn a_wrong_current_password_or_a_weak_new_one_changes_nothing() {
    let app = spawn_app().await;
    let other = app.token("john", "secret").await;
    let current = app.token("john", "secret").await;

    let wrong = change_password(&app, &current, "not-it", "a-better-password").await;
    assert_eq!(wrong.status(), 400);
    assert!(json(wrong).await["detail"].is_string());
    let weak = change_password(&app, &current, "secret", "short").await;
    assert_eq!(weak.status(), 422);
    let missing = app
        .client
        .post(app.url("/users/me/password"))
        .bearer_auth(&current)
        .json(&json!({"new_password": "a-better-password"}))
        .send()
        .await
        .expect("req");
    assert_eq!(missing.status(), 422);

    assert_eq!(app.me(&other).await.status(), 200);
    assert_eq!(app.post_token("john", "secret").await.status(), 200);
    let anonymous = app
        .client
        .post(app.url("/users/me/password"))
        .json(&json!({"current_password": "secret", "new_password": "a-better-password"}))
        .send()
        .await
        .expect("req");
    assert_eq!(anonymous.status(), 401);
}
