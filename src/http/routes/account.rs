//! The account page, `GET /account`: a server-rendered page where a person
//! signs in through the cookie login, sees who they are and their sessions,
//! signs devices out and changes their password.
//!
//! It works without scripts: plain HTML forms, each carrying the CSRF token
//! in a hidden field that the same double-submit check as `X-CSRF-Token`
//! compares with the `csrf_token` cookie (the sign-in form too, against a
//! cookie set before any session exists, so nobody can sign a browser into
//! their own account). Every post answers `303 See Other` back to the page,
//! with a short message carried by a one-minute cookie as a code, never as
//! free text, so nobody can make the page say what they like. Pages carry a
//! strict `Content-Security-Policy`: no script, no inline style, forms only
//! to this origin.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use maud::{DOCTYPE, Markup, html};

use crate::auth::{Auth, AuthError};
use crate::clock::rfc3339;
use crate::config::Secret;
use crate::http::error::ApiError;
use crate::http::extract::{
    ACCESS_COOKIE, CSRF_COOKIE, CSRF_FIELD, ClientInfo, Fields, check_csrf_token,
};
use crate::http::routes::tokens::{
    clear_cookies, csrf_cookie, new_csrf_token, password_grant, set_cookies,
};
use crate::store::{SessionRow, UserRow};
use crate::token::Claims;
use crate::user::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};

/// Where the page lives; every form post comes back here.
const PAGE: &str = "/account";
/// One-minute cookie carrying the code of the message to show once.
const FLASH_COOKIE: &str = "account_flash";
const STYLESHEET: &str = include_str!("account.css");
/// No script at all, styles only from this origin's stylesheet, forms only
/// to this origin, never framed.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The account page's routes, to merge beside the auth routes. A `GET` on
/// a form's address goes back to the page rather than answering 405.
pub fn routes() -> Router<Arc<Auth>> {
    Router::new()
        .route(PAGE, get(page))
        .route("/account/style.css", get(stylesheet))
        .route("/account/login", post(login).get(to_page))
        .route("/account/logout", post(logout).get(to_page))
        .route("/account/logout-device", post(logout_device).get(to_page))
        .route("/account/logout-all", post(logout_all).get(to_page))
        .route("/account/password", post(change_password).get(to_page))
}

/// A message shown once on the page after a form post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flash {
    SignedIn,
    SignedOut,
    DeviceSignedOut,
    AllSignedOut(u64),
    PasswordChanged(u64),
    BadCredentials,
    Inactive,
    RateLimited(u64),
    MissingFields,
    Csrf,
    WrongCurrentPassword,
    PasswordTooShort,
    PasswordTooLong,
    PasswordsDiffer,
    SessionNotFound,
    SessionEnded,
    Unavailable,
}

impl Flash {
    /// The cookie value: a name, and a number for the messages that have one.
    fn code(self) -> String {
        use Flash as F;
        let (name, n) = match self {
            F::SignedIn => ("signed-in", None),
            F::SignedOut => ("signed-out", None),
            F::DeviceSignedOut => ("device-signed-out", None),
            F::AllSignedOut(n) => ("all-signed-out", Some(n)),
            F::PasswordChanged(n) => ("password-changed", Some(n)),
            F::BadCredentials => ("bad-credentials", None),
            F::Inactive => ("inactive", None),
            F::RateLimited(n) => ("rate-limited", Some(n)),
            F::MissingFields => ("missing-fields", None),
            F::Csrf => ("csrf", None),
            F::WrongCurrentPassword => ("wrong-current-password", None),
            F::PasswordTooShort => ("password-too-short", None),
            F::PasswordTooLong => ("password-too-long", None),
            F::PasswordsDiffer => ("passwords-differ", None),
            F::SessionNotFound => ("session-not-found", None),
            F::SessionEnded => ("session-ended", None),
            F::Unavailable => ("unavailable", None),
        };
        match n {
            Some(n) => format!("{name}.{n}"),
            None => name.to_string(),
        }
    }

