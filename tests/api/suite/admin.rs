//! Administration under `/admin`, roles and permissions, and attempts at
//! privilege escalation.

use serde_json::{Value, json};

use super::helpers::{json, spawn_app};

async fn send(
    app: &super::helpers::TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, json(response).await)
}

#[tokio::test]
async fn admin_lists_users_with_pagination() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for i in 0..5 {
        app.add_user(&format!("user{i}"), "password-123").await;
    }

    let (status, page) = send(
        &app,
        reqwest::Method::GET,
        "/admin/users?limit=3&offset=2",
        &admin,
        None,
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(page["total"], 7, "admin, john and five users");
    assert_eq!(page["limit"], 3);
    assert_eq!(page["offset"], 2);
    let names: Vec<&str> = page["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].as_str().expect("username"))
        .collect();
    assert_eq!(names, ["user0", "user1", "user2"]);
    assert!(
        page.to_string().find("argon2").is_none(),
        "no hash in the listing"
    );
}

#[tokio::test]
async fn admin_pagination_refuses_bad_numbers() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for query in [
        "limit=0",
        "limit=1001",
        "limit=abc",
        "offset=-1",
        "limit=1e3",
    ] {
        let (status, body) = send(
            &app,
            reqwest::Method::GET,
            &format!("/admin/users?{query}"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 422, "{query}");
        assert!(body["detail"][0]["loc"].is_array(), "{query}: {body}");
    }
}

#[tokio::test]
async fn admin_creates_shows_patches_and_deletes_a_user() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    let (status, created) = send(
        &app,
        reqwest::Method::POST,
        "/admin/users",
        &admin,
        Some(json!({"username": "bob", "password": "bob-password", "email": "bob@example.com", "permissions": ["read:items"]})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(created["username"], "bob");
    assert_eq!(created["permissions"], json!(["read:items"]));

    let (status, shown) = send(&app, reqwest::Method::GET, "/admin/users/bob", &admin, None).await;
    assert_eq!(status, 200);
    assert_eq!(shown["email"], "bob@example.com");

    let (status, patched) = send(
        &app,
        reqwest::Method::PATCH,
        "/admin/users/bob",
        &admin,
        Some(json!({"full_name": "Bob B", "email": null})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(patched["full_name"], "Bob B");
    assert_eq!(patched["email"], Value::Null);

    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        "/admin/users/bob",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = send(&app, reqwest::Method::GET, "/admin/users/bob", &admin, None).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"detail": "User not found"}));
    assert_eq!(app.post_token("bob", "bob-password").await.status(), 401);
}

#[tokio::test]
async fn admin_creation_validates_like_registration() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases = [
        json!({"username": "x y", "password": "long-enough"}),
        json!({"username": "ok", "password": "short"}),
        json!({"username": "ok", "password": "long-enough", "email": "nope"}),
        json!({"username": "ok", "password": "long-enough", "roles": ["no-such-role"]}),
        json!({"username": "ok", "password": "long-enough", "roles": "admin"}),
        json!({"username": "ok", "password": "long-enough", "permissions": ["bad perm"]}),
        json!({"username": 5, "password": "long-enough"}),
        json!({"password": "long-enough"}),
    ];
    for body in cases {
        let (status, answer) = send(
            &app,
            reqwest::Method::POST,
            "/admin/users",
            &admin,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body} → {answer}");
    }
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/admin/users",
        &admin,
        Some(json!({"username": "JOHN", "password": "long-enough"})),
    )
    .await;
    assert_eq!(status, 409, "usernames compare case-insensitively");
}

#[tokio::test]
async fn a_plain_user_cannot_use_the_admin_api() {
    let app = spawn_app().await;
    let john = app.token("john", "secret").await;
    let calls = [
        (reqwest::Method::GET, "/admin/users", None),
        (
            reqwest::Method::POST,
            "/admin/users",
            Some(json!({"username": "evil", "password": "evil-password"})),
        ),
        (reqwest::Method::GET, "/admin/users/admin", None),
        (
            reqwest::Method::PATCH,
            "/admin/users/john",
            Some(json!({"roles": ["admin"]})),
        ),
        (reqwest::Method::DELETE, "/admin/users/admin", None),
        (reqwest::Method::POST, "/admin/users/admin/logout", None),
        (
            reqwest::Method::PUT,
            "/admin/roles/evil",
            Some(json!({"permissions": ["users:admin"]})),
        ),
        (reqwest::Method::GET, "/admin/audit", None),
    ];
    for (method, path, body) in calls {
        let (status, answer) = send(&app, method.clone(), path, &john, body).await;
        assert_eq!(status, 403, "{method} {path}");
        assert_eq!(
            answer,
            json!({"detail": "Permission 'users:admin' required"})
        );
    }
    let (status, me) = send(&app, reqwest::Method::GET, "/users/me", &john, None).await;
    assert_eq!(status, 200);
    assert_eq!(me["roles"], json!([]));
}

