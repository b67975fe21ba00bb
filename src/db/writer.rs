//! SQLite's one writer. SQLite lets one connection write at a time; rather than have every
//! request thread take turns on its own connection, each database file gets one writer
//! thread with one connection, and every write transaction of this process runs there.
//! The writes that queue up while a group runs form the next group: one `BEGIN IMMEDIATE`,
//! a savepoint per write (so a write that fails rolls back only its own work), and one
//! `COMMIT`. The commit does not wait for the disk (`synchronous = NORMAL`): the writer
//! hands the group's answers to a syncer thread and starts the next group, while the
//! syncer `fdatasync`s the WAL and only then answers. One sync covers every group committed
//! before it, and no caller hears of a write before it is on disk, as with
//! `synchronous = FULL`, without the writer standing idle through each sync.
//!
//! Why that is as durable: in WAL mode a commit is frames appended to the WAL, and it
//! survives a power cut once they are on disk; NORMAL only skips the sync at commit and
//! still syncs around checkpoints (https://www.sqlite.org/pragma.html#pragma_synchronous).
//! Linux's fsync flushes a file's dirty pages whichever descriptor wrote them. What NORMAL
//! does allow: another connection may read a committed write a moment before its sync; a
//! crash in that moment loses a write whose caller was never told it succeeded.
//!
//! Why a thread of its own: a SQLite connection in WAL mode drops its whole page cache
//! whenever another connection has written since its last transaction, so writers taking
//! turns each begin cold and read their pages again. The one writer keeps its cache, and
//! a group writes each shared page (the right-hand leaves of time-ordered keys, the
//! indexes) to the WAL once instead of once per request.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::{DatabaseErrorKind, Error};
use diesel::{Connection, SqliteConnection};

use super::Db;

/// At most this many writes share one commit, so that none waits behind a long group.
const MOST_PER_GROUP: usize = 64;
/// A writer with nothing to do for this long closes its connection and ends its thread;
/// the next write starts another.
const IDLE: Duration = Duration::from_secs(30);

/// After this many groups the writer copies the WAL back into the database (a passive
/// checkpoint) before it takes the next group. SQLite's own automatic checkpoint would run
/// inside a commit, before the group's callers are answered; here it runs after. It must be
/// the writer's: while a checkpoint runs on another connection the writer keeps appending,
/// the checkpoint never catches up, the WAL is never started over, and it grows without
/// bound (measured: 529 MB after 8 s of writes).
const GROUPS_PER_CHECKPOINT: u32 = 64;

/// Once writes pause this long, the writer checkpoints what it wrote since its last
/// checkpoint, rather than leave it in the WAL while only reads follow a burst of writes
/// (every read looks a page up in the WAL's index before the database file).
const QUIET: Duration = Duration::from_millis(100);

/// A write as the writer thread sees it: run it on the writer's connection.
type Work = Box<dyn FnOnce(&mut Db) + Send + 'static>;

/// How a write's group ended, sent back to its caller.
enum Ended {
    Committed,
    /// The group could not begin or commit: nothing of it was written.
    Failed(Option<DatabaseErrorKind>, String),
    /// The write panicked; its savepoint was rolled back, and the panic goes on in the caller.
    Panicked(Box<dyn Any + Send>),
}

struct Job {
    work: Work,
    ended: mpsc::SyncSender<Ended>,
}

/// The writer of one database file.
pub(super) struct Writer {
    file: String,
    queue: Mutex<Queue>,
    wake: Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Whether a thread is serving this queue.
    serving: bool,
}

impl Writer {
    /// The writer of a database file, one per file for the whole process.
    fn of(file: &str) -> Arc<Writer> {
        static WRITERS: Mutex<Option<HashMap<String, Arc<Writer>>>> = Mutex::new(None);
        let mut writers = WRITERS.lock().unwrap_or_else(PoisonError::into_inner);
        let writer = writers
            .get_or_insert_with(HashMap::new)
            .entry(file.to_string())
            .or_insert_with(|| Arc::new(Writer { file: file.to_string(), queue: Mutex::new(Queue::default()), wake: Condvar::new() }));
        writer.clone()
    }

