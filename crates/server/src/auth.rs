//! HTTP Basic authentication with per-correspondent and operator API keys.
//!
//! A key's secret is a long random string Cashier mints; only its SHA-256 is stored, so checking
//! a request costs one fast hash, compared in constant time.

use crate::{ApiError, App};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use base64::Engine;
use cashier_core::{Actor, KeyOwner};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Characters of a minted secret.
const SECRET_LEN: usize = 40;
/// Random characters after a key id's two-letter prefix.
const KEY_ID_RANDOM_LEN: usize = 18;

/// Who is calling, once their key checked out.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key_id: String,
    pub owner: KeyOwner,
    actor: Actor,
}

impl Caller {
    /// The actor the ledger sees: a correspondent confined to its own, or an operator by name.
    pub fn actor(&self) -> Actor {
        self.actor.clone()
    }
}

fn unauthorized() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "request is not authorized: send HTTP Basic credentials of a valid API key")
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Caller, ApiError> {
        let value = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(unauthorized)?;
        let encoded = value.strip_prefix("Basic ").ok_or_else(unauthorized)?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| unauthorized())?;
        let text = String::from_utf8(decoded).map_err(|_| unauthorized())?;
        let (key_id, secret) = text.split_once(':').ok_or_else(unauthorized)?;
        let key = app.sequencer.api_key(key_id).filter(|k| !k.revoked).ok_or_else(unauthorized)?;
        if !constant_time_eq(&sha256(secret), &key.secret_sha256) {
            return Err(unauthorized());
        }
        let admitted = app.limits.admit(&key.key_id);
        if let Some(slot) = parts.extensions.get::<crate::limits::QuotaSlot>() {
            let _ = slot.set(admitted.unwrap_or_else(|quota| quota));
        }
        if admitted.is_err() {
            let message =
                format!("too many requests for this key: at most {} a second; retry after X-RateLimit-Reset", app.limits.per_second());
            return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message));
        }
        let actor = key.actor();
        Ok(Caller { key_id: key.key_id, owner: key.owner, actor })
    }
}

pub fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub(crate) fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new key: its id (`prefix` then random characters), its secret, and the secret's hash.
pub fn mint(prefix: &str) -> (String, String, [u8; 32]) {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const MIXED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut pick =
        |alphabet: &[u8], n: usize| -> String { (0..n).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect() };
    let key_id = format!("{prefix}{}", pick(UPPER, KEY_ID_RANDOM_LEN));
    let secret = pick(MIXED, SECRET_LEN);
    let hash = sha256(&secret);
    (key_id, secret, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_are_valid_and_distinct() {
        let (id, secret, hash) = mint("CK");
        assert!(cashier_core::ApiKey::valid_id(&id), "{id}");
        assert_eq!(secret.len(), SECRET_LEN);
        assert_eq!(hash, sha256(&secret));
        assert_ne!(mint("CK").0, id);
        assert!(constant_time_eq(&hash, &sha256(&secret)));
        assert!(!constant_time_eq(&hash, &sha256("other")));
    }
}
