//! The tutorials' demo application on the latchkey library: the auth routes
//! plus `GET /users/me/items`, `DELETE /posts/{post_id}` (needs
//! `delete:posts`) and `GET /protected` (adds `new_token` when the token has
//! under five minutes left).
//!
//! Run: `cargo run --example tutorial_app` (settings as for `latchkey serve`).

use std::sync::Arc;

use axum::extract::Path;
use axum::routing::{delete, get};
use axum::{Json, Router};
use latchkey::auth::Auth;
use latchkey::http::error::ApiResult;
use latchkey::http::extract::{ActiveUser, Authorized};
use serde_json::{Value, json};

latchkey::permission!(pub DeletePosts = "delete:posts");

/// How close to expiry a token gets a replacement from `/protected`.
const ROTATE_BELOW_SECS: i64 = 300;

/// The application's own routes, to serve beside latchkey's.
pub fn routes() -> Router<Arc<Auth>> {
    Router::new()
        .route("/users/me/items", get(read_own_items))
        .route("/posts/{post_id}", delete(delete_post))
        .route("/protected", get(protected))
}

async fn read_own_items(ActiveUser { user, .. }: ActiveUser) -> Json<Value> {
    Json(json!([
        {"item_id": 1, "owner": user.username},
        {"item_id": 2, "owner": user.username},
    ]))
}

async fn delete_post(caller: Authorized<DeletePosts>, Path(post_id): Path<i64>) -> Json<Value> {
    Json(json!({"deleted": post_id, "by": caller.user.user.username}))
}

async fn protected(
    axum::extract::State(auth): axum::extract::State<Arc<Auth>>,
    ActiveUser { user, claims, .. }: ActiveUser,
) -> ApiResult<Json<Value>> {
    let mut body = json!({"user": user.username, "data": "protected data"});
    if claims.exp - latchkey::clock::now() < ROTATE_BELOW_SECS {
        body["new_token"] = json!(auth.reissue(&claims).await?.access_token);
    }
    Ok(Json(body))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = latchkey::config::Settings::load(&Default::default())?;
    latchkey::telemetry::init_logging(settings.log_format);
    let app = latchkey::app::App::build(settings)
        .await?
        .with_routes(routes());
    if let Some(password) = app.initial_admin_password() {
        println!("admin password: {password}");
    }
    println!("tutorial app listening on http://{}", app.local_addr());
    app.run_until_stopped(latchkey::app::stop_signal()).await?;
    Ok(())
}
