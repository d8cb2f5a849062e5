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
use crate::http::schema::{Detail, PasswordChange, PasswordChanged, Registration, User};
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
#[utoipa::path(
    get, path = "/users/me", tag = "users", summary = "The caller (OpenID Connect userinfo)",
    security(("OAuth2PasswordBearer" = []), ("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller", body = User),
        (status = 400, description = "Inactive user", body = Detail),
    )
)]
pub async fn me(ActiveUser { user, .. }: ActiveUser) -> Json<Value> {
    Json(user_json(&user))
}

/// `POST /users`: self-registration.
#[utoipa::path(
    post, path = "/users", tag = "users", summary = "Register",
    request_body(content(
        (Registration = "application/json"),
        (Registration = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 201, description = "Registered", body = User),
        (status = 403, description = "Registration is closed", body = Detail),
        (status = 409, description = "Username or email already registered", body = Detail),
    )
)]
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
#[utoipa::path(
    post, path = "/users/me/password", tag = "users", summary = "Change the caller's password",
    security(("OAuth2PasswordBearer" = []), ("bearer" = []), ("cookie" = [])),
    request_body(content(
        (PasswordChange = "application/json"),
        (PasswordChange = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Changed; the other sessions are revoked", body = PasswordChanged),
        (status = 400, description = "Incorrect current password, or inactive user", body = Detail),
    )
)]
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
