//! Schema-driven testing: schemathesis generates requests from the live
//! server's `/openapi.json`, without a token, with a user's and with the
//! admin's, and fails on any 5xx, any answer that does not match the
//! documented schema, and any status code the document does not list.
//!
//! schemathesis comes from PyPI (`tests/tools/install.sh`); without it this
//! test says it was skipped, unless `LATCHKEY_REQUIRE_SERVICES` is set.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, ServerProcess};

/// Test cases per operation and phase: enough to reach every documented
/// answer, small enough for a 2-core CI machine.
const MAX_EXAMPLES: &str = "25";
/// A fixed seed, so that a failure found in CI can be replayed.
const SEED: &str = "20261202";

/// Whether `python3 -m schemathesis.cli` can run (a PATH lookup would miss
/// the script of a fresh pip install behind pyenv's shims).
fn schemathesis() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import schemathesis.cli"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("LATCHKEY_REQUIRE_SERVICES").is_none(),
            "LATCHKEY_REQUIRE_SERVICES is set but schemathesis is not installed (tests/tools/install.sh)"
        );
        println!("skipped: schemathesis is not installed (tests/tools/install.sh)");
    }
    found
}

async fn access_token(
    http: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
) -> String {
    let response = http
        .post(format!("{base}/token"))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200, "login {username}");
    let body: Value = response.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_string()
}

/// Runs schemathesis against `base`, with `header` on every request; returns
/// its exit status and output.
async fn run(base: &str, header: Option<&str>, report: &Path) -> (bool, String) {
    let mut cmd = tokio::process::Command::new("python3");
    cmd.args(["-m", "schemathesis.cli", "run"])
        .arg(format!("{base}/openapi.json"))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            SEED,
            "--workers",
            "2",
            "--request-timeout",
            "5",
            "--suppress-health-check",
            "all",
            "--continue-on-failure",
            "--report",
            "junit",
            "--report-dir",
        ])
        .arg(report)
        .kill_on_drop(true);
    if let Some(h) = header {
        // The logouts would end the token's session and leave the rest of
        // the run unauthenticated; they run in the anonymous pass.
        cmd.args(["--header", h, "--exclude-path-regex", "/logout"]);
    }
    let out = tokio::time::timeout(Duration::from_secs(600), cmd.output())
        .await
        .expect("schemathesis finishes within 10 minutes")
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn the_live_openapi_document_holds_for_generated_requests_with_and_without_a_token() {
    if !schemathesis() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/latchkey.db", dir.path().display());
    // Generous login limits: schemathesis sends many failed logins, and a
    // 429 (documented) would hide the answers behind it.
    let server = ServerProcess::start(
        dir.path(),
        &db,
        &[
            ("LATCHKEY_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("LOGIN_MAX_FAILURES", "100000"),
            ("LOGIN_MAX_FAILURES_PER_IP", "100000"),
            ("RUST_LOG", "error"),
        ],
    );
    let http = reqwest::Client::new();
    let base = server.url.clone();
    let created = http
        .post(format!("{base}/users"))
        .json(&json!({"username": "schema", "password": "schema-password"}))
        .send()
        .await
        .expect("register");
    assert_eq!(created.status(), 201);
    let token = access_token(&http, &base, "schema", "schema-password").await;
    let reports = Path::new(env!("CARGO_TARGET_TMPDIR")).join("schemathesis");

    let (anonymous_ok, anonymous) = run(&base, None, &reports.join("anonymous")).await;
    let bearer = format!("Authorization: Bearer {token}");
    let (user_ok, user) = run(&base, Some(&bearer), &reports.join("user")).await;
    let admin = access_token(&http, &base, "admin", ADMIN_PASSWORD).await;
    let bearer = format!("Authorization: Bearer {admin}");
    let (admin_ok, admin) = run(&base, Some(&bearer), &reports.join("admin")).await;

    println!("--- without a token ---\n{anonymous}\n--- with a user's token ---\n{user}");
    println!("--- with the admin's token ---\n{admin}");
    assert!(
        anonymous_ok,
        "schemathesis without a token failed:\n{anonymous}"
    );
    assert!(user_ok, "schemathesis with a user's token failed:\n{user}");
    assert!(
        admin_ok,
        "schemathesis with the admin's token failed:\n{admin}"
    );
    // The server survived it all.
    let health = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
}
