//! Sharing the log between processes: the holder file, a consistent private copy
//! for readers, and the files' permissions.

use crate::common;

use common::user;
use grantledger_eventlog::{EventLog, ExpectedVersion, Holder, LogError, HOLDER_FILE};
use grantledger_model::StreamId;

fn log_with(dir: &std::path::Path, n: u64) -> EventLog {
    let log = EventLog::open(dir).unwrap();
    let stream = StreamId::jira_site("acme");
    log.append(&stream, ExpectedVersion::Any, (1..=n).map(user).collect())
        .unwrap();
    log
}

#[test]
fn an_open_log_names_its_holder_and_a_closed_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with(dir.path(), 3);
    let holder = Holder::read_live(dir.path()).expect("a holder file while open");
    assert_eq!(holder.pid, std::process::id());
    assert!(!holder.command.is_empty());
    // A second open (here from the same process) is refused naming the holder.
    match EventLog::open(dir.path()) {
        Err(e @ LogError::Locked { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(&format!("process {}", std::process::id())),
                "{text}"
            );
            assert!(text.contains("in use by another process"), "{text}");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(log);
    assert!(!dir.path().join(HOLDER_FILE).exists(), "removed on close");
}

#[test]
fn a_stale_holder_file_is_replaced_on_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(log_with(dir.path(), 1));
    std::fs::write(
        dir.path().join(HOLDER_FILE),
        "pid 4294967294\ncommand gone\nsince then\n",
    )
    .unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    assert_eq!(
        Holder::read_live(dir.path()).map(|h| h.pid),
        Some(std::process::id())
    );
    drop(log);
}

#[test]
fn a_copy_of_a_held_log_verifies_exports_and_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    let held = log_with(dir.path(), 50);
    let scratch = tempfile::tempdir().unwrap();
    let copy = EventLog::open_copy(dir.path(), scratch.path()).unwrap();
    assert_eq!(copy.copy_of(), Some(dir.path()));
    let report = copy.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problem);
    assert_eq!(report.records, 50);
    assert_eq!(copy.head(), held.head());
    let mut out = Vec::new();
    assert_eq!(copy.export_jsonl(1, &mut out).unwrap(), 50);
    match copy.append(
        &StreamId::jira_site("acme"),
        ExpectedVersion::Any,
        vec![user(99)],
    ) {
        Err(LogError::InvalidBatch(why)) => assert!(why.contains("copy"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The holder keeps appending; the copy stays as it was taken.
    held.append(
        &StreamId::jira_site("acme"),
        ExpectedVersion::Any,
        vec![user(51)],
    )
    .unwrap();
    assert_eq!(copy.head().position, 50);
}

#[test]
fn a_copy_taken_while_appends_run_is_a_consistent_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with(dir.path(), 1);
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for i in 2..200 {
                log.append(
                    &StreamId::jira_site("acme"),
                    ExpectedVersion::Any,
                    vec![user(i)],
                )
                .unwrap();
            }
        })
    };
    let mut copies = 0;
    while !writer.is_finished() {
        let scratch = tempfile::tempdir().unwrap();
        match EventLog::open_copy(dir.path(), scratch.path()) {
            Ok(copy) => {
                let report = copy.verify().unwrap();
                assert!(report.is_ok(), "{:?}", report.problem);
                copies += 1;
            }
            // A log that never stands still for a copy is reported as such.
            Err(LogError::Busy { attempts, .. }) => assert!(attempts > 1),
            Err(other) => panic!("{other:?}"),
        }
    }
    writer.join().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let copy = EventLog::open_copy(dir.path(), scratch.path()).unwrap();
    assert_eq!(copy.verify().unwrap().records, 199, "after {copies} copies");
}

#[cfg(unix)]
#[test]
fn a_new_log_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("data").join("log");
    let log = log_with(&dir, 2);
    for d in [base.path().join("data"), dir.clone()] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_file() {
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{:?} is {mode:o}", entry.file_name());
        }
    }
    drop(log);
}

/// An auditor's read-only files: the copy is the reader's own and writable by it
/// (the storage engine opens its files for writing), whatever the source's mode.
#[cfg(unix)]
#[test]
fn a_copy_of_read_only_files_is_writable_by_its_reader() {
    use std::os::unix::fs::PermissionsExt as _;
    fn modes(dir: &std::path::Path, out: &mut Vec<(String, u32)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                modes(&e.path(), out);
            } else {
                out.push((
                    e.path().display().to_string(),
                    meta.permissions().mode() & 0o777,
                ));
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    drop(log_with(dir.path(), 10));
    let mut source = Vec::new();
    modes(dir.path(), &mut source);
    for (path, _) in &source {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    let scratch = tempfile::tempdir().unwrap();
    let copy = EventLog::open_copy(dir.path(), scratch.path()).unwrap();
    assert!(copy.verify().unwrap().is_ok());
    let mut copied = Vec::new();
    modes(scratch.path(), &mut copied);
    assert!(!copied.is_empty());
    for (path, mode) in copied {
        assert_eq!(mode, 0o600, "{path}");
    }
}
