//! The command line: `serve`, `migrate`, `user`, `role`, `import`, `keys`,
//! `token`. Every command opens (and migrates) the database first.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Parser, Subcommand};

use crate::app::{self, App};
use crate::auth::{Auth, NewUser};
use crate::clock;
use crate::config::{Flags, Secret, Settings};
use crate::store::{UserPatch, UserRow};
use crate::user::{Permission, RoleName};

/// latchkey: a JWT authentication server.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about)]
pub struct Cli {
    /// Database URL (else DATABASE_URL, else sqlite://latchkey.db).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on (else BIND, else 127.0.0.1:8000).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Bring the database schema up to date.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage roles.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Import users from a tutorial-style `fake_users_db` JSON file.
    Import {
        /// The JSON file.
        file: std::path::PathBuf,
    },
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Times password checks as a login flood runs them (queued on one
    /// hashing permit, back to back) and prints the seconds each took (the
    /// benchmark's login ceiling is the cores divided by it).
    #[command(hide = true)]
    HashTime {
        /// How many password checks to time.
        #[arg(long, default_value_t = 9)]
        count: u32,
    },
}

/// `latchkey user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add(UserAdd),
    /// List users.
    List,
    /// Show one user.
    Show {
        /// Username.
        username: String,
    },
    /// Disable a user and end its sessions.
    Disable {
        /// Username.
        username: String,
    },
    /// Enable a user.
    Enable {
        /// Username.
        username: String,
    },
    /// Delete a user and end its sessions.
    Delete {
        /// Username.
        username: String,
    },
    /// Set a user's password and end its sessions.
    Passwd {
        /// Username.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End every session of a user.
    Logout {
        /// Username.
        username: String,
    },
}

/// `latchkey user add`
#[derive(Debug, Args)]
pub struct UserAdd {
    /// Username.
    pub username: String,
    /// Email.
    #[arg(long)]
    pub email: Option<String>,
    /// Full name.
    #[arg(long)]
    pub full_name: Option<String>,
    /// Role (repeatable; must exist).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// Permission (repeatable).
    #[arg(long = "permission")]
    pub permissions: Vec<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

/// `latchkey role ...`
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create or replace a role.
    Put {
        /// Role name.
        name: String,
        /// Permission (repeatable).
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// List roles.
    List,
    /// Delete a role.
    Delete {
        /// Role name.
        name: String,
    },
}

/// `latchkey keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys.
    List,
    /// Add a key that signs after KEY_PUBLISH_DELAY; older keys then retire.
    Rotate,
}

/// `latchkey token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a token's header and claims, and whether it verifies here.
    Decode {
        /// The token.
        token: String,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let bind = match &cli.command {
        Command::Serve { bind } => bind.clone(),
        _ => None,
    };
    let settings = Settings::load(&Flags {
        database_url: cli.database_url.clone(),
        bind,
    })?;
    match cli.command {
        Command::Serve { .. } => serve(settings).await,
        Command::HashTime { count } => hash_time(count).await,
        Command::Migrate => {
            app::open(settings).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::User(cmd) => user(&*app::open(settings).await?, cmd).await,
        Command::Role(cmd) => role(&*app::open(settings).await?, cmd).await,
        Command::Import { file } => crate::import::run(&*app::open(settings).await?, &file).await,
        Command::Keys(cmd) => keys(&*app::open(settings).await?, cmd).await,
        Command::Token(TokenCommand::Decode { token }) => {
            decode(&*app::open(settings).await?, &token).await
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    crate::telemetry::init_logging(settings.log_format);
    let app = App::build(settings).await?;
    if let Some(password) = app.initial_admin_password() {
        println!("created user admin; admin password: {password}");
        println!(
            "(shown once: store it now, or set LATCHKEY_ADMIN_PASSWORD before the first start)"
        );
    }
    // Before saying so: a SIGTERM right after the line must stop us cleanly.
    let stop = app::stop_signal();
    println!("latchkey listening on http://{}", app.local_addr());
    std::io::stdout().flush().ok();
    app.run_until_stopped(stop).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Needs no database: the checks go through the server's own hasher.
async fn hash_time(count: u32) -> anyhow::Result<()> {
    let hasher = crate::password::Hasher::new(1);
    let password = || Secret::new("benchmark-password".into());
    let hash = hasher.hash(password()).await?;
    let started = std::time::Instant::now();
    let checks = (0..count.max(1)).map(|_| hasher.verify(password(), Some(hash.clone())));
    let verdicts = futures_util::future::join_all(checks).await;
    let each = started.elapsed().as_secs_f64() / verdicts.len() as f64;
    anyhow::ensure!(
        verdicts
            .iter()
            .all(|v| matches!(v, crate::password::Verdict::Match { .. })),
        "a password check failed"
    );
    println!("{each:.6}");
    Ok(())
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading standard input")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to prompt for a password: use --password-stdin");
        }
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Repeat password: ")?;
        if first != again {
            bail!("passwords do not match");
        }
        first
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(password)
}

async fn find_user(auth: &Auth, username: &str) -> anyhow::Result<UserRow> {
    auth.store
        .user_by_username(username)
        .await?
        .ok_or_else(|| anyhow!("no such user: {username}"))
}

fn describe(user: &UserRow) -> String {
    serde_json::to_string_pretty(&crate::http::routes::users::user_json(user)).unwrap_or_default()
}

async fn user(auth: &Auth, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add(add) => {
            let password = read_password(add.password_stdin)?;
            let user = auth
                .create_user(
                    NewUser {
                        username: add.username,
                        password,
                        email: add.email,
                        full_name: add.full_name,
                        disabled: false,
                        roles: add.roles,
                        permissions: add.permissions,
                    },
                    false,
                )
                .await
                .map_err(one_line)?;
            println!("created user {} (id {})", user.username, user.id);
        }
        UserCommand::List => {
            let (users, total) = auth.store.list_users(i64::MAX, 0).await?;
            println!(
                "{:>6}  {:<24} {:<32} {:<8} roles",
                "id", "username", "email", "disabled"
            );
            for u in users {
                println!(
                    "{:>6}  {:<24} {:<32} {:<8} {}",
                    u.id,
                    u.username,
                    u.email.as_deref().unwrap_or("-"),
                    u.disabled,
                    u.roles.join(",")
                );
            }
            println!("{total} users");
        }
        UserCommand::Show { username } => {
            println!("{}", describe(&find_user(auth, &username).await?))
        }
        UserCommand::Disable { username } => {
            let u = find_user(auth, &username).await?;
            auth.update_user(
                u.id,
                UserPatch {
                    disabled: Some(true),
                    ..UserPatch::default()
                },
            )
            .await
            .map_err(one_line)?;
            println!("disabled {username}; its sessions are revoked");
        }
        UserCommand::Enable { username } => {
            let u = find_user(auth, &username).await?;
            auth.update_user(
                u.id,
                UserPatch {
                    disabled: Some(false),
                    ..UserPatch::default()
                },
            )
            .await
            .map_err(one_line)?;
            println!("enabled {username}");
        }
        UserCommand::Delete { username } => {
            let u = find_user(auth, &username).await?;
            auth.delete_user(u.id).await.map_err(one_line)?;
            println!("deleted {username}");
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let u = find_user(auth, &username).await?;
            let password = read_password(password_stdin)?;
            if password.len() > crate::user::MAX_PASSWORD_BYTES {
                bail!(
                    "the password is longer than {} bytes",
                    crate::user::MAX_PASSWORD_BYTES
                );
            }
            auth.set_password(u.id, Secret::new(password))
                .await
                .map_err(one_line)?;
            let n = auth.revoke_user(u.id, None).await.map_err(one_line)?;
            println!("password of {username} changed; {n} sessions revoked");
        }
        UserCommand::Logout { username } => {
            let u = find_user(auth, &username).await?;
            let n = auth.revoke_user(u.id, None).await.map_err(one_line)?;
            println!("{n} sessions of {username} revoked");
        }
    }
    Ok(())
}

async fn role(auth: &Auth, cmd: RoleCommand) -> anyhow::Result<()> {
    match cmd {
        RoleCommand::Put { name, permissions } => {
            let name = RoleName::parse(&name).map_err(|e| anyhow!("{e}"))?;
            let permissions: Vec<String> = permissions
                .iter()
                .map(|p| Permission::parse(p).map(String::from))
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow!("{e}"))?;
            auth.store
                .put_role(name.as_str(), &permissions, clock::now())
                .await?;
            println!("role {name}: {}", permissions.join(" "));
        }
        RoleCommand::List => {
            for (name, permissions) in auth.store.list_roles().await? {
                println!("{name}: {}", permissions.join(" "));
            }
        }
        RoleCommand::Delete { name } => {
            if !auth.delete_role(&name).await.map_err(one_line)? {
                bail!("no such role: {name}");
            }
            println!("deleted role {name}");
        }
    }
    Ok(())
}

async fn keys(auth: &Auth, cmd: KeysCommand) -> anyhow::Result<()> {
    if auth.settings.secret_key.is_some() {
        bail!(
            "SECRET_KEY is set: tokens are signed with it (HMAC) and there are no keys to list or rotate"
        );
    }
    let alg = crate::token::keys::algorithm(&auth.settings);
    match cmd {
        KeysCommand::List => {
            let now = clock::now();
            for k in auth.store.signing_keys().await? {
                let state = match k.retired_at {
                    Some(r) if r <= now => "retired",
                    _ if k.activates_at > now => "published, not yet signing",
                    _ => "signing",
                };
                println!(
                    "{}  {}  created {}  signs from {}  {}",
                    k.kid,
                    k.algorithm,
                    clock::rfc3339(k.created_at),
                    clock::rfc3339(k.activates_at),
                    state
                );
            }
        }
        KeysCommand::Rotate => {
            let now = clock::now();
            let delay = i64::try_from(auth.settings.key_publish_delay).unwrap_or(i64::MAX / 4);
            let row = crate::token::keys::generate(alg, now, now + delay)?;
            auth.store.insert_signing_key(&row).await?;
            auth.store
                .retire_keys_before(&row.kid, row.activates_at)
                .await?;
            println!(
                "new key {} published now; it signs from {}",
                row.kid,
                clock::rfc3339(row.activates_at)
            );
        }
    }
    Ok(())
}

async fn decode(auth: &Auth, token: &str) -> anyhow::Result<()> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| anyhow!("not a JWT: the header cannot be decoded"))?;
    let claims: serde_json::Value =
        jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token)
            .map(|d| d.claims)
            .map_err(|_| anyhow!("not a JWT: the claims cannot be decoded"))?;
    let verdict = match auth.authenticate(token).await {
        Ok(_) => "valid".to_string(),
        Err(e) => e.to_string(),
    };
    let out = serde_json::json!({
        "header": header,
        "claims": claims,
        "verification": verdict,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn one_line(e: crate::auth::AuthError) -> anyhow::Error {
    anyhow!("{e}")
}
