//! The append-only audit log: nothing here updates or deletes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::groups::{Groups, Lender};
use super::{Actor, Page, now, split_page};
use crate::db::schema::audit_events as a;
use crate::db::{Bind, Conn, Db, DbJson, DbJsonOf, DbTime, DbUuid, Pool};

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub clinic_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub entity: &'static str,
    pub entity_id: Option<Uuid>,
    /// Small and never secret: no password, token or free text from a record.
    pub detail: Value,
}

impl Actor {
    pub fn audit(&self, action: impl Into<String>, entity: &'static str, entity_id: Option<Uuid>, detail: Value) -> AuditEntry {
        AuditEntry {
            clinic_id: Some(self.clinic_id),
            actor_id: (!self.by_patient).then_some(self.user_id),
            actor_email: Some(self.email.clone()),
            action: action.into(),
            entity,
            entity_id,
            detail,
        }
    }
}

/// Appends an event on its own (a read, a login), in a write transaction of its own. On
/// PostgreSQL, inside `grouping`, the event waits until the work is done and is then
/// appended with the events of its chain that come at once (`Appender::append_waiting`);
/// otherwise it is the one statement that writes it and its link.
pub fn append(conn: &mut Db, entry: AuditEntry) -> QueryResult<()> {
    if let Db::Pg(pg) = conn {
        let row = AuditRow::new(entry);
        if APPENDER.with(|appender| appender.borrow().is_some()) && !crate::db::in_transaction(pg) {
            WAITING.with(|waiting| waiting.borrow_mut().push(row));
            return Ok(());
        }
        return pg_append_alone(pg, &row);
    }
    crate::db::write_tx(conn, |conn| record(conn, entry))
}

/// Groups the events a database's callers append on their own (PostgreSQL).
///
/// Why: each event extends its clinic's one chain, whose head stays locked until the
/// appending commit is flushed to the WAL, so a clinic's reads, each audited, took turns
/// through one flush each: 634 trajectory reads/s, with 78 of 81 samples of
/// pg_stat_activity waiting in the audit statement (issue 31). Grouped, the events that
/// queue up while one group is appended share the next lock and flush. Each caller still
/// returns only once its own event is committed: no read is shown unaudited.
///
/// A caller whose event waits for another's group hands its connection back to the pool
/// meanwhile: trajectory reads holding all of the pool's connections idle, each waiting
/// for its group's flush, had kept the CPU a quarter idle (issue 31).
#[derive(Default)]
pub struct Appender(Groups<AuditRow>);

/// The events a unit of work appended on its own, not yet written (`grouping`).
#[must_use = "the events must be appended before the work is answered"]
pub struct Waiting(Vec<AuditRow>);

thread_local! {
    static APPENDER: std::cell::RefCell<Option<Arc<Appender>>> = const { std::cell::RefCell::new(None) };
    static WAITING: std::cell::RefCell<Vec<AuditRow>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `work` with `appender` grouping what it appends on its own: the appender of the
/// database `work`'s connection belongs to (a connection does not know its pool). What
/// `work` appended on its own on PostgreSQL is returned beside its result, to be given to
/// `Appender::append_waiting` before the work is answered.
pub fn grouping<T>(appender: &Arc<Appender>, work: impl FnOnce() -> T) -> (T, Waiting) {
    struct Restore(Option<Arc<Appender>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            APPENDER.with(|appender| *appender.borrow_mut() = self.0.take());
            // Only what a panic left behind is still here.
            WAITING.with(|waiting| waiting.borrow_mut().clear());
        }
    }
    let _restore = Restore(APPENDER.with(|current| current.borrow_mut().replace(appender.clone())));
    let done = work();
    (done, Waiting(WAITING.with(|waiting| std::mem::take(&mut *waiting.borrow_mut()))))
}

impl Appender {
    /// Appends what a unit of work left waiting, each event with those of its chain that
    /// come at once, starting on `conn`, the connection the work ran on. A caller that
    /// waits for another's group hands `conn` back to `pool`.
    pub fn append_waiting(&self, conn: Conn, pool: &Pool, waiting: Waiting) -> QueryResult<()> {
        let mut lent = Lent { held: Some(conn), pool };
        waiting.0.into_iter().try_for_each(|row| self.0.write(&mut lent, &chain_of(&row), row, pg_append_alone, pg_append_together))
    }
}

