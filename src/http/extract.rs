//! Extractors: request fields (JSON or form, answering FastAPI-shaped 422s),
//! the presented credential (bearer header or cookie with its CSRF check),
//! the authenticated caller, and the client's address and user agent.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum_extra::extract::CookieJar;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::error::{ApiError, ApiResult, FieldError};
use crate::auth::{Auth, AuthError, Client};
use crate::store::UserRow;
use crate::token::Claims;

/// Name of the cookie carrying the access token.
pub const ACCESS_COOKIE: &str = "access_token";
/// Name of the cookie carrying the refresh token.
pub const REFRESH_COOKIE: &str = "refresh_token";
/// Name of the double-submit CSRF cookie.
pub const CSRF_COOKIE: &str = "csrf_token";
/// Header that must repeat the CSRF cookie on cookie-authenticated changes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Hidden form field that repeats the CSRF cookie on HTML form posts.
pub const CSRF_FIELD: &str = "csrf_token";

/// Request fields from a JSON object, a urlencoded form and/or the query
/// string, read with per-field validation errors collected FastAPI-style.
#[derive(Debug, Default)]
pub struct Fields {
    body: Map<String, Value>,
    query: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields {
    /// Parses a body according to its `Content-Type`. JSON must be an
    /// object; anything that is neither JSON nor a form has no fields.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> ApiResult<Self> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mime = content_type.split(';').next().unwrap_or("").trim();
        let body = if mime == "application/json" || mime.ends_with("+json") {
            parse_json(body)?
        } else if mime == "application/x-www-form-urlencoded" {
            parse_form(body)
        } else {
            Map::new()
        };
        Ok(Self {
            body,
            ..Self::default()
        })
    }

    /// Adds the query string's parameters (a body value wins over the query).
    pub fn with_query(mut self, query: Option<&str>) -> Self {
        if let Some(q) = query {
            self.query = parse_form(q.as_bytes());
        }
        self
    }

    fn lookup(&self, name: &str) -> Option<(&'static str, &Value)> {
        self.body
            .get(name)
            .map(|v| ("body", v))
            .or_else(|| self.query.get(name).map(|v| ("query", v)))
    }

    /// A string value, refused when it holds a NUL character (no database
    /// stores one in text, and no legitimate client sends one).
    fn text(&mut self, place: &'static str, name: &str, s: &str) -> Option<String> {
        if s.contains('\0') {
            self.errors.push(FieldError::invalid(
                place,
                name,
                "string_nul",
                "String must not contain the NUL character",
                Value::Null,
            ));
            return None;
        }
        Some(s.to_string())
    }

    /// True when the field was given (even as `null`).
    pub fn has(&self, name: &str) -> bool {
        self.lookup(name).is_some()
    }

    /// A required string; records `missing` or `string_type`.
    pub fn required_str(&mut self, name: &str) -> String {
        match self.lookup(name) {
            None => {
                self.errors.push(FieldError::missing("body", name));
                String::new()
            }
            Some((place, value)) => match value {
                Value::String(s) => {
                    let s = s.clone();
                    self.text(place, name, &s).unwrap_or_default()
                }
                other => {
                    let err = type_error(place, name, other.clone());
                    self.errors.push(err);
                    String::new()
                }
            },
        }
    }

    /// An optional string (`null` counts as absent).
    pub fn optional_str(&mut self, name: &str) -> Option<String> {
        match self.lookup(name) {
            None | Some((_, Value::Null)) => None,
            Some((place, Value::String(s))) => {
                let s = s.clone();
                self.text(place, name, &s)
            }
            Some((place, other)) => {
                let err = type_error(place, name, other.clone());
                self.errors.push(err);
                None
            }
        }
    }

    /// An optional string that may be explicitly `null` (to clear a value):
    /// `None` absent, `Some(None)` null, `Some(Some(s))` a string.
    pub fn nullable_str(&mut self, name: &str) -> Option<Option<String>> {
        match self.lookup(name) {
            None => None,
            Some((_, Value::Null)) => Some(None),
            Some((place, Value::String(s))) => {
                let s = s.clone();
                self.text(place, name, &s).map(Some)
            }
            Some((place, other)) => {
                let err = type_error(place, name, other.clone());
                self.errors.push(err);
                None
            }
        }
    }

