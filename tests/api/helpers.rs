//! The test world: every test gets its own server on a random 127.0.0.1
//! port, over a fresh database (a SQLite file in a temp dir, or a fresh
//! PostgreSQL database dropped afterwards), with user `john` / `secret` and
//! `admin` / [`ADMIN_PASSWORD`], and an HTTP client that keeps cookies.

#![allow(dead_code)] // each area uses a different subset of the helpers

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey::app::{App, NewUser};
use latchkey::auth::Auth;
use latchkey::config::{Secret, Settings};
use serde_json::Value;

/// Password of the `admin` user every test server starts with.
pub const ADMIN_PASSWORD: &str = "admin-pass-1234";

/// Which database a suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temp dir.
    Sqlite,
    /// A fresh database on `TEST_DATABASE_URL`.
    Postgres,
}

/// A fresh PostgreSQL database, dropped with this value.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    /// URL of the new database.
    pub url: String,
}

impl PgDatabase {
    /// Creates `t_<random>` on the server of `TEST_DATABASE_URL`.
    pub async fn create() -> PgDatabase {
        use sqlx::Connection;
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .expect("TEST_DATABASE_URL is set for the PostgreSQL suite");
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(&admin_url);
        PgDatabase {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop cannot await: a short-lived runtime on its own thread does it.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(statement))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A running test server.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// Cookie-keeping client.
    pub client: reqwest::Client,
    /// The service behind the server (to arrange state directly).
    pub auth: Arc<Auth>,
    /// The settings the server runs with.
    pub settings: Settings,
    /// Which database it runs on.
    pub backend: Backend,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        latchkey::telemetry::init_logging(latchkey::config::LogFormat::Text);
    }
}

/// Starts a server on `backend` with the settings `configure` adjusts.
pub async fn spawn_app_on(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_logs();
    let dir = tempfile::tempdir().expect("temp dir");
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await),
    };
    let database_url = match &pg {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}/latchkey.db", dir.path().display()),
    };
    let mut settings = Settings {
        database_url,
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        admin_password: Some(Secret::new(ADMIN_PASSWORD.into())),
        ..Settings::default()
    };
    configure(&mut settings);
    start(settings, backend, dir, pg).await
}

/// Starts (or restarts) a server with exactly these settings.
async fn start(
    settings: Settings,
    backend: Backend,
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
) -> TestApp {
    let app = App::build(settings.clone())
        .await
        .expect("test server builds");
    if app
        .auth()
        .store
        .user_by_username("john")
        .await
        .ok()
        .flatten()
        .is_none()
    {
        app.create_user(NewUser {
            username: "john".into(),
            password: "secret".into(),
            email: Some("john@example.com".into()),
            full_name: Some("John Doe".into()),
            ..NewUser::default()
        })
        .await
        .expect("create john");
    }
    let address = format!("http://{}", app.local_addr());
    let auth = app.auth().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        client: client(),
        auth,
        settings,
        backend,
        stop: Some(stop),
        server: Some(server),
        _dir: dir,
        _pg: pg,
    }
}

/// A cookie-keeping HTTP client that never follows redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

impl TestApp {
    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Creates a user directly (no password rules).
    pub async fn add_user(&self, username: &str, password: &str) -> latchkey::store::UserRow {
        self.auth
            .create_user(
                NewUser {
                    username: username.into(),
                    password: password.into(),
                    email: Some(format!("{username}@example.com")),
                    ..NewUser::default()
                },
                false,
            )
            .await
            .expect("create user")
    }

    /// `POST /token` with a form; the whole response.
    pub async fn post_token(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/token"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .expect("POST /token")
    }

    /// Logs in and returns the token answer's JSON, asserting 200.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let response = self.post_token(username, password).await;
        assert_eq!(response.status(), 200, "login of {username} should succeed");
        response.json().await.expect("token JSON")
    }

    /// Logs in and returns the access token.
    pub async fn token(&self, username: &str, password: &str) -> String {
        self.login(username, password).await["access_token"]
            .as_str()
            .expect("access_token is a string")
            .to_string()
    }

    /// An admin's access token.
    pub async fn admin_token(&self) -> String {
        self.token("admin", ADMIN_PASSWORD).await
    }

    /// `GET /users/me` with a bearer token.
    pub async fn me(&self, token: &str) -> reqwest::Response {
        self.client
            .get(self.url("/users/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /users/me")
    }

    /// `POST /logout` with a bearer token.
    pub async fn logout(&self, token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/logout"))
            .bearer_auth(token)
            .send()
            .await
            .expect("POST /logout")
    }

    /// Stops the server (requests in flight finish) and waits for it.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Stops this server and starts a new one on the same database.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let settings = self.settings.clone();
        let backend = self.backend;
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().expect("temp dir"));
        let pg = self._pg.take();
        start(settings, backend, dir, pg).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The JSON body of a response (`Null` when it is not JSON).
pub async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap_or(Value::Null)
}

/// A `latchkey serve` process, killed when dropped.
pub struct ServerProcess {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// What it printed up to the listening line.
    pub stdout_lines: Vec<String>,
}

impl ServerProcess {
    /// Starts `latchkey serve` in `dir` on `database_url` with only `env`
    /// (plus PATH) in its environment, and waits until it listens.
    pub fn start(dir: &Path, database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        Self::start_logging(dir, database_url, env, Stdio::null())
    }

    /// As [`ServerProcess::start`], with the log (standard error) sent to
    /// `log`; `env` may set `RUST_LOG`.
    pub fn start_logging(
        dir: &Path,
        database_url: &str,
        env: &[(&str, &str)],
        log: impl Into<Stdio>,
    ) -> ServerProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .current_dir(dir);
        cmd.args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn latchkey serve");
        // Owned by `ServerProcess` from here on, so a failed assertion still reaps it.
        let mut server = ServerProcess {
            child,
            url: String::new(),
            stdout_lines: Vec::new(),
        };
        let stdout = server.child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let started = Instant::now();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("read stdout");
            assert!(
                n > 0,
                "server exited before listening: {:?}",
                server.stdout_lines
            );
            server.stdout_lines.push(line.trim_end().to_string());
            if let Some(url) = line.trim_end().strip_prefix("latchkey listening on ") {
                server.url = url.to_string();
                // Keep draining stdout so the server never blocks on it.
                std::thread::spawn(move || for _ in reader.lines() {});
                return server;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "server did not start"
            );
        }
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /users/me` answers the contract's refusal of an invalid token.
pub async fn assert_refused(app: &TestApp, token: &str, why: &str) {
    let response = app.me(token).await;
    assert_eq!(response.status(), 401, "{why}");
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\"",
        "{why}"
    );
    assert_eq!(
        json(response).await,
        serde_json::json!({"detail": "Could not validate credentials"}),
        "{why}"
    );
}