    fn submit(self: &Arc<Self>, job: Job) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.jobs.push_back(job);
        if !queue.serving {
            queue.serving = true;
            let writer = self.clone();
            let spawned = std::thread::Builder::new().name("onset-sqlite-writer".into()).spawn(move || writer.serve());
            if let Err(e) = spawned {
                // Nobody will run the queue: answer its jobs (their callers are waiting).
                queue.serving = false;
                for job in queue.jobs.drain(..) {
                    let _ = job.ended.send(Ended::Failed(None, format!("cannot start the database writer: {e}")));
                }
            }
            return;
        }
        self.wake.notify_one();
    }

    /// The writer thread: takes the queue a group at a time until it has been idle a while.
    fn serve(self: Arc<Self>) {
        let _unwinding = Unwinding(&self);
        let mut conn: Option<Db> = None;
        let mut groups_since_checkpoint = 0;
        // The syncer ends with this thread (when `committed` is dropped).
        let committed = match self.syncer() {
            Ok(committed) => committed,
            Err(e) => {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                queue.serving = false;
                fail(queue.jobs.drain(..).collect(), None, &format!("cannot start the database syncer: {e}"));
                return;
            }
        };
        loop {
            let group: Option<Vec<Job>> = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if !queue.jobs.is_empty() {
                        let take = queue.jobs.len().min(MOST_PER_GROUP);
                        break Some(queue.jobs.drain(..take).collect());
                    }
                    let wait = if groups_since_checkpoint > 0 { QUIET } else { IDLE };
                    let (woken, timeout) = self.wake.wait_timeout(queue, wait).unwrap_or_else(PoisonError::into_inner);
                    queue = woken;
                    if timeout.timed_out() && queue.jobs.is_empty() {
                        if groups_since_checkpoint > 0 {
                            break None; // writes have paused: checkpoint, outside the lock
                        }
                        queue.serving = false;
                        return;
                    }
                }
            };
            let Some(group) = group else {
                groups_since_checkpoint = 0;
                self.checkpoint(&mut conn);
                continue;
            };
            if conn.is_none() {
                match open_writer(&self.file) {
                    Ok(opened) => conn = Some(Db::Sqlite(opened)),
                    Err(e) => {
                        fail(group, None, &format!("cannot open the database: {e}"));
                        continue;
                    }
                }
            }
            if let Some(db) = conn.as_mut() {
                let (answers, reusable) = run_group(db, group);
                if !reusable {
                    conn = None; // a connection whose transaction state is lost is not reused
                }
                if let Err(mpsc::SendError(answers)) = committed.send(answers) {
                    // The syncer is gone: nobody can say these writes are on disk.
                    for (ended, _) in answers {
                        let _ = ended.send(Ended::Failed(None, "the database syncer stopped".into()));
                    }
                }
                groups_since_checkpoint += 1;
                if groups_since_checkpoint >= GROUPS_PER_CHECKPOINT {
                    groups_since_checkpoint = 0;
                    self.checkpoint(&mut conn);
                }
            }
        }
    }
}

impl Writer {
    /// Checkpoints on the writer's connection, if it has one open; a failure is logged,
    /// and the next checkpoint tries again.
    fn checkpoint(&self, conn: &mut Option<Db>) {
        if let Some(Db::Sqlite(sqlite)) = conn.as_mut() {
            if let Err(e) = checkpoint(sqlite) {
                tracing::warn!(error = %e, file = self.file, "a WAL checkpoint failed; the next one retries");
            }
        }
    }

    /// The thread that makes committed groups durable and then answers their callers. It
    /// takes every group that has committed since its last sync, syncs the WAL once, and
    /// answers them all.
    fn syncer(&self) -> std::io::Result<mpsc::Sender<Answers>> {
        let (committed, groups) = mpsc::channel::<Answers>();
        let wal = std::path::PathBuf::from(format!("{}-wal", self.file));
        let run = move || {
            while let Ok(first) = groups.recv() {
                let mut answers = first;
                answers.extend(groups.try_iter().flatten());
                // Opened afresh each time: SQLite may have removed and recreated the WAL.
                let synced = std::fs::File::open(&wal).and_then(|f| f.sync_data());
                for (ended, answer) in answers {
                    let answer = match (&synced, answer) {
                        (Err(e), Ended::Committed) => Ended::Failed(None, format!("cannot sync the write-ahead log: {e}")),
                        (_, answer) => answer,
                    };
                    let _ = ended.send(answer);
                }
            }
        };
        std::thread::Builder::new().name("onset-sqlite-sync".into()).spawn(run).map(|_| committed)
    }
}

/// A group's answers, each waiting for the sync that makes its write durable.
type Answers = Vec<(mpsc::SyncSender<Ended>, Ended)>;

/// A WAL longer than this many frames (16 MiB of 4 KiB pages) is started over if no reader
/// is in it at that moment: a passive checkpoint copies frames back but cannot start the
/// WAL over while readers keep arriving, and every read then searches a longer WAL index.
const RESTART_AT_FRAMES: i32 = 4096;

