//! Cookie login (`POST /login/secure`) and its CSRF protection.

use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::json;

use super::helpers::{TestApp, json, spawn_app, spawn_app_with};

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii cookie").to_string())
        .collect()
}

fn cookie<'a>(cookies: &'a [String], name: &str) -> &'a str {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("cookie {name} in {cookies:?}"))
}

fn value(cookie: &str) -> String {
    cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

async fn secure_login(app: &TestApp) -> Vec<String> {
    let response = app
        .client
        .post(app.url("/login/secure"))
        .form(&[("username", "john"), ("password", "secret")])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200);
    let cookies = set_cookies(response.headers());
    assert_eq!(json(response).await, json!({"message": "Login successful"}));
    cookies
}

#[tokio::test]
async fn secure_login_sets_the_three_cookies_with_the_contract_flags() {
    let app = spawn_app().await;

    let cookies = secure_login(&app).await;

    let access = cookie(&cookies, "access_token");
    assert!(access.contains("HttpOnly"), "{access}");
    assert!(access.contains("Secure"), "{access}");
    assert!(access.contains("SameSite=Lax"), "{access}");
    assert!(access.contains("Max-Age=1800"), "{access}");
    assert!(access.contains("Path=/"), "{access}");
    let refresh = cookie(&cookies, "refresh_token");
    assert!(refresh.contains("HttpOnly"), "{refresh}");
    assert!(refresh.contains("Path=/token"), "{refresh}");
    let csrf = cookie(&cookies, "csrf_token");
    assert!(!csrf.contains("HttpOnly"), "scripts must read it: {csrf}");
    assert!(value(csrf).len() >= 32);
}

#[tokio::test]
async fn cookie_secure_false_drops_the_secure_flag_for_plain_http() {
    let app = spawn_app_with(|s| s.cookie_secure = false).await;

    let cookies = secure_login(&app).await;

    for c in &cookies {
        assert!(!c.contains("Secure"), "{c}");
    }
}

#[tokio::test]
async fn the_access_cookie_authenticates_reads_and_changes_need_the_csrf_header() {
    let app = spawn_app_with(|s| s.cookie_secure = false).await;
    let cookies = secure_login(&app).await;
    let csrf = value(cookie(&cookies, "csrf_token"));

    let me = app
        .client
        .get(app.url("/users/me"))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);
    assert_eq!(json(me).await["username"], "john");

    let no_header = app
        .client
        .post(app.url("/logout/all"))
        .send()
        .await
        .expect("post");
    assert_eq!(no_header.status(), 403);
    let wrong = app
        .client
        .post(app.url("/logout/all"))
        .header("X-CSRF-Token", "not-the-cookie")
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), 403);
    let sessions = app
        .client
        .get(app.url("/sessions"))
        .send()
        .await
        .expect("sessions");
    assert_eq!(
        sessions.status(),
        200,
        "the failed attempts changed nothing"
    );

    let logout = app
        .client
        .post(app.url("/logout"))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 200);
    let cleared = set_cookies(logout.headers());
    for name in ["access_token", "refresh_token", "csrf_token"] {
        assert!(
            cookie(&cleared, name).contains("Max-Age=0"),
            "{name} cleared: {cleared:?}"
        );
    }
    let after = app
        .client
        .get(app.url("/users/me"))
        .send()
        .await
        .expect("me");
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn a_bearer_header_needs_no_csrf_token_even_with_cookies_present() {
    let app = spawn_app_with(|s| s.cookie_secure = false).await;
    secure_login(&app).await;
    let token = app.token("john", "secret").await;

    let response = app
        .client
        .post(app.url("/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("logout");

    assert_eq!(response.status(), 200);
    assert_eq!(app.me(&token).await.status(), 401);
}

#[tokio::test]
async fn the_refresh_cookie_rotates_through_token_refresh() {
    let app = spawn_app_with(|s| s.cookie_secure = false).await;
    let cookies = secure_login(&app).await;
    let csrf = value(cookie(&cookies, "csrf_token"));
    let old_refresh = value(cookie(&cookies, "refresh_token"));

    let refreshed = app
        .client
        .post(app.url("/token/refresh"))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .expect("refresh");

    assert_eq!(refreshed.status(), 200);
    let renewed = set_cookies(refreshed.headers());
    assert_ne!(value(cookie(&renewed, "refresh_token")), old_refresh);
    let body = json(refreshed).await;
    assert!(
        body.get("refresh_token").is_none(),
        "cookie clients get no token in the body: {body}"
    );
    let me = app
        .client
        .get(app.url("/users/me"))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);

    let stale = super::helpers::client()
        .post(app.url("/token/refresh"))
        .json(&json!({"refresh_token": old_refresh}))
        .send()
        .await
        .expect("stale refresh");
    assert_eq!(stale.status(), 409, "used moments ago");
}

#[tokio::test]
async fn a_refresh_by_cookie_without_the_csrf_header_is_refused() {
    let app = spawn_app_with(|s| s.cookie_secure = false).await;
    secure_login(&app).await;

    let response = app
        .client
        .post(app.url("/token/refresh"))
        .send()
        .await
        .expect("refresh");

    assert_eq!(response.status(), 403);
}
