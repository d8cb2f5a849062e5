//! `latchkey import` and `latchkey role` from the terminal, then the result
//! over HTTP.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;

use crate::helpers::{Backend, spawn_app_on};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/fake_users_db.json"
);

fn latchkey(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .arg("--database-url")
        .arg(database_url)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(
            Path::new(database_url.trim_start_matches("sqlite://"))
                .parent()
                .expect("dir"),
        )
        .output()
        .expect("run latchkey")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

#[tokio::test]
async fn imported_passlib_hashes_log_in_and_are_upgraded_to_argon2id() {
    let app = spawn_app_on(Backend::Sqlite, |_| {}).await;
    let db = app.settings.database_url.clone();

    let out = latchkey(&db, &["import", FIXTURE]);

    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("imported 2 users"),
        "{}",
        text(&out.stdout)
    );
    let hash_before = app
        .auth
        .store
        .user_for_login("johndoe")
        .await
        .expect("store")
        .expect("johndoe")
        .1;
    assert!(hash_before.starts_with("$2b$12$"), "kept as imported");
    let token = app.token("johndoe", "tutorial-secret").await;
    let me = app.me(&token).await;
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.expect("json");
    assert_eq!(me["full_name"], "John Doe");
    let mut upgraded = String::new();
    for _ in 0..100 {
        upgraded = app
            .auth
            .store
            .user_for_login("johndoe")
            .await
            .expect("store")
            .expect("johndoe")
            .1;
        if upgraded.starts_with("$argon2id$") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        upgraded.starts_with("$argon2id$"),
        "rehashed after login: {upgraded}"
    );
    assert_eq!(
        app.post_token("johndoe", "tutorial-secret").await.status(),
        200,
        "still logs in"
    );

    let disabled = app.post_token("alice", "alice-password").await;
    assert_eq!(disabled.status(), 400);
    assert_eq!(
        disabled.json::<serde_json::Value>().await.expect("json"),
        json!({"detail": "Inactive user"})
    );
}

#[tokio::test]
async fn importing_again_reports_and_skips_existing_usernames() {
    let app = spawn_app_on(Backend::Sqlite, |_| {}).await;
    let db = app.settings.database_url.clone();
    assert!(latchkey(&db, &["import", FIXTURE]).status.success());

    let again = latchkey(&db, &["import", FIXTURE]);

    assert!(again.status.success());
    let stdout = text(&again.stdout);
    assert!(stdout.contains("skipped johndoe"), "{stdout}");
    assert!(
        stdout.contains("imported 0 users, skipped 2 existing"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_malformed_import_file_is_refused_with_line_and_column_before_writing() {
    let app = spawn_app_on(Backend::Sqlite, |_| {}).await;
    let db = app.settings.database_url.clone();
    let dir = tempfile::tempdir().expect("dir");
    let cases = [
        (
            "broken.json",
            "{\n  \"a\": {\"username\": \"a\", \"hashed_password\": \"$2b$12$x\"},,\n}",
            "line 2 column",
        ),
        (
            "fake.json",
            r#"{"john2": {"username": "john2", "hashed_password": "fakehashedsecret"}}"#,
            "john2",
        ),
        (
            "type.json",
            r#"{"x": {"username": 5, "hashed_password": "h"}}"#,
            "line 1 column",
        ),
        ("empty.json", "", "line 1 column"),
    ];
    for (name, content, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        let out = latchkey(&db, &["import", path.to_str().expect("utf-8 path")]);
        assert!(!out.status.success(), "{name} must be refused");
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{name}: one line: {stderr}"
        );
    }
    // Two valid users then a bad one: nothing is written.
    let partial = dir.path().join("partial.json");
    let good = "$2b$12$9rZfrZIEqdpNhD4N9OQt7uiopmc59rnHvJLbWIjuIS2NmIeF2Kva2";
    std::fs::write(
        &partial,
        format!(r#"{{"a1": {{"username": "a1", "hashed_password": "{good}"}}, "z9": {{"username": "bad name", "hashed_password": "{good}"}}}}"#),
    )
    .expect("write");
    let out = latchkey(&db, &["import", partial.to_str().expect("path")]);
    assert!(!out.status.success());
    assert!(
        app.auth
            .store
            .user_by_username("a1")
            .await
            .expect("store")
            .is_none(),
        "nothing written"
    );
    let missing = latchkey(&db, &["import", "/nonexistent/users.json"]);
    assert!(!missing.status.success());
}

#[tokio::test]
async fn roles_are_managed_from_the_terminal() {
    let app = spawn_app_on(Backend::Sqlite, |_| {}).await;
    let db = app.settings.database_url.clone();

    let put = latchkey(
        &db,
        &[
            "role",
            "put",
            "editor",
            "--permission",
            "delete:posts",
            "--permission",
            "write:posts",
        ],
    );
    assert!(put.status.success(), "{}", text(&put.stderr));
    let list = latchkey(&db, &["role", "list"]);
    let listed = text(&list.stdout);
    assert!(
        listed.contains("editor: delete:posts write:posts"),
        "{listed}"
    );
    assert!(listed.contains("admin: users:admin"), "{listed}");

    let add = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args([
            "user",
            "add",
            "ed",
            "--role",
            "editor",
            "--password-stdin",
            "--database-url",
            &db,
        ])
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(b"ed-password\n")?;
            child.wait_with_output()
        })
        .expect("user add");
    assert!(add.status.success(), "{}", text(&add.stderr));
    let token = app.token("ed", "ed-password").await;
    let me: serde_json::Value = app.me(&token).await.json().await.expect("json");
    assert_eq!(me["permissions"], json!(["delete:posts", "write:posts"]));

    let bad = latchkey(&db, &["role", "put", "bad name", "--permission", "x"]);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).starts_with("error: "));
    let bad_perm = latchkey(&db, &["role", "put", "ok", "--permission", "not ok"]);
    assert!(!bad_perm.status.success());

    let delete = latchkey(&db, &["role", "delete", "editor"]);
    assert!(delete.status.success());
    let gone = latchkey(&db, &["role", "delete", "editor"]);
    assert!(!gone.status.success(), "deleting a missing role fails");
    assert!(text(&gone.stderr).contains("no such role"));
}
