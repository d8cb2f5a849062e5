//! Headless Chromium over the account page and the API docs: the scripts in
//! `tests/browser/` drive Debian's `chromium` with `playwright-core`
//! against a test server (plain http, so cookies without `Secure`), and
//! save screenshots under `target/test-output/browser/`.
//!
//! Without node, chromium or `tests/browser/node_modules` (installed by
//! `tests/tools/install.sh`) the tests say they were skipped, and fail
//! when `LATCHKEY_REQUIRE_SERVICES` is set, as in CI.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::USER_AGENT;

use crate::helpers::{Backend, TestApp, client, spawn_app_on};

/// Where the flows save their screenshots.
fn output_dir(flow: &str) -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`: keep the output beside it.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("test-output").join("browser").join(flow)
}

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Why the browser tests cannot run here, if they cannot.
fn missing_tool() -> Option<String> {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node {
        return Some("node is not installed".into());
    }
    if !chromium().exists() {
        return Some(format!("{} is missing", chromium().display()));
    }
    if !scripts_dir().join("node_modules/playwright-core").exists() {
        return Some("tests/browser/node_modules is missing (npm ci)".into());
    }
    None
}

/// True when the test may go on; otherwise says why it was skipped (or
/// fails, when the services are required).
fn tools_present(test: &str) -> bool {
    let Some(reason) = missing_tool() else {
        return true;
    };
    if std::env::var_os("LATCHKEY_REQUIRE_SERVICES").is_some() {
        panic!("LATCHKEY_REQUIRE_SERVICES is set but {reason}: run tests/tools/install.sh");
    }
    println!("skipped: {test}: {reason} (run tests/tools/install.sh)");
    false
}

/// Runs `node tests/browser/<script> <base_url> <outdir>`, asserting success.
async fn run_flow(app: &TestApp, script: &str, flow: &str) -> String {
    let outdir = output_dir(flow);
    let mut command = tokio::process::Command::new("node");
    command
        .arg(scripts_dir().join(script))
        .arg(&app.address)
        .arg(&outdir)
        .env("CHROMIUM_PATH", chromium())
        .kill_on_drop(true);
    // Bounded: a stuck browser fails the test instead of hanging the suite.
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within 180 s"))
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("browser flow passed"), "{stdout}");
    for line in stdout.lines() {
        if let Some(path) = line.strip_prefix("screenshot: ") {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            assert!(size > 1000, "screenshot {path} was written ({size} bytes)");
        }
    }
    stdout
}

/// A test server whose login cookies work over plain http.
async fn spawn() -> TestApp {
    spawn_app_on(Backend::Sqlite, |s| s.cookie_secure = false).await
}

#[tokio::test]
async fn the_account_page_works_in_headless_chromium() {
    if !tools_present("the account page in Chromium") {
        return;
    }
    let app = spawn().await;
    for device in ["Other phone", "Work laptop"] {
        let response = client()
            .post(app.url("/login/multi-device"))
            .header(USER_AGENT, device)
            .form(&[("username", "john"), ("password", "secret")])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 200);
    }

    let stdout = run_flow(&app, "account.mjs", "account").await;

    assert!(stdout.contains("screenshot: "), "{stdout}");
    assert_eq!(
        app.post_token("john", "browser-pass-1").await.status(),
        200,
        "the browser changed the password"
    );
    assert_eq!(app.post_token("john", "secret").await.status(), 401);
}

#[tokio::test]
async fn swagger_ui_authorizes_and_calls_users_me_in_headless_chromium() {
    let app = spawn().await;
    let docs = app.client.get(app.url("/docs")).send().await.expect("docs");
    if docs.status() == 404 {
        println!("skipped: the Swagger UI flow: this build serves no /docs");
        return;
    }
    if !tools_present("the Swagger UI flow") {
        return;
    }

    run_flow(&app, "docs.mjs", "docs").await;
}
