//! The account page (`/account`) over real HTTP, as a browser without
//! scripts uses it: HTML forms, cookies, `303 See Other` back to the page.

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE, USER_AGENT};
use serde_json::json;

use super::helpers::{TestApp, client, json, spawn_app_with};

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A test server whose cookies work over plain http.
async fn spawn() -> TestApp {
    spawn_app_with(|s| s.cookie_secure = false).await
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii cookie").to_string())
        .collect()
}

fn find_cookie<'a>(cookies: &'a [String], name: &str) -> Option<&'a str> {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(String::as_str)
}

fn cookie_value(cookie: &str) -> String {
    cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

/// The page as a browser gets it.
struct Page {
    status: u16,
    headers: HeaderMap,
    html: String,
}

impl Page {
    /// The value of the first hidden CSRF field.
    fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.html.find(marker).expect("a CSRF field") + marker.len();
        let end = self.html[start..].find('"').expect("end of the value") + start;
        self.html[start..end].to_string()
    }

    fn signed_in(&self) -> bool {
        self.html.contains("action=\"/account/logout-all\"")
    }

    fn shows_sign_in(&self) -> bool {
        self.html.contains("action=\"/account/login\"")
    }
}

async fn get_page(app: &TestApp, http: &reqwest::Client) -> Page {
    let response = http.get(app.url("/account")).send().await.expect("GET");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let html = response.text().await.expect("text");
    Page {
        status,
        headers,
        html,
    }
}

/// Posts a form the way the page's forms do, asserting the `303` back.
async fn post_form(
    app: &TestApp,
    http: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let response = http
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 303, "POST {path}");
    assert_eq!(response.headers()[LOCATION], "/account");
    assert_eq!(response.headers()["cache-control"], "no-store");
    response
}

