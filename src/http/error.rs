//! The one error type of the HTTP edge and its mapping to the contract's
//! answers: status, `detail`, and headers (every 401 gets
//! `WWW-Authenticate`). Internal causes are logged here, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::auth::AuthError;

/// One item of a FastAPI-shaped 422 answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    /// Error kind, as pydantic names them (`missing`, `string_type`, ...).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where: `["body", "username"]`.
    pub loc: Vec<Value>,
    /// Human-readable message.
    pub msg: String,
    /// The offending input (`null` when missing).
    pub input: Value,
}

impl FieldError {
    /// A required field that is absent.
    pub fn missing(place: &str, field: &str) -> Self {
        Self {
            kind: "missing",
            loc: vec![json!(place), json!(field)],
            msg: "Field required".into(),
            input: Value::Null,
        }
    }

    /// A field of the wrong type or value.
    pub fn invalid(
        place: &str,
        field: &str,
        kind: &'static str,
        msg: impl Into<String>,
        input: Value,
    ) -> Self {
        Self {
            kind,
            loc: vec![json!(place), json!(field)],
            msg: msg.into(),
            input: clip(input),
        }
    }
}

/// Echoed inputs are clipped so a 10 KB value is not sent back whole.
fn clip(input: Value) -> Value {
    match input {
        Value::String(s) if s.len() > 100 => Value::String(s.chars().take(100).collect()),
        Value::Array(_) | Value::Object(_) => Value::Null,
        other => other,
    }
}

/// Every failure a handler can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A domain failure.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Request validation failed (422).
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Body over the limit (413).
    #[error("body too large")]
    PayloadTooLarge,
    /// No such route (404).
    #[error("not found")]
    NotFound,
    /// Route exists, method does not (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The body did not arrive within `REQUEST_TIMEOUT` (408).
    #[error("request body timed out")]
    RequestTimeout,
    /// A cookie-authenticated change without a matching CSRF token (403).
    #[error("csrf token missing or wrong")]
    Csrf,
}

const BEARER: &str = "Bearer";
const BEARER_INVALID: &str = "Bearer error=\"invalid_token\"";

impl ApiError {
    fn parts(&self) -> (StatusCode, Value, Option<&'static str>) {
        use AuthError as A;
        let detail = |s: &str| json!(s);
        match self {
            ApiError::Validation(items) => (StatusCode::UNPROCESSABLE_ENTITY, json!(items), None),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                detail("Request body too large"),
                None,
            ),
            ApiError::RequestTimeout => {
                (StatusCode::REQUEST_TIMEOUT, detail("Request Timeout"), None)
            }
            ApiError::NotFound => (StatusCode::NOT_FOUND, detail("Not Found"), None),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                detail("Method Not Allowed"),
                None,
            ),
            ApiError::Csrf => (
                StatusCode::FORBIDDEN,
                detail("CSRF token missing or invalid"),
                None,
            ),
            ApiError::Auth(e) => match e {
                A::BadCredentials => (
                    StatusCode::UNAUTHORIZED,
                    detail("Incorrect username or password"),
                    Some(BEARER),
                ),
                A::Inactive => (StatusCode::BAD_REQUEST, detail("Inactive user"), None),
                A::RateLimited(_) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    detail("Too many login attempts"),
                    None,
                ),
                A::InvalidRefresh => (
                    StatusCode::UNAUTHORIZED,
                    detail("Invalid refresh token"),
                    Some(BEARER_INVALID),
                ),
                A::RefreshAlreadyUsed => (
                    StatusCode::CONFLICT,
                    detail("Refresh token already used"),
                    None,
                ),
                A::NotAuthenticated => (
                    StatusCode::UNAUTHORIZED,
                    detail("Not authenticated"),
                    Some(BEARER),
                ),
                A::Revoked => (
                    StatusCode::UNAUTHORIZED,
                    detail("Token has been revoked"),
                    Some(BEARER_INVALID),
                ),
                A::InvalidToken(_) => (
                    StatusCode::UNAUTHORIZED,
                    detail("Could not validate credentials"),
                    Some(BEARER_INVALID),
                ),
                A::PermissionRequired(p) => (
                    StatusCode::FORBIDDEN,
                    json!(format!("Permission '{p}' required")),
                    None,
                ),
                A::Forbidden(why) => (StatusCode::FORBIDDEN, detail(why), None),
                A::BadRequest(why) => (StatusCode::BAD_REQUEST, detail(why), None),
                A::Conflict("user") => (
                    StatusCode::CONFLICT,
                    detail("Username or email already registered"),
                    None,
                ),
                A::Conflict("email") => (
                    StatusCode::CONFLICT,
                    detail("Email already registered"),
                    None,
                ),
                A::Conflict(what) => (
                    StatusCode::CONFLICT,
                    json!(format!("{} already exists", capitalise(what))),
                    None,
                ),
                A::NotFound(what) => (
                    StatusCode::NOT_FOUND,
                    json!(format!("{} not found", capitalise(what))),
                    None,
                ),
                A::Invalid(field, msg) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!([FieldError::invalid(
                        "body",
                        field,
                        "value_error",
                        msg.clone(),
                        Value::Null
                    )]),
                    None,
                ),
                A::Unavailable(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    detail("Service temporarily unavailable"),
                    None,
                ),
                A::Internal(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    detail("Internal Server Error"),
                    None,
                ),
            },
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Auth(AuthError::Internal(cause)) => tracing::error!(%cause, "internal error"),
            ApiError::Auth(AuthError::Unavailable(cause)) => {
                tracing::warn!(%cause, "store unavailable")
            }
            ApiError::Auth(AuthError::InvalidToken(why)) => tracing::debug!(why, "token refused"),
            _ => {}
        }
        let (status, detail, www_authenticate) = self.parts();
        let mut response = (status, Json(json!({ "detail": detail }))).into_response();
        let headers = response.headers_mut();
        if let Some(value) = www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
        }
        if let ApiError::Auth(AuthError::RateLimited(secs)) = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

/// Handler results.
pub type ApiResult<T> = Result<T, ApiError>;
