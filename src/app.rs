//! Building and running a latchkey server: `main`, tests and examples all
//! start the same [`App`], which binds its own listener (port 0 allowed) and
//! says which address it got.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::{Layer as _, ServiceExt as _};
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::timeout::RequestBodyDeadlineLayer;

use crate::auth::{Auth, AuthError};
use crate::broker::Broker;
use crate::cache::{TokenCache, UserCache};
use crate::clock;
use crate::config::Settings;
use crate::password::Hasher;
use crate::ratelimit::LoginLimiter;
use crate::revocation::Revocations;
use crate::store::{self, Store};
use crate::token::TokenService;
use crate::token::keys::Keys;

pub use crate::auth::NewUser;
pub use crate::store::UserRow as User;

/// How often a node re-reads the signing keys.
pub const KEY_RELOAD: Duration = Duration::from_secs(2);

/// How long `serve` lets requests in flight finish after a stop signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] store::StoreError),
    /// Keys could not be loaded or generated.
    #[error(transparent)]
    Keys(#[from] crate::token::keys::KeyError),
    /// The first user could not be created.
    #[error("creating the admin user: {0}")]
    Bootstrap(AuthError),
    /// The Redis URL could not be used.
    #[error(transparent)]
    Redis(crate::broker::BrokerError),
    /// The address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// Connects to the store, runs migrations and loads keys and revocations:
/// everything a server or a command needs.
pub async fn open(settings: Settings) -> Result<Arc<Auth>, StartError> {
    settings.validate()?;
    let store: Arc<dyn Store> = store::connect(&settings).await?;
    let now = clock::now();
    let keys = Arc::new(Keys::load(store.as_ref(), &settings, now).await?);
    let remember = settings.access_ttl_secs() + i64::try_from(settings.clock_leeway).unwrap_or(0);
    let revocations = Arc::new(Revocations::load(store.as_ref(), remember).await?);
    let tokens = TokenService::new(&settings, keys);
    let broker = match &settings.redis_url {
        Some(url) => Some(Broker::connect(url, &settings.redis_prefix).map_err(StartError::Redis)?),
        None => None,
    };
    Ok(Arc::new(Auth {
        hasher: Hasher::new(settings.hash_concurrency),
        limiter: LoginLimiter::new(
            settings.login_max_failures,
            settings.login_max_failures_per_ip,
            settings.login_window,
            broker.clone(),
        ),
        broker,
        settings: Arc::new(settings),
        store,
        tokens,
        revocations,
        keys_reloaded_at_ms: AtomicI64::new(0),
        token_cache: TokenCache::default(),
        user_cache: UserCache::default(),
    }))
}

/// A bound, ready-to-run server.
pub struct App {
    auth: Arc<Auth>,
    routes: Router<Arc<Auth>>,
    listener: TcpListener,
    address: SocketAddr,
    admin_password: Option<String>,
}

impl App {
    /// Opens the store, creates the first admin on an empty database, and
    /// binds `settings.bind`.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let bind = settings.bind;
        // Install the metrics recorder before the first request counts.
        crate::telemetry::metrics();
        let auth = open(settings).await?;
        let admin_password = bootstrap_admin(&auth)
            .await
            .map_err(StartError::Bootstrap)?;
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|e| StartError::Bind(bind, e))?;
        let address = listener
            .local_addr()
            .map_err(|e| StartError::Bind(bind, e))?;
        Ok(Self {
            auth,
            routes: Router::new(),
            listener,
            address,
            admin_password,
        })
    }

    /// Serves an application's own routes beside the auth routes; their
    /// handlers can take [`CurrentUser`](crate::http::extract::CurrentUser),
    /// [`ActiveUser`](crate::http::extract::ActiveUser) and
    /// [`Authorized`](crate::http::extract::Authorized).
    pub fn with_routes(mut self, routes: Router<Arc<Auth>>) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The service behind the routes.
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }

    /// The random password given to `admin` on this first start, if one was
    /// generated (print it once).
    pub fn initial_admin_password(&self) -> Option<&str> {
        self.admin_password.as_deref()
    }

    /// Creates a user without the registration password rules (for tests,
    /// fixtures and the tutorials' six-letter `secret`).
    pub async fn create_user(&self, user: NewUser) -> Result<User, AuthError> {
        self.auth.create_user(user, false).await
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets
    /// requests in flight finish for at most [`SHUTDOWN_GRACE`].
    ///
    /// A client gets `REQUEST_TIMEOUT` seconds to send a request's headers
    /// (the connection is closed otherwise, idle keep-alive ones too), and
    /// as long again for its body (`408`), so slow clients cannot hold
    /// connections open one byte at a time.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let background = spawn_background(&self.auth);
        let timeout = Duration::from_secs(self.auth.settings.request_timeout);
        let router = crate::http::router(self.auth.clone(), self.routes);
        let app = RequestBodyDeadlineLayer::new(timeout)
            .layer(NormalizePathLayer::trim_trailing_slash().layer(router));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(timeout);
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, remote) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather
                        // than spin, then keep serving.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let service =
                app.clone()
                    .map_request(move |mut req: Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(ConnectInfo(remote));
                        req
                    });
            let connection =
                http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, %remote, "connection closed with an error");
                }
            });
        }
        drop(self.listener);
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after the grace period; stopping anyway");
        }
        for task in background {
            task.abort();
        }
        Ok(())
    }
}

