//! What this node knows about revoked sessions, and how it learns.
//!
//! The database is the truth: a revocation is committed there before the
//! revoking request answers. Every node keeps the revoked sessions whose
//! access tokens may still be alive in memory (16-byte id and an expiry, so a
//! protected request never waits for the database), loads them at start, adds
//! its own revocations at once, and polls the database for other nodes'
//! revocations every `POLL` — well inside the contract's 100 ms.
//!
//! If polling fails for longer than `STALE_AFTER`, the node no longer knows
//! whether a token was revoked elsewhere: [`Revocations::check`] then reports
//! [`Status::Unknown`] and requests answer 503 rather than risk a 200.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use uuid::Uuid;

use crate::clock;
use crate::store::{Store, StoreResult};

/// How often the database is polled for other nodes' revocations.
pub const POLL: Duration = Duration::from_millis(40);
/// How far back each poll looks, to catch transactions that committed late.
const OVERLAP_SECS: i64 = 5;
/// After this long without a successful poll, revocation state is unknown.
pub const STALE_AFTER_MS: i64 = 1_000;

/// Whether a session may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not revoked, as far as every node has said.
    Active,
    /// Revoked.
    Revoked,
    /// The revocation feed is down: the answer is not known.
    Unknown,
}

/// The revoked sessions whose tokens may still be presented.
pub struct Revocations {
    /// Session id → the time after which it can be forgotten.
    revoked: RwLock<HashMap<u128, i64>>,
    /// Milliseconds (Unix) of the last successful sync.
    synced_at_ms: AtomicI64,
    /// How long a revoked session must be remembered (access-token life
    /// plus clock leeway).
    remember_secs: i64,
}

impl Revocations {
    /// An empty set; `remember_secs` is how long a revoked session's access
    /// tokens can live after the revocation.
    pub fn new(remember_secs: i64) -> Self {
        Self {
            revoked: RwLock::new(HashMap::new()),
            synced_at_ms: AtomicI64::new(clock::now_ms()),
            remember_secs,
        }
    }

    /// Loads every revocation that may still matter.
    pub async fn load(store: &dyn Store, remember_secs: i64) -> StoreResult<Self> {
        let this = Self::new(remember_secs);
        let rows = store.revoked_since(clock::now() - remember_secs).await?;
        this.insert_many(rows.iter().map(|(id, at)| (id.as_str(), *at)));
        this.synced_at_ms.store(clock::now_ms(), Ordering::Relaxed);
        Ok(this)
    }

    /// Whether `sid` may be used.
    pub fn check(&self, sid: &str) -> Status {
        let Ok(id) = Uuid::try_parse(sid) else {
            return Status::Revoked;
        };
        if self.read().contains_key(&id.as_u128()) {
            return Status::Revoked;
        }
        if clock::now_ms() - self.synced_at_ms.load(Ordering::Relaxed) > STALE_AFTER_MS {
            return Status::Unknown;
        }
        Status::Active
    }

    /// Records a revocation this node (or a peer's message) made.
    pub fn insert(&self, sid: &str, revoked_at: i64) {
        self.insert_many(std::iter::once((sid, revoked_at)));
    }

    fn insert_many<'a>(&self, items: impl Iterator<Item = (&'a str, i64)>) {
        let mut map = match self.revoked.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for (sid, at) in items {
            if let Ok(id) = Uuid::try_parse(sid) {
                map.insert(id.as_u128(), at + self.remember_secs);
            }
        }
    }

    /// Number of remembered revocations.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u128, i64>> {
        match self.revoked.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// One poll of the database: adds what other nodes revoked.
    pub async fn sync(&self, store: &dyn Store) -> StoreResult<()> {
        let started = clock::now_ms();
        let since = started / 1000 - OVERLAP_SECS;
        let rows = store.revoked_since(since).await?;
        if !rows.is_empty() {
            let fresh: Vec<(&str, i64)> = {
                let map = self.read();
                rows.iter()
                    .filter(|(id, _)| {
                        Uuid::try_parse(id).is_ok_and(|u| !map.contains_key(&u.as_u128()))
                    })
                    .map(|(id, at)| (id.as_str(), *at))
                    .collect()
            };
            if !fresh.is_empty() {
                self.insert_many(fresh.into_iter());
            }
        }
        self.synced_at_ms.fetch_max(started, Ordering::Relaxed);
        Ok(())
    }

    /// Forgets revocations whose tokens have all expired.
    pub fn forget_expired(&self, now: i64) {
        let mut map = match self.revoked.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        map.retain(|_, until| *until >= now);
    }

    /// Polls `store` until `stop` resolves.
    pub fn spawn_sync(self: &Arc<Self>, store: Arc<dyn Store>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_forget = clock::now();
            loop {
                tick.tick().await;
                if let Err(e) = this.sync(store.as_ref()).await {
                    tracing::warn!(error = %e, "revocation sync failed");
                }
                let now = clock::now();
                if now - last_forget >= 60 {
                    this.forget_expired(now);
                    last_forget = now;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_sessions_are_refused_until_forgotten() {
        let r = Revocations::new(60);
        let sid = Uuid::new_v4().to_string();
        assert_eq!(r.check(&sid), Status::Active);
        r.insert(&sid, 1_000);
        assert_eq!(r.check(&sid), Status::Revoked);
        r.forget_expired(1_059);
        assert_eq!(r.check(&sid), Status::Revoked);
        r.forget_expired(1_061);
        assert_eq!(r.check(&sid), Status::Active);
        assert_eq!(r.check("not-a-uuid"), Status::Revoked);
    }

    #[test]
    fn a_stale_feed_makes_the_answer_unknown() {
        let r = Revocations::new(60);
        r.synced_at_ms
            .store(clock::now_ms() - STALE_AFTER_MS - 10, Ordering::Relaxed);
        assert_eq!(r.check(&Uuid::new_v4().to_string()), Status::Unknown);
    }
}
