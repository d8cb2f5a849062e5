//! Tells the integration tests whether a PostgreSQL server was given
//! (`TEST_DATABASE_URL`), so that the PostgreSQL run of the API suite is
//! compiled only then; without it the suite says it was skipped.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