    /// The message a cookie value names; `None` for anything else.
    fn parse(code: &str) -> Option<Flash> {
        use Flash as F;
        let (name, n) = match code.split_once('.') {
            Some((name, n)) => (name, Some(n.parse::<u64>().ok()?)),
            None => (code, None),
        };
        Some(match (name, n) {
            ("signed-in", None) => F::SignedIn,
            ("signed-out", None) => F::SignedOut,
            ("device-signed-out", None) => F::DeviceSignedOut,
            ("all-signed-out", Some(n)) => F::AllSignedOut(n),
            ("password-changed", Some(n)) => F::PasswordChanged(n),
            ("bad-credentials", None) => F::BadCredentials,
            ("inactive", None) => F::Inactive,
            ("rate-limited", Some(n)) => F::RateLimited(n),
            ("missing-fields", None) => F::MissingFields,
            ("csrf", None) => F::Csrf,
            ("wrong-current-password", None) => F::WrongCurrentPassword,
            ("password-too-short", None) => F::PasswordTooShort,
            ("password-too-long", None) => F::PasswordTooLong,
            ("passwords-differ", None) => F::PasswordsDiffer,
            ("session-not-found", None) => F::SessionNotFound,
            ("session-ended", None) => F::SessionEnded,
            ("unavailable", None) => F::Unavailable,
            _ => return None,
        })
    }

    /// The text shown; the contract's wording where it has one.
    fn text(self) -> String {
        use Flash as F;
        let plural = |n: u64, one: &str, many: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        };
        match self {
            F::SignedIn => "Login successful".into(),
            F::SignedOut => "Successfully logged out".into(),
            F::DeviceSignedOut => "Device logged out".into(),
            F::AllSignedOut(n) => format!(
                "Logged out from all devices ({} ended)",
                plural(n, "session", "sessions")
            ),
            F::PasswordChanged(0) => "Password changed".into(),
            F::PasswordChanged(n) => format!(
                "Password changed; {} signed out",
                plural(n, "other session", "other sessions")
            ),
            F::BadCredentials => "Incorrect username or password".into(),
            F::Inactive => "Inactive user".into(),
            F::RateLimited(secs) => format!(
                "Too many login attempts. Try again in {}.",
                plural(secs.max(1), "second", "seconds")
            ),
            F::MissingFields => "Please fill in every field.".into(),
            F::Csrf => {
                "CSRF token missing or invalid: the form had expired. Please try again.".into()
            }
            F::WrongCurrentPassword => "Incorrect current password".into(),
            F::PasswordTooShort => {
                format!("Password must be at least {MIN_PASSWORD_CHARS} characters")
            }
            F::PasswordTooLong => format!("Password must be at most {MAX_PASSWORD_BYTES} bytes"),
            F::PasswordsDiffer => "The new passwords do not match".into(),
            F::SessionNotFound => "Session not found".into(),
            F::SessionEnded => "Your session has ended. Please sign in again.".into(),
            F::Unavailable => "Service temporarily unavailable. Please try again.".into(),
        }
    }

    fn is_error(self) -> bool {
        !matches!(
            self,
            Flash::SignedIn
                | Flash::SignedOut
                | Flash::DeviceSignedOut
                | Flash::AllSignedOut(_)
                | Flash::PasswordChanged(_)
        )
    }

    /// The message for a refused request.
    fn for_error(error: &ApiError) -> Flash {
        use AuthError as A;
        match error {
            ApiError::Csrf => Flash::Csrf,
            ApiError::Validation(_) => Flash::MissingFields,
            ApiError::Auth(e) => match e {
                A::BadCredentials => Flash::BadCredentials,
                A::Inactive => Flash::Inactive,
                A::RateLimited(secs) => Flash::RateLimited(*secs),
                A::NotAuthenticated | A::Revoked | A::InvalidToken(_) => Flash::SessionEnded,
                A::BadRequest(_) => Flash::WrongCurrentPassword,
                A::NotFound(_) => Flash::SessionNotFound,
                A::Internal(cause) => {
                    tracing::error!(%cause, "internal error on the account page");
                    Flash::Unavailable
                }
                A::Unavailable(cause) => {
                    tracing::warn!(%cause, "store unavailable on the account page");
                    Flash::Unavailable
                }
                _ => Flash::Unavailable,
            },
            _ => Flash::Unavailable,
        }
    }
}

