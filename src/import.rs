//! `latchkey import FILE`: users in the tutorials' `fake_users_db` shape.
//! The whole file is parsed and checked before anything is written; passlib
//! bcrypt hashes are kept as they are and upgraded at the next login.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail};
use serde::Deserialize;

use crate::auth::{Auth, AuthError};
use crate::clock;
use crate::password;
use crate::store::NewUserRow;
use crate::user::{Email, Permission, RoleName, Username};

/// One entry of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    username: String,
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    hashed_password: String,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    permissions: Vec<String>,
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Users created.
    pub created: Vec<String>,
    /// Usernames that already existed (left unchanged).
    pub skipped: Vec<String>,
}

/// Parses and validates the file's text into rows to insert; `known_roles`
/// are the roles an entry may name. Any text gives rows or a one-line
/// error naming the place or the entry, never a panic.
///
/// ```
/// let rows = latchkey::import::parse(r#"{"john": {"username": "john",
///     "hashed_password": "$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW"}}"#, &[]).unwrap();
/// assert_eq!(rows[0].username, "john");
/// assert!(latchkey::import::parse("{", &[]).is_err());
/// ```
pub fn parse(text: &str, known_roles: &[String]) -> anyhow::Result<Vec<NewUserRow>> {
    let entries: BTreeMap<String, Entry> = serde_json::from_str(text).map_err(|e| {
        anyhow!(
            "invalid import file at line {} column {}: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        )
    })?;
    let now = clock::now();
    let mut rows = Vec::with_capacity(entries.len());
    let mut seen = std::collections::HashSet::new();
    for (key, e) in entries {
        let bad = |what: String| anyhow!("invalid import entry {key:?}: {what}");
        let username = Username::parse(&e.username).map_err(|x| bad(x.0))?;
        if !seen.insert(username.as_str().to_lowercase()) {
            return Err(bad(format!("username {username} appears twice")));
        }
        let email = e
            .email
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(Email::parse)
            .transpose()
            .map_err(|x| bad(x.0))?;
        if e.full_name.as_deref().is_some_and(|n| n.contains('\0')) {
            return Err(bad("full_name contains a NUL character".to_string()));
        }
        if !password::is_supported_hash(&e.hashed_password) {
            return Err(bad(
                "hashed_password is not a bcrypt ($2a$/$2b$/$2y$) or argon2 hash".to_string(),
            ));
        }
        for role in &e.roles {
            RoleName::parse(role).map_err(|x| bad(x.0))?;
            if !known_roles.contains(role) {
                return Err(bad(format!(
                    "role {role:?} does not exist (create it with: latchkey role put {role} --permission ...)"
                )));
            }
        }
        for p in &e.permissions {
            Permission::parse(p).map_err(|x| bad(x.0))?;
        }
        rows.push(NewUserRow {
            username: username.into(),
            email: email.map(String::from),
            full_name: e.full_name,
            password_hash: e.hashed_password,
            disabled: e.disabled.unwrap_or(false),
            roles: e.roles,
            permissions: e.permissions,
            now,
        });
    }
    Ok(rows)
}

/// serde_json appends " at line L column C"; the message says it first.
/// Control characters (a field name may hold an escaped newline) are
/// escaped so the message stays on one line.
fn strip_position(msg: &str) -> String {
    let msg = msg.rfind(" at line ").map_or(msg, |i| &msg[..i]);
    msg.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Imports `file` into the store behind `auth`, printing what it did.
pub async fn run(auth: &Auth, file: &Path) -> anyhow::Result<()> {
    let outcome = import(auth, file).await?;
    for name in &outcome.skipped {
        println!("skipped {name}: the username already exists");
    }
    println!(
        "imported {} users, skipped {} existing",
        outcome.created.len(),
        outcome.skipped.len()
    );
    Ok(())
}

/// Imports `file`; nothing is written when the file is invalid.
pub async fn import(auth: &Auth, file: &Path) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?;
    let roles: Vec<String> = auth
        .store
        .list_roles()
        .await?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let rows = parse(&text, &roles)?;
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} users")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut outcome = Outcome::default();
    for row in rows {
        let name = row.username.clone();
        match auth.insert_user(row).await {
            Ok(_) => outcome.created.push(name),
            Err(AuthError::Conflict(_)) => outcome.skipped.push(name),
            Err(e) => {
                bar.abandon();
                bail!("importing {name}: {e}");
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const HASH: &str = "$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW";

    #[test]
    fn the_tutorial_shape_parses() {
        let text = format!(
            r#"{{"john": {{"username": "john", "full_name": "John Doe", "email": "john@example.com",
                "hashed_password": "{HASH}", "disabled": false}}}}"#
        );
        let rows = parse(&text, &[]).expect("parses");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].username, "john");
        assert_eq!(rows[0].password_hash, HASH);
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let err = parse(
            "{\n  \"john\": {\n    \"username\": \"john\",,\n  }\n}",
            &[],
        )
        .expect_err("refused");
        let msg = err.to_string();
        assert!(msg.contains("line 3 column"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    fn one_line(e: &anyhow::Error) -> bool {
        let msg = e.to_string();
        !msg.is_empty() && !msg.contains('\n')
    }

    fn text_or_value() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            3 => "\\PC{0,30}".prop_map(serde_json::Value::from),
            1 => Just(serde_json::Value::Null),
            1 => any::<i64>().prop_map(serde_json::Value::from),
            1 => any::<bool>().prop_map(serde_json::Value::from),
            1 => prop::collection::vec("[a-z:]{0,8}", 0..3).prop_map(serde_json::Value::from),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text gives rows or a one-line error.
        #[test]
        fn any_text_parses_or_is_refused_in_one_line(text in "\\PC{0,300}") {
            if let Err(e) = parse(&text, &[]) {
                prop_assert!(one_line(&e), "{e}");
            }
        }

        /// Entries of the right shape with any field values: every row that
        /// comes out is valid, every refusal names the entry in one line.
        #[test]
        fn entries_with_any_values_give_valid_rows_or_a_named_refusal(
            entries in prop::collection::btree_map(
                "\\PC{0,12}",
                prop::collection::btree_map(
                    prop::sample::select(&[
                        "username", "full_name", "email", "hashed_password",
                        "disabled", "roles", "permissions", "extra",
                    ][..]),
                    prop_oneof![
                        text_or_value(),
                        Just(serde_json::Value::from(HASH)),
                        Just(serde_json::Value::from("john")),
                        Just(serde_json::Value::from("editor")),
                    ],
                    0..8,
                ),
                0..4,
            ),
        ) {
            let text = serde_json::to_string(&entries).expect("json");
            match parse(&text, &["editor".to_string()]) {
                Ok(rows) => {
                    prop_assert_eq!(rows.len(), entries.len());
                    for row in rows {
                        prop_assert!(Username::parse(&row.username).is_ok());
                        prop_assert!(password::is_supported_hash(&row.password_hash));
                        prop_assert!(row.roles.iter().all(|r| r == "editor"));
                    }
                }
                Err(e) => {
                    prop_assert!(one_line(&e), "{e}");
                    prop_assert!(e.to_string().starts_with("invalid import"), "{e}");
                }
            }
        }
    }

    #[test]
    fn an_unknown_field_with_a_newline_is_reported_on_one_line() {
        // Found by the import_file fuzz target.
        let text =
            format!(r#"{{"a": {{"username": "a", "hashed_password": "{HASH}", "x\ny": 1}}}}"#);
        let err = parse(&text, &[]).expect_err("unknown field");
        assert!(one_line(&err), "{err}");
    }

    #[test]
    fn fake_hashes_unknown_roles_and_bad_names_are_refused() {
        let fake = r#"{"john": {"username": "john", "hashed_password": "fakehashedsecret"}}"#;
        assert!(parse(fake, &[]).is_err());
        let role = format!(
            r#"{{"a": {{"username": "a", "hashed_password": "{HASH}", "roles": ["nope"]}}}}"#
        );
        assert!(parse(&role, &[]).is_err());
        assert!(parse(&role, &["nope".to_string()]).is_ok());
        let name = format!(r#"{{"a": {{"username": "a b", "hashed_password": "{HASH}"}}}}"#);
        assert!(parse(&name, &[]).is_err());
    }
}
