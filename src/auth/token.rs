//! Access tokens (HS256 JWT, 15 minutes) and refresh tokens (256-bit random, stored
//! only as their SHA-256).

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const ISSUER: &str = "onset";
pub const AUDIENCE: &str = "onset-api";
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// The audience of the token between a login's password and its second factor: never
/// accepted as an access token, nor an access token as it.
pub const MFA_AUDIENCE: &str = "onset-mfa";
/// DESIGN.md §12: the second step must follow within five minutes.
pub const MFA_TTL_SECS: i64 = 5 * 60;
pub const REFRESH_TTL_DAYS: i64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: Uuid,
    pub role: String,
    pub clinic: Uuid,
    /// The account's email (it never changes), so that a request names its actor in the
    /// audit log without reading the account first.
    pub email: String,
    /// The account's token generation when the token was issued: a password change, a
    /// logout, a disable or a role change moves the account's on, and every token with an
    /// older one is refused. Absent (0) in tokens issued before generations existed.
    #[serde(default)]
    pub generation: i32,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    mfa_validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> TokenKeys {
        // The algorithm is pinned: a token signed any other way (or `alg: none`) is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        let mut mfa_validation = validation.clone();
        mfa_validation.set_audience(&[MFA_AUDIENCE]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            mfa_validation,
        }
    }

    pub fn issue(&self, user: Uuid, role: &str, clinic: Uuid, email: &str, generation: i32, now: DateTime<Utc>) -> String {
        self.sign(user, role, clinic, email, generation, now, AUDIENCE, ACCESS_TTL_SECS)
    }

    /// The token a login with MFA answers its password with: it names the account and is
    /// good only for `POST /api/v1/auth/login/mfa`, for five minutes.
    pub fn issue_mfa(&self, user: Uuid, role: &str, clinic: Uuid, email: &str, generation: i32, now: DateTime<Utc>) -> String {
        self.sign(user, role, clinic, email, generation, now, MFA_AUDIENCE, MFA_TTL_SECS)
    }

    pub fn verify_mfa(&self, token: &str) -> Result<Claims, String> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.mfa_validation).map(|data| data.claims).map_err(|e| e.to_string())
    }

    #[allow(clippy::too_many_arguments)]
    fn sign(&self, user: Uuid, role: &str, clinic: Uuid, email: &str, generation: i32, now: DateTime<Utc>, audience: &str, ttl_secs: i64) -> String {
        let claims = Claims {
            sub: user,
            role: role.to_string(),
            clinic,
            email: email.to_string(),
            generation,
            iat: now.timestamp(),
            exp: now.timestamp() + ttl_secs,
            iss: ISSUER.into(),
            aud: audience.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// Checks signature, algorithm, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }
}

/// A new refresh token: 32 random bytes, URL-safe base64 without padding.
pub fn new_refresh_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a refresh token.
pub fn refresh_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn issued_token_verifies_with_its_claims() {
        let (user, clinic) = (Uuid::now_v7(), Uuid::now_v7());
        let token = keys().issue(user, "clinician", clinic, "c@north.example", 0, Utc::now());
        let claims = keys().verify(&token).unwrap();
        assert_eq!((claims.sub, claims.clinic, claims.role.as_str()), (user, clinic, "clinician"));
        assert_eq!(claims.exp - claims.iat, ACCESS_TTL_SECS);
    }

    #[test]
    fn expired_token_is_refused() {
        let past = Utc::now() - chrono::Duration::minutes(16);
        let token = keys().issue(Uuid::now_v7(), "admin", Uuid::now_v7(), "a@north.example", 0, past);
        assert!(keys().verify(&token).is_err());
    }

    #[test]
    fn token_from_another_secret_is_refused() {
        let other = TokenKeys::new(b"another secret of thirty-two bytes!!");
        let token = other.issue(Uuid::now_v7(), "admin", Uuid::now_v7(), "a@north.example", 0, Utc::now());
        assert!(keys().verify(&token).is_err());
    }

    #[test]
    fn alg_none_is_refused() {
        let token = keys().issue(Uuid::now_v7(), "admin", Uuid::now_v7(), "a@north.example", 0, Utc::now());
        let payload = token.split('.').nth(1).unwrap();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys().verify(&format!("{header}.{payload}.")).is_err());
    }

    #[test]
    fn wrong_audience_is_refused() {
        let mut claims = keys().verify(&keys().issue(Uuid::now_v7(), "admin", Uuid::now_v7(), "a@north.example", 0, Utc::now())).unwrap();
        claims.aud = "someone-else".into();
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert!(keys().verify(&forged).is_err());
    }

    #[test]
    fn refresh_tokens_are_256_bit_and_hashed() {
        let token = new_refresh_token();
        assert_eq!(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
        assert_ne!(token, new_refresh_token());
        let hash = refresh_token_hash(&token);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, token);
    }
}
