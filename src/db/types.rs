//! Portable column types: one SQL type per concept, stored natively on PostgreSQL
//! (`uuid`, `timestamptz`, `jsonb`) and as TEXT on SQLite.
//!
//! Each Rust newtype gets `ToSql`/`FromSql` for both backends plus the three glue impls
//! the generated `MultiBackend` needs (see `../shared/notes/storage.md`).

use std::io::Write;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Date, HasSqlType, SqlType, Text};
use diesel::sqlite::{Sqlite, SqliteValue};
use diesel::query_builder::QueryId;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::MultiBackend;

#[derive(Debug, Clone, Copy, Default, QueryId, SqlType)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Text"))]
pub struct PortableUuid;

#[derive(Debug, Clone, Copy, Default, QueryId, SqlType)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Text"))]
pub struct PortableTime;

#[derive(Debug, Clone, Copy, Default, QueryId, SqlType)]
#[diesel(postgres_type(oid = 3802, array_oid = 3807))]
#[diesel(sqlite_type(name = "Text"))]
pub struct PortableJson;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = PortableUuid)]
pub struct DbUuid(pub uuid::Uuid);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = PortableTime)]
pub struct DbTime(pub DateTime<Utc>);

/// A `date` column read (never written) as a plain date: on SQLite, whose dates are
/// `YYYY-MM-DD` text, without chrono's format parser, which took 4 % of the time of a
/// cohort of 100,000 patients, each with a birth date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
pub struct DbDate(pub NaiveDate);

/// A JSON column read straight into the Rust type it holds (a rating's item scores, a
/// summary's acute means): by way of a `serde_json::Value` every key and number was
/// built twice, and an export or a cohort reads hundreds of thousands of them.
#[derive(Debug, Clone, PartialEq, AsExpression, FromSqlRow)]
#[diesel(sql_type = PortableJson)]
pub struct DbJsonOf<T>(pub T);

/// A JSON column of any shape.
pub type DbJson = DbJsonOf<serde_json::Value>;

/// SQLite keeps times as fixed-width RFC 3339 UTC text with microseconds, so that text
/// order is time order and range filters and indexes work.
pub fn sqlite_time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn sqlite_text(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<String> {
    <String as FromSql<Text, Sqlite>>::from_sql(bytes)
}

impl ToSql<PortableUuid, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <uuid::Uuid as ToSql<diesel::sql_types::Uuid, Pg>>::to_sql(&self.0, out)
    }
}
impl FromSql<PortableUuid, Pg> for DbUuid {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        <uuid::Uuid as FromSql<diesel::sql_types::Uuid, Pg>>::from_sql(bytes).map(DbUuid)
    }
}
impl ToSql<PortableUuid, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}
impl FromSql<PortableUuid, Sqlite> for DbUuid {
    fn from_sql(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(DbUuid(uuid::Uuid::parse_str(&sqlite_text(bytes)?)?))
    }
}

impl ToSql<PortableTime, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<diesel::sql_types::Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}
impl FromSql<PortableTime, Pg> for DbTime {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        <DateTime<Utc> as FromSql<diesel::sql_types::Timestamptz, Pg>>::from_sql(bytes).map(DbTime)
    }
}
impl ToSql<PortableTime, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(sqlite_time_text(&self.0));
        Ok(IsNull::No)
    }
}
impl FromSql<PortableTime, Sqlite> for DbTime {
    fn from_sql(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = sqlite_text(bytes)?;
        match parse_sqlite_time(&text) {
            Some(t) => Ok(DbTime(t)),
            None => Ok(DbTime(DateTime::parse_from_rfc3339(&text)?.with_timezone(&Utc))),
        }
    }
}

/// The fixed-width form `sqlite_time_text` writes, read without a general RFC 3339
/// parser: reading times dominated cohort loading.
fn parse_sqlite_time(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() != 27 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'.' || b[26] != b'Z' {
        return None;
    }
    let date = parse_sqlite_date(&text[..10])?;
    let time = chrono::NaiveTime::from_hms_micro_opt(digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?, digits(&b[20..26])?)?;
    Some(date.and_time(time).and_utc())
}

