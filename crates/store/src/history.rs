//! Reading a client's change history. Entries are written with the change they record (see
//! `pg_writes` and `sqlite_writes`).

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use domain::chain::{first_invalid_version, EntryChange, EntryContent, GENESIS};
use domain::history::{registration_changes, Change};
use domain::{Client, FieldValue};

use crate::row::DbUuid;
use crate::{page, with_connection, Audit, Scope, Store, StoreError};

/// The columns of an [`EntryRow`].
macro_rules! entry_columns {
    ($h:ident) => {
        (
            $h::version,
            $h::recorded_at,
            $h::actor_key_id,
            $h::actor_name,
            $h::request_id,
            $h::changes,
            $h::reason,
            $h::hash,
        )
    };
}

/// One entry of a client's change history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    pub actor_key_id: Option<String>,
    pub actor_name: String,
    pub request_id: Option<String>,
    /// JSON array of `{field, old, new}`.
    pub changes: String,
    /// Why, for the changes that give a reason (a KYC decision, a relationship's end).
    pub reason: Option<String>,
    /// The entry's link in the client's hash chain (see `domain::chain`); `None` only for an
    /// entry written before the chain and not yet given its hash.
    pub hash: Option<String>,
}

type EntryRow = (
    i64,
    DateTime<Utc>,
    Option<String>,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

impl HistoryEntry {
    fn from_row(
        (version, recorded_at, actor_key_id, actor_name, request_id, changes, reason, hash): EntryRow,
    ) -> Self {
        HistoryEntry {
            version,
            recorded_at,
            actor_key_id,
            actor_name,
            request_id,
            changes,
            reason,
            hash,
        }
    }

    /// What the entry's hash covers, with its `changes` as [`parse_changes`] read them.
    fn content<'a>(
        &'a self,
        client_id: Uuid,
        organization_id: i32,
        changes: &'a [(String, FieldValue, FieldValue)],
    ) -> EntryContent<'a> {
        EntryContent {
            client_id,
            organization_id,
            version: self.version,
            recorded_at: self.recorded_at,
            actor_key_id: self.actor_key_id.as_deref(),
            actor_name: &self.actor_name,
            request_id: self.request_id.as_deref(),
            changes: changes
                .iter()
                .map(|(field, old, new)| EntryChange { field, old, new })
                .collect(),
            reason: self.reason.as_deref(),
        }
    }
}

/// An entry's changes as read back: field, old value, new value.
type ParsedChanges = Vec<(String, FieldValue, FieldValue)>;

/// `changes` as stored (a JSON array of `{field, old, new}`), or `None` when it is not that.
fn parse_changes(changes: &str) -> Option<ParsedChanges> {
    let value = |v: &serde_json::Value| match v {
        serde_json::Value::Null => Some(FieldValue::Null),
        serde_json::Value::Bool(b) => Some(FieldValue::Bool(*b)),
        serde_json::Value::Number(n) => n.as_i64().map(FieldValue::Integer),
        serde_json::Value::String(s) => Some(FieldValue::Text(s.clone())),
        _ => None,
    };
    let list: Vec<serde_json::Value> = serde_json::from_str(changes).ok()?;
    list.iter()
        .map(|change| {
            let object = change.as_object().filter(|o| o.len() == 3)?;
            let field = object.get("field")?.as_str()?.to_owned();
            let mut new = value(object.get("new")?)?;
            // Registrations recorded before the history kept integers as integers hold
            // `organization_id` as a string ("1"); the API shows, and the hash covers, the
            // integer.
            if field == "organization_id" {
                if let FieldValue::Text(text) = &new {
                    if let Ok(id) = text.parse::<i64>() {
                        new = FieldValue::Integer(id);
                    }
                }
            }
            Some((field, value(object.get("old")?)?, new))
        })
        .collect()
}

/// The hash of the history entry that records `changes` (with `reason`) of `client` at its
/// version and `updated_at`, made by `audit`, after the entry whose hash is `previous`.
pub(crate) fn entry_hash(
    client: &Client,
    audit: &Audit,
    changes: &[Change],
    reason: Option<&str>,
    previous: &str,
) -> String {
    EntryContent {
        client_id: client.id,
        organization_id: client.organization_id,
        version: client.version,
        recorded_at: client.updated_at,
        actor_key_id: audit.actor_key_id.as_deref(),
        actor_name: &audit.actor_name,
        request_id: audit.request_id.as_deref(),
        changes: changes
            .iter()
            .map(|c| EntryChange {
                field: c.field,
                old: &c.old,
                new: &c.new,
            })
            .collect(),
        reason,
    }
    .hash(previous)
}

/// The hash of a registration's entry (version 1): what its event carries as `history_hash`.
pub fn registration_hash(client: &Client, audit: &Audit) -> String {
    entry_hash(client, audit, &registration_changes(client), None, GENESIS)
}

/// What `GET /api/v1/clients/{id}/history/verify` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Valid { entries: i64 },
    Invalid { first_invalid_version: i64 },
}

