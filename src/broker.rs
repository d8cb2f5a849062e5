//! The Redis link (when `REDIS_URL` is set): revocations published to every
//! node at once and kept as keys that expire with the tokens they guard, and
//! the shared failed-login counters.
//!
//! Redis holds nothing that cannot be rebuilt from the database: a node that
//! misses a message still learns the revocation from its database poll.
//! Every call is bounded by [`TIMEOUT`], so a stopped Redis answers quickly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::revocation::Revocations;

/// Longest wait for one Redis call.
pub const TIMEOUT: Duration = Duration::from_millis(400);

/// Why a Redis call failed.
#[derive(Debug, thiserror::Error)]
#[error("redis unavailable: {0}")]
pub struct BrokerError(String);

fn err(e: impl std::fmt::Display) -> BrokerError {
    BrokerError(e.to_string())
}

async fn bounded<T>(
    fut: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, BrokerError> {
    match tokio::time::timeout(TIMEOUT, fut).await {
        Ok(r) => r.map_err(err),
        Err(_) => Err(BrokerError("timed out".into())),
    }
}

/// A connection to Redis shared by the node.
pub struct Broker {
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
    subscribed: AtomicBool,
}

impl Broker {
    /// Connects lazily (a Redis that is down at start is retried on use).
    pub fn connect(url: &str, prefix: &str) -> Result<Arc<Self>, BrokerError> {
        let client = redis::Client::open(url).map_err(err)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let manager =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(err)?;
        Ok(Arc::new(Self {
            client,
            manager,
            prefix: prefix.to_string(),
            subscribed: AtomicBool::new(false),
        }))
    }

    fn channel(&self) -> String {
        format!("{}:revocations", self.prefix)
    }

    /// The key of a counter or flag, under the configured prefix.
    pub fn key(&self, parts: &str) -> String {
        format!("{}:{parts}", self.prefix)
    }

    /// Redis answers a PING.
    pub async fn ping(&self) -> Result<(), BrokerError> {
        let mut conn = self.manager.clone();
        bounded(redis::cmd("PING").query_async::<String>(&mut conn)).await?;
        Ok(())
    }

    /// True while the revocation channel subscription is live.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed)
    }

    /// Stores `sid` as revoked until `ttl_secs` from now and tells every node.
    pub async fn publish_revocation(
        &self,
        sid: &str,
        revoked_at: i64,
        ttl_secs: i64,
    ) -> Result<(), BrokerError> {
        let mut conn = self.manager.clone();
        let ttl = u64::try_from(ttl_secs.max(1)).unwrap_or(1);
        let mut pipe = redis::pipe();
        pipe.set_ex(self.key(&format!("revoked:{sid}")), revoked_at, ttl)
            .ignore()
            .publish(self.channel(), format!("{sid} {revoked_at}"))
            .ignore();
        bounded(pipe.query_async::<()>(&mut conn)).await
    }

    /// Current counts and remaining seconds of the given counters.
    pub async fn counters(&self, keys: &[String]) -> Result<Vec<(u32, i64)>, BrokerError> {
        let mut conn = self.manager.clone();
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.get(key).ttl(key);
        }
        let values: Vec<(Option<u32>, i64)> = bounded(pipe.query_async(&mut conn)).await?;
        Ok(values
            .into_iter()
            .map(|(n, ttl)| (n.unwrap_or(0), ttl))
            .collect())
    }

    /// Adds one to each counter; a new counter expires after `window` seconds.
    pub async fn increment(&self, keys: &[String], window: i64) -> Result<(), BrokerError> {
        let mut conn = self.manager.clone();
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.incr(key, 1).ignore();
            pipe.cmd("EXPIRE").arg(key).arg(window).arg("NX").ignore();
        }
        bounded(pipe.query_async::<()>(&mut conn)).await
    }

    /// Follows the revocation channel, feeding `revocations`, reconnecting
    /// after failures.
    pub fn spawn_subscriber(
        self: &Arc<Self>,
        revocations: Arc<Revocations>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match this.subscribe_once(&revocations).await {
                    Ok(()) => backoff = Duration::from_millis(100),
                    Err(e) => tracing::warn!(error = %e, "revocation channel lost; reconnecting"),
                }
                this.subscribed.store(false, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        })
    }

    async fn subscribe_once(&self, revocations: &Revocations) -> Result<(), BrokerError> {
        let mut pubsub = bounded(self.client.get_async_pubsub()).await?;
        bounded(pubsub.subscribe(self.channel())).await?;
        self.subscribed.store(true, Ordering::Relaxed);
        let mut messages = pubsub.into_on_message();
        while let Some(msg) = messages.next().await {
            let payload: String = match msg.get_payload() {
                Ok(p) => p,
                Err(_) => continue,
            };
            if let Some((sid, Ok(at))) = payload.split_once(' ').map(|(s, a)| (s, a.parse::<i64>()))
            {
                revocations.insert(sid, at);
            }
        }
        Ok(())
    }

    /// Whether a session is marked revoked in Redis (for resource services
    /// that share Redis but not the database).
    pub async fn is_revoked(&self, sid: &str) -> Result<bool, BrokerError> {
        let mut conn = self.manager.clone();
        bounded(conn.exists(self.key(&format!("revoked:{sid}")))).await
    }
}