/// The `YYYY-MM-DD` text SQLite keeps dates as (diesel's `%Y-%m-%d`).
fn parse_sqlite_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(&b[0..4])? as i32, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// The number a run of ASCII digits writes; `None` if any is not a digit.
fn digits(run: &[u8]) -> Option<u32> {
    run.iter().try_fold(0u32, |acc, c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

impl FromSql<Date, Pg> for DbDate {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDate as FromSql<Date, Pg>>::from_sql(bytes).map(DbDate)
    }
}
impl FromSql<Date, Sqlite> for DbDate {
    fn from_sql(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = sqlite_text(bytes)?;
        match parse_sqlite_date(&text) {
            Some(date) => Ok(DbDate(date)),
            None => Ok(DbDate(NaiveDate::parse_from_str(&text, "%Y-%m-%d")?)),
        }
    }
}
impl FromSql<Date, MultiBackend> for DbDate {
    fn from_sql(bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<DbDate, Date>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_times_round_trip_through_the_fast_reader() {
        for text in ["2026-03-02T09:00:00Z", "1999-12-31T23:59:59.123456Z", "2026-11-25T10:22:56.514456+00:00"] {
            let t = DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
            assert_eq!(parse_sqlite_time(&sqlite_time_text(&t)), Some(t));
        }
        assert_eq!(parse_sqlite_time("2026-13-02T09:00:00.000000Z"), None);
        assert_eq!(parse_sqlite_time("2026-03-02 09:00:00"), None);
    }

    #[test]
    fn sqlite_dates_are_read_as_diesel_writes_them_and_nothing_else() {
        for date in [NaiveDate::from_ymd_opt(1988, 7, 14).unwrap(), NaiveDate::from_ymd_opt(2000, 2, 29).unwrap(), NaiveDate::from_ymd_opt(1, 1, 1).unwrap()] {
            assert_eq!(parse_sqlite_date(&date.format("%Y-%m-%d").to_string()), Some(date));
        }
        for not_one in ["2001-02-29", "1988-7-14", "1988-07-14T00:00:00", "1988/07/14", "19a8-07-14", ""] {
            assert_eq!(parse_sqlite_date(not_one), None, "{not_one}");
        }
    }
}

/// PostgreSQL's binary `jsonb`: a version byte, then the JSON text.
const JSONB_VERSION: u8 = 1;

impl<T: Serialize + std::fmt::Debug> ToSql<PortableJson, Pg> for DbJsonOf<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(&[JSONB_VERSION])?;
        serde_json::to_writer(out, &self.0)?;
        Ok(IsNull::No)
    }
}
impl<T: DeserializeOwned> FromSql<PortableJson, Pg> for DbJsonOf<T> {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        match bytes.as_bytes().split_first() {
            Some((&JSONB_VERSION, json)) => Ok(DbJsonOf(serde_json::from_slice(json)?)),
            _ => Err("unsupported jsonb encoding version".into()),
        }
    }
}
impl<T: Serialize + std::fmt::Debug> ToSql<PortableJson, Sqlite> for DbJsonOf<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}
impl<T: DeserializeOwned> FromSql<PortableJson, Sqlite> for DbJsonOf<T> {
    fn from_sql(bytes: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(DbJsonOf(serde_json::from_str(&sqlite_text(bytes)?)?))
    }
}
impl<T: Serialize + DeserializeOwned + std::fmt::Debug> FromSql<PortableJson, MultiBackend> for DbJsonOf<T> {
    fn from_sql(bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, PortableJson>()
    }
}
impl<T: Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static> ToSql<PortableJson, MultiBackend> for DbJsonOf<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((PortableJson, self));
        Ok(IsNull::No)
    }
}

/// The glue between a portable type and the `MultiBackend` that
/// `#[derive(MultiConnection)]` generates: it forwards to the backend in use.
macro_rules! multi_backend_glue {
    ($sql:ty, $rust:ty) => {
        impl HasSqlType<$sql> for MultiBackend {
            fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                MultiBackend::lookup_sql_type::<$sql>(lookup)
            }
        }
        impl FromSql<$sql, MultiBackend> for $rust {
            fn from_sql(
                bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
            ) -> deserialize::Result<Self> {
                bytes.from_sql::<$rust, $sql>()
            }
        }
        impl ToSql<$sql, MultiBackend> for $rust {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((<$sql>::default(), self));
                Ok(IsNull::No)
            }
        }
    };
}

multi_backend_glue!(PortableUuid, DbUuid);
multi_backend_glue!(PortableTime, DbTime);

impl HasSqlType<PortableJson> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<PortableJson>(lookup)
    }
}

impl From<uuid::Uuid> for DbUuid {
    fn from(id: uuid::Uuid) -> Self {
        DbUuid(id)
    }
}
impl From<DateTime<Utc>> for DbTime {
    fn from(t: DateTime<Utc>) -> Self {
        DbTime(t)
    }
}