/// Opens the page and signs in with its form; the sign-in answer.
async fn sign_in(
    app: &TestApp,
    http: &reqwest::Client,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let csrf = get_page(app, http).await.csrf();
    post_form(
        app,
        http,
        "/account/login",
        &[
            ("csrf_token", &csrf),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

/// A browser signed in as john, with the page it then sees.
async fn signed_in_browser(app: &TestApp) -> (reqwest::Client, Page) {
    let http = client();
    sign_in(app, &http, "john", "secret").await;
    let page = get_page(app, &http).await;
    assert!(page.signed_in(), "{}", page.html);
    (http, page)
}

/// Another device of `username`: its session id and access token.
async fn other_device(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let response = client()
        .post(app.url("/login/multi-device"))
        .header(USER_AGENT, "Other phone")
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    (
        body["jti"].as_str().expect("jti").to_string(),
        body["access_token"].as_str().expect("token").to_string(),
    )
}

/// How many active sessions john has.
async fn john_sessions(app: &TestApp) -> usize {
    let john = app
        .auth
        .store
        .user_by_username("john")
        .await
        .expect("store")
        .expect("john");
    app.auth.sessions(john.id).await.expect("sessions").len()
}

#[tokio::test]
async fn the_page_without_a_session_shows_the_sign_in_form_with_strict_headers() {
    let app = spawn().await;
    let http = client();

    let page = get_page(&app, &http).await;

    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["content-security-policy"], CSP);
    assert!(page.shows_sign_in(), "{}", page.html);
    assert!(page.html.contains("<label for=\"username\">"));
    assert!(page.html.contains("<label for=\"password\">"));
    assert!(
        !page.html.contains("<script") && !page.html.contains("style="),
        "no script, no inline style: {}",
        page.html
    );
    let cookies = set_cookies(&page.headers);
    let csrf = find_cookie(&cookies, "csrf_token").expect("a pre-session CSRF cookie");
    assert!(!csrf.contains("HttpOnly"), "{csrf}");
    assert_eq!(
        cookie_value(csrf),
        page.csrf(),
        "the form repeats the cookie"
    );
    assert!(find_cookie(&cookies, "access_token").is_none());

    let again = get_page(&app, &http).await;
    assert_eq!(again.csrf(), page.csrf(), "the cookie's token is kept");
    assert!(find_cookie(&set_cookies(&again.headers), "csrf_token").is_none());
}

#[tokio::test]
async fn the_stylesheet_is_served_by_the_binary() {
    let app = spawn().await;

    let page = get_page(&app, &client()).await;
    let css = app
        .client
        .get(app.url("/account/style.css"))
        .send()
        .await
        .expect("css");

    assert!(
        page.html
            .contains("<link rel=\"stylesheet\" href=\"/account/style.css\">")
    );
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await.expect("text").contains(".card"));
}

#[tokio::test]
async fn signing_in_with_the_form_sets_the_login_cookies_and_shows_the_account() {
    let app = spawn().await;
    let http = client();
    let before = get_page(&app, &http).await.csrf();

    let response = post_form(
        &app,
        &http,
        "/account/login",
        &[
            ("csrf_token", &before),
            ("username", "john@example.com"),
            ("password", "secret"),
        ],
    )
    .await;

    let cookies = set_cookies(response.headers());
    let access = find_cookie(&cookies, "access_token").expect("access cookie");
    assert!(access.contains("HttpOnly") && access.contains("SameSite=Lax"));
    let refresh = find_cookie(&cookies, "refresh_token").expect("refresh cookie");
    assert!(refresh.contains("HttpOnly") && refresh.contains("Path=/token"));
    let csrf = find_cookie(&cookies, "csrf_token").expect("csrf cookie");
    assert!(!csrf.contains("HttpOnly"));
    assert_ne!(
        cookie_value(csrf),
        before,
        "a new CSRF token with the session"
    );
    assert!(
        response.text().await.expect("body").is_empty(),
        "no JSON body"
    );

    let page = get_page(&app, &http).await;
    assert_eq!(page.status, 200);
    assert!(page.signed_in(), "{}", page.html);
    assert!(page.html.contains("Login successful"));
    assert!(page.html.contains("<dd id=\"profile-username\">john</dd>"));
    assert!(page.html.contains("john@example.com"));
    assert!(page.html.contains("John Doe"));
    assert_eq!(page.csrf(), cookie_value(csrf));
    let me = http
        .get(app.url("/users/me"))
        .send()
        .await
        .expect("me by cookie");
    assert_eq!(json(me).await["username"], "john", "the same cookie login");

    let later = get_page(&app, &http).await;
    assert!(
        !later.html.contains("Login successful"),
        "a message shows once"
    );
}

#[tokio::test]
async fn roles_are_listed_on_the_page() {
    let app = spawn().await;
    let http = client();
    sign_in(&app, &http, "admin", super::helpers::ADMIN_PASSWORD).await;

    let page = get_page(&app, &http).await;

    assert!(page.html.contains("<dt>Roles</dt>"), "{}", page.html);
    assert!(page.html.contains("<li>admin</li>"), "{}", page.html);
}

#[tokio::test]
async fn a_wrong_password_goes_back_with_the_contract_text_and_no_session() {
    let app = spawn().await;
    let http = client();

    let response = sign_in(&app, &http, "john", "wrong").await;

    assert!(find_cookie(&set_cookies(response.headers()), "access_token").is_none());
    let page = get_page(&app, &http).await;
    assert!(page.shows_sign_in());
    assert!(
        page.html.contains("Incorrect username or password"),
        "{}",
        page.html
    );
    assert!(page.html.contains("role=\"alert\""));
    assert_eq!(john_sessions(&app).await, 0);
}

#[tokio::test]
async fn sign_in_without_or_with_a_wrong_csrf_field_is_refused() {
    let app = spawn().await;
    let http = client();
    let csrf = get_page(&app, &http).await.csrf();

    let missing = post_form(
        &app,
        &http,
        "/account/login",
        &[("username", "john"), ("password", "secret")],
    )
    .await;
    let wrong = post_form(
        &app,
        &http,
        "/account/login",
        &[
            ("csrf_token", "x".repeat(43).as_str()),
            ("username", "john"),
            ("password", "secret"),
        ],
    )
    .await;
    // A field but no cookie: what a cross-site form would send.
    let no_cookie = post_form(
        &app,
        &client(),
        "/account/login",
        &[
            ("csrf_token", &csrf),
            ("username", "john"),
            ("password", "secret"),
        ],
    )
    .await;

    for response in [missing, wrong, no_cookie] {
        assert!(find_cookie(&set_cookies(response.headers()), "access_token").is_none());
    }
    let page = get_page(&app, &http).await;
    assert!(page.shows_sign_in());
    assert!(
        page.html.contains("CSRF token missing or invalid"),
        "{}",
        page.html
    );
    assert_eq!(john_sessions(&app).await, 0, "no session was opened");
}

#[tokio::test]
async fn too_many_failed_sign_ins_show_the_rate_limit() {
    let app = spawn_app_with(|s| {
        s.cookie_secure = false;
        s.login_max_failures = 2;
    })
    .await;
    let http = client();
    sign_in(&app, &http, "john", "wrong").await;
    sign_in(&app, &http, "john", "wrong").await;

    let response = sign_in(&app, &http, "john", "secret").await;

    assert!(find_cookie(&set_cookies(response.headers()), "access_token").is_none());
    let page = get_page(&app, &http).await;
    assert!(
        page.html.contains("Too many login attempts"),
        "{}",
        page.html
    );
    assert!(page.shows_sign_in());
}

#[tokio::test]
async fn the_page_lists_the_sessions_with_the_current_one_marked() {
    let app = spawn().await;
    let (other_sid, _) = other_device(&app, "john", "secret").await;
    let http = client();
    sign_in(&app, &http, "john", "secret").await;

    let page = get_page(&app, &http).await;

    assert_eq!(page.html.matches("<li class=\"session").count(), 2);
    assert_eq!(page.html.matches("class=\"session current\"").count(), 1);
    assert_eq!(page.html.matches("This device").count(), 1);
    assert!(page.html.contains("Other phone"));
    assert!(page.html.contains("127.0.0.1"));
    assert!(
        page.html
            .contains(&format!("name=\"session_id\" value=\"{other_sid}\"")),
        "the other device can be signed out"
    );
    assert!(page.html.contains("Last used"));
    assert!(page.html.contains(" UTC</time>"));
}

#[tokio::test]
async fn a_device_is_signed_out_but_another_users_session_is_not() {
    let app = spawn().await;
    let (http, page) = signed_in_browser(&app).await;
    let (john_sid, john_token) = other_device(&app, "john", "secret").await;
    app.add_user("alice", "alice-pass").await;
    let (alice_sid, alice_token) = other_device(&app, "alice", "alice-pass").await;
    let csrf = page.csrf();

    post_form(
        &app,
        &http,
        "/account/logout-device",
        &[("csrf_token", &csrf), ("session_id", &alice_sid)],
    )
    .await;
    let refused = get_page(&app, &http).await;
    post_form(
        &app,
        &http,
        "/account/logout-device",
        &[("csrf_token", &csrf), ("session_id", &john_sid)],
    )
    .await;
    let done = get_page(&app, &http).await;

    assert!(
        refused.html.contains("Session not found"),
        "{}",
        refused.html
    );
    assert_eq!(app.me(&alice_token).await.status(), 200, "not done");
    assert!(done.html.contains("Device logged out"), "{}", done.html);
    assert_eq!(app.me(&john_token).await.status(), 401);
    assert!(!done.html.contains(&john_sid));
    assert!(done.signed_in(), "this device stays signed in");
}

#[tokio::test]
async fn a_device_sign_out_needs_the_csrf_field() {
    let app = spawn().await;
    let (http, _) = signed_in_browser(&app).await;
    let (sid, token) = other_device(&app, "john", "secret").await;

    post_form(
        &app,
        &http,
        "/account/logout-device",
        &[("session_id", &sid)],
    )
    .await;

    assert_eq!(app.me(&token).await.status(), 200);
    let page = get_page(&app, &http).await;
    assert!(page.html.contains("CSRF token missing or invalid"));
}

#[tokio::test]
async fn signing_out_ends_this_session_and_clears_the_cookies() {
    let app = spawn().await;
    let http = client();
    let signed = sign_in(&app, &http, "john", "secret").await;
    let token = cookie_value(
        find_cookie(&set_cookies(signed.headers()), "access_token").expect("access cookie"),
    );
    let csrf = get_page(&app, &http).await.csrf();

    let response = post_form(&app, &http, "/account/logout", &[("csrf_token", &csrf)]).await;

    let cleared = set_cookies(response.headers());
    for name in ["access_token", "refresh_token", "csrf_token"] {
        let c = find_cookie(&cleared, name).unwrap_or_else(|| panic!("{name} in {cleared:?}"));
        assert!(c.contains("Max-Age=0"), "{c}");
    }
    assert_eq!(app.me(&token).await.status(), 401);
    let page = get_page(&app, &http).await;
    assert!(page.shows_sign_in());
    assert!(page.html.contains("Successfully logged out"));
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session() {
    let app = spawn().await;
    let (_, other_token) = other_device(&app, "john", "secret").await;
    let (http, page) = signed_in_browser(&app).await;

    let response = post_form(
        &app,
        &http,
        "/account/logout-all",
        &[("csrf_token", &page.csrf())],
    )
    .await;

    assert!(
        find_cookie(&set_cookies(response.headers()), "access_token")
            .expect("cleared")
            .contains("Max-Age=0")
    );
    assert_eq!(app.me(&other_token).await.status(), 401);
    let after = get_page(&app, &http).await;
    assert!(after.shows_sign_in());
    assert!(
        after
            .html
            .contains("Logged out from all devices (2 sessions ended)"),
        "{}",
        after.html
    );
}

#[tokio::test]
async fn a_password_change_checks_the_current_password_and_the_rules() {
    let app = spawn().await;
    let (_, other_token) = other_device(&app, "john", "secret").await;
    let (http, page) = signed_in_browser(&app).await;
    let csrf = page.csrf();
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let http = http.clone();
        let csrf = csrf.clone();
        let app = &app;
        async move {
            post_form(
                app,
                &http,
                "/account/password",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("current_password", current),
                    ("new_password", new),
                    ("confirm_password", confirm),
                ],
            )
            .await;
            get_page(app, &http).await.html
        }
    };

    let wrong = change("not-it", "a-new-password", "a-new-password").await;
    let short = change("secret", "short", "short").await;
    let differ = change("secret", "a-new-password", "another-password").await;

    assert!(wrong.contains("Incorrect current password"), "{wrong}");
    assert!(
        short.contains("Password must be at least 8 characters"),
        "{short}"
    );
    assert!(
        differ.contains("The new passwords do not match"),
        "{differ}"
    );
    assert_eq!(app.me(&other_token).await.status(), 200, "nothing changed");
    assert_eq!(app.post_token("john", "secret").await.status(), 200);

    let done = change("secret", "a-new-password", "a-new-password").await;

    assert!(
        done.contains("Password changed; 2 other sessions signed out"),
        "{done}"
    );
    assert_eq!(app.me(&other_token).await.status(), 401);
    assert!(
        get_page(&app, &http).await.signed_in(),
        "this session stays"
    );
    assert_eq!(app.post_token("john", "secret").await.status(), 401);
    assert_eq!(app.post_token("john", "a-new-password").await.status(), 200);
}

