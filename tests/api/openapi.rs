//! The OpenAPI document, Swagger UI and the security headers over HTTP:
//! the document lists exactly the routes the router serves, every answer to
//! a probe of every operation is one the document names, in the shape it
//! gives, and the docs page loads all its files from the server.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, json, spawn_app_on};

async fn app() -> TestApp {
    spawn_app_on(Backend::Sqlite, |_| {}).await
}

async fn document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(response.status(), 200);
    json(response).await
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The paths the auth router serves, read from the router itself: axum's
/// `Router` prints its path table in its `Debug` form.
fn served_paths() -> BTreeSet<String> {
    let debug = format!("{:?}", latchkey::http::auth_routes());
    let start = debug
        .find("Node { paths: {")
        .expect("axum's Router prints its path table");
    let table = &debug[start..];
    // The table ends at the first `}` after a closing quote (a path's own
    // braces, `{name}`, sit inside quotes).
    let table = &table[..table.find("\"}").expect("end of the path table") + 1];
    let paths: BTreeSet<String> = table
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert!(paths.len() > 20, "read the path table: {paths:?}");
    paths
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                ops.push((path.clone(), method.clone(), op.clone()));
            }
        }
    }
    ops
}

/// A path to request for a template: `{file}` names a real file (so its
/// 404 is not taken for the router's), any other parameter nothing.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{file}" => "index.html",
            s if s.starts_with('{') => "nobody",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Resolves `#/components/...` references.
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            resolve(doc, doc.pointer(pointer).unwrap_or(&Value::Null))
        }
        None => node,
    }
}

/// Checks `value` against the subset of JSON Schema the document uses:
/// `$ref`, `type` (one or several), `properties`, `required`, `items`,
/// `oneOf`/`anyOf`/`allOf`, `enum`.
fn conforms(doc: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(any) = schema.get("oneOf").or(schema.get("anyOf")) {
        let options = any.as_array().cloned().unwrap_or_default();
        if !options.iter().any(|s| conforms(doc, s, value).is_ok()) {
            return Err(format!("{value} matches none of {any}"));
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            conforms(doc, s, value)?;
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "null" => value.is_null(),
            _ => true,
        });
        if !ok {
            return Err(format!("{value} is not {types:?}"));
        }
    }
    if let (Some(required), Some(object)) = (
        schema.get("required").and_then(Value::as_array),
        value.as_object(),
    ) {
        for name in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                return Err(format!("required {name} missing from {value}"));
            }
        }
    }
    if let (Some(props), Some(object)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (name, sub) in props {
            if let Some(v) = object.get(name) {
                conforms(doc, sub, v).map_err(|e| format!("{name}: {e}"))?;
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for v in list {
            conforms(doc, items, v)?;
        }
    }
    Ok(())
}

/// Asserts that `response` is one the operation documents, in its shape.
async fn assert_documented(
    doc: &Value,
    op: &Value,
    what: &str,
    response: reqwest::Response,
) -> (u16, Value) {
    let status = response.status().as_u16();
    assert!(status < 500, "{what}: {status}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.expect("body");
    let documented = resolve(doc, &op["responses"][status.to_string()]);
    assert!(
        documented.is_object(),
        "{what}: status {status} is not documented ({text})"
    );
    let Some(content) = documented.get("content").and_then(Value::as_object) else {
        return (status, Value::Null);
    };
    let mime = content_type.split(';').next().unwrap_or("").trim();
    let media = content
        .iter()
        .find(|(k, _)| k.split(';').next().unwrap_or("").trim() == mime)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{what}: {status} as {content_type} is not documented"));
    if mime != "application/json" {
        return (status, Value::Null);
    }
    let body: Value = serde_json::from_str(&text).expect("JSON body");
    if let Some(schema) = media.get("schema")
        && let Err(e) = conforms(doc, schema, &body)
    {
        panic!("{what}: {status} body does not match its schema: {e}");
    }
    (status, body)
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_operation_has_answers() {
    let app = app().await;

    let doc = document(&app).await;

    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    assert!(doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, item) in paths {
        let ops: Vec<_> = item
            .as_object()
            .expect("item")
            .iter()
            .filter(|(m, _)| METHODS.contains(&m.as_str()))
            .collect();
        assert!(!ops.is_empty(), "{path} has no operation");
        for (method, op) in ops {
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            for (status, response) in responses {
                assert!(
                    resolve(&doc, response)["description"].is_string(),
                    "{method} {path} {status}"
                );
            }
        }
    }
    // Every reference points at something.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#").skip(1) {
        let pointer = &piece[..piece.find('"').expect("end of ref")];
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {pointer}");
    }
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    let app = app().await;
    let doc = document(&app).await;

    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();

    // The account page is HTML for people (forms answering 303), kept out
    // of the JSON API's document on purpose; everything else is in it.
    let (account, api): (BTreeSet<String>, BTreeSet<String>) = served_paths()
        .into_iter()
        .partition(|p| p == "/account" || p.starts_with("/account/"));
    assert!(account.contains("/account"), "{account:?}");
    assert_eq!(documented, api);
    // Per path, the documented methods are served and the others are not.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let response = app
                .client
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"),
                    app.url(&concrete(path)),
                )
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            if item.get(method).is_some() {
                assert_ne!(status, 405, "{method} {path} is documented, not served");
                let body = json(response).await;
                assert_ne!(body, json!({"detail": "Not Found"}), "{method} {path}");
            } else {
                assert_eq!(status, 405, "{method} {path} is served, not documented");
            }
        }
    }
}

