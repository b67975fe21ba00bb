//! The one write path of every clinical record: patients, sessions and ratings.
//!
//! A change is one transaction that reads the record once, lays the client's merge
//! patch over it and parses the result (the domain's rules), writes it only if the row
//! is still at the version it read (checked once, in the UPDATE), keeps the new version
//! as a revision, appends the audit entry and runs the reactions to the write. A new
//! record type is a table and an impl of `Kept`, not another copy of this path. Reads of
//! a record are audited here too, so that every read of a patient's data leaves a trace
//! from one place.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use super::idempotency::{self, IdempotencyKey, Stored};
use super::revisions::{self, NewRevision, Revision};
use super::summaries::Course;
use super::{Actor, Page, audit, clinic_instruments, now, reactions};
use crate::db::{Db, write_tx};
use crate::domain::RecordStatus;
use crate::domain::fields::{from_value, merge_patch};
use crate::domain::instruments::Catalogue;
use crate::domain::reactions::{Change, Written};
use crate::domain::trajectory::RatingPoint;
use crate::error::{ApiError, ApiResult, FieldError};

/// A clinical record kept with its history: what the write path needs of each type.
pub trait Kept: Serialize + Sized + Send + 'static {
    /// The validated clinical content (a rating, a session, a patient's details).
    type Fields: Send + 'static;
    /// The content as a client sends it: every field optional, so a patch can merge over it.
    type Input: DeserializeOwned + Serialize + Send + 'static;
    /// What a new record belongs to: its patient, or nothing (a patient itself).
    type Owner: Copy + Send + Sync + 'static;
    /// The audit entity and revision kind, e.g. `assessment`.
    const ENTITY: &'static str;
    /// How the audit names a change that keeps the record active.
    const CHANGED: &'static str = "amend";

    /// The content, validated; instruments are those of `catalogue` (the clinic's).
    fn parse(input: &Self::Input, catalogue: &Catalogue, now: DateTime<Utc>) -> Result<Self::Fields, Vec<FieldError>>;
    /// The instrument codes the input names, so that a clinic's own are known to `parse`.
    fn instruments_named(_input: &Self::Input) -> Vec<&str> {
        Vec::new()
    }
    /// The catalogue a change of this record is validated against (a rating is amended
    /// under the definition version it was taken under, never re-scored by a newer one).
    fn amending(&self, catalogue: Catalogue) -> Catalogue {
        catalogue
    }
    fn to_input(&self) -> Self::Input;
    /// Adjusts the stored content before a client's patch is merged over it.
    fn prepare_patch(_stored: &mut Value, _patch: &Value) {}

    fn id(&self) -> Uuid;
    fn version(&self) -> i32;
    fn status(&self) -> RecordStatus;
    /// The patient whose record this is (a patient is its own; a protocol has none).
    fn patient_id(&self) -> Option<Uuid>;
    /// The record as the outcome rules read a rating, while it is an active rating.
    fn rating_point(&self) -> Option<RatingPoint> {
        None
    }
    /// Adds to records just read what they show but do not keep (a plan's doses).
    fn annotate(_conn: &mut Db, records: Vec<Self>) -> ApiResult<Vec<Self>> {
        Ok(records)
    }
    /// The record as the API shows it.
    fn view(&self) -> Value {
        serde_json::to_value(self).expect("plain data serialises")
    }

    /// 404 unless the owner is the clinic's.
    fn check_owner(conn: &mut Db, clinic: Uuid, owner: Self::Owner) -> ApiResult<()>;
    /// The patient an owner names, if any (the audit's entity of a list).
    fn owner_id(owner: Self::Owner) -> Option<Uuid>;
    /// A page of the owner's records of the clinic, by id.
    fn list(conn: &mut Db, clinic: Uuid, owner: Self::Owner, page: Page) -> ApiResult<(Vec<Self>, Option<Uuid>)>;
    /// The record if it is the clinic's; 404 otherwise, whether or not it exists elsewhere.
    fn find(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<Self>;
    /// A new record, version 1.
    fn new(id: Uuid, owner: Self::Owner, fields: Self::Fields, by: Uuid, at: DateTime<Utc>) -> Self;
    /// The version after this one: new content and status.
    fn next(&self, fields: Self::Fields, status: RecordStatus, by: Uuid, at: DateTime<Utc>) -> Self;
    fn insert(&self, conn: &mut Db, clinic: Uuid) -> ApiResult<()>;
    /// Writes this version over the row if that row is still at `expected`; false when
    /// another change got there first.
    fn overwrite(&self, conn: &mut Db, clinic: Uuid, expected: i32) -> ApiResult<bool>;
    /// 422 when the content names another record that is not the clinic's (a plan's
    /// protocol); checked before the row is written.
    fn check_references(&self, _conn: &mut Db, _clinic: Uuid) -> ApiResult<()> {
        Ok(())
    }
    /// What the write changes beyond its own row (a session renumbers its series).
    fn settle(self, _conn: &mut Db, _clinic: Uuid) -> ApiResult<Self> {
        Ok(self)
    }
    /// The audit detail of a creation, and of a change from `before`: never a value a
    /// clinician typed.
    fn created_detail(&self) -> Value;
    fn changed_detail(&self, _before: &Self) -> Value {
        json!({"version": self.version()})
    }
}

