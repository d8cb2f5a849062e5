//! The reference tutorials' flows, as their curl commands and pytest cases
//! run them: login as john/secret, `/users/me`, logout, then refused.

use serde_json::{Value, json};

use super::helpers::{json, spawn_app};

#[tokio::test]
async fn form_login_returns_a_bearer_token() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(app.url("/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("username=john&password=secret")
        .send()
        .await
        .expect("login");

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json(response).await;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1800);
    assert_eq!(
        body["access_token"]
            .as_str()
            .expect("token")
            .split('.')
            .count(),
        3
    );
}

#[tokio::test]
async fn users_me_shows_the_tutorial_user() {
    let app = spawn_app().await;
    let token = app.token("john", "secret").await;

    let response = app.me(&token).await;

    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["username"], "john");
    assert_eq!(body["email"], "john@example.com");
    assert_eq!(body["full_name"], "John Doe");
    assert_eq!(body["disabled"], false);
    assert!(body["id"].is_i64());
    assert!(body.get("hashed_password").is_none() && body.get("password_hash").is_none());
}

#[tokio::test]
async fn logout_revokes_the_token() {
    let app = spawn_app().await;
    let token = app.token("john", "secret").await;

    let logout = app.logout(&token).await;
    assert_eq!(logout.status(), 200);
    assert_eq!(
        json(logout).await,
        json!({"message": "Successfully logged out"})
    );

    let after = app.me(&token).await;
    assert_eq!(after.status(), 401);
    assert_eq!(
        after.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(
        json(after).await,
        json!({"detail": "Token has been revoked"})
    );
}

#[tokio::test]
async fn no_token_is_not_authenticated() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/users/me"))
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(json(response).await, json!({"detail": "Not authenticated"}));
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_is_refused_alike() {
    let app = spawn_app().await;
    for (user, password) in [
        ("john", "wrong"),
        ("nobody", "secret"),
        ("john", ""),
        ("", ""),
    ] {
        let response = app.post_token(user, password).await;
        assert_eq!(response.status(), 401, "{user}/{password}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(
            json(response).await,
            json!({"detail": "Incorrect username or password"})
        );
    }
}

#[tokio::test]
async fn json_login_and_email_login_are_accepted() {
    let app = spawn_app().await;

    let by_json = app
        .client
        .post(app.url("/token"))
        .json(&json!({"username": "john", "password": "secret"}))
        .send()
        .await
        .expect("json login");
    let by_email = app.post_token("john@example.com", "secret").await;
    let by_case = app.post_token("JOHN@EXAMPLE.COM", "secret").await;

    assert_eq!(by_json.status(), 200);
    assert_eq!(by_email.status(), 200);
    assert_eq!(by_case.status(), 200);
    let token = json(by_email).await["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(json(app.me(&token).await).await["username"], "john");
}

#[tokio::test]
async fn a_disabled_user_with_the_right_password_is_inactive() {
    let app = spawn_app().await;
    let user = app.add_user("sleepy", "sleepy-password").await;
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

    let right = app.post_token("sleepy", "sleepy-password").await;
    let wrong = app.post_token("sleepy", "not-it").await;

    assert_eq!(right.status(), 400);
    assert_eq!(json(right).await, json!({"detail": "Inactive user"}));
    assert_eq!(
        wrong.status(),
        401,
        "a wrong password never reveals the account state"
    );
}

#[tokio::test]
async fn login_extended_returns_access_and_refresh_tokens() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(app.url("/login/extended"))
        .form(&[("username", "john"), ("password", "secret")])
        .send()
        .await
        .expect("login");

    assert_eq!(response.status(), 200);
    let body: Value = json(response).await;
    assert_eq!(body["token_type"], "bearer");
    assert!(body["access_token"].is_string());
    assert!(body["refresh_token"].is_string());
}
