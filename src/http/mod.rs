//! The HTTP edge: the router, its middleware, and the JSON answers for
//! unknown paths, wrong methods, oversized bodies and panics.

pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;
pub mod schema;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use error::ApiError;
use routes::{admin, docs, meta, sessions, standards, tokens, users};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The auth routes with their OpenAPI entries. `routes!` registers a
/// handler's route and its `#[utoipa::path]` entry together, one call per
/// path (handlers of one path go in the same call), so the document cannot
/// miss a route. A module with several routes may instead offer its own
/// `OpenApiRouter` and be `.merge`d here. A plain `.route()` would serve an
/// undocumented path, and the API tests refuse that.
pub fn api_routes() -> OpenApiRouter<Arc<Auth>> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(tokens::token))
        .routes(routes!(tokens::refresh))
        .routes(routes!(tokens::login_extended))
        .routes(routes!(tokens::login_secure))
        .routes(routes!(tokens::login_multi_device))
        .routes(routes!(sessions::logout))
        .routes(routes!(sessions::logout_all))
        .routes(routes!(sessions::logout_device))
        .routes(routes!(sessions::sessions))
        .routes(routes!(users::register))
        .routes(routes!(users::me))
        .routes(routes!(users::change_password))
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .routes(routes!(meta::jwks))
        .routes(routes!(meta::metrics))
        .routes(routes!(standards::openid_configuration))
        .routes(routes!(standards::revoke))
        .routes(routes!(standards::introspect))
        .routes(routes!(admin::audit_events))
        .routes(routes!(admin::list_users, admin::create_user))
        .routes(routes!(
            admin::show_user,
            admin::patch_user,
            admin::delete_user
        ))
        .routes(routes!(admin::logout_user))
        .routes(routes!(admin::list_roles))
        .routes(routes!(
            admin::show_role,
            admin::put_role,
            admin::delete_role
        ))
        .routes(routes!(docs::openapi_json))
        .routes(routes!(docs::index))
        .routes(routes!(docs::asset))
}

/// The OpenAPI document of [`auth_routes`], as `/openapi.json` serves it.
pub fn openapi() -> OpenApi {
    openapi::finish(api_routes().into_openapi())
}

/// The auth routes (with `/openapi.json` and `/docs`), to merge into an
/// application whose state provides `Arc<Auth>`.
pub fn auth_routes() -> Router<Arc<Auth>> {
    let (router, api) = api_routes().split_for_parts();
    // The account page is HTML for people, outside the JSON API's document.
    router
        .merge(routes::account::routes())
        .layer(Extension(docs::Document(Arc::new(openapi::finish(api)))))
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
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            content_security_policy,
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

/// Swagger UI's page loads its own scripts, styles and icons from /docs/,
/// data: images from its stylesheet, and fetches /openapi.json and /token:
/// nothing from elsewhere, never framed, no inline script. The one inline
/// style its bundle inserts (a fixed `<style>` element) is allowed by hash.
const HTML_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
    img-src 'self' data:; connect-src 'self'; base-uri 'self'; form-action 'self'; \
    frame-ancestors 'none'";
/// Anything else is data, never a document to run or frame.
const DATA_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

fn content_security_policy<B>(response: &Response<B>) -> Option<HeaderValue> {
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    Some(HeaderValue::from_static(if html {
        HTML_POLICY
    } else {
        DATA_POLICY
    }))
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
