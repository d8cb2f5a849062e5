//! The authentication service: logins, refresh-token rotation, logout,
//! verifying a presented access token, registration and password changes.
//! Plain Rust over the store, the hasher and the token service; the HTTP
//! layer and the CLI both call it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::broker::Broker;
use crate::cache::{TokenCache, UserCache};
use crate::clock;
use crate::config::{Registration, Secret, Settings};
use crate::password::{Hasher, Verdict};
use crate::ratelimit::LoginLimiter;
use crate::revocation::{Revocations, Status};
use crate::store::{
    AuditInsert, NewUserRow, RefreshInsert, Rotation, SessionRow, Store, StoreError, UserPatch,
    UserRow,
};
use crate::telemetry;
use crate::token::{self, Claims, Grant, TokenError, TokenService, refresh};
use crate::user::{self, Email, Invalid, Permission, RoleName, Username};

/// Why an authentication step failed; the HTTP layer maps each to the
/// contract's answer in one place.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password.
    #[error("incorrect username or password")]
    BadCredentials,
    /// The user is disabled.
    #[error("inactive user")]
    Inactive,
    /// Too many failed logins; retry after this many seconds.
    #[error("too many login attempts")]
    RateLimited(u64),
    /// Unknown, expired, spent or reused refresh token.
    #[error("invalid refresh token")]
    InvalidRefresh,
    /// Refresh token used moments ago (another tab, a retry).
    #[error("refresh token already used")]
    RefreshAlreadyUsed,
    /// No credentials were presented.
    #[error("not authenticated")]
    NotAuthenticated,
    /// The token's session was revoked.
    #[error("token has been revoked")]
    Revoked,
    /// The token is not valid.
    #[error("could not validate credentials: {0}")]
    InvalidToken(&'static str),
    /// The caller lacks a permission.
    #[error("permission {0:?} required")]
    PermissionRequired(String),
    /// Refused by policy (registration closed, CSRF...).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// A request the caller must change (wrong current password...).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// A unique value is taken.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The thing named does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A request value is invalid: (field, message).
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, String),
    /// A store this request needs is unreachable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Anything else; logged, answered 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => AuthError::Conflict(what),
            StoreError::NotFound(what) => AuthError::NotFound(what),
            StoreError::Unavailable(e) => AuthError::Unavailable(e),
            StoreError::Database(e) => AuthError::Internal(e),
        }
    }
}

impl From<TokenError> for AuthError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(why) => AuthError::InvalidToken(why),
            TokenError::Keys(e) => AuthError::Internal(e.to_string()),
        }
    }
}

/// Results of this layer.
pub type AuthResult<T> = Result<T, AuthError>;

/// Who is asking: recorded on sessions and audit events.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// Client IP.
    pub ip: Option<String>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
}

/// A successful login or refresh.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The opaque refresh token (give it to the client once).
    pub refresh_token: String,
    /// The new token's claims.
    pub claims: Claims,
    /// The scope asked for at login, if any.
    pub requested_scope: Option<String>,
}

/// An active token, as [`Auth::introspect`] found it.
#[derive(Debug, Clone)]
pub enum Introspected {
    /// A valid, unrevoked access token of an active user.
    Access(Claims),
    /// An unused, unexpired refresh token of a live session.
    Refresh {
        /// Username.
        username: String,
        /// User id.
        user_id: i64,
        /// Session id.
        session_id: String,
        /// When it stops being usable.
        expires_at: i64,
        /// The user's roles.
        roles: Vec<String>,
        /// What the next access token would grant.
        permissions: Vec<String>,
    },
}

/// A user to create.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Username.
    pub username: String,
    /// Plain password (hashed here).
    pub password: String,
    /// Email.
    pub email: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// Created disabled.
    pub disabled: bool,
    /// Roles (must exist).
    pub roles: Vec<String>,
    /// Own permissions.
    pub permissions: Vec<String>,
}

