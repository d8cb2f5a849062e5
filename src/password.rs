//! Password hashing: argon2id with OWASP's parameters for new hashes, legacy
//! bcrypt (`$2a$`, `$2b$`, `$2y$`, as passlib writes them) verified and
//! flagged for rehashing, and a dummy hash so an unknown username costs the
//! same time as a wrong password.
//!
//! Hashing is CPU-bound for tens of milliseconds: it runs on the blocking
//! pool behind a semaphore sized to the cores, so it never stalls the async
//! executor and a login flood queues instead of starving other requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::config::Secret;

/// Why a hash could not be made or checked (never a wrong password: that is
/// [`Verdict::Mismatch`]).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The hashing task was cancelled or panicked.
    #[error("password hashing task failed")]
    Task,
    /// The hash function refused its input.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The password matches; `rehash` is true when the stored hash is legacy
    /// bcrypt or argon2 with weaker parameters than ours.
    Match {
        /// Store a fresh argon2id hash of this password.
        rehash: bool,
    },
    /// Wrong password, unknown user, or an unreadable stored hash.
    Mismatch,
}

/// Hashes and verifies passwords off the async executor.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use latchkey::{config::Secret, password::{Hasher, Verdict}};
/// let hasher = Hasher::new(2);
/// let hash = hasher.hash(Secret::new("correct horse".into())).await.unwrap();
/// let ok = hasher.verify(Secret::new("correct horse".into()), Some(hash)).await;
/// assert_eq!(ok, Verdict::Match { rehash: false });
/// # });
/// ```
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    params: Params,
    dummy: Arc<str>,
    verified: Arc<AtomicU64>,
}

impl Hasher {
    /// A hasher allowing `concurrency` hashes at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        let params = Params::default();
        // Verifying against any well-formed hash with our parameters costs
        // one full hash, which is all the dummy is for; a fixed one (zero
        // salt and output, matched by no password) spares every start a
        // hash. Unknown users are refused whatever the verification says.
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        );
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            params,
            dummy: dummy.into(),
            verified: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The argon2id PHC string of `password`.
    pub async fn hash(&self, password: Secret) -> Result<String, PasswordError> {
        let params = self.params.clone();
        self.run(move || {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(password.expose().as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| PasswordError::Hash(e.to_string()))
        })
        .await?
    }

    /// Checks `password` against `stored`; with `None` (no such user) it
    /// checks against a dummy hash so both cases take the same time.
    pub async fn verify(&self, password: Secret, stored: Option<String>) -> Verdict {
        let params = self.params.clone();
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy.to_string());
        self.verified.fetch_add(1, Ordering::Relaxed);
        let verdict = self
            .run(move || verify_blocking(password.expose(), &hash, &params))
            .await
            .unwrap_or(Verdict::Mismatch);
        if known { verdict } else { Verdict::Mismatch }
    }

    /// How many password checks this hasher has started, against stored
    /// and dummy hashes alike: an unknown user costs one check, exactly as
    /// a wrong password does.
    pub fn verifications(&self) -> u64 {
        self.verified.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Task)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            yield_to_requests();
            span.in_scope(work)
        })
        .instrument(tracing::Span::current())
        .await
        .map_err(|_| PasswordError::Task)
    }
}

/// Lowers the calling blocking-pool thread's CPU priority (once per thread),
/// so that while hashes keep every core busy, the threads answering other
/// requests still get the CPU the moment they need it.
fn yield_to_requests() {
    thread_local!(static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    LOWERED.with(|lowered| {
        if !lowered.get() {
            lowered.set(true);
            #[cfg(target_os = "linux")]
            // SAFETY: setpriority has no memory-safety preconditions; on Linux
            // `who = 0` with PRIO_PROCESS names the calling thread only.
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, 0, 10);
            }
        }
    });
}

/// True when `hash` is a bcrypt hash in one of the prefixes passlib writes.
pub fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

/// True when `hash` is a hash latchkey can verify (argon2 PHC or bcrypt).
pub fn is_supported_hash(hash: &str) -> bool {
    if is_bcrypt(hash) {
        return hash.len() == 60;
    }
    PasswordHash::new(hash).is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
}

fn verify_blocking(password: &str, hash: &str, ours: &Params) -> Verdict {
    if is_bcrypt(hash) {
        return match bcrypt::verify(password, hash) {
            Ok(true) => Verdict::Match { rehash: true },
            _ => Verdict::Mismatch,
        };
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return Verdict::Mismatch;
    };
    if Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verdict::Mismatch;
    }
    let weaker = match Params::try_from(&parsed) {
        Ok(p) => {
            parsed.algorithm.as_str() != "argon2id"
                || p.m_cost() < ours.m_cost()
                || p.t_cost() < ours.t_cost()
        }
        Err(_) => true,
    };
    Verdict::Match { rehash: weaker }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret::new(s.to_string())
    }

    #[tokio::test]
    async fn argon2id_hash_uses_owasp_parameters_and_verifies() {
        let hasher = Hasher::new(1);
        let hash = hasher.hash(secret("s3cret-pass")).await.expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            hasher
                .verify(secret("s3cret-pass"), Some(hash.clone()))
                .await,
            Verdict::Match { rehash: false }
        );
        assert_eq!(
            hasher.verify(secret("wrong"), Some(hash)).await,
            Verdict::Mismatch
        );
    }

    #[tokio::test]
    async fn passlib_bcrypt_hashes_verify_and_ask_for_a_rehash() {
        // FastAPI's documented passlib hash of "secret".
        let passlib = "$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW";
        let hasher = Hasher::new(1);
        assert_eq!(
            hasher.verify(secret("secret"), Some(passlib.into())).await,
            Verdict::Match { rehash: true }
        );
        assert_eq!(
            hasher.verify(secret("Secret"), Some(passlib.into())).await,
            Verdict::Mismatch
        );
        for prefix in ["$2a$", "$2y$"] {
            let variant = passlib.replacen("$2b$", prefix, 1);
            assert_eq!(
                hasher.verify(secret("secret"), Some(variant)).await,
                Verdict::Match { rehash: true },
                "{prefix}"
            );
        }
    }

    #[tokio::test]
    async fn weaker_argon2_parameters_ask_for_a_rehash() {
        let weak = Params::new(1024, 1, 1, None).expect("params");
        let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, weak)
            .hash_password(b"pw-123456")
            .expect("hash")
            .to_string();
        let hasher = Hasher::new(1);
        assert_eq!(
            hasher.verify(secret("pw-123456"), Some(hash)).await,
            Verdict::Match { rehash: true }
        );
    }

    #[tokio::test]
    async fn unknown_user_and_garbage_hashes_never_match() {
        let hasher = Hasher::new(1);
        assert_eq!(hasher.verify(secret("x"), None).await, Verdict::Mismatch);
        assert_eq!(
            hasher.verify(secret("x"), Some("fakehashedx".into())).await,
            Verdict::Mismatch
        );
        assert_eq!(
            hasher.verify(secret(""), Some(String::new())).await,
            Verdict::Mismatch
        );
    }

    #[test]
    fn the_dummy_hash_costs_a_full_verification() {
        let hasher = Hasher::new(1);
        let parsed = PasswordHash::new(&hasher.dummy).expect("the dummy parses");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&parsed).expect("params");
        let ours = &hasher.params;
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (ours.m_cost(), ours.t_cost(), ours.p_cost())
        );
    }

    #[test]
    fn supported_hashes_are_recognised() {
        assert!(is_supported_hash(
            "$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW"
        ));
        assert!(!is_supported_hash("fakehashedsecret"));
        assert!(!is_supported_hash("$2b$12$short"));
    }
}