#[tokio::test]
async fn hostile_user_text_is_escaped() {
    let app = spawn().await;
    app.auth
        .create_user(
            latchkey::app::NewUser {
                username: "mallory".into(),
                password: "mallory-pass".into(),
                email: Some("mallory@example.com".into()),
                full_name: Some("<script>alert(1)</script>".into()),
                ..Default::default()
            },
            false,
        )
        .await
        .expect("create");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("<img src=x onerror=alert(2)>\"'&")
        .build()
        .expect("client");
    sign_in(&app, &http, "mallory", "mallory-pass").await;

    let page = get_page(&app, &http).await;

    assert!(page.signed_in(), "{}", page.html);
    assert!(!page.html.contains("<script"), "{}", page.html);
    assert!(page.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.html.contains("<img"), "{}", page.html);
    assert!(
        page.html
            .contains("&lt;img src=x onerror=alert(2)&gt;&quot;'&amp;")
    );
}

#[tokio::test]
async fn posts_without_a_session_go_back_to_the_sign_in_form() {
    let app = spawn().await;
    let http = client();
    let csrf = get_page(&app, &http).await.csrf();

    for path in [
        "/account/logout-device",
        "/account/logout-all",
        "/account/password",
    ] {
        post_form(
            &app,
            &http,
            path,
            &[
                ("csrf_token", csrf.as_str()),
                ("session_id", "x"),
                ("current_password", "secret"),
                ("new_password", "a-new-password"),
                ("confirm_password", "a-new-password"),
            ],
        )
        .await;
        let page = get_page(&app, &http).await;
        assert!(page.shows_sign_in(), "{path}");
        assert!(
            page.html.contains("Your session has ended"),
            "{path}: {}",
            page.html
        );
    }
}

