-- latchkey schema, SQLite dialect. Times are Unix seconds.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,
    email         TEXT,
    email_key     TEXT    UNIQUE,
    full_name     TEXT,
    password_hash TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE INDEX users_updated ON users (updated_at);

CREATE TABLE roles (
    name       TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE role_permissions (
    role       TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    TEXT    NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE user_permissions (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    permission TEXT    NOT NULL,
    PRIMARY KEY (user_id, permission)
);

-- Sessions outlive their user's deletion until purged, so that every node
-- learns of their revocation.
CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL,
    user_agent   TEXT,
    ip           TEXT,
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    scope        TEXT,
    revoked_at   BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_revoked ON sessions (revoked_at);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE refresh_tokens (
    hash       BLOB   PRIMARY KEY,
    session_id TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid          TEXT   PRIMARY KEY,
    algorithm    TEXT   NOT NULL,
    private_key  BLOB   NOT NULL,
    public_key   BLOB   NOT NULL,
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    retired_at   BIGINT
);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         BIGINT  NOT NULL,
    event      TEXT    NOT NULL,
    username   TEXT,
    session_id TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_username ON audit_events (username);
