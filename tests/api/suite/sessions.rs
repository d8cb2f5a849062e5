//! Sessions per device: listing, logging out one device or all of them.

use serde_json::{Value, json};

use super::helpers::{TestApp, json, spawn_app};

async fn login_as(app: &TestApp, path: &str, agent: &str) -> Value {
    let response = app
        .client
        .post(app.url(path))
        .header("User-Agent", agent)
        .form(&[("username", "john"), ("password", "secret")])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200);
    json(response).await
}

fn access(v: &Value) -> &str {
    v["access_token"].as_str().expect("access_token")
}

async fn sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url("/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sessions");
    assert_eq!(response.status(), 200);
    json(response).await["active_sessions"]
        .as_array()
        .expect("list")
        .clone()
}

#[tokio::test]
async fn sessions_list_each_device_and_mark_the_current_one() {
    let app = spawn_app().await;
    let phone = login_as(&app, "/token", "Phone/1.0").await;
    let laptop = login_as(&app, "/login/multi-device", "Laptop/2.0").await;

    let list = sessions(&app, access(&laptop)).await;

    assert_eq!(list.len(), 2);
    for s in &list {
        for key in [
            "id",
            "jti",
            "device",
            "ip",
            "created_at",
            "last_used_at",
            "current",
        ] {
            assert!(s.get(key).is_some(), "{key} in {s}");
        }
        assert_eq!(s["id"], s["jti"]);
        assert_eq!(s["ip"], "127.0.0.1");
    }
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device"], "Laptop/2.0");
    assert_eq!(
        current[0]["jti"], laptop["jti"],
        "multi-device answers the session id"
    );
    assert!(list.iter().any(|s| s["device"] == "Phone/1.0"));
    assert!(
        phone.get("jti").is_none(),
        "only /login/multi-device adds jti"
    );
}

#[tokio::test]
async fn logging_out_one_device_by_query_or_body_revokes_only_it() {
    let app = spawn_app().await;
    let phone = login_as(&app, "/login/multi-device", "Phone").await;
    let tablet = login_as(&app, "/login/multi-device", "Tablet").await;
    let laptop = login_as(&app, "/login/multi-device", "Laptop").await;

    let by_query = app
        .client
        .post(app.url(&format!(
            "/logout/device?jti={}",
            phone["jti"].as_str().expect("jti")
        )))
        .bearer_auth(access(&laptop))
        .send()
        .await
        .expect("logout device");
    assert_eq!(by_query.status(), 200);
    assert_eq!(
        json(by_query).await,
        json!({"message": "Device logged out"})
    );
    let by_body = app
        .client
        .post(app.url("/logout/device"))
        .bearer_auth(access(&laptop))
        .json(&json!({"jti": tablet["jti"]}))
        .send()
        .await
        .expect("logout device");
    assert_eq!(by_body.status(), 200);

    for gone in [&phone, &tablet] {
        let response = app.me(access(gone)).await;
        assert_eq!(
            json(response).await,
            json!({"detail": "Token has been revoked"})
        );
    }
    assert_eq!(app.me(access(&laptop)).await.status(), 200);
    assert_eq!(sessions(&app, access(&laptop)).await.len(), 1);
}

#[tokio::test]
async fn another_users_session_or_a_made_up_id_is_404() {
    let app = spawn_app().await;
    app.add_user("eve", "eve-password").await;
    let john = login_as(&app, "/login/multi-device", "John").await;
    let eve = app.login("eve", "eve-password").await;
    let eve_sid = app
        .auth
        .authenticate(access(&eve))
        .await
        .expect("valid")
        .sid;

    let long = "x".repeat(10_000);
    for jti in [
        eve_sid.as_str(),
        "00000000-0000-0000-0000-000000000000",
        "not-a-uuid",
        "",
        long.as_str(),
    ] {
        let response = app
            .client
            .post(app.url("/logout/device"))
            .bearer_auth(access(&john))
            .json(&json!({ "jti": jti }))
            .send()
            .await
            .expect("req");
        assert_eq!(response.status(), 404, "{jti:.20}");
    }
    assert_eq!(
        app.me(access(&eve)).await.status(),
        200,
        "eve's session is untouched"
    );
    for body in [json!({}), json!({"jti": 5}), json!({"jti": null})] {
        let response = app
            .client
            .post(app.url("/logout/device"))
            .bearer_auth(access(&john))
            .json(&body)
            .send()
            .await
            .expect("req");
        assert_eq!(response.status(), 422, "{body}");
    }
}

#[tokio::test]
async fn logout_all_revokes_every_session_of_the_user() {
    let app = spawn_app().await;
    let tokens: Vec<String> = [
        app.token("john", "secret").await,
        app.token("john", "secret").await,
        app.token("john", "secret").await,
    ]
    .to_vec();
    let admin = app.admin_token().await;

    let response = app
        .client
        .post(app.url("/logout/all"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .expect("req");

    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["revoked"], 3);
    assert!(body["message"].is_string());
    for token in &tokens {
        assert_eq!(app.me(token).await.status(), 401);
    }
    assert_eq!(
        app.me(&admin).await.status(),
        200,
        "other users keep their sessions"
    );
}

#[tokio::test]
async fn last_used_at_moves_on_refresh() {
    let app = spawn_app().await;
    let login = app.login("john", "secret").await;
    let before = sessions(&app, access(&login)).await[0]["last_used_at"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let refreshed = app
        .client
        .post(app.url("/token/refresh"))
        .json(&json!({"refresh_token": login["refresh_token"]}))
        .send()
        .await
        .expect("refresh");
    let refreshed = json(refreshed).await;

    let after = sessions(&app, access(&refreshed)).await;
    assert_eq!(after.len(), 1, "a refresh keeps the session");
    assert_ne!(after[0]["last_used_at"], before);
}

#[tokio::test]
async fn session_endpoints_need_a_token() {
    let app = spawn_app().await;
    for (method, path) in [
        (reqwest::Method::GET, "/sessions"),
        (reqwest::Method::POST, "/logout"),
        (reqwest::Method::POST, "/logout/all"),
        (reqwest::Method::POST, "/logout/device?jti=x"),
    ] {
        let response = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .expect("req");
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(json(response).await, json!({"detail": "Not authenticated"}));
    }
}