/// A pooled connection that can be handed back while its caller waits, and taken again.
struct Lent<'a> {
    held: Option<Conn>,
    pool: &'a Pool,
}

impl Lender for Lent<'_> {
    type Conn = diesel::PgConnection;

    fn hand_back(&mut self) {
        self.held = None;
    }

    fn conn(&mut self) -> QueryResult<&mut diesel::PgConnection> {
        let held = match &mut self.held {
            Some(held) => held,
            empty => empty.insert(self.pool.get().map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?),
        };
        match &mut ***held {
            Db::Pg(pg) => Ok(pg),
            Db::Sqlite(_) => Err(diesel::result::Error::QueryBuilderError("events wait for a group on PostgreSQL only".into())),
        }
    }
}

/// Appends several events in one transaction: all of them or none.
pub fn append_all(conn: &mut Db, entries: Vec<AuditEntry>) -> QueryResult<()> {
    crate::db::write_tx(conn, |conn| entries.into_iter().try_for_each(|entry| record(conn, entry)))
}

/// An event's row, as appended and read back. Its `None`s are bound as NULL, so the insert
/// is kept prepared (see `AssessmentRow`).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = a, treat_none_as_default_value = false)]
struct AuditRow {
    id: DbUuid,
    clinic_id: Option<DbUuid>,
    actor_id: Option<DbUuid>,
    actor_email: Option<String>,
    action: String,
    entity: String,
    entity_id: Option<DbUuid>,
    detail: DbJson,
    at: DbTime,
}

impl AuditRow {
    fn new(entry: AuditEntry) -> AuditRow {
        AuditRow {
            id: DbUuid(Uuid::now_v7()),
            clinic_id: entry.clinic_id.map(DbUuid),
            actor_id: entry.actor_id.map(DbUuid),
            actor_email: entry.actor_email,
            action: entry.action,
            entity: entry.entity.into(),
            entity_id: entry.entity_id.map(DbUuid),
            detail: DbJsonOf(entry.detail),
            at: DbTime(now()),
        }
    }
}

/// Appends an event inside the caller's write transaction, with the change it records,
/// and extends its chain in the same transaction.
pub fn record(conn: &mut Db, entry: AuditEntry) -> QueryResult<()> {
    let row = AuditRow::new(entry);
    if let Db::Pg(pg) = conn {
        return if pg_append(pg, &row)? == 1 { Ok(()) } else { pg_append_first(pg, &row) };
    }
    diesel::insert_into(a::table).values(&row).execute(conn)?;
    extend_chain(conn, &row)
}

// ---- The hash chain (DESIGN.md §12) ----
//
// Each clinic's events form a chain (events of no clinic, such as a failed login with an
// unknown email, one of their own): link n holds hash_n = SHA-256(hash_{n-1} ":" content_n)
// in hex, content being the event's every column as a JSON array, and the chain's head
// (its last link) is a row the extending transaction locks, so two writers never fork
// it. An edited, removed or inserted event no longer fits; `verify` names the first.

/// The hash before a chain's first link.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain an event belongs to: its clinic's, or the chain of events of no clinic.
///
/// One chain a clinic, as DESIGN.md §12 has it. Spreading a clinic's events over sixteen
/// chains (by the record they are about) was tried for issue 31 and taken back: the same
/// work in pgbench ran 574/s on one chain and 576/s on sixteen (the bound here is the
/// statements, not the head's lock), and a transaction that audits two records (a link's
/// answer: the rating and the link's use) then locked two heads in either order, so two
/// such answers at once deadlocked until PostgreSQL broke one off a second later.
fn chain_of(row: &AuditRow) -> String {
    row.clinic_id.map_or_else(|| "none".to_string(), |c| c.0.to_string())
}

/// An event's content as the chain hashes it: every column, in a fixed order.
fn content(row: &AuditRow) -> String {
    serde_json::json!([row.id.0, row.clinic_id.map(|c| c.0), row.actor_id.map(|u| u.0), row.actor_email, row.action, row.entity, row.entity_id.map(|e| e.0), row.detail.0, row.at.0]).to_string()
}

