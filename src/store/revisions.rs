//! Every version of every clinical record, the current one included.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{Actor, Page, split_page};
use crate::error::{ApiError, ApiResult};
use crate::db::schema::revisions as r;
use crate::db::{Db, DbJson, DbJsonOf, DbTime, DbUuid};

/// A version to keep: the record's snapshot, and when and why it changed.
pub struct NewRevision {
    pub entity: &'static str,
    pub entity_id: Uuid,
    pub version: i32,
    pub snapshot: Value,
    pub changed_at: DateTime<Utc>,
    pub reason: Option<String>,
}

impl NewRevision {
    /// A version of any record: its whole serialised form is the snapshot.
    pub fn of(entity: &'static str, entity_id: Uuid, version: i32, changed_at: DateTime<Utc>, record: &impl Serialize, reason: Option<&str>) -> Self {
        NewRevision {
            entity,
            entity_id,
            version,
            snapshot: serde_json::to_value(record).expect("plain data serialises"),
            changed_at,
            reason: reason.map(str::to_string),
        }
    }
}

/// A revision's row, as inserted and read back. Its `None` is bound as NULL, so the insert
/// is kept prepared (see `AssessmentRow`).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = r, treat_none_as_default_value = false)]
pub struct RevisionRow {
    id: DbUuid,
    clinic_id: DbUuid,
    entity: String,
    entity_id: DbUuid,
    version: i32,
    snapshot: DbJson,
    changed_at: DbTime,
    changed_by: DbUuid,
    reason: Option<String>,
}

impl RevisionRow {
    pub fn new(actor: &Actor, revision: NewRevision) -> Self {
        RevisionRow {
            id: DbUuid(Uuid::now_v7()),
            clinic_id: DbUuid(actor.clinic_id),
            entity: revision.entity.into(),
            entity_id: DbUuid(revision.entity_id),
            version: revision.version,
            snapshot: DbJsonOf(revision.snapshot),
            changed_at: DbTime(revision.changed_at),
            changed_by: DbUuid(actor.user_id),
            reason: revision.reason,
        }
    }
}

pub fn record(conn: &mut Db, actor: &Actor, revision: NewRevision) -> QueryResult<()> {
    diesel::insert_into(r::table).values(RevisionRow::new(actor, revision)).execute(conn).map(|_| ())
}

/// One version: the record as it stood, who made it so, when and why.
#[derive(Debug, Clone, Serialize)]
pub struct Revision {
    pub version: i32,
    #[serde(flatten)]
    pub snapshot: Value,
    pub changed_at: DateTime<Utc>,
    pub changed_by: Uuid,
    pub reason: Option<String>,
}

/// One page of a record's versions, oldest first. The cursor is a revision's own id; the
/// page continues after that revision's version.
pub fn list(conn: &mut Db, clinic: Uuid, entity: &'static str, entity_id: Uuid, page: Page) -> ApiResult<(Vec<Revision>, Option<Uuid>)> {
    let of_record = || r::table.filter(r::clinic_id.eq(DbUuid(clinic))).filter(r::entity.eq(entity)).filter(r::entity_id.eq(DbUuid(entity_id)));
    let after_version = match page.after {
        None => 0,
        Some(cursor) => of_record()
            .filter(r::id.eq(DbUuid(cursor)))
            .select(r::version)
            .first::<i32>(conn)
            .optional()?
            .ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))?,
    };
    let rows: Vec<RevisionRow> =
        of_record().filter(r::version.gt(after_version)).order(r::version.asc()).limit(page.limit + 1).select(RevisionRow::as_select()).load(conn)?;
    let revisions = rows
        .into_iter()
        .map(|RevisionRow { id, version, snapshot, changed_at, changed_by, reason, .. }| {
            let mut snapshot = snapshot.0;
            if let Value::Object(map) = &mut snapshot {
                // The revision's own fields describe the change; the snapshot's would repeat them.
                for key in ["version", "updated_at", "updated_by"] {
                    map.remove(key);
                }
            }
            (id.0, Revision { version, snapshot, changed_at: changed_at.0, changed_by: changed_by.0, reason })
        })
        .collect();
    let (page_rows, next) = split_page(revisions, page, |(id, _)| *id);
    Ok((page_rows.into_iter().map(|(_, revision)| revision).collect(), next))
}
