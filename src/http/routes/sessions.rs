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

/// `POST /logout`: revokes the caller's session and clears login cookies.
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
