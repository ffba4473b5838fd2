//! Webhooks: the partners' endpoints, the deliveries a change writes for them (see
//! `pg_statements` and `sqlite_writes`), and what the delivery workers claim and record.
//!
//! A delivery is `pending` until it is `delivered` or `failed` (given up). A worker *claims* due
//! deliveries for a lease (`claimed_by`, `claimed_until`), sends them, then records the attempt
//! and the delivery's next state in one transaction, provided its claim still holds. The state
//! is in the database, so a worker that dies leaves claims that lapse and are taken again.
//!
//! Claims are taken by one `UPDATE` whose conditions on the row (pending, not claimed) are
//! checked again by PostgreSQL on the row's latest version when another instance updated it
//! first: two instances never hold a claim on one delivery. A delivery is due only when no
//! earlier event of its client is still pending for its endpoint (head of line per client and
//! endpoint), and each endpoint has a bounded number of claims at a time, every instance
//! together, so a slow endpoint cannot take every worker.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Text, Timestamptz, TimestamptzSqlite, Uuid as SqlUuid};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, QueryableByName};
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use crate::row::DbUuid;
use crate::{on_postgres, on_sqlite, with_connection, Db, Scope, Store, StoreError};

/// A webhook endpoint as stored. The secret is encrypted by the caller: the store never sees it
/// in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub organization_id: i32,
    pub url: String,
    pub description: Option<String>,
    /// The event types asked for, as a JSON array; `None`: every type.
    pub event_types: Option<String>,
    /// The same as a bit mask (each type has its bit); `None`: every type.
    pub event_mask: Option<i32>,
    /// The signing secret, encrypted.
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

type EndpointRow = (
    DbUuid,
    i32,
    String,
    Option<String>,
    Option<String>,
    Option<i32>,
    String,
    DateTime<Utc>,
);

/// The columns of an [`EndpointRow`], from the backend's `webhook_endpoints` module `$w`.
macro_rules! endpoint_columns {
    ($w:ident) => {
        (
            $w::id,
            $w::organization_id,
            $w::url,
            $w::description,
            $w::event_types,
            $w::event_mask,
            $w::secret,
            $w::created_at,
        )
    };
}

fn endpoint(row: EndpointRow) -> WebhookEndpoint {
    let (id, organization_id, url, description, event_types, event_mask, secret, created_at) = row;
    WebhookEndpoint {
        id: id.0,
        organization_id,
        url,
        description,
        event_types,
        event_mask,
        secret,
        created_at,
    }
}

/// One attempt to deliver an event to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub event_id: Uuid,
    /// 1 for the first attempt of this event to this endpoint, then 2, ...
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub outcome: Outcome,
}

/// What an attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered 2xx.
    Delivered,
    /// This attempt failed; another follows at the given time.
    Retrying,
    /// This attempt failed and was the last: the event is given up for this endpoint.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retrying => "retrying",
            Outcome::Failed => "failed",
        }
    }

    fn parse(value: &str) -> Result<Self, StoreError> {
        match value {
            "delivered" => Ok(Outcome::Delivered),
            "retrying" => Ok(Outcome::Retrying),
            "failed" => Ok(Outcome::Failed),
            other => Err(StoreError::Internal(format!(
                "webhook_attempts.outcome holds an unknown value {other:?}"
            ))),
        }
    }

    /// The delivery's state after an attempt with this outcome.
    fn state(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retrying => "pending",
            Outcome::Failed => "failed",
        }
    }
}

/// A delivery claimed by a worker: what it needs to make the attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    /// The endpoint's organization.
    pub organization_id: i32,
    /// The claim it was taken under: its outcome is recorded only while this claim holds.
    pub claim: Uuid,
    pub endpoint_id: Uuid,
    pub url: String,
    /// The endpoint's signing secret, encrypted.
    pub secret: String,
    pub event_id: Uuid,
    /// The event as the API shows it (JSON): the request's body.
    pub body: String,
    /// The number of this attempt (1 for the first).
    pub attempt: i32,
    /// When the first attempt was made (this one, for a first attempt).
    pub first_attempted_at: DateTime<Utc>,
}

