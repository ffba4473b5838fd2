//! API keys and the caller they identify.
//!
//! A key reads `crk_<key id: 32 hex>_<secret: 64 hex>`: the recognisable prefix lets secret
//! scanners find leaked keys, the id makes authentication one primary-key lookup, and the secret
//! is 256 random bits of which only the SHA-256 is stored and compared in constant time.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use store::{ApiKey, Scope, Store};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::problem::{ApiError, ErrorCode};

pub const PREFIX: &str = "crk_";

/// `last_used_at` is written at most this often per key, so reads stay reads.
const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Creates and stores a key; returns it with the full key, which is shown once and never stored.
pub fn create_key(
    store: &Store,
    organization_id: Option<i32>,
    name: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<(ApiKey, String)> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let secret = hex(&secret);
    let key = ApiKey {
        id: Uuid::now_v7(),
        organization_id,
        name: name.to_owned(),
        secret_hash: hash_secret(&secret),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    store.create_api_key(&key)?;
    let full = format!("{PREFIX}{}_{secret}", key.id.simple());
    Ok((key, full))
}

/// The key id and secret of a well-formed key.
fn parse(key: &str) -> Option<(Uuid, &str)> {
    let (id, secret) = key.strip_prefix(PREFIX)?.split_once('_')?;
    let valid =
        id.len() == 32 && secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then_some(())?;
    Some((Uuid::try_parse(id).ok()?, secret))
}

/// The live key that `presented` is, if any.
pub fn authenticate(
    store: &Store,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<Option<ApiKey>, ApiError> {
    let Some((id, secret)) = parse(presented) else {
        return Ok(None);
    };
    let Some(key) = store.find_api_key(id)? else {
        return Ok(None);
    };
    let matches: bool = hash_secret(secret)
        .as_bytes()
        .ct_eq(key.secret_hash.as_bytes())
        .into();
    if !matches || key.revoked_at.is_some() {
        return Ok(None);
    }
    if key.last_used_at.is_none_or(|at| now - at > TOUCH_EVERY) {
        store.touch_api_key(key.id, now)?;
    }
    Ok(Some(key))
}

/// The authenticated caller of an `/api/v1` request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: Uuid,
    pub key_name: String,
    /// `None` for an admin key.
    pub organization_id: Option<i32>,
}

impl Caller {
    pub fn scope(&self) -> Scope {
        self.organization_id.map_or(Scope::All, Scope::Organization)
    }

    pub fn is_admin(&self) -> bool {
        self.organization_id.is_none()
    }

    /// Who is acting, for the change history.
    pub fn audit(&self, req: &HttpRequest) -> store::Audit {
        store::Audit {
            actor_key_id: Some(self.key_id.to_string()),
            actor_name: self.key_name.clone(),
            request_id: crate::middleware::request_id(req),
        }
    }
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, detail)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let store = req.app_data::<web::Data<Store>>().cloned();
        Box::pin(async move {
            let Some(header) = header else {
                return Err(unauthorized(
                    "Send your API key as `Authorization: Bearer <key>`.",
                ));
            };
            let Some(presented) = header
                .strip_prefix("Bearer ")
                .map(str::trim)
                .filter(|k| !k.is_empty())
            else {
                return Err(unauthorized(
                    "The Authorization header must be `Bearer <key>`.",
                ));
            };
            let presented = presented.to_owned();
            let store = store.ok_or_else(|| ApiError::internal("no store configured"))?;
            let key = web::block(move || authenticate(&store, &presented, Utc::now())).await??;
            let key = key.ok_or_else(|| unauthorized("This API key is unknown or revoked."))?;
            Ok(Caller {
                key_id: key.id,
                key_name: key.name,
                organization_id: key.organization_id,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_keys_parse() {
        let id = Uuid::now_v7();
        let secret = "ab".repeat(32);
        let key = format!("crk_{}_{secret}", id.simple());
        assert_eq!(parse(&key), Some((id, secret.as_str())));
        for bad in [
            String::new(),
            key.replace("crk_", "xyz_"),
            format!("crk_{}_{}", id.simple(), "ab".repeat(31)),
            format!("crk_{}_{}", id.simple(), "zz".repeat(32)),
            format!("crk_{}{secret}", id.simple()),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }
}