/// `303 See Other` to the page, showing `flash` once.
fn back(auth: &Auth, jar: CookieJar, flash: Flash) -> Response {
    let cookie = Cookie::build((FLASH_COOKIE, flash.code()))
        .http_only(true)
        .secure(auth.settings.cookie_secure)
        .same_site(SameSite::Lax)
        .path(PAGE)
        .max_age(time::Duration::minutes(1));
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, PAGE)],
        jar.add(cookie),
    )
        .into_response();
    no_store(&mut response);
    response
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// An HTML answer with the page's headers.
fn html_response(status: StatusCode, jar: CookieJar, markup: Markup) -> Response {
    let mut response = (status, jar, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    no_store(&mut response);
    response
}

/// A form post of the page: its fields, once its hidden CSRF field matched
/// the `csrf_token` cookie. A body over the limit answers an HTML 413;
/// any other refusal goes back to the page with its message.
struct PageForm {
    jar: CookieJar,
    fields: Fields,
}

impl FromRequest<Arc<Auth>> for PageForm {
    type Rejection = Response;

    async fn from_request(req: Request, auth: &Arc<Auth>) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let jar = CookieJar::from_headers(&headers);
        // The body alone, never the query string: a form's hidden fields
        // do not belong in a URL, which logs and histories keep.
        let body = match Bytes::from_request(req, auth).await {
            Ok(body) => body,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large(jar));
            }
            Err(_) => return Err(back(auth, jar, Flash::MissingFields)),
        };
        let mut fields = match Fields::parse(&headers, &body) {
            Ok(fields) => fields,
            Err(e) => return Err(back(auth, jar, Flash::for_error(&e))),
        };
        let given = fields.optional_str(CSRF_FIELD).unwrap_or_default();
        if let Err(e) = check_csrf_token(&jar, given.as_bytes()) {
            return Err(back(auth, jar, Flash::for_error(&e)));
        }
        Ok(PageForm { jar, fields })
    }
}

fn too_large(jar: CookieJar) -> Response {
    let page = layout(html! {
        section.card {
            h2 { "Request body too large" }
            p { "The form sent was larger than this server accepts." }
            p { a href=(PAGE) { "Back to your account" } }
        }
    });
    html_response(StatusCode::PAYLOAD_TOO_LARGE, jar, page)
}

/// The claims of the access cookie, if one was presented and is valid.
async fn cookie_claims(auth: &Auth, jar: &CookieJar) -> Result<Option<Claims>, AuthError> {
    let Some(token) = jar
        .get(ACCESS_COOKIE)
        .map(|c| c.value())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    auth.authenticate(token).await.map(Some)
}

/// The signed-in, active user behind the access cookie.
async fn signed_in(auth: &Auth, jar: &CookieJar) -> Result<(Claims, Arc<UserRow>), AuthError> {
    let claims = cookie_claims(auth, jar)
        .await?
        .ok_or(AuthError::NotAuthenticated)?;
    let user = auth.active_user(&claims).await?;
    Ok((claims, user))
}

/// The CSRF token the page's forms carry: the cookie's when it looks like
/// one this server made, else a fresh one set as the cookie.
fn page_csrf(auth: &Auth, jar: CookieJar) -> (CookieJar, String) {
    let current = jar
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    match current {
        Some(token) => (jar, token),
        None => {
            let token = new_csrf_token();
            let age = time::Duration::seconds(auth.settings.refresh_ttl_secs());
            let cookie = csrf_cookie(token.clone(), auth.settings.cookie_secure, age);
            (jar.add(cookie), token)
        }
    }
}