/// The next link of a chain.
pub fn link(prev_hash: &str, content: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(prev_hash.as_bytes());
    hash.update(b":");
    hash.update(content.as_bytes());
    hex::encode(hash.finalize())
}

/// The chain's head on SQLite (whose one writer runs one transaction at a time), made at
/// the chain's first event.
fn sqlite_head(conn: &mut diesel::SqliteConnection, chain: &str) -> QueryResult<(i64, String)> {
    use crate::db::schema::audit_heads as h;
    if let Some(head) = h::table.find(chain).select((h::seq, h::hash)).first(conn).optional()? {
        return Ok(head);
    }
    diesel::insert_into(h::table).values((h::chain.eq(chain), h::seq.eq(0i64), h::hash.eq(GENESIS))).execute(conn)?;
    Ok((0, GENESIS.to_string()))
}

/// The next link in one statement on PostgreSQL (one round trip instead of three, while
/// the head is locked): lock the head, hash with PostgreSQL's own `sha256` exactly as
/// `link` does, move the head, write the link. Binds: chain, content, event id.
const PG_EXTEND: &str = "WITH old AS (SELECT seq, hash FROM audit_heads WHERE chain = $1 FOR UPDATE), \
     moved AS (UPDATE audit_heads h SET seq = old.seq + 1, hash = encode(sha256(convert_to(old.hash || ':' || $2, 'UTF8')), 'hex') \
               FROM old WHERE h.chain = $1 RETURNING h.seq, h.hash, old.hash AS prev) \
     INSERT INTO audit_chain (event_id, chain, seq, prev_hash, hash) SELECT $3, $1, seq, prev, hash FROM moved";

/// The event and its link in one statement on PostgreSQL: lock the chain's head, write
/// the event, move the head, write the link (one round trip, and on its own an atomic
/// write with no BEGIN and COMMIT of its own). Writes nothing while the chain has no head.
/// Binds: chain, content, then the event's columns.
const PG_APPEND: &str = "WITH old AS (SELECT seq, hash FROM audit_heads WHERE chain = $1 FOR UPDATE), \
     event AS (INSERT INTO audit_events (id, clinic_id, actor_id, actor_email, action, entity, entity_id, detail, at) \
               SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM old RETURNING id), \
     moved AS (UPDATE audit_heads h SET seq = old.seq + 1, hash = encode(sha256(convert_to(old.hash || ':' || $2, 'UTF8')), 'hex') \
               FROM old WHERE h.chain = $1 RETURNING h.seq, h.hash, old.hash AS prev) \
     INSERT INTO audit_chain (event_id, chain, seq, prev_hash, hash) SELECT event.id, $1, seq, prev, hash FROM moved, event";

