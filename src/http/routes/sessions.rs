//! Logout and sessions: `POST /logout`, `/logout/all`, `/logout/device`,
//! `GET /sessions`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::clock::rfc3339;
use crate::http::error::ApiResult;
use crate::http::extract::{Body, ClientInfo, CurrentUser, Via};
use crate::http::routes::tokens::clear_cookies;
use crate::http::schema::{Detail, DeviceLogout, Message, RevokedCount, Sessions};

/// `POST /logout`: revokes the caller's session and clears login cookies.
#[utoipa::path(
    post, path = "/logout", tag = "sessions", summary = "End the caller's session",
    security(("OAuth2PasswordBearer" = []), ("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Logged out; cookies cleared", body = Message))
)]
pub async fn logout(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    jar: CookieJar,
    user: CurrentUser,
) -> ApiResult<Response> {
    auth.logout(&user.claims, &client.0).await?;
    let body = Json(json!({"message": "Successfully logged out"}));
    Ok((clear_cookies(jar, auth.settings.cookie_secure), body).into_response())
}

/// `POST /logout/all`: revokes every session of the caller.
#[utoipa::path(
    post, path = "/logout/all", tag = "sessions", summary = "End every session of the caller",
    security(("OAuth2PasswordBearer" = []), ("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Logged out everywhere", body = RevokedCount))
)]
pub async fn logout_all(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    jar: CookieJar,
    user: CurrentUser,
) -> ApiResult<Response> {
    let revoked = auth.logout_all(&user.claims, &client.0).await?;
    let body = Json(json!({"message": "Logged out from all devices", "revoked": revoked}));
    if user.via == Via::Cookie {
        return Ok((clear_cookies(jar, auth.settings.cookie_secure), body).into_response());
    }
    Ok(body.into_response())
}

/// `POST /logout/device`: revokes one of the caller's sessions, named by
/// `jti` (the session id) in the query or the body.
#[utoipa::path(
    post, path = "/logout/device", tag = "sessions", summary = "End one of the caller's sessions",
    security(("OAuth2PasswordBearer" = []), ("bearer" = []), ("cookie" = [])),
    params(("jti" = Option<String>, Query, description = "The session id, if not in the body")),
    request_body(content(
        (DeviceLogout = "application/json"),
        (DeviceLogout = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Device logged out", body = Message),
        (status = 404, description = "No such session of this user", body = Detail),
    )
)]
pub async fn logout_device(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    user: CurrentUser,
    Body(mut fields): Body,
) -> ApiResult<Json<Value>> {
    let jti = fields.required_str("jti");
    fields.finish()?;
    auth.logout_device(&user.claims, &jti, &client.0).await?;
    Ok(Json(json!({"message": "Device logged out"})))
}

/// `GET /sessions`: the caller's active sessions, the current one marked.
#[utoipa::path(
    get, path = "/sessions", tag = "sessions", summary = "The caller's active sessions",
    security(("OAuth2PasswordBearer" = []), ("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Active sessions", body = Sessions))
)]
pub async fn sessions(State(auth): State<Arc<Auth>>, user: CurrentUser) -> ApiResult<Json<Value>> {
    let sessions = auth.sessions(user.claims.user_id).await?;
    let list: Vec<Value> = sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "jti": s.id,
                "device": s.user_agent,
                "ip": s.ip,
                "created_at": rfc3339(s.created_at),
                "last_used_at": rfc3339(s.last_used_at),
                "current": s.id == user.claims.sid,
            })
        })
        .collect();
    Ok(Json(json!({ "active_sessions": list })))
}