/// How a worker claims: under which claim (new for every call), until when it holds, and how
/// many it may take.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest {
    pub claim: Uuid,
    pub now: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// At most this many deliveries in all.
    pub limit: i64,
    /// At most this many claims per endpoint at a time, every worker's counted.
    pub per_endpoint: i64,
}

/// What makes a delivery `d` due at `$3` (now): pending, its next attempt's time come, not
/// claimed (or its claim lapsed), its endpoint not deleted nor paused, and no earlier event of its
/// client pending for that endpoint. That last rule is a scalar subquery (one probe of the
/// per-client index for each row) rather than `NOT EXISTS`: with stale statistics PostgreSQL
/// planned the anti-join as a scan of the endpoint's whole backlog for every row, 7 s for 5,600
/// pending deliveries.
macro_rules! due_sql {
    () => {
        "d.state = 'pending' AND d.next_attempt_at <= $3 \
         AND (d.claimed_until IS NULL OR d.claimed_until <= $3) \
         AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = d.endpoint_id \
               AND w.deleted_at IS NULL AND (w.paused_until IS NULL OR w.paused_until <= $3)) \
         AND d.version = (SELECT min(e.version) FROM webhook_deliveries e \
           WHERE e.endpoint_id = d.endpoint_id AND e.client_id = d.client_id \
             AND e.state = 'pending')"
    };
}

/// The endpoints with a due delivery at `$3` (now), how many claims each holds now (all
/// instances'), and whether the last attempt reached it (an unreachable endpoint keeps its
/// `paused_until` once the pause is over, until a delivery succeeds). One index probe per
/// endpoint: the claim then runs per endpoint, so that its cost does not grow with the backlog
/// of every endpoint together.
const ENDPOINTS_DUE_SQL: &str = concat!(
    "SELECT w.id AS endpoint_id, \
       (SELECT count(*) FROM webhook_deliveries c WHERE c.endpoint_id = w.id \
          AND c.claimed_until IS NOT NULL AND c.claimed_until > $3) AS busy, \
       w.paused_until IS NULL AS reachable \
     FROM webhook_endpoints w \
     WHERE w.deleted_at IS NULL AND (w.paused_until IS NULL OR w.paused_until <= $3) \
       AND (SELECT d.id FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND ",
    due_sql!(),
    // A scalar subquery with LIMIT 1 stops at the endpoint's first due delivery; an EXISTS
    // would be planned as a join over every endpoint's backlog.
    " LIMIT 1) IS NOT NULL"
);

/// The claim of an endpoint's oldest due deliveries: `$1` the claim's id, `$2` until when it
/// holds, `$3` now, `$4` the endpoint, `$5` how many at most. The outer conditions are those
/// PostgreSQL checks again on a row's latest version when another transaction updated it since
/// the statement began: two instances never hold one delivery.
const CLAIM_SQL: &str = concat!(
    "UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = $2, \
       first_attempted_at = COALESCE(first_attempted_at, $3) \
     WHERE state = 'pending' AND next_attempt_at <= $3 \
       AND (claimed_until IS NULL OR claimed_until <= $3) \
       AND id IN (SELECT d.id FROM webhook_deliveries d WHERE d.endpoint_id = $4 AND ",
    due_sql!(),
    " ORDER BY d.next_attempt_at, d.id LIMIT $5) \
     RETURNING id"
);

#[derive(QueryableByName)]
struct EndpointDue {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    endpoint_id: uuid::Uuid,
    #[diesel(sql_type = BigInt)]
    busy: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    reachable: bool,
}

#[derive(QueryableByName)]
struct EndpointDueSqlite {
    #[diesel(sql_type = Text)]
    endpoint_id: String,
    #[diesel(sql_type = BigInt)]
    busy: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    reachable: bool,
}

/// Shares `free` slots among the endpoints, each taking at most `per_endpoint` claims in all:
/// one each in turn (in the order given, which the caller shuffles), then again.
fn share(endpoints: &[(Uuid, i64)], free: i64, per_endpoint: i64) -> Vec<(Uuid, i64)> {
    let mut given: Vec<(Uuid, i64)> = endpoints.iter().map(|(id, _)| (*id, 0)).collect();
    let mut left = free;
    loop {
        let before = left;
        for ((_, busy), (_, n)) in endpoints.iter().zip(given.iter_mut()) {
            if left > 0 && busy + *n < per_endpoint {
                *n += 1;
                left -= 1;
            }
        }
        if left == 0 || left == before {
            break;
        }
    }
    given.retain(|(_, n)| *n > 0);
    given
}

