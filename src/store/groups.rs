//! Writes that queue up while one is made are made together by one of them: group commit
//! with a leader, as PostgreSQL's own WAL flush and SQLite's writer (`db::writer`) do it,
//! but on the callers' own threads and connections, with no thread of its own. A caller
//! who waits hands its connection back meanwhile (`Lender`).
//!
//! Each key (an audit chain) has a queue. A caller that finds no one leading leads: it
//! takes what waits (itself first, at most `MOST_PER_GROUP`), writes it together, hands
//! the lead to the first of those who queued meanwhile, then answers its group. A caller
//! that finds a leader waits to be answered, or to be handed the lead. Every caller returns
//! only once its own item is written, or with the error of writing it.

use std::collections::HashMap;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use diesel::QueryResult;

/// At most this many items share one write, so that none waits behind a long group.
const MOST_PER_GROUP: usize = 64;

/// The queues of every key.
pub struct Groups<T> {
    queues: Mutex<HashMap<String, Arc<Queue<T>>>>,
}

impl<T> Default for Groups<T> {
    fn default() -> Self {
        Groups { queues: Mutex::new(HashMap::new()) }
    }
}

struct Queue<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    waiting: Vec<Waiter<T>>,
    /// Someone is writing a group of this key, and will hand the lead on.
    led: bool,
}

struct Waiter<T> {
    item: T,
    turn: SyncSender<Turn<T>>,
}

/// What a waiter is told: once, or twice when it is first handed the lead.
enum Turn<T> {
    /// Take what waits and write it.
    Lead,
    /// Written with its group.
    Written,
    /// Its group could not be written: write this alone, to hear its own error.
    Alone(T),
}

fn lock<S>(mutex: &Mutex<S>) -> MutexGuard<'_, S> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where a caller's connection comes from. A caller that only waits for its group to be
/// written hands back the one it holds, so that others can use it meanwhile, and takes
/// one again only if it is handed the lead or must write its item alone.
pub trait Lender {
    type Conn;
    fn hand_back(&mut self);
    fn conn(&mut self) -> QueryResult<&mut Self::Conn>;
}

impl<T> Groups<T> {
    /// Writes `item` of `key` on a connection of `lender`: `alone` writes one item,
    /// `together` a group of two or more (in one transaction, all or none).
    pub fn write<L: Lender>(&self, lender: &mut L, key: &str, item: T, alone: fn(&mut L::Conn, &T) -> QueryResult<()>, together: fn(&mut L::Conn, &[T]) -> QueryResult<()>) -> QueryResult<()> {
        let queue = self.queue(key);
        let (turn, told) = sync_channel(1);
        let leads = {
            let mut state = lock(&queue.state);
            state.waiting.push(Waiter { item, turn });
            !std::mem::replace(&mut state.led, true)
        };
        if !leads {
            lender.hand_back();
            match told.recv() {
                Ok(Turn::Lead) => {}
                Ok(Turn::Written) => return Ok(()),
                Ok(Turn::Alone(item)) => return alone(lender.conn()?, &item),
                // The leader panicked holding this item; the panic is its caller's to report.
                Err(_) => return Err(diesel::result::Error::QueryBuilderError("the group this write was in failed".into())),
            }
        }
        // This caller is first in the queue: the first to come when no one led, or the one
        // handed the lead, who was first of those who waited.
        let group: Vec<Waiter<T>> = {
            let mut state = lock(&queue.state);
            let n = state.waiting.len().min(MOST_PER_GROUP);
            state.waiting.drain(..n).collect()
        };
        let handing_on = HandOn(&queue);
        let (items, turns): (Vec<T>, Vec<SyncSender<Turn<T>>>) = group.into_iter().map(|w| (w.item, w.turn)).unzip();
        let written = lender.conn().and_then(|conn| match items.as_slice() {
            [one] => alone(conn, one),
            all => together(conn, all),
        });
        drop(handing_on);
        match written {
            Ok(()) => {
                turns.iter().skip(1).for_each(|turn| drop(turn.send(Turn::Written)));
                Ok(())
            }
            Err(e) if items.len() == 1 => Err(e),
            Err(_) => {
                let mut each = items.into_iter().zip(turns);
                let (own, _) = each.next().expect("a group holds its leader");
                each.for_each(|(item, turn)| drop(turn.send(Turn::Alone(item))));
                alone(lender.conn()?, &own)
            }
        }
    }

    fn queue(&self, key: &str) -> Arc<Queue<T>> {
        let mut queues = lock(&self.queues);
        if let Some(queue) = queues.get(key) {
            return queue.clone();
        }
        let queue = Arc::new(Queue { state: Mutex::new(State { waiting: Vec::new(), led: false }) });
        queues.insert(key.to_string(), queue.clone());
        queue
    }
}

/// Hands the lead to the first who waits, or leaves the queue unled: when the group is
/// written, and also if writing it panicked.
struct HandOn<'a, T>(&'a Queue<T>);