impl Store {
    /// A page of the client's history, newest first, and whether older entries remain; `None`
    /// when the organization has no such client.
    pub async fn history(
        &self,
        scope: Scope,
        id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<Option<(Vec<HistoryEntry>, bool)>, StoreError> {
        with_connection!(self, reader, |conn, s| {
            use s::client_history::dsl as h;
            use s::clients::dsl as c;
            let owner = c::clients
                .filter(c::id.eq(DbUuid(id)))
                .select(c::organization_id)
                .first::<i32>(conn)
                .await
                .optional()?;
            if !owner.is_some_and(|org| scope.allows(org)) {
                return Ok(None);
            }
            let rows = h::client_history
                .filter(h::client_id.eq(DbUuid(id)))
                .order(h::version.desc())
                .select(entry_columns!(h))
                .limit(limit + 1)
                .offset(offset)
                .load::<EntryRow>(conn)
                .await?;
            let (rows, more) = page(rows, limit);
            Ok(Some((
                rows.into_iter().map(HistoryEntry::from_row).collect(),
                more,
            )))
        })
    }

    /// Recomputes the client's hash chain from version 1 to its current version; `None` when
    /// the organization has no such client. Every row is read as stored, so a row changed,
    /// removed or added in the database behind the API's back is found.
    pub async fn verify_history(
        &self,
        scope: Scope,
        id: Uuid,
    ) -> Result<Option<Verification>, StoreError> {
        let found = with_connection!(self, reader, |conn, s| {
            use s::client_history::dsl as h;
            use s::clients::dsl as c;
            let client = c::clients
                .filter(c::id.eq(DbUuid(id)))
                .select((c::organization_id, c::version))
                .first::<(i32, i64)>(conn)
                .await
                .optional()?;
            let Some((_, version)) = client.filter(|(org, _)| scope.allows(*org)) else {
                return Ok(None);
            };
            let rows = h::client_history
                .filter(h::client_id.eq(DbUuid(id)))
                .order(h::version.asc())
                .select((h::organization_id, entry_columns!(h)))
                .load::<(i32, EntryRow)>(conn)
                .await?;
            Ok(Some((version, rows)))
        })?;
        Ok(found.map(|(current, rows)| {
            // Each entry is hashed with the organization it says it belongs to: a row moved to
            // another organization no longer matches.
            let entries: Vec<(i32, HistoryEntry, Option<ParsedChanges>)> = rows
                .into_iter()
                .map(|(organization_id, row)| {
                    let entry = HistoryEntry::from_row(row);
                    let changes = parse_changes(&entry.changes);
                    (organization_id, entry, changes)
                })
                .collect();
            let first = first_invalid_version(
                entries.iter().map(|(organization_id, entry, changes)| {
                    (
                        entry.version,
                        changes
                            .as_deref()
                            .map(|changes| entry.content(id, *organization_id, changes)),
                        entry.hash.as_deref().unwrap_or_default(),
                    )
                }),
                current,
            );
            match first {
                None => Verification::Valid { entries: current },
                Some(version) => Verification::Invalid {
                    first_invalid_version: version,
                },
            }
        }))
    }
}

/// Gives the entries written before the hash chain their hashes, client by client in version
/// order, with the encoding new entries are hashed with. Runs at start, after the migrations; an
/// entry that already has its hash is left alone (the database refuses to change it anyway).
pub(crate) async fn chain_unhashed_entries(store: &Store) -> Result<u64, StoreError> {
    let mut chained = 0;
    loop {
        let clients = with_connection!(store, writer, |conn, s| {
            use s::client_history::dsl as h;
            Ok(h::client_history
                .filter(h::hash.is_null())
                .select(h::client_id)
                .distinct()
                .limit(500)
                .load::<DbUuid>(conn)
                .await?)
        })?;
        if clients.is_empty() {
            return Ok(chained);
        }
        for DbUuid(client) in clients {
            chained += chain_client(store, client).await?;
        }
    }
}

/// One client's unhashed entries, chained after the ones before them.
async fn chain_client(store: &Store, client: Uuid) -> Result<u64, StoreError> {
    let rows = with_connection!(store, writer, |conn, s| {
        use s::client_history::dsl as h;
        Ok(h::client_history
            .filter(h::client_id.eq(DbUuid(client)))
            .order(h::version.asc())
            .select((h::organization_id, entry_columns!(h)))
            .load::<(i32, EntryRow)>(conn)
            .await?)
    })?;
    let mut previous = GENESIS.to_owned();
    let mut hashes = Vec::new();
    for (organization_id, row) in rows {
        let entry = HistoryEntry::from_row(row);
        let hash = match &entry.hash {
            Some(hash) => hash.clone(),
            None => {
                let changes = parse_changes(&entry.changes).ok_or_else(|| {
                    StoreError::Internal(format!(
                        "history entry {client} v{} has unreadable changes",
                        entry.version
                    ))
                })?;
                let hash = entry
                    .content(client, organization_id, &changes)
                    .hash(&previous);
                hashes.push((entry.version, hash.clone()));
                hash
            }
        };
        previous = hash;
    }
    let count = hashes.len() as u64;
    for (version, hash) in hashes {
        with_connection!(store, writer, |conn, s| {
            use s::client_history::dsl as h;
            diesel::update(
                h::client_history
                    .filter(h::client_id.eq(DbUuid(client)))
                    .filter(h::version.eq(version))
                    .filter(h::hash.is_null()),
            )
            .set(h::hash.eq(Some(hash.as_str())))
            .execute(conn)
            .await?;
            Ok(())
        })?;
    }
    Ok(count)
}