/// SQLite's form of a statement: numbered parameters `?N` (SQLite would take `$N` as named ones,
/// numbered by first appearance, which holds only while the text keeps them in order).
fn for_sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The oldest undelivered event of each endpoint that has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    pub endpoint_id: Uuid,
    pub oldest_event_at: DateTime<Utc>,
}

impl Store {
    /// Records the fingerprint of the key of webhook secrets on the first call; on later ones,
    /// the fingerprint recorded when it differs from `fingerprint` (another key), else `None`.
    pub async fn check_webhook_key(&self, fingerprint: &str) -> Result<Option<String>, StoreError> {
        let recorded = with_connection!(self, writer, |conn, s| {
            use s::webhook_secrets_key::dsl as k;
            diesel::insert_into(k::webhook_secrets_key)
                .values((k::id.eq(1), k::fingerprint.eq(fingerprint)))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            Ok(k::webhook_secrets_key
                .select(k::fingerprint)
                .first::<String>(conn)
                .await?)
        })?;
        Ok((recorded != fingerprint).then_some(recorded))
    }

    /// Stores a new endpoint.
    pub async fn create_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
    ) -> Result<(), StoreError> {
        with_connection!(self, writer, |conn, s| {
            use s::webhook_endpoints::dsl as w;
            diesel::insert_into(w::webhook_endpoints)
                .values((
                    w::id.eq(DbUuid(endpoint.id)),
                    w::organization_id.eq(endpoint.organization_id),
                    w::url.eq(&endpoint.url),
                    w::description.eq(endpoint.description.as_deref()),
                    w::event_types.eq(endpoint.event_types.as_deref()),
                    w::event_mask.eq(endpoint.event_mask),
                    w::secret.eq(&endpoint.secret),
                    w::created_at.eq(endpoint.created_at),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    /// The scope's endpoints (not deleted), oldest first.
    pub async fn webhook_endpoints(
        &self,
        scope: Scope,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        with_connection!(self, reader, |conn, s| {
            use s::webhook_endpoints::dsl as w;
            let mut query = w::webhook_endpoints
                .filter(w::deleted_at.is_null())
                .select(endpoint_columns!(w))
                .into_boxed();
            if let Scope::Organization(organization) = scope {
                query = query.filter(w::organization_id.eq(organization));
            }
            let rows = query
                .order((w::created_at.asc(), w::id.asc()))
                .load::<EndpointRow>(conn)
                .await?;
            Ok(rows.into_iter().map(endpoint).collect())
        })
    }

    /// The endpoint with this id within the scope, unless deleted.
    pub async fn webhook_endpoint(
        &self,
        scope: Scope,
        id: Uuid,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        let found = with_connection!(self, reader, |conn, s| {
            use s::webhook_endpoints::dsl as w;
            Ok(w::webhook_endpoints
                .filter(w::id.eq(DbUuid(id)))
                .filter(w::deleted_at.is_null())
                .select(endpoint_columns!(w))
                .get_result::<EndpointRow>(conn)
                .await
                .optional()?)
        })?;
        Ok(found
            .map(endpoint)
            .filter(|e| scope.allows(e.organization_id)))
    }

    /// Deletes the endpoint: it receives nothing more (its pending deliveries are cancelled; an
    /// attempt already under way is not recorded). `false` when there is no such endpoint in the
    /// scope.
    pub async fn delete_webhook_endpoint(
        &self,
        scope: Scope,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let organization = match scope {
            Scope::Organization(own) => Some(own),
            Scope::All => None,
        };
        with_connection!(self, writer, |conn, s| {
            use s::webhook_deliveries::dsl as d;
            use s::webhook_endpoints::dsl as w;
            conn.transaction(async |conn| {
                let mut delete = diesel::update(w::webhook_endpoints)
                    .filter(w::id.eq(DbUuid(id)))
                    .filter(w::deleted_at.is_null())
                    .into_boxed();
                if let Some(organization) = organization {
                    delete = delete.filter(w::organization_id.eq(organization));
                }
                let deleted = delete.set(w::deleted_at.eq(Some(at))).execute(conn).await?;
                if deleted == 1 {
                    diesel::update(d::webhook_deliveries)
                        .filter(d::endpoint_id.eq(DbUuid(id)))
                        .filter(d::state.eq("pending"))
                        .set(d::state.eq("cancelled"))
                        .execute(conn)
                        .await?;
                }
                Ok::<_, StoreError>(deleted == 1)
            })
            .await
        })
    }

    /// The endpoint's most recent attempts, newest first.
    pub async fn webhook_attempts(
        &self,
        endpoint_id: Uuid,
        limit: i64,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let rows = with_connection!(self, reader, |conn, s| {
            use s::webhook_attempts::dsl as a;
            Ok(a::webhook_attempts
                .filter(a::endpoint_id.eq(DbUuid(endpoint_id)))
                .order(a::id.desc())
                .limit(limit)
                .select((
                    a::event_id,
                    a::attempt,
                    a::attempted_at,
                    a::status_code,
                    a::error,
                    a::duration_ms,
                    a::outcome,
                ))
                .load::<(
                    DbUuid,
                    i32,
                    DateTime<Utc>,
                    Option<i32>,
                    Option<String>,
                    i64,
                    String,
                )>(conn)
                .await?)
        })?;
        rows.into_iter()
            .map(
                |(event_id, attempt, attempted_at, status_code, error, duration_ms, outcome)| {
                    Ok(DeliveryAttempt {
                        event_id: event_id.0,
                        attempt,
                        attempted_at,
                        status_code,
                        error,
                        duration_ms,
                        outcome: Outcome::parse(&outcome)?,
                    })
                },
            )
            .collect()
    }

    /// Claims due deliveries for `request.worker` until `request.until`, with what sending them
    /// needs.
    pub async fn claim_deliveries(
        &self,
        request: ClaimRequest,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let ClaimRequest {
            claim,
            now,
            until,
            limit,
            per_endpoint,
        } = request;
        // Which endpoints have something due: a read, so that an idle poll takes no write lock
        // (SQLite) and runs no claim.
        let endpoints_due = ENDPOINTS_DUE_SQL.replace("$3", "$1");
        let endpoints: Vec<(Uuid, i64, bool)> = match &self.db {
            Db::Postgres(pool) => on_postgres!(self, pool, |conn| {
                Ok(diesel::sql_query(&endpoints_due)
                    .bind::<Timestamptz, _>(now)
                    .load::<EndpointDue>(conn)
                    .await?
                    .into_iter()
                    .map(|e| (e.endpoint_id, e.busy, e.reachable))
                    .collect())
            }),
            Db::Sqlite(pools) => on_sqlite!(self, pools.reader(), |conn| {
                let rows = diesel::sql_query(for_sqlite(&endpoints_due))
                    .bind::<TimestamptzSqlite, _>(now)
                    .load::<EndpointDueSqlite>(conn)
                    .await?;
                rows.into_iter()
                    .map(|e| {
                        let id = Uuid::parse_str(&e.endpoint_id)
                            .map_err(|error| StoreError::Internal(error.to_string()))?;
                        Ok((id, e.busy, e.reachable))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            }),
        }?;
        if endpoints.is_empty() {
            return Ok(Vec::new());
        }
        // Endpoints that answered their last attempt before those that could not be reached,
        // so that many dead endpoints cannot hold up a working one's deliveries; then
        // every endpoint's first slot before any endpoint's second, in an order of chance: no
        // endpoint is always served last.
        let (mut reachable, mut unreachable): (Vec<_>, Vec<_>) = endpoints
            .into_iter()
            .partition(|(_, _, reachable)| *reachable);
        shuffle(&mut reachable);
        shuffle(&mut unreachable);
        let endpoints: Vec<(Uuid, i64)> = reachable
            .into_iter()
            .chain(unreachable)
            .map(|(id, busy, _)| (id, busy))
            .collect();
        let mut ids: Vec<i64> = Vec::new();
        for (endpoint, count) in share(&endpoints, limit, per_endpoint) {
            let claimed = match &self.db {
                Db::Postgres(pool) => on_postgres!(self, pool, |conn| {
                    Ok(diesel::sql_query(CLAIM_SQL)
                        .bind::<SqlUuid, _>(claim)
                        .bind::<Timestamptz, _>(until)
                        .bind::<Timestamptz, _>(now)
                        .bind::<SqlUuid, _>(endpoint)
                        .bind::<BigInt, _>(count)
                        .load::<ClaimedId>(conn)
                        .await?)
                }),
                Db::Sqlite(pools) => on_sqlite!(self, pools.writer(), |conn| {
                    Ok(diesel::sql_query(for_sqlite(CLAIM_SQL))
                        .bind::<Text, _>(claim.hyphenated().to_string())
                        .bind::<TimestamptzSqlite, _>(until)
                        .bind::<TimestamptzSqlite, _>(now)
                        .bind::<Text, _>(endpoint.hyphenated().to_string())
                        .bind::<BigInt, _>(count)
                        .load::<ClaimedId>(conn)
                        .await?)
                }),
            }?;
            ids.extend(claimed.into_iter().map(|c| c.id));
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        with_connection!(self, reader, |conn, s| {
            use s::events::dsl as ev;
            use s::webhook_deliveries::dsl as d;
            use s::webhook_endpoints::dsl as w;
            let deliveries = d::webhook_deliveries
                .filter(d::id.eq_any(&ids))
                .select((
                    d::id,
                    d::endpoint_id,
                    d::event_id,
                    d::attempts,
                    d::first_attempted_at,
                    d::organization_id,
                ))
                .load::<(i64, DbUuid, DbUuid, i32, Option<DateTime<Utc>>, i32)>(conn)
                .await?;
            let endpoint_ids: Vec<DbUuid> = deliveries.iter().map(|row| row.1).collect();
            let endpoints = w::webhook_endpoints
                .filter(w::id.eq_any(&endpoint_ids))
                .select((w::id, w::url, w::secret))
                .load::<(DbUuid, String, String)>(conn)
                .await?;
            let event_ids: Vec<DbUuid> = deliveries.iter().map(|row| row.2).collect();
            let events = ev::events
                .filter(ev::id.eq_any(&event_ids))
                .select((ev::id, ev::body))
                .load::<(DbUuid, String)>(conn)
                .await?;
            let mut claimed = Vec::with_capacity(deliveries.len());
            for (id, endpoint_id, event_id, attempts, first, organization_id) in deliveries {
                let endpoint = endpoints.iter().find(|e| e.0 == endpoint_id);
                let event = events.iter().find(|e| e.0 == event_id);
                let (Some((_, url, secret)), Some((_, body))) = (endpoint, event) else {
                    // Left claimed, it is taken again when the claim lapses; the others go on.
                    tracing::error!(
                        webhook.delivery = id,
                        "a webhook delivery names an endpoint or an event that does not exist"
                    );
                    continue;
                };
                claimed.push(ClaimedDelivery {
                    id,
                    organization_id,
                    claim,
                    endpoint_id: endpoint_id.0,
                    url: url.clone(),
                    secret: secret.clone(),
                    event_id: event_id.0,
                    body: body.clone(),
                    attempt: attempts + 1,
                    first_attempted_at: first.unwrap_or(now),
                });
            }
            claimed.sort_by_key(|c| c.id);
            Ok(claimed)
        })
    }

    /// Records an attempt of a claimed delivery and its outcome: the delivery is delivered,
    /// failed, or due again at `retry_at`. Nothing is recorded, and `false` returned, when the
    /// delivery's claim no longer holds (it lapsed and was taken again, or the endpoint was
    /// deleted).
    ///
    /// `pause_endpoint`: the endpoint could not be reached at all, and none of its deliveries is
    /// claimed before this time; a delivery clears any pause.
    pub async fn finish_delivery(
        &self,
        delivery: &ClaimedDelivery,
        attempt: &DeliveryAttempt,
        retry_at: DateTime<Utc>,
        pause_endpoint: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let state = attempt.outcome.state();
        let outcome = attempt.outcome.as_str();
        with_connection!(self, writer, |conn, s| {
            use s::webhook_attempts::dsl as a;
            use s::webhook_deliveries::dsl as d;
            conn.transaction(async |conn| {
                let updated = diesel::update(d::webhook_deliveries)
                    .filter(d::id.eq(delivery.id))
                    .filter(d::claimed_by.eq(DbUuid(delivery.claim)))
                    .filter(d::state.eq("pending"))
                    .set((
                        d::state.eq(state),
                        d::attempts.eq(d::attempts + 1),
                        d::next_attempt_at.eq(retry_at),
                        d::claimed_by.eq(None::<DbUuid>),
                        d::claimed_until.eq(None::<DateTime<Utc>>),
                    ))
                    .execute(conn)
                    .await?;
                if updated != 1 {
                    return Ok(false);
                }
                let pause = match (attempt.outcome, pause_endpoint) {
                    (Outcome::Delivered, _) => Some(None),
                    (_, Some(until)) => Some(Some(until)),
                    _ => None,
                };
                if let Some(paused_until) = pause {
                    use s::webhook_endpoints::dsl as w;
                    let mut pausing = diesel::update(w::webhook_endpoints)
                        .filter(w::id.eq(DbUuid(delivery.endpoint_id)))
                        .into_boxed();
                    if paused_until.is_none() {
                        // Most deliveries find nothing to clear: no write then.
                        pausing = pausing.filter(w::paused_until.is_not_null());
                    }
                    pausing
                        .set(w::paused_until.eq(paused_until))
                        .execute(conn)
                        .await?;
                }
                diesel::insert_into(a::webhook_attempts)
                    .values((
                        a::endpoint_id.eq(DbUuid(delivery.endpoint_id)),
                        a::organization_id.eq(delivery.organization_id),
                        a::event_id.eq(DbUuid(attempt.event_id)),
                        a::attempt.eq(attempt.attempt),
                        a::attempted_at.eq(attempt.attempted_at),
                        a::status_code.eq(attempt.status_code),
                        a::error.eq(attempt.error.as_deref()),
                        a::duration_ms.eq(attempt.duration_ms),
                        a::outcome.eq(outcome),
                    ))
                    .execute(conn)
                    .await?;
                Ok::<_, StoreError>(true)
            })
            .await
        })
    }

    /// For each endpoint (not deleted) with undelivered events, the oldest one's time.
    pub async fn webhook_backlog(&self) -> Result<Vec<Backlog>, StoreError> {
        with_connection!(self, reader, |conn, s| {
            use s::webhook_deliveries::dsl as d;
            use s::webhook_endpoints::dsl as w;
            let live = w::webhook_endpoints
                .filter(w::deleted_at.is_null())
                .select(w::id)
                .load::<DbUuid>(conn)
                .await?;
            let mut backlog = Vec::new();
            for endpoint_id in live {
                let oldest = d::webhook_deliveries
                    .filter(d::endpoint_id.eq(endpoint_id))
                    .filter(d::state.eq("pending"))
                    .order(d::event_created_at.asc())
                    .select(d::event_created_at)
                    .first::<DateTime<Utc>>(conn)
                    .await
                    .optional()?;
                if let Some(oldest_event_at) = oldest {
                    backlog.push(Backlog {
                        endpoint_id: endpoint_id.0,
                        oldest_event_at,
                    });
                }
            }
            Ok(backlog)
        })
    }
}

/// Shuffles in place (Fisher-Yates), with the random bits of fresh UUID v7s (their last 62):
/// fairness, not secrecy.
fn shuffle<T>(items: &mut [T]) {
    let random = || Uuid::now_v7().as_u128() & ((1 << 62) - 1);
    let mut bits = random();
    for i in (1..items.len()).rev() {
        if bits < 1 << 24 {
            bits = random();
        }
        let j = (bits % (i as u128 + 1)) as usize;
        bits /= i as u128 + 1;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_shared_one_per_endpoint_in_turn_within_each_ones_limit() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        // a holds 3 of its 4 already; b none; c all 4.
        let shared = share(&[(a, 3), (b, 0), (c, 4)], 3, 4);
        assert_eq!(shared, vec![(a, 1), (b, 2)]);
        assert_eq!(share(&[(a, 0), (b, 0)], 3, 4), vec![(a, 2), (b, 1)]);
        assert_eq!(share(&[(a, 0), (b, 0)], 100, 4), vec![(a, 4), (b, 4)]);
        assert!(share(&[(c, 4)], 10, 4).is_empty());
    }

    #[test]
    fn a_shuffle_keeps_every_item() {
        let mut items: Vec<u32> = (0..50).collect();
        shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }
}
