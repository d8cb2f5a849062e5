//! The real binary: first start, durability across SIGKILL, graceful stop on
//! SIGTERM, the `user` and `token` commands, and refused configurations.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::ServerProcess as Server;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    cmd
}

fn db_url(dir: &Path) -> String {
    format!("sqlite://{}/latchkey.db", dir.display())
}

fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = command(dir);
    cmd.args(args)
        .args(["--database-url", &db_url(dir)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn latchkey");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

async fn login(url: &str, username: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/token"))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("login")
}

async fn token(url: &str, username: &str, password: &str) -> String {
    let response = login(url, username, password).await;
    assert_eq!(response.status(), 200, "login {username}");
    let body: Value = response.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_string()
}

async fn me(url: &str, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{url}/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn add_user(dir: &Path, username: &str, password: &str) {
    let out = run(
        dir,
        &["user", "add", username, "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    assert!(out.status.success(), "user add: {}", stderr(&out));
}

#[tokio::test]
async fn the_first_start_prints_a_random_admin_password_once() {
    let dir = tempfile::tempdir().expect("dir");
    let first = Server::start(dir.path(), &db_url(dir.path()), &[]);
    let line = first
        .stdout_lines
        .iter()
        .find_map(|l| l.split("admin password: ").nth(1))
        .expect("the admin password is printed")
        .to_string();
    assert!(line.len() >= 16);
    let admin = token(&first.url, "admin", &line).await;
    let (status, body) = me(&first.url, &admin).await;
    assert_eq!(status, 200);
    assert_eq!(body["roles"], json!(["admin"]));
    assert_eq!(body["permissions"], json!(["users:admin"]));
    first.kill();

    let second = Server::start(dir.path(), &db_url(dir.path()), &[]);
    assert!(
        !second
            .stdout_lines
            .iter()
            .any(|l| l.contains("admin password")),
        "printed only on the first start: {:?}",
        second.stdout_lines
    );
}

#[tokio::test]
async fn latchkey_admin_password_chooses_the_first_password_and_is_not_printed() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(
        dir.path(),
        &db_url(dir.path()),
        &[("LATCHKEY_ADMIN_PASSWORD", "chosen-admin-pw")],
    );
    assert!(
        !server
            .stdout_lines
            .iter()
            .any(|l| l.contains("chosen-admin-pw"))
    );
    token(&server.url, "admin", "chosen-admin-pw").await;
}

#[tokio::test]
async fn a_logout_survives_sigkill_and_a_restart_and_other_tokens_keep_working() {
    let dir = tempfile::tempdir().expect("dir");
    add_user(dir.path(), "john", "secret");
    let env = [("LATCHKEY_ADMIN_PASSWORD", "admin-pass-1234")];
    let server = Server::start(dir.path(), &db_url(dir.path()), &env);
    let revoked = token(&server.url, "john", "secret").await;
    let kept = token(&server.url, "john", "secret").await;
    let logout = reqwest::Client::new()
        .post(format!("{}/logout", server.url))
        .bearer_auth(&revoked)
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 200);

    server.kill();
    let restarted = Server::start(dir.path(), &db_url(dir.path()), &env);

    let (status, body) = me(&restarted.url, &revoked).await;
    assert_eq!(
        (status, body),
        (401, json!({"detail": "Token has been revoked"}))
    );
    let (status, body) = me(&restarted.url, &kept).await;
    assert_eq!(status, 200, "the signing key persisted");
    assert_eq!(body["username"], "john");
}

#[tokio::test]
async fn sigterm_stops_the_server_with_exit_code_zero() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server::start(
        dir.path(),
        &db_url(dir.path()),
        &[("LATCHKEY_ADMIN_PASSWORD", "admin-pass-1234")],
    );
    let pid = server.child.id().to_string();

    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn user_commands_manage_accounts_seen_by_the_server() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(
        dir.path(),
        &db_url(dir.path()),
        &[("LATCHKEY_ADMIN_PASSWORD", "admin-pass-1234")],
    );
    let out = run(
        dir.path(),
        &[
            "user",
            "add",
            "mary",
            "--email",
            "mary@example.com",
            "--full-name",
            "Mary M",
            "--permission",
            "read:items",
            "--password-stdin",
        ],
        Some("mary-password\nignored second line\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mary = token(&server.url, "mary", "mary-password").await;
    let (_, body) = me(&server.url, &mary).await;
    assert_eq!(body["full_name"], "Mary M");
    assert_eq!(body["permissions"], json!(["read:items"]));

    let dup = run(
        dir.path(),
        &["user", "add", "MARY", "--password-stdin"],
        Some("x\n"),
    );
    assert!(!dup.status.success());
    assert!(stderr(&dup).starts_with("error: "));
    assert_eq!(stderr(&dup).trim_end().lines().count(), 1);

    let list = run(dir.path(), &["user", "list"], None);
    assert!(String::from_utf8_lossy(&list.stdout).contains("mary@example.com"));
    let show = run(dir.path(), &["user", "show", "mary"], None);
    let shown: Value = serde_json::from_slice(&show.stdout).expect("show prints JSON");
    assert_eq!(shown["username"], "mary");
    assert!(!String::from_utf8_lossy(&show.stdout).contains("argon2"));

    let logout = run(dir.path(), &["user", "logout", "mary"], None);
    assert!(logout.status.success());
    wait_for_status(&server.url, &mary, 401).await;

    let passwd = run(
        dir.path(),
        &["user", "passwd", "mary", "--password-stdin"],
        Some("new-mary-pw\n"),
    );
    assert!(passwd.status.success(), "{}", stderr(&passwd));
    assert_eq!(
        login(&server.url, "mary", "mary-password").await.status(),
        401
    );
    let mary = token(&server.url, "mary", "new-mary-pw").await;

    let disable = run(dir.path(), &["user", "disable", "mary"], None);
    assert!(disable.status.success());
    wait_for_status(&server.url, &mary, 401).await;
    assert_eq!(
        login(&server.url, "mary", "new-mary-pw").await.status(),
        400
    );
    assert!(
        run(dir.path(), &["user", "enable", "mary"], None)
            .status
            .success()
    );
    assert_eq!(
        login(&server.url, "mary", "new-mary-pw").await.status(),
        200
    );

    assert!(
        run(dir.path(), &["user", "delete", "mary"], None)
            .status
            .success()
    );
    assert_eq!(
        login(&server.url, "mary", "new-mary-pw").await.status(),
        401
    );
    for args in [
        &["user", "show", "nobody"][..],
        &["user", "delete", "nobody"],
        &["user", "disable", "nobody"],
    ] {
        let out = run(dir.path(), args, None);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains("no such user"), "{args:?}");
    }
}

/// Another process changed the database: the server learns within its poll.
async fn wait_for_status(url: &str, token: &str, expected: u16) {
    let started = Instant::now();
    loop {
        let (status, _) = me(url, token).await;
        if status == expected {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "expected {expected}, still {status}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn user_add_refuses_bad_input_in_one_line() {
    let dir = tempfile::tempdir().expect("dir");
    let cases: [(&[&str], Option<&str>); 5] = [
        (
            &["user", "add", "bad name", "--password-stdin"],
            Some("pw\n"),
        ),
        (
            &[
                "user",
                "add",
                "ok",
                "--email",
                "not-an-email",
                "--password-stdin",
            ],
            Some("pw\n"),
        ),
        (
            &[
                "user",
                "add",
                "ok",
                "--role",
                "no-such-role",
                "--password-stdin",
            ],
            Some("pw\n"),
        ),
        (&["user", "add", "ok", "--password-stdin"], Some("\n")),
        (&["user", "add", "ok"], None),
    ];
    for (args, input) in cases {
        let out = run(dir.path(), args, input);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
}

#[tokio::test]
async fn token_decode_prints_the_claims_and_the_verdict() {
    let dir = tempfile::tempdir().expect("dir");
    add_user(dir.path(), "john", "secret");
    let server = Server::start(
        dir.path(),
        &db_url(dir.path()),
        &[("LATCHKEY_ADMIN_PASSWORD", "admin-pass-1234")],
    );
    let john = token(&server.url, "john", "secret").await;

    let out = run(dir.path(), &["token", "decode", &john], None);

    assert!(out.status.success(), "{}", stderr(&out));
    let decoded: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(decoded["claims"]["sub"], "john");
    assert_eq!(decoded["header"]["alg"], "EdDSA");
    assert_eq!(decoded["verification"], "valid");
    let garbage = run(dir.path(), &["token", "decode", "not-a-token"], None);
    assert!(!garbage.status.success());
    assert!(stderr(&garbage).starts_with("error: "));
}

#[test]
fn migrate_creates_a_new_database() {
    let dir = tempfile::tempdir().expect("dir");
    let out = run(dir.path(), &["migrate"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("latchkey.db").exists());
}

#[test]
fn bad_settings_stop_with_one_line_naming_them() {
    let dir = tempfile::tempdir().expect("dir");
    let cases: [(&str, &str, &str); 6] = [
        ("SECRET_KEY", "too-short", "SECRET_KEY"),
        ("ALGORITHM", "XYZ", "ALGORITHM"),
        (
            "ACCESS_TOKEN_EXPIRE_MINUTES",
            "abc",
            "ACCESS_TOKEN_EXPIRE_MINUTES",
        ),
        ("DATABASE_URL", "not-a-url", "DATABASE_URL"),
        ("REDIS_URL", "localhost", "REDIS_URL"),
        ("LOGIN_WINDOW", "-1", "LOGIN_WINDOW"),
    ];
    for (key, value, named) in cases {
        let out = command(dir.path())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env(key, value)
            .env(
                "DATABASE_URL",
                if key == "DATABASE_URL" {
                    value.to_string()
                } else {
                    db_url(dir.path())
                },
            )
            .output()
            .expect("run");
        assert!(!out.status.success(), "{key}={value}");
        let err = stderr(&out);
        assert!(
            err.starts_with("error: ") && err.contains(named),
            "{key}={value}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{key}={value}: {err}");
    }
    let toml: PathBuf = dir.path().join("latchkey.toml");
    std::fs::write(&toml, "ACCESS_TOKEN_EXPIRE_MINUTES = \"soon\"\n").expect("write");
    let out = command(dir.path()).args(["migrate"]).output().expect("run");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("latchkey.toml"), "{}", stderr(&out));
}
