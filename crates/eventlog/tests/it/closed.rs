//! The closed head: written when the last handle closes in order, removed by
//! every open before anything can append, and never written when the handle
//! could not vouch for its head.

use crate::common;

use common::user;
use grantledger_eventlog::{ClosedHead, EventLog, ExpectedVersion, CLOSED_FILE};
use grantledger_model::StreamId;

fn append(log: &EventLog, stream: &str, n: u64) {
    log.append(
        &StreamId::jira_site(stream),
        ExpectedVersion::Any,
        (1..=n).map(user).collect(),
    )
    .unwrap();
}

#[test]
fn a_log_closed_in_order_names_its_head_and_sites_until_opened_again() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    append(&log, "beta.atlassian.net", 2);
    append(&log, "acme.atlassian.net", 3);
    let head = log.head();
    let last = log.get(head.position).unwrap().unwrap();
    assert!(
        ClosedHead::read(dir.path()).is_none(),
        "none while the log is open"
    );
    drop(log);

    let closed = ClosedHead::read(dir.path()).expect("a closed head after closing");
    assert_eq!(closed.position, 5);
    assert_eq!(closed.hash(), Some(head.hash));
    assert_eq!(closed.recorded_at, Some(last.recorded_at));
    assert_eq!(closed.sites, ["acme.atlassian.net", "beta.atlassian.net"]);

    // Opening removes it before the handle is returned, so an append cannot
    // leave a stale one behind; closing again names the new head.
    let log = EventLog::open(dir.path()).unwrap();
    assert!(!dir.path().join(CLOSED_FILE).exists());
    append(&log, "acme.atlassian.net", 1);
    let head = log.head();
    drop(log);
    let closed = ClosedHead::read(dir.path()).unwrap();
    assert_eq!((closed.position, closed.hash()), (6, Some(head.hash)));
}

#[test]
fn a_handle_that_never_closes_leaves_no_closed_head() {
    let dir = tempfile::tempdir().unwrap();
    drop(EventLog::open(dir.path()).unwrap());
    assert_eq!(ClosedHead::read(dir.path()).unwrap().position, 0);
    let log = EventLog::open(dir.path()).unwrap();
    append(&log, "acme.atlassian.net", 2);
    // As a crash would: the handle is never dropped.
    std::mem::forget(log);
    assert!(
        ClosedHead::read(dir.path()).is_none(),
        "the open removed it and nothing wrote it again"
    );
}

#[test]
fn a_damaged_closed_head_reads_as_none() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    append(&log, "acme.atlassian.net", 1);
    drop(log);
    let path = dir.path().join(CLOSED_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    for bad in [
        &text[..text.len() / 2],
        "",
        "{\"position\":1}",
        &text.replace("\"hash\":\"", "\"hash\":\"zz"),
    ] {
        std::fs::write(&path, bad).unwrap();
        assert!(ClosedHead::read(dir.path()).is_none(), "{bad:?}");
    }
}

#[test]
fn a_copy_leaves_no_closed_head_in_its_scratch_or_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    append(&log, "acme.atlassian.net", 2);
    let copy = EventLog::open_copy(dir.path(), scratch.path()).unwrap();
    assert_eq!(copy.head().position, 2);
    drop(copy);
    assert!(
        !dir.path().join(CLOSED_FILE).exists(),
        "the original is open"
    );
    drop(log);
    assert_eq!(ClosedHead::read(dir.path()).unwrap().position, 2);
}
