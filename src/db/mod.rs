//! The connection enum, its pool and migrations. Everything backend-specific lives here
//! or in a `match` inside `store/`.

pub mod schema;
pub mod types;

use std::time::Duration;

use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, ConnectionError, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use types::{DbJson, DbTime, DbUuid};

#[derive(diesel::MultiConnection)]
pub enum Db {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<DbManager>;
pub type Conn = r2d2::PooledConnection<DbManager>;

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
/// synchronous=FULL: a 201 means the rating is on disk, even after a power cut.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;";

impl ManageConnection for DbManager {
    type Connection = Db;
    type Error = ConnectionError;

    fn connect(&self) -> Result<Db, ConnectionError> {
        match &self.backend {
            Backend::Postgres(url) => PgConnection::establish(url).map(Db::Pg),
            Backend::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(Db::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut Db) -> Result<(), ConnectionError> {
        ping(conn).map_err(ConnectionError::CouldntSetupConfiguration)
    }

    /// A connection still inside a transaction (a panic unwound through `write_tx`), or
    /// whose transaction state diesel could not follow, is closed rather than reused: the
    /// next borrower would otherwise run inside someone else's `BEGIN`.
    fn has_broken(&self, conn: &mut Db) -> bool {
        match conn {
            Db::Pg(c) => in_transaction(c),
            Db::Sqlite(c) => in_transaction(c),
        }
    }
}

fn in_transaction<C>(conn: &mut C) -> bool
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
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}

/// Builds the pool and checks one connection, so that a bad URL fails at start-up with
/// the database's own message.
pub fn connect(url: &str, max_size: u32) -> Result<Pool, String> {
    let backend = Backend::from_url(url);
    if let Backend::Sqlite(path) = &backend {
        private_database_files(path).map_err(|e| format!("cannot make {path} private: {e}"))?;
    }
    let manager = DbManager { backend: backend.clone() };
    if let Err(e) = manager.connect() {
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

/// SQLite has one writer at a time. Writers of this process queue here rather than in
/// SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and so turns
/// contention into long, unfair waits. Other processes still meet the busy timeout.
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Group commit for one SQLite file. A write transaction commits without waiting for the
/// disk (`synchronous = NORMAL` for that transaction only: the WAL is written, not yet
/// synced), leaves the writer lock to the next writer, and then waits until an fsync of
/// the WAL that covers its commit has completed; only then does its caller answer. The
/// transactions that commit while one fsync runs are all covered by the next one: under
/// load, one fsync makes a whole group durable instead of one each. Each request keeps its
/// own transaction, so one request's failure rolls back only its own work.
///
/// Why this is as durable as `synchronous = FULL`: in WAL mode a commit is a set of frames
/// appended to the WAL, and it survives a power cut once those frames are on disk. NORMAL
/// only skips the WAL sync at commit (SQLite still syncs around checkpoints,
/// https://www.sqlite.org/pragma.html#pragma_synchronous); the fsync here puts it back
/// before anyone is told the write happened. Linux's fsync flushes the file's dirty pages
/// whichever descriptor wrote them.
struct GroupCommit {
    wal: std::path::PathBuf,
    /// The sequence number of the last commit.
    committed: std::sync::atomic::AtomicU64,
    /// The last commit an fsync has covered; held while an fsync runs.
    synced: std::sync::Mutex<u64>,
}

impl GroupCommit {
    /// The group of a database file, one per file for the whole process.
    fn of(file: &str) -> std::sync::Arc<GroupCommit> {
        static GROUPS: std::sync::Mutex<Vec<(String, std::sync::Arc<GroupCommit>)>> = std::sync::Mutex::new(Vec::new());
        let mut groups = GROUPS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, group)) = groups.iter().find(|(f, _)| f == file) {
            return group.clone();
        }
        let group = std::sync::Arc::new(GroupCommit {
            wal: format!("{file}-wal").into(),
            committed: std::sync::atomic::AtomicU64::new(0),
            synced: std::sync::Mutex::new(0),
        });
        groups.push((file.to_string(), group.clone()));
        group
    }

    /// Called under the writer lock right after a commit: its sequence number.
    fn committed(&self) -> u64 {
        self.committed.fetch_add(1, std::sync::atomic::Ordering::AcqRel) + 1
    }

    /// Returns once commit `seq` is on disk: at once if an fsync since covered it,
    /// otherwise after the fsync this caller runs, which covers every commit so far.
    fn durable(&self, seq: u64) -> std::io::Result<()> {
        let mut synced = self.synced.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *synced >= seq {
            return Ok(());
        }
        // Every commit numbered up to here has finished writing its frames.
        let covered = self.committed.load(std::sync::atomic::Ordering::Acquire);
        // Opened afresh each time: SQLite may have removed and recreated the WAL.
        std::fs::File::open(&self.wal)?.sync_data()?;
        *synced = covered;
        Ok(())
    }
}

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

/// Runs `f` in a write transaction; never nest it. On SQLite it is `BEGIN IMMEDIATE` (a
/// deferred transaction that reads and then writes cannot wait for the lock: SQLITE_BUSY
/// at once, while an immediate one queues like any writer), committed in a group (see
/// `GroupCommit`): when this returns Ok, the transaction is on disk.
pub fn write_tx<T, E>(conn: &mut Db, f: impl FnOnce(&mut Db) -> Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let Db::Sqlite(sqlite) = conn else { return conn.transaction(f) };
    let group = sqlite_file(sqlite)?.map(|file| GroupCommit::of(&file));
    let seq = {
        let _writer = SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if group.is_some() {
            sqlite.batch_execute("PRAGMA synchronous = NORMAL")?;
        }
        let outcome = sqlite_transaction(conn, f);
        let Db::Sqlite(sqlite) = conn else { unreachable!("the variant does not change") };
        // Back to FULL whatever happened: a statement outside `write_tx` syncs on its own.
        // A failure here does not undo a commit that happened, so it is logged, not returned.
        if group.is_some() {
            if let Err(e) = sqlite.batch_execute("PRAGMA synchronous = FULL") {
                tracing::error!(error = %e, "could not set synchronous = FULL back on a connection");
            }
        }
        let value = outcome?;
        (group.as_ref().map(|g| g.committed()), value)
    };
    if let (Some(group), (Some(seq), _)) = (&group, &seq) {
        group.durable(*seq).map_err(|e| diesel::result::Error::QueryBuilderError(format!("cannot sync the write-ahead log: {e}").into()))?;
    }
    Ok(seq.1)
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
    fn one_fsync_covers_every_commit_before_it() {
        let dir = std::env::temp_dir().join(format!("onset-group-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("db").to_string_lossy().to_string();
        std::fs::write(format!("{file}-wal"), b"frames").unwrap();
        let group = GroupCommit::of(&file);
        assert!(std::sync::Arc::ptr_eq(&group, &GroupCommit::of(&file)), "one group per file");
        // Three commits land while nobody syncs; the first to ask syncs for all three.
        let (first, _, third) = (group.committed(), group.committed(), group.committed());
        group.durable(first).unwrap();
        assert_eq!(*group.synced.lock().unwrap(), third);
        // A later commit needs a sync of its own; an earlier one is already covered.
        let fourth = group.committed();
        group.durable(third).unwrap();
        assert_eq!(*group.synced.lock().unwrap(), third);
        group.durable(fourth).unwrap();
        assert_eq!(*group.synced.lock().unwrap(), fourth);
        // A WAL that cannot be synced is an error, never a silent success.
        std::fs::remove_file(format!("{file}-wal")).unwrap();
        let fifth = group.committed();
        assert!(group.durable(fifth).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
