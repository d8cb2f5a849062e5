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
pub async fn login_extended(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    Body(mut fields): Body,
) -> ApiResult<Response> {
    let issued = password_grant(&auth, &mut fields, &client).await?;
    Ok(no_store(Json(token_json(&issued, &[])).into_response()))
}

/// `POST /login/multi-device`: the password grant, answering the session id.
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
