//! In-process caches on the protected-request path, kept exactly correct:
//!
//! - verified tokens: a token's signature and claims never change, so a
//!   verified token is remembered (by its SHA-256) until it expires; `exp`
//!   and `nbf` are still checked on every use, and revocation is checked
//!   separately on every request;
//! - users: the user rows behind tokens, dropped whenever the user changes
//!   here or (through the sync loop's poll of `updated_at`) on another node.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use crate::store::UserRow;
use crate::token::Claims;

/// Most tokens remembered; past it, expired ones go first, then all.
const MAX_TOKENS: usize = 50_000;
/// Most users remembered.
const MAX_USERS: usize = 100_000;

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    match lock.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    match lock.read() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Tokens whose signature and claims were verified.
#[derive(Default)]
pub struct TokenCache {
    verified: RwLock<HashMap<[u8; 32], Arc<Claims>>>,
}

impl TokenCache {
    fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The claims of an already-verified token that is still within its
    /// validity window at `now` (with `leeway` seconds).
    pub fn get(&self, token: &str, now: i64, leeway: i64) -> Option<Arc<Claims>> {
        let claims = read(&self.verified).get(&Self::key(token)).cloned()?;
        (claims.exp.saturating_add(leeway) > now && claims.nbf.saturating_sub(leeway) <= now)
            .then_some(claims)
    }

    /// Remembers a verified token.
    pub fn put(&self, token: &str, claims: Arc<Claims>, now: i64) {
        let mut map = write(&self.verified);
        if map.len() >= MAX_TOKENS {
            map.retain(|_, c| c.exp > now);
            if map.len() >= MAX_TOKENS {
                map.clear();
            }
        }
        map.insert(Self::key(token), claims);
    }

    /// Number of remembered tokens.
    pub fn len(&self) -> usize {
        read(&self.verified).len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Users by id.
#[derive(Default)]
pub struct UserCache {
    users: RwLock<HashMap<i64, Arc<UserRow>>>,
}

impl UserCache {
    /// A remembered user.
    pub fn get(&self, id: i64) -> Option<Arc<UserRow>> {
        read(&self.users).get(&id).cloned()
    }

    /// Remembers a user as just read from the store.
    pub fn put(&self, user: Arc<UserRow>) {
        let mut map = write(&self.users);
        if map.len() >= MAX_USERS {
            map.clear();
        }
        map.insert(user.id, user);
    }

    /// Forgets users that changed.
    pub fn invalidate(&self, ids: &[i64]) {
        if ids.is_empty() {
            return;
        }
        let mut map = write(&self.users);
        for id in ids {
            map.remove(id);
        }
    }

    /// Forgets every user (a role changed).
    pub fn clear(&self) {
        write(&self.users).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Arc<Claims> {
        Arc::new(Claims {
            sub: "john".into(),
            user_id: 1,
            sid: "00000000-0000-0000-0000-000000000001".into(),
            jti: "j".into(),
            iat: 0,
            nbf: 0,
            exp,
            iss: "latchkey".into(),
            aud: None,
            roles: vec![],
            permissions: vec![],
            scope: String::new(),
        })
    }

    #[test]
    fn a_cached_token_is_refused_once_expired() {
        let cache = TokenCache::default();
        cache.put("t", claims(100), 0);
        assert!(cache.get("t", 99, 0).is_some());
        assert!(cache.get("t", 100, 0).is_none());
        assert!(cache.get("t", 120, 30).is_some());
        assert!(cache.get("other", 50, 0).is_none());
    }

    #[test]
    fn extreme_claim_times_do_not_overflow() {
        let cache = TokenCache::default();
        cache.put("t", claims(i64::MAX), 0);
        assert!(cache.get("t", 1, i64::MAX).is_some());
    }

    #[test]
    fn invalidated_users_are_forgotten() {
        let cache = UserCache::default();
        let user = UserRow {
            id: 7,
            username: "u".into(),
            email: None,
            full_name: None,
            disabled: false,
            roles: vec![],
            permissions: vec![],
            effective_permissions: vec![],
            created_at: 0,
            updated_at: 0,
        };
        cache.put(Arc::new(user));
        assert!(cache.get(7).is_some());
        cache.invalidate(&[7]);
        assert!(cache.get(7).is_none());
    }
}
