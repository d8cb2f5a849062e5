//! The SQL backends. One body of SQL serves SQLite and PostgreSQL: the
//! `sql_store!` macro instantiates it for each driver's concrete types, which
//! keeps the queries in one place without sqlx's long generic bounds.
//!
//! SQLite gets a separate single-connection pool for writes, so writers queue
//! in-process instead of failing with `SQLITE_BUSY`.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
// Every dynamic statement below is assembled from constant fragments only;
// values always travel as bound parameters.
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row};

use super::{
    AuditInsert, AuditRow, KeyRow, NewUserRow, RefreshInsert, RefreshRow, Rotation, SessionRow,
    Store, StoreError, StoreResult, UserPatch, UserRow,
};

/// SQLite: a file (or `:memory:`), WAL journal.
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
}

/// PostgreSQL.
pub struct PostgresStore {
    read: PgPool,
    write: PgPool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file of a `sqlite:` URL.
    pub async fn connect(url: &str, max_connections: u32, timeout: Duration) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a commit survives the process being killed;
            // only a power loss can take the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(timeout);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(timeout)
            .connect_with(options.clone())
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(timeout)
            .connect_with(options.read_only(false))
            .await?;
        Ok(Self { read, write })
    }
}

impl PostgresStore {
    /// Connects to a `postgres://` URL; every statement is bounded by `timeout`.
    pub async fn connect(url: &str, max_connections: u32, timeout: Duration) -> StoreResult<Self> {
        let statement_timeout = format!("{}ms", timeout.as_millis());
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .options([("statement_timeout", statement_timeout.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(timeout)
            .connect_with(options)
            .await?;
        Ok(Self {
            read: pool.clone(),
            write: pool,
        })
    }
}

fn split_list(text: Option<String>) -> Vec<String> {
    let mut items: Vec<String> = text
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    items.sort();
    items.dedup();
    items
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

macro_rules! sql_store {
    ($store:ident, $row:ty, $migrator:expr) => {
        impl $store {
            fn user_from_row(row: &$row) -> Result<UserRow, sqlx::Error> {
                Ok(UserRow {
                    id: row.try_get("id")?,
                    username: row.try_get("username")?,
                    email: row.try_get("email")?,
                    full_name: row.try_get("full_name")?,
                    disabled: row.try_get("disabled")?,
                    roles: split_list(row.try_get("roles")?),
                    permissions: split_list(row.try_get("own_permissions")?),
                    effective_permissions: split_list(row.try_get("effective_permissions")?),
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            fn session_from_row(row: &$row) -> Result<SessionRow, sqlx::Error> {
                Ok(SessionRow {
                    id: row.try_get("id")?,
                    user_id: row.try_get("user_id")?,
                    user_agent: row.try_get("user_agent")?,
                    ip: row.try_get("ip")?,
                    created_at: row.try_get("created_at")?,
                    last_used_at: row.try_get("last_used_at")?,
                    expires_at: row.try_get("expires_at")?,
                    scope: row.try_get("scope")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            }

            fn key_from_row(row: &$row) -> Result<KeyRow, sqlx::Error> {
                Ok(KeyRow {
                    kid: row.try_get("kid")?,
                    algorithm: row.try_get("algorithm")?,
                    private_key: row.try_get("private_key")?,
                    public_key: row.try_get("public_key")?,
                    created_at: row.try_get("created_at")?,
                    activates_at: row.try_get("activates_at")?,
                    retired_at: row.try_get("retired_at")?,
                })
            }

            /// Users with their roles and permissions folded into
            /// comma-separated lists, filtered by `filter` (SQL on `u`).
            fn user_select(filter: &str) -> String {
                format!(
                    "SELECT u.id, u.username, u.email, u.full_name, u.disabled, u.created_at, u.updated_at, \
                     (SELECT STRING_AGG(ur.role, ',') FROM user_roles ur WHERE ur.user_id = u.id) AS roles, \
                     (SELECT STRING_AGG(up.permission, ',') FROM user_permissions up WHERE up.user_id = u.id) AS own_permissions, \
                     (SELECT STRING_AGG(p.permission, ',') FROM ( \
                        SELECT up2.permission FROM user_permissions up2 WHERE up2.user_id = u.id \
                        UNION SELECT rp.permission FROM user_roles ur2 JOIN role_permissions rp ON rp.role = ur2.role WHERE ur2.user_id = u.id \
                     ) p) AS effective_permissions \
                     FROM users u WHERE {filter}"
                )
            }

            /// Why a presented refresh token was not spent: the answer for
            /// the rare path, read after the spending statement found no row.
            /// A token only ever moves from unused to used, so a read outside
            /// that statement's transaction classifies it correctly.
            async fn why_not_rotated(&self, hash: &[u8], now: i64) -> StoreResult<Rotation> {
                let row = sqlx::query(
                    "SELECT r.session_id, r.used_at, r.expires_at, s.revoked_at, s.expires_at AS session_expires_at \
                     FROM refresh_tokens r LEFT JOIN sessions s ON s.id = r.session_id WHERE r.hash = $1",
                )
                .bind(hash)
                .fetch_optional(&self.write)
                .await?;
                let Some(row) = row else { return Ok(Rotation::Unknown) };
                if let Some(used_at) = row.try_get::<Option<i64>, _>("used_at")? {
                    return Ok(Rotation::AlreadyUsed { used_at, session_id: row.try_get("session_id")? });
                }
                if row.try_get::<i64, _>("expires_at")? <= now {
                    return Ok(Rotation::Unknown);
                }
                let revoked: Option<i64> = row.try_get("revoked_at")?;
                let session_end: Option<i64> = row.try_get("session_expires_at")?;
                Ok(match (revoked, session_end) {
                    (None, Some(end)) if end > now => Rotation::Unknown,
                    _ => Rotation::SessionEnded,
                })
            }

            async fn fetch_user(&self, filter: &str, arg: i64) -> StoreResult<Option<UserRow>> {
                let row = sqlx::query(AssertSqlSafe(Self::user_select(filter)))
                    .bind(arg)
                    .fetch_optional(&self.read)
                    .await?;
                Ok(row.as_ref().map(Self::user_from_row).transpose()?)
            }

            async fn fetch_user_by_text(&self, filter: &str, arg: &str) -> StoreResult<Option<UserRow>> {
                let row = sqlx::query(AssertSqlSafe(Self::user_select(filter)))
                    .bind(arg)
                    .fetch_optional(&self.read)
                    .await?;
                Ok(row.as_ref().map(Self::user_from_row).transpose()?)
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn migrate(&self) -> StoreResult<()> {
                $migrator
                    .run(&self.write)
                    .await
                    .map_err(|e| StoreError::Database(e.to_string()))
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.read).await?;
                Ok(())
            }

            async fn create_user(&self, user: NewUserRow) -> StoreResult<UserRow> {
                let mut tx = self.write.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (username, username_key, email, email_key, full_name, password_hash, disabled, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
                )
                .bind(&user.username)
                .bind(lower(&user.username))
                .bind(&user.email)
                .bind(user.email.as_deref().map(lower))
                .bind(&user.full_name)
                .bind(&user.password_hash)
                .bind(user.disabled)
                .bind(user.now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict("user"),
                    other => other,
                })?;
                for role in &user.roles {
                    sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(id)
                        .bind(role)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| match StoreError::from(e) {
                            StoreError::NotFound(_) => StoreError::NotFound("role"),
                            other => other,
                        })?;
                }
                for permission in &user.permissions {
                    sqlx::query("INSERT INTO user_permissions (user_id, permission) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(id)
                        .bind(permission)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                self.fetch_user_write(id).await?.ok_or(StoreError::NotFound("user"))
            }

            async fn user_by_id(&self, id: i64) -> StoreResult<Option<UserRow>> {
                self.fetch_user("u.id = $1", id).await
            }

            async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>> {
                self.fetch_user_by_text("u.username_key = $1", &lower(username)).await
            }

            async fn user_for_login(&self, login: &str) -> StoreResult<Option<(UserRow, String)>> {
                let key = lower(login);
                let row = sqlx::query(
                    "SELECT id, password_hash FROM users WHERE username_key = $1 \
                     UNION ALL SELECT id, password_hash FROM users WHERE email_key = $1 AND username_key <> $1 \
                     LIMIT 1",
                )
                .bind(&key)
                .fetch_optional(&self.read)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let id: i64 = row.try_get("id")?;
                let hash: String = row.try_get("password_hash")?;
                Ok(self.user_by_id(id).await?.map(|u| (u, hash)))
            }

            async fn password_hash(&self, user_id: i64) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.read)
                    .await?)
            }

            async fn list_users(&self, limit: i64, offset: i64) -> StoreResult<(Vec<UserRow>, i64)> {
                let rows = sqlx::query(AssertSqlSafe(format!("{} ORDER BY u.id LIMIT $1 OFFSET $2", Self::user_select("TRUE"))))
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.read)
                    .await?;
                let users = rows.iter().map(Self::user_from_row).collect::<Result<Vec<_>, _>>()?;
                Ok((users, self.count_users().await?))
            }

            async fn users_changed_since(&self, since: i64) -> StoreResult<Vec<i64>> {
                Ok(sqlx::query_scalar("SELECT id FROM users WHERE updated_at >= $1")
                    .bind(since)
                    .fetch_all(&self.read)
                    .await?)
            }

            async fn count_users(&self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.read).await?)
            }

            async fn set_password_hash(&self, user_id: i64, hash: &str, now: i64) -> StoreResult<()> {
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                    .bind(hash)
                    .bind(now)
                    .bind(user_id)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn update_user(&self, user_id: i64, patch: UserPatch, now: i64) -> StoreResult<Option<UserRow>> {
                let mut tx = self.write.begin().await?;
                let touched = sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if touched == 0 {
                    return Ok(None);
                }
                if let Some(email) = &patch.email {
                    sqlx::query("UPDATE users SET email = $1, email_key = $2 WHERE id = $3")
                        .bind(email)
                        .bind(email.as_deref().map(lower))
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| match StoreError::from(e) {
                            StoreError::Conflict(_) => StoreError::Conflict("email"),
                            other => other,
                        })?;
                }
                if let Some(full_name) = &patch.full_name {
                    sqlx::query("UPDATE users SET full_name = $1 WHERE id = $2")
                        .bind(full_name)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(disabled) = patch.disabled {
                    sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                        .bind(disabled)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(roles) = &patch.roles {
                    sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
                    for role in roles {
                        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                            .bind(user_id)
                            .bind(role)
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| match StoreError::from(e) {
                                StoreError::NotFound(_) => StoreError::NotFound("role"),
                                other => other,
                            })?;
                    }
                }
                if let Some(permissions) = &patch.permissions {
                    sqlx::query("DELETE FROM user_permissions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
                    for permission in permissions {
                        sqlx::query("INSERT INTO user_permissions (user_id, permission) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                            .bind(user_id)
                            .bind(permission)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                self.fetch_user_write(user_id).await
            }

            async fn delete_user(&self, user_id: i64) -> StoreResult<bool> {
                let n = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(user_id)
                    .execute(&self.write)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            async fn put_role(&self, name: &str, permissions: &[String], now: i64) -> StoreResult<()> {
                let mut tx = self.write.begin().await?;
                sqlx::query(
                    "INSERT INTO roles (name, created_at, updated_at) VALUES ($1, $2, $2) \
                     ON CONFLICT (name) DO UPDATE SET updated_at = $2",
                )
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM role_permissions WHERE role = $1").bind(name).execute(&mut *tx).await?;
                for permission in permissions {
                    sqlx::query("INSERT INTO role_permissions (role, permission) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(name)
                        .bind(permission)
                        .execute(&mut *tx)
                        .await?;
                }
                // Holders' effective permissions changed: mark them updated.
                sqlx::query("UPDATE users SET updated_at = $1 WHERE id IN (SELECT user_id FROM user_roles WHERE role = $2)")
                    .bind(now)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn role(&self, name: &str) -> StoreResult<Option<Vec<String>>> {
                let exists: Option<String> = sqlx::query_scalar("SELECT name FROM roles WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.read)
                    .await?;
                if exists.is_none() {
                    return Ok(None);
                }
                let perms: Vec<String> = sqlx::query_scalar("SELECT permission FROM role_permissions WHERE role = $1 ORDER BY permission")
                    .bind(name)
                    .fetch_all(&self.read)
                    .await?;
                Ok(Some(perms))
            }

            async fn list_roles(&self) -> StoreResult<Vec<(String, Vec<String>)>> {
                let rows = sqlx::query(
                    "SELECT r.name, (SELECT STRING_AGG(rp.permission, ',') FROM role_permissions rp WHERE rp.role = r.name) AS permissions \
                     FROM roles r ORDER BY r.name",
                )
                .fetch_all(&self.read)
                .await?;
                rows.iter()
                    .map(|row| Ok((row.try_get("name")?, split_list(row.try_get("permissions")?))))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(StoreError::from)
            }

            async fn delete_role(&self, name: &str, now: i64) -> StoreResult<bool> {
                let mut tx = self.write.begin().await?;
                sqlx::query("UPDATE users SET updated_at = $1 WHERE id IN (SELECT user_id FROM user_roles WHERE role = $2)")
                    .bind(now)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                let n = sqlx::query("DELETE FROM roles WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(n > 0)
            }

            async fn create_session(&self, session: &SessionRow, refresh: &RefreshInsert) -> StoreResult<()> {
                let mut tx = self.write.begin().await?;
                sqlx::query(
                    "INSERT INTO sessions (id, user_id, user_agent, ip, created_at, last_used_at, expires_at, scope, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&session.id)
                .bind(session.user_id)
                .bind(&session.user_agent)
                .bind(&session.ip)
                .bind(session.created_at)
                .bind(session.last_used_at)
                .bind(session.expires_at)
                .bind(&session.scope)
                .bind(session.revoked_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(&refresh.hash)
                    .bind(&refresh.session_id)
                    .bind(refresh.created_at)
                    .bind(refresh.expires_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session(&self, id: &str) -> StoreResult<Option<SessionRow>> {
                let row = sqlx::query("SELECT * FROM sessions WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.read)
                    .await?;
                Ok(row.as_ref().map(Self::session_from_row).transpose()?)
            }

            async fn active_sessions(&self, user_id: i64, now: i64) -> StoreResult<Vec<SessionRow>> {
                let rows = sqlx::query(
                    "SELECT * FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
                     ORDER BY created_at, id",
                )
                .bind(user_id)
                .bind(now)
                .fetch_all(&self.read)
                .await?;
                Ok(rows.iter().map(Self::session_from_row).collect::<Result<Vec<_>, _>>()?)
            }

            async fn revoke_session(&self, id: &str, now: i64) -> StoreResult<bool> {
                let n = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(&self.write)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            async fn revoke_user_sessions(&self, user_id: i64, keep: Option<&str>, now: i64) -> StoreResult<Vec<String>> {
                let ids: Vec<String> = sqlx::query_scalar(
                    "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL \
                     AND id <> $3 RETURNING id",
                )
                .bind(now)
                .bind(user_id)
                .bind(keep.unwrap_or(""))
                .fetch_all(&self.write)
                .await?;
                Ok(ids)
            }

            async fn revoked_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>> {
                let rows = sqlx::query("SELECT id, revoked_at FROM sessions WHERE revoked_at >= $1")
                    .bind(since)
                    .fetch_all(&self.read)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("id")?, r.try_get("revoked_at")?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(StoreError::from)
            }

            async fn each_revoked_since(
                &self,
                since: i64,
                each: &mut (dyn for<'a> FnMut(&'a str, i64) + Send),
            ) -> StoreResult<()> {
                use futures_util::TryStreamExt as _;
                let mut rows = sqlx::query("SELECT id, revoked_at FROM sessions WHERE revoked_at >= $1")
                    .bind(since)
                    .fetch(&self.read);
                while let Some(row) = rows.try_next().await? {
                    let id: &str = row.try_get("id")?;
                    each(id, row.try_get("revoked_at")?);
                }
                Ok(())
            }

            async fn rotate_refresh(&self, hash: &[u8], next: &RefreshInsert, now: i64) -> StoreResult<Rotation> {
                match self.spend_and_store(hash, next, now).await? {
                    Some(session) => Ok(Rotation::Rotated(session)),
                    None => self.why_not_rotated(hash, now).await,
                }
            }

            async fn refresh_token(&self, hash: &[u8]) -> StoreResult<Option<RefreshRow>> {
                let row = sqlx::query("SELECT session_id, expires_at, used_at FROM refresh_tokens WHERE hash = $1")
                    .bind(hash)
                    .fetch_optional(&self.read)
                    .await?;
                row.map(|r| {
                    Ok(RefreshRow {
                        session_id: r.try_get("session_id")?,
                        expires_at: r.try_get("expires_at")?,
                        used_at: r.try_get("used_at")?,
                    })
                })
                .transpose()
                .map_err(|e: sqlx::Error| StoreError::from(e))
            }

            async fn purge_sessions(&self, before: i64) -> StoreResult<u64> {
                let mut tx = self.write.begin().await?;
                sqlx::query(
                    "DELETE FROM refresh_tokens WHERE expires_at < $1 OR session_id IN \
                     (SELECT id FROM sessions WHERE expires_at < $1 OR revoked_at < $1)",
                )
                .bind(before)
                .execute(&mut *tx)
                .await?;
                let n = sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(n)
            }

            async fn signing_keys(&self) -> StoreResult<Vec<KeyRow>> {
                let rows = sqlx::query("SELECT * FROM signing_keys ORDER BY activates_at, created_at, kid")
                    .fetch_all(&self.read)
                    .await?;
                Ok(rows.iter().map(Self::key_from_row).collect::<Result<Vec<_>, _>>()?)
            }

            async fn insert_signing_key(&self, key: &KeyRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at, activates_at, retired_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&key.kid)
                .bind(&key.algorithm)
                .bind(&key.private_key)
                .bind(&key.public_key)
                .bind(key.created_at)
                .bind(key.activates_at)
                .bind(key.retired_at)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            async fn retire_keys_before(&self, kid: &str, at: i64) -> StoreResult<()> {
                sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE kid <> $2 AND retired_at IS NULL")
                    .bind(at)
                    .bind(kid)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn delete_keys_retired_before(&self, before: i64) -> StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM signing_keys WHERE retired_at < $1")
                    .bind(before)
                    .execute(&self.write)
                    .await?
                    .rows_affected())
            }

            async fn audit(&self, e: AuditInsert) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO audit_events (at, event, username, session_id, ip, user_agent, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(e.at)
                .bind(&e.event)
                .bind(&e.username)
                .bind(&e.session_id)
                .bind(&e.ip)
                .bind(&e.user_agent)
                .bind(&e.detail)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            async fn audit_events(
                &self,
                username: Option<&str>,
                event: Option<&str>,
                limit: i64,
                offset: i64,
            ) -> StoreResult<(Vec<AuditRow>, i64)> {
                let filter = "($1 IS NULL OR username = $1) AND ($2 IS NULL OR event = $2)";
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT * FROM audit_events WHERE {filter} ORDER BY id DESC LIMIT $3 OFFSET $4"
                )))
                .bind(username)
                .bind(event)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.read)
                .await?;
                let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM audit_events WHERE {filter}")))
                    .bind(username)
                    .bind(event)
                    .fetch_one(&self.read)
                    .await?;
                let events = rows
                    .iter()
                    .map(|r| {
                        Ok(AuditRow {
                            id: r.try_get("id")?,
                            at: r.try_get("at")?,
                            event: r.try_get("event")?,
                            username: r.try_get("username")?,
                            session_id: r.try_get("session_id")?,
                            ip: r.try_get("ip")?,
                            user_agent: r.try_get("user_agent")?,
                            detail: r.try_get("detail")?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                Ok((events, total))
            }

            async fn prune_audit(&self, before: i64) -> StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM audit_events WHERE at < $1")
                    .bind(before)
                    .execute(&self.write)
                    .await?
                    .rows_affected())
            }
        }

        impl $store {
            /// Reads a user back on the write pool, so it sees the write
            /// that just committed.
            async fn fetch_user_write(&self, id: i64) -> StoreResult<Option<UserRow>> {
                let row = sqlx::query(AssertSqlSafe(Self::user_select("u.id = $1")))
                    .bind(id)
                    .fetch_optional(&self.write)
                    .await?;
                Ok(row.as_ref().map(Self::user_from_row).transpose()?)
            }
        }
    };
}

// Spending a refresh token is the hot write path, so each backend does it
// in the fewest round trips it allows. Both mark the token used only while
// its session is live, and return that session with `last_used_at = now`.

impl SqliteStore {
    /// One transaction on the single writer connection: the conditional
    /// UPDATE is the atomic step (exactly one of concurrent presenters of a
    /// token gets a row back).
    async fn spend_and_store(
        &self,
        hash: &[u8],
        next: &RefreshInsert,
        now: i64,
    ) -> StoreResult<Option<SessionRow>> {
        let mut tx = self.write.begin().await?;
        let spent: Option<String> = sqlx::query_scalar(
            "UPDATE refresh_tokens SET used_at = $1 FROM sessions \
             WHERE refresh_tokens.hash = $2 AND refresh_tokens.used_at IS NULL AND refresh_tokens.expires_at > $1 \
             AND sessions.id = refresh_tokens.session_id AND sessions.revoked_at IS NULL AND sessions.expires_at > $1 \
             RETURNING refresh_tokens.session_id",
        )
        .bind(now)
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(session_id) = spent else {
            tx.rollback().await?;
            return Ok(None);
        };
        let session =
            sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE id = $2 RETURNING *")
                .bind(now)
                .bind(&session_id)
                .fetch_one(&mut *tx)
                .await?;
        let session = Self::session_from_row(&session)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&next.hash)
        .bind(&session_id)
        .bind(next.created_at)
        .bind(next.expires_at.min(session.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(session))
    }
}

impl PostgresStore {
    /// One statement, so one round trip and one commit: PostgreSQL runs the
    /// data-modifying parts of the WITH in one snapshot and transaction, and
    /// a concurrent presenter of the same token waits on its row lock, then
    /// finds it used.
    async fn spend_and_store(
        &self,
        hash: &[u8],
        next: &RefreshInsert,
        now: i64,
    ) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query(
            "WITH spent AS ( \
               UPDATE refresh_tokens r SET used_at = $1 FROM sessions s \
               WHERE r.hash = $2 AND r.used_at IS NULL AND r.expires_at > $1 \
               AND s.id = r.session_id AND s.revoked_at IS NULL AND s.expires_at > $1 \
               RETURNING r.session_id \
             ), touched AS ( \
               UPDATE sessions s SET last_used_at = $1 FROM spent WHERE s.id = spent.session_id RETURNING s.* \
             ), stored AS ( \
               INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at) \
               SELECT $3, id, $4, LEAST($5, expires_at) FROM touched \
             ) SELECT * FROM touched",
        )
        .bind(now)
        .bind(hash)
        .bind(&next.hash)
        .bind(next.created_at)
        .bind(next.expires_at)
        .fetch_optional(&self.write)
        .await?;
        Ok(row.as_ref().map(Self::session_from_row).transpose()?)
    }
}

sql_store!(SqliteStore, SqliteRow, sqlx::migrate!("migrations/sqlite"));
sql_store!(PostgresStore, PgRow, sqlx::migrate!("migrations/postgres"));
