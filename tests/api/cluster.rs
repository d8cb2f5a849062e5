//! Several nodes on one PostgreSQL database, with and without Redis:
//! revocation across nodes within the contract's 100 ms, shared login
//! limits, and the stores failing and coming back.
//!
//! These tests need `TEST_DATABASE_URL` (and `TEST_REDIS_URL`); without them
//! they say they were skipped, unless `LATCHKEY_REQUIRE_SERVICES` is set.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, PgDatabase, ServerProcess};

/// The contract's bound on cross-node revocation.
const BOUND: Duration = Duration::from_millis(100);

fn required() -> bool {
    std::env::var_os("LATCHKEY_REQUIRE_SERVICES").is_some()
}

/// The Redis URL to use, or `None` (after saying so) when the test must be
/// skipped.
fn redis_url() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if required() => panic!("LATCHKEY_REQUIRE_SERVICES is set but TEST_REDIS_URL is not"),
        _ => {
            println!("skipped: TEST_REDIS_URL not set");
            None
        }
    }
}

fn postgres_given() -> bool {
    let given = std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    if !given {
        assert!(
            !required(),
            "LATCHKEY_REQUIRE_SERVICES is set but TEST_DATABASE_URL is not"
        );
        println!("skipped: TEST_DATABASE_URL not set");
    }
    given
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Nodes on one fresh database, with a Redis prefix of their own.
struct Cluster {
    nodes: Vec<ServerProcess>,
    http: reqwest::Client,
    _db: PgDatabase,
    _dir: tempfile::TempDir,
}

async fn cluster(count: usize, redis: Option<&str>, extra: &[(&str, &str)]) -> Cluster {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("dir");
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let mut env: Vec<(&str, &str)> = vec![
        ("LATCHKEY_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("RUST_LOG", "error"),
    ];
    env.extend_from_slice(extra);
    if let Some(url) = redis {
        env.push(("REDIS_URL", url));
        env.push(("REDIS_PREFIX", &prefix));
    }
    // One node first, so the others find the schema, the admin and the key.
    let mut nodes = vec![ServerProcess::start(dir.path(), &db.url, &env)];
    for _ in 1..count {
        nodes.push(ServerProcess::start(dir.path(), &db.url, &env));
    }
    Cluster {
        nodes,
        http: reqwest::Client::new(),
        _db: db,
        _dir: dir,
    }
}

impl Cluster {
    fn url(&self, node: usize, path: &str) -> String {
        format!("{}{path}", self.nodes[node].url)
    }

    async fn login(&self, node: usize, username: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url(node, "/token"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .expect("login")
    }

    async fn tokens(&self, node: usize, username: &str, password: &str) -> Value {
        let response = self.login(node, username, password).await;
        assert_eq!(response.status(), 200, "login {username} on node {node}");
        response.json().await.expect("json")
    }

    async fn token(&self, node: usize, username: &str, password: &str) -> String {
        self.tokens(node, username, password).await["access_token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    async fn me(&self, node: usize, token: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(node, "/users/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("me");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn create_user(&self, username: &str, password: &str) {
        let admin = self.token(0, "admin", ADMIN_PASSWORD).await;
        let r = self
            .http
            .post(self.url(0, "/admin/users"))
            .bearer_auth(&admin)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("create user");
        assert_eq!(r.status(), 201);
    }

    /// From now, how long until `node` refuses `token` as revoked.
    async fn time_until_revoked(&self, node: usize, token: &str, since: Instant) -> Duration {
        loop {
            let (status, body) = self.me(node, token).await;
            if status == 401 {
                assert_eq!(body, json!({"detail": "Token has been revoked"}));
                return since.elapsed();
            }
            // A node that read the disabled user before its poll saw the
            // revoked sessions refuses as inactive: refused all the same.
            if status == 400 && body == json!({"detail": "Inactive user"}) {
                return since.elapsed();
            }
            assert_eq!(status, 200, "{body}");
            assert!(
                since.elapsed() < Duration::from_secs(5),
                "never revoked on node {node}"
            );
        }
    }
    /// An administrator's JSON request to `node`; asserts 200.
    async fn admin_call(
        &self,
        node: usize,
        admin: &str,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) {
        let r = self
            .http
            .request(method, self.url(node, path))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .expect("admin request");
        assert_eq!(r.status(), 200, "{path}");
    }

    /// `GET /admin/users` on `node` with `token`: needs `users:admin`.
    async fn list_users(&self, node: usize, token: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(node, "/admin/users"))
            .bearer_auth(token)
            .send()
            .await
            .expect("list users");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// From `since`, how long until `node` answers `GET /admin/users` (it
    /// needs `users:admin`) with `token` by `want`: 200 or 403.
    async fn time_until_admin(
        &self,
        node: usize,
        token: &str,
        want: u16,
        since: Instant,
    ) -> Duration {
        loop {
            let (status, body) = self.list_users(node, token).await;
            if status == 403 {
                assert_eq!(body, json!({"detail": "Permission 'users:admin' required"}));
            } else {
                assert_eq!(status, 200, "{body}");
            }
            if status == want {
                return since.elapsed();
            }
            assert!(
                since.elapsed() < Duration::from_secs(5),
                "node {node} never answered {want}"
            );
        }
    }
}

fn summary(label: &str, delays: &mut [Duration]) -> Duration {
    delays.sort();
    let worst = delays[delays.len() - 1];
    println!(
        "{label}: {} trials, min {:?}, median {:?}, max {:?}",
        delays.len(),
        delays[0],
        delays[delays.len() / 2],
        worst
    );
    worst
}

async fn logout_reaches_the_other_node(redis: Option<&str>, label: &str) {
    let c = cluster(2, redis, &[]).await;
    c.create_user("walker", "walker-password").await;
    let mut delays = Vec::new();
    for _ in 0..20 {
        let token = c.token(0, "walker", "walker-password").await;
        assert_eq!(c.me(1, &token).await.0, 200, "a token from A works on B");
        let r = c
            .http
            .post(c.url(0, "/logout"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("logout");
        assert_eq!(r.status(), 200);
        let answered = Instant::now();
        delays.push(c.time_until_revoked(1, &token, answered).await);
    }
    let worst = summary(label, &mut delays);
    assert!(worst <= BOUND, "{label}: worst {worst:?} over {BOUND:?}");
}

#[tokio::test]
async fn a_logout_on_one_node_is_enforced_on_another_within_100ms_without_redis() {
    if !postgres_given() {
        return;
    }
    logout_reaches_the_other_node(None, "logout A→B, database poll").await;
}

#[tokio::test]
async fn a_logout_on_one_node_is_enforced_on_another_within_100ms_with_redis() {
    if !postgres_given() {
        return;
    }
    let Some(redis) = redis_url() else { return };
    logout_reaches_the_other_node(Some(&redis), "logout A→B, Redis").await;
}

async fn disable_password_and_reuse_reach_the_other_node(redis: Option<&str>, label: &str) {
    let c = cluster(2, redis, &[("REFRESH_REUSE_INTERVAL", "0")]).await;
    c.create_user("target", "target-password").await;
    let admin = c.token(0, "admin", ADMIN_PASSWORD).await;
    let mut delays = Vec::new();

    // Disable on A.
    let token = c.token(1, "target", "target-password").await;
    c.admin_call(
        0,
        &admin,
        reqwest::Method::PATCH,
        "/admin/users/target",
        json!({"disabled": true}),
    )
    .await;
    delays.push(c.time_until_revoked(1, &token, Instant::now()).await);
    c.admin_call(
        0,
        &admin,
        reqwest::Method::PATCH,
        "/admin/users/target",
        json!({"disabled": false}),
    )
    .await;

    // Password change on A ends the session used on B.
    let elsewhere = c.token(1, "target", "target-password").await;
    let here = c.token(0, "target", "target-password").await;
    let r = c
        .http
        .post(c.url(0, "/users/me/password"))
        .bearer_auth(&here)
        .json(&json!({"current_password": "target-password", "new_password": "target-password-2"}))
        .send()
        .await
        .expect("change password");
    assert_eq!(r.status(), 200);
    delays.push(c.time_until_revoked(1, &elsewhere, Instant::now()).await);

    // Refresh-token reuse on A revokes the session used on B.
    let pair = c.tokens(0, "target", "target-password-2").await;
    let old_refresh = pair["refresh_token"].as_str().expect("refresh").to_string();
    let r = c
        .http
        .post(c.url(0, "/token/refresh"))
        .json(&json!({"refresh_token": old_refresh}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(r.status(), 200);
    let rotated: Value = r.json().await.expect("json");
    let access = rotated["access_token"]
        .as_str()
        .expect("access")
        .to_string();
    assert_eq!(c.me(1, &access).await.0, 200);
    let reuse = c
        .http
        .post(c.url(0, "/token/refresh"))
        .json(&json!({"refresh_token": old_refresh}))
        .send()
        .await
        .expect("reuse");
    assert_eq!(reuse.status(), 401);
    delays.push(c.time_until_revoked(1, &access, Instant::now()).await);

    let worst = summary(label, &mut delays);
    assert!(worst <= BOUND, "{label}: worst {worst:?} over {BOUND:?}");
}

#[tokio::test]
async fn disable_password_change_and_refresh_reuse_reach_the_other_node_without_redis() {
    if !postgres_given() {
        return;
    }
    disable_password_and_reuse_reach_the_other_node(
        None,
        "disable / password / reuse A→B, database poll",
    )
    .await;
}

#[tokio::test]
async fn disable_password_change_and_refresh_reuse_reach_the_other_node_with_redis() {
    if !postgres_given() {
        return;
    }
    let Some(redis) = redis_url() else { return };
    disable_password_and_reuse_reach_the_other_node(
        Some(&redis),
        "disable / password / reuse A→B, Redis",
    )
    .await;
}

/// A permission taken away on A, three ways (the user's role, the role's
/// permissions, the user's own permissions), is refused on B within the bound
/// although the token used on B still names it. (A grant needs a new token,
/// and B may refuse it until its next poll: waited for, not measured.)
async fn permission_changes_reach_the_other_node(redis: Option<&str>, label: &str) {
    use reqwest::Method;
    let c = cluster(2, redis, &[]).await;
    c.create_user("deputy", "deputy-password").await;
    let admin = c.token(0, "admin", ADMIN_PASSWORD).await;
    let user = "/admin/users/deputy";
    let mut delays = Vec::new();

    // The role that grants it taken from the user.
    c.admin_call(0, &admin, Method::PATCH, user, json!({"roles": ["admin"]}))
        .await;
    let token = c.token(1, "deputy", "deputy-password").await;
    c.time_until_admin(1, &token, 200, Instant::now()).await;
    c.admin_call(0, &admin, Method::PATCH, user, json!({"roles": []}))
        .await;
    delays.push(c.time_until_admin(1, &token, 403, Instant::now()).await);

    // The permission taken out of the user's role.
    c.admin_call(
        0,
        &admin,
        Method::PUT,
        "/admin/roles/deputies",
        json!({"permissions": ["users:admin"]}),
    )
    .await;
    c.admin_call(
        0,
        &admin,
        Method::PATCH,
        user,
        json!({"roles": ["deputies"]}),
    )
    .await;
    let token = c.token(1, "deputy", "deputy-password").await;
    c.time_until_admin(1, &token, 200, Instant::now()).await;
    c.admin_call(
        0,
        &admin,
        Method::PUT,
        "/admin/roles/deputies",
        json!({"permissions": []}),
    )
    .await;
    delays.push(c.time_until_admin(1, &token, 403, Instant::now()).await);

    // The user's own permission taken away.
    c.admin_call(
        0,
        &admin,
        Method::PATCH,
        user,
        json!({"roles": [], "permissions": ["users:admin"]}),
    )
    .await;
    let token = c.token(1, "deputy", "deputy-password").await;
    c.time_until_admin(1, &token, 200, Instant::now()).await;
    c.admin_call(0, &admin, Method::PATCH, user, json!({"permissions": []}))
        .await;
    delays.push(c.time_until_admin(1, &token, 403, Instant::now()).await);

    let worst = summary(label, &mut delays);
    assert!(worst <= BOUND, "{label}: worst {worst:?} over {BOUND:?}");
}

#[tokio::test]
async fn a_permission_taken_away_on_one_node_is_refused_on_another_without_redis() {
    if !postgres_given() {
        return;
    }
    permission_changes_reach_the_other_node(None, "roles and permissions A→B, database poll").await;
}

#[tokio::test]
async fn a_permission_taken_away_on_one_node_is_refused_on_another_with_redis() {
    if !postgres_given() {
        return;
    }
    let Some(redis) = redis_url() else { return };
    permission_changes_reach_the_other_node(Some(&redis), "roles and permissions A→B, Redis").await;
}

#[tokio::test]
async fn failed_logins_are_counted_across_nodes_with_redis() {
    if !postgres_given() {
        return;
    }
    let Some(redis) = redis_url() else { return };
    let c = cluster(2, Some(&redis), &[("LOGIN_MAX_FAILURES", "3")]).await;
    c.create_user("victim", "victim-password").await;
    c.create_user("bystander", "bystander-password").await;
    for _ in 0..3 {
        assert_eq!(c.login(0, "victim", "wrong").await.status(), 401);
    }

    let blocked = c.login(1, "victim", "victim-password").await;

    assert_eq!(blocked.status(), 429);
    let retry: u64 = blocked.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry >= 1);
    assert_eq!(
        blocked.json::<Value>().await.expect("json"),
        json!({"detail": "Too many login attempts"})
    );
    assert_eq!(
        c.login(1, "bystander", "bystander-password").await.status(),
        200,
        "other users are not affected"
    );
}

#[tokio::test]
async fn without_redis_failed_logins_are_counted_per_node() {
    if !postgres_given() {
        return;
    }
    let c = cluster(2, None, &[("LOGIN_MAX_FAILURES", "3")]).await;
    c.create_user("victim", "victim-password").await;
    for _ in 0..3 {
        assert_eq!(c.login(0, "victim", "wrong").await.status(), 401);
    }
    assert_eq!(c.login(0, "victim", "victim-password").await.status(), 429);
    assert_eq!(
        c.login(1, "victim", "victim-password").await.status(),
        200,
        "in-process counters"
    );
}

/// A Redis server of the test's own, on a free port.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start(port: u16) -> Option<PrivateRedis> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let redis = PrivateRedis {
            port,
            child: Some(child),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(5) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let out = f.await;
    (out, started.elapsed())
}

#[tokio::test]
async fn with_redis_stopped_logins_answer_503_quickly_and_recover_without_a_restart() {
    if !postgres_given() {
        return;
    }
    let port = free_port();
    let Some(mut redis) = PrivateRedis::start(port) else {
        assert!(!required(), "could not start a private redis-server");
        println!("skipped: redis-server could not be started");
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let c = cluster(1, Some(&url), &[]).await;
    c.create_user("steady", "steady-password").await;
    let token = c.token(0, "steady", "steady-password").await;
    let revoked = c.token(0, "steady", "steady-password").await;
    let r = c
        .http
        .post(c.url(0, "/logout"))
        .bearer_auth(&revoked)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 200);

    redis.stop();

    let (login, took) = timed(c.login(0, "steady", "steady-password")).await;
    assert_eq!(login.status(), 503, "a login needs the shared counters");
    assert!(login.json::<Value>().await.expect("json")["detail"].is_string());
    assert!(took < Duration::from_secs(1), "503 in {took:?}");
    let (ready, took) = timed(c.http.get(c.url(0, "/readyz")).send()).await;
    assert_eq!(ready.expect("readyz").status(), 503);
    assert!(took < Duration::from_secs(1), "readyz in {took:?}");
    let ((status, _), took) = timed(c.me(0, &token)).await;
    assert!(
        status == 200 || status == 503,
        "correct answer or 503, got {status}"
    );
    assert!(took < Duration::from_secs(1));
    let ((status, _), _) = timed(c.me(0, &revoked)).await;
    assert!(
        status == 401 || status == 503,
        "never a 200 for a revoked token, got {status}"
    );

    let Some(_back) = PrivateRedis::start(port) else {
        panic!("redis-server did not restart on port {port}");
    };
    let back_at = Instant::now();
    loop {
        let login = c.login(0, "steady", "steady-password").await.status();
        let ready = c
            .http
            .get(c.url(0, "/readyz"))
            .send()
            .await
            .expect("readyz")
            .status();
        if login == 200 && ready == 200 {
            break;
        }
        assert!(
            back_at.elapsed() < Duration::from_secs(5),
            "not back after 5 s: login {login}, ready {ready}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("service back {:?} after Redis returned", back_at.elapsed());
}

/// A PostgreSQL cluster of the test's own (the shared one is never stopped).
struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn as_postgres(cmd: &str) -> bool {
        Command::new("su")
            .args(["postgres", "-c", cmd])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn create() -> Option<PrivatePostgres> {
        let version = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .next()?;
        let bin = version.path().join("bin");
        let dir = tempfile::Builder::new()
            .prefix("latchkey-pg")
            .tempdir_in("/tmp")
            .ok()?;
        let chown = Command::new("chown")
            .args(["postgres", &dir.path().display().to_string()])
            .status()
            .ok()?;
        if !chown.success() {
            return None;
        }
        let data = dir.path().join("data");
        let init = format!(
            "{} -D {} -A trust -U postgres",
            bin.join("initdb").display(),
            data.display()
        );
        if !Self::as_postgres(&init) {
            return None;
        }
        let pg = PrivatePostgres {
            dir,
            bin,
            port: free_port(),
        };
        pg.start().then_some(pg)
    }

    fn start(&self) -> bool {
        Self::as_postgres(&format!(
            "{} -D {} -o '-p {} -k {} -c listen_addresses=127.0.0.1' -w -t 20 start",
            self.bin.join("pg_ctl").display(),
            self.dir.path().join("data").display(),
            self.port,
            self.dir.path().display()
        ))
    }

    fn stop(&self) {
        Self::as_postgres(&format!(
            "{} -D {} -m immediate stop",
            self.bin.join("pg_ctl").display(),
            self.dir.path().join("data").display()
        ));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn with_postgres_stopped_answers_are_503_and_nothing_acknowledged_is_lost() {
    if !postgres_given() {
        return;
    }
    let Some(pg) = PrivatePostgres::create() else {
        assert!(!required(), "could not start a private PostgreSQL");
        println!("skipped: a private PostgreSQL could not be started");
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let url = pg.url();
    let node = ServerProcess::start(
        dir.path(),
        &url,
        &[
            ("LATCHKEY_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("DATABASE_TIMEOUT", "1"),
            ("RUST_LOG", "error"),
        ],
    );
    let http = reqwest::Client::new();
    let base = node.url.clone();
    let register = http
        .post(format!("{base}/users"))
        .json(&json!({"username": "durable", "password": "durable-password"}))
        .send()
        .await
        .expect("register");
    assert_eq!(register.status(), 201);
    let login = |u: &'static str, p: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.post(format!("{base}/token"))
                .form(&[("username", u), ("password", p)])
                .send()
                .await
                .expect("login")
        }
    };
    let body: Value = login("durable", "durable-password")
        .await
        .json()
        .await
        .expect("json");
    let logged_out = body["access_token"].as_str().expect("token").to_string();
    let r = http
        .post(format!("{base}/logout"))
        .bearer_auth(&logged_out)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 200);
    let body: Value = login("durable", "durable-password")
        .await
        .json()
        .await
        .expect("json");
    let live = body["access_token"].as_str().expect("token").to_string();

    pg.stop();

    let (ready, took) = timed(http.get(format!("{base}/readyz")).send()).await;
    assert_eq!(ready.expect("readyz").status(), 503);
    assert!(took < Duration::from_secs(1), "readyz in {took:?}");
    let (answer, took) = timed(login("durable", "durable-password")).await;
    assert_eq!(answer.status(), 503);
    assert!(answer.json::<Value>().await.expect("json")["detail"].is_string());
    assert!(took < Duration::from_secs(2), "login in {took:?}");
    for token in [&live, &logged_out] {
        let (r, took) = timed(
            http.get(format!("{base}/users/me"))
                .bearer_auth(token)
                .send(),
        )
        .await;
        let status = r.expect("me").status().as_u16();
        assert!(took < Duration::from_secs(2), "answer in {took:?}");
        if token == &logged_out {
            assert!(
                status == 401 || status == 503,
                "never a 200 for a revoked token: {status}"
            );
        } else {
            assert!(status == 200 || status == 503, "{status}");
        }
    }

    assert!(pg.start(), "PostgreSQL restarts");
    let back_at = Instant::now();
    loop {
        let ready = http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("readyz")
            .status();
        let answer = login("durable", "durable-password").await.status();
        if ready == 200 && answer == 200 {
            break;
        }
        assert!(
            back_at.elapsed() < Duration::from_secs(5),
            "not back after 5 s: ready {ready}, login {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "service back {:?} after PostgreSQL returned",
        back_at.elapsed()
    );
    let r = http
        .get(format!("{base}/users/me"))
        .bearer_auth(&logged_out)
        .send()
        .await
        .expect("me");
    assert_eq!(
        r.status(),
        401,
        "the logout acknowledged before the outage holds"
    );
    let r = http
        .get(format!("{base}/users/me"))
        .bearer_auth(&live)
        .send()
        .await
        .expect("me");
    assert_eq!(r.status(), 200, "the live session holds");
    drop(node);
}
