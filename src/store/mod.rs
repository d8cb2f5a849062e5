//! Persistence: the [`Store`] trait and its SQL backends. SQL lives here and
//! nowhere else; nothing here knows of HTTP.
//!
//! Both backends share one implementation (`store::sql`), written in the SQL both
//! dialects accept (`$n` parameters, `RETURNING`, `ON CONFLICT`); only the
//! migrations and the pool set-up differ.

mod sql;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::config::Settings;

pub use sql::{PostgresStore, SqliteStore};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (username, email, role) is taken.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A referenced row (role, user) does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The database could not be reached or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else the database reported.
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict("row"),
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound("referenced row")
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// Store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// A user as stored, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Numeric id (the `user_id` claim).
    pub id: i64,
    /// Username as registered.
    pub username: String,
    /// Email, if any.
    pub email: Option<String>,
    /// Full name, if any.
    pub full_name: Option<String>,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// Role names.
    pub roles: Vec<String>,
    /// Permissions granted to the user directly.
    pub permissions: Vec<String>,
    /// Union of the user's own and its roles' permissions, sorted.
    pub effective_permissions: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

/// A user to insert. Text is already validated and the password hashed.
#[derive(Debug, Clone)]
pub struct NewUserRow {
    /// Username.
    pub username: String,
    /// Email.
    pub email: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// PHC (argon2) or bcrypt string.
    pub password_hash: String,
    /// Disabled at creation.
    pub disabled: bool,
    /// Roles, which must exist.
    pub roles: Vec<String>,
    /// Own permissions.
    pub permissions: Vec<String>,
    /// Unix seconds.
    pub now: i64,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New email (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New full name (`Some(None)` clears it).
    pub full_name: Option<Option<String>>,
    /// Disable or enable.
    pub disabled: Option<bool>,
    /// Replace the roles.
    pub roles: Option<Vec<String>>,
    /// Replace the own permissions.
    pub permissions: Option<Vec<String>>,
}

/// A login session on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Session id (the `sid` claim).
    pub id: String,
    /// Owner.
    pub user_id: i64,
    /// `User-Agent` at login.
    pub user_agent: Option<String>,
    /// Client IP at login.
    pub ip: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last refresh.
    pub last_used_at: i64,
    /// The session ends at this time however often it is refreshed.
    pub expires_at: i64,
    /// The scope asked for at login (`None`: every granted permission).
    pub scope: Option<String>,
    /// Set once revoked.
    pub revoked_at: Option<i64>,
}

/// A stored refresh token (by its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRow {
    /// Session it belongs to.
    pub session_id: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Set once used.
    pub used_at: Option<i64>,
}

/// What happened when a refresh token was presented for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was unused and is now spent; the new one is stored.
    Rotated(SessionRow),
    /// Unknown or expired token.
    Unknown,
    /// Already used, at `used_at`; nothing changed.
    AlreadyUsed {
        /// When it was used.
        used_at: i64,
        /// Its session.
        session_id: String,
    },
    /// The session is revoked or past its end.
    SessionEnded,
}

/// A signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Key id (the `kid` header).
    pub kid: String,
    /// `EdDSA`, `ES256` or `RS256`.
    pub algorithm: String,
    /// PKCS#8 (EdDSA, ES256) or PKCS#1 (RS256) DER.
    pub private_key: Vec<u8>,
    /// Public key bytes as the verifier needs them.
    pub public_key: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
    /// Signs from this time on.
    pub activates_at: i64,
    /// Stopped signing at this time (a newer key took over).
    pub retired_at: Option<i64>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Sequence number.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Event name, e.g. `login_ok`.
    pub event: String,
    /// The user concerned.
    pub username: Option<String>,
    /// The session concerned.
    pub session_id: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Free text, never a secret.
    pub detail: Option<String>,
}