/// Appends the event and its link; 0 when its chain has no head yet.
fn pg_append(pg: &mut diesel::PgConnection, row: &AuditRow) -> QueryResult<usize> {
    use diesel::sql_types::{Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    crate::db::fixed(PG_APPEND)
        .bind::<Text, _>(chain_of(row))
        .bind::<Text, _>(content(row))
        .bind::<SqlUuid, _>(row.id.0)
        .bind::<Nullable<SqlUuid>, _>(row.clinic_id.map(|c| c.0))
        .bind::<Nullable<SqlUuid>, _>(row.actor_id.map(|u| u.0))
        .bind::<Nullable<Text>, _>(row.actor_email.as_deref())
        .bind::<Text, _>(&row.action)
        .bind::<Text, _>(&row.entity)
        .bind::<Nullable<SqlUuid>, _>(row.entity_id.map(|e| e.0))
        .bind::<Jsonb, _>(&row.detail.0)
        .bind::<Timestamptz, _>(row.at.0)
        .execute(pg)
}

/// A chain's first event, inside a transaction: its head is made (by whichever writer
/// gets there first), then the event is appended.
fn pg_append_first(pg: &mut diesel::PgConnection, row: &AuditRow) -> QueryResult<()> {
    use crate::db::schema::audit_heads as h;
    diesel::insert_into(h::table).values((h::chain.eq(chain_of(row)), h::seq.eq(0i64), h::hash.eq(GENESIS))).on_conflict_do_nothing().execute(pg)?;
    if pg_append(pg, row)? == 1 { Ok(()) } else { Err(diesel::result::Error::NotFound) }
}

/// One event appended on its own: one statement, or a transaction at its chain's first.
fn pg_append_alone(pg: &mut diesel::PgConnection, row: &AuditRow) -> QueryResult<()> {
    if pg_append(pg, row)? == 1 {
        return Ok(());
    }
    pg.transaction(|pg| pg_append_first(pg, row))
}

/// A group's events, their links and its chain's moved head, in one statement of fixed
/// text, on its own an atomic write with no BEGIN and COMMIT of its own: lock the chain's
/// head, link the events from it in order (`links`, hashing with PostgreSQL's own `sha256`
/// exactly as `link` does, each link from the one before), write the events and their
/// links, move the head to the last link. Writes nothing while the chain has no head. The
/// events are bound as arrays and unnested, so the statement is kept prepared whatever the
/// group's size (a multi-row `VALUES` is a new text for each size, parsed and planned each
/// time). Binds: the events' columns as arrays ($1-$9), the chain, their contents.
///
/// One round trip where the group took four (BEGIN, the head read, the write, COMMIT):
/// the head of a clinic's chain is locked from the first to the flush of the last, so
/// every round trip in between was time no other group of the clinic could be written.
const PG_APPEND_GROUP: &str = "WITH RECURSIVE head AS (SELECT seq, hash FROM audit_heads WHERE chain = $10 FOR UPDATE), \
     contents AS (SELECT content, n FROM unnest($11::text[]) WITH ORDINALITY AS c (content, n)), \
     links (n, seq, prev_hash, hash) AS ( \
               SELECT 0::bigint, seq, NULL::text, hash FROM head \
               UNION ALL \
               SELECT l.n + 1, l.seq + 1, l.hash, encode(sha256(convert_to(l.hash || ':' || c.content, 'UTF8')), 'hex') \
               FROM links l JOIN contents c ON c.n = l.n + 1), \
     events AS (INSERT INTO audit_events (id, clinic_id, actor_id, actor_email, action, entity, entity_id, detail, at) \
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::jsonb[], $9::timestamptz[]) \
               WHERE EXISTS (SELECT 1 FROM head)), \
     chained AS (INSERT INTO audit_chain (event_id, chain, seq, prev_hash, hash) \
               SELECT e.event_id, $10, l.seq, l.prev_hash, l.hash FROM links l JOIN unnest($1::uuid[]) WITH ORDINALITY AS e (event_id, n) ON e.n = l.n) \
     UPDATE audit_heads h SET seq = last.seq, hash = last.hash \
     FROM (SELECT seq, hash FROM links ORDER BY n DESC LIMIT 1) last WHERE h.chain = $10";

/// Events of one chain appended together, in order, in one statement (`PG_APPEND_GROUP`).
/// Fails, writing nothing, if the chain has no head yet (each is then appended alone).
fn pg_append_together(pg: &mut diesel::PgConnection, rows: &[AuditRow]) -> QueryResult<()> {
    use diesel::sql_types::{Array, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    let moved = crate::db::fixed(PG_APPEND_GROUP)
        .bind::<Array<SqlUuid>, _>(rows.iter().map(|r| r.id.0).collect::<Vec<_>>())
        .bind::<Array<Nullable<SqlUuid>>, _>(rows.iter().map(|r| r.clinic_id.map(|c| c.0)).collect::<Vec<_>>())
        .bind::<Array<Nullable<SqlUuid>>, _>(rows.iter().map(|r| r.actor_id.map(|u| u.0)).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.actor_email.as_deref()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.action.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.entity.as_str()).collect::<Vec<_>>())
        .bind::<Array<Nullable<SqlUuid>>, _>(rows.iter().map(|r| r.entity_id.map(|e| e.0)).collect::<Vec<_>>())
        .bind::<Array<Jsonb>, _>(rows.iter().map(|r| &r.detail.0).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(rows.iter().map(|r| r.at.0).collect::<Vec<_>>())
        .bind::<Text, _>(chain_of(&rows[0]))
        .bind::<Array<Text>, _>(rows.iter().map(content).collect::<Vec<_>>())
        .execute(pg)?;
    if moved == 1 { Ok(()) } else { Err(diesel::result::Error::NotFound) }
}

fn extend_chain(conn: &mut Db, row: &AuditRow) -> QueryResult<()> {
    use crate::db::schema::{audit_chain as c, audit_heads as h};
    let chain = chain_of(row);
    if let Db::Pg(pg) = conn {
        use diesel::sql_types::{Text, Uuid as SqlUuid};
        let extend = |pg: &mut diesel::PgConnection| {
            crate::db::fixed(PG_EXTEND).bind::<Text, _>(&chain).bind::<Text, _>(content(row)).bind::<SqlUuid, _>(row.id.0).execute(pg)
        };
        if extend(pg)? == 1 {
            return Ok(());
        }
        // The chain's first event: make its head, then link.
        diesel::insert_into(h::table).values((h::chain.eq(&chain), h::seq.eq(0i64), h::hash.eq(GENESIS))).on_conflict_do_nothing().execute(pg)?;
        return if extend(pg)? == 1 { Ok(()) } else { Err(diesel::result::Error::NotFound) };
    }
    let Db::Sqlite(lite) = conn else { unreachable!("PostgreSQL returned above") };
    let (seq, prev_hash) = sqlite_head(lite, &chain)?;
    let hash = link(&prev_hash, &content(row));
    diesel::insert_into(c::table)
        .values((c::event_id.eq(row.id), c::chain.eq(&chain), c::seq.eq(seq + 1), c::prev_hash.eq(&prev_hash), c::hash.eq(&hash)))
        .execute(conn)?;
    diesel::update(h::table.find(&chain)).set((h::seq.eq(seq + 1), h::hash.eq(&hash))).execute(conn)?;
    Ok(())
}

/// Chains the events written before the chain existed (the migration that made it cannot
/// hash on SQLite), oldest first, in one transaction, once: only while no event is
/// chained yet. After that an event outside every chain is a fault for `verify` to name,
/// never something to chain quietly. Returns how many it chained.
pub fn chain_legacy(conn: &mut Db) -> QueryResult<usize> {
    use crate::db::schema::audit_chain as c;
    crate::db::write_tx(conn, |conn| {
        let chained: i64 = c::table.count().get_result(conn)?;
        if chained > 0 {
            return Ok(0);
        }
        let mut count = 0;
        let mut after: Option<DbUuid> = None;
        loop {
            let mut query = a::table.order(a::id.asc()).limit(1_000).select(AuditRow::as_select()).into_boxed();
            if let Some(after) = after {
                query = query.filter(a::id.gt(after));
            }
            let rows: Vec<AuditRow> = query.load(conn)?;
            for row in &rows {
                extend_chain(conn, row)?;
            }
            count += rows.len();
            match rows.last() {
                Some(last) if rows.len() == 1_000 => after = Some(last.id),
                _ => return Ok(count),
            }
        }
    })
}

/// What `audit-verify` found.
#[derive(Debug, Default)]
pub struct Verified {
    pub chains: usize,
    pub events: u64,
    /// The first fault of each chain that has one, naming the event.
    pub faults: Vec<String>,
}

/// Walks every chain link by link and names the first event that does not fit: content
/// changed since it was chained, a link missing, or an event outside any chain.
pub fn verify(conn: &mut Db) -> QueryResult<Verified> {
    use crate::db::schema::{audit_chain as c, audit_heads as h};
    let mut verified = Verified::default();
    let heads: Vec<(String, i64, String)> = h::table.select((h::chain, h::seq, h::hash)).order(h::chain.asc()).load(conn)?;
    for (chain, head_seq, head_hash) in heads {
        verified.chains += 1;
        let (mut expected_seq, mut prev) = (1i64, GENESIS.to_string());
        let fault = 'walk: loop {
            let links: Vec<((i64, String, String), AuditRow)> = c::table
                .inner_join(a::table)
                .filter(c::chain.eq(&chain))
                .filter(c::seq.ge(expected_seq))
                .order(c::seq.asc())
                .limit(10_000)
                .select(((c::seq, c::prev_hash, c::hash), AuditRow::as_select()))
                .load(conn)?;
            if links.is_empty() {
                break None;
            }
            for ((seq, prev_hash, hash), row) in &links {
                verified.events += 1;
                if *seq != expected_seq {
                    break 'walk Some(format!("chain {chain}: link {expected_seq} is missing (the next is event {} at link {seq})", row.id.0));
                }
                if *prev_hash != prev || link(&prev, &content(row)) != *hash {
                    break 'walk Some(format!("chain {chain}: event {} (link {seq}) does not fit: it was changed after it was written", row.id.0));
                }
                prev = hash.clone();
                expected_seq += 1;
            }
        };
        let fault = fault.or_else(|| (expected_seq - 1 != head_seq || prev != head_hash).then(|| format!("chain {chain}: ends at link {} but its head says {head_seq}: links were removed", expected_seq - 1)));
        verified.faults.extend(fault);
    }
    // NOT EXISTS, an anti-join on the link's key. `id != ALL (SELECT event_id ...)`, NOT IN's
    // shape, is hashed by PostgreSQL only while the links fit in work_mem: past that (about
    // 200,000 events at the default 4 MB) it compared every event with every link, and
    // ran for more than ten minutes on 207,503 events.
    let linked = c::table.filter(c::event_id.eq(a::id));
    let outside: Vec<DbUuid> = a::table.filter(diesel::dsl::not(diesel::dsl::exists(linked))).select(a::id).limit(20).load(conn)?;
    verified.faults.extend(outside.into_iter().map(|id| format!("event {} is in no chain: it was added outside onset", id.0)));
    Ok(verified)
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<Uuid>,
    pub detail: Value,
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor_id: Option<Uuid>,
    pub entity: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The clinic's events, newest first.
pub fn list(conn: &mut Db, clinic: Uuid, filter: &AuditFilter, page: Page) -> QueryResult<(Vec<AuditEvent>, Option<Uuid>)> {
    let mut query = a::table
        .filter(a::clinic_id.eq(DbUuid(clinic)))
        .select(AuditRow::as_select())
        .order(a::id.desc())
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(a::id.lt(DbUuid(after)));
    }
    if let Some(actor) = filter.actor_id {
        query = query.filter(a::actor_id.eq(DbUuid(actor)));
    }
    if let Some(entity) = &filter.entity {
        query = query.filter(a::entity.eq(entity.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(a::action.eq(action.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(a::at.ge(DbTime(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(a::at.lt(DbTime(to)));
    }
    let rows: Vec<AuditRow> = query.load(conn)?;
    let events = rows
        .into_iter()
        .map(|AuditRow { id, at, actor_id, actor_email, action, entity, entity_id, detail, .. }| AuditEvent {
            id: id.0,
            at: at.0,
            actor_id: actor_id.map(|u| u.0),
            actor_email,
            action,
            entity,
            entity_id: entity_id.map(|u| u.0),
            detail: detail.0,
        })
        .collect();
    Ok(split_page(events, page, |e| e.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::pg::Pg;
    use diesel::query_builder::QueryFragment;

    /// An event with no clinic, actor or entity (a failed login) is inserted by the same
    /// kept statement as any other: its `None`s are bound, not written `DEFAULT`.
    #[test]
    fn an_event_with_nones_is_inserted_by_a_kept_statement() {
        let entry = AuditEntry { clinic_id: None, actor_id: None, actor_email: None, action: "auth.login_failed".into(), entity: "user", entity_id: None, detail: serde_json::json!({}) };
        let row = AuditRow::new(entry);
        let insert = diesel::insert_into(a::table).values(&row);
        assert!(QueryFragment::<Pg>::is_safe_to_cache_prepared(&insert, &Pg).unwrap());
        let sql = diesel::debug_query::<Pg, _>(&insert).to_string();
        assert!(!sql.contains("DEFAULT"), "{sql}");
    }
}
