//! Secrets the service must read back (webhook signing secrets), sealed at rest with
//! AES-256-GCM under a key derived from the installation secret, so a copy of the
//! database (a backup, a stolen file) does not hold them in the clear.
//!
//! The key is SHA-256 of a fixed label and `ONSET_JWT_SECRET` (the one secret every
//! instance already shares): changing that secret makes sealed secrets unreadable, and
//! each endpoint then needs a new secret, as every session needs a new login.

use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};

/// What a sealed value starts with; anything else was stored before sealing began.
pub const SEALED_PREFIX: &str = "sealed1:";
const KEY_LABEL: &[u8] = b"onset webhook secrets at rest, v1";

pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    pub fn new(installation_secret: &[u8]) -> Sealer {
        let mut hash = Sha256::new();
        hash.update(KEY_LABEL);
        hash.update(installation_secret);
        let key = UnboundKey::new(&AES_256_GCM, &hash.finalize()).expect("a SHA-256 digest is an AES-256 key");
        Sealer { key: LessSafeKey::new(key) }
    }

    /// `sealed1:` and the base64 of a fresh random nonce, the ciphertext and its tag.
    pub fn seal(&self, plain: &str) -> String {
        use rand::RngCore;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut sealed = plain.as_bytes().to_vec();
        self.key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut sealed).expect("AES-GCM seals any short value");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(out))
    }

    /// The value sealed, or `None` if it was not sealed under this key (or not sealed).
    pub fn open(&self, stored: &str) -> Option<String> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(stored.strip_prefix(SEALED_PREFIX)?).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let mut sealed = sealed.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut sealed).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_under_its_key_and_never_shows_itself() {
        let sealer = Sealer::new(b"an installation secret of at least 32 bytes");
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let sealed = sealer.seal(secret);
        assert!(sealed.starts_with(SEALED_PREFIX) && !sealed.contains("MfKQ9r8"));
        assert_ne!(sealed, sealer.seal(secret), "a fresh nonce each time");
        assert_eq!(sealer.open(&sealed).as_deref(), Some(secret));
        assert_eq!(Sealer::new(b"another installation secret, 32 bytes").open(&sealed), None);
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(sealer.open(std::str::from_utf8(&tampered).unwrap()), None, "the tag refuses a changed byte");
        assert_eq!(sealer.open(secret), None, "not sealed");
    }
}
