//! `verify`: walk the whole log and name the first bad position.

use std::collections::HashMap;
use std::fmt;

use crate::codec::{self, CodecError};
use crate::error::{LogError, Result};
use crate::keys;
use crate::log::EventLog;
use crate::record::{Hash, Head, Position};

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked (up to the first problem).
    pub records: u64,
    /// Streams seen.
    pub streams: u64,
    /// The head as stored.
    pub stored_head: Head,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    /// True when the chain is intact from position 1 to the stored head.
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// The first thing wrong with the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The first bad position.
    pub position: Position,
    /// What is wrong there.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "position {}: {}", self.position, self.kind)
    }
}

/// Kinds of damage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The stored bytes do not hash to the stored hash (edited record).
    BadHash {
        /// Stored.
        stored: Hash,
        /// Computed from the bytes.
        computed: Hash,
    },
    /// The record's previous-hash is not the hash of the record before it.
    BrokenLink {
        /// The hash of the record before.
        expected: Hash,
        /// The link the record holds.
        found: Hash,
    },
    /// A position is missing or out of order (deleted or reordered records).
    Gap {
        /// The position that should come next.
        expected: Position,
        /// The position found instead.
        found: Position,
    },
    /// A stream's versions are not consecutive.
    StreamVersion {
        /// The stream.
        stream: String,
        /// The version that should come next.
        expected: u64,
        /// The version found.
        found: u64,
    },
    /// The bytes cannot be decoded.
    Undecodable(String),
    /// A head recorded outside the database (the anchor file, or one given by an
    /// auditor) is not in the log: the database was cut short, replaced by an older
    /// copy, or rewritten.
    AnchorMismatch {
        /// Which head: "the anchor file" or "the expected head".
        what: String,
        /// The head as recorded outside.
        anchor: Head,
        /// The hash the log holds at that position (`None`: the log ends before it).
        found: Option<Hash>,
    },
    /// The anchor file is missing or unreadable.
    AnchorUnreadable(String),
    /// An index (stream state, stream run, event id) disagrees with the records.
    IndexMismatch(String),
    /// The stored head does not match the last record (truncated tail, or records
    /// past the head).
    HeadMismatch {
        /// As stored.
        stored: Head,
        /// The last record actually present.
        last: Head,
    },
    /// What is wrong with an export (JSON lines), checked offline: worded for the
    /// export rather than for a log on disk.
    Export(crate::export::ExportProblem),
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::BadHash { stored, computed } => write!(
                f,
                "the record's bytes were changed: they hash to {computed}, the stored hash is {stored}"
            ),
            ProblemKind::BrokenLink { expected, found } => write!(
                f,
                "the chain is broken: the record links to {found}, the record before hashes to {expected}"
            ),
            ProblemKind::Gap { expected, found } => write!(
                f,
                "expected position {expected} next, found {found} (records deleted or reordered)"
            ),
            ProblemKind::StreamVersion {
                stream,
                expected,
                found,
            } => write!(f, "stream {stream} should be at version {expected}, the record says {found}"),
            ProblemKind::Undecodable(why) => write!(f, "undecodable record: {why}"),
            ProblemKind::AnchorMismatch { what, anchor, found: None } => write!(
                f,
                "{what} records position {} but the log ends before it (the database was cut short or replaced by an older copy)",
                anchor.position
            ),
            ProblemKind::AnchorMismatch { what, anchor, found: Some(h) } => write!(
                f,
                "{what} records hash {} at position {}, the log holds {h} there (the history was rewritten)",
                anchor.hash, anchor.position
            ),
            ProblemKind::AnchorUnreadable(why) => write!(f, "the head anchor file: {why}"),
            ProblemKind::IndexMismatch(why) => write!(f, "an index disagrees with the records: {why}"),
            ProblemKind::Export(problem) => problem.fmt(f),
            ProblemKind::HeadMismatch { stored, last } => {
                if stored.position > last.position {
                    write!(
                        f,
                        "the stored head is position {} but the log ends at {} (tail truncated)",
                        stored.position, last.position
                    )
                } else if stored.position < last.position {
                    write!(
                        f,
                        "records run past the stored head {} to {} (records added behind the log's back)",
                        stored.position, last.position
                    )
                } else {
                    write!(
                        f,
                        "the stored head's hash {} differs from the last record's {}",
                        stored.hash, last.hash
                    )
                }
            }
        }
    }
}

/// What the chain walk saw.
#[derive(Default)]
struct Walk {
    last: Head,
    records: u64,
    versions: HashMap<String, u64>,
    lasts: HashMap<String, Position>,
    ids: HashMap<String, Position>,
}

