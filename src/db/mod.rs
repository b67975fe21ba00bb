//! The connection enum, its pool and migrations. Everything backend-specific lives here
//! or in a `match` inside `store/`.

pub mod backup;
pub mod schema;
pub mod types;
mod fixed;
mod writer;

use std::time::{Duration, Instant};

use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, ConnectionError, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use fixed::{Bind, fixed};
pub use types::{DbDate, DbJson, DbJsonOf, DbTime, DbUuid};

#[derive(diesel::MultiConnection)]
pub enum Db {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<DbManager>;
pub type Conn = r2d2::PooledConnection<DbManager>;

/// A pooled connection and when it was last handed back, so that one just used is not
/// asked whether it is still there (`DbManager::is_valid`).
pub struct Pooled {
    db: Db,
    returned_at: Instant,
}

impl std::ops::Deref for Pooled {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Db {
        &mut self.db
    }
}

/// A connection handed back within this long is taken to be alive, unasked: HikariCP's
/// rule (`aliveBypassWindowMs`, 500 ms). A server restart or a proxy cuts connections
/// that sit idle, not one a request let go of a moment ago, and asking each time cost
/// every PostgreSQL request a round trip of its own (a rating write 13 statements, a
/// read 6).
const ALIVE_WITHOUT_ASKING: Duration = Duration::from_millis(500);

/// Whether a PostgreSQL connection handed back at `returned_at` is asked before it is
/// lent again at `now`.
fn ask_first(returned_at: Instant, now: Instant) -> bool {
    now.saturating_duration_since(returned_at) >= ALIVE_WITHOUT_ASKING
}

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Which database a `DATABASE_URL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Postgres(String),
    /// A file path (or `:memory:`).
    Sqlite(String),
}

impl Backend {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; `sqlite://path` or a bare path is SQLite.
    pub fn from_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(url.to_string())
        } else {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
            Backend::Sqlite(path.unwrap_or(url).to_string())
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Backend::Sqlite(_))
    }
}

/// An r2d2 manager that picks the variant from the URL itself, so that a bad PostgreSQL
/// URL reports libpq's own error, and that sets the SQLite PRAGMAs on every connection.
#[derive(Debug, Clone)]
pub struct DbManager {
    backend: Backend,
}

/// WAL lets readers run beside the one writer; the busy timeout makes writers queue
/// instead of failing with "database is locked"; foreign keys are off by default in SQLite.
/// synchronous=FULL for any statement run outside `write_tx`; the writer's own
/// connection commits with NORMAL and its syncer syncs the WAL before anyone is answered
/// (`writer`), so either way a 201 means the rating is on disk, even after a power cut.
/// temp_store=MEMORY: each write is a savepoint of its group, and a savepoint's journal
/// of the pages it changed lives in memory instead of a temporary file.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;";
/// How long a SQLite connection waits for a lock that another holds.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

fn set_busy_timeout(conn: &mut SqliteConnection, ms: u32) -> diesel::QueryResult<()> {
    conn.batch_execute(&format!("PRAGMA busy_timeout = {ms}"))
}

impl DbManager {
    fn open(&self) -> Result<Db, ConnectionError> {
        match &self.backend {
            Backend::Postgres(url) => PgConnection::establish(url).map(Db::Pg),
            Backend::Sqlite(path) => open_sqlite(path).map(Db::Sqlite),
        }
    }
}

impl ManageConnection for DbManager {
    type Connection = Pooled;
    type Error = ConnectionError;

    fn connect(&self) -> Result<Pooled, ConnectionError> {
        Ok(Pooled { db: self.open()?, returned_at: Instant::now() })
    }

    /// Asked at every checkout. A PostgreSQL connection can be cut by a restart or a
    /// proxy while it sits in the pool, so one that sat there is asked; a SQLite
    /// connection is an open file that cannot go away under us, so it is not asked (a
    /// `SELECT 1` per request for nothing).
    fn is_valid(&self, conn: &mut Pooled) -> Result<(), ConnectionError> {
        match &conn.db {
            Db::Pg(_) if ask_first(conn.returned_at, Instant::now()) => ping(&mut conn.db).map_err(ConnectionError::CouldntSetupConfiguration),
            Db::Pg(_) | Db::Sqlite(_) => Ok(()),
        }
    }

