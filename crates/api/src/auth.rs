//! API keys and the caller they identify.
//!
//! A key reads `crk_<key id: 32 hex>_<secret: 64 hex>`: the recognisable prefix lets secret
//! scanners find leaked keys, the id makes authentication one primary-key lookup, and the secret
//! is 256 random bits of which only the SHA-256 is stored and compared in constant time.

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use chrono::{DateTime, TimeDelta, Utc};
use store::{ApiKey, Scope, Store};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::digest::{hex, sha256_hex};
use crate::problem::{ApiError, ErrorCode};

pub const PREFIX: &str = "crk_";

/// `last_used_at` is written at most this often per key, so reads stay reads.
const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

fn hash_secret(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// Creates and stores a key; returns it with the full key, which is shown once and never stored.
pub async fn create_key(
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
    store.create_api_key(&key).await?;
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

/// Whether `secret` is the one whose hash `key` stores, compared in constant time.
fn secret_matches(key: &ApiKey, secret: &str) -> bool {
    hash_secret(secret)
        .as_bytes()
        .ct_eq(key.secret_hash.as_bytes())
        .into()
}

/// The key with this id when it exists and is not revoked, read from the database; records the
/// use (at most every [`TOUCH_EVERY`]) in the background: a write the request does not wait for,
/// so that reads keep working while writes cannot commit (a stalled synchronous standby).
async fn load_live_key(
    store: &web::Data<Store>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<ApiKey>, ApiError> {
    let Some(key) = store.find_api_key(id).await? else {
        return Ok(None);
    };
    if key.revoked_at.is_some() {
        return Ok(None);
    }
    if key.last_used_at.is_none_or(|at| now - at > TOUCH_EVERY) {
        let (store, id) = (web::Data::clone(store), key.id);
        actix_web::rt::spawn(async move {
            if let Err(error) = store.touch_api_key(id, now).await {
                tracing::debug!(%error, key_id = %id, "the key's last use was not recorded");
            }
        });
    }
    Ok(Some(key))
}

/// The live keys read recently, so that most requests spend no database round trip on their key.
///
/// An entry is trusted for `ttl` after it was read, so a revoked key stops working within `ttl`
/// on every instance. Only live keys are kept, so the cache holds at most as many entries as
/// there are keys, whatever callers send.
pub struct KeyCache {
    ttl: Duration,
    keys: RwLock<HashMap<Uuid, (Arc<ApiKey>, Instant)>>,
}

impl KeyCache {
    /// A `ttl` of zero reads the key from the database on every request.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            keys: RwLock::default(),
        }
    }

    fn fresh(&self, id: Uuid) -> Option<Arc<ApiKey>> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let (key, read_at) = keys.get(&id)?;
        (read_at.elapsed() < self.ttl).then(|| Arc::clone(key))
    }

    fn remember(&self, key: Arc<ApiKey>, read_at: Instant) {
        if !self.ttl.is_zero() {
            let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
            keys.insert(key.id, (key, read_at));
        }
    }

    fn forget(&self, id: Uuid) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        keys.remove(&id);
    }
}

/// The live key that `presented` is, if any: from the cache while it is fresh, otherwise from
/// the database.
pub async fn authenticate(
    store: &web::Data<Store>,
    cache: &KeyCache,
    presented: &str,
) -> Result<Option<Arc<ApiKey>>, ApiError> {
    let Some((id, secret)) = parse(presented) else {
        return Ok(None);
    };
    let key = match cache.fresh(id) {
        Some(key) => key,
        None => {
            let read_at = Instant::now();
            match load_live_key(store, id, Utc::now()).await? {
                Some(key) => {
                    let key = Arc::new(key);
                    cache.remember(Arc::clone(&key), read_at);
                    key
                }
                None => {
                    cache.forget(id);
                    return Ok(None);
                }
            }
        }
    };
    Ok(secret_matches(&key, secret).then_some(key))
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
    /// The organization a resource the caller creates belongs to, from the body member
    /// `organization_id` (`given`): an organization key's own, where naming one (anything but
    /// `null`) is refused in `refusals` as `read_only_field`; an admin key must name one.
    pub fn organization_to_create_in(
        &self,
        given: &crate::members::AnyField,
        refusals: &mut crate::members::Refusals,
    ) -> Result<i32, domain::FieldError> {
        use domain::{FieldCode, FieldError};
        const NAME: &str = "organization_id";
        if let Some(own) = self.organization_id {
            if given.0.is_some() {
                refusals.push(FieldError::new(
                    NAME,
                    FieldCode::ReadOnlyField,
                    "is your key's organization: only admin keys name one",
                ));
            }
            return Ok(own);
        }
        match &given.0 {
            None => Err(FieldError::new(
                NAME,
                FieldCode::Required,
                "is required with an admin key",
            )),
            Some(value) => value
                .as_i64()
                .filter(|id| *id >= 1)
                .and_then(|id| i32::try_from(id).ok())
                .ok_or_else(|| {
                    FieldError::new(
                        NAME,
                        FieldCode::InvalidType,
                        "must be a positive 32-bit integer",
                    )
                }),
        }
    }

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

/// The live key a request presents, or why it is refused.
async fn caller_of(req: &HttpRequest) -> Result<Caller, ApiError> {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return Err(unauthorized(
            "Send your API key as `Authorization: Bearer <key>`.",
        ));
    };
    let Some(presented) = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
    else {
        return Err(unauthorized(
            "The Authorization header must be `Bearer <key>`.",
        ));
    };
    let (Some(store), Some(cache)) = (
        req.app_data::<web::Data<Store>>(),
        req.app_data::<web::Data<KeyCache>>(),
    ) else {
        return Err(ApiError::internal("no store or key cache configured"));
    };
    let key = authenticate(store, cache, presented)
        .await?
        .ok_or_else(|| unauthorized("This API key is unknown or revoked."))?;
    Ok(Caller {
        key_id: key.id,
        key_name: key.name.clone(),
        organization_id: key.organization_id,
    })
}

/// The middleware of `/api/v1`: a request whose key is not live is answered `401` here, before
/// its path, query or body is looked at (the body is never read). A live key becomes the
/// request's [`Caller`].
pub async fn require_key(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match caller_of(req.request()).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body)
        }
        Err(refused) => Ok(req.error_response(refused)),
    }
}

/// The caller [`require_key`] authenticated; only routes under it can take one.
impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(|| ApiError::internal("a route outside /api/v1 asked for the caller")),
        )
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
