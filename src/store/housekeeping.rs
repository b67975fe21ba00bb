//! What expires is deleted: refresh tokens past their family's end, idempotency keys
//! past their retention, and webhook messages settled longer ago than theirs. Nothing
//! clinical and nothing audited is ever purged.

use chrono::{DateTime, Utc};

use super::{idempotency, tokens, webhooks};
use crate::db::{Db, write_tx};
use crate::error::ApiResult;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub refresh_tokens: usize,
    pub idempotency_keys: usize,
    pub webhook_deliveries: usize,
    pub webhook_messages: usize,
}

/// Purges what expired before `at`, and webhook messages settled before
/// `at − webhook_retention`, in one short transaction.
pub fn purge(conn: &mut Db, at: DateTime<Utc>, webhook_retention: chrono::Duration) -> ApiResult<Purged> {
    Ok(write_tx(conn, |conn| {
        let (webhook_deliveries, webhook_messages) = webhooks::purge_settled(conn, at - webhook_retention)?;
        Ok::<_, diesel::result::Error>(Purged {
            refresh_tokens: tokens::purge_expired(conn, at)?,
            idempotency_keys: idempotency::purge_expired(conn, at)?,
            webhook_deliveries,
            webhook_messages,
        })
    })?)
}
