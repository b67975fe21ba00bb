//! What expires is deleted: refresh tokens past their family's end and idempotency keys
//! past their retention. Nothing clinical and nothing audited is ever purged.

use chrono::{DateTime, Utc};

use super::{idempotency, tokens};
use crate::db::{Db, write_tx};
use crate::error::ApiResult;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub refresh_tokens: usize,
    pub idempotency_keys: usize,
}

/// Purges what expired before `at`, in one short transaction.
pub fn purge(conn: &mut Db, at: DateTime<Utc>) -> ApiResult<Purged> {
    Ok(write_tx(conn, |conn| {
        Ok::<_, diesel::result::Error>(Purged {
            refresh_tokens: tokens::purge_expired(conn, at)?,
            idempotency_keys: idempotency::purge_expired(conn, at)?,
        })
    })?)
}
