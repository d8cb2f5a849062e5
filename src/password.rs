//! Password hashing: argon2id with OWASP's parameters for new hashes, legacy
//! bcrypt (`$2a$`, `$2b$`, `$2y$`, as passlib writes them) verified and
//! flagged for rehashing, and a dummy hash so an unknown username costs the
//! same time as a wrong password.
//!
//! Hashing is CPU-bound for tens of milliseconds: it runs on the blocking
//! pool behind a semaphore sized to the cores, so it never stalls the async
//! executor and a login flood queues instead of starving other requests.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    memory: Arc<WorkingMemory>,
}

impl Hasher {
    /// A hasher allowing `concurrency` hashes at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        return_large_blocks_to_the_os();
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
            memory: Arc::default(),
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
        let mut claim = WorkingMemory::claim(&self.memory);
        let verdict = self
            .run(move || verify_blocking(password.expose(), &hash, &params, &mut claim))
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

/// Has glibc's malloc give every block of 1 MiB or more straight back to
/// the OS when it is freed (once per process).
///
/// Argon2id's working memory is 19 MiB a hash. By default glibc raises its
/// mmap threshold to the size of the first such block freed, after which
/// these blocks come from per-thread heaps that keep them once freed: a
/// server that had handled a few logins held 130 MB instead of 16 MB
/// (bench/RESULTS.md). A fixed threshold turns that adaptation off, so the
/// memory [`WorkingMemory`] frees and that of new hashes goes back at once.
fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator parameters; it has no
            // memory-safety preconditions and is thread-safe in glibc.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
            }
        });
    }
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

fn verify_blocking(password: &str, hash: &str, ours: &Params, memory: &mut Claim) -> Verdict {
    if is_bcrypt(hash) {
        return match bcrypt::verify(password, hash) {
            Ok(true) => Verdict::Match { rehash: true },
            _ => Verdict::Mismatch,
        };
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return Verdict::Mismatch;
    };
    let Some(params) = argon2_matches(password.as_bytes(), &parsed, memory) else {
        return Verdict::Mismatch;
    };
    let weaker = parsed.algorithm.as_str() != "argon2id"
        || params.m_cost() < ours.m_cost()
        || params.t_cost() < ours.t_cost();
    Verdict::Match { rehash: weaker }
}

/// The stored hash's parameters when `password` matches it: the argon2
/// crate's own verification (same algorithm, version, parameters and salt,
/// outputs compared in constant time), computed in reused working memory.
fn argon2_matches(password: &[u8], stored: &PasswordHash, memory: &mut Claim) -> Option<Params> {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return None;
    };
    let algorithm = Algorithm::try_from(stored.algorithm.as_str()).ok()?;
    let version = stored
        .version
        .map_or(Ok(Version::default()), Version::try_from)
        .ok()?;
    let params = Params::try_from(stored).ok()?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let mut blocks = memory.take(params.block_count())?;
    let computed = argon2.hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..]);
    memory.give_back(blocks);
    computed.ok()?;
    (Output::new(&out).ok()? == *expected).then_some(params)
}

/// Argon2 working memory (19 MiB with our parameters) handed from one
/// verification to the next while logins wait for a hashing permit, and
/// freed once none is waiting. Allocating and zeroing it afresh for every
/// check held a login flood on one core to 40 logins/s, against 54 with
/// reuse (bench/RESULTS.md); keeping it for good would hold 19 MiB per
/// hashing thread in an idle server.
#[derive(Default)]
struct WorkingMemory {
    /// At most one buffer per hash running at once (`HASH_CONCURRENCY`).
    spare: Mutex<Vec<Vec<Block>>>,
    /// Live claims: verifications waiting for a permit or running.
    claims: AtomicUsize,
}

/// One verification's claim on the working memory, from before it waits for
/// a permit until it is done (or cancelled).
struct Claim {
    memory: Arc<WorkingMemory>,
    returned: Option<Vec<Block>>,
}

impl WorkingMemory {
    fn claim(memory: &Arc<WorkingMemory>) -> Claim {
        memory.claims.fetch_add(1, Ordering::AcqRel);
        Claim {
            memory: memory.clone(),
            returned: None,
        }
    }