#[derive(diesel::QueryableByName)]
struct Checkpointed {
    /// Frames in the WAL.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    log: i32,
}

/// Copies the WAL back into the database without waiting for anyone, and starts it over
/// once it has grown long, again without waiting: the busy handler's sleeps (up to 100 ms
/// each) while readers finish would hold up every write queued behind the writer, and
/// with them every read's audit entry. A WAL that could not be started over is tried again
/// at the next checkpoint (15 s of writes and reads at once left it at 24 MB, as when the
/// writer waited).
fn checkpoint(sqlite: &mut SqliteConnection) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    let passive: Checkpointed = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(sqlite)?;
    if passive.log >= RESTART_AT_FRAMES {
        super::set_busy_timeout(sqlite, 0)?;
        let restarted = diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").get_result::<Checkpointed>(sqlite);
        super::set_busy_timeout(sqlite, super::SQLITE_BUSY_TIMEOUT_MS)?;
        restarted?;
    }
    Ok(())
}

/// The writer's connection: its commits leave the sync to the syncer, and it checkpoints
/// between groups, not inside their commits.
fn open_writer(file: &str) -> Result<SqliteConnection, diesel::ConnectionError> {
    let mut conn = super::open_sqlite(file)?;
    diesel::connection::SimpleConnection::batch_execute(&mut conn, "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -32768")
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// Should the writer thread itself panic (its writes' panics are caught), the writes still
/// queued are refused and the next write starts a new thread, rather than every caller
/// waiting for a thread that is gone.
struct Unwinding<'a>(&'a Writer);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut queue = self.0.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.serving = false;
            fail(queue.jobs.drain(..).collect(), None, "the database writer failed");
        }
    }
}

fn fail(jobs: Vec<Job>, kind: Option<DatabaseErrorKind>, message: &str) {
    for job in jobs {
        drop(job.work);
        let _ = job.ended.send(Ended::Failed(kind, message.to_string()));
    }
}

fn kind_of(e: &Error) -> Option<DatabaseErrorKind> {
    match e {
        Error::DatabaseError(kind, _) => Some(*kind),
        _ => None,
    }
}

/// Runs one group in one transaction: each caller's answer (for the syncer to send), and
/// whether the connection may be reused.
fn run_group(db: &mut Db, group: Vec<Job>) -> (Answers, bool) {
    type Tm = AnsiTransactionManager;
    let Db::Sqlite(sqlite) = db else { unreachable!("the writer holds a SQLite connection") };
    if let Err(e) = Tm::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE") {
        fail(group, kind_of(&e), &e.to_string());
        return (Vec::new(), !Tm::is_broken_transaction_manager(sqlite));
    }
    let mut ran: Vec<(mpsc::SyncSender<Ended>, Option<Box<dyn Any + Send>>)> = Vec::with_capacity(group.len());
    let mut jobs = group.into_iter();
    let mut intact = true;
    for Job { work, ended } in jobs.by_ref() {
        // Each write opens its own savepoint (`Connection::transaction` inside a transaction).
        let panicked = catch_unwind(AssertUnwindSafe(|| work(db))).err();
        let Db::Sqlite(sqlite) = db else { unreachable!("the variant does not change") };
        if panicked.is_some() {
            // The panic skipped the savepoint's end: roll the write back to its start.
            intact = matches!(depth(sqlite), Some(2)) && Tm::rollback_transaction(sqlite).is_ok();
        }
        // Anything but the group's own transaction, one deep, means a write's statements
        // ended it (SQLite rolls back on some errors): the group cannot be committed.
        intact = intact && depth(sqlite) == Some(1);
        ran.push((ended, panicked));
        if !intact {
            break;
        }
    }
    let Db::Sqlite(sqlite) = db else { unreachable!("the variant does not change") };
    let committed = if intact { Tm::commit_transaction(sqlite) } else { Err(Error::BrokenTransactionManager) };
    let failure = committed.err().map(|e| {
        let _ = Tm::rollback_transaction(sqlite);
        (kind_of(&e), format!("the write's group could not be committed: {e}"))
    });
    let answers = ran
        .into_iter()
        .map(|(ended, panicked)| {
            let answer = match (panicked, &failure) {
                (Some(payload), _) => Ended::Panicked(payload),
                (None, None) => Ended::Committed,
                (None, Some((kind, message))) => Ended::Failed(*kind, message.clone()),
            };
            (ended, answer)
        })
        .collect();
    let rest: Vec<Job> = jobs.collect();
    fail(rest, None, "an earlier write in its group broke the transaction; nothing was written");
    (answers, failure.is_none() || !Tm::is_broken_transaction_manager(sqlite) && depth(sqlite).is_none())
}