#[tokio::test]
async fn every_answer_to_a_probe_of_every_operation_is_documented() {
    let app = app().await;
    let doc = document(&app).await;

    for (path, method, op) in operations(&doc) {
        let url = app.url(&concrete(&path));
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        // A fresh admin token each time: some operations end the session.
        let admin = app.admin_token().await;
        let probes: Vec<(&str, reqwest::RequestBuilder)> = vec![
            ("anonymous, no body", app.client.request(m.clone(), &url)),
            (
                "anonymous, JSON",
                app.client
                    .request(m.clone(), &url)
                    .json(&json!({"username": 5, "token": [], "permissions": "x"})),
            ),
            (
                "garbage bearer, form",
                app.client
                    .request(m.clone(), &url)
                    .bearer_auth("garbage")
                    .form(&[("a", "b")]),
            ),
            (
                "admin, empty JSON",
                app.client
                    .request(m.clone(), &url)
                    .bearer_auth(&admin)
                    .json(&json!({})),
            ),
            (
                "admin, broken JSON",
                app.client
                    .request(m.clone(), &url)
                    .bearer_auth(&admin)
                    .header("content-type", "application/json")
                    .body("{\"a\":"),
            ),
            (
                "admin, query",
                app.client
                    .request(m.clone(), format!("{url}?limit=abc&offset=-1&jti=x"))
                    .bearer_auth(&admin),
            ),
        ];
        for (probe, request) in probes {
            let what = format!("{method} {path} ({probe})");
            let response = request.send().await.expect("probe");
            let (status, body) = assert_documented(&doc, &op, &what, response).await;
            if status >= 400 && !body.is_null() {
                assert!(
                    body["detail"].is_string() || body["detail"].is_array(),
                    "{what}"
                );
            }
        }
    }
}

#[tokio::test]
async fn successful_answers_match_their_schemas() {
    let app = app().await;
    let doc = document(&app).await;
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();

    let login = app
        .client
        .post(app.url("/token"))
        .form(&[("username", "john"), ("password", "secret"), ("scope", "")])
        .send()
        .await
        .expect("login");
    let (_, tokens) = assert_documented(&doc, &op("/token", "post"), "token", login).await;
    let device = app
        .client
        .post(app.url("/login/multi-device"))
        .json(&json!({"username": "john", "password": "secret"}))
        .send()
        .await
        .expect("device");
    assert_documented(&doc, &op("/login/multi-device", "post"), "device", device).await;
    let refreshed = app
        .client
        .post(app.url("/token/refresh"))
        .json(&json!({"refresh_token": tokens["refresh_token"]}))
        .send()
        .await
        .expect("refresh");
    let (_, tokens) =
        assert_documented(&doc, &op("/token/refresh", "post"), "refresh", refreshed).await;
    let access = tokens["access_token"].as_str().expect("access").to_string();
    for path in ["/users/me", "/sessions"] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(&access)
            .send()
            .await
            .expect("get");
        let (status, _) = assert_documented(&doc, &op(path, "get"), path, response).await;
        assert_eq!(status, 200, "{path}");
    }
    let admin = app.admin_token().await;
    for path in [
        "/admin/users",
        "/admin/users/john",
        "/admin/roles",
        "/admin/roles/admin",
        "/admin/audit",
        "/healthz",
        "/readyz",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
    ] {
        let template = if path == "/admin/users/john" {
            "/admin/users/{username}"
        } else if path == "/admin/roles/admin" {
            "/admin/roles/{name}"
        } else {
            path
        };
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("get");
        let (status, _) = assert_documented(&doc, &op(template, "get"), path, response).await;
        assert_eq!(status, 200, "{path}");
    }
    let revoke = app
        .client
        .post(app.url("/revoke"))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .expect("revoke");
    let (status, _) = assert_documented(&doc, &op("/revoke", "post"), "revoke", revoke).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn protected_operations_name_the_security_schemes_and_the_password_flow() {
    let app = app().await;
    let doc = document(&app).await;

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"],
        "/token"
    );
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let me = &doc["paths"]["/users/me"]["get"];
    let names: Vec<&str> = me["security"]
        .as_array()
        .expect("security")
        .iter()
        .filter_map(|r| r.as_object()?.keys().next().map(String::as_str))
        .collect();
    assert!(names.contains(&"OAuth2PasswordBearer"), "{names:?}");
    assert!(names.contains(&"bearer"), "{names:?}");
    assert_eq!(
        resolve(&doc, &me["responses"]["401"])["headers"]["WWW-Authenticate"]["schema"]["type"],
        "string"
    );
    let validation = resolve(&doc, &doc["paths"]["/users"]["post"]["responses"]["422"]);
    let schema = &validation["content"]["application/json"]["schema"];
    let sample = json!({"detail": [{"loc": ["body", "username"], "msg": "Field required",
        "type": "missing", "input": null}]});
    conforms(&doc, schema, &sample).expect("FastAPI's 422 shape");
    assert!(conforms(&doc, schema, &json!({"detail": "x"})).is_err());
}