    fn spare(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
        self.spare.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends a claim. Its memory is kept when another claim is live, else
    /// freed with every spare; counted under the lock, so of two claims
    /// ending together exactly one sees the other.
    fn release(&self, blocks: Option<Vec<Block>>) {
        let mut spare = self.spare();
        let others = self.claims.fetch_sub(1, Ordering::AcqRel) - 1;
        if others > 0 {
            spare.extend(blocks);
        } else {
            let freed = std::mem::take(&mut *spare);
            drop(spare);
            drop((blocks, freed));
        }
    }
}

impl Claim {
    /// `blocks` blocks of memory: a spare of that size, or new (`None` when
    /// the allocator refuses, as for a stored hash asking for terabytes).
    fn take(&mut self, blocks: usize) -> Option<Vec<Block>> {
        let mut spare = self.memory.spare();
        if let Some(i) = spare.iter().position(|m| m.len() == blocks) {
            return Some(spare.swap_remove(i));
        }
        drop(spare);
        let mut memory = Vec::new();
        memory.try_reserve_exact(blocks).ok()?;
        memory.resize(blocks, Block::new());
        Some(memory)
    }

    /// Hands `blocks` back; they are kept or freed when the claim ends.
    fn give_back(&mut self, blocks: Vec<Block>) {
        self.returned = Some(blocks);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.memory.release(self.returned.take());
    }
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

    #[tokio::test]
    async fn checks_in_reused_memory_agree_with_the_argon2_crate() {
        use argon2::PasswordVerifier as _;
        let weak = |m, t| Params::new(m, t, 1, None).expect("params");
        let hashes: Vec<String> = [
            (Algorithm::Argon2id, Version::V0x13, weak(1024, 2)),
            (Algorithm::Argon2i, Version::V0x13, weak(1024, 1)),
            (Algorithm::Argon2d, Version::V0x10, weak(2048, 1)),
            (Algorithm::Argon2id, Version::V0x13, Params::default()),
        ]
        .into_iter()
        .map(|(a, v, p)| {
            Argon2::new(a, v, p)
                .hash_password(b"right-password")
                .expect("hash")
                .to_string()
        })
        .collect();
        let hasher = Hasher::new(1);
        // Queued at once on one permit, so each check runs in memory the
        // previous one (of the same size or another) left behind.
        let mut checks = Vec::new();
        for hash in &hashes {
            for password in ["right-password", "wrong-password", ""] {
                let expected = Argon2::default()
                    .verify_password(password.as_bytes(), hash.as_str())
                    .is_ok();
                let hasher = hasher.clone();
                let hash = hash.clone();
                checks.push(tokio::spawn(async move {
                    let verdict = hasher.verify(secret(password), Some(hash.clone())).await;
                    (verdict, expected, hash, password)
                }));
            }
        }
        for check in checks {
            let (verdict, expected, hash, password) = check.await.expect("check");
            assert_eq!(
                matches!(verdict, Verdict::Match { .. }),
                expected,
                "{password:?} against {hash}"
            );
        }
        assert!(
            hasher.memory.spare().is_empty(),
            "the last check frees the working memory"
        );
    }

    #[test]
    fn working_memory_is_kept_only_while_another_check_wants_it() {
        let memory = Arc::new(WorkingMemory::default());
        let spares = || memory.spare().len();
        let mut first = WorkingMemory::claim(&memory);
        let mut second = WorkingMemory::claim(&memory);
        let blocks = first.take(8).expect("memory");
        assert_eq!(blocks.len(), 8);
        first.give_back(blocks);
        drop(first);
        assert_eq!(spares(), 1, "kept for the second");
        let blocks = second.take(8).expect("memory");
        assert_eq!(spares(), 0, "handed over");
        second.give_back(blocks);
        drop(second);
        assert_eq!(spares(), 0, "nobody else waits");

        // A claim that ends without running (a cancelled login) frees what
        // it was keeping for.
        let mut running = WorkingMemory::claim(&memory);
        let waiting = WorkingMemory::claim(&memory);
        let blocks = running.take(8).expect("memory");
        running.give_back(blocks);
        drop(running);
        assert_eq!(spares(), 1);
        drop(waiting);
        assert_eq!(spares(), 0);
    }

    #[tokio::test]
    async fn a_stored_hash_asking_for_terabytes_is_a_mismatch() {
        // m = u32::MAX KiB: 4 TiB, refused by the allocator unless the
        // kernel promises any amount of memory (overcommit mode 1).
        if std::fs::read_to_string("/proc/sys/vm/overcommit_memory").is_ok_and(|m| m.trim() == "1")
        {
            println!("skipped: the kernel overcommits without limit");
            return;
        }
        let greedy = format!(
            "$argon2id$v=19$m={},t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            u32::MAX
        );
        assert!(is_supported_hash(&greedy));
        let hasher = Hasher::new(1);
        assert_eq!(
            hasher.verify(secret("x"), Some(greedy)).await,
            Verdict::Mismatch
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