#[tokio::test]
async fn a_revoked_session_shows_the_sign_in_form_again() {
    let app = spawn().await;
    let (http, _) = signed_in_browser(&app).await;
    let token = app.token("john", "secret").await;
    let all = app
        .client
        .post(app.url("/logout/all"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("logout all");
    assert_eq!(all.status(), 200);

    let page = get_page(&app, &http).await;

    assert_eq!(page.status, 200);
    assert!(page.shows_sign_in());
    assert!(page.html.contains("Your session has ended"));
}

#[tokio::test]
async fn oversized_and_malformed_form_bodies_never_cause_a_5xx() {
    let app = spawn().await;
    let (http, page) = signed_in_browser(&app).await;
    let csrf = page.csrf();
    let paths = [
        "/account/login",
        "/account/logout-device",
        "/account/logout-all",
        "/account/password",
        "/account/logout",
    ];
    let big = format!("csrf_token={csrf}&username={}", "a".repeat(70 * 1024));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/x-www-form-urlencoded", b"%zz=%%&&==".to_vec()),
        ("application/x-www-form-urlencoded", vec![0xff, 0xfe, 0x00]),
        (
            "application/x-www-form-urlencoded",
            b"csrf_token=a%00b&session_id=a%00b".to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("csrf_token={csrf}&csrf_token=other").into_bytes(),
        ),
        ("application/json", b"{not json".to_vec()),
        (
            "application/json",
            json!({"csrf_token": 5}).to_string().into_bytes(),
        ),
        ("text/plain", b"hello".to_vec()),
        ("", Vec::new()),
    ];

    for path in paths {
        let response = http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big.clone())
            .send()
            .await
            .expect("post");
        // An announced length over the limit is refused at the edge, before
        // any handler, with the API's JSON 413.
        assert_eq!(response.status(), 413, "{path}");
        assert!(response.text().await.expect("text").contains("too large"));
        for (content_type, body) in &bodies {
            let mut request = http.post(app.url(path)).body(body.clone());
            if !content_type.is_empty() {
                request = request.header("content-type", *content_type);
            }
            let response = request.send().await.expect("post");
            assert_eq!(
                response.status(),
                303,
                "{path} {content_type} {:?}",
                String::from_utf8_lossy(body)
            );
        }
        if path != "/account/logout" && path != "/account/logout-all" {
            // Past the CSRF check: NUL characters in the fields themselves.
            let response = http
                .post(app.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "csrf_token={csrf}&username=a%00&password=%00&session_id=a%00b\
                     &current_password=%00&new_password=%00&confirm_password=%00"
                ))
                .send()
                .await
                .expect("post");
            assert_eq!(response.status(), 303, "{path} with NUL characters");
        }
        let get = http.get(app.url(path)).send().await.expect("get");
        assert_eq!(get.status(), 303, "GET {path} goes to the page");
    }
    let page = get_page(&app, &http).await;
    assert_eq!(page.status, 200);
    assert!(page.signed_in(), "none of it signed the browser out");
}

