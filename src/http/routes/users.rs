//! Users: `GET /users/me`, `POST /users` (registration),
//! `POST /users/me/password`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::auth::{Auth, NewUser};
use crate::clock::rfc3339;
use crate::config::Secret;
use crate::http::error::ApiResult;
use crate::http::extract::{ActiveUser, Body, ClientInfo};
use crate::store::UserRow;

/// The public JSON of a user (never the password hash).
pub fn user_json(user: &UserRow) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "full_name": user.full_name,
        "disabled": user.disabled,
        "roles": user.roles,
        "permissions": user.effective_permissions,
        "created_at": rfc3339(user.created_at),
    })
}

/// `GET /users/me`.
pub async fn me(ActiveUser { user, .. }: ActiveUser) -> Json<Value> {
    Json(user_json(&user))
}

/// `POST /users`: self-registration.
pub async fn register(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    Body(mut fields): Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let username = fields.required_str("username");
    let password = fields.required_str("password");
    let email = fields.optional_str("email");
    let full_name = fields.optional_str("full_name");
    fields.finish()?;
    let user = auth
        .register(
            NewUser {
                username,
                password,
                email,
                full_name,
                ..NewUser::default()
            },
            &client.0,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user_json(&user))))
}

/// `POST /users/me/password`: checks the current password, sets the new one
/// and revokes every other session of the user.
pub async fn change_password(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    ActiveUser { claims, .. }: ActiveUser,
    Body(mut fields): Body,
) -> ApiResult<Json<Value>> {
    let current = fields.required_str("current_password");
    let new = fields.required_str("new_password");
    fields.finish()?;
    let revoked = auth
        .change_password(&claims, Secret::new(current), Secret::new(new), &client.0)
        .await?;
    Ok(Json(
        json!({"message": "Password changed", "revoked_sessions": revoked}),
    ))
}