/// `GET /account`: the sign-in form, or the signed-in person's account.
async fn page(State(auth): State<Arc<Auth>>, jar: CookieJar) -> Response {
    let mut flash = jar.get(FLASH_COOKIE).and_then(|c| Flash::parse(c.value()));
    let jar = if jar.get(FLASH_COOKIE).is_some() {
        jar.remove(Cookie::build(FLASH_COOKIE).path(PAGE))
    } else {
        jar
    };
    let (jar, csrf) = page_csrf(&auth, jar);
    let had_cookie = jar
        .get(ACCESS_COOKIE)
        .is_some_and(|c| !c.value().is_empty());
    let signed = match signed_in(&auth, &jar).await {
        Ok((claims, user)) => match auth.sessions(user.id).await {
            Ok(sessions) => Ok((claims, user, sessions)),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match signed {
        Ok((claims, user, sessions)) => {
            let view = account_view(&user, &sessions, &claims.sid, &csrf, flash);
            html_response(StatusCode::OK, jar, layout(view))
        }
        Err(AuthError::Unavailable(cause)) => {
            tracing::warn!(%cause, "store unavailable on the account page");
            let view = sign_in_view(&csrf, Some(Flash::Unavailable));
            html_response(StatusCode::SERVICE_UNAVAILABLE, jar, layout(view))
        }
        Err(e) => {
            if let AuthError::Internal(cause) = &e {
                tracing::error!(%cause, "internal error on the account page");
            }
            if flash.is_none() && had_cookie {
                flash = Some(match e {
                    AuthError::Inactive => Flash::Inactive,
                    _ => Flash::SessionEnded,
                });
            }
            html_response(StatusCode::OK, jar, layout(sign_in_view(&csrf, flash)))
        }
    }
}

/// `GET /account/style.css`: the page's stylesheet, from the binary.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// `GET` on a form's address: back to the page.
async fn to_page() -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, PAGE)]).into_response();
    no_store(&mut response);
    response
}

/// `POST /account/login`: the cookie login of `POST /login/secure`.
async fn login(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    PageForm { jar, mut fields }: PageForm,
) -> Response {
    match password_grant(&auth, &mut fields, &client).await {
        Ok(issued) => back(&auth, set_cookies(jar, &auth, &issued), Flash::SignedIn),
        Err(e) => back(&auth, jar, Flash::for_error(&e)),
    }
}

/// `POST /account/logout`: ends this session and clears the cookies.
async fn logout(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    PageForm { jar, .. }: PageForm,
) -> Response {
    let secure = auth.settings.cookie_secure;
    match cookie_claims(&auth, &jar).await {
        Ok(Some(claims)) => match auth.logout(&claims, &client.0).await {
            Ok(()) => back(&auth, clear_cookies(jar, secure), Flash::SignedOut),
            Err(e) => back(&auth, jar, Flash::for_error(&e.into())),
        },
        // Nothing (left) to end: the cookies go all the same.
        Ok(None)
        | Err(AuthError::NotAuthenticated | AuthError::Revoked | AuthError::InvalidToken(_)) => {
            back(&auth, clear_cookies(jar, secure), Flash::SignedOut)
        }
        Err(e) => back(&auth, jar, Flash::for_error(&e.into())),
    }
}

/// `POST /account/logout-device`: ends one of the person's other sessions.
async fn logout_device(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    PageForm { jar, mut fields }: PageForm,
) -> Response {
    let session_id = fields.required_str("session_id");
    if let Err(e) = fields.finish() {
        return back(&auth, jar, Flash::for_error(&e));
    }
    let done = match signed_in(&auth, &jar).await {
        Ok((claims, _)) => auth.logout_device(&claims, &session_id, &client.0).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => back(&auth, jar, Flash::DeviceSignedOut),
        Err(e) => back(&auth, jar, Flash::for_error(&e.into())),
    }
}

/// `POST /account/logout-all`: ends every session of the person, this one too.
async fn logout_all(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    PageForm { jar, .. }: PageForm,
) -> Response {
    let done = match cookie_claims(&auth, &jar).await {
        Ok(Some(claims)) => auth.logout_all(&claims, &client.0).await,
        Ok(None) => Err(AuthError::NotAuthenticated),
        Err(e) => Err(e),
    };
    match done {
        Ok(n) => {
            let jar = clear_cookies(jar, auth.settings.cookie_secure);
            back(&auth, jar, Flash::AllSignedOut(n as u64))
        }
        Err(e) => back(&auth, jar, Flash::for_error(&e.into())),
    }
}