/// Everything latchkey keeps.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Runs the embedded migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> StoreResult<()>;

    /// Inserts a user; `Conflict` on a taken username or email.
    async fn create_user(&self, user: NewUserRow) -> StoreResult<UserRow>;
    /// By id.
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<UserRow>>;
    /// By username, case-insensitively.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>>;
    /// By username or else email, case-insensitively, with the password hash.
    async fn user_for_login(&self, login: &str) -> StoreResult<Option<(UserRow, String)>>;
    /// The password hash of a user.
    async fn password_hash(&self, user_id: i64) -> StoreResult<Option<String>>;
    /// A page of users ordered by id, and the total count.
    async fn list_users(&self, limit: i64, offset: i64) -> StoreResult<(Vec<UserRow>, i64)>;
    /// Ids of users changed (or whose roles changed) at or after `since`.
    async fn users_changed_since(&self, since: i64) -> StoreResult<Vec<i64>>;
    /// Number of users.
    async fn count_users(&self) -> StoreResult<i64>;
    /// Replaces the password hash.
    async fn set_password_hash(&self, user_id: i64, hash: &str, now: i64) -> StoreResult<()>;
    /// Applies a patch; `None` when the user does not exist.
    async fn update_user(
        &self,
        user_id: i64,
        patch: UserPatch,
        now: i64,
    ) -> StoreResult<Option<UserRow>>;
    /// Deletes a user; false when it did not exist.
    async fn delete_user(&self, user_id: i64) -> StoreResult<bool>;

    /// Creates or replaces a role.
    async fn put_role(&self, name: &str, permissions: &[String], now: i64) -> StoreResult<()>;
    /// A role's permissions, `None` if it does not exist.
    async fn role(&self, name: &str) -> StoreResult<Option<Vec<String>>>;
    /// Every role and its permissions.
    async fn list_roles(&self) -> StoreResult<Vec<(String, Vec<String>)>>;
    /// Deletes a role (its holders count as changed); false when it did
    /// not exist.
    async fn delete_role(&self, name: &str, now: i64) -> StoreResult<bool>;

    /// Creates a session with its first refresh token (by hash).
    async fn create_session(
        &self,
        session: &SessionRow,
        refresh: &RefreshInsert,
    ) -> StoreResult<()>;
    /// By id.
    async fn session(&self, id: &str) -> StoreResult<Option<SessionRow>>;
    /// A user's sessions that are neither revoked nor ended at `now`.
    async fn active_sessions(&self, user_id: i64, now: i64) -> StoreResult<Vec<SessionRow>>;
    /// Revokes one session; false when it was unknown or already revoked.
    async fn revoke_session(&self, id: &str, now: i64) -> StoreResult<bool>;
    /// Revokes a user's sessions, except `keep`; the ids revoked.
    async fn revoke_user_sessions(
        &self,
        user_id: i64,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<Vec<String>>;
    /// Sessions revoked at or after `since`, with their revocation time.
    async fn revoked_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>>;
    /// Calls `each` with every session revoked at or after `since` and its
    /// revocation time, row by row (a start-up load of a million
    /// revocations never holds them all as rows).
    async fn each_revoked_since(
        &self,
        since: i64,
        each: &mut (dyn for<'a> FnMut(&'a str, i64) + Send),
    ) -> StoreResult<()>;
    /// Spends `hash` and stores `next` in one transaction (see [`Rotation`]).
    async fn rotate_refresh(
        &self,
        hash: &[u8],
        next: &RefreshInsert,
        now: i64,
    ) -> StoreResult<Rotation>;
    /// The refresh token with this hash.
    async fn refresh_token(&self, hash: &[u8]) -> StoreResult<Option<RefreshRow>>;
    /// Deletes sessions and refresh tokens that ended before `before`; the
    /// number of sessions deleted.
    async fn purge_sessions(&self, before: i64) -> StoreResult<u64>;

    /// Every signing key.
    async fn signing_keys(&self) -> StoreResult<Vec<KeyRow>>;
    /// Adds a signing key.
    async fn insert_signing_key(&self, key: &KeyRow) -> StoreResult<()>;
    /// Marks the keys older than `kid` retired at `at` (a new key took over).
    async fn retire_keys_before(&self, kid: &str, at: i64) -> StoreResult<()>;
    /// Deletes keys retired before `before`.
    async fn delete_keys_retired_before(&self, before: i64) -> StoreResult<u64>;

    /// Appends an audit event.
    async fn audit(&self, event: AuditInsert) -> StoreResult<()>;
    /// A page of audit events, newest first, optionally filtered.
    async fn audit_events(
        &self,
        username: Option<&str>,
        event: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<AuditRow>, i64)>;
    /// Deletes audit events older than `before`.
    async fn prune_audit(&self, before: i64) -> StoreResult<u64>;
}

/// A refresh token to store.
#[derive(Debug, Clone)]
pub struct RefreshInsert {
    /// SHA-256 of the token.
    pub hash: Vec<u8>,
    /// Session it belongs to.
    pub session_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// An audit event to store.
#[derive(Debug, Clone, Default)]
pub struct AuditInsert {
    /// Unix seconds.
    pub at: i64,
    /// Event name.
    pub event: String,
    /// The user concerned.
    pub username: Option<String>,
    /// The session concerned.
    pub session_id: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Free text, never a secret.
    pub detail: Option<String>,
}

/// Opens the store `settings.database_url` names and runs its migrations.
pub async fn connect(settings: &Settings) -> StoreResult<Arc<dyn Store>> {
    let timeout = Duration::from_secs(settings.database_timeout);
    let store: Arc<dyn Store> = if settings.database_url.starts_with("sqlite:") {
        Arc::new(
            SqliteStore::connect(
                &settings.database_url,
                settings.database_max_connections,
                timeout,
            )
            .await?,
        )
    } else {
        Arc::new(
            PostgresStore::connect(
                &settings.database_url,
                settings.database_max_connections,
                timeout,
            )
            .await?,
        )
    };
    store.migrate().await?;
    Ok(store)
}
