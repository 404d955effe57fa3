//! The export's JSON Schema in `schemas/` is generated from the types; this test
//! fails when the checked-in copy is stale, and checks real export lines against it.
//! Regenerate with `GRANTLEDGER_BLESS=1 cargo test -p grantledger-eventlog --test schema`.

mod common;

use std::path::PathBuf;

use grantledger_eventlog::{export_schema, verify_export, EventLog, ExpectedVersion};
use grantledger_model::{Causation, StreamId, SyncRunId};

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/export-record.schema.json")
}

#[test]
fn the_checked_in_export_schema_is_current() {
    let fresh = export_schema();
    let path = schema_path();
    if std::env::var_os("GRANTLEDGER_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == fresh,
        "{} is stale: regenerate it with GRANTLEDGER_BLESS=1 cargo test -p grantledger-eventlog --test schema",
        path.display()
    );
}

#[test]
fn export_lines_match_the_schema_and_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let s = StreamId::jira_site("acme");
    log.append(
        &s,
        ExpectedVersion::Any,
        (0..20).map(common::user).collect(),
    )
    .unwrap();
    log.append(
        &s,
        ExpectedVersion::Any,
        (0..20)
            .map(|n| common::grant(n).caused_by(Causation::SyncRun(SyncRunId::from("r1"))))
            .collect(),
    )
    .unwrap();
    let mut out = Vec::new();
    assert_eq!(log.export_jsonl(1, &mut out).unwrap(), 40);

    let schema: serde_json::Value = serde_json::from_str(&export_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let value: serde_json::Value = serde_json::from_slice(line).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }

    // The export verifies on its own, and its last hash is the log's head.
    let head = verify_export(&mut out.as_slice()).unwrap().unwrap();
    assert_eq!(head, log.head());

    // Editing any exported value is caught offline.
    let text = String::from_utf8(out).unwrap();
    let edited = text.replacen("User 3", "User X", 1);
    assert_ne!(edited, text);
    let problem = verify_export(&mut edited.as_bytes()).unwrap().unwrap_err();
    assert_eq!(problem.position, 4);
    // Dropping a line is a gap.
    let dropped: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 10)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let problem = verify_export(&mut dropped.as_bytes()).unwrap().unwrap_err();
    assert_eq!(problem.position, 11);

    // An export from a later position verifies from its first line on.
    let mut tail = Vec::new();
    log.export_jsonl(31, &mut tail).unwrap();
    assert_eq!(
        verify_export(&mut tail.as_slice()).unwrap().unwrap(),
        log.head()
    );
}