impl EventLog {
    /// Like [`EventLog::verify`], and also checks that the log holds `expected` (a
    /// head an auditor noted earlier): the record at its position must have its
    /// hash. The log may have grown since.
    pub fn verify_against(&self, expected: Head) -> Result<VerifyReport> {
        self.verify_with(Some((expected, "the expected head")))
    }

    /// Walks every record from position 1, decodes each record, recomputes its hash,
    /// checks its link to the record before, its position and its stream version,
    /// compares the last record with the stored head, and finally checks the head
    /// anchor file beside the database (which catches a database file cut short or
    /// replaced by an older copy). Stops at the first problem.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.verify_with(None)
    }

    fn verify_with(&self, expected: Option<(Head, &str)>) -> Result<VerifyReport> {
        let mut report = self.quiesced(|| self.verify_inner())??;
        if report.problem.is_some() {
            return Ok(report);
        }
        let anchor = match crate::anchor::read(self.dir())? {
            None if report.records > 0 => {
                report.problem = Some(Problem {
                    position: report.records,
                    kind: ProblemKind::AnchorUnreadable(format!(
                        "{} is missing beside a log of {} records",
                        crate::anchor::ANCHOR_FILE,
                        report.records
                    )),
                });
                return Ok(report);
            }
            None => None,
            Some(Err(why)) => {
                report.problem = Some(Problem {
                    position: report.records,
                    kind: ProblemKind::AnchorUnreadable(why),
                });
                return Ok(report);
            }
            Some(Ok(head)) => Some(head),
        };
        let checks = anchor
            .map(|h| (h, "the anchor file"))
            .into_iter()
            .chain(expected);
        for (head, what) in checks {
            let found = if head.position == 0 {
                Some(Hash::ZERO)
            } else {
                self.get(head.position)?.map(|r| r.hash)
            };
            if found != Some(head.hash) {
                report.problem = Some(Problem {
                    position: head.position,
                    kind: ProblemKind::AnchorMismatch {
                        what: what.to_owned(),
                        anchor: head,
                        found,
                    },
                });
                break;
            }
        }
        Ok(report)
    }

    /// Walks every record from position 1: decodes it, recomputes its hash, checks
    /// its link to the record before, its position and its stream version, then
    /// compares the last record with the stored head and the indexes with the
    /// records. Stops at the first problem.
    fn verify_inner(&self) -> Result<VerifyReport> {
        let db = self.db();
        let stored_head = match db
            .get(keys::HEAD)
            .map_err(LogError::storage("reading the head"))?
        {
            None => Head::default(),
            Some(bytes) => match codec::decode_head(&bytes) {
                Ok((position, hash)) => Head { position, hash },
                Err(e) => {
                    return Ok(VerifyReport {
                        records: 0,
                        streams: 0,
                        stored_head: Head::default(),
                        problem: Some(Problem {
                            position: 0,
                            kind: ProblemKind::Undecodable(format!("stored head: {e}")),
                        }),
                    })
                }
            },
        };
        let mut walk = Walk::default();
        let mut problem = self.walk(&mut walk)?;
        if problem.is_none() && walk.last != stored_head {
            problem = Some(Problem {
                position: walk.last.position.min(stored_head.position) + 1,
                kind: ProblemKind::HeadMismatch {
                    stored: stored_head,
                    last: walk.last,
                },
            });
        }
        if problem.is_none() {
            problem = self.check_indexes(&walk.versions, &walk.lasts, &walk.ids)?;
        }
        Ok(VerifyReport {
            records: walk.records,
            streams: walk.versions.len() as u64,
            stored_head,
            problem,
        })
    }

    /// The chain walk itself; fills `walk` up to the first problem.
    fn walk(&self, walk: &mut Walk) -> Result<Option<Problem>> {
        let fail = |position, kind| Ok(Some(Problem { position, kind }));
        for item in self.db().range(keys::chunk(0)..keys::chunk_end()) {
            let (key, value) = item.map_err(LogError::storage("reading records"))?;
            let expected = walk.last.position + 1;
            let key_pos = keys::chunk_position(&key);
            if key_pos != expected {
                return fail(
                    expected,
                    ProblemKind::Gap {
                        expected,
                        found: key_pos,
                    },
                );
            }
            let parts = match codec::split_chunk(&value) {
                Ok(parts) => parts,
                Err(e) => return fail(expected, ProblemKind::Undecodable(e.to_string())),
            };
            for bytes in parts {
                let expected = walk.last.position + 1;
                let record = match codec::decode_record(bytes) {
                    Ok(r) => r,
                    Err(CodecError::HashMismatch { stored, computed }) => {
                        return fail(expected, ProblemKind::BadHash { stored, computed })
                    }
                    Err(e) => return fail(expected, ProblemKind::Undecodable(e.to_string())),
                };
                if record.position != expected {
                    let found = record.position;
                    return fail(expected, ProblemKind::Gap { expected, found });
                }
                if record.prev_hash != walk.last.hash {
                    let kind = ProblemKind::BrokenLink {
                        expected: walk.last.hash,
                        found: record.prev_hash,
                    };
                    return fail(expected, kind);
                }
                let name = record.stream.as_str();
                let version = walk.versions.entry(name.to_owned()).or_insert(0);
                if record.stream_version != *version + 1 {
                    let kind = ProblemKind::StreamVersion {
                        stream: name.to_owned(),
                        expected: *version + 1,
                        found: record.stream_version,
                    };
                    return fail(expected, kind);
                }
                *version += 1;
                walk.lasts.insert(name.to_owned(), record.position);
                if let Some(id) = &record.event_id {
                    walk.ids.insert(id.as_str().to_owned(), record.position);
                }
                walk.last = Head {
                    position: record.position,
                    hash: record.hash,
                };
                walk.records += 1;
            }
        }
        Ok(None)
    }

    /// Compares the stored indexes with what the walk saw: every stream's state,
    /// every stream run (its first and last record), every event id.
    fn check_indexes(
        &self,
        versions: &HashMap<String, u64>,
        lasts: &HashMap<String, Position>,
        ids: &HashMap<String, Position>,
    ) -> Result<Option<Problem>> {
        let db = self.db();
        let bad = |position: Position, why: String| {
            Ok(Some(Problem {
                position,
                kind: ProblemKind::IndexMismatch(why),
            }))
        };
        // Stream states.
        let mut seen = 0usize;
        for item in db.scan_prefix(keys::STREAM_PREFIX) {
            let (k, v) = item.map_err(LogError::storage("reading stream states"))?;
            let name = String::from_utf8_lossy(&k[1..]).into_owned();
            let Ok((version, last)) = codec::decode_stream_state(&v) else {
                return bad(0, format!("the state of stream {name} is undecodable"));
            };
            let want = (versions.get(&name).copied(), lasts.get(&name).copied());
            if want != (Some(version), Some(last)) {
                return bad(
                    last,
                    format!("stream {name} is stored at version {version} ending at position {last}, the records say {want:?}"),
                );
            }
            seen += 1;
        }
        if seen != versions.len() {
            return bad(
                0,
                format!(
                    "{} streams have records, {seen} have a stored state",
                    versions.len()
                ),
            );
        }
        // Stream runs: per stream they tile the versions, and each run's ends are
        // records of that stream at those versions.
        let mut next_version: HashMap<String, u64> = HashMap::new();
        for item in db.scan_prefix(keys::RUN_PREFIX) {
            let (k, v) = item.map_err(LogError::storage("reading stream runs"))?;
            let Some((name, first_version)) = keys::parse_run(&k) else {
                return bad(0, "a stream run key is malformed".into());
            };
            let Ok((first, count)) = codec::decode_run(&v) else {
                return bad(0, format!("a run of stream {name} is undecodable"));
            };
            let expected = next_version.entry(name.to_owned()).or_insert(1);
            if first_version != *expected || count == 0 {
                return bad(
                    first,
                    format!("stream {name}'s runs jump from version {expected} to {first_version}"),
                );
            }
            for (position, version) in [
                (first, first_version),
                (first + count - 1, first_version + count - 1),
            ] {
                let record = self.get(position)?;
                if !record
                    .as_ref()
                    .is_some_and(|r| r.stream.as_str() == name && r.stream_version == version)
                {
                    return bad(position, format!("the run index puts version {version} of stream {name} at position {position}, the record there disagrees"));
                }
            }
            *expected = first_version + count;
        }
        for (name, version) in versions {
            if next_version.get(name).copied().unwrap_or(1) != version + 1 {
                return bad(
                    0,
                    format!("the runs of stream {name} do not cover its {version} versions"),
                );
            }
        }
        // Event ids.
        let mut indexed = 0usize;
        for item in db.scan_prefix(keys::ID_PREFIX) {
            let (k, v) = item.map_err(LogError::storage("reading the id index"))?;
            let id = String::from_utf8_lossy(&k[1..]).into_owned();
            let position = <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            if ids.get(&id) != Some(&position) {
                return bad(position, format!("the id index puts event id {id} at position {position}, the records say {:?}", ids.get(&id)));
            }
            indexed += 1;
        }
        if indexed != ids.len() {
            return bad(
                0,
                format!(
                    "{} records carry an event id, {indexed} are indexed",
                    ids.len()
                ),
            );
        }
        Ok(None)
    }
}