    /// An optional boolean (JSON `true`/`false`, or form `true`/`false`).
    pub fn optional_bool(&mut self, name: &str) -> Option<bool> {
        let (place, value) = self.lookup(name)?;
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            Value::Null => return None,
            _ => None,
        };
        if parsed.is_none() {
            let err = FieldError::invalid(
                place,
                name,
                "bool_type",
                "Input should be a valid boolean",
                value.clone(),
            );
            self.errors.push(err);
        }
        parsed
    }

    /// An optional whole number in `min..=max` (JSON number or text).
    pub fn optional_int(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        let (place, value) = self.lookup(name)?;
        let parsed = match value {
            Value::Null => return None,
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let err = FieldError::invalid(
                    place,
                    name,
                    "int_parsing",
                    format!("Input should be a whole number from {min} to {max}"),
                    value.clone(),
                );
                self.errors.push(err);
                None
            }
        }
    }

    /// An optional list of strings.
    pub fn optional_str_list(&mut self, name: &str) -> Option<Vec<String>> {
        let (place, value) = self.lookup(name)?;
        let list = match value {
            Value::Null => return None,
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().filter(|s| !s.contains('\0')).map(str::to_string))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        if list.is_none() {
            let err = FieldError::invalid(
                place,
                name,
                "list_type",
                "Input should be a valid list of strings",
                value.clone(),
            );
            self.errors.push(err);
        }
        list
    }

    /// Records a field error found by the caller.
    pub fn reject(&mut self, name: &str, msg: impl Into<String>) {
        let input = self
            .lookup(name)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null);
        self.errors
            .push(FieldError::invalid("body", name, "value_error", msg, input));
    }

    /// Ends reading: the collected errors as a 422, if any.
    pub fn finish(&mut self) -> ApiResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(std::mem::take(&mut self.errors)))
        }
    }
}

fn type_error(place: &str, name: &str, input: Value) -> FieldError {
    FieldError::invalid(
        place,
        name,
        "string_type",
        "Input should be a valid string",
        input,
    )
}

fn parse_json(body: &[u8]) -> ApiResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::Validation(vec![FieldError {
            kind: "model_attributes_type",
            loc: vec![json!("body")],
            msg: "Input should be a valid dictionary or object to extract fields from".into(),
            input: match other {
                Value::Array(_) | Value::Object(_) => Value::Null,
                v => v,
            },
        }])),
        Err(e) => Err(ApiError::Validation(vec![FieldError {
            kind: "json_invalid",
            loc: vec![json!("body"), json!(e.column())],
            msg: "JSON decode error".into(),
            input: json!({}),
        }])),
    }
}

fn parse_form(body: &[u8]) -> Map<String, Value> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// The request's fields (body and query), as an extractor.
pub struct Body(pub Fields);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let headers = req.headers().clone();
        let query = req.uri().query().map(str::to_string);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else if timed_out(&rejection) {
                ApiError::RequestTimeout
            } else {
                ApiError::Validation(vec![FieldError {
                    kind: "body_read",
                    loc: vec![json!("body")],
                    msg: "Could not read the request body".into(),
                    input: Value::Null,
                }])
            }
        })?;
        Ok(Body(
            Fields::parse(&headers, &bytes)?.with_query(query.as_deref()),
        ))
    }
}

/// True when reading the body failed because the server's body deadline
/// (`REQUEST_TIMEOUT`) passed.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Query-string fields only, as an extractor (for GET endpoints).
pub struct QueryFields(pub Fields);

impl<S: Send + Sync> FromRequestParts<S> for QueryFields {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        Ok(QueryFields(Fields::default().with_query(parts.uri.query())))
    }
}

