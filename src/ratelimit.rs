//! Login limiting: failed logins are counted per (username, client IP) and per
//! client IP in a fixed window. Only failures count, and only from the
//! address that made them, so nobody can lock a user out from every address.
//! The counters live in this process, or in Redis when one is configured so
//! that every node shares them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::auth::AuthError;
use crate::broker::Broker;
use crate::clock;

/// Most windows tracked at once; beyond it, expired ones are dropped first
/// and then the oldest, so a flood of random usernames cannot grow memory.
const MAX_TRACKED: usize = 100_000;

/// Counts failed logins.
pub struct LoginLimiter {
    max_per_user: u32,
    max_per_ip: u32,
    window: i64,
    counts: Mutex<HashMap<String, (u32, i64)>>,
    shared: Option<Arc<Broker>>,
}

impl LoginLimiter {
    /// A limiter with the given limits and window (seconds), counting in
    /// `shared` Redis when given, else in this process.
    pub fn new(
        max_per_user: u32,
        max_per_ip: u32,
        window_secs: u64,
        shared: Option<Arc<Broker>>,
    ) -> Self {
        Self {
            max_per_user,
            max_per_ip,
            window: i64::try_from(window_secs).unwrap_or(i64::MAX / 4).max(1),
            counts: Mutex::new(HashMap::new()),
            shared,
        }
    }

    fn keys(login: &str, ip: &str) -> (String, String) {
        let login: String = login.chars().take(256).collect::<String>().to_lowercase();
        (format!("login:u:{ip}:{login}"), format!("login:ip:{ip}"))
    }

    /// Seconds to wait when `login` from `ip` is currently refused.
    pub async fn blocked(&self, login: &str, ip: &str) -> Result<Option<u64>, AuthError> {
        let now = clock::now();
        let (user_key, ip_key) = Self::keys(login, ip);
        if let Some(broker) = &self.shared {
            let keys = [broker.key(&user_key), broker.key(&ip_key)];
            let counts = broker
                .counters(&keys)
                .await
                .map_err(|e| AuthError::Unavailable(e.to_string()))?;
            let over = |(n, ttl): (u32, i64), max: u32| {
                (n >= max).then(|| u64::try_from(ttl).unwrap_or(1).max(1))
            };
            return Ok(
                over(counts[0], self.max_per_user).or_else(|| over(counts[1], self.max_per_ip))
            );
        }
        let counts = self.lock();
        let over = |key: &str, max: u32| {
            counts
                .get(key)
                .filter(|(n, start)| *n >= max && now < start + self.window)
                .map(|(_, start)| u64::try_from(start + self.window - now).unwrap_or(1).max(1))
        };
        Ok(over(&user_key, self.max_per_user).or_else(|| over(&ip_key, self.max_per_ip)))
    }

    /// Counts one failed login.
    pub async fn failed(&self, login: &str, ip: &str) -> Result<(), AuthError> {
        let now = clock::now();
        let (user_key, ip_key) = Self::keys(login, ip);
        if let Some(broker) = &self.shared {
            let keys = [broker.key(&user_key), broker.key(&ip_key)];
            return broker
                .increment(&keys, self.window)
                .await
                .map_err(|e| AuthError::Unavailable(e.to_string()));
        }
        let mut counts = self.lock();
        if counts.len() >= MAX_TRACKED {
            counts.retain(|_, (_, start)| now < *start + self.window);
            if counts.len() >= MAX_TRACKED {
                counts.clear();
            }
        }
        for key in [user_key, ip_key] {
            let entry = counts.entry(key).or_insert((0, now));
            if now >= entry.1 + self.window {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, i64)>> {
        match self.counts.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failures_block_that_username_from_that_address_only() {
        let limiter = LoginLimiter::new(3, 100, 60, None);
        for _ in 0..3 {
            assert_eq!(limiter.blocked("john", "10.0.0.1").await.ok(), Some(None));
            limiter.failed("john", "10.0.0.1").await.ok();
        }
        let wait = limiter.blocked("John", "10.0.0.1").await.ok().flatten();
        assert!(wait.is_some_and(|s| (1..=60).contains(&s)), "{wait:?}");
        assert_eq!(limiter.blocked("john", "10.0.0.2").await.ok(), Some(None));
        assert_eq!(limiter.blocked("jane", "10.0.0.1").await.ok(), Some(None));
    }

    #[tokio::test]
    async fn many_usernames_from_one_address_block_the_address() {
        let limiter = LoginLimiter::new(100, 5, 60, None);
        for i in 0..5 {
            limiter.failed(&format!("user{i}"), "10.0.0.9").await.ok();
        }
        assert!(
            limiter
                .blocked("someone-else", "10.0.0.9")
                .await
                .ok()
                .flatten()
                .is_some()
        );
        assert_eq!(
            limiter.blocked("someone-else", "10.0.0.8").await.ok(),
            Some(None)
        );
    }
}
