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

/// The cheapest question the database can answer: is it there?
pub fn ping(conn: &mut Db) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}

/// Builds the pool and checks one connection, so that a bad URL fails at start-up with
/// the database's own message.
pub fn connect(url: &str, max_size: u32) -> Result<Pool, String> {
    let backend = Backend::from_url(url);
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

/// SQLite has one writer at a time. Writers of this process queue here rather than in
/// SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and so turns
/// contention into long, unfair waits. Other processes still meet the busy timeout.
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` in a write transaction; never nest it. On SQLite it is `BEGIN IMMEDIATE`: a
/// deferred transaction that reads and then writes cannot wait for the lock (SQLITE_BUSY
/// at once), while an immediate one queues like any writer.
pub fn write_tx<T, E>(conn: &mut Db, f: impl FnOnce(&mut Db) -> Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match conn {
        Db::Pg(_) => conn.transaction(f),
        Db::Sqlite(sqlite) => {
            let _writer = SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            type Tm = diesel::connection::AnsiTransactionManager;
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
    }
}