fn depth(sqlite: &mut SqliteConnection) -> Option<u32> {
    AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth().ok().flatten().map(std::num::NonZeroU32::get)
}

/// Runs `f` as a write transaction on the writer of `file`, in a savepoint of the group
/// it joins, and returns once that group is durable (or has failed: then nothing of `f`
/// was written).
pub(super) fn write<T, E>(file: &str, f: impl FnOnce(&mut Db) -> Result<T, E> + Send) -> Result<T, E>
where
    T: Send,
    E: From<Error> + Send,
{
    let mut outcome: Option<Result<T, E>> = None;
    let (ended_tx, ended) = mpsc::sync_channel(1);
    {
        let slot = &mut outcome;
        let work: Box<dyn FnOnce(&mut Db) + Send + '_> = Box::new(move |conn: &mut Db| *slot = Some(conn.transaction(f)));
        // SAFETY: `work` borrows `f`'s captures and `outcome` from this frame. The writer
        // thread runs or drops `work` before the answer on `ended` is sent (by it or, after
        // the sync, by the syncer) or its sender dropped (the sender lives beside `work`
        // and is dropped after it or handed on after `work` ran), and this frame does
        // not return, nor unwind, before `ended.recv()` below has returned. So nothing
        // borrowed is touched after this frame ends: the same argument as a scoped thread.
        let work: Work = unsafe { std::mem::transmute::<Box<dyn FnOnce(&mut Db) + Send + '_>, Work>(work) };
        Writer::of(file).submit(Job { work, ended: ended_tx });
    }
    match ended.recv() {
        Ok(Ended::Committed) => outcome.unwrap_or_else(|| Err(Error::QueryBuilderError("the writer answered a write it did not run".into()).into())),
        Ok(Ended::Failed(kind, message)) => Err(match kind {
            Some(kind) => Error::DatabaseError(kind, Box::new(message)),
            None => Error::QueryBuilderError(message.into()),
        }
        .into()),
        Ok(Ended::Panicked(payload)) => resume_unwind(payload),
        Err(_) => Err(Error::QueryBuilderError("the database writer stopped before answering".into()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::RunQueryDsl;

    fn file() -> (std::path::PathBuf, String) {
        let dir = std::env::temp_dir().join(format!("onset-writer-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db").to_string_lossy().to_string();
        let mut conn = super::super::open_sqlite(&path).unwrap();
        diesel::sql_query("CREATE TABLE t (n INTEGER PRIMARY KEY)").execute(&mut conn).unwrap();
        (dir, path)
    }

    fn count(path: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = super::super::open_sqlite(path).unwrap();
        diesel::sql_query("SELECT count(*) AS n FROM t").get_result::<N>(&mut conn).unwrap().n
    }

    fn insert(conn: &mut Db, n: i64) -> Result<i64, Error> {
        diesel::sql_query(format!("INSERT INTO t (n) VALUES ({n})")).execute(conn)?;
        Ok(n)
    }

    #[test]
    fn writes_from_many_threads_each_commit_and_a_failure_undoes_only_its_own() {
        let (dir, path) = file();
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    // Thread 7 inserts its row and then that row again: its savepoint rolls
                    // back both, whatever ran before or after it in its group.
                    write(&path, |conn| {
                        let n = insert(conn, i)?;
                        if i == 7 { insert(conn, i) } else { Ok(n) }
                    })
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for (i, result) in results.iter().enumerate() {
            match result {
                Ok(n) => assert_eq!(*n, i as i64),
                Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => assert_eq!(i, 7),
                Err(e) => panic!("write {i}: {e}"),
            }
        }
        assert_eq!(count(&path), 15, "every write but the failed one is on disk");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_panicking_write_panics_in_its_caller_and_leaves_no_trace() {
        let (dir, path) = file();
        let caught = catch_unwind(|| {
            write(&path, |conn| -> Result<(), Error> {
                insert(conn, 1)?;
                panic!("the write's own bug");
            })
        });
        let message = caught.unwrap_err().downcast::<&str>().map(|m| *m).unwrap_or_default();
        assert_eq!(message, "the write's own bug");
        // The writer goes on, and the panicked write left nothing.
        assert_eq!(write(&path, |conn| insert(conn, 2)).unwrap(), 2);
        assert_eq!(count(&path), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
