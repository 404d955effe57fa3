//! Group commit (ADR 0024): appends made at once share flushes; an append
//! returns only once durable; readers never see a batch before it is durable;
//! a batch repeated while its first copy is being made durable is a duplicate.

use crate::common;

use common::user;
use grantledger_eventlog::{EventLog, ExpectedVersion};
use grantledger_model::{EventId, StreamId};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}

#[test]
fn appenders_at_once_share_flushes_and_each_returns_durable() {
    const TASKS: u64 = 48;
    const EACH: u64 = 4;
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let flushes_before = log.flushes();
    runtime().block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let log = log.clone();
                tokio::spawn(async move {
                    let stream = StreamId::jira_site(&format!("site-{t}"));
                    for i in 0..EACH {
                        let appended = log
                            .append_async(
                                &stream,
                                ExpectedVersion::Exact(i),
                                vec![user(t * 100 + i)],
                            )
                            .await
                            .unwrap();
                        // Durable on return: readers (who see only durable
                        // records) see it, and the head is at or past it.
                        assert!(log.get(appended.last).unwrap().is_some());
                        assert!(log.head().position >= appended.last);
                        assert_eq!(appended.stream_version, i + 1);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let appends = TASKS * EACH;
    let flushes = log.flushes() - flushes_before;
    assert!(flushes >= 1);
    assert!(
        flushes * 4 <= appends,
        "{flushes} flushes for {appends} appends: the appends did not share flushes"
    );
    // Gapless, chained, and all there after a reopen.
    assert_eq!(log.head().position, appends);
    assert!(log.verify().unwrap().is_ok());
    drop(log);
    let log = EventLog::open(dir.path()).unwrap();
    assert_eq!(log.head().position, appends);
    assert_eq!(log.read_from(1).count() as u64, appends);
}

#[test]
fn a_batch_is_invisible_until_durable() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let stream = StreamId::jira_site("a");
    log.append(&stream, ExpectedVersion::NoStream, vec![user(1)])
        .unwrap();
    let head = log.head();
    let flushes = log.flushes();
    let id = EventId::new("the-second");
    let pending = log
        .begin_append(
            &stream,
            ExpectedVersion::Exact(1),
            vec![user(2).with_id(id.clone())],
        )
        .unwrap();
    assert_eq!(pending.appended().last, 2);
    assert_eq!(pending.records().len(), 1);
    assert_eq!(pending.records()[0].stream_version, 2);
    assert_eq!(pending.records()[0].prev_hash, head.hash);
    // Applied, not durable: no reader sees it.
    assert_eq!(log.head(), head);
    assert!(log.get(2).unwrap().is_none());
    assert!(log.position_of(&id).unwrap().is_none());
    assert_eq!(log.read_from(1).count(), 1);
    assert_eq!(log.read_stream(&stream, 1).unwrap().len(), 1);
    // A writer folding the stream to append to it sees the applied batch (the
    // version the log checks an expected version against).
    let for_append = log.read_stream_for_append(&stream, 1).unwrap();
    assert_eq!(for_append.len(), 2);
    assert_eq!(for_append[1], pending.records()[0]);
    assert_eq!(log.flushes(), flushes);
    let appended = pending.wait().unwrap();
    assert_eq!(appended.last, 2);
    assert_eq!(log.flushes(), flushes + 1);
    assert_eq!(log.head().position, 2);
    assert_eq!(log.head().hash, log.get(2).unwrap().unwrap().hash);
    assert_eq!(log.position_of(&id).unwrap(), Some(2));
    assert_eq!(log.stream_version(&stream).unwrap(), 2);
}

#[test]
fn a_batch_repeated_before_its_flush_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let stream = StreamId::jira_site("a");
    let batch = || vec![user(1).with_id(EventId::new("once"))];
    let first = log
        .begin_append(&stream, ExpectedVersion::NoStream, batch())
        .unwrap();
    // The retry finds the applied (not yet durable) batch by its ids.
    let again = log
        .begin_append(&stream, ExpectedVersion::NoStream, batch())
        .unwrap();
    assert!(again.appended().duplicate);
    assert_eq!(again.records(), first.records());
    let again = again.wait().unwrap();
    let first = first.wait().unwrap();
    assert_eq!((first.first, again.first), (1, 1));
    assert_eq!(log.head().position, 1);
    assert_eq!(log.read_from(1).count(), 1);
}
