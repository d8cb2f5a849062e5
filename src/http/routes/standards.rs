//! OAuth 2.0 and OpenID Connect endpoints: discovery
//! (`/.well-known/openid-configuration`), token revocation (RFC 7009,
//! `POST /revoke`) and token introspection (RFC 7662, `POST /introspect`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::{Auth, Introspected};
use crate::http::error::ApiResult;
use crate::http::extract::{Authorized, Body, ClientInfo};
use crate::http::routes::tokens::no_store;
use crate::http::schema::{Detail, Introspection, OpenIdConfiguration, TokenForm};
use crate::token::keys;

crate::permission!(pub TokensIntrospect = "tokens:introspect");

/// The base URL endpoints are published under.
///
/// When `ISSUER` is a URL it is the public address the operator chose (the
/// contract says to set it so for discovery), and it is used as is: a
/// `Host` header cannot then redirect clients elsewhere. Otherwise the only
/// thing known is how this client reached us, so the `Host` it sent (checked
/// to be a bare authority) is used, with `https` only when a proxy says so;
/// without a usable `Host`, the bound address.
fn base_url(auth: &Auth, headers: &HeaderMap) -> String {
    let issuer = auth.settings.issuer.trim_end_matches('/');
    if issuer.starts_with("https://") || issuer.starts_with("http://") {
        return issuer.to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.parse::<Authority>().ok())
        .filter(|a| !a.as_str().contains('@'))
        .map(|a| a.to_string())
        .unwrap_or_else(|| auth.settings.bind.to_string());
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// `GET /.well-known/openid-configuration`: where the endpoints are and
/// what they support (OpenID Connect Discovery 1.0, RFC 8414).
#[utoipa::path(
    get, path = "/.well-known/openid-configuration", tag = "standards",
    summary = "OpenID Connect discovery",
    responses((status = 200, description = "Server metadata", body = OpenIdConfiguration))
)]
pub async fn openid_configuration(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    let base = base_url(&auth, &headers);
    let alg = keys::algorithm_name(keys::algorithm(&auth.settings));
    let mut response = Json(json!({
        // The `iss` tokens carry, so that a client comparing the two agrees.
        "issuer": auth.settings.issuer,
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "userinfo_endpoint": format!("{base}/users/me"),
        "revocation_endpoint": format!("{base}/revoke"),
        "introspection_endpoint": format!("{base}/introspect"),
        "grant_types_supported": ["password", "refresh_token"],
        // There is no authorization endpoint, so no response type.
        "response_types_supported": ["none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [alg],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "claims_supported": [
            "sub", "user_id", "sid", "jti", "iat", "nbf", "exp", "iss", "aud",
            "roles", "permissions", "scope"
        ],
    }))
    .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `POST /revoke` (RFC 7009): form `token` (an access or a refresh token),
/// optional `token_type_hint`. Answers 200 for any token, known or not; its
/// session is revoked. A request without `token` is malformed, and is
/// answered as every malformed request here is: 422 with the field named
/// (RFC 7009 would say 400 `invalid_request`; the contract's validation
/// shape wins, as it does for `/token`).
#[utoipa::path(
    post, path = "/revoke", tag = "standards",
    summary = "Revoke a token's session (RFC 7009)",
    request_body(content(
        (TokenForm = "application/x-www-form-urlencoded"),
        (TokenForm = "application/json"),
    )),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke", body = Object,
            headers(("Cache-Control" = String, description = "no-store"))),
    )
)]
pub async fn revoke(
    State(auth): State<Arc<Auth>>,
    client: ClientInfo,
    Body(mut fields): Body,
) -> ApiResult<Response> {
    let token = fields.required_str("token");
    // A hint only: the token is looked for wherever it may be.
    let _hint = fields.optional_str("token_type_hint");
    fields.finish()?;
    auth.revoke_token(&token, &client.0).await?;
    Ok(no_store(Json(json!({})).into_response()))
}

/// `POST /introspect` (RFC 7662): form `token`; the caller needs a bearer
/// token with permission `tokens:introspect`.
#[utoipa::path(
    post, path = "/introspect", tag = "standards",
    summary = "Introspect a token (RFC 7662)",
    security(("OAuth2PasswordBearer" = ["tokens:introspect"]), ("bearer" = []), ("cookie" = [])),
    request_body(content(
        (TokenForm = "application/x-www-form-urlencoded"),
        (TokenForm = "application/json"),
    )),
    responses(
        (status = 200, description = "`{\"active\": false}` or the token's details", body = Introspection,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "Inactive user", body = Detail),
    )
)]
pub async fn introspect(
    State(auth): State<Arc<Auth>>,
    _: Authorized<TokensIntrospect>,
    Body(mut fields): Body,
) -> ApiResult<Response> {
    let token = fields.required_str("token");
    let _hint = fields.optional_str("token_type_hint");
    fields.finish()?;
    let body = match auth.introspect(&token).await? {
        None => json!({"active": false}),
        Some(found) => introspection_json(found),
    };
    Ok(no_store(Json(body).into_response()))
}

fn introspection_json(found: Introspected) -> Value {
    match found {
        Introspected::Access(c) => {
            let mut v = json!({
                "active": true,
                "sub": c.sub,
                "username": c.sub,
                "user_id": c.user_id,
                "exp": c.exp,
                "iat": c.iat,
                "nbf": c.nbf,
                "scope": c.scope,
                "token_type": "bearer",
                "token_use": "access_token",
                "jti": c.jti,
                "sid": c.sid,
                "iss": c.iss,
                "roles": c.roles,
                "permissions": c.permissions,
            });
            if let Some(aud) = c.aud {
                v["aud"] = json!(aud);
            }
            v
        }
        Introspected::Refresh {
            username,
            user_id,
            session_id,
            expires_at,
            roles,
            permissions,
        } => json!({
            "active": true,
            "sub": username,
            "username": username,
            "user_id": user_id,
            "exp": expires_at,
            "scope": permissions.join(" "),
            "token_use": "refresh_token",
            "sid": session_id,
            "roles": roles,
            "permissions": permissions,
        }),
    }
}