    /// Asked at every check-in. A connection still inside a transaction (a panic unwound
    /// through `write_tx`), or whose transaction state diesel could not follow, is closed
    /// rather than reused: the next borrower would otherwise run inside someone else's
    /// `BEGIN`.
    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.returned_at = Instant::now();
        match &mut conn.db {
            Db::Pg(c) => in_transaction(c),
            Db::Sqlite(c) => in_transaction(c),
        }
    }
}

/// A SQLite connection with onset's settings: the pool's connections and the writer's.
fn open_sqlite(path: &str) -> Result<SqliteConnection, ConnectionError> {
    let mut conn = SqliteConnection::establish(path)?;
    conn.batch_execute(SQLITE_PRAGMAS).map_err(ConnectionError::CouldntSetupConfiguration)?;
    set_busy_timeout(&mut conn, SQLITE_BUSY_TIMEOUT_MS).map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

pub(crate) fn in_transaction<C>(conn: &mut C) -> bool
where
    C: Connection<TransactionManager = diesel::connection::AnsiTransactionManager>,
{
    type Tm = diesel::connection::AnsiTransactionManager;
    match Tm::transaction_manager_status_mut(conn).transaction_depth() {
        Ok(depth) => depth.is_some(),
        Err(_) => true,
    }
}

/// The SQLite file holds every patient: it is created readable by its owner only, and an
/// existing one (with its WAL and shared-memory files) is narrowed to that. SQLite gives
/// the WAL and SHM files it creates the database file's mode.
fn private_database_files(path: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if path == ":memory:" || path.starts_with("file:") {
            return Ok(());
        }
        if let Err(e) = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(e);
            }
        }
        for file in [path.to_string(), format!("{path}-wal"), format!("{path}-shm")] {
            if let Ok(meta) = std::fs::metadata(&file) {
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(file, mode = format!("{:o}", meta.permissions().mode() & 0o777), "narrowing a database file to mode 600");
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
                }
            }
        }
    }
    Ok(())
}

/// The cheapest question the database can answer: is it there?
pub fn ping(conn: &mut Db) -> diesel::QueryResult<()> {
    fixed("SELECT 1").execute(conn).map(|_| ())
}

/// After a bulk load (the demo cohort): on PostgreSQL, `VACUUM ANALYZE`, as PostgreSQL
/// advises after populating a database (https://www.postgresql.org/docs/current/populate.html#POPULATE-ANALYZE):
/// the planner gets statistics for the new rows, and the rows get their hint bits and
/// visibility map, so that the first reads are not the ones that write them and
/// index-only scans skip the table. Autovacuum would do the same some minutes later; this
/// way the demo, and the benchmark seeded with it, start from that state. SQLite: nothing
/// (its queries were planned without `sqlite_stat1`, and keep that plan).
pub fn after_bulk_load(conn: &mut Db) -> diesel::QueryResult<()> {
    match conn {
        Db::Pg(pg) => pg.batch_execute("VACUUM ANALYZE"),
        Db::Sqlite(_) => Ok(()),
    }
}

/// Builds the pool and checks one connection, so that a bad URL fails at start-up with
/// the database's own message.
pub fn connect(url: &str, max_size: u32) -> Result<Pool, String> {
    let backend = Backend::from_url(url);
    if let Backend::Sqlite(path) = &backend {
        private_database_files(path).map_err(|e| format!("cannot make {path} private: {e}"))?;
    }
    let manager = DbManager { backend: backend.clone() };
    if let Err(e) = manager.open() {
        return Err(format!("cannot connect to the database: {e}"));
    }
    r2d2::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(10))
        .build(manager)
        .map_err(|e| format!("cannot build the connection pool: {e}"))
}