/// The authentication service.
pub struct Auth {
    /// Settings the server runs with.
    pub settings: Arc<Settings>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Password hashing.
    pub hasher: Hasher,
    /// Access tokens.
    pub tokens: TokenService,
    /// Revoked sessions.
    pub revocations: Arc<Revocations>,
    /// Failed-login limits.
    pub limiter: LoginLimiter,
    /// When the keys were last re-read because of an unknown `kid`.
    pub keys_reloaded_at_ms: AtomicI64,
    /// Verified tokens.
    pub token_cache: TokenCache,
    /// Redis, when configured.
    pub broker: Option<Arc<Broker>>,
    /// Users behind tokens.
    pub user_cache: UserCache,
}

impl Auth {
    /// Checks a password login and opens a session.
    pub async fn login(
        &self,
        login: &str,
        password: Secret,
        scope: Option<&str>,
        client: &Client,
    ) -> AuthResult<Issued> {
        let ip = client.ip.as_deref().unwrap_or("unknown");
        if let Some(retry_after) = self.limiter.blocked(login, ip).await? {
            telemetry::count("login_rate_limited_total", None);
            self.audit("login_rate_limited", Some(login), None, client, None)
                .await;
            return Err(AuthError::RateLimited(retry_after));
        }
        let found = if login.is_empty() || login.len() > 256 {
            None
        } else {
            self.store.user_for_login(login).await?
        };
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let verdict = self.hasher.verify(password.clone(), hash).await;
        let (user, rehash) = match (user, verdict) {
            (Some(user), Verdict::Match { rehash }) => (user, rehash),
            _ => {
                telemetry::count("logins_total", Some("failed"));
                self.limiter.failed(login, ip).await?;
                self.audit("login_failed", Some(login), None, client, None)
                    .await;
                return Err(AuthError::BadCredentials);
            }
        };
        if user.disabled {
            telemetry::count("logins_total", Some("inactive"));
            self.audit("login_inactive", Some(&user.username), None, client, None)
                .await;
            return Err(AuthError::Inactive);
        }
        if rehash {
            self.upgrade_hash(user.id, password);
        }
        let issued = self.open_session(&user, scope, client).await?;
        telemetry::count("logins_total", Some("ok"));
        self.audit(
            "login_ok",
            Some(&user.username),
            Some(&issued.claims.sid),
            client,
            None,
        )
        .await;
        Ok(issued)
    }

