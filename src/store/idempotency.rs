//! Idempotent POSTs: the first response to a key is stored with the record it created,
//! in the same transaction, and replayed for a repeat of the same request.

use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use super::now;
use crate::db::schema::idempotency_keys as k;
use crate::db::{Db, DbJson, DbJsonOf, DbTime, DbUuid, write_tx};
use crate::error::{ApiError, ApiResult};

/// A key as the caller sent it, with a fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub user_id: Uuid,
    pub key: String,
    pub fingerprint: String,
}

/// A response that can be sent again.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub status: u16,
    pub body: Value,
    pub etag: Option<String>,
    pub location: Option<String>,
}

/// A kept response's row, as stored and read back.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = k)]
struct KeyRow {
    user_id: DbUuid,
    key: String,
    fingerprint: String,
    status: i32,
    body: DbJson,
    etag: Option<String>,
    location: Option<String>,
    created_at: DbTime,
}

fn find(conn: &mut Db, key: &IdempotencyKey) -> ApiResult<Option<Stored>> {
    let row: Option<KeyRow> = k::table.find((DbUuid(key.user_id), &key.key)).select(KeyRow::as_select()).first(conn).optional()?;
    let Some(KeyRow { fingerprint, status, body, etag, location, .. }) = row else { return Ok(None) };
    if fingerprint != key.fingerprint {
        return Err(ApiError::invalid("Idempotency-Key", "this key was already used with a different request"));
    }
    Ok(Some(Stored { status: status as u16, body: body.0, etag, location }))
}

/// Runs `create` once per key: a repeat gets the stored response, a concurrent twin
/// waits on the key's row and then gets it too.
pub fn once(conn: &mut Db, key: Option<&IdempotencyKey>, create: impl FnOnce(&mut Db) -> ApiResult<Stored> + Send) -> ApiResult<Stored> {
    let Some(key) = key else { return write_tx(conn, create) };
    if let Some(stored) = find(conn, key)? {
        return Ok(stored);
    }
    let outcome = write_tx(conn, |conn| {
        let stored = create(conn)?;
        let row = KeyRow {
            user_id: DbUuid(key.user_id),
            key: key.key.clone(),
            fingerprint: key.fingerprint.clone(),
            status: i32::from(stored.status),
            body: DbJsonOf(stored.body.clone()),
            etag: stored.etag.clone(),
            location: stored.location.clone(),
            created_at: DbTime(now()),
        };
        diesel::insert_into(k::table)
            .values(row)
            .execute(conn)
            .map_err(|e| match e {
                diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                    ApiError::Conflict(KEY_TAKEN.into())
                }
                other => other.into(),
            })?;
        Ok(stored)
    });
    match outcome {
        // A twin committed first: this transaction rolled back, so send what the twin stored.
        Err(ApiError::Conflict(reason)) if reason == KEY_TAKEN => find(conn, key)?.ok_or(ApiError::Internal("idempotency key vanished".into())),
        other => other,
    }
}

/// How long a key is kept, and so how long a retry can replay its response: a day, as
/// Stripe and the IETF draft's examples do; a retry after that is a new request.
pub const RETENTION_HOURS: i64 = 24;

/// Deletes keys older than the retention.
pub fn purge_expired(conn: &mut Db, at: chrono::DateTime<chrono::Utc>) -> QueryResult<usize> {
    diesel::delete(k::table.filter(k::created_at.lt(DbTime(at - chrono::Duration::hours(RETENTION_HOURS))))).execute(conn)
}

const KEY_TAKEN: &str = "idempotency key taken by a concurrent request";
