//! Password hashing: argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1).

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LENGTH: usize = 12;
/// Long enough for any passphrase, short enough that hashing stays cheap to refuse.
pub const MAX_LENGTH: usize = 256;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Says why a password is too weak, or `None` if it is acceptable.
pub fn weakness(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Some(format!("must be at least {MIN_LENGTH} characters"));
    }
    if chars > MAX_LENGTH {
        return Some(format!("must be at most {MAX_LENGTH} characters"));
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Some("must use at least 4 different characters".into());
    }
    None
}

/// Slow by design: call it on a blocking thread.
pub fn hash(password: &str) -> String {
    use rand::RngCore;
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters cannot fail")
        .to_string()
}

/// Slow by design: call it on a blocking thread. A malformed stored hash never verifies.
pub fn verify(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A real hash of a random password: login verifies against it when the email is
/// unknown, so an unknown account costs the same time as a wrong password.
pub static DECOY_HASH: LazyLock<String> = LazyLock::new(|| hash("decoy password that matches no account"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterz", &h));
    }

    #[test]
    fn same_password_gets_a_different_salt() {
        assert_ne!(hash("correct horse battery"), hash("correct horse battery"));
    }

    #[test]
    fn malformed_hash_never_verifies() {
        assert!(!verify("anything at all", "not a hash"));
        assert!(!verify("anything at all", ""));
    }

    #[test]
    fn weak_passwords_are_named() {
        assert!(weakness("short").is_some());
        assert!(weakness("aaaaaaaaaaaaaaaa").is_some());
        assert!(weakness(&"ab1!".repeat(70)).is_some());
        assert!(weakness("eleven char").is_some());
        assert_eq!(weakness("twelve chars"), None);
    }
}
