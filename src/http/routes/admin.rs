//! Administration under `/admin`, for callers holding `users:admin`: users
//! (list, create, show, patch, delete, force logout) and roles.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::auth::{Auth, AuthError, Client, NewUser, invalid};
use crate::http::error::ApiResult;
use crate::http::extract::{Authorized, Body, ClientInfo, Fields, PathParam, QueryFields};
use crate::http::routes::users::user_json;
use crate::http::schema::{
    AdminNewUser, AdminUser, AuditPage, Detail, Message, RevokedCount, Role, RolePermissions,
    Roles, UserChange, UserPage,
};
use crate::store::{UserPatch, UserRow};
use crate::user::{self, Email, Permission, RoleName};

crate::permission!(pub UsersAdmin = "users:admin");

/// Administrators of users and roles.
type Admin = Authorized<UsersAdmin>;

fn admin_user_json(user: &UserRow) -> Value {
    let mut v = user_json(user);
    v["own_permissions"] = json!(user.permissions);
    v
}

async fn find(auth: &Auth, username: &str) -> ApiResult<UserRow> {
    Ok(auth
        .store
        .user_by_username(username)
        .await
        .map_err(AuthError::from)?
        .ok_or(AuthError::NotFound("user"))?)
}

async fn audit(auth: &Auth, admin: &Admin, client: &Client, event: &str, target: &str) {
    let detail = format!("by {}", admin.user.claims.sub);
    auth.audit(
        event,
        Some(target),
        Some(&admin.user.claims.sid),
        client,
        Some(&detail),
    )
    .await;
}

/// `GET /admin/users?limit=&offset=`
#[utoipa::path(
    get, path = "/admin/users", tag = "admin", summary = "List users",
    security(("OAuth2PasswordBearer" = ["users:admin"]), ("bearer" = []), ("cookie" = [])),
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (50)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "Items to skip")),
    responses((status = 200, description = "A page of users", body = UserPage), (status = 400, description = "Inactive user", body = Detail))
)]
pub async fn list_users(
    State(auth): State<Arc<Auth>>,
    _: Admin,
    QueryFields(mut q): QueryFields,
) -> ApiResult<Json<Value>> {
    let limit = q.optional_int("limit", 1, 1000).unwrap_or(50);
    let offset = q.optional_int("offset", 0, i64::MAX / 2).unwrap_or(0);
    q.finish()?;
    let (users, total) = auth
        .store
        .list_users(limit, offset)
        .await
        .map_err(AuthError::from)?;
    let users: Vec<Value> = users.iter().map(admin_user_json).collect();
    Ok(Json(
        json!({"users": users, "total": total, "limit": limit, "offset": offset}),
    ))
}

fn string_list<T>(
    fields: &mut Fields,
    name: &'static str,
    parse: impl Fn(&str) -> Result<T, user::Invalid>,
) -> Option<Vec<String>> {
    let list = fields.optional_str_list(name)?;
    match user::parse_all(&list, parse) {
        Ok(_) => Some(list),
        Err(e) => {
            fields.reject(name, e.0);
            None
        }
    }
}

/// `POST /admin/users`
#[utoipa::path(
    post, path = "/admin/users", tag = "admin", summary = "Create a user",
    security(("OAuth2PasswordBearer" = ["users:admin"]), ("bearer" = []), ("cookie" = [])),
    request_body(content((AdminNewUser = "application/json"), (AdminNewUser = "application/x-www-form-urlencoded"))),
    responses(
        (status = 201, description = "Created", body = AdminUser),
        (status = 400, description = "Inactive user", body = Detail),
        (status = 409, description = "Username or email already registered", body = Detail),
    )
)]
pub async fn create_user(
    State(auth): State<Arc<Auth>>,
    admin: Admin,
    client: ClientInfo,
    Body(mut fields): Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let username = fields.required_str("username");
    let password = fields.required_str("password");
    let email = fields.optional_str("email");
    let full_name = fields.optional_str("full_name");
    let disabled = fields.optional_bool("disabled").unwrap_or(false);
    let roles = string_list(&mut fields, "roles", RoleName::parse).unwrap_or_default();
    let permissions =
        string_list(&mut fields, "permissions", Permission::parse).unwrap_or_default();
    fields.finish()?;
    let user = auth
        .create_user(
            NewUser {
                username,
                password,
                email,
                full_name,
                disabled,
                roles,
                permissions,
            },
            true,
        )
        .await
        .map_err(|e| match e {
            AuthError::NotFound("role") => AuthError::Invalid("roles", "Unknown role".into()),
            other => other,
        })?;
    audit(
        &auth,
        &admin,
        &client.0,
        "admin_user_created",
        &user.username,
    )
    .await;
    Ok((StatusCode::CREATED, Json(admin_user_json(&user))))
}

