//! Tampering with the stored bytes is caught by `verify`, which names the position.
//!
//! Each test writes a log through the public API, closes it, edits sled's contents
//! directly (as someone with access to the files could), reopens it and verifies.

use crate::common;

use std::path::Path;

use common::{grant, user};
use grantledger_eventlog::{codec, EventLog, ExpectedVersion, ProblemKind, VerifyReport};
use grantledger_model::{AccountId, Event, StreamId, UserVanished};

const RECORDS: u64 = 705;

fn build(dir: &Path) {
    let log = EventLog::open(dir).unwrap();
    let s = StreamId::jira_site("acme");
    log.append(&s, ExpectedVersion::NoStream, (0..300).map(user).collect())
        .unwrap();
    log.append(
        &StreamId::jira_site("other"),
        ExpectedVersion::Any,
        (0..5).map(grant).collect(),
    )
    .unwrap();
    log.append(
        &s,
        ExpectedVersion::Exact(300),
        (300..700).map(grant).collect(),
    )
    .unwrap();
    assert_eq!(log.head().position, RECORDS);
    assert!(log.verify().unwrap().is_ok());
}

fn raw(dir: &Path) -> sled::Db {
    let config = sled::Config::new()
        .path(dir)
        .segment_size(8 * 1024 * 1024)
        .flush_every_ms(None);
    // sled releases its file lock when its last background reference drops, which
    // can trail the handle's drop by a moment.
    for _ in 0..100 {
        if let Ok(db) = config.open() {
            return db;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    config.open().unwrap()
}

/// Chunk keys and values, in order.
fn chunks(db: &sled::Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.scan_prefix(b"r")
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

fn key_position(key: &[u8]) -> u64 {
    u64::from_be_bytes(key[1..9].try_into().unwrap())
}

/// (offset, length) of each record inside a chunk value.
fn record_spans(chunk: &[u8]) -> Vec<(usize, usize)> {
    let count = u32::from_le_bytes(chunk[1..5].try_into().unwrap()) as usize;
    let mut at = 5;
    let mut out = Vec::new();
    for _ in 0..count {
        let len = u32::from_le_bytes(chunk[at..at + 4].try_into().unwrap()) as usize;
        out.push((at + 4, len));
        at += 4 + len;
    }
    out
}

fn rebuild(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![1u8];
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for r in records {
        out.extend_from_slice(&(r.len() as u32).to_le_bytes());
        out.extend_from_slice(r);
    }
    out
}

fn split(chunk: &[u8]) -> Vec<Vec<u8>> {
    record_spans(chunk)
        .into_iter()
        .map(|(o, l)| chunk[o..o + l].to_vec())
        .collect()
}

fn verify(dir: &Path) -> VerifyReport {
    EventLog::open(dir).unwrap().verify().unwrap()
}

fn tampered(edit: impl FnOnce(&sled::Db)) -> VerifyReport {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        let db = raw(dir.path());
        edit(&db);
        db.flush().unwrap();
    }
    verify(dir.path())
}

#[test]
fn changing_any_byte_of_a_record_is_caught_at_that_position() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    // Which bytes to flip: in records at chunk and batch boundaries and the last
    // one, a byte in each region (format, type name, position, time, stream, body,
    // previous hash, own hash). The codec's unit test flips every byte of a record.
    let mut cases: Vec<(Vec<u8>, usize, u64)> = Vec::new();
    {
        let db = raw(dir.path());
        for (key, value) in chunks(&db) {
            let first = key_position(&key);
            for (i, (offset, len)) in record_spans(&value).into_iter().enumerate() {
                let position = first + i as u64;
                if matches!(position, 1 | 300 | 301 | 306 | RECORDS) || position == first {
                    for b in [
                        0,
                        1,
                        9,
                        12,
                        40,
                        len / 2,
                        len - 64,
                        len - 33,
                        len - 32,
                        len - 1,
                    ] {
                        cases.push((key.clone(), offset + b, position));
                    }
                }
            }
        }
    }
    assert!(cases.len() >= 50, "{}", cases.len());
    for (key, offset, position) in cases {
        {
            let db = raw(dir.path());
            let mut v = db.get(&key).unwrap().unwrap().to_vec();
            v[offset] ^= 0x20;
            db.insert(&key, v).unwrap();
            db.flush().unwrap();
        }
        let report = verify(dir.path());
        let problem = report
            .problem
            .unwrap_or_else(|| panic!("flip at {offset} of position {position} not caught"));
        assert_eq!(problem.position, position, "{problem}");
        {
            // Undo, so the next case starts from a valid log.
            let db = raw(dir.path());
            let mut v = db.get(&key).unwrap().unwrap().to_vec();
            v[offset] ^= 0x20;
            db.insert(&key, v).unwrap();
            db.flush().unwrap();
        }
    }
    assert!(verify(dir.path()).is_ok());
}

#[test]
fn a_record_rewritten_with_a_fresh_hash_breaks_the_link_of_the_next() {
    let report = tampered(|db| {
        let (key, value) = chunks(db)[0].clone();
        let mut records = split(&value);
        let mut victim = codec::decode_record(&records[9]).unwrap();
        assert_eq!(victim.position, 10);
        victim.event = Event::UserVanished(UserVanished {
            account_id: AccountId::from("someone-else"),
        });
        records[9] = codec::encode(&victim).0;
        db.insert(key, rebuild(&records)).unwrap();
    });
    let p = report.problem.unwrap();
    assert_eq!(p.position, 11);
    assert!(matches!(p.kind, ProblemKind::BrokenLink { .. }), "{p}");
}

#[test]
fn deleting_a_record_is_a_gap_at_its_position() {
    let report = tampered(|db| {
        let (key, value) = chunks(db)[1].clone();
        let first = key_position(&key);
        let mut records = split(&value);
        records.remove(3);
        db.insert(key, rebuild(&records)).unwrap();
        assert!(first > 1);
    });
    let p = report.problem.unwrap();
    assert!(matches!(p.kind, ProblemKind::Gap { .. }), "{p}");
    let dir_first = {
        // chunk 1 starts right after chunk 0's records
        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        let db = raw(dir.path());
        key_position(&chunks(&db)[1].0)
    };
    assert_eq!(p.position, dir_first + 3);
}

#[test]
fn deleting_a_whole_chunk_is_a_gap() {
    let report = tampered(|db| {
        let (key, _) = chunks(db)[1].clone();
        db.remove(key).unwrap();
    });
    let p = report.problem.unwrap();
    assert!(matches!(p.kind, ProblemKind::Gap { .. }), "{p}");
}

#[test]
fn reordering_two_records_is_caught_at_the_first_of_them() {
    let report = tampered(|db| {
        let (key, value) = chunks(db)[0].clone();
        let mut records = split(&value);
        records.swap(4, 7);
        db.insert(key, rebuild(&records)).unwrap();
    });
    let p = report.problem.unwrap();
    assert_eq!(p.position, 5);
    assert!(
        matches!(
            p.kind,
            ProblemKind::Gap {
                expected: 5,
                found: 8
            }
        ),
        "{p}"
    );
}

#[test]
fn swapping_two_chunks_is_caught() {
    let report = tampered(|db| {
        let all = chunks(db);
        db.insert(&all[1].0, all[2].1.clone()).unwrap();
        db.insert(&all[2].0, all[1].1.clone()).unwrap();
    });
    assert!(report.problem.is_some());
}

#[test]
fn truncating_the_tail_is_caught_by_the_stored_head() {
    // Drop the last chunk entirely.
    let report = tampered(|db| {
        let (key, _) = chunks(db).last().unwrap().clone();
        db.remove(key).unwrap();
    });
    let p = report.problem.unwrap();
    assert!(matches!(p.kind, ProblemKind::HeadMismatch { .. }), "{p}");
    assert!(p.position <= RECORDS);
    // Drop only the last record.
    let report = tampered(|db| {
        let (key, value) = chunks(db).last().unwrap().clone();
        let mut records = split(&value);
        records.pop();
        db.insert(key, rebuild(&records)).unwrap();
    });
    let p = report.problem.unwrap();
    assert_eq!(p.position, RECORDS);
    assert!(p.to_string().contains("truncated"), "{p}");
}

#[test]
fn a_damaged_head_is_reported() {
    let report = tampered(|db| {
        let mut head = db.get(b"h").unwrap().unwrap().to_vec();
        let last = head.len() - 1;
        head[last] ^= 1;
        db.insert(b"h", head).unwrap();
    });
    let p = report.problem.unwrap();
    assert!(matches!(p.kind, ProblemKind::HeadMismatch { .. }), "{p}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_database_replaced_by_an_older_copy_is_caught_by_the_anchor_and_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let s = StreamId::jira_site("acme");
    {
        let log = EventLog::open(dir.path()).unwrap();
        log.append(&s, ExpectedVersion::Any, (0..50).map(user).collect())
            .unwrap();
    }
    copy_dir(dir.path(), backup.path());
    {
        let log = EventLog::open(dir.path()).unwrap();
        log.append(&s, ExpectedVersion::Any, (50..80).map(user).collect())
            .unwrap();
    }
    // Put the old database back, keeping the newer anchor.
    for name in ["db", "conf"] {
        std::fs::copy(backup.path().join(name), dir.path().join(name)).unwrap();
    }
    let log = EventLog::open(dir.path()).unwrap();
    assert_eq!(log.head().position, 50);
    let p = log.verify().unwrap().problem.unwrap();
    assert_eq!(p.position, 80);
    assert!(
        matches!(p.kind, ProblemKind::AnchorMismatch { found: None, .. }),
        "{p}"
    );
    assert!(p.to_string().contains("cut short or replaced"), "{p}");
    match log.append(&s, ExpectedVersion::Any, vec![user(99)]) {
        Err(grantledger_eventlog::LogError::RolledBack {
            anchor: 80,
            head: 50,
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_database_file_cut_to_nothing_is_not_mistaken_for_a_new_log() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    std::fs::write(dir.path().join("db"), b"").unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let p = log.verify().unwrap().problem.unwrap();
    assert!(matches!(p.kind, ProblemKind::AnchorMismatch { .. }), "{p}");
    assert_eq!(p.position, RECORDS);
}

#[test]
fn a_missing_anchor_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    std::fs::remove_file(dir.path().join(grantledger_eventlog::ANCHOR_FILE)).unwrap();
    let p = verify(dir.path()).problem.unwrap();
    assert!(matches!(p.kind, ProblemKind::AnchorUnreadable(_)), "{p}");
}

#[test]
fn an_auditors_head_is_checked_against_the_log() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let log = EventLog::open(dir.path()).unwrap();
    let noted = log.head();
    log.append(
        &StreamId::jira_site("acme"),
        ExpectedVersion::Any,
        vec![user(1_000)],
    )
    .unwrap();
    assert!(log.verify_against(noted).unwrap().is_ok());
    let mut forged = noted;
    forged.hash.0[0] ^= 1;
    let p = log.verify_against(forged).unwrap().problem.unwrap();
    assert_eq!(p.position, noted.position);
    assert!(p.to_string().contains("rewritten"), "{p}");
    let ahead = grantledger_eventlog::Head {
        position: noted.position + 10,
        ..noted
    };
    assert!(!log.verify_against(ahead).unwrap().is_ok());
}

#[test]
fn edited_indexes_are_caught() {
    // A deleted id entry: a retried command would no longer be deduplicated.
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(dir.path()).unwrap();
        let s = StreamId::request(&"r1".into());
        log.append(
            &s,
            ExpectedVersion::Any,
            vec![user(1).with_id("cmd-1-issued")],
        )
        .unwrap();
        log.append(
            &s,
            ExpectedVersion::Any,
            vec![user(2).with_id("cmd-1-done")],
        )
        .unwrap();
        assert!(log.verify().unwrap().is_ok());
    }
    {
        let db = raw(dir.path());
        db.remove(b"icmd-1-done").unwrap().unwrap();
        db.flush().unwrap();
    }
    let p = verify(dir.path()).problem.unwrap();
    assert!(matches!(p.kind, ProblemKind::IndexMismatch(_)), "{p}");

    // A lowered stream version.
    let report = tampered(|db| {
        let key = b"sjira:acme".to_vec();
        let mut v = db.get(&key).unwrap().unwrap().to_vec();
        v[0] = v[0].wrapping_sub(1);
        db.insert(key, v).unwrap();
    });
    let p = report.problem.unwrap();
    assert!(matches!(p.kind, ProblemKind::IndexMismatch(_)), "{p}");

    // A removed stream run.
    let report = tampered(|db| {
        let (k, _) = db.scan_prefix(b"xjira:other").next().unwrap().unwrap();
        db.remove(k).unwrap();
    });
    let p = report.problem.unwrap();
    assert!(p.to_string().contains("runs"), "{p}");
}

#[test]
fn a_log_whose_anchor_is_gone_reads_but_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    std::fs::remove_file(dir.path().join(grantledger_eventlog::ANCHOR_FILE)).unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    assert_eq!(log.read_from(1).count() as u64, RECORDS);
    match log.append(
        &StreamId::jira_site("acme"),
        ExpectedVersion::Any,
        vec![user(1)],
    ) {
        Err(e @ grantledger_eventlog::LogError::AnchorMismatch { .. }) => {
            assert!(e.to_string().contains("restore"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // The evidence is left as found: no anchor was recreated.
    assert!(!dir.path().join(grantledger_eventlog::ANCHOR_FILE).exists());
}