#[tokio::test]
async fn a_forged_flash_cookie_shows_nothing() {
    let app = spawn().await;
    let http = client();

    let response = http
        .get(app.url("/account"))
        .header("cookie", "account_flash=%3Cb%3Ecall%20us%3C%2Fb%3E")
        .send()
        .await
        .expect("get");

    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("text");
    assert!(!html.contains("call us") && !html.contains("class=\"flash"));
}

#[tokio::test]
async fn a_disabled_user_is_told_so() {
    let app = spawn().await;
    app.add_user("alice", "alice-pass").await;
    let admin = app.admin_token().await;
    let patched = app
        .client
        .patch(app.url("/admin/users/alice"))
        .bearer_auth(&admin)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .expect("patch");
    assert_eq!(patched.status(), 200);
    let http = client();

    let response = sign_in(&app, &http, "alice", "alice-pass").await;

    assert!(find_cookie(&set_cookies(response.headers()), "access_token").is_none());
    let page = get_page(&app, &http).await;
    assert!(page.html.contains("Inactive user"), "{}", page.html);
}

#[tokio::test]
async fn the_json_api_still_wants_the_header_not_a_form_field() {
    let app = spawn().await;
    let (http, page) = signed_in_browser(&app).await;

    let response = http
        .post(app.url("/logout/all"))
        .form(&[("csrf_token", page.csrf())])
        .send()
        .await
        .expect("post");

    assert_eq!(response.status(), 403);
    assert!(
        get_page(&app, &http).await.signed_in(),
        "nothing was revoked"
    );
}

#[tokio::test]
async fn the_csrf_token_is_read_from_the_form_body_not_the_url() {
    let app = spawn().await;
    let (http, page) = signed_in_browser(&app).await;

    let response = http
        .post(app.url(&format!("/account/logout-all?csrf_token={}", page.csrf())))
        .send()
        .await
        .expect("post");

    assert_eq!(response.status(), 303);
    let after = get_page(&app, &http).await;
    assert!(after.signed_in(), "nothing was revoked");
    assert!(after.html.contains("CSRF token missing or invalid"));
}