pub fn migrate(conn: &mut Db) -> Result<usize, String> {
    let applied = match conn {
        Db::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
        Db::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    applied.map_err(|e| format!("migration failed: {e}"))
}

/// How many migrations this binary holds that the database has not applied. Reads only
/// (a role without CREATE can ask).
pub fn pending_migrations(conn: &mut Db) -> Result<usize, String> {
    use diesel::migration::MigrationSource;
    let known: Vec<String> = match conn {
        Db::Pg(_) => MigrationSource::<diesel::pg::Pg>::migrations(&PG_MIGRATIONS).map(|ms| ms.iter().map(|m| m.name().version().to_string()).collect()),
        Db::Sqlite(_) => {
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS).map(|ms| ms.iter().map(|m| m.name().version().to_string()).collect())
        }
    }
    .map_err(|e| format!("cannot read the embedded migrations: {e}"))?;
    let applied: Vec<Version> = diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
        .load(conn)
        .map_err(|e| format!("cannot read the applied migrations: {e}"))?;
    Ok(known.iter().filter(|v| !applied.iter().any(|a| &a.version == *v)).count())
}

#[derive(diesel::QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// Writes to a SQLite database with no file of its own (in memory) take turns here; a file
/// has its writer thread (`writer`).
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[derive(diesel::QueryableByName)]
struct DatabaseFile {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    file: String,
}

/// The file of the main database; `None` in memory.
fn sqlite_file(conn: &mut SqliteConnection) -> diesel::QueryResult<Option<String>> {
    let files: Vec<DatabaseFile> = diesel::sql_query("PRAGMA database_list").load(conn)?;
    Ok(files.into_iter().find(|f| f.name == "main").map(|f| f.file).filter(|f| !f.is_empty()))
}

/// Runs `f` in a write transaction; when this returns Ok, the transaction is on disk.
///
/// On PostgreSQL it is a transaction on `conn`. On SQLite, `f` runs on the database file's
/// one writer thread (see `writer`), in a savepoint of the group of writes committed
/// together, and `conn` itself is not written through. Called inside a transaction (from
/// the writer, or from a caller's own), it is a savepoint of that transaction.
pub fn write_tx<T, E>(conn: &mut Db, f: impl FnOnce(&mut Db) -> Result<T, E> + Send) -> Result<T, E>
where
    T: Send,
    E: From<diesel::result::Error> + Send,
{
    let Db::Sqlite(sqlite) = conn else { return conn.transaction(f) };
    if in_transaction(sqlite) {
        return conn.transaction(f);
    }
    match sqlite_file(sqlite)? {
        Some(file) => writer::write(&file, f),
        None => {
            let _writer = SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            sqlite_transaction(conn, f)
        }
    }
}

fn sqlite_transaction<T, E>(conn: &mut Db, f: impl FnOnce(&mut Db) -> Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    type Tm = diesel::connection::AnsiTransactionManager;
    let Db::Sqlite(sqlite) = conn else { unreachable!("called for SQLite only") };
    Tm::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let outcome = f(conn);
    let Db::Sqlite(sqlite) = conn else { unreachable!("the variant does not change") };
    match outcome {
        Ok(value) => {
            if let Err(e) = Tm::commit_transaction(sqlite) {
                let _ = Tm::rollback_transaction(sqlite);
                return Err(e.into());
            }
            Ok(value)
        }
        Err(e) => {
            Tm::rollback_transaction(sqlite)?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_idle_half_a_second_is_asked_before_it_is_lent_again() {
        let returned = Instant::now();
        assert!(!ask_first(returned, returned));
        assert!(!ask_first(returned, returned + Duration::from_millis(499)));
        assert!(ask_first(returned, returned + Duration::from_millis(500)));
        assert!(ask_first(returned, returned + Duration::from_secs(3600)));
        // A clock read before the hand-back (another thread's) is not asked, not a panic.
        assert!(!ask_first(returned + Duration::from_millis(10), returned));
    }
}
