//! Statements whose text is a constant, prepared once per connection and kept.
//!
//! Why: diesel keeps the prepared statement of every query it builds, but a
//! `diesel::sql_query` text may have been formatted, so diesel prepares it anew at each
//! run: on PostgreSQL a parse and a plan each time, about 0.2 ms of the server's CPU for
//! the audit append (`EXPLAIN (ANALYZE, SUMMARY)`: planning 0.20-0.23 ms once warm, 1.06 ms
//! on a fresh connection), which every audited read and every write runs. A `fixed` text
//! is a `&'static str`, so it cannot be formatted: diesel keys its statement by the text.
//!
//! Binding a value to a placeholder already in the text takes diesel's
//! `push_bind_param_value_only`, public under its
//! `i-implement-a-third-party-backend-and-opt-into-breaking-changes` feature: that adds
//! no code, and a change in a later diesel is a compile error here, not a silent one.

use std::marker::PhantomData;

use diesel::backend::{Backend, DieselReserveSpecialization};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// A statement of constant text; bind its `$n` placeholders in order with `bind`.
#[derive(Debug, Clone, Copy)]
pub struct Fixed(&'static str);

/// `query` with one more value bound, of SQL type `ST`.
#[derive(Debug, Clone, Copy)]
pub struct Bound<Q, V, ST> {
    query: Q,
    value: V,
    sql_type: PhantomData<ST>,
}

pub fn fixed(sql: &'static str) -> Fixed {
    Fixed(sql)
}

/// The next placeholder's value.
pub trait Bind: Sized {
    fn bind<ST, V>(self, value: V) -> Bound<Self, V, ST> {
        Bound { query: self, value, sql_type: PhantomData }
    }
}

impl Bind for Fixed {}
impl<Q, V, ST> Bind for Bound<Q, V, ST> {}

impl<DB: Backend> QueryFragment<DB> for Fixed {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.0);
        Ok(())
    }
}

impl<Q, V, ST, DB> QueryFragment<DB> for Bound<Q, V, ST>
where
    DB: Backend + HasSqlType<ST> + DieselReserveSpecialization,
    Q: QueryFragment<DB>,
    V: ToSql<ST, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_bind_param_value_only(&self.value)
    }
}

/// Kept by text: no query id of its own type, so diesel's cache keys it by its SQL.
impl QueryId for Fixed {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, V, ST> QueryId for Bound<Q, V, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Fixed {
    type SqlType = Untyped;
}

impl<Q, V, ST> Query for Bound<Q, V, ST> {
    type SqlType = Untyped;
}

impl<C> RunQueryDsl<C> for Fixed {}
impl<C, Q, V, ST> RunQueryDsl<C> for Bound<Q, V, ST> {}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::pg::Pg;
    use diesel::sqlite::Sqlite;
    use diesel::sql_types::{Text, Uuid as SqlUuid};

    /// What decides whether diesel keeps a statement: a fixed text with its binds is
    /// kept on both backends; the same text through `sql_query` is not.
    #[test]
    fn a_fixed_text_is_kept_and_sql_query_is_not() {
        const SQL: &str = "SELECT id FROM patients WHERE id = $1 AND clinic_id = $2";
        let id = uuid::Uuid::nil();
        let kept = fixed(SQL).bind::<SqlUuid, _>(id).bind::<SqlUuid, _>(id);
        assert!(QueryFragment::<Pg>::is_safe_to_cache_prepared(&kept, &Pg).unwrap());
        let text = fixed("SELECT ?").bind::<Text, _>("x");
        assert!(QueryFragment::<Sqlite>::is_safe_to_cache_prepared(&text, &Sqlite).unwrap());
        let formatted = diesel::sql_query(SQL).bind::<SqlUuid, _>(id).bind::<SqlUuid, _>(id);
        assert!(!QueryFragment::<Pg>::is_safe_to_cache_prepared(&formatted, &Pg).unwrap());
    }

    /// The text goes out as written, the binds after it, in order.
    #[test]
    fn the_text_is_sent_as_written() {
        let query = fixed("SELECT $1, $2").bind::<Text, _>("a").bind::<Text, _>("b");
        assert_eq!(diesel::debug_query::<Pg, _>(&query).to_string(), r#"SELECT $1, $2 -- binds: ["a", "b"]"#);
    }
}