/// A single path segment (a username, a role name); a segment that is not
/// valid UTF-8 after decoding answers the JSON 404 instead of axum's text.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .ok()
            .filter(|axum::extract::Path(p): &axum::extract::Path<String>| !p.contains('\0'))
            .map(|axum::extract::Path(p)| PathParam(p))
            .ok_or(ApiError::NotFound)
    }
}

/// How the caller presented its access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer`.
    Bearer,
    /// The `access_token` cookie.
    Cookie,
}

/// The presented access token: bearer header first, else the cookie (whose
/// state-changing requests must carry the CSRF header).
pub fn presented_token(parts: &Parts) -> ApiResult<(String, Via)> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| AuthError::InvalidToken("header encoding"))?;
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            let token = token.trim();
            if token.is_empty() {
                return Err(AuthError::InvalidToken("empty bearer").into());
            }
            return Ok((token.to_string(), Via::Bearer));
        }
    }
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(cookie) = jar.get(ACCESS_COOKIE).filter(|c| !c.value().is_empty()) else {
        return Err(AuthError::NotAuthenticated.into());
    };
    check_csrf(&parts.method, &jar, &parts.headers)?;
    Ok((cookie.value().to_string(), Via::Cookie))
}

/// A cookie-authenticated request that changes state (any method but
/// GET/HEAD/OPTIONS) must repeat the `csrf_token` cookie in `X-CSRF-Token`.
pub fn check_csrf(method: &Method, jar: &CookieJar, headers: &HeaderMap) -> ApiResult<()> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let given = headers
        .get(CSRF_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    check_csrf_token(jar, given)
}

/// The double-submit comparison itself, in constant time: `given` (the
/// `X-CSRF-Token` header, or the [`CSRF_FIELD`] of an HTML form, which
/// cannot set headers) must equal the non-empty `csrf_token` cookie.
pub fn check_csrf_token(jar: &CookieJar, given: &[u8]) -> ApiResult<()> {
    let expected = jar
        .get(CSRF_COOKIE)
        .map(|c| c.value().as_bytes())
        .unwrap_or_default();
    let same: bool = given.ct_eq(expected).into();
    if expected.is_empty() || !same {
        return Err(ApiError::Csrf);
    }
    Ok(())
}

/// A caller with a valid, unrevoked access token (the user may be disabled).
///
/// ```no_run
/// use latchkey::http::extract::CurrentUser;
/// async fn whoami(CurrentUser { claims, .. }: CurrentUser) -> String {
///     claims.sub
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The verified claims.
    pub claims: Claims,
    /// How the token came.
    pub via: Via,
}

impl<S> FromRequestParts<S> for CurrentUser
where
    Arc<Auth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let auth = Arc::<Auth>::from_ref(state);
        let (token, via) = presented_token(parts)?;
        let claims = auth.authenticate(&token).await?;
        let user = CurrentUser { claims, via };
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// A caller whose token is valid and whose user exists and is not disabled
/// (FastAPI's `get_current_active_user`).
///
/// ```no_run
/// use latchkey::http::extract::ActiveUser;
/// async fn me(ActiveUser { user, .. }: ActiveUser) -> String {
///     user.username.clone()
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ActiveUser {
    /// The verified claims.
    pub claims: Claims,
    /// The user as stored now.
    pub user: Arc<UserRow>,
    /// How the token came.
    pub via: Via,
}

impl<S> FromRequestParts<S> for ActiveUser
where
    Arc<Auth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        let CurrentUser { claims, via } = CurrentUser::from_request_parts(parts, state).await?;
        let auth = Arc::<Auth>::from_ref(state);
        let user = auth.active_user(&claims).await?;
        Ok(ActiveUser { claims, user, via })
    }
}

/// A permission name known at compile time, for [`Authorized`]. Declare one
/// with [`permission!`](crate::permission).
pub trait PermissionName: Send + Sync + 'static {
    /// The permission, e.g. `delete:posts`.
    const NAME: &'static str;
}

