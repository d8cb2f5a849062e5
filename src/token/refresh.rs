//! Opaque refresh tokens: 256 random bits, base64url, stored only as their
//! SHA-256 and found by that hash.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A new refresh token and the hash to store for it.
pub struct NewRefreshToken {
    /// Give this to the client, once.
    pub token: String,
    /// Store this.
    pub hash: Vec<u8>,
}

/// Draws a fresh refresh token.
///
/// ```
/// let t = latchkey::token::refresh::generate();
/// assert_eq!(t.token.len(), 43);
/// assert_eq!(latchkey::token::refresh::hash(&t.token), t.hash);
/// ```
pub fn generate() -> NewRefreshToken {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    NewRefreshToken { token, hash }
}

/// The stored form of a presented token.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// True when `token` has the shape of one of ours (43 base64url characters);
/// anything else is refused without a database look-up.
pub fn looks_valid(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_and_well_formed() {
        let a = generate();
        let b = generate();
        assert_ne!(a.token, b.token);
        assert!(looks_valid(&a.token));
        assert_eq!(a.hash.len(), 32);
        assert!(!looks_valid("short"));
        assert!(!looks_valid(&"a".repeat(42)));
        assert!(!looks_valid(&format!("{}=", &a.token[..42])));
    }
}
