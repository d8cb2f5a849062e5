//! Settings, loaded in one place: defaults, then `latchkey.toml`, then the
//! environment, then command-line flags, each later source overriding the
//! earlier ones.
//!
//! Every source is read as text and parsed here by key, so a bad value is
//! reported once, in one line, naming the key and where it came from. (A
//! generic layering crate guesses types from environment text: a numeric
//! `SECRET_KEY` would become an integer and fail to load as a string.)

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

/// A secret string (signing secret, password) that never prints itself.
///
/// ```
/// use latchkey::config::Secret;
/// let s = Secret::new("hunter2-hunter2".to_string());
/// assert_eq!(format!("{s:?}"), "Secret(***)");
/// assert_eq!(s.expose(), "hunter2-hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself; call it only where the value is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Whether anyone may create an account with `POST /users`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    /// Anyone may register.
    Open,
    /// `POST /users` answers 403.
    Closed,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Every setting of a latchkey server, with the contract's defaults.
///
/// ```
/// let settings = latchkey::config::Settings::default();
/// assert_eq!(settings.access_token_expire_minutes, 30);
/// assert_eq!(settings.database_url, "sqlite://latchkey.db");
/// ```
#[derive(Clone, Debug)]
pub struct Settings {
    /// `SECRET_KEY`: when set, tokens are signed with HMAC (HS256 by default).
    pub secret_key: Option<Secret>,
    /// `ALGORITHM`: HS256/HS384/HS512 with a secret; EdDSA (default), ES256 or RS256 without.
    pub algorithm: Option<String>,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`.
    pub access_token_expire_minutes: u64,
    /// `REFRESH_TOKEN_EXPIRE_DAYS`.
    pub refresh_token_expire_days: u64,
    /// `DATABASE_URL`: `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`: the pool's size.
    pub database_max_connections: u32,
    /// `DATABASE_TIMEOUT`: seconds a query or a pool checkout may wait.
    pub database_timeout: u64,
    /// `REDIS_URL`: shared revocation state and rate limits.
    pub redis_url: Option<String>,
    /// `REDIS_PREFIX`: the namespace of latchkey's Redis keys and channel.
    pub redis_prefix: String,
    /// `BIND`: the address `serve` listens on.
    pub bind: SocketAddr,
    /// `ISSUER`: the `iss` claim.
    pub issuer: String,
    /// `AUDIENCE`: the `aud` claim, checked when set.
    pub audience: Option<String>,
    /// `REGISTRATION`.
    pub registration: Registration,
    /// `COOKIE_SECURE`: `false` only for plain-http development.
    pub cookie_secure: bool,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `REFRESH_REUSE_INTERVAL`: seconds in which a used refresh token answers 409.
    pub refresh_reuse_interval: u64,
    /// `SESSION_MAX_DAYS`: a session's longest life, however often refreshed.
    pub session_max_days: u64,
    /// `KEY_PUBLISH_DELAY`: seconds a new key is published before it signs.
    pub key_publish_delay: u64,
    /// `CLOCK_LEEWAY`: seconds of clock skew tolerated on `exp` and `nbf`.
    pub clock_leeway: u64,
    /// `LOGIN_MAX_FAILURES`: failures per username and client IP in the window.
    pub login_max_failures: u32,
    /// `LOGIN_MAX_FAILURES_PER_IP`: failures per client IP in the window.
    pub login_max_failures_per_ip: u32,
    /// `LOGIN_WINDOW`: seconds.
    pub login_window: u64,
    /// `LATCHKEY_ADMIN_PASSWORD`: the first start's `admin` password.
    pub admin_password: Option<Secret>,
    /// `MAX_BODY_BYTES`: larger request bodies get 413.
    pub max_body_bytes: usize,
    /// `HASH_CONCURRENCY`: password hashes computed at once (default: the cores).
    pub hash_concurrency: usize,
    /// `AUDIT_RETENTION_DAYS`: audit events older than this are pruned.
    pub audit_retention_days: u64,
    /// `REQUEST_TIMEOUT`: seconds a client has to send a request's headers,
    /// and again to send its body; a slower client is cut off.
    pub request_timeout: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            secret_key: None,
            algorithm: None,
            access_token_expire_minutes: 30,
            refresh_token_expire_days: 7,
            database_url: "sqlite://latchkey.db".to_string(),
            database_max_connections: 10,
            database_timeout: 5,
            redis_url: None,
            redis_prefix: "latchkey".to_string(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            issuer: "latchkey".to_string(),
            audience: None,
            registration: Registration::Open,
            cookie_secure: true,
            log_format: LogFormat::Text,
            refresh_reuse_interval: 10,
            session_max_days: 30,
            key_publish_delay: 600,
            clock_leeway: 30,
            login_max_failures: 5,
            login_max_failures_per_ip: 50,
            login_window: 60,
            admin_password: None,
            max_body_bytes: 64 * 1024,
            hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            audit_retention_days: 90,
            request_timeout: 10,
        }
    }
}

/// A setting that could not be loaded; its `Display` is the one-line message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn invalid(key: &str, origin: &str, why: impl fmt::Display) -> Self {
        Self(format!("invalid {key} ({origin}): {why}"))
    }
}

/// Every setting's name, as written in the environment and the file.
pub const SETTING_NAMES: &[&str] = KEYS;

/// Every key a source may set, as written in the environment.
const KEYS: &[&str] = &[
    "SECRET_KEY",
    "ALGORITHM",
    "ACCESS_TOKEN_EXPIRE_MINUTES",
    "REFRESH_TOKEN_EXPIRE_DAYS",
    "DATABASE_URL",
    "DATABASE_MAX_CONNECTIONS",
    "DATABASE_TIMEOUT",
    "REDIS_URL",
    "REDIS_PREFIX",
    "BIND",
    "ISSUER",
    "AUDIENCE",
    "REGISTRATION",
    "COOKIE_SECURE",
    "LOG_FORMAT",
    "REFRESH_REUSE_INTERVAL",
    "SESSION_MAX_DAYS",
    "KEY_PUBLISH_DELAY",
    "CLOCK_LEEWAY",
    "LOGIN_MAX_FAILURES",
    "LOGIN_MAX_FAILURES_PER_IP",
    "LOGIN_WINDOW",
    "LATCHKEY_ADMIN_PASSWORD",
    "MAX_BODY_BYTES",
    "HASH_CONCURRENCY",
    "AUDIT_RETENTION_DAYS",
    "REQUEST_TIMEOUT",
];

/// Raw values by key, each remembering which source it came from.
#[derive(Default)]
struct Layers(BTreeMap<&'static str, (String, &'static str)>);

impl Layers {
    fn set(&mut self, key: &'static str, value: String, origin: &'static str) {
        self.0.insert(key, (value, origin));
    }

    fn known_key(name: &str) -> Option<&'static str> {
        KEYS.iter().copied().find(|k| k.eq_ignore_ascii_case(name))
    }

    fn read_toml(&mut self, text: &str, file: &str) -> Result<(), ConfigError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            // One line: the message alone, without the excerpt of the file.
            let msg = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
            ConfigError(format!("invalid {file}: {msg}"))
        })?;
        for (name, value) in table {
            let key = Self::known_key(&name)
                .ok_or_else(|| ConfigError(format!("unknown setting {name:?} in {file}")))?;
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(ConfigError::invalid(
                        key,
                        "latchkey.toml",
                        format!(
                            "expected a string, number or boolean, found {}",
                            other.type_str()
                        ),
                    ));
                }
            };
            self.set(key, text, "latchkey.toml");
        }
        Ok(())
    }

    fn read_env(&mut self, env: impl Iterator<Item = (String, String)>) {
        for (name, value) in env {
            if let Some(key) = KEYS.iter().copied().find(|k| *k == name) {
                self.set(key, value, "environment");
            }
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers' value.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    /// `--database-url`
    pub database_url: Option<String>,
    /// `--bind`
    pub bind: Option<String>,
}

impl Settings {
    /// Loads settings from `latchkey.toml` in the working directory, the
    /// process environment and the given flags.
    pub fn load(flags: &Flags) -> Result<Self, ConfigError> {
        Self::load_from(Path::new("latchkey.toml"), std::env::vars(), flags)
    }

    /// Loads settings from an explicit file and environment (for tests).
    pub fn load_from(
        toml_path: &Path,
        env: impl Iterator<Item = (String, String)>,
        flags: &Flags,
    ) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(toml_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(ConfigError(format!(
                    "cannot read {}: {e}",
                    toml_path.display()
                )));
            }
        };
        Self::from_sources(&text, &toml_path.display().to_string(), env, flags)
    }

    /// Settings from the text of a settings file (named `file` in messages),
    /// an environment and flags, touching nothing else: what
    /// [`load_from`](Self::load_from) does once it has read the file. Any
    /// input gives settings or a one-line [`ConfigError`], never a panic.
    ///
    /// ```
    /// use latchkey::config::{Flags, Settings};
    /// let env = [("LOGIN_WINDOW".to_string(), "90".to_string())];
    /// let s = Settings::from_sources("ISSUER = \"https://auth.example\"", "latchkey.toml", env.into_iter(), &Flags::default()).unwrap();
    /// assert_eq!((s.issuer.as_str(), s.login_window), ("https://auth.example", 90));
    /// let err = Settings::from_sources("LOGIN_WINDOW = 0", "latchkey.toml", std::iter::empty(), &Flags::default()).unwrap_err();
    /// assert!(err.to_string().contains("LOGIN_WINDOW"));
    /// ```
    pub fn from_sources(
        toml_text: &str,
        file: &str,
        env: impl Iterator<Item = (String, String)>,
        flags: &Flags,
    ) -> Result<Self, ConfigError> {
        let mut layers = Layers::default();
        layers.read_toml(toml_text, file)?;
        layers.read_env(env);
        if let Some(url) = &flags.database_url {
            layers.set("DATABASE_URL", url.clone(), "--database-url");
        }
        if let Some(bind) = &flags.bind {
            layers.set("BIND", bind.clone(), "--bind");
        }
        let mut s = Settings::default();
        for (key, (value, origin)) in layers.0 {
            s.apply(key, &value, origin)?;
        }
        s.validate()?;
        Ok(s)
    }