/// An active caller holding permission `P`, both in its token and in its
/// user's current roles (so a lost role takes effect at once); otherwise
/// `403 "Permission '<p>' required"`. A handler taking it cannot forget
/// the check.
///
/// ```no_run
/// use latchkey::http::extract::Authorized;
/// latchkey::permission!(pub DeletePosts = "delete:posts");
///
/// async fn delete_post(caller: Authorized<DeletePosts>) -> String {
///     format!("deleted by {}", caller.user.user.username)
/// }
/// ```
pub struct Authorized<P: PermissionName> {
    /// The caller.
    pub user: ActiveUser,
    _permission: std::marker::PhantomData<P>,
}

impl<P: PermissionName, S> FromRequestParts<S> for Authorized<P>
where
    Arc<Auth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        let user = ActiveUser::from_request_parts(parts, state).await?;
        let held_now = user.user.effective_permissions.iter().any(|p| p == P::NAME);
        if !user.claims.has_permission(P::NAME) || !held_now {
            return Err(AuthError::PermissionRequired(P::NAME.to_string()).into());
        }
        Ok(Authorized {
            user,
            _permission: std::marker::PhantomData,
        })
    }
}

/// Declares a permission type for [`Authorized`]:
/// `latchkey::permission!(pub UsersAdmin = "users:admin");`
#[macro_export]
macro_rules! permission {
    ($vis:vis $name:ident = $permission:literal) => {
        #[doc = concat!("The `", $permission, "` permission.")]
        $vis struct $name;
        impl $crate::http::extract::PermissionName for $name {
            const NAME: &'static str = $permission;
        }
    };
}

