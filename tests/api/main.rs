//! The API test suite: one binary, a module per area.
//!
//! The areas that run on either database (in `suite/`) are compiled twice:
//! `sqlite::...` always, `postgres::...` when `TEST_DATABASE_URL` was set at
//! build time (see build.rs); without it, `postgres_suite` says it was
//! skipped (and fails when `LATCHKEY_REQUIRE_SERVICES` is set, as in CI).

// The suite directory is compiled once per database, on purpose.
#![allow(clippy::duplicate_mod)]

mod browser;
mod cluster;
mod helpers;
mod import;
mod library;
mod oauth2;
mod openapi;
mod process;
mod schema;
mod telemetry;

#[cfg(postgres_tests)]
#[path = "suite/mod.rs"]
mod postgres;
#[path = "suite/mod.rs"]
mod sqlite;

#[cfg(not(postgres_tests))]
#[test]
fn postgres_suite() {
    if std::env::var_os("LATCHKEY_REQUIRE_SERVICES").is_some() {
        panic!(
            "LATCHKEY_REQUIRE_SERVICES is set but TEST_DATABASE_URL was not set when the tests were built"
        );
    }
    println!("skipped: the PostgreSQL suite (set TEST_DATABASE_URL to run it)");
}