    fn apply(&mut self, key: &str, value: &str, origin: &str) -> Result<(), ConfigError> {
        let bad = |why: &dyn fmt::Display| ConfigError::invalid(key, origin, why);
        let optional = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
        match key {
            "SECRET_KEY" => self.secret_key = optional(value).map(Secret::new),
            "ALGORITHM" => self.algorithm = optional(value),
            "ACCESS_TOKEN_EXPIRE_MINUTES" => {
                self.access_token_expire_minutes =
                    at_most(value, TEN_YEARS_SECS / 60).map_err(|e| bad(&e))?
            }
            "REFRESH_TOKEN_EXPIRE_DAYS" => {
                self.refresh_token_expire_days =
                    at_most(value, TEN_YEARS_DAYS).map_err(|e| bad(&e))?
            }
            "DATABASE_URL" => self.database_url = value.trim().to_string(),
            "DATABASE_MAX_CONNECTIONS" => {
                self.database_max_connections = positive(value).map_err(|e| bad(&e))?
            }
            "DATABASE_TIMEOUT" => {
                self.database_timeout = at_most(value, 3600).map_err(|e| bad(&e))?
            }
            "REDIS_URL" => self.redis_url = optional(value),
            "REDIS_PREFIX" => self.redis_prefix = value.trim().to_string(),
            "BIND" => {
                self.bind = value
                    .trim()
                    .parse()
                    .map_err(|_| bad(&format!("{value:?} is not an address like 127.0.0.1:8000")))?
            }
            "ISSUER" => self.issuer = value.trim().to_string(),
            "AUDIENCE" => self.audience = optional(value),
            "REGISTRATION" => {
                self.registration = match value.trim().to_ascii_lowercase().as_str() {
                    "open" => Registration::Open,
                    "closed" => Registration::Closed,
                    _ => return Err(bad(&format!("{value:?} is not open or closed"))),
                }
            }
            "COOKIE_SECURE" => self.cookie_secure = boolean(value).map_err(|e| bad(&e))?,
            "LOG_FORMAT" => {
                self.log_format = match value.trim().to_ascii_lowercase().as_str() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(bad(&format!("{value:?} is not text or json"))),
                }
            }
            "REFRESH_REUSE_INTERVAL" => {
                self.refresh_reuse_interval = seconds(value).map_err(|e| bad(&e))?
            }
            "SESSION_MAX_DAYS" => {
                self.session_max_days = at_most(value, TEN_YEARS_DAYS).map_err(|e| bad(&e))?
            }
            "KEY_PUBLISH_DELAY" => self.key_publish_delay = seconds(value).map_err(|e| bad(&e))?,
            "CLOCK_LEEWAY" => self.clock_leeway = seconds(value).map_err(|e| bad(&e))?,
            "LOGIN_MAX_FAILURES" => {
                self.login_max_failures = positive(value).map_err(|e| bad(&e))?
            }
            "LOGIN_MAX_FAILURES_PER_IP" => {
                self.login_max_failures_per_ip = positive(value).map_err(|e| bad(&e))?
            }
            "LOGIN_WINDOW" => {
                self.login_window = at_most(value, TEN_YEARS_SECS).map_err(|e| bad(&e))?
            }
            "LATCHKEY_ADMIN_PASSWORD" => self.admin_password = optional(value).map(Secret::new),
            "MAX_BODY_BYTES" => self.max_body_bytes = positive(value).map_err(|e| bad(&e))?,
            "HASH_CONCURRENCY" => {
                self.hash_concurrency = at_most(value, 1024).map_err(|e| bad(&e))?
            }
            "AUDIT_RETENTION_DAYS" => {
                self.audit_retention_days =
                    at_most(value, TEN_YEARS_DAYS * 10).map_err(|e| bad(&e))?
            }
            "REQUEST_TIMEOUT" => {
                self.request_timeout = at_most(value, 3600).map_err(|e| bad(&e))?
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks the settings that depend on each other; the server and every
    /// command call it before they start.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let alg = self.algorithm.as_deref().map(str::to_ascii_uppercase);
        match (&self.secret_key, alg.as_deref()) {
            (Some(secret), alg) => {
                if !matches!(alg, None | Some("HS256" | "HS384" | "HS512")) {
                    return Err(ConfigError(format!(
                        "invalid ALGORITHM: {:?} cannot be used with SECRET_KEY (use HS256, HS384 or HS512, or unset SECRET_KEY)",
                        self.algorithm.as_deref().unwrap_or_default()
                    )));
                }
                if secret.expose().len() < 32 {
                    return Err(ConfigError(
                        "invalid SECRET_KEY: it must be at least 32 bytes (try: openssl rand -hex 32)"
                            .to_string(),
                    ));
                }
            }
            (None, None | Some("EDDSA" | "ES256" | "RS256")) => {}
            (None, Some("HS256" | "HS384" | "HS512")) => {
                return Err(ConfigError(format!(
                    "invalid ALGORITHM: {} needs SECRET_KEY",
                    alg.unwrap_or_default()
                )));
            }
            (None, Some(_)) => {
                return Err(ConfigError(format!(
                    "invalid ALGORITHM: {:?} is not one of HS256, HS384, HS512, EdDSA, ES256, RS256",
                    self.algorithm.as_deref().unwrap_or_default()
                )));
            }
        }
        check_database_url(&self.database_url)?;
        if let Some(url) = &self.redis_url {
            let ok = ["redis://", "rediss://", "redis+unix://", "unix://"]
                .iter()
                .any(|p| url.starts_with(p));
            if !ok {
                return Err(ConfigError(format!(
                    "invalid REDIS_URL: {url:?} is not a redis:// URL"
                )));
            }
        }
        if self.issuer.is_empty() {
            return Err(ConfigError(
                "invalid ISSUER: it must not be empty".to_string(),
            ));
        }
        Ok(())
    }

    /// The access-token lifetime in seconds.
    pub fn access_ttl_secs(&self) -> i64 {
        i64::try_from(self.access_token_expire_minutes.saturating_mul(60)).unwrap_or(i64::MAX / 4)
    }

    /// The refresh-token lifetime in seconds.
    pub fn refresh_ttl_secs(&self) -> i64 {
        days(self.refresh_token_expire_days)
    }

    /// A session's longest life in seconds.
    pub fn session_max_secs(&self) -> i64 {
        days(self.session_max_days)
    }
}

fn days(n: u64) -> i64 {
    i64::try_from(n.saturating_mul(86_400)).unwrap_or(i64::MAX / 4)
}

fn check_database_url(url: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| ConfigError(format!("invalid DATABASE_URL: {url:?} {why}"));
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        if path.is_empty() {
            return Err(bad("names no file"));
        }
        return Ok(());
    }
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        if rest.is_empty() || rest.starts_with('/') && rest.len() == 1 {
            return Err(bad("names no host"));
        }
        return Ok(());
    }
    Err(bad("is not a sqlite:// or postgres:// URL"))
}

