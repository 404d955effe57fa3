//! A long fold reads ahead (a reading thread, decoding threads, the fold on the
//! caller's): the records still arrive once each, in order, it stops where it
//! is told, and a damaged record still ends the fold with its position.

use crate::common::{grant, user};

use grantledger_eventlog::{
    fold_until, EventLog, ExpectedVersion, Hash, LogError, Position, Projection, Record,
    READ_AHEAD_MIN,
};
use grantledger_model::StreamId;

/// Enough records for the read-ahead, over several streams.
const RECORDS: u64 = READ_AHEAD_MIN + 5_000;

fn build(log: &EventLog) {
    build_n(log, RECORDS);
}

fn build_n(log: &EventLog, records: u64) {
    let streams = [StreamId::jira_site("acme"), StreamId::jira_site("other")];
    let mut n = 0;
    while n < records {
        let batch = (records - n).min(997);
        let events = (n..n + batch)
            .map(|i| if i % 3 == 0 { user(i) } else { grant(i) })
            .collect();
        log.append(
            &streams[(n / 997 % 2) as usize],
            ExpectedVersion::Any,
            events,
        )
        .unwrap();
        n += batch;
    }
    assert_eq!(log.head().position, records);
}

/// Checks that records come once each, in order, each linked to the one before.
struct Chain {
    position: Position,
    last: Hash,
}

impl Projection for Chain {
    fn apply(&mut self, record: &Record) {
        assert_eq!(record.position, self.position + 1, "in order, none missed");
        if self.position > 0 {
            assert_eq!(record.prev_hash, self.last, "at {}", record.position);
        }
        self.position = record.position;
        self.last = record.hash;
    }

    fn position(&self) -> Position {
        self.position
    }
}

#[test]
fn a_long_fold_reads_ahead_in_order_and_stops_where_told() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    build(&log);
    let head = log.head();

    let mut all = Chain {
        position: 0,
        last: Hash::ZERO,
    };
    assert_eq!(fold_until(&log, &mut all, Position::MAX).unwrap(), RECORDS);
    assert_eq!((all.position, all.last), (head.position, head.hash));

    // From inside the log, to a position inside a chunk.
    let start = log.get(1_234).unwrap().unwrap();
    let mut part = Chain {
        position: 1_234,
        last: start.hash,
    };
    let until = READ_AHEAD_MIN + 1_777;
    assert_eq!(fold_until(&log, &mut part, until).unwrap(), until - 1_234);
    assert_eq!(part.position, until);
    assert_eq!(part.last, log.get(until).unwrap().unwrap().hash);
    // And on to the head.
    assert_eq!(
        fold_until(&log, &mut part, Position::MAX).unwrap(),
        RECORDS - until
    );
    assert_eq!(part.last, head.hash);
}

/// The most chunks the read-ahead holds at once: five decoders at most, each
/// with 16 chunks queued in and 16 decoded out.
const QUEUED_AT_MOST: usize = 5 * 2 * 16;

#[test]
fn a_damaged_record_ends_a_long_fold_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(dir.path()).unwrap();
        build_n(&log, 70_000);
    }
    // Flip a byte of the record at `bad`, as someone with the files could;
    // enough chunks follow it that every queue is full when the fold stops.
    let bad = 5_000;
    let first_of_chunk;
    {
        let db = sled::Config::new()
            .path(dir.path())
            .segment_size(8 * 1024 * 1024)
            .flush_every_ms(None)
            .open()
            .unwrap();
        let (key, value) = db
            .scan_prefix(b"r")
            .map(Result::unwrap)
            .take_while(|(k, _)| u64::from_be_bytes(k[1..9].try_into().unwrap()) <= bad)
            .last()
            .unwrap();
        first_of_chunk = u64::from_be_bytes(key[1..9].try_into().unwrap());
        let after = db
            .scan_prefix(b"r")
            .map(Result::unwrap)
            .filter(|(k, _)| u64::from_be_bytes(k[1..9].try_into().unwrap()) > bad)
            .count();
        assert!(after > QUEUED_AT_MOST, "{after} chunks after the damage");
        // Walk the chunk's records (u32 count after a format byte, then each
        // record's u32 length and bytes) to the one at `bad`.
        let mut at = 5;
        for _ in first_of_chunk..bad {
            at += 4 + u32::from_le_bytes(value[at..at + 4].try_into().unwrap()) as usize;
        }
        let mut edited = value.to_vec();
        edited[at + 4 + 20] ^= 0x20;
        db.insert(key, edited).unwrap();
        db.flush().unwrap();
    }
    let log = EventLog::open(dir.path()).unwrap();
    let mut chain = Chain {
        position: 0,
        last: Hash::ZERO,
    };
    match fold_until(&log, &mut chain, Position::MAX) {
        Err(LogError::Corrupt { position, .. }) => assert_eq!(position, bad),
        other => panic!("{other:?}"),
    }
    // Everything before the damaged record's chunk was folded, nothing after.
    assert_eq!(chain.position, first_of_chunk - 1);
}
