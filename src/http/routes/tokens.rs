//! Login and token endpoints: `POST /token` (password and refresh grants),
//! `/login/extended`, `/login/multi-device`, `/login/secure` (cookies) and
//! `/token/refresh`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::auth::{Auth, Issued};
use crate::config::Secret;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{
    ACCESS_COOKIE, Body, CSRF_COOKIE, ClientInfo, Fields, REFRESH_COOKIE, check_csrf,
};
use crate::http::schema::{
    Detail, DeviceTokenResponse, LoginRequest, Message, RefreshRequest, RefreshResponse,
    TokenRequest, TokenResponse,
};

/// The JSON of a token answer, with `extra` fields added.
fn token_json(issued: &Issued, extra: &[(&str, Value)]) -> Value {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
    });
    if issued.requested_scope.is_some() {
        body["scope"] = json!(issued.claims.scope);
    }
    for (k, v) in extra {
        body[*k] = v.clone();
    }
    body
}

/// Token answers must never be cached (RFC 6749 §5.1).
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Reads `username`, `password` and an optional `scope` from `fields` and
/// logs in (shared by every login endpoint and the account page).
pub async fn password_grant(
    auth: &Auth,
    fields: &mut Fields,
    client: &ClientInfo,
) -> ApiResult<Issued> {
    let username = fields.required_str("username");
    let password = fields.required_str("password");
    let scope = fields.optional_str("scope");
    fields.finish()?;
    Ok(auth
        .login(
            &username,
            Secret::new(password),
            scope.as_deref(),
            &client.0,
        )
        .await?)
}

/// `POST /token`: the OAuth2 password grant (form or JSON) or the refresh grant.
#[utoipa::path(
    post, path = "/token", tag = "tokens",
    summary = "Log in (password grant) or rotate a refresh token (refresh_token grant)",
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
        (TokenRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Tokens issued", body = TokenResponse, headers(
            ("Cache-Control" = String, description = "no-store"),
            ("Pragma" = String, description = "no-cache"))),
        (status = 400, description = "Inactive user", body = Detail),
        (status = 401, description = "Incorrect username or password", body = Detail,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 429, description = "Too many login attempts", body = Detail,
            headers(("Retry-After" = i64, description = "Seconds to wait, at least 1"))),
        (status = 409, description = "Refresh token already used (moments ago)", body = Detail),
    )
)]
pub async fn token(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    Body(mut fields): Body,
) -> ApiResult<Response> {
    let grant_type = fields.optional_str("grant_type");
    let issued = match grant_type.as_deref() {
        None | Some("") | Some("password") => password_grant(&auth, &mut fields, &client).await?,
        Some("refresh_token") => {
            let presented = fields.required_str("refresh_token");
            fields.finish()?;
            auth.refresh(&presented, &client.0).await?
        }
        Some(other) => {
            return Err(ApiError::Validation(vec![FieldError::invalid(
                "body",
                "grant_type",
                "string_pattern_mismatch",
                "String should match pattern '^(password|refresh_token)$'",
                json!(other),
            )]));
        }
    };
    Ok(no_store(Json(token_json(&issued, &[])).into_response()))
}

/// `POST /login/extended`: the password grant, as the tutorials name it.
#[utoipa::path(
    post, path = "/login/extended", tag = "tokens",
    summary = "Log in (the password grant)",
    request_body(content(
        (LoginRequest = "application/x-www-form-urlencoded"),
        (LoginRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Tokens issued", body = TokenResponse, headers(
            ("Cache-Control" = String, description = "no-store"),
            ("Pragma" = String, description = "no-cache"))),
        (status = 400, description = "Inactive user", body = Detail),
        (status = 401, description = "Incorrect username or password", body = Detail,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 429, description = "Too many login attempts", body = Detail,
            headers(("Retry-After" = i64, description = "Seconds to wait, at least 1"))),
    )
)]
pub async fn login_extended(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    Body(mut fields): Body,
) -> ApiResult<Response> {
    let issued = password_grant(&auth, &mut fields, &client).await?;
    Ok(no_store(Json(token_json(&issued, &[])).into_response()))
}

/// `POST /login/multi-device`: the password grant, answering the session id.
#[utoipa::path(
    post, path = "/login/multi-device", tag = "tokens",
    summary = "Log in a device (the User-Agent names it); answers the session id too",
    request_body(content(
        (LoginRequest = "application/x-www-form-urlencoded"),
        (LoginRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Tokens issued", body = DeviceTokenResponse, headers(
            ("Cache-Control" = String, description = "no-store"),
            ("Pragma" = String, description = "no-cache"))),
        (status = 400, description = "Inactive user", body = Detail),
        (status = 401, description = "Incorrect username or password", body = Detail,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 429, description = "Too many login attempts", body = Detail,
            headers(("Retry-After" = i64, description = "Seconds to wait, at least 1"))),
    )
)]
pub async fn login_multi_device(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    Body(mut fields): Body,
) -> ApiResult<Response> {
    let issued = password_grant(&auth, &mut fields, &client).await?;
    let jti = json!(issued.claims.sid);
    Ok(no_store(
        Json(token_json(&issued, &[("jti", jti)])).into_response(),
    ))
}