fn whole<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a whole number"))
}

fn positive<T: std::str::FromStr + PartialEq + Default>(value: &str) -> Result<T, String> {
    let n: T = whole(value)?;
    if n == T::default() {
        return Err(format!("{value:?} must be greater than 0"));
    }
    Ok(n)
}

/// Durations are bounded so that every deadline computed from them (an
/// `Instant`, a Unix time in `i64`) stays far from overflowing.
const TEN_YEARS_SECS: u64 = 3650 * 86_400;
const TEN_YEARS_DAYS: u64 = 3650;

/// A whole number of seconds from 0 to ten years.
fn seconds(value: &str) -> Result<u64, String> {
    let n: u64 = whole(value)?;
    if n > TEN_YEARS_SECS {
        return Err(format!("{value:?} must be at most {TEN_YEARS_SECS}"));
    }
    Ok(n)
}

/// A whole number from 1 to `max`.
fn at_most<T>(value: &str, max: u64) -> Result<T, String>
where
    T: std::str::FromStr + PartialEq + Default + TryFrom<u64> + PartialOrd,
{
    let n: T = positive(value)?;
    match T::try_from(max) {
        Ok(limit) if n > limit => Err(format!("{value:?} must be at most {max}")),
        _ => Ok(n),
    }
}

fn boolean(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{value:?} is not true or false")),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn load(toml: &str, env: &[(&str, &str)], flags: &Flags) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("latchkey.toml");
        std::fs::write(&path, toml).expect("write toml");
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load_from(&path, env.collect::<Vec<_>>().into_iter(), flags)
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = load("", &[], &Flags::default()).expect("defaults load");
        assert_eq!(s.access_token_expire_minutes, 30);
        assert_eq!(s.refresh_token_expire_days, 7);
        assert_eq!(s.database_url, "sqlite://latchkey.db");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(s.issuer, "latchkey");
        assert_eq!(s.refresh_reuse_interval, 10);
        assert_eq!(s.session_max_days, 30);
        assert_eq!(s.key_publish_delay, 600);
        assert_eq!(s.clock_leeway, 30);
        assert_eq!(s.login_max_failures, 5);
        assert_eq!(s.login_max_failures_per_ip, 50);
        assert_eq!(s.login_window, 60);
        assert_eq!(s.registration, Registration::Open);
        assert!(s.cookie_secure);
        assert!(s.secret_key.is_none());
    }

    #[test]
    fn flags_beat_environment_beat_file() {
        let flags = Flags {
            database_url: Some("sqlite://flag.db".into()),
            bind: None,
        };
        let s = load(
            "DATABASE_URL = \"sqlite://file.db\"\nbind = \"127.0.0.1:9000\"\nACCESS_TOKEN_EXPIRE_MINUTES = 5\n",
            &[("DATABASE_URL", "sqlite://env.db"), ("ACCESS_TOKEN_EXPIRE_MINUTES", "7")],
            &flags,
        )
        .expect("loads");
        assert_eq!(s.database_url, "sqlite://flag.db");
        assert_eq!(s.access_token_expire_minutes, 7);
        assert_eq!(s.bind.to_string(), "127.0.0.1:9000");
    }

    #[test]
    fn a_numeric_secret_stays_a_string() {
        let secret = "1".repeat(40);
        let s = load("", &[("SECRET_KEY", &secret)], &Flags::default()).expect("loads");
        assert_eq!(s.secret_key.map(|k| k.expose().to_string()), Some(secret));
    }

    #[test]
    fn bad_values_name_the_key_in_one_line() {
        let cases: &[(&str, &str, &str)] = &[
            ("ALGORITHM", "XYZ", "ALGORITHM"),
            ("SECRET_KEY", "short", "SECRET_KEY"),
            (
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                "abc",
                "ACCESS_TOKEN_EXPIRE_MINUTES",
            ),
            (
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                "-5",
                "ACCESS_TOKEN_EXPIRE_MINUTES",
            ),
            ("DATABASE_URL", "not-a-url", "DATABASE_URL"),
            ("REDIS_URL", "localhost:6379", "REDIS_URL"),
            ("BIND", "nowhere", "BIND"),
            ("COOKIE_SECURE", "maybe", "COOKIE_SECURE"),
            ("REGISTRATION", "sometimes", "REGISTRATION"),
        ];
        for (key, value, named) in cases {
            let err = load("", &[(key, value)], &Flags::default())
                .expect_err(&format!("{key}={value} must be refused"));
            let msg = err.to_string();
            assert!(msg.contains(named), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn hs_algorithm_without_secret_and_asymmetric_with_secret_are_refused() {
        assert!(load("", &[("ALGORITHM", "HS256")], &Flags::default()).is_err());
        let secret = "k".repeat(32);
        assert!(
            load(
                "",
                &[("SECRET_KEY", &secret), ("ALGORITHM", "ES256")],
                &Flags::default()
            )
            .is_err()
        );
        let s = load(
            "",
            &[("SECRET_KEY", &secret), ("ALGORITHM", "HS512")],
            &Flags::default(),
        )
        .expect("HS512 with a secret loads");
        assert_eq!(s.algorithm.as_deref(), Some("HS512"));
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let err = load("SECRET_KEYS = \"x\"\n", &[], &Flags::default()).expect_err("typo refused");
        assert!(err.to_string().contains("SECRET_KEYS"));
    }

    fn parse(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::from_sources(
            toml,
            "latchkey.toml",
            env.collect::<Vec<_>>().into_iter(),
            &Flags::default(),
        )
    }

    /// Accepted settings never make a deadline overflow later.
    fn deadlines_fit(s: &Settings) -> bool {
        let now = crate::clock::now();
        let secs = [
            s.request_timeout,
            s.database_timeout,
            s.login_window,
            s.clock_leeway,
            s.key_publish_delay,
            s.refresh_reuse_interval,
        ];
        secs.iter().all(|&n| {
            std::time::Instant::now()
                .checked_add(std::time::Duration::from_secs(n))
                .is_some()
                && i64::try_from(n).is_ok_and(|n| {
                    now.checked_add(n)
                        .and_then(|t| t.checked_add(s.access_ttl_secs()))
                        .and_then(|t| t.checked_add(s.session_max_secs()))
                        .is_some()
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any value of any one setting loads or is refused in one line
        /// naming that setting.
        #[test]
        fn any_value_of_any_setting_loads_or_names_it(
            key in prop::sample::select(KEYS),
            value in prop_oneof![
                "\\PC{0,40}",
                "[0-9]{1,25}",
                "-?[0-9]{1,6}",
                any::<String>(),
            ],
        ) {
            match parse("", &[(key, &value)]) {
                Ok(s) => prop_assert!(deadlines_fit(&s)),
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(msg.contains(key), "{msg}");
                    prop_assert!(!msg.contains('\n'), "{msg}");
                }
            }
        }

        /// Any file text loads or is refused in one line.
        #[test]
        fn any_file_text_loads_or_is_refused_in_one_line(
            text in prop_oneof![
                "\\PC{0,200}",
                "([A-Z_]{1,12} = (\"[^\"\n]{0,10}\"|[0-9-]{1,8}|true|\\[\\]|\\{\\})\n){0,5}",
                prop::sample::select(KEYS).prop_map(|k| format!("{k} = ")),
            ],
        ) {
            match parse(&text, &[]) {
                Ok(s) => prop_assert!(deadlines_fit(&s)),
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(!msg.is_empty() && !msg.contains('\n'), "{msg}");
                }
            }
        }
    }

    #[test]
    fn durations_are_bounded() {
        let err = parse("", &[("REQUEST_TIMEOUT", "18446744073709551615")]).expect_err("too long");
        assert!(err.to_string().contains("REQUEST_TIMEOUT"));
        assert!(parse("", &[("CLOCK_LEEWAY", "99999999999")]).is_err());
        assert!(parse("", &[("HASH_CONCURRENCY", "99999999999")]).is_err());
        assert_eq!(
            parse("REQUEST_TIMEOUT = 3", &[])
                .expect("loads")
                .request_timeout,
            3
        );
    }

    #[test]
    fn settings_debug_hides_secrets() {
        let s = Settings {
            secret_key: Some(Secret::new("super-secret-value-of-32-bytes!!".into())),
            admin_password: Some(Secret::new("admin-password".into())),
            ..Settings::default()
        };
        let text = format!("{s:?}");
        assert!(!text.contains("super-secret"));
        assert!(!text.contains("admin-password"));
    }
}