/// The caller's address and user agent.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo(pub Client);

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(ClientInfo(Client { ip, user_agent }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use axum::http::HeaderValue;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("header"),
        );
        h
    }

    #[test]
    fn form_and_json_give_the_same_fields() {
        let mut form = Fields::parse(
            &headers("application/x-www-form-urlencoded"),
            b"username=john&password=s%26cret",
        )
        .expect("form");
        assert_eq!(form.required_str("username"), "john");
        assert_eq!(form.required_str("password"), "s&cret");
        assert!(form.finish().is_ok());
        let mut json = Fields::parse(
            &headers("application/json; charset=utf-8"),
            br#"{"username":"john","password":"x"}"#,
        )
        .expect("json");
        assert_eq!(json.required_str("username"), "john");
        assert!(json.finish().is_ok());
    }

    #[test]
    fn missing_and_mistyped_fields_are_listed_fastapi_style() {
        let mut f =
            Fields::parse(&headers("application/json"), br#"{"username": 5}"#).expect("json");
        f.required_str("username");
        f.required_str("password");
        let Err(ApiError::Validation(items)) = f.finish() else {
            panic!("expected a validation error");
        };
        assert_eq!(items[0].kind, "string_type");
        assert_eq!(items[0].loc, vec![json!("body"), json!("username")]);
        assert_eq!(items[1].kind, "missing");
        assert_eq!(items[1].msg, "Field required");
    }

    #[test]
    fn malformed_json_and_non_objects_are_422() {
        for body in [&b"{"[..], b"[1,2]", b"\"x\"", b"nul"] {
            let r = Fields::parse(&headers("application/json"), body);
            assert!(matches!(r, Err(ApiError::Validation(_))), "{body:?}");
        }
    }

    #[test]
    fn nul_characters_are_refused() {
        let mut f = Fields::parse(
            &headers("application/json"),
            br#"{"username": "jo\u0000hn"}"#,
        )
        .expect("json");
        assert_eq!(f.required_str("username"), "");
        let Err(ApiError::Validation(items)) = f.finish() else {
            panic!("expected a validation error");
        };
        assert_eq!(items[0].kind, "string_nul");
    }

    const CONTENT_TYPES: &[&str] = &[
        "application/json",
        "application/x-www-form-urlencoded",
        "APPLICATION/JSON; charset=latin1",
        "application/problem+json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ];

    /// Reads every kind of field the handlers read; the outcome must be
    /// fields or the contract's 422.
    fn read_all(mut f: Fields) -> Result<(), ApiError> {
        let _ = f.required_str("username");
        let _ = f.optional_str("scope");
        let _ = f.nullable_str("email");
        let _ = f.optional_bool("disabled");
        let _ = f.optional_int("limit", 0, 1000);
        let _ = f.optional_str_list("roles");
        f.finish()
    }

    fn is_422(result: Result<(), ApiError>) -> bool {
        match result {
            Ok(()) => true,
            Err(e @ ApiError::Validation(_)) => {
                axum::response::IntoResponse::into_response(e).status() == 422
            }
            Err(_) => false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any body under any content type, with any query string.
        #[test]
        fn any_body_gives_fields_or_a_422(
            content_type in prop_oneof![
                prop::sample::select(CONTENT_TYPES).prop_map(str::to_string),
                "[ -~]{0,40}",
            ],
            body in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..200),
                "\\PC{0,100}".prop_map(String::into_bytes),
                "\\{(\"[a-z_]{1,9}\": ?([0-9.e+-]{1,9}|\"\\PC{0,9}\"|null|true|\\[\\]|\\{\\}), ?){0,4}\\}"
                    .prop_map(String::into_bytes),
                "([a-z_%]{1,9}=[^&]{0,9}&?){0,5}".prop_map(String::into_bytes),
            ],
            query in prop::option::of("\\PC{0,60}"),
        ) {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            let result = Fields::parse(&h, &body).map(|f| f.with_query(query.as_deref()));
            let outcome = result.and_then(read_all);
            prop_assert!(is_422(outcome));
        }

        /// A form and a JSON object with the same values give the same fields.
        #[test]
        fn form_and_json_agree(username in "[^\\x00]{0,30}", password in "[^\\x00]{0,30}") {
            let form = serde_urlencoded::to_string([("username", &username), ("password", &password)])
                .expect("form");
            let mut f = Fields::parse(&headers("application/x-www-form-urlencoded"), form.as_bytes())
                .expect("form parses");
            let body = json!({"username": username, "password": password}).to_string();
            let mut j = Fields::parse(&headers("application/json"), body.as_bytes()).expect("json parses");
            prop_assert_eq!(f.required_str("username"), username.clone());
            prop_assert_eq!(j.required_str("username"), username);
            prop_assert_eq!(f.required_str("password"), password.clone());
            prop_assert_eq!(j.required_str("password"), password);
            prop_assert!(f.finish().is_ok() && j.finish().is_ok());
        }

        /// Any `Authorization`, `Cookie` and CSRF header bytes: a token or
        /// one of the contract's refusals (401 or 403), never a panic.
        #[test]
        fn any_credential_headers_give_a_token_or_a_refusal(
            authorization in prop::option::of(prop::collection::vec(any::<u8>(), 0..80)),
            cookie in prop::option::of("[ -~]{0,80}"),
            csrf in prop::option::of("[ -~]{0,40}"),
            post in any::<bool>(),
        ) {
            let mut request = axum::http::Request::builder()
                .method(if post { Method::POST } else { Method::GET })
                .uri("/users/me");
            for (name, value) in [
                (header::AUTHORIZATION, authorization),
                (header::COOKIE, cookie.map(String::into_bytes)),
                (header::HeaderName::from_static(CSRF_HEADER), csrf.map(String::into_bytes)),
            ] {
                if let Some(v) = value.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
                    request = request.header(name, v);
                }
            }
            let (parts, ()) = request.body(()).expect("request").into_parts();
            match presented_token(&parts) {
                Ok((token, _)) => prop_assert!(!token.is_empty()),
                Err(e) => {
                    let status = axum::response::IntoResponse::into_response(e).status();
                    prop_assert!(status == 401 || status == 403, "{status}");
                }
            }
        }
    }

    #[test]
    fn query_parameters_fill_in_for_the_body() {
        let mut f = Fields::parse(&HeaderMap::new(), b"")
            .expect("empty")
            .with_query(Some("refresh_token=abc"));
        assert_eq!(f.required_str("refresh_token"), "abc");
    }
}
