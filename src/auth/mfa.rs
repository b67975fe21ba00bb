//! Time-based one-time passwords for staff (RFC 6238 with the parameters authenticator
//! apps assume: HMAC-SHA-1, 6 digits, 30-second steps), computed by the `totp-rs` crate,
//! and recovery codes. Pure: the store keeps the secret (sealed) and the last step used.

use rand::Rng;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

/// RFC 6238 §4: "We RECOMMEND a default time-step size of 30 seconds".
pub const STEP_SECS: u64 = 30;
/// RFC 6238 §5.2: "We RECOMMEND that at most one time step is allowed as the network
/// delay": a code from the step before or after now is accepted too.
const DRIFT_STEPS: i64 = 1;
/// RFC 4226 §4: "The length of the shared secret MUST be at least 128 bits. This document
/// RECOMMENDs a shared secret length of 160 bits."
const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "onset";

fn totp(secret: &[u8], account: &str) -> Option<TOTP> {
    TOTP::new(Algorithm::SHA1, 6, 0, STEP_SECS, secret.to_vec(), Some(ISSUER.to_string()), account.to_string()).ok()
}

/// A new secret, as the raw bytes to keep and the base32 a person types into an app.
pub fn new_secret() -> (Vec<u8>, String) {
    let mut bytes = vec![0u8; SECRET_BYTES];
    rand::rng().fill(&mut bytes[..]);
    let text = base32(&bytes);
    (bytes, text)
}

/// RFC 4648 base32 without padding, as authenticator apps take a secret.
fn base32(bytes: &[u8]) -> String {
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

pub fn secret_from_text(text: &str) -> Option<Vec<u8>> {
    Secret::Encoded(text.to_string()).to_bytes().ok()
}

/// The `otpauth://totp/...` URI an authenticator app reads (from a QR code).
pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    totp(secret, account).map(|t| t.get_url()).unwrap_or_default()
}

/// The time step a code belongs to, if it is the code of the step at `unix_secs` or of
/// one step either side; the store refuses any step not after the last one used.
pub fn matching_step(secret: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "account")?;
    let now = (unix_secs / STEP_SECS) as i64;
    (now - DRIFT_STEPS..=now + DRIFT_STEPS).filter(|step| *step >= 0).map(|step| step as u64).find(|step| totp.check(code, step * STEP_SECS))
}

/// The code of a step (tests, and nothing else: a server never shows a code).
pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
    totp(secret, "account").map(|t| t.generate(unix_secs)).unwrap_or_default()
}

/// Ten single-use recovery codes, `xxxxx-xxxxx` in lower-case base32 (50 random bits each:
/// enough against guessing under the login throttle, short enough to type).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 7];
            rand::rng().fill(&mut bytes[..]);
            let text = base32(&bytes).to_lowercase();
            format!("{}-{}", &text[..5], &text[5..10])
        })
        .collect()
}

/// How a recovery code is kept: SHA-256 of its canonical form (random codes need no
/// slow hash), so a typed code matches with or without its dash or capitals.
pub fn recovery_hash(code: &str) -> String {
    let canonical: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 secret is the ASCII "12345678901234567890"; at
    /// T = 59 s the 8-digit TOTP is 94287082, so the 6-digit one is its last six, 287082;
    /// at 1111111109 s, 07081804 → 081804.
    #[test]
    fn the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59), "287082");
        assert_eq!(code_at(secret, 1_111_111_109), "081804");
        assert_eq!(code_at(secret, 1_234_567_890), "005924");
    }

    #[test]
    fn one_step_of_drift_either_side_and_no_more() {
        let secret = b"12345678901234567890";
        let at = 1_111_111_109; // step 37037036
        let code = code_at(secret, at);
        assert_eq!(matching_step(secret, &code, at), Some(at / 30));
        assert_eq!(matching_step(secret, &code, at + 30), Some(at / 30), "a step late");
        assert_eq!(matching_step(secret, &code, at - 30), Some(at / 30), "a step early");
        assert_eq!(matching_step(secret, &code, at + 60), None, "two steps late");
        assert_eq!(matching_step(secret, "12345", at), None);
        assert_eq!(matching_step(secret, "abcdef", at), None);
    }

    #[test]
    fn secrets_and_recovery_codes() {
        let (bytes, text) = new_secret();
        assert_eq!(bytes.len(), 20);
        assert_eq!(secret_from_text(&text), Some(bytes.clone()));
        let uri = otpauth_uri(&bytes, "ana@north.example.org");
        assert!(uri.starts_with("otpauth://totp/onset:ana%40north.example.org?") && uri.contains(&format!("secret={text}")) && uri.contains("issuer=onset"), "{uri}");
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));
        assert_eq!(recovery_hash(&codes[0]), recovery_hash(&codes[0].replace('-', "").to_uppercase()));
        assert_ne!(recovery_hash(&codes[0]), recovery_hash(&codes[1]));
    }
}