#[tokio::test]
async fn a_forged_permissions_claim_is_refused() {
    let app = spawn_app().await;
    let john = app.token("john", "secret").await;
    let parts: Vec<&str> = john.split('.').collect();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value =
        serde_json::from_slice(&engine.decode(parts[1]).expect("payload")).expect("claims");
    claims["permissions"] = json!(["users:admin"]);
    claims["roles"] = json!(["admin"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        engine.encode(claims.to_string()),
        parts[2]
    );

    let (status, body) = send(&app, reqwest::Method::GET, "/admin/users", &forged, None).await;

    assert_eq!(status, 401);
    assert_eq!(body, json!({"detail": "Could not validate credentials"}));
}

#[tokio::test]
async fn disabling_or_deleting_a_user_revokes_its_tokens_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_user("carol", "carol-password").await;
    app.add_user("dave", "dave-password").await;
    let carol = app.token("carol", "carol-password").await;
    let dave = app.token("dave", "dave-password").await;

    let (status, _) = send(
        &app,
        reqwest::Method::PATCH,
        "/admin/users/carol",
        &admin,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = send(&app, reqwest::Method::GET, "/users/me", &carol, None).await;
    assert_eq!(
        (status, body),
        (401, json!({"detail": "Token has been revoked"}))
    );
    let login = app.post_token("carol", "carol-password").await;
    assert_eq!(login.status(), 400);
    assert_eq!(json(login).await, json!({"detail": "Inactive user"}));

    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        "/admin/users/dave",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = send(&app, reqwest::Method::GET, "/users/me", &dave, None).await;
    assert_eq!(
        (status, body),
        (401, json!({"detail": "Token has been revoked"}))
    );
}

#[tokio::test]
async fn admin_force_logout_ends_every_session_of_the_user() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let first = app.token("john", "secret").await;
    let second = app.token("john", "secret").await;

    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/admin/users/john/logout",
        &admin,
        None,
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(body["revoked"], 2);
    for token in [first, second] {
        assert_eq!(app.me(&token).await.status(), 401);
    }
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/admin/users/nobody/logout",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn roles_grant_their_permissions_to_their_holders() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    let (status, role) = send(
        &app,
        reqwest::Method::PUT,
        "/admin/roles/editor",
        &admin,
        Some(json!({"permissions": ["write:posts", "delete:posts"]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        role,
        json!({"name": "editor", "permissions": ["delete:posts", "write:posts"]})
    );
    let (status, shown) = send(
        &app,
        reqwest::Method::GET,
        "/admin/roles/editor",
        &admin,
        None,
    )
    .await;
    assert_eq!((status, shown), (200, role));

    let (status, _) = send(
        &app,
        reqwest::Method::PATCH,
        "/admin/users/john",
        &admin,
        Some(json!({"roles": ["editor"], "permissions": ["read:items"]})),
    )
    .await;
    assert_eq!(status, 200);
    let token = app.login("john", "secret").await;
    assert_eq!(token["scope"], Value::Null, "no scope asked, none echoed");
    let access = token["access_token"].as_str().expect("token");
    let (_, me) = send(&app, reqwest::Method::GET, "/users/me", access, None).await;
    assert_eq!(me["roles"], json!(["editor"]));
    assert_eq!(
        me["permissions"],
        json!(["delete:posts", "read:items", "write:posts"])
    );

    let narrowed = app
        .client
        .post(app.url("/token"))
        .form(&[
            ("username", "john"),
            ("password", "secret"),
            ("scope", "read:items users:admin"),
        ])
        .send()
        .await
        .expect("scoped login");
    let narrowed = json(narrowed).await;
    assert_eq!(
        narrowed["scope"], "read:items",
        "a scope narrows, never widens"
    );

    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        "/admin/roles/editor",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        &app,
        reqwest::Method::GET,
        "/admin/roles/editor",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, me) = send(&app, reqwest::Method::GET, "/users/me", access, None).await;
    assert_eq!(
        me["permissions"],
        json!(["read:items"]),
        "the role's permissions are gone"
    );
}

#[tokio::test]
async fn role_input_is_validated() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let long = "r".repeat(10_000);
    let cases = [
        ("/admin/roles/ok", json!({"permissions": "users:admin"})),
        ("/admin/roles/ok", json!({"permissions": ["bad perm"]})),
        ("/admin/roles/ok", json!({"permissions": [1]})),
        ("/admin/roles/ok", json!({})),
        ("/admin/roles/bad:name", json!({"permissions": []})),
    ];
    for (path, body) in cases {
        let (status, answer) =
            send(&app, reqwest::Method::PUT, path, &admin, Some(body.clone())).await;
        assert_eq!(status, 422, "{path} {body} → {answer}");
    }
    let (status, _) = send(
        &app,
        reqwest::Method::PUT,
        &format!("/admin/roles/{long}"),
        &admin,
        Some(json!({"permissions": []})),
    )
    .await;
    assert!(status == 422 || status == 431 || status == 414, "{status}");
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        "/admin/roles/none",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = send(
        &app,
        reqwest::Method::GET,
        "/admin/users/%FF%FE",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_audit_log_records_logins_and_admin_changes_without_secrets() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    assert_eq!(app.post_token("john", "wrong-password").await.status(), 401);
    let john = app.token("john", "secret").await;
    assert_eq!(app.logout(&john).await.status(), 200);
    let (status, _) = send(
        &app,
        reqwest::Method::PATCH,
        "/admin/users/john",
        &admin,
        Some(json!({"full_name": "J"})),
    )
    .await;
    assert_eq!(status, 200);

    let (status, page) = send(
        &app,
        reqwest::Method::GET,
        "/admin/audit?username=john&limit=100",
        &admin,
        None,
    )
    .await;

    assert_eq!(status, 200);
    let events: Vec<&str> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event"].as_str().expect("event"))
        .collect();
    for expected in ["login_failed", "login_ok", "logout", "admin_user_updated"] {
        assert!(events.contains(&expected), "{expected} in {events:?}");
    }
    let text = page.to_string();
    for secret in ["wrong-password", "secret\"", john.as_str(), "argon2"] {
        assert!(!text.contains(secret), "audit shows {secret}");
    }
    let (_, only) = send(
        &app,
        reqwest::Method::GET,
        "/admin/audit?event=logout",
        &admin,
        None,
    )
    .await;
    assert!(
        only["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["event"] == "logout")
    );
}
