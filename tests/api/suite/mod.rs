//! The areas that run on either database. This directory is compiled twice
//! (see main.rs): as `sqlite` always, as `postgres` when `TEST_DATABASE_URL`
//! was set at build time.

/// The shared helpers, with `spawn_app` bound to this suite's database.
#[allow(dead_code)] // not every area adjusts settings
pub mod helpers {
    pub use crate::helpers::*;

    /// The database of the suite this module was compiled into.
    pub fn backend() -> Backend {
        if module_path!().contains("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// A test server on this suite's database.
    pub async fn spawn_app() -> TestApp {
        spawn_app_on(backend(), |_| {}).await
    }

    /// A test server with adjusted settings.
    pub async fn spawn_app_with(
        configure: impl FnOnce(&mut latchkey::config::Settings),
    ) -> TestApp {
        spawn_app_on(backend(), configure).await
    }
}

mod account;
mod admin;
mod attacks;
mod conventions;
mod cookies;
mod refresh;
mod registration;
mod sessions;
mod standards;
mod tokens;
mod tutorials;