/// `GET /admin/users/{username}`
#[utoipa::path(
    get, path = "/admin/users/{username}", tag = "admin", summary = "Show a user",
    security(("OAuth2PasswordBearer" = ["users:admin"]), ("bearer" = []), ("cookie" = [])), params(("username" = String, Path, description = "Username")),
    responses((status = 200, description = "The user", body = AdminUser), (status = 400, description = "Inactive user", body = Detail), (status = 404, description = "No such user", body = Detail))
)]
pub async fn show_user(
    State(auth): State<Arc<Auth>>,
    _: Admin,
    PathParam(username): PathParam,
) -> ApiResult<Json<Value>> {
    Ok(Json(admin_user_json(&find(&auth, &username).await?)))
}

/// `PATCH /admin/users/{username}`: `disabled`, `roles`, `permissions`,
/// `email`, `full_name`. Disabling revokes every session at once.
#[utoipa::path(
    patch, path = "/admin/users/{username}", tag = "admin", summary = "Change a user",
    security(("OAuth2PasswordBearer" = ["users:admin"]), ("bearer" = []), ("cookie" = [])), params(("username" = String, Path, description = "Username")),
    request_body(content((UserChange = "application/json"), (UserChange = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The changed user", body = AdminUser), (status = 400, description = "Inactive user", body = Detail), (status = 404, description = "No such user", body = Detail),
        (status = 409, description = "Email already registered", body = Detail))
)]
pub async fn patch_user(
    State(auth): State<Arc<Auth>>,
    admin: Admin,
    client: ClientInfo,
    PathParam(username): PathParam,
    Body(mut fields): Body,
) -> ApiResult<Json<Value>> {
    let email = fields.nullable_str("email");
    if let Some(Some(Err(err))) = email.as_ref().map(|e| e.as_deref().map(Email::parse)) {
        fields.reject("email", err.0);
    }
    let patch = UserPatch {
        email,
        full_name: fields.nullable_str("full_name"),
        disabled: fields.optional_bool("disabled"),
        roles: string_list(&mut fields, "roles", RoleName::parse),
        permissions: string_list(&mut fields, "permissions", Permission::parse),
    };
    fields.finish()?;
    let target = find(&auth, &username).await?;
    let user = auth
        .update_user(target.id, patch)
        .await
        .map_err(|e| match e {
            AuthError::NotFound("role") => AuthError::Invalid("roles", "Unknown role".into()),
            other => other,
        })?;
    audit(
        &auth,
        &admin,
        &client.0,
        "admin_user_updated",
        &user.username,
    )
    .await;
    Ok(Json(admin_user_json(&user)))
}

/// `DELETE /admin/users/{username}`: revokes every session, then deletes.
#[utoipa::path(
    delete, path = "/admin/users/{username}", tag = "admin", summary = "Delete a user",
    security(("OAuth2PasswordBearer" = ["users:admin"]), ("bearer" = []), ("cookie" = [])), params(("username" = String, Path, description = "Username")),
    responses((status = 200, description = "Deleted", body = Message), (status = 400, description = "Inactive user", body = Detail), (status = 404, description = "No such user", body = Detail))
)]
pub async fn delete_user(
    State(auth): State<Arc<Auth>>,
    admin: Admin,
    client: ClientInfo,
    PathParam(username): PathParam,
) -> ApiResult<Json<Value>> {
    let target = find(&auth, &username).await?;
    auth.delete_user(target.id).await?;
    audit(
        &auth,
        &admin,
        &client.0,
        "admin_user_deleted",
        &target.username,
    )
    .await;
    Ok(Json(json!({"message": "User deleted"})))
}

/// `POST /admin/users/{username}/logout`: revokes every session of the user.
#[utoipa::path(
    post, path = "/admin/users/{username}/logout", tag = "admin", summary = "End every session of a user",
    security(("OAuth2PasswordBearer" = ["users:admin"]), ("bearer" = []), ("cookie" = [])), params(("username" = String, Path, description = "Username")),
    responses((status = 200, description = "Logged out", body = RevokedCount), (status = 400, description = "Inactive user", body = Detail), (status = 404, description = "No such user", body = Detail))
)]
pub async fn logout_user(
    State(auth): State<Arc<Auth>>,
    admin: Admin,
    client: ClientInfo,
    PathParam(username): PathParam,
) -> ApiResult<Json<Value>> {
    let target = find(&auth, &username).await?;
    let revoked = auth.revoke_user(target.id, None).await?;
    audit(
        &auth,
        &admin,
        &client.0,
        "admin_user_logout",
        &target.username,
    )
    .await;
    Ok(Json(
        json!({"message": "User logged out", "revoked": revoked}),
    ))
}

/// `GET /admin/roles`
#[utoipa::path(
    get, path = "/admin/roles", tag = "admin", summary = "List roles",
    security(("OAuth2PasswordBearer" = ["users:admin"]), ("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Every role", body = Roles), (status = 400, description = "Inactive user", body = Detail))
)]
pub async fn list_roles(State(auth): State<Arc<Auth>>, _: Admin) -> ApiResult<Json<Value>> {
    let roles: Vec<Value> = auth
        .store
        .list_roles()
        .await
        .map_err(AuthError::from)?
        .into_iter()
        .map(|(name, permissions)| json!({"name": name, "permissions": permissions}))
        .collect();
    Ok(Json(json!({ "roles": roles })))
}