/// The half of `Kept` that only names a table: the queries of a patient's record (a
/// session, a rating), which differ between tables by nothing but the names. Expands
/// inside `impl Kept for $record`, beside the half that is the record's own.
macro_rules! patient_record_table {
    ($table:ident, $row:ident) => {
        fn id(&self) -> Uuid {
            self.id
        }
        fn version(&self) -> i32 {
            self.version
        }
        fn status(&self) -> RecordStatus {
            self.status
        }
        fn patient_id(&self) -> Option<Uuid> {
            Some(self.patient_id)
        }
        fn check_owner(conn: &mut Db, clinic: Uuid, patient: Uuid) -> ApiResult<()> {
            super::patients::exists(conn, clinic, patient)
        }
        fn owner_id(patient: Uuid) -> Option<Uuid> {
            Some(patient)
        }
        fn list(conn: &mut Db, clinic: Uuid, patient: Uuid, page: super::Page) -> ApiResult<(Vec<Self>, Option<Uuid>)> {
            let mut query = $table::table
                .filter($table::clinic_id.eq(DbUuid(clinic)))
                .filter($table::patient_id.eq(DbUuid(patient)))
                .select($row::as_select())
                .order($table::id.asc())
                .limit(page.limit + 1)
                .into_boxed();
            if let Some(after) = page.after {
                query = query.filter($table::id.gt(DbUuid(after)));
            }
            let rows = query.load(conn)?;
            let records = $row::into_records(conn, rows)?;
            let (records, next) = super::split_page(records, page, |r| r.id);
            Ok((Self::annotate(conn, records)?, next))
        }
        fn find(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<Self> {
            let row = $table::table
                .filter($table::id.eq(DbUuid(id)))
                .filter($table::clinic_id.eq(DbUuid(clinic)))
                .select($row::as_select())
                .first(conn)
                .optional()?;
            let record = $row::into_records(conn, vec![row.ok_or(ApiError::NotFound)?])?.pop().expect("one row in, one record out");
            Ok(Self::annotate(conn, vec![record])?.pop().expect("one record in, one out"))
        }
        fn insert(&self, conn: &mut Db, clinic: Uuid) -> ApiResult<()> {
            diesel::insert_into($table::table).values($row::new(clinic, self)).execute(conn)?;
            Ok(())
        }
        fn overwrite(&self, conn: &mut Db, clinic: Uuid, expected: i32) -> ApiResult<bool> {
            // The version in the WHERE clause makes a concurrent change that committed
            // first win: on PostgreSQL this UPDATE then matches no row.
            let row = $row::new(clinic, self);
            let changed = diesel::update($table::table.find(DbUuid(self.id)).filter($table::clinic_id.eq(DbUuid(clinic))).filter($table::version.eq(expected)))
                .set(&row)
                .execute(conn)?;
            Ok(changed == 1)
        }
    };
}
pub(crate) use patient_record_table;

/// Which versions a change may apply to (`If-Match`).
#[derive(Debug, Clone, PartialEq)]
pub enum Precondition {
    /// No `If-Match`: the change applies to whatever version is current.
    None,
    Any,
    /// The entity tags listed (strong comparison: weak tags never match).
    Tags(Vec<String>),
}

/// A strong entity tag from a record's version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

impl Precondition {
    pub fn is_pinned(&self) -> bool {
        matches!(self, Precondition::Tags(_))
    }

    /// 412 unless the current version satisfies the precondition.
    pub fn check(&self, current_version: i32) -> ApiResult<()> {
        match self {
            Precondition::None | Precondition::Any => Ok(()),
            Precondition::Tags(tags) if tags.contains(&etag(current_version)) => Ok(()),
            Precondition::Tags(_) => Err(ApiError::PreconditionFailed),
        }
    }
}

/// A change a client asked for: a merge patch (empty for a retraction), the new status,
/// why, and which version it was made against.
pub struct Amendment {
    pub patch: Value,
    pub status: RecordStatus,
    pub reason: Option<String>,
    pub precondition: Precondition,
}

/// Creates a record once per idempotency key, in one transaction with its revision, its
/// audit entry and its reactions; `render` makes the answer that a retry replays. Another
/// clinic's patient is a 404 before any complaint about the body.
pub fn create<R: Kept>(
    conn: &mut Db,
    actor: &Actor,
    owner: R::Owner,
    request: ApiResult<(R::Input, Option<IdempotencyKey>)>,
    render: impl FnOnce(&R) -> Stored + Send,
) -> ApiResult<Stored> {
    // A refused body is checked against its owner first; an accepted one is checked inside
    // the write's transaction, by the statement that takes the patient's lock.
    let owner_first = |conn: &mut Db, refused: ApiError| R::check_owner(conn, actor.clinic_id, owner).and(Err(refused));
    let (input, key) = match request {
        Ok(request) => request,
        Err(refused) => return owner_first(conn, refused),
    };
    let fields = match parse::<R>(conn, actor.clinic_id, &input, None) {
        Ok(fields) => fields,
        Err(refused) => return owner_first(conn, refused),
    };
    idempotency::once(conn, key.as_ref(), |conn| Ok(render(&create_within(conn, actor, owner, fields)?)))
}

/// Creates a record inside the caller's write transaction: the record, its revision, its
/// audit entry and its reactions.
pub fn create_within<R: Kept>(conn: &mut Db, actor: &Actor, owner: R::Owner, fields: R::Fields) -> ApiResult<R> {
    create_within_and(conn, actor, owner, fields, |_, _| Ok(())).map(|(record, ())| record)
}

/// As `create_within`, with the caller's own writes about the new record (`also`) made
/// before its audit entry: extending the clinic's hash chain locks its head until the
/// transaction ends, so nothing runs after it that could run before, while other writes
/// of the clinic wait.
pub fn create_within_and<R: Kept, T>(conn: &mut Db, actor: &Actor, owner: R::Owner, fields: R::Fields, also: impl FnOnce(&mut Db, &R) -> ApiResult<T>) -> ApiResult<(R, T)> {
    let at = now();
    match R::owner_id(owner) {
        Some(patient) => Course::lock(conn, actor.clinic_id, patient)?,
        None => R::check_owner(conn, actor.clinic_id, owner)?,
    }
    let record = R::new(Uuid::now_v7(), owner, fields, actor.user_id, at);
    record.check_references(conn, actor.clinic_id)?;
    record.insert(conn, actor.clinic_id)?;
    let record = record.settle(conn, actor.clinic_id)?;
    keep(conn, actor, &record, at, None)?;
    react(conn, actor, &record, Change::Created, at)?;
    let also = also(conn, &record)?;
    audit::record(conn, actor.audit(format!("{}.create", R::ENTITY), R::ENTITY, Some(record.id()), record.created_detail()))?;
    Ok((record, also))
}

/// How often an unpinned change is tried again after losing a race to another change.
const ATTEMPTS: usize = 5;

/// Amends or retracts a record. 404 for another clinic's record comes before the
/// request's own errors; an invalid result is 422 whatever the version; only a valid
/// change can be stale (412 when pinned by `If-Match`, else tried again on the version
/// that won).
pub fn amend<R: Kept>(conn: &mut Db, actor: &Actor, id: Uuid, amendment: ApiResult<Amendment>) -> ApiResult<R> {
    if amendment.is_err() {
        R::find(conn, actor.clinic_id, id)?;
    }
    let amendment = amendment?;
    for attempt in 1..=ATTEMPTS {
        match write_tx(conn, |conn| amend_once::<R>(conn, actor, id, &amendment)) {
            Err(ApiError::PreconditionFailed) if !amendment.precondition.is_pinned() && attempt < ATTEMPTS => continue,
            outcome => return outcome,
        }
    }
    unreachable!("the last attempt returns")
}

fn amend_once<R: Kept>(conn: &mut Db, actor: &Actor, id: Uuid, amendment: &Amendment) -> ApiResult<R> {
    let current = R::find(conn, actor.clinic_id, id)?;
    if let Some(patient) = current.patient_id() {
        Course::lock(conn, actor.clinic_id, patient)?;
    }
    let mut merged = serde_json::to_value(current.to_input()).expect("plain data serialises");
    R::prepare_patch(&mut merged, &amendment.patch);
    merge_patch(&mut merged, &amendment.patch);
    let input = from_value::<R::Input>(merged).map_err(|e| ApiError::Validation(vec![e]))?;
    let fields = parse::<R>(conn, actor.clinic_id, &input, Some(&current))?;
    amendment.precondition.check(current.version())?;
    if current.status() != RecordStatus::Active {
        return Err(ApiError::Conflict(format!("the {} was entered in error and can no longer change", R::ENTITY)));
    }
    let at = now();
    let next = current.next(fields, amendment.status, actor.user_id, at);
    next.check_references(conn, actor.clinic_id)?;
    if !next.overwrite(conn, actor.clinic_id, current.version())? {
        return Err(ApiError::PreconditionFailed);
    }
    let next = next.settle(conn, actor.clinic_id)?;
    keep(conn, actor, &next, at, amendment.reason.as_deref())?;
    let (verb, change) = match amendment.status {
        RecordStatus::Active => (R::CHANGED, Change::Amended),
        RecordStatus::EnteredInError => ("retract", Change::Retracted),
    };
    react(conn, actor, &next, change, at)?;
    // Last, as on creation: the chain's head stays locked only for the commit.
    audit::record(conn, actor.audit(format!("{}.{verb}", R::ENTITY), R::ENTITY, Some(id), next.changed_detail(&current)))?;
    Ok(next)
}

/// Validates a record's content (new, or a change of `current`) against the clinic's
/// instruments (422 by field).
pub fn parse<R: Kept>(conn: &mut Db, clinic: Uuid, input: &R::Input, current: Option<&R>) -> ApiResult<R::Fields> {
    let catalogue = clinic_instruments::catalogue_naming(conn, clinic, &R::instruments_named(input))?;
    let catalogue = match current {
        Some(record) => record.amending(catalogue),
        None => catalogue,
    };
    R::parse(input, &catalogue, now()).map_err(ApiError::Validation)
}

fn keep<R: Kept>(conn: &mut Db, actor: &Actor, record: &R, at: DateTime<Utc>, reason: Option<&str>) -> ApiResult<()> {
    Ok(revisions::record(conn, actor, NewRevision::of(R::ENTITY, record.id(), record.version(), at, record, reason))?)
}

fn react<R: Kept>(conn: &mut Db, actor: &Actor, record: &R, change: Change, at: DateTime<Utc>) -> ApiResult<()> {
    let written = Written { entity: R::ENTITY, id: record.id(), patient_id: record.patient_id(), version: record.version(), change, at };
    reactions::run(conn, actor, &written, record.rating_point().as_ref())
}

/// Appends the audit entry of a read of a patient's data: every read path calls this.
pub fn audit_read(conn: &mut Db, actor: &Actor, action: String, entity: &'static str, id: Option<Uuid>, detail: Value) -> ApiResult<()> {
    Ok(audit::append(conn, actor.audit(action, entity, id, detail))?)
}

/// Reads one record of the clinic, audited.
pub fn read<R: Kept>(conn: &mut Db, actor: &Actor, id: Uuid) -> ApiResult<R> {
    let record = R::find(conn, actor.clinic_id, id)?;
    audit_read(conn, actor, format!("{}.read", R::ENTITY), R::ENTITY, Some(id), json!({}))?;
    Ok(record)
}

/// A page of an owner's records, audited with the ids it showed: the record of who saw
/// whom, not just how many.
pub fn list<R: Kept>(conn: &mut Db, actor: &Actor, owner: R::Owner, page: Page) -> ApiResult<(Vec<R>, Option<Uuid>)> {
    R::check_owner(conn, actor.clinic_id, owner)?;
    let listed = R::list(conn, actor.clinic_id, owner, page)?;
    let shown: Vec<Uuid> = listed.0.iter().map(R::id).collect();
    let detail = json!({"count": shown.len(), format!("{}_ids", R::ENTITY): shown});
    let entity = if R::owner_id(owner).is_some() { "patient" } else { R::ENTITY };
    audit_read(conn, actor, format!("{}.list", R::ENTITY), entity, R::owner_id(owner), detail)?;
    Ok(listed)
}

/// A page of a record's versions, oldest first, audited.
pub fn history<R: Kept>(conn: &mut Db, actor: &Actor, id: Uuid, page: Page) -> ApiResult<(Vec<Revision>, Option<Uuid>)> {
    R::find(conn, actor.clinic_id, id)?;
    let listed = revisions::list(conn, actor.clinic_id, R::ENTITY, id, page)?;
    audit_read(conn, actor, format!("{}.revisions", R::ENTITY), R::ENTITY, Some(id), json!({"count": listed.0.len()}))?;
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_uses_strong_comparison() {
        let tags = |t: &[&str]| Precondition::Tags(t.iter().map(|s| s.to_string()).collect());
        assert!(tags(&["\"3\""]).check(3).is_ok());
        assert!(tags(&["\"2\"", "\"3\""]).check(3).is_ok());
        assert!(tags(&["W/\"3\""]).check(3).is_err());
        assert!(tags(&["\"2\""]).check(3).is_err());
        assert!(Precondition::Any.check(7).is_ok());
        assert!(!Precondition::Any.is_pinned() && tags(&[]).is_pinned());
    }
}
