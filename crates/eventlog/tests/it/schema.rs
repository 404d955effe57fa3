//! The export's JSON Schema in `schemas/` is generated from the types; this test
//! fails when the checked-in copy is stale, and checks real export lines against it.
//! Regenerate with `GRANTLEDGER_BLESS=1 cargo test -p grantledger-eventlog --test schema`.

use crate::common;

use std::path::PathBuf;

use grantledger_eventlog::{
    export_schema, verify_export, EventLog, ExpectedVersion, ExportExpectations, ExportProblem,
    Hash, Head, ProblemKind,
};
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
    let whole = ExportExpectations::default();
    let summary = verify_export(&mut out.as_slice(), whole).unwrap().unwrap();
    assert_eq!(
        (summary.first, summary.records, summary.head),
        (1, 40, log.head())
    );

    // Editing any exported value is caught offline.
    let text = String::from_utf8(out).unwrap();
    let edited = text.replacen("User 3", "User X", 1);
    assert_ne!(edited, text);
    let problem = verify_export(&mut edited.as_bytes(), whole)
        .unwrap()
        .unwrap_err();
    assert_eq!(problem.position, 4);
    // Dropping a line is a gap.
    let dropped: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 10)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let problem = verify_export(&mut dropped.as_bytes(), whole)
        .unwrap()
        .unwrap_err();
    assert_eq!(problem.position, 11);
    // Dropping the first lines is caught too: a whole-log export starts at 1.
    let headless: String = text.lines().skip(5).map(|l| format!("{l}\n")).collect();
    let problem = verify_export(&mut headless.as_bytes(), whole)
        .unwrap()
        .unwrap_err();
    assert_eq!(problem.position, 1);
    // The readable time must agree with the hashed one.
    let retimed = text.replacen("\"recorded_at\":\"20", "\"recorded_at\":\"19", 1);
    assert_ne!(retimed, text);
    assert!(verify_export(&mut retimed.as_bytes(), whole)
        .unwrap()
        .is_err());
    // A field the format does not have is refused, not silently ignored, also
    // inside an event's nested values.
    let nested = text.replacen(
        "\"cause\":{\"ObservedInSync\":{",
        "\"cause\":{\"ObservedInSync\":{\"approved_by\":\"cfo\",",
        1,
    );
    assert_ne!(nested, text);
    assert!(verify_export(&mut nested.as_bytes(), whole)
        .unwrap()
        .is_err());
    // A field the format does not have is refused, not silently ignored.
    let padded = text.replacen(
        "{\"position\":1,",
        "{\"position\":1,\"approved_by\":\"x\",",
        1,
    );
    assert_ne!(padded, text);
    assert!(verify_export(&mut padded.as_bytes(), whole)
        .unwrap()
        .is_err());

    // An export from a later position verifies from there when told so.
    let mut tail = Vec::new();
    log.export_jsonl(31, &mut tail).unwrap();
    let from31 = ExportExpectations {
        from: 31,
        head: None,
    };
    assert_eq!(
        verify_export(&mut tail.as_slice(), from31)
            .unwrap()
            .unwrap()
            .head,
        log.head()
    );
    assert!(verify_export(&mut tail.as_slice(), whole).unwrap().is_err());
    // A tail continues a head noted earlier at `from - 1`, and no other head.
    let at30 = log.get(30).unwrap().unwrap().hash;
    let continuing = ExportExpectations {
        from: 31,
        head: Some(Head {
            position: 30,
            hash: at30,
        }),
    };
    let summary = verify_export(&mut tail.as_slice(), continuing)
        .unwrap()
        .unwrap();
    assert_eq!((summary.first, summary.records), (31, 10));
    for (position, hash) in [(30, Hash([1; 32])), (29, at30)] {
        let problem = verify_export(
            &mut tail.as_slice(),
            ExportExpectations {
                from: 31,
                head: Some(Head { position, hash }),
            },
        )
        .unwrap()
        .unwrap_err();
        assert!(
            matches!(
                (&problem.kind, position),
                (ProblemKind::Export(ExportProblem::NotFromHead { .. }), 30)
                    | (ProblemKind::Export(ExportProblem::StartsAfter { .. }), 29)
            ),
            "{problem}"
        );
    }
    // A cut tail shows only against a head noted before the cut.
    let cut: Vec<u8> = tail
        .split_inclusive(|b| *b == b'\n')
        .take(4)
        .flatten()
        .copied()
        .collect();
    assert!(verify_export(&mut cut.as_slice(), continuing)
        .unwrap()
        .is_ok());
    let noted_head = ExportExpectations {
        from: 31,
        head: Some(log.head()),
    };
    let problem = verify_export(&mut cut.as_slice(), noted_head)
        .unwrap()
        .unwrap_err();
    assert_eq!(problem.position, 35);
    assert!(
        problem
            .to_string()
            .contains("the export ends at position 34"),
        "{problem}"
    );
    // A head noted earlier must be in the export with its hash.
    let noted = ExportExpectations {
        from: 1,
        head: Some(log.head()),
    };
    assert!(verify_export(&mut text.as_bytes(), noted).unwrap().is_ok());
    let forged = ExportExpectations {
        from: 1,
        head: Some(Head {
            position: 40,
            hash: Default::default(),
        }),
    };
    assert_eq!(
        verify_export(&mut text.as_bytes(), forged)
            .unwrap()
            .unwrap_err()
            .position,
        40
    );
}

#[test]
fn an_export_that_never_ends_a_line_or_is_not_text_is_refused_with_bounded_memory() {
    use std::io::Read as _;

    use grantledger_eventlog::MAX_EXPORT_LINE;

    // A line twice the bound, with no line break: refused once the bound is passed.
    let mut endless = std::io::BufReader::new(std::io::repeat(b'{').take(2 * MAX_EXPORT_LINE));
    let problem = verify_export(&mut endless, ExportExpectations::default())
        .unwrap()
        .unwrap_err();
    assert!(problem.to_string().contains("longer than"), "{problem}");
    assert!(matches!(
        problem.kind,
        grantledger_eventlog::ProblemKind::Export(ExportProblem::Unreadable { line: 1, .. })
    ));
    // Bytes that are not UTF-8: a problem at that line, not an I/O error.
    let mut binary: &[u8] = b"\xff\xfe\x00\n";
    let problem = verify_export(&mut binary, ExportExpectations::default())
        .unwrap()
        .unwrap_err();
    assert!(problem.to_string().contains("not UTF-8"), "{problem}");
}
