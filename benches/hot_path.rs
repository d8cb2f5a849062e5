//! Micro-benchmarks of the protected-request hot path: verifying an access
//! token per algorithm (signature and claims, then the cached path a repeat
//! request takes), the revocation lookup with none and a million revoked
//! sessions, and building the `GET /users/me` answer. `cargo bench` runs
//! them; bench/run.sh measures the whole server.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use latchkey::auth::Auth;
use latchkey::config::{Secret, Settings};
use latchkey::revocation::Revocations;
use latchkey::store::UserRow;
use latchkey::token::Grant;

/// One worker thread for the background sync; `block_on` runs the measured
/// future on the benchmark's own thread.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A service over a fresh SQLite file, signing with `algorithm`.
fn service(rt: &tokio::runtime::Runtime, dir: &tempfile::TempDir, algorithm: &str) -> Arc<Auth> {
    let mut settings = Settings {
        database_url: format!("sqlite://{}/{algorithm}.db", dir.path().display()),
        ..Settings::default()
    };
    if algorithm.starts_with("HS") {
        settings.secret_key = Some(Secret::new(
            "a-benchmark-secret-of-at-least-32-bytes".into(),
        ));
    }
    settings.algorithm = Some(algorithm.to_string());
    let auth = rt
        .block_on(latchkey::app::open(settings))
        .expect("open the store");
    // What the server's sync loop does: without it the revocation feed goes
    // stale after a second and every check answers "unknown" (a 503).
    let syncing = auth.clone();
    rt.spawn(async move {
        loop {
            syncing.sync().await;
            tokio::time::sleep(latchkey::revocation::POLL).await;
        }
    });
    auth
}

fn token(auth: &Auth) -> String {
    let roles = vec!["admin".to_string()];
    let permissions = vec!["users:admin".to_string(), "items:read".to_string()];
    let now = latchkey::clock::now();
    let session = uuid::Uuid::new_v4().to_string();
    let (token, _) = auth
        .tokens
        .issue(
            &Grant {
                username: "johndoe",
                user_id: 1,
                session_id: &session,
                roles: &roles,
                permissions: &permissions,
                not_after: now + 86_400,
            },
            now,
        )
        .expect("issue a token");
    token
}

fn verification(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("verify");
    for algorithm in ["HS256", "EdDSA", "ES256", "RS256"] {
        let auth = service(&rt, &dir, algorithm);
        let token = token(&auth);
        group.bench_function(format!("{algorithm}/signature_and_claims"), |b| {
            b.iter(|| auth.tokens.verify(black_box(&token)).expect("valid"))
        });
        group.bench_function(format!("{algorithm}/cached"), |b| {
            b.iter(|| {
                rt.block_on(auth.authenticate(black_box(&token)))
                    .expect("valid")
            })
        });
    }
    group.finish();
}

/// The in-memory lookup alone. With no store feeding these sets, their
/// answer turns from "active" to "unknown" a second in; the work measured
/// (parse the id, look it up, read the feed's age) is the same either way.
fn revocation(c: &mut Criterion) {
    let mut group = c.benchmark_group("revocation_check");
    let active = uuid::Uuid::new_v4().to_string();
    let none = Revocations::new(1_830);
    group.bench_function("none_revoked", |b| {
        b.iter(|| none.check(black_box(&active)))
    });
    let many = Revocations::new(1_830);
    let now = latchkey::clock::now();
    for _ in 0..1_000_000 {
        many.insert(&uuid::Uuid::new_v4().to_string(), now);
    }
    group.bench_function("million_revoked", |b| {
        b.iter(|| many.check(black_box(&active)))
    });
    group.finish();
}

fn answer(c: &mut Criterion) {
    let user = UserRow {
        id: 1,
        username: "johndoe".into(),
        email: Some("johndoe@example.com".into()),
        full_name: Some("John Doe".into()),
        disabled: false,
        roles: vec!["admin".into()],
        permissions: vec![],
        effective_permissions: vec!["items:read".into(), "users:admin".into()],
        created_at: 1_700_000_000,
        updated_at: 1_700_000_000,
    };
    c.bench_function("users_me_json", |b| {
        b.iter(|| {
            let value = latchkey::http::routes::users::user_json(black_box(&user));
            serde_json::to_vec(&value).expect("serialisable")
        })
    });
}

criterion_group!(benches, verification, revocation, answer);
criterion_main!(benches);