impl<T> Drop for HandOn<'_, T> {
    fn drop(&mut self) {
        let mut state = lock(&self.0.state);
        match state.waiting.first() {
            // Its channel is empty (it waits for its first word), so this does not block.
            Some(next) => drop(next.turn.send(Turn::Lead)),
            None => state.led = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// What the writes write to: each group, in order. The first caller is started alone,
    /// and the others only once it is inside its write, so it writes alone; that write then
    /// waits until everyone else has queued, so that what follows is one group, whatever
    /// the timing. (Started together, a second caller could queue before the first took
    /// its group, and the first write would wait for callers who were already in it.)
    struct Store {
        groups: Arc<Groups<u32>>,
        callers: usize,
        first: Arc<AtomicBool>,
        log: Arc<Mutex<Vec<Vec<u32>>>>,
        /// Whether this caller holds its connection, and how many callers handed theirs
        /// back and took one again.
        held: bool,
        lending: Arc<Mutex<(usize, usize)>>,
    }

    impl Store {
        fn wait_if_first(&self) {
            if self.first.swap(false, Ordering::SeqCst) {
                while lock(&self.groups.queue("chain").state).waiting.len() < self.callers - 1 {
                    std::thread::yield_now();
                }
            }
        }
    }

    /// A store is its own connection, counting how often it is handed back and taken again.
    impl Lender for Store {
        type Conn = Store;
        fn hand_back(&mut self) {
            assert!(std::mem::replace(&mut self.held, false), "handed back twice");
            lock(&self.lending).0 += 1;
        }
        fn conn(&mut self) -> QueryResult<&mut Store> {
            if !std::mem::replace(&mut self.held, true) {
                lock(&self.lending).1 += 1;
            }
            Ok(self)
        }
    }

    fn alone(store: &mut Store, item: &u32) -> QueryResult<()> {
        store.wait_if_first();
        if *item == 999 {
            return Err(diesel::result::Error::NotFound);
        }
        lock(&store.log).push(vec![*item]);
        Ok(())
    }

    fn together(store: &mut Store, items: &[u32]) -> QueryResult<()> {
        store.wait_if_first();
        if items.contains(&999) {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        lock(&store.log).push(items.to_vec());
        Ok(())
    }

    /// Each caller's item and what its write returned.
    type Answers = Vec<(u32, QueryResult<()>)>;

    /// The groups written, each caller's answer, and how many callers handed their
    /// connection back and took one again.
    fn write_from_threads(items: Vec<u32>) -> (Vec<Vec<u32>>, Answers, (usize, usize)) {
        let groups = Arc::new(Groups::<u32>::default());
        let (first, log, lending) = (Arc::new(AtomicBool::new(true)), Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new((0, 0))));
        let callers = items.len();
        let spawn = |item: u32| {
            let mut store = Store { groups: groups.clone(), callers, first: first.clone(), log: log.clone(), held: true, lending: lending.clone() };
            std::thread::spawn(move || {
                let groups = store.groups.clone();
                (item, groups.write(&mut store, "chain", item, alone, together))
            })
        };
        let mut items = items.into_iter();
        let mut threads = vec![spawn(items.next().expect("at least one caller"))];
        while first.load(Ordering::SeqCst) && !threads[0].is_finished() {
            std::thread::yield_now();
        }
        threads.extend(items.map(spawn));
        let answers = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let written = std::mem::take(&mut *lock(&log));
        (written, answers, *lock(&lending))
    }

    #[test]
    fn what_queues_behind_a_write_is_written_together_and_each_caller_answered() {
        let (groups, answers, lending) = write_from_threads((0..40).collect());
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 39], "{groups:?}");
        // The 39 who queued behind the first waited without their connections; the one
        // of them handed the lead took one again to write the group.
        assert_eq!(lending, (39, 1));
        let mut written: Vec<u32> = groups.concat();
        written.sort();
        assert_eq!(written, (0..40).collect::<Vec<_>>());
        assert!(answers.iter().all(|(_, answer)| answer.is_ok()));
    }

    #[test]
    fn at_most_sixty_four_share_a_write() {
        let (groups, answers, _) = write_from_threads((0..100).collect());
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 64, 35], "{groups:?}");
        assert!(answers.iter().all(|(_, answer)| answer.is_ok()));
    }

    #[test]
    fn a_group_that_fails_is_written_one_by_one_and_only_the_bad_item_fails() {
        let (groups, answers, lending) = write_from_threads((0..40).chain([999]).collect());
        let failed: Vec<u32> = answers.iter().filter(|(_, a)| a.is_err()).map(|(i, _)| *i).collect();
        assert_eq!(failed, vec![999]);
        let mut written: Vec<u32> = groups.concat();
        written.sort();
        assert_eq!(written, (0..40).collect::<Vec<_>>());
        // The first caller (0) writes alone; the group of the 40 behind it holds 999, so
        // it fails, and each of the 40 is written alone: 999 to its own error.
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1; 40], "{groups:?}");
        // Each of the 40 behind the first waited without its connection and took one
        // again to write its own item: the one who led the failed group, to write its own.
        assert_eq!(lending, (40, 40));
    }

    #[test]
    fn one_caller_alone_writes_alone() {
        let (groups, answers, lending) = write_from_threads(vec![7]);
        assert_eq!(groups, vec![vec![7]]);
        assert_eq!(lending, (0, 0), "a caller who leads keeps its connection");
        assert!(answers[0].1.is_ok());
    }
}