fn spawn_background(auth: &Arc<Auth>) -> Vec<JoinHandle<()>> {
    let sync = {
        let auth = auth.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(crate::revocation::POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                auth.sync().await;
            }
        })
    };
    let maintenance = {
        let auth = auth.clone();
        tokio::spawn(async move {
            // Keys are re-read often enough that a rotated key is published
            // long before KEY_PUBLISH_DELAY lets it sign.
            let mut tick = tokio::time::interval(KEY_RELOAD);
            let mut last_purge = 0;
            loop {
                tick.tick().await;
                crate::telemetry::upkeep();
                auth.reload_keys().await;
                let now = clock::now();
                auth.revocations.forget_expired(now);
                if now - last_purge >= 600 {
                    last_purge = now;
                    // A revoked session is kept until its last access token
                    // has expired, so every node learns of the revocation.
                    let keep = auth.settings.access_ttl_secs()
                        + i64::try_from(auth.settings.clock_leeway).unwrap_or(0);
                    match auth.store.purge_sessions(now - keep).await {
                        Ok(n) if n > 0 => tracing::info!(sessions = n, "purged ended sessions"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "session purge failed"),
                    }
                    let retention =
                        i64::try_from(auth.settings.audit_retention_days.saturating_mul(86_400))
                            .unwrap_or(i64::MAX / 4);
                    if let Err(e) = auth.store.prune_audit(now - retention).await {
                        tracing::warn!(error = %e, "audit pruning failed");
                    }
                }
            }
        })
    };
    let mut tasks = vec![sync, maintenance];
    if let Some(broker) = &auth.broker {
        tasks.push(broker.spawn_subscriber(auth.revocations.clone()));
    }
    tasks
}

/// On an empty database, creates role `admin` (permission `users:admin`) and
/// user `admin`; returns the password when it was generated here.
async fn bootstrap_admin(auth: &Auth) -> Result<Option<String>, AuthError> {
    if auth.store.count_users().await? > 0 {
        return Ok(None);
    }
    auth.store
        .put_role("admin", &["users:admin".to_string()], clock::now())
        .await?;
    let (password, generated) = match &auth.settings.admin_password {
        Some(p) => (p.expose().to_string(), false),
        None => (random_password(), true),
    };
    let created = auth
        .create_user(
            NewUser {
                username: "admin".into(),
                password: password.clone(),
                roles: vec!["admin".into()],
                ..NewUser::default()
            },
            false,
        )
        .await;
    match created {
        Ok(_) => Ok(generated.then_some(password)),
        // Another node created it first.
        Err(AuthError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn random_password() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 18];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A future that resolves on SIGTERM or Ctrl-C. The SIGTERM handler is
/// installed when this is called, not when the future is first polled, so
/// a signal sent as soon as `serve` says it listens is not lost (nor fatal).
pub fn stop_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
    }
}
