//! Keeping a read model current: the [`Projection`] trait and a [`Follower`] that
//! feeds a projection every record appended after the position it already covers.
//!
//! Written once here so that every read model (the site state, query indexes,
//! later reviews, JIT and a server) follows the log the same way: never by
//! re-reading from position 1, only from the projection's own position onwards,
//! woken by [`EventLog::subscribe`].

use tokio::sync::watch;

use crate::error::Result;
use crate::log::EventLog;
use crate::record::{Position, Record};

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
pub fn fold_until<P: Projection + ?Sized>(
    log: &EventLog,
    projection: &mut P,
    until: Position,
) -> Result<u64> {
    let from = projection.position() + 1;
    if from > until {
        return Ok(0);
    }
    let mut folded = 0;
    for record in log.read_from(from) {
        let record = record?;
        if record.position > until {
            break;
        }
        projection.apply(&record);
        folded += 1;
    }
    Ok(folded)
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