#[tokio::test]
async fn swagger_ui_loads_every_file_from_the_server() {
    let app = app().await;

    for path in ["/docs", "/docs/"] {
        let page = app.client.get(app.url(path)).send().await.expect("docs");
        assert_eq!(page.status(), 200, "{path} answers directly, no redirect");
        assert!(
            page.headers()["content-type"]
                .to_str()
                .expect("type")
                .starts_with("text/html")
        );
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .to_string();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        let html = page.text().await.expect("html");
        assert!(html.contains("<base href=\"/docs/\">"));
        assert!(!html.contains("<script>"), "no inline script");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no CDN"
        );
        let files: BTreeSet<String> = html
            .split(['"', '\''])
            .filter(|s| s.ends_with(".js") || s.ends_with(".css") || s.ends_with(".png"))
            .map(|s| s.trim_start_matches("./").to_string())
            .collect();
        assert!(files.len() >= 5, "{files:?}");
        let mut types = BTreeMap::new();
        for file in &files {
            let response = app
                .client
                .get(app.url(&format!("/docs/{file}")))
                .send()
                .await
                .expect("file");
            assert_eq!(response.status(), 200, "{file}");
            let content_type = response.headers()["content-type"]
                .to_str()
                .expect("type")
                .to_string();
            assert!(!response.bytes().await.expect("bytes").is_empty(), "{file}");
            types.insert(file.clone(), content_type);
        }
        assert!(types["swagger-ui-bundle.js"].starts_with("text/javascript"));
        assert!(types["swagger-ui.css"].starts_with("text/css"));
    }
    let initializer = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .expect("initializer")
        .text()
        .await
        .expect("text");
    assert!(initializer.contains("\"/openapi.json\""), "{initializer}");
    let missing = app
        .client
        .get(app.url("/docs/nothing.js"))
        .send()
        .await
        .expect("missing");
    assert_eq!(missing.status(), 404);
    assert_eq!(json(missing).await, json!({"detail": "Not Found"}));
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = app().await;

    for (path, html) in [
        ("/healthz", false),
        ("/docs", true),
        ("/nowhere", false),
        ("/openapi.json", false),
    ] {
        let response = app.client.get(app.url(path)).send().await.expect("request");
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        let csp = headers["content-security-policy"].to_str().expect("csp");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(csp.contains("script-src 'self'"), html, "{path}: {csp}");
        assert!(headers.contains_key("x-request-id"), "{path}");
    }
}

#[tokio::test]
async fn every_token_answer_is_not_to_be_stored() {
    let app = app().await;
    let tokens = app.login("john", "secret").await;
    let credentials = [("username", "john"), ("password", "secret")];

    let answers = vec![
        (
            "/token",
            app.client
                .post(app.url("/token"))
                .form(&credentials)
                .send()
                .await,
        ),
        (
            "/token refresh grant",
            app.client
                .post(app.url("/token"))
                .form(&[
                    ("grant_type", "refresh_token"),
                    (
                        "refresh_token",
                        tokens["refresh_token"].as_str().expect("rt"),
                    ),
                ])
                .send()
                .await,
        ),
        (
            "/login/extended",
            app.client
                .post(app.url("/login/extended"))
                .form(&credentials)
                .send()
                .await,
        ),
        (
            "/login/multi-device",
            app.client
                .post(app.url("/login/multi-device"))
                .form(&credentials)
                .send()
                .await,
        ),
        (
            "/login/secure",
            app.client
                .post(app.url("/login/secure"))
                .form(&credentials)
                .send()
                .await,
        ),
    ];
    for (what, response) in answers {
        let response = response.expect("request");
        assert_eq!(response.status(), 200, "{what}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{what}");
        assert_eq!(response.headers()["pragma"], "no-cache", "{what}");
    }
}
