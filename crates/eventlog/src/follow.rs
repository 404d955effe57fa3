//! Keeping a read model current: the [`Projection`] trait and a [`Follower`] that
//! feeds a projection every record appended after the position it already covers.
//!
//! Written once here so that every read model (the site state, query indexes,
//! later reviews, JIT and a server) follows the log the same way: never by
//! re-reading from position 1, only from the projection's own position onwards,
//! woken by [`EventLog::subscribe`].

use tokio::sync::watch;

use crate::error::Result;
use crate::iter::{RawChunk, RecordIter};
use crate::log::EventLog;
use crate::record::{Position, Record};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

/// A read model folded from the log's records.
///
/// [`Projection::apply`] receives every record of the log (of every stream), once,
/// in position order; a projection that cares about one stream ignores the others
/// but still moves its position. Applying must not fail: a record the projection
/// does not understand is skipped, never an error, so that the log stays the only
/// authority on what happened.
pub trait Projection {
    /// Folds one record in. `record.position` is exactly `self.position() + 1`.
    fn apply(&mut self, record: &Record);

    /// The last position folded in (0 before any).
    fn position(&self) -> Position;
}

/// Folds every record after `projection.position()` up to `until` (inclusive) into
/// `projection`, and returns how many it folded. `until` past the head means "to the
/// head as it was when the read began".
///
/// A long fold (at least [`READ_AHEAD_MIN`] records) reads ahead: one thread
/// reads the stored chunks, one more than the machine has cores (up to five)
/// check and decode them, each its share in turn, and this thread folds their
/// records in order.
/// The fold then takes about as long as the slowest part, not their sum.
pub fn fold_until<P: Projection + ?Sized>(
    log: &EventLog,
    projection: &mut P,
    until: Position,
) -> Result<u64> {
    let from = projection.position() + 1;
    if from > until {
        return Ok(0);
    }
    let records = log.read_from(from);
    let until = until.min(records.until());
    if (until + 1).saturating_sub(from) < READ_AHEAD_MIN {
        return fold_records(records, projection, until);
    }
    // One more decoder than cores: while one waits (for a chunk, or for room to
    // hand its records over), the cores stay busy.
    let decoders = std::thread::available_parallelism()
        .map_or(1, |n| n.get() + 1)
        .clamp(2, MAX_DECODERS);
    std::thread::scope(|scope| {
        match read_ahead(scope, records, from, until, decoders) {
            Some(mut batches) => {
                let mut total = 0;
                while let Some(batch) = batches.next() {
                    let records = batch?;
                    let (n, done) = fold_batch(&records, projection, until);
                    total += n;
                    if done {
                        break;
                    }
                    batches.give_back(records);
                }
                Ok(total)
            }
            // No threads to be had: the same fold, on this one.
            None => fold_records(log.read_from(from), projection, until),
        }
    })
}

/// A fold of fewer records than this reads on the caller's thread alone.
pub const READ_AHEAD_MIN: u64 = 20_000;
/// Decoding threads at most.
const MAX_DECODERS: usize = 5;
/// Chunks queued for each decoding thread, and decoded ones waiting to be folded.
const QUEUED_CHUNKS: usize = 16;

/// Starts the threads that read and decode `records`' chunks (`decoders` of
/// them decoding, chunk `i` by decoder `i % decoders`), and returns the decoded
/// chunks in order. Every thread stops when its output is no longer wanted, so
/// dropping the [`Decoded`] ends them all. `None` when a thread cannot be started.
fn read_ahead<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    mut records: RecordIter,
    from: Position,
    until: Position,
    decoders: usize,
) -> Option<Decoded> {
    let mut inputs: Vec<SyncSender<Result<RawChunk>>> = Vec::with_capacity(decoders);
    let mut decoded = Decoded {
        outputs: Vec::with_capacity(decoders),
        returns: Vec::with_capacity(decoders),
        turn: 0,
    };
    for i in 0..decoders {
        let (send_chunk, chunks) = sync_channel::<Result<RawChunk>>(QUEUED_CHUNKS);
        let (send_records, output) = sync_channel::<Result<Vec<Record>>>(QUEUED_CHUNKS);
        let (give_back, returned) = channel::<Vec<Record>>();
        std::thread::Builder::new()
            .name(format!("log-decode-{i}"))
            .spawn_scoped(scope, move || {
                for chunk in chunks {
                    let records = chunk.and_then(|c| c.decode(from, until));
                    let failed = records.is_err();
                    if send_records.send(records).is_err() || failed {
                        return;
                    }
                    // Records folded already are freed here, by the thread that
                    // allocated them, off the folding thread.
                    returned.try_iter().for_each(drop);
                }
            })
            .ok()?;
        inputs.push(send_chunk);
        decoded.outputs.push(output);
        decoded.returns.push(give_back);
    }
    std::thread::Builder::new()
        .name("log-read".into())
        .spawn_scoped(scope, move || {
            for i in 0.. {
                let chunk = match records.next_chunk() {
                    // Nothing past the fold's end is read.
                    Ok(Some(chunk)) if chunk.first() > until => return,
                    Ok(Some(chunk)) => Ok(chunk),
                    Ok(None) => return,
                    Err(e) => Err(e),
                };
                let failed = chunk.is_err();
                if inputs[i % inputs.len()].send(chunk).is_err() || failed {
                    return;
                }
            }
        })
        .ok()?;
    Some(decoded)
}

