//! The API's own documentation: the OpenAPI document at `/openapi.json` and
//! Swagger UI at `/docs`, its files compiled into the binary (the
//! `vendored` build of `utoipa-swagger-ui`: no network at build or run
//! time). Its Authorize button logs in through `/token`.

use std::sync::{Arc, LazyLock};

use axum::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::Config;

use crate::auth::AuthError;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::PathParam;
use crate::http::schema::Detail;

/// The document, shared by every request (built once with the router).
#[derive(Clone)]
pub struct Document(pub Arc<OpenApi>);

static UI_CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::new(["/openapi.json"])
            // Tokens stay in the page's memory, not in localStorage.
            .persist_authorization(false)
            .display_request_duration(true),
    )
});

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get, path = "/openapi.json", tag = "meta", summary = "This OpenAPI document",
    responses((status = 200, description = "OpenAPI 3.1", body = Object))
)]
pub async fn openapi_json(Extension(Document(api)): Extension<Document>) -> Response {
    axum::Json(api.as_ref()).into_response()
}

/// `GET /docs`: Swagger UI.
#[utoipa::path(
    get, path = "/docs", tag = "meta", summary = "Swagger UI",
    responses((status = 200, description = "The Swagger UI page", body = String,
        content_type = "text/html; charset=utf-8"))
)]
pub async fn index() -> ApiResult<Response> {
    file("index.html")
}

/// `GET /docs/{file}`: Swagger UI's scripts, styles and icons.
#[utoipa::path(
    get, path = "/docs/{file}", tag = "meta", summary = "Swagger UI files",
    params(("file" = String, Path, description = "e.g. swagger-ui-bundle.js")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/html; charset=utf-8"),
            (String = "text/css; charset=utf-8"),
            (String = "text/javascript; charset=utf-8"),
            (Vec<u8> = "image/png"),
        )),
        (status = 404, description = "No such file", body = Detail),
    )
)]
pub async fn asset(PathParam(name): PathParam) -> ApiResult<Response> {
    file(&name)
}

fn file(name: &str) -> ApiResult<Response> {
    let content_type = match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("png") => "image/png",
        _ => return Err(ApiError::NotFound),
    };
    let found = utoipa_swagger_ui::serve(name, UI_CONFIG.clone())
        .map_err(|e| AuthError::Internal(format!("swagger ui: {e}")))?
        .ok_or(ApiError::NotFound)?;
    let bytes = if name == "index.html" {
        // `/docs` and `/docs/` are one path here (trailing slashes are
        // trimmed before routing), and the page names its files relatively:
        // a base makes them resolve under /docs/ from either.
        let html = String::from_utf8_lossy(&found.bytes).replacen(
            "<head>",
            "<head>\n    <base href=\"/docs/\">",
            1,
        );
        html.into_bytes()
    } else {
        found.bytes.into_owned()
    };
    let mut response = bytes.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
