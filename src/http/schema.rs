//! The shapes of request and response bodies, as the OpenAPI document
//! describes them. Handlers build their JSON with `serde_json`; these types
//! exist for the document, and the tests hold every answer to them.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Every error but a validation error: `{"detail": "<message>"}`.
#[derive(Serialize, ToSchema)]
pub struct Detail {
    /// What went wrong.
    #[schema(example = "Not authenticated")]
    pub detail: String,
}

/// A request validation error, in FastAPI's shape.
#[derive(Serialize, ToSchema)]
pub struct ValidationError {
    /// One item per refused field.
    pub detail: Vec<ValidationItem>,
}

/// One refused field.
#[derive(Serialize, ToSchema)]
pub struct ValidationItem {
    /// Where: `["body", "username"]`.
    pub loc: Vec<LocPart>,
    /// Human-readable message.
    pub msg: String,
    /// Error kind (`missing`, `string_type`, `value_error`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The offending input (clipped), or `null`.
    pub input: Value,
}

/// A part of a validation error's location: a name or a position.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LocPart {
    /// A place (`body`, `query`) or a field name.
    Name(String),
    /// A position (the column of a JSON syntax error).
    Index(i64),
}

/// A plain confirmation.
#[derive(Serialize, ToSchema)]
pub struct Message {
    /// What was done.
    pub message: String,
}

/// A confirmation with the number of sessions revoked.
#[derive(Serialize, ToSchema)]
pub struct RevokedCount {
    /// What was done.
    pub message: String,
    /// Sessions revoked.
    pub revoked: i64,
}

/// `POST /users/me/password`'s answer.
#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    /// `Password changed`.
    pub message: String,
    /// Other sessions of the user that were revoked.
    pub revoked_sessions: i64,
}

/// A password-grant login (form or JSON).
#[derive(Serialize, ToSchema)]
pub struct LoginRequest {
    /// Username or email.
    pub username: String,
    /// Password.
    #[schema(format = Password)]
    pub password: String,
    /// `password` (the default).
    pub grant_type: Option<String>,
    /// Space-separated permissions to narrow the token to.
    pub scope: Option<String>,
}

/// `POST /token`: the password grant (`username`, `password`) or the
/// refresh grant (`grant_type=refresh_token`, `refresh_token`).
#[derive(Serialize, ToSchema)]
pub struct TokenRequest {
    /// `password` (the default) or `refresh_token`.
    #[schema(pattern = "^(password|refresh_token)?$")]
    pub grant_type: Option<String>,
    /// Username or email (password grant).
    pub username: Option<String>,
    /// Password (password grant).
    #[schema(format = Password)]
    pub password: Option<String>,
    /// Space-separated permissions to narrow the token to.
    pub scope: Option<String>,
    /// The refresh token (refresh grant).
    pub refresh_token: Option<String>,
    /// Accepted and ignored (public clients).
    pub client_id: Option<String>,
    /// Accepted and ignored.
    pub client_secret: Option<String>,
}

/// A refresh token to rotate.
#[derive(Serialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token; absent: the `refresh_token` cookie is used.
    pub refresh_token: Option<String>,
}

/// Tokens issued by a login or a refresh.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// The JWT access token.
    pub access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The opaque, single-use refresh token.
    pub refresh_token: String,
    /// Granted permissions, space-separated (when a scope was asked for).
    pub scope: Option<String>,
}

/// `POST /login/multi-device`'s answer: the tokens and the session id.
#[derive(Serialize, ToSchema)]
pub struct DeviceTokenResponse {
    /// The JWT access token.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The opaque, single-use refresh token.
    pub refresh_token: String,
    /// Granted permissions, space-separated (when a scope was asked for).
    pub scope: Option<String>,
    /// The new session's id.
    pub jti: String,
}

/// `POST /token/refresh`'s answer: tokens, or with the cookie a message.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum RefreshResponse {
    /// A refresh token given in the body or query: new tokens.
    Tokens(TokenResponse),
    /// The refresh token cookie: new cookies and `Token refreshed`.
    Cookies(Message),
}

/// A user as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct User {
    /// Numeric id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Email.
    pub email: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// Role names.
    pub roles: Vec<String>,
    /// Effective permissions (own and from roles).
    pub permissions: Vec<String>,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A user as an administrator sees it.
#[derive(Serialize, ToSchema)]
pub struct AdminUser {
    /// Numeric id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Email.
    pub email: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// Role names.
    pub roles: Vec<String>,
    /// Effective permissions (own and from roles).
    pub permissions: Vec<String>,
    /// The user's own permissions.
    pub own_permissions: Vec<String>,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// Self-registration.
#[derive(Serialize, ToSchema)]
pub struct Registration {
    /// 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit.
    pub username: String,
    /// At least 8 characters.
    #[schema(format = Password)]
    pub password: String,
    /// Email.
    pub email: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
}

/// A password change.
#[derive(Serialize, ToSchema)]
pub struct PasswordChange {
    /// The password now.
    #[schema(format = Password)]
    pub current_password: String,
    /// The new password (at least 8 characters).
    #[schema(format = Password)]
    pub new_password: String,
}

/// A session to end.
#[derive(Serialize, ToSchema)]
pub struct DeviceLogout {
    /// The session id (also accepted as query parameter `jti`).
    pub jti: Option<String>,
}

/// One login on one device.
#[derive(Serialize, ToSchema)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// The session id again (the tutorials' name).
    pub jti: String,
    /// The user agent that logged in.
    pub device: Option<String>,
    /// The client IP.
    pub ip: Option<String>,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub last_used_at: String,
    /// True for the session of the token used.
    pub current: bool,
}