/// `GET /admin/roles/{name}`
#[utoipa::path(
    get, path = "/admin/roles/{name}", tag = "admin", summary = "Show a role",
    security(("OAuth2PasswordBearer" = ["users:admin"]), ("bearer" = []), ("cookie" = [])), params(("name" = String, Path, description = "Role name")),
    responses((status = 200, description = "The role", body = Role), (status = 400, description = "Inactive user", body = Detail), (status = 404, description = "No such role", body = Detail))
)]
pub async fn show_role(
    State(auth): State<Arc<Auth>>,
    _: Admin,
    PathParam(name): PathParam,
) -> ApiResult<Json<Value>> {
    let permissions = auth
        .store
        .role(&name)
        .await
        .map_err(AuthError::from)?
        .ok_or(AuthError::NotFound("role"))?;
    Ok(Json(json!({"name": name, "permissions": permissions})))
}

/// `PUT /admin/roles/{name}`: `{"permissions": [...]}` creates or replaces it.
#[utoipa::path(
    put, path = "/admin/roles/{name}", tag = "admin", summary = "Create or replace a role",
    security(("OAuth2PasswordBearer" = ["users:admin"]), ("bearer" = []), ("cookie" = [])), params(("name" = String, Path, description = "Role name")),
    request_body(content((RolePermissions = "application/json"), (RolePermissions = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The role", body = Role), (status = 400, description = "Inactive user", body = Detail))
)]
pub async fn put_role(
    State(auth): State<Arc<Auth>>,
    admin: Admin,
    client: ClientInfo,
    PathParam(name): PathParam,
    Body(mut fields): Body,
) -> ApiResult<Json<Value>> {
    let role = RoleName::parse(&name).map_err(invalid("name"))?;
    let permissions = if fields.has("permissions") {
        string_list(&mut fields, "permissions", Permission::parse).unwrap_or_default()
    } else {
        fields.required_str("permissions");
        Vec::new()
    };
    fields.finish()?;
    auth.put_role(&role, &permissions).await?;
    audit(&auth, &admin, &client.0, "admin_role_put", role.as_str()).await;
    let mut sorted = permissions;
    sorted.sort();
    sorted.dedup();
    Ok(Json(json!({"name": role.as_str(), "permissions": sorted})))
}

/// `DELETE /admin/roles/{name}`
#[utoipa::path(
    delete, path = "/admin/roles/{name}", tag = "admin", summary = "Delete a role",
    security(("OAuth2PasswordBearer" = ["users:admin"]), ("bearer" = []), ("cookie" = [])), params(("name" = String, Path, description = "Role name")),
    responses((status = 200, description = "Deleted", body = Message), (status = 400, description = "Inactive user", body = Detail), (status = 404, description = "No such role", body = Detail))
)]
pub async fn delete_role(
    State(auth): State<Arc<Auth>>,
    admin: Admin,
    client: ClientInfo,
    PathParam(name): PathParam,
) -> ApiResult<Json<Value>> {
    if !auth.delete_role(&name).await? {
        return Err(AuthError::NotFound("role").into());
    }
    audit(&auth, &admin, &client.0, "admin_role_deleted", &name).await;
    Ok(Json(json!({"message": "Role deleted"})))
}

/// `GET /admin/audit?username=&event=&limit=&offset=`: newest first.
#[utoipa::path(
    get, path = "/admin/audit", tag = "admin", summary = "Audit events, newest first",
    security(("OAuth2PasswordBearer" = ["users:admin"]), ("bearer" = []), ("cookie" = [])),
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (50)"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "Items to skip"),
        ("username" = Option<String>, Query, description = "Only this user's events"),
        ("event" = Option<String>, Query, description = "Only this kind of event")),
    responses((status = 200, description = "A page of events", body = AuditPage), (status = 400, description = "Inactive user", body = Detail))
)]
pub async fn audit_events(
    State(auth): State<Arc<Auth>>,
    _: Admin,
    QueryFields(mut q): QueryFields,
) -> ApiResult<Json<Value>> {
    let limit = q.optional_int("limit", 1, 1000).unwrap_or(50);
    let offset = q.optional_int("offset", 0, i64::MAX / 2).unwrap_or(0);
    let username = q.optional_str("username");
    let event = q.optional_str("event");
    q.finish()?;
    let (events, total) = auth
        .store
        .audit_events(username.as_deref(), event.as_deref(), limit, offset)
        .await
        .map_err(AuthError::from)?;
    let events: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id,
                "at": crate::clock::rfc3339(e.at),
                "event": e.event,
                "username": e.username,
                "session_id": e.session_id,
                "ip": e.ip,
                "user_agent": e.user_agent,
                "detail": e.detail,
            })
        })
        .collect();
    Ok(Json(
        json!({"events": events, "total": total, "limit": limit, "offset": offset}),
    ))
}