/// `POST /account/password`: current password, new one twice; the other
/// sessions end, this one stays.
async fn change_password(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    PageForm { jar, mut fields }: PageForm,
) -> Response {
    let current = fields.required_str("current_password");
    let new = fields.required_str("new_password");
    let confirm = fields.required_str("confirm_password");
    if let Err(e) = fields.finish() {
        return back(&auth, jar, Flash::for_error(&e));
    }
    let claims = match signed_in(&auth, &jar).await {
        Ok((claims, _)) => claims,
        Err(e) => return back(&auth, jar, Flash::for_error(&e.into())),
    };
    if new != confirm {
        return back(&auth, jar, Flash::PasswordsDiffer);
    }
    let too_short = new.chars().count() < MIN_PASSWORD_CHARS;
    match auth
        .change_password(&claims, Secret::new(current), Secret::new(new), &client.0)
        .await
    {
        Ok(n) => back(&auth, jar, Flash::PasswordChanged(n as u64)),
        Err(AuthError::Invalid(..)) if too_short => back(&auth, jar, Flash::PasswordTooShort),
        Err(AuthError::Invalid(..)) => back(&auth, jar, Flash::PasswordTooLong),
        Err(e) => back(&auth, jar, Flash::for_error(&e.into())),
    }
}

/// The page around `content`.
fn layout(content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { "Your account · latchkey" }
                link rel="stylesheet" href="/account/style.css";
            }
            body {
                header.top {
                    div.bar { span.brand { "latchkey" } span.where { "Account" } }
                }
                main.wrap { (content) }
            }
        }
    }
}

fn flash_view(flash: Option<Flash>) -> Markup {
    html! {
        @if let Some(flash) = flash {
            @if flash.is_error() {
                p.flash.error role="alert" { (flash.text()) }
            } @else {
                p.flash.ok role="status" { (flash.text()) }
            }
        }
    }
}

fn csrf_input(csrf: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(csrf); }
}

fn sign_in_view(csrf: &str, flash: Option<Flash>) -> Markup {
    html! {
        h1 { "Sign in" }
        (flash_view(flash))
        section.card aria-labelledby="sign-in-title" {
            h2 #sign-in-title { "Sign in to your account" }
            form.stack method="post" action="/account/login" {
                (csrf_input(csrf))
                label for="username" { "Username or email" }
                input #username type="text" name="username" autocomplete="username"
                    autocapitalize="none" spellcheck="false" required;
                label for="password" { "Password" }
                input #password type="password" name="password"
                    autocomplete="current-password" required;
                button.primary type="submit" { "Sign in" }
            }
        }
    }
}

/// Unix seconds as readable UTC, inside a machine-readable `<time>`.
fn when(secs: i64) -> Markup {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let shown = time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default();
    html! { time datetime=(rfc3339(secs)) { (shown) } }
}