/// `GET /sessions`'s answer.
#[derive(Serialize, ToSchema)]
pub struct Sessions {
    /// The caller's active sessions.
    pub active_sessions: Vec<Session>,
}

/// A user created by an administrator.
#[derive(Serialize, ToSchema)]
pub struct AdminNewUser {
    /// Username.
    pub username: String,
    /// At least 8 characters.
    #[schema(format = Password)]
    pub password: String,
    /// Email.
    pub email: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// Create it disabled.
    pub disabled: Option<bool>,
    /// Roles (must exist).
    pub roles: Option<Vec<String>>,
    /// Own permissions.
    pub permissions: Option<Vec<String>>,
}

/// An administrative change; absent fields are left alone.
#[derive(Serialize, ToSchema)]
pub struct UserChange {
    /// `null` clears it.
    pub email: Option<String>,
    /// `null` clears it.
    pub full_name: Option<String>,
    /// Disabling revokes every session.
    pub disabled: Option<bool>,
    /// Replaces the roles.
    pub roles: Option<Vec<String>>,
    /// Replaces the own permissions.
    pub permissions: Option<Vec<String>>,
}

/// A page of users.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    /// The users.
    pub users: Vec<AdminUser>,
    /// All users.
    pub total: i64,
    /// Page size.
    pub limit: i64,
    /// Users skipped.
    pub offset: i64,
}

/// A named set of permissions.
#[derive(Serialize, ToSchema)]
pub struct Role {
    /// Role name.
    pub name: String,
    /// Its permissions.
    pub permissions: Vec<String>,
}

/// `PUT /admin/roles/{name}`'s body.
#[derive(Serialize, ToSchema)]
pub struct RolePermissions {
    /// The role's permissions (replacing the old ones).
    pub permissions: Vec<String>,
}

/// Every role.
#[derive(Serialize, ToSchema)]
pub struct Roles {
    /// The roles.
    pub roles: Vec<Role>,
}

/// One audit event (never a secret).
#[derive(Serialize, ToSchema)]
pub struct AuditEvent {
    /// Event id.
    pub id: i64,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub at: String,
    /// `login_ok`, `login_failed`, `logout`, ...
    pub event: String,
    /// Who.
    pub username: Option<String>,
    /// Which session.
    pub session_id: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// More about it.
    pub detail: Option<String>,
}

/// A page of audit events, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditEvent>,
    /// All matching events.
    pub total: i64,
    /// Page size.
    pub limit: i64,
    /// Events skipped.
    pub offset: i64,
}

/// Liveness.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Readiness.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: String,
    /// `ok`.
    pub database: String,
    /// `ok`, when Redis is configured.
    pub redis: Option<String>,
}

/// The public signing keys (RFC 7517).
#[derive(Serialize, ToSchema)]
pub struct Jwks {
    /// JWKs; empty with an HMAC secret.
    pub keys: Vec<Value>,
}

/// OpenID Connect discovery / RFC 8414 server metadata.
#[derive(Serialize, ToSchema)]
pub struct OpenIdConfiguration {
    /// The `iss` of every token.
    pub issuer: String,
    /// `POST /token`.
    pub token_endpoint: String,
    /// `GET /.well-known/jwks.json`.
    pub jwks_uri: String,
    /// `GET /users/me`.
    pub userinfo_endpoint: String,
    /// `POST /revoke`.
    pub revocation_endpoint: String,
    /// `POST /introspect`.
    pub introspection_endpoint: String,
    /// `password`, `refresh_token`.
    pub grant_types_supported: Vec<String>,
    /// No authorization endpoint: `none`.
    pub response_types_supported: Vec<String>,
    /// `public`.
    pub subject_types_supported: Vec<String>,
    /// The signing algorithm of access tokens (no ID tokens are issued;
    /// clients read this to know how to verify what they get).
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `none`: public clients.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `none`: the token is the credential.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// Claims of the access tokens.
    pub claims_supported: Vec<String>,
}

/// RFC 7009 / RFC 7662: the token to revoke or introspect.
#[derive(Serialize, ToSchema)]
pub struct TokenForm {
    /// An access token or a refresh token.
    pub token: String,
    /// `access_token` or `refresh_token`; a hint only.
    pub token_type_hint: Option<String>,
}

/// RFC 7662 answer: `{"active": false}`, or the token's details.
#[derive(Serialize, ToSchema)]
pub struct Introspection {
    /// True when the token would be accepted now.
    pub active: bool,
    /// Username.
    pub sub: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Numeric user id.
    pub user_id: Option<i64>,
    /// Expiry (Unix seconds).
    pub exp: Option<i64>,
    /// Issued at (access tokens).
    pub iat: Option<i64>,
    /// Not before (access tokens).
    pub nbf: Option<i64>,
    /// Granted permissions, space-separated.
    pub scope: Option<String>,
    /// `bearer` (access tokens).
    pub token_type: Option<String>,
    /// `access_token` or `refresh_token`.
    pub token_use: Option<String>,
    /// Token id (access tokens).
    pub jti: Option<String>,
    /// Session id.
    pub sid: Option<String>,
    /// Issuer.
    pub iss: Option<String>,
    /// Audience, when configured.
    pub aud: Option<String>,
    /// Role names.
    pub roles: Option<Vec<String>>,
    /// Granted permissions.
    pub permissions: Option<Vec<String>>,
}
