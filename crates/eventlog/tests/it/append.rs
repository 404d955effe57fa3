//! Appending, reading, stream versions, idempotency and notifications.

use crate::common;

use std::sync::Arc;

use common::{grant, user};
use grantledger_clock::ManualClock;
use grantledger_eventlog::{EventLog, ExpectedVersion, LogError, NewEvent, OpenOptions};
use grantledger_model::{Causation, EventId, StreamId, SyncRunId, Timestamp};

fn open(dir: &std::path::Path) -> EventLog {
    EventLog::open(dir).unwrap()
}

#[test]
fn positions_are_gapless_across_streams_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let a = StreamId::jira_site("a");
    let b = StreamId::jira_site("b");
    {
        let log = open(dir.path());
        let r1 = log
            .append(&a, ExpectedVersion::NoStream, vec![user(1), user(2)])
            .unwrap();
        let r2 = log
            .append(&b, ExpectedVersion::NoStream, vec![user(3)])
            .unwrap();
        let r3 = log
            .append(&a, ExpectedVersion::Exact(2), vec![grant(1)])
            .unwrap();
        assert_eq!((r1.first, r1.last, r1.stream_version), (1, 2, 2));
        assert_eq!((r2.first, r2.last, r2.stream_version), (3, 3, 1));
        assert_eq!((r3.first, r3.last, r3.stream_version), (4, 4, 3));
        assert_eq!(log.head().position, 4);
    }
    let log = open(dir.path());
    assert_eq!(log.head().position, 4);
    let r4 = log
        .append(&b, ExpectedVersion::Exact(1), vec![user(9)])
        .unwrap();
    assert_eq!((r4.first, r4.stream_version), (5, 2));
    let all: Vec<_> = log.read_from(1).map(Result::unwrap).collect();
    assert_eq!(
        all.iter().map(|r| r.position).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(all[1].prev_hash, all[0].hash);
    assert_eq!(log.head().hash, all[4].hash);
    assert!(log.verify().unwrap().is_ok());
}

#[test]
fn expected_version_conflicts_are_typed_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let s = StreamId::jira_site("acme");
    log.append(&s, ExpectedVersion::Any, vec![user(1)]).unwrap();
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Exact(0),
        ExpectedVersion::Exact(2),
    ] {
        match log.append(&s, expected, vec![user(2)]) {
            Err(LogError::WrongExpectedVersion {
                current: 1, stream, ..
            }) => assert_eq!(stream, s),
            other => panic!("{expected:?}: {other:?}"),
        }
    }
    let other = StreamId::jira_site("none");
    assert!(matches!(
        log.append(&other, ExpectedVersion::StreamExists, vec![user(3)]),
        Err(LogError::WrongExpectedVersion { current: 0, .. })
    ));
    assert_eq!(log.head().position, 1);
    assert_eq!(log.stream_version(&s).unwrap(), 1);
    log.append(&s, ExpectedVersion::StreamExists, vec![user(2)])
        .unwrap();
    assert_eq!(log.stream_version(&s).unwrap(), 2);
}

#[test]
fn large_batches_span_chunks_and_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let s = StreamId::jira_site("acme");
    let events: Vec<_> = (0..2_500)
        .map(|n| if n % 2 == 0 { user(n) } else { grant(n) })
        .collect();
    let expected: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
    log.append(&s, ExpectedVersion::NoStream, events).unwrap();
    let back: Vec<_> = log.read_from(1).map(Result::unwrap).collect();
    assert_eq!(back.len(), 2_500);
    assert!(back.iter().map(|r| &r.event).eq(expected.iter()));
    // Reading from the middle of a chunk starts at that position exactly.
    let mid: Vec<_> = log.read_from(1_000).map(Result::unwrap).collect();
    assert_eq!(mid.first().unwrap().position, 1_000);
    assert_eq!(mid.len(), 1_501);
    assert_eq!(log.get(2_500).unwrap().unwrap().event, expected[2_499]);
    assert!(log.get(2_501).unwrap().is_none());
    assert!(log.get(0).unwrap().is_none());
}

#[test]
fn read_stream_returns_one_streams_events_from_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = StreamId::jira_site("a");
    let b = StreamId::request(&"r1".into());
    log.append(&a, ExpectedVersion::Any, (0..5).map(user).collect())
        .unwrap();
    log.append(&b, ExpectedVersion::Any, vec![grant(1)])
        .unwrap();
    log.append(&a, ExpectedVersion::Any, (5..8).map(user).collect())
        .unwrap();
    let all_a = log.read_stream(&a, 1).unwrap();
    assert_eq!(
        all_a.iter().map(|r| r.stream_version).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    assert!(all_a.iter().all(|r| r.stream == a));
    let from4 = log.read_stream(&a, 4).unwrap();
    assert_eq!(
        from4.iter().map(|r| r.position).collect::<Vec<_>>(),
        vec![4, 5, 7, 8, 9]
    );
    assert_eq!(log.read_stream(&b, 1).unwrap().len(), 1);
    assert!(log
        .read_stream(&StreamId::jira_site("none"), 1)
        .unwrap()
        .is_empty());
    let mut streams = log.streams().unwrap();
    streams.sort();
    assert_eq!(streams, vec![(a, 8), (b, 1)]);
}

