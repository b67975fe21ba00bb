//! Backups (DESIGN.md §12): `onset backup --to PATH` copies a live SQLite database
//! consistently while it serves (`VACUUM INTO`, one read transaction: every write
//! acknowledged before the copy began is in it), synced to disk, readable by its owner
//! only; on PostgreSQL it refuses and says which of PostgreSQL's own tools to use.
//! `onset restore-check PATH` opens a copy read-only and reports its integrity, foreign
//! keys, schema version and rows per table, failing on any fault.

use std::path::Path;
use std::time::Instant;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::MigrationHarness;

use super::{Backend, SQLITE_MIGRATIONS};

/// What a backup wrote.
#[derive(Debug)]
pub struct Copied {
    pub bytes: u64,
    pub seconds: f64,
}

/// Copies the database at `database_url` to `to`, which must not exist yet.
pub fn backup(database_url: &str, to: &Path) -> Result<Copied, String> {
    let path = match Backend::from_url(database_url) {
        Backend::Postgres(url) => return Err(postgres_instead(&url)),
        Backend::Sqlite(path) if path == ":memory:" => return Err("an in-memory database has nothing to back up".into()),
        Backend::Sqlite(path) => path,
    };
    if !Path::new(&path).exists() {
        return Err(format!("no database at {path}"));
    }
    let started = Instant::now();
    // Made empty and private first: VACUUM INTO writes into an empty file, and the copy
    // holds every patient, so nobody else may read it even while it is written.
    create_private(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let copied = (|| {
        let mut conn = SqliteConnection::establish(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
        diesel::sql_query("PRAGMA busy_timeout = 10000").execute(&mut conn).map_err(|e| e.to_string())?;
        let target = to.to_str().ok_or("the backup path must be valid UTF-8")?.replace('\'', "''");
        diesel::sql_query(format!("VACUUM INTO '{target}'")).execute(&mut conn).map_err(|e| format!("the copy failed: {e}"))?;
        sync(to).map_err(|e| format!("cannot sync {}: {e}", to.display()))
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(to);
        return Err(e);
    }
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(Copied { bytes, seconds: started.elapsed().as_secs_f64() })
}

/// PostgreSQL backs itself up better than onset could: the commands to use instead.
fn postgres_instead(url: &str) -> String {
    // The password, if the URL has one, stays out of the message.
    let shown = match url.split_once('@') {
        Some((credentials, rest)) if credentials.contains(':') && credentials.matches(':').count() > 1 => {
            format!("{}@{rest}", credentials.rsplit_once(':').map_or(credentials, |(user, _)| user))
        }
        _ => url.to_string(),
    };
    format!(
        "onset backs up SQLite only; for PostgreSQL use its own tools, e.g.\n  pg_dump --format=custom --file=onset.dump '{shown}'   (a logical copy; restore with pg_restore)\n  pg_basebackup --pgdata=backup-dir --format=tar --wal-method=stream --checkpoint=fast   (a physical copy of the whole cluster, for point-in-time recovery with WAL archiving)"
    )
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map(|_| ())
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path).map(|_| ())
}

/// The copy and the directory entry that names it, on disk before the command says done.
fn sync(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// What `restore-check` found.
#[derive(Debug, Default)]
pub struct Checked {
    /// Every fault found; empty for a copy that can be restored.
    pub faults: Vec<String>,
    pub schema_version: Option<String>,
    pub rows: Vec<(String, i64)>,
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Opens a copy read-only and checks it; never writes to it.
pub fn restore_check(path: &Path) -> Result<Checked, String> {
    if !path.is_file() {
        return Err(format!("no file at {}", path.display()));
    }
    let uri = format!("file:{}?mode=ro", path.display());
    let mut conn = SqliteConnection::establish(&uri).map_err(|e| format!("cannot open {} read-only: {e}", path.display()))?;
    let mut checked = Checked::default();
    let lines = |conn: &mut SqliteConnection, sql: &str| diesel::sql_query(sql).load::<Line>(conn).map(|rows| rows.into_iter().map(|r| r.line).collect::<Vec<_>>());
    match lines(&mut conn, "SELECT integrity_check AS line FROM pragma_integrity_check") {
        Ok(found) if found == ["ok"] => {}
        Ok(found) => checked.faults.extend(found.into_iter().take(20).map(|f| format!("integrity: {f}"))),
        Err(e) => {
            checked.faults.push(format!("integrity: {e}"));
            return Ok(checked);
        }
    }
    match lines(&mut conn, "SELECT \"table\" || ' row ' || rowid || ' names a missing ' || parent AS line FROM pragma_foreign_key_check") {
        Ok(found) => checked.faults.extend(found.into_iter().take(20).map(|f| format!("foreign key: {f}"))),
        Err(e) => checked.faults.push(format!("foreign keys: {e}")),
    }
    match conn.applied_migrations() {
        Ok(applied) => {
            checked.schema_version = applied.iter().map(|v| v.to_string()).max();
            match conn.pending_migrations(SQLITE_MIGRATIONS) {
                Ok(pending) if pending.is_empty() => {}
                Ok(pending) => checked.faults.push(format!("schema: {} migrations of this onset are not applied (an older copy: migrate it after restoring)", pending.len())),
                Err(e) => checked.faults.push(format!("schema: {e}")),
            }
        }
        Err(e) => checked.faults.push(format!("schema: not an onset database ({e})")),
    }
    let tables = lines(&mut conn, "SELECT name AS line FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").map_err(|e| e.to_string())?;
    for table in tables {
        match diesel::sql_query(format!("SELECT count(*) AS n FROM \"{}\"", table.replace('"', "\"\""))).get_result::<Count>(&mut conn) {
            Ok(count) => checked.rows.push((table, count.n)),
            Err(e) => checked.faults.push(format!("{table}: {e}")),
        }
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_password_stays_out_of_the_advice() {
        let advice = postgres_instead("postgres://onset:s3cret@db.example.org:5432/onset");
        assert!(advice.contains("pg_dump") && advice.contains("pg_basebackup") && advice.contains("postgres://onset@db.example.org:5432/onset"), "{advice}");
        assert!(!advice.contains("s3cret"));
    }
}
