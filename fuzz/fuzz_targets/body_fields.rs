//! Request-field parsing (JSON, urlencoded form, query string) on hostile
//! input: every outcome is fields or the contract's 422, never a panic.

#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse as _;
use latchkey::http::error::ApiError;
use latchkey::http::extract::Fields;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "application/merge-patch+json",
    "text/plain",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    // Body, then query string, separated by 0xff.
    let mut parts = rest.splitn(2, |b| *b == 0xff);
    let body = parts.next().unwrap_or_default();
    let query = parts.next().map(String::from_utf8_lossy);
    let check = |result: Result<(), ApiError>| {
        if let Err(e) = result {
            assert!(matches!(e, ApiError::Validation(_)), "{e:?}");
            assert_eq!(e.into_response().status(), 422);
        }
    };
    let mut fields = match Fields::parse(&headers, body) {
        Ok(f) => f.with_query(query.as_deref()),
        Err(e) => return check(Err(e)),
    };
    let _ = fields.required_str("username");
    let _ = fields.required_str("password");
    let _ = fields.optional_str("scope");
    let _ = fields.nullable_str("email");
    let _ = fields.optional_bool("disabled");
    let _ = fields.optional_int("limit", 0, 1000);
    let _ = fields.optional_str_list("roles");
    let _ = fields.has("grant_type");
    check(fields.finish());
});
