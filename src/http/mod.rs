//! The HTTP edge: the router, its middleware, and the JSON answers for
//! unknown paths, wrong methods, oversized bodies and panics.

pub mod error;
pub mod extract;
pub mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Auth;
use error::ApiError;
use routes::{admin, meta, sessions, tokens, users};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The auth routes, to merge into an application whose state provides
/// `Arc<Auth>`.
pub fn auth_routes() -> Router<Arc<Auth>> {
    Router::new()
        .route("/token", post(tokens::token))
        .route("/token/refresh", post(tokens::refresh))
        .route("/login/extended", post(tokens::login_extended))
        .route("/login/secure", post(tokens::login_secure))
        .route("/login/multi-device", post(tokens::login_multi_device))
        .route("/logout", post(sessions::logout))
        .route("/logout/all", post(sessions::logout_all))
        .route("/logout/device", post(sessions::logout_device))
        .route("/sessions", get(sessions::sessions))
        .route("/users", post(users::register))
        .route("/users/me", get(users::me))
        .route("/users/me/password", post(users::change_password))
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/.well-known/jwks.json", get(meta::jwks))
        .route("/metrics", get(meta::metrics))
        .route("/admin/audit", get(admin::audit_events))
        .route(
            "/admin/users",
            get(admin::list_users).post(admin::create_user),
        )
        .route(
            "/admin/users/{username}",
            get(admin::show_user)
                .patch(admin::patch_user)
                .delete(admin::delete_user),
        )
        .route("/admin/users/{username}/logout", post(admin::logout_user))
        .route("/admin/roles", get(admin::list_roles))
        .route(
            "/admin/roles/{name}",
            get(admin::show_role)
                .put(admin::put_role)
                .delete(admin::delete_role),
        )
}

/// The whole server's router, with its state and middleware; `extra` routes
/// (an application's own) are served beside the auth routes.
pub fn router(auth: Arc<Auth>, extra: Router<Arc<Auth>>) -> Router {
    let body_limit = auth.settings.max_body_bytes;
    auth_routes()
        .merge(extra)
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(auth)
        .layer(axum::middleware::from_fn(crate::telemetry::track))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            body_limit,
            refuse_announced_overflow,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            panic_response()
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
}

/// A body whose `Content-Length` announces more than the limit is refused
/// at once, instead of being read up to the limit first.
async fn refuse_announced_overflow(
    State(limit): State<usize>,
    request: Request<axum::body::Body>,
    next: Next,
) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match announced {
        Some(n) if n > u64::try_from(limit).unwrap_or(u64::MAX) => {
            ApiError::PayloadTooLarge.into_response()
        }
        _ => next.run(request).await,
    }
}

fn panic_response() -> Response {
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({"detail": "Internal Server Error"})),
    )
        .into_response()
}
