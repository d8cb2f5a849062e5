//! What this node knows about revoked sessions, and how it learns.
//!
//! The database is the truth: a revocation is committed there before the
//! revoking request answers. Every node keeps the revoked sessions whose
//! access tokens may still be alive in memory (a 16-byte id and a 4-byte
//! expiry, about 40 bytes a session with the table's slack, so a protected
//! request never waits for the database and a million revocations cost tens
//! of megabytes), loads them at start as a stream, adds its own revocations
//! at once, and polls the database for other nodes' revocations every
//! `POLL` — well inside the contract's 100 ms.
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
    /// Session id → the time (Unix seconds) after which it can be forgotten.
    revoked: RwLock<HashMap<[u8; 16], u32>>,
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
        let started = clock::now_ms();
        let mut map = HashMap::new();
        store
            .each_revoked_since(clock::now() - remember_secs, &mut |sid, at| {
                put(&mut map, remember_secs, sid, at);
            })
            .await?;
        *this.write() = map;
        this.synced_at_ms.store(started, Ordering::Relaxed);
        Ok(this)
    }

    /// Whether `sid` may be used.
    pub fn check(&self, sid: &str) -> Status {
        let Ok(id) = Uuid::try_parse(sid) else {
            return Status::Revoked;
        };
        if self.read().contains_key(id.as_bytes()) {
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
        let mut map = self.write();
        for (sid, at) in items {
            put(&mut map, self.remember_secs, sid, at);
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<[u8; 16], u32>> {
        match self.revoked.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
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

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<[u8; 16], u32>> {
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
                        Uuid::try_parse(id).is_ok_and(|u| !map.contains_key(u.as_bytes()))
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
        let mut map = self.write();
        map.retain(|_, until| i64::from(*until) >= now);
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

/// Remembers `sid` until `remember_secs` after `revoked_at`.
fn put(map: &mut HashMap<[u8; 16], u32>, remember_secs: i64, sid: &str, revoked_at: i64) {
    if let Ok(id) = Uuid::try_parse(sid) {
        // Unix seconds fit in u32 until 2106; past that it saturates, so a
        // revocation is remembered longer, never shorter.
        let until =
            u32::try_from(revoked_at.saturating_add(remember_secs).max(0)).unwrap_or(u32::MAX);
        let entry = map.entry(*id.as_bytes()).or_insert(until);
        *entry = (*entry).max(until);
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
    fn an_earlier_report_of_a_revocation_never_shortens_it() {
        let r = Revocations::new(60);
        let sid = Uuid::new_v4().to_string();
        r.insert(&sid, 1_000);
        // The same revocation, heard again late from another node's feed.
        r.insert(&sid, 900);
        r.forget_expired(1_059);
        assert_eq!(r.check(&sid), Status::Revoked);
        r.forget_expired(1_061);
        assert_eq!(r.check(&sid), Status::Active);
    }

    #[test]
    fn a_stale_feed_makes_the_answer_unknown() {
        let r = Revocations::new(60);
        r.synced_at_ms
            .store(clock::now_ms() - STALE_AFTER_MS - 10, Ordering::Relaxed);
        assert_eq!(r.check(&Uuid::new_v4().to_string()), Status::Unknown);
    }
}