/// `POST /token/refresh`: rotates a refresh token given in the JSON body, a
/// form field, the query string, or the `refresh_token` cookie.
#[utoipa::path(
    post, path = "/token/refresh", tag = "tokens",
    summary = "Rotate a refresh token (body, form, query or cookie)",
    params(("refresh_token" = Option<String>, Query, description = "The refresh token, if not in the body")),
    request_body(content(
        (RefreshRequest = "application/json"),
        (RefreshRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "New tokens (or new cookies)", body = RefreshResponse, headers(
            ("Cache-Control" = String, description = "no-store"),
            ("Pragma" = String, description = "no-cache"))),
        (status = 401, description = "Invalid refresh token", body = Detail,
            headers(("WWW-Authenticate" = String, description = "Bearer error=\"invalid_token\""))),
        (status = 403, description = "Cookie refresh without a matching X-CSRF-Token", body = Detail),
        (status = 409, description = "Refresh token already used (moments ago)", body = Detail),
    )
)]
pub async fn refresh(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    method: Method,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
    Body(mut fields): Body,
) -> ApiResult<Response> {
    let given = fields.optional_str("refresh_token");
    fields.finish()?;
    if let Some(presented) = given {
        let issued = auth.refresh(&presented, &client.0).await?;
        return Ok(no_store(Json(token_json(&issued, &[])).into_response()));
    }
    let Some(cookie) = jar.get(REFRESH_COOKIE).map(|c| c.value().to_string()) else {
        return Err(ApiError::Validation(vec![FieldError::missing(
            "body",
            "refresh_token",
        )]));
    };
    check_csrf(&method, &jar, &headers)?;
    let issued = auth.refresh(&cookie, &client.0).await?;
    let jar = set_cookies(jar, &auth, &issued);
    Ok(no_store(
        (jar, Json(json!({"message": "Token refreshed"}))).into_response(),
    ))
}

/// `POST /login/secure`: the password grant answered with cookies.
#[utoipa::path(
    post, path = "/login/secure", tag = "tokens",
    summary = "Log in with cookies: access_token, refresh_token (Path=/token), csrf_token",
    request_body(content(
        (LoginRequest = "application/x-www-form-urlencoded"),
        (LoginRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Logged in; cookies set", body = Message, headers(
            ("Set-Cookie" = String, description = "access_token, refresh_token and csrf_token"),
            ("Cache-Control" = String, description = "no-store"),
            ("Pragma" = String, description = "no-cache"))),
        (status = 400, description = "Inactive user", body = Detail),
        (status = 401, description = "Incorrect username or password", body = Detail,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 429, description = "Too many login attempts", body = Detail,
            headers(("Retry-After" = i64, description = "Seconds to wait, at least 1"))),
    )
)]
pub async fn login_secure(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    jar: CookieJar,
    Body(mut fields): Body,
) -> ApiResult<Response> {
    let issued = password_grant(&auth, &mut fields, &client).await?;
    let jar = set_cookies(jar, &auth, &issued);
    Ok(no_store(
        (jar, Json(json!({"message": "Login successful"}))).into_response(),
    ))
}

/// Adds the three login cookies of a fresh login or refresh (a new CSRF
/// token each time).
pub fn set_cookies(jar: CookieJar, auth: &Auth, issued: &Issued) -> CookieJar {
    let secure = auth.settings.cookie_secure;
    let access_age = time::Duration::seconds(issued.expires_in);
    let refresh_age = time::Duration::seconds(auth.settings.refresh_ttl_secs());
    jar.add(
        Cookie::build((ACCESS_COOKIE, issued.access_token.clone()))
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(access_age),
    )
    .add(
        Cookie::build((REFRESH_COOKIE, issued.refresh_token.clone()))
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .path("/token")
            .max_age(refresh_age),
    )
    .add(csrf_cookie(new_csrf_token(), secure, refresh_age))
}

/// A fresh CSRF token: 256 random bits, base64url (43 characters).
pub fn new_csrf_token() -> String {
    let mut csrf = [0u8; 32];
    rand::fill(&mut csrf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(csrf)
}

/// The double-submit cookie: readable by scripts (they copy it into
/// `X-CSRF-Token`), sent to every path.
pub fn csrf_cookie(value: String, secure: bool, max_age: time::Duration) -> Cookie<'static> {
    Cookie::build((CSRF_COOKIE, value))
        .http_only(false)
        .secure(secure)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(max_age)
        .build()
}

/// Expires the three login cookies.
pub fn clear_cookies(jar: CookieJar, secure: bool) -> CookieJar {
    let gone = |name: &'static str, path: &'static str, http_only: bool| {
        Cookie::build((name, ""))
            .http_only(http_only)
            .secure(secure)
            .same_site(SameSite::Lax)
            .path(path)
            .max_age(time::Duration::ZERO)
    };
    jar.add(gone(ACCESS_COOKIE, "/", true))
        .add(gone(REFRESH_COOKIE, "/token", true))
        .add(gone(CSRF_COOKIE, "/", false))
}
