//! The OpenAPI 3.1 document: its header and security schemes, and the
//! answers every operation of a kind can give (401 where a token is
//! needed, 413 and 422 where a body is read, 503 where a store is asked),
//! added here so that each handler's `#[utoipa::path]` lists only its own.
//!
//! Paths come from the handlers themselves: `utoipa_axum::routes!` registers
//! a route and its entry together (see [`crate::http::api_routes`]).

use utoipa::openapi::path::{HttpMethod, Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes,
    SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Header, OpenApi, Ref, RefOr};
use utoipa::{Modify, OpenApi as _, ToSchema};

use super::schema::{Detail, ValidationError};

/// Name of the OAuth2 password-flow scheme (FastAPI's name for it), whose
/// token URL is `/token`: Swagger UI's Authorize button logs in with it.
pub const OAUTH2: &str = "OAuth2PasswordBearer";
/// Name of the plain bearer-token scheme.
pub const BEARER: &str = "bearer";
/// Name of the `access_token` cookie scheme.
pub const COOKIE: &str = "cookie";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "latchkey",
        description = "JWT authentication server: login, refresh-token rotation, \
            revocation, sessions, roles and permissions. Every error is \
            `{\"detail\": ...}`; validation errors are 422 in FastAPI's shape.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    components(schemas(Detail, ValidationError)),
    tags(
        (name = "tokens", description = "Login and token endpoints"),
        (name = "sessions", description = "Logout and sessions"),
        (name = "users", description = "The caller's account and registration"),
        (name = "admin", description = "Administration (permission `users:admin`)"),
        (name = "standards", description = "OAuth 2.0 and OpenID Connect endpoints"),
        (name = "meta", description = "Health, metrics and this documentation"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scopes = Scopes::from_iter([
            ("users:admin", "Administer users and roles"),
            ("tokens:introspect", "Introspect tokens (RFC 7662)"),
        ]);
        components.add_security_scheme(
            OAUTH2,
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new("/token", scopes))],
                "Username and password at /token; the access token is then sent as a bearer token.",
            )),
        );
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "access_token",
                "Set by POST /login/secure; a state-changing request also needs \
                 header X-CSRF-Token equal to the csrf_token cookie.",
            ))),
        );
    }
}

/// The document's header, components and security schemes, before any path.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

fn detail(description: &str) -> Response {
    json_response(description, Detail::name().as_ref())
}

fn json_response(description: &str, schema: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build(),
        )
        .build()
}

/// Adds to every operation the answers its kind can give, unless its own
/// entry already lists that status.
pub fn finish(mut api: OpenApi) -> OpenApi {
    let unauthorized = {
        let mut r = detail(
            "Not authenticated, token revoked, or could not validate credentials \
             (with `WWW-Authenticate: Bearer`)",
        );
        r.headers.insert(
            "WWW-Authenticate".into(),
            RefOr::T(Header::new(<String as utoipa::PartialSchema>::schema())),
        );
        r
    };
    let common: [(&str, Response); 5] = [
        ("401", unauthorized),
        (
            "403",
            detail(
                "Permission required, or a cookie-authenticated change without a matching X-CSRF-Token",
            ),
        ),
        ("413", detail("Request body too large")),
        (
            "422",
            json_response("Validation error", ValidationError::name().as_ref()),
        ),
        ("503", detail("A store is unavailable; retry")),
    ];
    let components = api.components.get_or_insert_with(Default::default);
    for (name, response) in &common {
        components
            .responses
            .insert(response_name(name).into(), RefOr::T(response.clone()));
    }
    for item in api.paths.paths.values_mut() {
        for (method, op) in operations(item) {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            // A requirement that names scopes is a permission check: 403.
            let needs_permission = op.security.as_ref().is_some_and(|reqs| {
                serde_json::to_value(reqs).is_ok_and(|v| {
                    v.as_array().into_iter().flatten().any(|req| {
                        req.as_object()
                            .into_iter()
                            .flat_map(|m| m.values())
                            .any(|scopes| scopes.as_array().is_some_and(|a| !a.is_empty()))
                    })
                })
            });
            let changes = !matches!(method, HttpMethod::Get | HttpMethod::Head);
            let reads_input = op.request_body.is_some()
                || op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query))
                });
            let mut add = |status: &str| {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(response_name(status))));
            };
            if secured {
                add("401");
                add("503");
                if changes || needs_permission {
                    add("403");
                }
            }
            if op.request_body.is_some() {
                add("413");
                add("503");
            }
            if reads_input {
                add("422");
            }
        }
    }
    api
}

fn response_name(status: &str) -> &'static str {
    match status {
        "401" => "Unauthorized",
        "403" => "Forbidden",
        "413" => "PayloadTooLarge",
        "422" => "ValidationError",
        _ => "Unavailable",
    }
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
        (HttpMethod::Head, item.head.as_mut()),
        (HttpMethod::Options, item.options.as_mut()),
        (HttpMethod::Trace, item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
}