    /// Stores a fresh argon2id hash in the background (legacy or weak hash).
    fn upgrade_hash(&self, user_id: i64, password: Secret) {
        let hasher = self.hasher.clone();
        let store = self.store.clone();
        tokio::spawn(async move {
            match hasher.hash(password).await {
                Ok(hash) => {
                    if let Err(e) = store.set_password_hash(user_id, &hash, clock::now()).await {
                        tracing::warn!(error = %e, user_id, "could not store upgraded password hash");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not upgrade password hash"),
            }
        });
    }

    async fn open_session(
        &self,
        user: &UserRow,
        scope: Option<&str>,
        client: &Client,
    ) -> AuthResult<Issued> {
        let now = clock::now();
        let scope = scope
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let session = SessionRow {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user.id,
            user_agent: client.user_agent.clone().map(|ua| truncate(ua, 512)),
            ip: client.ip.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now + self.settings.session_max_secs(),
            scope,
            revoked_at: None,
        };
        let fresh = refresh::generate();
        let insert = RefreshInsert {
            hash: fresh.hash,
            session_id: session.id.clone(),
            created_at: now,
            expires_at: (now + self.settings.refresh_ttl_secs()).min(session.expires_at),
        };
        self.store.create_session(&session, &insert).await?;
        self.issue(user, &session, fresh.token, now)
    }

    fn issue(
        &self,
        user: &UserRow,
        session: &SessionRow,
        refresh_token: String,
        now: i64,
    ) -> AuthResult<Issued> {
        let permissions =
            token::narrow_scope(&user.effective_permissions, session.scope.as_deref());
        let (access_token, claims) = self.tokens.issue(
            &Grant {
                username: &user.username,
                user_id: user.id,
                session_id: &session.id,
                roles: &user.roles,
                permissions: &permissions,
                not_after: session.expires_at,
            },
            now,
        )?;
        Ok(Issued {
            expires_in: claims.exp - now,
            access_token,
            refresh_token,
            claims,
            requested_scope: session.scope.clone(),
        })
    }

    /// Spends a refresh token and issues a new pair (see the contract's
    /// reuse rules).
    pub async fn refresh(&self, presented: &str, client: &Client) -> AuthResult<Issued> {
        if !refresh::looks_valid(presented) {
            return Err(AuthError::InvalidRefresh);
        }
        let now = clock::now();
        let fresh = refresh::generate();
        let next = RefreshInsert {
            hash: fresh.hash,
            session_id: String::new(),
            created_at: now,
            expires_at: now + self.settings.refresh_ttl_secs(),
        };
        let rotation = self
            .store
            .rotate_refresh(&refresh::hash(presented), &next, now)
            .await?;
        match rotation {
            Rotation::Rotated(session) => {
                // The session was live in the store, and disabling a user
                // revokes its sessions first, so the cached row is enough.
                let user = self.user_by_id(session.user_id).await?;
                let Some(user) = user.filter(|u| !u.disabled) else {
                    telemetry::count("refreshes_total", Some("refused"));
                    self.revoke(&session.id, now).await?;
                    self.audit(
                        "refresh_refused",
                        None,
                        Some(&session.id),
                        client,
                        Some("inactive user"),
                    )
                    .await;
                    return Err(AuthError::InvalidRefresh);
                };
                telemetry::count("refreshes_total", Some("ok"));
                self.issue(&user, &session, fresh.token, now)
            }
            Rotation::AlreadyUsed {
                used_at,
                session_id,
            } => {
                let interval =
                    i64::try_from(self.settings.refresh_reuse_interval).unwrap_or(i64::MAX);
                if interval > 0 && now - used_at < interval {
                    telemetry::count("refreshes_total", Some("already_used"));
                    return Err(AuthError::RefreshAlreadyUsed);
                }
                telemetry::count("refresh_reuse_detected_total", None);
                self.revoke(&session_id, now).await?;
                let username = self.session_username(&session_id).await;
                self.audit(
                    "refresh_reuse_detected",
                    username.as_deref(),
                    Some(&session_id),
                    client,
                    None,
                )
                .await;
                Err(AuthError::InvalidRefresh)
            }
            Rotation::SessionEnded => {
                telemetry::count("refreshes_total", Some("refused"));
                self.audit("refresh_refused", None, None, client, Some("session ended"))
                    .await;
                Err(AuthError::InvalidRefresh)
            }
            Rotation::Unknown => {
                telemetry::count("refreshes_total", Some("refused"));
                Err(AuthError::InvalidRefresh)
            }
        }
    }

    async fn session_username(&self, session_id: &str) -> Option<String> {
        let session = self.store.session(session_id).await.ok()??;
        let user = self.store.user_by_id(session.user_id).await.ok()??;
        Some(user.username)
    }

    /// Verifies an access token and its session (no database round trip,
    /// except to re-read the keys when a token names a `kid` this node has
    /// not seen yet, at most once a second).
    pub async fn authenticate(&self, token: &str) -> AuthResult<Claims> {
        let now = clock::now();
        let leeway = i64::try_from(self.settings.clock_leeway).unwrap_or(0);
        let claims = match self.token_cache.get(token, now, leeway) {
            Some(claims) => Claims::clone(&claims),
            None => {
                let claims = match self.tokens.verify(token) {
                    Err(TokenError::Invalid("unknown kid")) if self.may_reload_keys() => {
                        self.reload_keys().await;
                        self.tokens.verify(token)?
                    }
                    other => other?,
                };
                self.token_cache.put(token, Arc::new(claims.clone()), now);
                claims
            }
        };
        match self.revocations.check(&claims.sid) {
            Status::Active => Ok(claims),
            Status::Revoked => Err(AuthError::Revoked),
            Status::Unknown => Err(AuthError::Unavailable("revocation state unknown".into())),
        }
    }

    fn may_reload_keys(&self) -> bool {
        let now = clock::now_ms();
        let last = self.keys_reloaded_at_ms.load(Ordering::Relaxed);
        now - last >= 1_000
            && self
                .keys_reloaded_at_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Re-reads the signing keys from the store (rotation by another node).
    pub async fn reload_keys(&self) {
        if let Err(e) = self
            .tokens
            .keys()
            .reload(self.store.as_ref(), &self.settings, clock::now())
            .await
        {
            tracing::warn!(error = %e, "could not reload signing keys");
        }
    }

    /// A fresh access token for the same session as `claims` (the
    /// tutorials' sliding `new_token`), with the user's current grants.
    pub async fn reissue(&self, claims: &Claims) -> AuthResult<Issued> {
        let user = self.active_user(claims).await?;
        let session = self
            .store
            .session(&claims.sid)
            .await?
            .filter(|s| s.revoked_at.is_none())
            .ok_or(AuthError::Revoked)?;
        self.issue(&user, &session, String::new(), clock::now())
    }

    /// A user by id, from this node's cache when it holds the row.
    async fn user_by_id(&self, id: i64) -> AuthResult<Option<Arc<UserRow>>> {
        if let Some(user) = self.user_cache.get(id) {
            return Ok(Some(user));
        }
        let Some(user) = self.store.user_by_id(id).await? else {
            return Ok(None);
        };
        let user = Arc::new(user);
        self.user_cache.put(user.clone());
        Ok(Some(user))
    }

    /// The token's user, refused when deleted (401) or disabled (400).
    pub async fn active_user(&self, claims: &Claims) -> AuthResult<Arc<UserRow>> {
        let user = self
            .user_by_id(claims.user_id)
            .await?
            .ok_or(AuthError::InvalidToken("user gone"))?;
        if user.username != claims.sub {
            return Err(AuthError::InvalidToken("user gone"));
        }
        if user.disabled {
            return Err(AuthError::Inactive);
        }
        Ok(user)
    }

    /// One round of learning what other nodes changed: revocations and
    /// users. Runs every [`crate::revocation::POLL`].
    ///
    /// Users are read before revocations: a disable or delete revokes the
    /// sessions first, so a node that sees the user change has already seen
    /// the revocations too.
    pub async fn sync(&self) {
        match self.store.users_changed_since(clock::now() - 5).await {
            Ok(ids) => self.user_cache.invalidate(&ids),
            Err(e) => tracing::warn!(error = %e, "user change sync failed"),
        }
        if let Err(e) = self.revocations.sync(self.store.as_ref()).await {
            tracing::warn!(error = %e, "revocation sync failed");
        }
    }

    /// Creates or replaces a role.
    pub async fn put_role(&self, name: &RoleName, permissions: &[String]) -> AuthResult<()> {
        self.store
            .put_role(name.as_str(), permissions, clock::now())
            .await?;
        self.user_cache.clear();
        Ok(())
    }

    /// Deletes a role; false when it did not exist.
    pub async fn delete_role(&self, name: &str) -> AuthResult<bool> {
        let deleted = self.store.delete_role(name, clock::now()).await?;
        self.user_cache.clear();
        Ok(deleted)
    }

    /// Revokes one session durably, then in this node's memory.
    pub async fn revoke(&self, session_id: &str, now: i64) -> AuthResult<bool> {
        let revoked = self.store.revoke_session(session_id, now).await?;
        self.revocations.insert(session_id, now);
        if revoked {
            telemetry::count("revocations_total", None);
        }
        self.announce(&[session_id.to_string()], now).await;
        Ok(revoked)
    }

    /// Tells other nodes at once through Redis; the database poll covers
    /// them when Redis is down, so a failure here is only logged.
    async fn announce(&self, session_ids: &[String], now: i64) {
        let Some(broker) = &self.broker else { return };
        let ttl = self.settings.access_ttl_secs()
            + i64::try_from(self.settings.clock_leeway).unwrap_or(0);
        for sid in session_ids {
            if let Err(e) = broker.publish_revocation(sid, now, ttl).await {
                tracing::warn!(error = %e, "could not announce a revocation through Redis");
                return;
            }
        }
    }

    /// Revokes every session of a user except `keep`; how many.
    pub async fn revoke_user(&self, user_id: i64, keep: Option<&str>) -> AuthResult<usize> {
        let now = clock::now();
        let ids = self.store.revoke_user_sessions(user_id, keep, now).await?;
        for id in &ids {
            self.revocations.insert(id, now);
            telemetry::count("revocations_total", None);
        }
        self.announce(&ids, now).await;
        Ok(ids.len())
    }

    /// RFC 7009: revokes the session an access or refresh token belongs
    /// to. Unknown, expired and malformed tokens revoke nothing and are not
    /// an error (the caller cannot tell them apart from revoked ones).
    pub async fn revoke_token(&self, token: &str, client: &Client) -> AuthResult<()> {
        let session_id = if refresh::looks_valid(token) {
            self.store
                .refresh_token(&refresh::hash(token))
                .await?
                .map(|row| row.session_id)
        } else {
            // Only a token this server signed and that has not expired names
            // a session; anything else is ignored. A key another node has
            // just started signing with is looked for, as when verifying.
            let claims = match self.tokens.verify(token) {
                Err(TokenError::Invalid("unknown kid")) if self.may_reload_keys() => {
                    self.reload_keys().await;
                    self.tokens.verify(token)
                }
                other => other,
            };
            claims.ok().map(|claims| claims.sid)
        };
        let Some(session_id) = session_id else {
            return Ok(());
        };
        if self.revoke(&session_id, clock::now()).await? {
            let username = self.session_username(&session_id).await;
            self.audit(
                "token_revoked",
                username.as_deref(),
                Some(&session_id),
                client,
                None,
            )
            .await;
        }
        Ok(())
    }

    /// RFC 7662: what a presented token is worth now (`None`: inactive).
    pub async fn introspect(&self, token: &str) -> AuthResult<Option<Introspected>> {
        if refresh::looks_valid(token) {
            return self.introspect_refresh(token).await;
        }
        let claims = match self.authenticate(token).await {
            Ok(claims) => claims,
            Err(AuthError::Unavailable(e)) => return Err(AuthError::Unavailable(e)),
            Err(_) => return Ok(None),
        };
        match self.active_user(&claims).await {
            Ok(_) => Ok(Some(Introspected::Access(claims))),
            Err(AuthError::Unavailable(e)) => Err(AuthError::Unavailable(e)),
            Err(_) => Ok(None),
        }
    }

    async fn introspect_refresh(&self, token: &str) -> AuthResult<Option<Introspected>> {
        let now = clock::now();
        let Some(row) = self.store.refresh_token(&refresh::hash(token)).await? else {
            return Ok(None);
        };
        if row.used_at.is_some() || row.expires_at <= now {
            return Ok(None);
        }
        let Some(session) = self.store.session(&row.session_id).await? else {
            return Ok(None);
        };
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Ok(None);
        }
        let Some(user) = self.store.user_by_id(session.user_id).await? else {
            return Ok(None);
        };
        if user.disabled {
            return Ok(None);
        }
        let permissions =
            token::narrow_scope(&user.effective_permissions, session.scope.as_deref());
        Ok(Some(Introspected::Refresh {
            username: user.username,
            user_id: user.id,
            session_id: session.id,
            expires_at: row.expires_at.min(session.expires_at),
            roles: user.roles,
            permissions,
        }))
    }

    /// Ends the token's session.
    pub async fn logout(&self, claims: &Claims, client: &Client) -> AuthResult<()> {
        self.revoke(&claims.sid, clock::now()).await?;
        self.audit("logout", Some(&claims.sub), Some(&claims.sid), client, None)
            .await;
        Ok(())
    }

    /// Ends every session of the token's user.
    pub async fn logout_all(&self, claims: &Claims, client: &Client) -> AuthResult<usize> {
        let n = self.revoke_user(claims.user_id, None).await?;
        self.audit(
            "logout_all",
            Some(&claims.sub),
            Some(&claims.sid),
            client,
            Some(&format!("{n} sessions")),
        )
        .await;
        Ok(n)
    }

    /// Ends one of the caller's own sessions; `NotFound` for anyone else's.
    pub async fn logout_device(
        &self,
        claims: &Claims,
        session_id: &str,
        client: &Client,
    ) -> AuthResult<()> {
        let now = clock::now();
        let session = match uuid::Uuid::try_parse(session_id) {
            Ok(_) => self.store.session(session_id).await?,
            Err(_) => None,
        };
        match session {
            Some(s)
                if s.user_id == claims.user_id && s.revoked_at.is_none() && s.expires_at > now =>
            {
                self.revoke(&s.id, now).await?;
                self.audit(
                    "logout_device",
                    Some(&claims.sub),
                    Some(&s.id),
                    client,
                    None,
                )
                .await;
                Ok(())
            }
            _ => Err(AuthError::NotFound("session")),
        }
    }

    /// The user's active sessions.
    pub async fn sessions(&self, user_id: i64) -> AuthResult<Vec<SessionRow>> {
        Ok(self.store.active_sessions(user_id, clock::now()).await?)
    }

    /// Creates a user, validating every field (the CLI, admin API and
    /// registration all come here). `check_password` applies the length
    /// rules; imports and tests may skip them.
    pub async fn create_user(&self, new: NewUser, check_password: bool) -> AuthResult<UserRow> {
        let username =
            Username::parse(&new.username).map_err(|e| AuthError::Invalid("username", e.0))?;
        let email = new
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(|e| AuthError::Invalid("email", e.0))?;
        if check_password {
            user::check_new_password(&new.password)
                .map_err(|e| AuthError::Invalid("password", e.0))?;
        } else if new.password.is_empty() || new.password.len() > user::MAX_PASSWORD_BYTES {
            return Err(AuthError::Invalid(
                "password",
                "Password must be 1 to 1024 bytes".into(),
            ));
        }
        let roles = user::parse_all(&new.roles, RoleName::parse)
            .map_err(|e| AuthError::Invalid("roles", e.0))?;
        let permissions = user::parse_all(&new.permissions, Permission::parse)
            .map_err(|e| AuthError::Invalid("permissions", e.0))?;
        if new.full_name.as_deref().is_some_and(|n| n.contains('\0')) {
            return Err(AuthError::Invalid(
                "full_name",
                "Full name must not contain NUL".into(),
            ));
        }
        let full_name = new.full_name.map(|n| truncate(n, 256));
        let hash = self
            .hasher
            .hash(Secret::new(new.password))
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        self.insert_user(NewUserRow {
            username: username.into(),
            email: email.map(String::from),
            full_name,
            password_hash: hash,
            disabled: new.disabled,
            roles: roles.into_iter().map(String::from).collect(),
            permissions: permissions.into_iter().map(String::from).collect(),
            now: clock::now(),
        })
        .await
    }

    /// Inserts an already-validated user row (imports keep their hashes).
    pub async fn insert_user(&self, row: NewUserRow) -> AuthResult<UserRow> {
        let username = row.username.clone();
        let created = self.store.create_user(row).await.map_err(|e| match e {
            StoreError::Conflict(_) => AuthError::Conflict("user"),
            other => other.into(),
        })?;
        self.audit(
            "user_created",
            Some(&username),
            None,
            &Client::default(),
            None,
        )
        .await;
        Ok(created)
    }

    /// `POST /users`: self-registration, when open.
    pub async fn register(&self, new: NewUser, client: &Client) -> AuthResult<UserRow> {
        if self.settings.registration == Registration::Closed {
            return Err(AuthError::Forbidden("Registration is closed"));
        }
        let new = NewUser {
            disabled: false,
            roles: vec![],
            permissions: vec![],
            ..new
        };
        let user = self.create_user(new, true).await?;
        self.audit("register", Some(&user.username), None, client, None)
            .await;
        Ok(user)
    }

    /// Changes the caller's password and revokes their other sessions.
    pub async fn change_password(
        &self,
        claims: &Claims,
        current: Secret,
        new: Secret,
        client: &Client,
    ) -> AuthResult<usize> {
        user::check_new_password(new.expose())
            .map_err(|e| AuthError::Invalid("new_password", e.0))?;
        let hash = self.store.password_hash(claims.user_id).await?;
        if hash.is_none() {
            return Err(AuthError::InvalidToken("user gone"));
        }
        if self.hasher.verify(current, hash).await == Verdict::Mismatch {
            self.audit(
                "password_change_failed",
                Some(&claims.sub),
                Some(&claims.sid),
                client,
                None,
            )
            .await;
            return Err(AuthError::BadRequest("Incorrect current password"));
        }
        self.set_password(claims.user_id, new).await?;
        let n = self.revoke_user(claims.user_id, Some(&claims.sid)).await?;
        self.audit(
            "password_changed",
            Some(&claims.sub),
            Some(&claims.sid),
            client,
            None,
        )
        .await;
        Ok(n)
    }

    /// Hashes and stores a new password (no rules: the caller checked).
    pub async fn set_password(&self, user_id: i64, password: Secret) -> AuthResult<()> {
        let hash = self
            .hasher
            .hash(password)
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        self.store
            .set_password_hash(user_id, &hash, clock::now())
            .await?;
        Ok(())
    }

    /// Applies an administrative change; disabling revokes every session.
    pub async fn update_user(&self, user_id: i64, patch: UserPatch) -> AuthResult<UserRow> {
        // Sessions go first, so that no node sees the user disabled while its
        // sessions still look alive (revoked answers before inactive).
        if patch.disabled == Some(true) {
            self.revoke_user(user_id, None).await?;
        }
        let user = self.store.update_user(user_id, patch, clock::now()).await;
        self.user_cache.invalidate(&[user_id]);
        user?.ok_or(AuthError::NotFound("user"))
    }

    /// Deletes a user after revoking every session.
    pub async fn delete_user(&self, user_id: i64) -> AuthResult<bool> {
        self.revoke_user(user_id, None).await?;
        let deleted = self.store.delete_user(user_id).await;
        self.user_cache.invalidate(&[user_id]);
        Ok(deleted?)
    }

    /// Records an audit event; failures are logged, never fatal.
    pub async fn audit(
        &self,
        event: &str,
        username: Option<&str>,
        session_id: Option<&str>,
        client: &Client,
        detail: Option<&str>,
    ) {
        let row = AuditInsert {
            at: clock::now(),
            event: event.to_string(),
            username: username.map(|u| truncate(u.to_string(), 128)),
            session_id: session_id.map(str::to_string),
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone().map(|ua| truncate(ua, 512)),
            detail: detail.map(str::to_string),
        };
        if let Err(e) = self.store.audit(row).await {
            tracing::warn!(error = %e, event, "could not write audit event");
        }
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Validation failures of a list of values, as `(field, message)`.
pub fn invalid(field: &'static str) -> impl Fn(Invalid) -> AuthError {
    move |e| AuthError::Invalid(field, e.0)
}
