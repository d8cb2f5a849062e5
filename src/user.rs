//! Users and the validated values they are made of. Text from outside is
//! parsed once into these newtypes; the rest of the code never re-checks it.

use std::fmt;

/// Why a value was refused; the message is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

text_newtype!(
    /// 1 to 64 characters: letters, digits, `.`, `_`, `-`, starting with a
    /// letter or digit.
    ///
    /// ```
    /// use latchkey::user::Username;
    /// assert!(Username::parse("john.doe").is_ok());
    /// assert!(Username::parse("john doe").is_err());
    /// ```
    Username
);

text_newtype!(
    /// An email address: `local@domain.tld`, at most 254 characters.
    ///
    /// ```
    /// use latchkey::user::Email;
    /// assert!(Email::parse("john@example.com").is_ok());
    /// assert!(Email::parse("john@").is_err());
    /// ```
    Email
);

text_newtype!(
    /// A permission such as `users:admin` or `delete:posts`: 1 to 128 of
    /// letters, digits and `:_.-*/`.
    ///
    /// ```
    /// use latchkey::user::Permission;
    /// assert!(Permission::parse("delete:posts").is_ok());
    /// assert!(Permission::parse("a b").is_err());
    /// ```
    Permission
);

text_newtype!(
    /// A role name: 1 to 64 of letters, digits and `._-`.
    ///
    /// ```
    /// use latchkey::user::RoleName;
    /// assert!(RoleName::parse("admin").is_ok());
    /// assert!(RoleName::parse("").is_err());
    /// ```
    RoleName
);

impl Username {
    /// Validates a username.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let starts_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if s.is_empty() || s.len() > 64 || !starts_ok || !s.chars().all(ok_char) {
            return Err(Invalid(
                "Username must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
                    .into(),
            ));
        }
        Ok(Self(s.to_string()))
    }
}

impl Email {
    /// Validates an email address (the shape, not the mailbox).
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let bad = || Invalid("value is not a valid email address".into());
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(bad());
        }
        Ok(Self(s.to_string()))
    }
}

impl Permission {
    /// Validates a permission name.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let ok_char =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '-' | '*' | '/');
        if s.is_empty() || s.len() > 128 || !s.chars().all(ok_char) {
            return Err(Invalid(format!(
                "Permission must be 1 to 128 letters, digits or ':_.-*/', got {:?}",
                truncate(s)
            )));
        }
        Ok(Self(s.to_string()))
    }
}

impl RoleName {
    /// Validates a role name.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if s.is_empty() || s.len() > 64 || !s.chars().all(ok_char) {
            return Err(Invalid(format!(
                "Role must be 1 to 64 letters, digits, '.', '_' or '-', got {:?}",
                truncate(s)
            )));
        }
        Ok(Self(s.to_string()))
    }
}

/// Longest accepted password, in bytes (argon2 takes any length; this bounds
/// the work a request can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Shortest password accepted at registration and password change.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Checks a new password's length rules.
pub fn check_new_password(password: &str) -> Result<(), Invalid> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Invalid(format!(
            "Password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Invalid(format!(
            "Password must be at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Parses every item of a list, failing on the first bad one.
pub fn parse_all<T>(
    items: &[String],
    parse: impl Fn(&str) -> Result<T, Invalid>,
) -> Result<Vec<T>, Invalid> {
    items.iter().map(|s| parse(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["john", "johndoe", "a", "x_y-z.1", &"a".repeat(64)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            " john",
            "john doe",
            "-john",
            "jo\u{0}hn",
            "jöhn",
            "a@b.c",
            &"a".repeat(65),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails() {
        for ok in ["john@example.com", "a.b+c@sub.example.org"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "john",
            "john@",
            "@example.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@.com",
            "a@b..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn permissions_and_roles() {
        assert!(Permission::parse("users:admin").is_ok());
        assert!(Permission::parse("tokens:introspect").is_ok());
        assert!(Permission::parse("").is_err());
        assert!(Permission::parse("a,b").is_err());
        assert!(RoleName::parse("editors").is_ok());
        assert!(RoleName::parse("a:b").is_err());
    }

    #[test]
    fn password_rules_count_characters_and_bound_bytes() {
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password("ééééééé").is_err());
        assert!(check_new_password(&"x".repeat(1024)).is_ok());
        assert!(check_new_password(&"x".repeat(1025)).is_err());
    }
}