#[test]
fn a_retried_batch_with_the_same_ids_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let s = StreamId::request(&"r1".into());
    let batch = || {
        vec![
            user(1).with_id("req-r1-created"),
            grant(1)
                .with_id("req-r1-granted")
                .caused_by(Causation::Request("r1".into())),
        ]
    };
    let first = {
        let log = open(dir.path());
        log.append(&s, ExpectedVersion::NoStream, batch()).unwrap()
    };
    // After a "crash" (reopen), the caller retries with the same expected version.
    let log = open(dir.path());
    let again = log.append(&s, ExpectedVersion::NoStream, batch()).unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.first, again.last, again.stream_version),
        (first.first, first.last, 2)
    );
    assert_eq!(log.head().position, 2);
    let found = log
        .find_by_id(&EventId::from("req-r1-granted"))
        .unwrap()
        .unwrap();
    assert_eq!(found.position, 2);
    assert_eq!(found.causation, Some(Causation::Request("r1".into())));
    assert!(log.find_by_id(&EventId::from("nope")).unwrap().is_none());
}

#[test]
fn reusing_an_id_for_different_content_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let s = StreamId::jira_site("acme");
    log.append(&s, ExpectedVersion::Any, vec![user(1).with_id("e1")])
        .unwrap();
    assert!(matches!(
        log.append(&s, ExpectedVersion::Any, vec![user(2).with_id("e1")]),
        Err(LogError::IdConflict { position: 1, .. })
    ));
    assert!(matches!(
        log.append(
            &s,
            ExpectedVersion::Any,
            vec![user(1).with_id("e1"), user(3).with_id("e3")]
        ),
        Err(LogError::IdConflict { .. })
    ));
    assert!(matches!(
        log.append(
            &s,
            ExpectedVersion::Any,
            vec![user(4).with_id("x"), user(5).with_id("x")]
        ),
        Err(LogError::InvalidBatch(_))
    ));
    assert!(matches!(
        log.append(&s, ExpectedVersion::Any, vec![]),
        Err(LogError::InvalidBatch(_))
    ));
    // A stream name that could not be read back is refused before anything is written.
    assert!(matches!(
        log.append(
            &StreamId::jira_site(""),
            ExpectedVersion::Any,
            vec![user(9)]
        ),
        Err(LogError::InvalidBatch(_))
    ));
    assert_eq!(log.head().position, 1);
}

#[test]
fn recorded_at_comes_from_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_micros(
        1_700_000_000_000_000,
    )));
    let log = EventLog::open_with(
        dir.path(),
        OpenOptions {
            clock: clock.clone(),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let s = StreamId::jira_site("acme");
    log.append(&s, ExpectedVersion::Any, vec![user(1)]).unwrap();
    clock.advance_micros(5);
    log.append(&s, ExpectedVersion::Any, vec![user(2)]).unwrap();
    let times: Vec<_> = log
        .read_from(1)
        .map(|r| r.unwrap().recorded_at.as_micros())
        .collect();
    assert_eq!(times, vec![1_700_000_000_000_000, 1_700_000_000_000_005]);
}

#[test]
fn subscribers_see_each_new_head() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut rx = log.subscribe();
    assert_eq!(*rx.borrow_and_update(), 0);
    log.append(
        &StreamId::jira_site("a"),
        ExpectedVersion::Any,
        vec![user(1), user(2)],
    )
    .unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), 2);
    assert!(!rx.has_changed().unwrap());
}

#[test]
fn concurrent_appenders_through_one_handle_are_serialized() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let s = StreamId::jira_site(&format!("site{t}"));
                let mut mine = Vec::new();
                for i in 0..25 {
                    let r = log
                        .append(
                            &s,
                            ExpectedVersion::Exact(i * 3),
                            vec![user(i), user(i + 1), grant(i)],
                        )
                        .unwrap();
                    mine.extend(r.first..=r.last);
                }
                mine
            })
        })
        .collect();
    let mut positions: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=300).collect::<Vec<_>>());
    let report = log.verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.records, report.streams), (300, 4));
}

#[test]
fn a_second_open_of_a_log_in_use_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _log = open(dir.path());
    match EventLog::open(dir.path()) {
        Err(e @ LogError::Locked { .. }) => {
            assert!(e.to_string().contains("in use by another process"), "{e}")
        }
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[test]
fn causation_and_ids_survive_the_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let s = StreamId::jira_site("acme");
    let e = NewEvent::new(grant(3).event)
        .with_id("g3")
        .caused_by(Causation::SyncRun(SyncRunId::from("run-9")));
    log.append(&s, ExpectedVersion::Any, vec![e.clone()])
        .unwrap();
    let r = log.get(1).unwrap().unwrap();
    assert_eq!(
        (r.event, r.event_id, r.causation),
        (e.event, e.id, e.causation)
    );
}

/// A stream read from any version (the start of a run, the middle of one, past
/// the end) is the tail of the whole stream, with other streams' runs around.
#[test]
fn a_stream_read_from_any_version_is_the_tail_of_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = StreamId::jira_site("a");
    let ab = StreamId::jira_site("ab");
    for i in 0..40u64 {
        log.append(
            &a,
            ExpectedVersion::Any,
            vec![user(3 * i), user(3 * i + 1), user(3 * i + 2)],
        )
        .unwrap();
        log.append(&ab, ExpectedVersion::Any, vec![grant(i)])
            .unwrap();
    }
    let whole = log.read_stream(&a, 1).unwrap();
    assert_eq!(whole.len(), 120);
    for from in 0..=125u64 {
        let tail = log.read_stream(&a, from).unwrap();
        let skip = from.saturating_sub(1).min(120) as usize;
        assert_eq!(tail, whole[skip..], "from version {from}");
        assert!(tail.iter().all(|r| r.stream == a));
    }
    assert_eq!(log.read_stream_for_append(&ab, 39).unwrap().len(), 2);
}
