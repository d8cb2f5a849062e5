//! OAuth 2.0 and OpenID Connect endpoints over HTTP: discovery, revocation
//! (RFC 7009) and introspection (RFC 7662), with hostile input to both.

use latchkey::app::NewUser;
use serde_json::{Value, json};

use super::helpers::{TestApp, json, spawn_app, spawn_app_with};

/// A user holding `tokens:introspect`, and its access token.
async fn introspector(app: &TestApp) -> String {
    app.auth
        .create_user(
            NewUser {
                username: "resource-server".into(),
                password: "rs-password".into(),
                permissions: vec!["tokens:introspect".into()],
                ..NewUser::default()
            },
            false,
        )
        .await
        .expect("create introspector");
    app.token("resource-server", "rs-password").await
}

async fn revoke(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/revoke"))
        .form(form)
        .send()
        .await
        .expect("POST /revoke")
}

async fn introspect(app: &TestApp, caller: &str, token: &str) -> Value {
    let response = app
        .client
        .post(app.url("/introspect"))
        .bearer_auth(caller)
        .form(&[("token", token)])
        .send()
        .await
        .expect("POST /introspect");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    json(response).await
}

async fn refresh_status(app: &TestApp, refresh_token: &str) -> u16 {
    app.client
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .expect("refresh")
        .status()
        .as_u16()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[tokio::test]
async fn discovery_names_every_endpoint_absolutely_from_the_host_reached() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery");

    assert_eq!(response.status(), 200);
    let doc = json(response).await;
    assert_eq!(doc["issuer"], "latchkey");
    for (field, path) in [
        ("token_endpoint", "/token"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("userinfo_endpoint", "/users/me"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
    ] {
        assert_eq!(doc[field], app.url(path), "{field}");
    }
    assert_eq!(
        doc["grant_types_supported"],
        json!(["password", "refresh_token"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    // The published endpoints answer.
    let jwks = app
        .client
        .get(str_of(&doc, "jwks_uri"))
        .send()
        .await
        .expect("jwks");
    assert_eq!(jwks.status(), 200);
}

#[tokio::test]
async fn a_url_issuer_is_the_base_whatever_host_is_sent() {
    let app = spawn_app_with(|s| s.issuer = "https://auth.example.com".into()).await;

    let doc = json(
        app.client
            .get(app.url("/.well-known/openid-configuration"))
            .header("host", "evil.example.net")
            .send()
            .await
            .expect("discovery"),
    )
    .await;

    assert_eq!(doc["issuer"], "https://auth.example.com");
    assert_eq!(doc["token_endpoint"], "https://auth.example.com/token");
    assert_eq!(
        doc["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
    // Tokens carry the same issuer, so a client comparing them agrees.
    let token = app.token("john", "secret").await;
    let introspected = introspect(&app, &introspector(&app).await, &token).await;
    assert_eq!(introspected["iss"], "https://auth.example.com");
}

#[tokio::test]
async fn a_hostile_host_header_falls_back_to_the_bound_address() {
    let app = spawn_app().await;

    for host in ["a b", "user@evil.example.net", "%%%", ""] {
        let response = app
            .client
            .get(app.url("/.well-known/openid-configuration"))
            .header("host", host)
            .send()
            .await
            .expect("discovery");
        assert_eq!(response.status(), 200, "{host:?}");
        let doc = json(response).await;
        let endpoint = str_of(&doc, "token_endpoint");
        assert!(endpoint.starts_with("http://"), "{host:?}: {endpoint}");
        assert!(!endpoint.contains("evil"), "{host:?}: {endpoint}");
    }
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_session() {
    let app = spawn_app().await;
    let tokens = app.login("john", "secret").await;
    let other = app.token("john", "secret").await;

    let response = revoke(
        &app,
        &[
            ("token", str_of(&tokens, "refresh_token")),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let me = app.me(str_of(&tokens, "access_token")).await;
    assert_eq!(me.status(), 401);
    assert_eq!(json(me).await["detail"], "Token has been revoked");
    assert_eq!(
        refresh_status(&app, str_of(&tokens, "refresh_token")).await,
        401
    );
    // Another login of the same user is another session.
    assert_eq!(app.me(&other).await.status(), 200);
}

#[tokio::test]
async fn revoking_an_access_token_ends_its_session_and_its_refresh_token() {
    let app = spawn_app().await;
    let tokens = app.login("john", "secret").await;

    let response = revoke(&app, &[("token", str_of(&tokens, "access_token"))]).await;

    assert_eq!(response.status(), 200);
    assert_eq!(app.me(str_of(&tokens, "access_token")).await.status(), 401);
    assert_eq!(
        refresh_status(&app, str_of(&tokens, "refresh_token")).await,
        401
    );
}

#[tokio::test]
async fn revoking_another_users_token_ends_that_session_only() {
    let app = spawn_app().await;
    let john = app.token("john", "secret").await;
    let admin = app.admin_token().await;

    // Whoever holds a token may revoke it (RFC 7009, public clients).
    let response = app
        .client
        .post(app.url("/revoke"))
        .bearer_auth(&john)
        .form(&[("token", admin.as_str())])
        .send()
        .await
        .expect("revoke");

    assert_eq!(response.status(), 200);
    assert_eq!(app.me(&admin).await.status(), 401);
    assert_eq!(app.me(&john).await.status(), 200);
}

#[tokio::test]
async fn revoke_answers_200_for_unknown_empty_and_garbage_tokens() {
    let app = spawn_app().await;
    let john = app.token("john", "secret").await;
    let long = "x".repeat(10 * 1024);
    let unknown_refresh = "A".repeat(43);
    let alg_none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJqb2huIn0.";

    for token in [
        "",
        "garbage",
        long.as_str(),
        unknown_refresh.as_str(),
        alg_none,
        "a.b.c",
    ] {
        let response = revoke(&app, &[("token", token)]).await;
        assert_eq!(response.status(), 200, "token of {} bytes", token.len());
        assert_eq!(json(response).await, json!({}));
    }
    let hinted = revoke(&app, &[("token", "garbage"), ("token_type_hint", "bogus")]).await;
    assert_eq!(hinted.status(), 200);
    // JSON is read like the form, as everywhere here.
    let as_json = app
        .client
        .post(app.url("/revoke"))
        .json(&json!({"token": "garbage"}))
        .send()
        .await
        .expect("json");
    assert_eq!(as_json.status(), 200);
    assert_eq!(app.me(&john).await.status(), 200, "nothing else revoked");
}

#[tokio::test]
async fn revoke_without_a_token_field_is_a_validation_error() {
    let app = spawn_app().await;

    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("no body", app.client.post(app.url("/revoke"))),
        (
            "other field",
            app.client
                .post(app.url("/revoke"))
                .form(&[("token_type_hint", "refresh_token")]),
        ),
        (
            "text/plain",
            app.client
                .post(app.url("/revoke"))
                .header("content-type", "text/plain")
                .body("token=abc"),
        ),
        (
            "JSON number",
            app.client
                .post(app.url("/revoke"))
                .json(&json!({"token": 5})),
        ),
        (
            "JSON array",
            app.client.post(app.url("/revoke")).json(&json!(["token"])),
        ),
        (
            "broken JSON",
            app.client
                .post(app.url("/revoke"))
                .header("content-type", "application/json")
                .body("{\"token\":"),
        ),
    ];
    for (case, request) in cases {
        let response = request.send().await.expect(case);
        assert_eq!(response.status(), 422, "{case}");
        let body = json(response).await;
        assert!(body["detail"].is_array(), "{case}: {body}");
    }
    let missing = json(revoke(&app, &[]).await).await;
    assert_eq!(missing["detail"][0]["loc"], json!(["body", "token"]));
    assert_eq!(missing["detail"][0]["type"], "missing");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_at_both_endpoints() {
    let app = spawn_app().await;
    let caller = introspector(&app).await;
    let huge = "x".repeat(70 * 1024);

    let revoked = revoke(&app, &[("token", huge.as_str())]).await;
    let introspected = app
        .client
        .post(app.url("/introspect"))
        .bearer_auth(&caller)
        .form(&[("token", huge.as_str())])
        .send()
        .await
        .expect("introspect");

    assert_eq!(revoked.status(), 413);
    assert_eq!(introspected.status(), 413);
}

#[tokio::test]
async fn introspection_needs_a_bearer_token_with_tokens_introspect() {
    let app = spawn_app().await;
    let john = app.token("john", "secret").await;

    let anonymous = app
        .client
        .post(app.url("/introspect"))
        .form(&[("token", john.as_str())])
        .send()
        .await
        .expect("anonymous");
    let unprivileged = app
        .client
        .post(app.url("/introspect"))
        .bearer_auth(&john)
        .form(&[("token", john.as_str())])
        .send()
        .await
        .expect("john");
    let garbage = app
        .client
        .post(app.url("/introspect"))
        .bearer_auth("garbage")
        .form(&[("token", john.as_str())])
        .send()
        .await
        .expect("garbage");

    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert_eq!(json(anonymous).await["detail"], "Not authenticated");
    assert_eq!(unprivileged.status(), 403);
    assert_eq!(
        json(unprivileged).await["detail"],
        "Permission 'tokens:introspect' required"
    );
    assert_eq!(garbage.status(), 401);
    assert_eq!(
        json(garbage).await["detail"],
        "Could not validate credentials"
    );
}

#[tokio::test]
async fn an_active_access_token_is_described() {
    let app = spawn_app().await;
    let caller = introspector(&app).await;
    let tokens = app.login("john", "secret").await;
    let access = str_of(&tokens, "access_token");

    let found = introspect(&app, &caller, access).await;

    assert_eq!(found["active"], true);
    assert_eq!(found["sub"], "john");
    assert_eq!(found["username"], "john");
    assert_eq!(found["token_type"], "bearer");
    assert_eq!(found["token_use"], "access_token");
    for claim in ["exp", "iat", "nbf", "user_id"] {
        assert!(found[claim].is_i64(), "{claim} in {found}");
    }
    for claim in ["jti", "sid", "scope", "iss"] {
        assert!(found[claim].is_string(), "{claim} in {found}");
    }
    assert!(found.get("password").is_none());
}

#[tokio::test]
async fn a_usable_refresh_token_is_active_and_a_spent_one_is_not() {
    let app = spawn_app().await;
    let caller = introspector(&app).await;
    let tokens = app.login("john", "secret").await;
    let refresh = str_of(&tokens, "refresh_token");

    let before = introspect(&app, &caller, refresh).await;
    assert_eq!(refresh_status(&app, refresh).await, 200);
    let after = introspect(&app, &caller, refresh).await;

    assert_eq!(before["active"], true);
    assert_eq!(before["token_use"], "refresh_token");
    assert_eq!(before["sub"], "john");
    assert!(before["exp"].is_i64());
    assert_eq!(after, json!({"active": false}));
}

#[tokio::test]
async fn revoked_garbage_and_disabled_users_tokens_are_inactive() {
    let app = spawn_app().await;
    let caller = introspector(&app).await;
    let revoked = app.token("john", "secret").await;
    assert_eq!(app.logout(&revoked).await.status(), 200);
    let mary = app.add_user("mary", "mary-pass").await;
    let marys = app.token("mary", "mary-pass").await;
    app.auth
        .update_user(
            mary.id,
            latchkey::store::UserPatch {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("disable mary");
    let long = "y".repeat(10 * 1024);
    let unknown_refresh = "B".repeat(43);

    for token in [
        revoked.as_str(),
        marys.as_str(),
        "",
        "garbage",
        long.as_str(),
        "a.b.c",
        unknown_refresh.as_str(),
    ] {
        assert_eq!(
            introspect(&app, &caller, token).await,
            json!({"active": false}),
            "token of {} bytes",
            token.len()
        );
    }
}

#[tokio::test]
async fn introspect_refuses_malformed_requests_without_a_5xx() {
    let app = spawn_app().await;
    let caller = introspector(&app).await;

    let missing = app
        .client
        .post(app.url("/introspect"))
        .bearer_auth(&caller)
        .send()
        .await
        .expect("missing");
    let wrong_type = app
        .client
        .post(app.url("/introspect"))
        .bearer_auth(&caller)
        .header("content-type", "application/xml")
        .body("<token>x</token>")
        .send()
        .await
        .expect("xml");
    let as_json = app
        .client
        .post(app.url("/introspect"))
        .bearer_auth(&caller)
        .json(&json!({"token": "garbage"}))
        .send()
        .await
        .expect("json");

    assert_eq!(missing.status(), 422);
    assert_eq!(
        json(missing).await["detail"][0]["loc"],
        json!(["body", "token"])
    );
    assert_eq!(wrong_type.status(), 422);
    assert_eq!(as_json.status(), 200);
    assert_eq!(json(as_json).await, json!({"active": false}));
}
