//! A real OAuth 2.0 client library against the server: Python's
//! requests-oauthlib runs `tests/oauth2/password_flow.py` (password grant,
//! refresh grant, `/users/me`, `/revoke`). Skipped with a reason when the
//! module is missing (`tests/tools/install.sh` installs it), and failing
//! then when `LATCHKEY_REQUIRE_SERVICES` is set, as in CI.

use std::path::Path;

use tokio::process::Command;

use crate::helpers::{Backend, spawn_app_on};

/// Why the Python client cannot run here, if it cannot.
async fn missing_client() -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", "import requests_oauthlib, oauthlib, requests"])
        .output()
        .await;
    match probe {
        Err(e) => Some(format!("python3 cannot run ({e})")),
        Ok(out) if !out.status.success() => Some(format!(
            "python module requests-oauthlib is missing (run tests/tools/install.sh): {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Ok(_) => None,
    }
}

#[tokio::test]
async fn requests_oauthlib_logs_in_refreshes_calls_and_revokes() {
    if let Some(why) = missing_client().await {
        if std::env::var_os("LATCHKEY_REQUIRE_SERVICES").is_some() {
            panic!("LATCHKEY_REQUIRE_SERVICES is set but {why}");
        }
        println!("skipped: {why}");
        return;
    }
    let app = spawn_app_on(Backend::Sqlite, |_| {}).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oauth2/password_flow.py");

    let out = Command::new("python3")
        .arg(&script)
        .args([app.address.as_str(), "john", "secret"])
        .output()
        .await
        .expect("run the OAuth2 client");

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the OAuth2 client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all steps passed"), "{stdout}");
}