fn account_view(
    user: &UserRow,
    sessions: &[SessionRow],
    current_sid: &str,
    csrf: &str,
    flash: Option<Flash>,
) -> Markup {
    let mut sessions: Vec<&SessionRow> = sessions.iter().collect();
    // This device first, then the most recently used.
    sessions.sort_by_key(|s| (s.id != current_sid, std::cmp::Reverse(s.last_used_at)));
    let none = html! { span.muted { "none" } };
    html! {
        h1 { "Your account" }
        (flash_view(flash))
        section.card aria-labelledby="profile-title" {
            h2 #profile-title { "Profile" }
            dl.facts {
                dt { "Username" } dd #profile-username { (user.username) }
                dt { "Email" }
                dd { @if let Some(email) = &user.email { (email) } @else { (none) } }
                dt { "Full name" }
                dd { @if let Some(name) = &user.full_name { (name) } @else { (none) } }
                dt { "Roles" }
                dd {
                    @if user.roles.is_empty() { (none) } @else {
                        ul.tags { @for role in &user.roles { li { (role) } } }
                    }
                }
            }
            form method="post" action="/account/logout" {
                (csrf_input(csrf))
                button type="submit" { "Sign out" }
            }
        }
        section.card aria-labelledby="sessions-title" {
            h2 #sessions-title { "Sessions" }
            p.muted { "Each device you signed in on. Signing one out ends it at once." }
            ul.sessions {
                @for (i, s) in sessions.iter().enumerate() {
                    @let current = s.id == current_sid;
                    @let device_id = format!("device-{i}");
                    li.session.current[current] data-session-id=(s.id) {
                        div.session-head {
                            span.device id=(device_id) {
                                (s.user_agent.as_deref().unwrap_or("Unknown device"))
                            }
                            @if current { span.badge { "This device" } }
                        }
                        dl.facts.small {
                            dt { "IP address" }
                            dd { (s.ip.as_deref().unwrap_or("unknown")) }
                            dt { "Last used" } dd { (when(s.last_used_at)) }
                            dt { "Signed in" } dd { (when(s.created_at)) }
                        }
                        @if current {
                            form method="post" action="/account/logout" {
                                (csrf_input(csrf))
                                button type="submit" { "Sign out" }
                            }
                        } @else {
                            form method="post" action="/account/logout-device" {
                                (csrf_input(csrf))
                                input type="hidden" name="session_id" value=(s.id);
                                button type="submit" aria-describedby=(device_id) {
                                    "Sign out this device"
                                }
                            }
                        }
                    }
                }
            }
            form method="post" action="/account/logout-all" {
                (csrf_input(csrf))
                button.danger type="submit" { "Sign out everywhere" }
            }
        }
        section.card aria-labelledby="password-title" {
            h2 #password-title { "Change password" }
            form.stack method="post" action="/account/password" {
                (csrf_input(csrf))
                input type="text" name="username" value=(user.username)
                    autocomplete="username" hidden;
                label for="current_password" { "Current password" }
                input #current_password type="password" name="current_password"
                    autocomplete="current-password" required;
                label for="new_password" { "New password" }
                input #new_password type="password" name="new_password"
                    autocomplete="new-password" minlength=(MIN_PASSWORD_CHARS)
                    aria-describedby="password-rules" required;
                p.hint #password-rules {
                    "At least " (MIN_PASSWORD_CHARS) " characters. Your other sessions are signed out."
                }
                label for="confirm_password" { "New password again" }
                input #confirm_password type="password" name="confirm_password"
                    autocomplete="new-password" minlength=(MIN_PASSWORD_CHARS) required;
                button.primary type="submit" { "Change password" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flash_code_reads_back_as_itself() {
        use Flash as F;
        for flash in [
            F::SignedIn,
            F::SignedOut,
            F::DeviceSignedOut,
            F::AllSignedOut(3),
            F::PasswordChanged(0),
            F::BadCredentials,
            F::Inactive,
            F::RateLimited(42),
            F::MissingFields,
            F::Csrf,
            F::WrongCurrentPassword,
            F::PasswordTooShort,
            F::PasswordTooLong,
            F::PasswordsDiffer,
            F::SessionNotFound,
            F::SessionEnded,
            F::Unavailable,
        ] {
            assert_eq!(F::parse(&flash.code()), Some(flash), "{}", flash.code());
        }
    }

    #[test]
    fn unknown_or_malformed_flash_codes_show_nothing() {
        for code in [
            "",
            "hello",
            "rate-limited",
            "rate-limited.x",
            "signed-in.1",
            "<b>",
        ] {
            assert_eq!(Flash::parse(code), None, "{code}");
        }
    }

    #[test]
    fn user_text_is_escaped_in_the_page() {
        let user = UserRow {
            id: 1,
            username: "john".into(),
            email: Some("a\"b@example.com".into()),
            full_name: Some("<script>alert(1)</script>".into()),
            disabled: false,
            roles: vec!["<i>r</i>".into()],
            permissions: vec![],
            effective_permissions: vec![],
            created_at: 0,
            updated_at: 0,
        };
        let session = SessionRow {
            id: "s1\"><x".into(),
            user_id: 1,
            user_agent: Some("<img src=x onerror=alert(1)>".into()),
            ip: Some("127.0.0.1".into()),
            created_at: 0,
            last_used_at: 0,
            expires_at: 0,
            scope: None,
            revoked_at: None,
        };
        let page = account_view(&user, &[session], "other", "tok", None).into_string();
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<img"));
        assert!(!page.contains("<i>r"));
        assert!(!page.contains("s1\"><x"));
        assert!(page.contains("s1&quot;&gt;&lt;x"));
    }

    #[test]
    fn times_read_as_utc() {
        let shown = when(86_400 + 3_660).into_string();
        assert_eq!(
            shown,
            "<time datetime=\"1970-01-02T01:01:00Z\">1970-01-02 01:01 UTC</time>"
        );
    }
}