/// The decoded chunks of a read-ahead, in order.
struct Decoded {
    outputs: Vec<Receiver<Result<Vec<Record>>>>,
    returns: Vec<Sender<Vec<Record>>>,
    /// How many chunks were taken.
    turn: usize,
}

impl Decoded {
    /// Hands folded records back to the thread that decoded them (the chunk
    /// taken last), to be freed there.
    fn give_back(&self, records: Vec<Record>) {
        let n = self.returns.len();
        // A decoder that has finished frees nothing more: they are dropped here.
        let _ = self.returns[(self.turn + n - 1) % n].send(records);
    }
}

impl Iterator for Decoded {
    type Item = Result<Vec<Record>>;

    fn next(&mut self) -> Option<Self::Item> {
        // Chunk `i` comes from decoder `i % decoders`; the first decoder to have
        // nothing more has the chunk after the last.
        let next = self.outputs[self.turn % self.outputs.len()].recv().ok();
        self.turn += 1;
        next
    }
}

/// Folds `records` up to `until` one by one.
fn fold_records<P: Projection + ?Sized>(
    records: impl Iterator<Item = Result<Record>>,
    projection: &mut P,
    until: Position,
) -> Result<u64> {
    let mut folded = 0;
    for record in records {
        let (n, done) = fold_batch(std::slice::from_ref(&record?), projection, until);
        folded += n;
        // Nothing past the end is read (a damaged record there is not this
        // fold's concern).
        if done {
            break;
        }
    }
    Ok(folded)
}

/// Folds a batch: how many records, and whether `until` was reached (or
/// passed).
fn fold_batch<P: Projection + ?Sized>(
    records: &[Record],
    projection: &mut P,
    until: Position,
) -> (u64, bool) {
    let mut folded = 0;
    for record in records {
        if record.position > until {
            return (folded, true);
        }
        projection.apply(record);
        folded += 1;
        if record.position == until {
            return (folded, true);
        }
    }
    (folded, false)
}

/// Keeps one projection current with the log's new appends.
///
/// It subscribes before its first read, so an append that lands while it catches
/// up is never missed: it either is read by that catch-up or wakes the next wait.
#[derive(Debug)]
pub struct Follower<P> {
    log: EventLog,
    projection: P,
    head: watch::Receiver<Position>,
}

impl<P: Projection> Follower<P> {
    /// Follows `log` from wherever `projection` already is (position 0 for a new
    /// one, a snapshot's position for a restored one). Nothing is read yet.
    pub fn new(log: EventLog, projection: P) -> Self {
        let head = log.subscribe();
        Self {
            log,
            projection,
            head,
        }
    }

    /// Folds every record appended since the projection's position; returns how
    /// many. Never blocks on new appends.
    pub fn catch_up(&mut self) -> Result<u64> {
        // Mark the current value seen first: anything appended after this point
        // wakes `wait`, and everything before it is read below.
        self.head.borrow_and_update();
        fold_until(&self.log, &mut self.projection, Position::MAX)
    }

    /// Waits until the log's head moves past the projection's position, then
    /// catches up; returns how many records were folded. Cancel-safe: dropping the
    /// future loses nothing, the next call reads from the projection's position.
    pub async fn wait(&mut self) -> Result<u64> {
        loop {
            let folded = self.catch_up()?;
            if folded > 0 {
                return Ok(folded);
            }
            if self.head.changed().await.is_err() {
                // The log (every handle on it) is gone: nothing more will come.
                return Ok(0);
            }
        }
    }

    /// The projection as of its position.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The log being followed.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Stops following and hands the projection back.
    pub fn into_inner(self) -> P {
        self.projection
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ExpectedVersion, NewEvent};
    use grantledger_model::{AccountId, StreamId, UserVanished};

    /// Remembers every position it was given.
    #[derive(Debug, Default)]
    struct Seen(Vec<Position>);

    impl Projection for Seen {
        fn apply(&mut self, record: &Record) {
            self.0.push(record.position);
        }
        fn position(&self) -> Position {
            self.0.last().copied().unwrap_or(0)
        }
    }

    fn append(log: &EventLog, n: usize) {
        let events = (0..n)
            .map(|i| {
                NewEvent::new(UserVanished {
                    account_id: AccountId::new(format!("a{i}")),
                })
            })
            .collect();
        log.append(&StreamId::jira_site("acme"), ExpectedVersion::Any, events)
            .unwrap();
    }

    #[test]
    fn catch_up_reads_only_what_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        append(&log, 3);
        let mut f = Follower::new(log.clone(), Seen::default());
        assert_eq!(f.catch_up().unwrap(), 3);
        assert_eq!(f.catch_up().unwrap(), 0);
        append(&log, 2);
        assert_eq!(f.catch_up().unwrap(), 2);
        // Every position exactly once, in order: nothing re-read from position 1.
        assert_eq!(f.projection().0, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_restored_projection_starts_after_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        append(&log, 5);
        let mut f = Follower::new(log, Seen(vec![1, 2, 3]));
        assert_eq!(f.catch_up().unwrap(), 2);
        assert_eq!(f.into_inner().0, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn fold_until_stops_at_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        append(&log, 6);
        let mut seen = Seen::default();
        assert_eq!(fold_until(&log, &mut seen, 4).unwrap(), 4);
        assert_eq!(fold_until(&log, &mut seen, 2).unwrap(), 0);
        assert_eq!(seen.0, vec![1, 2, 3, 4]);
    }
}
