//! latchkey: a JWT authentication server and library for axum applications.
//!
//! It serves the login / logout / refresh / protected-endpoint system of
//! FastAPI's JWT tutorials, with durable revocation, rotating refresh tokens
//! with reuse detection, sessions per device, roles and permissions, cookie
//! login with CSRF protection and published signing keys.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = latchkey::config::Settings::load(&Default::default())?;
//! let app = latchkey::app::App::build(settings).await?;
//! println!("listening on {}", app.local_addr());
//! app.run_until_stopped(latchkey::app::stop_signal()).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod app;
pub mod auth;
pub mod broker;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod import;
pub mod password;
pub mod ratelimit;
pub mod revocation;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod user;
pub mod verifier;
