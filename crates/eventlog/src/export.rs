//! Export as JSON lines, and offline verification of an export.
//!
//! Each line is one [`ExportRecord`]; `schemas/export-record.schema.json` is
//! generated from that type and checked in. Because every record's hash covers
//! the record's canonical binary encoding, and that encoding is a pure function of
//! the exported fields, an auditor can check an export without the database:
//! [`verify_export`] re-encodes each line, recomputes its hash and follows the chain,
//! for a whole export or for a tail that continues a head noted earlier. The bytes,
//! field by field, are specified for auditors in `docs/log-format.md`.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, Read, Write};

use chrono::{DateTime, SecondsFormat};
use grantledger_model::{Causation, Event, EventId, StreamId, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::Result;
use crate::log::EventLog;
use crate::record::{Hash, Head, Position, Record};
use crate::verify::{Problem, ProblemKind};

/// One exported record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "grantledger export record",
    description = "One line of `grantledger log export --format jsonl`."
)]
pub struct ExportRecord {
    /// Global position, gapless from 1.
    pub position: u64,
    /// When the log accepted the record, RFC 3339 in UTC with microseconds.
    pub recorded_at: String,
    /// The same instant in microseconds since the Unix epoch (what is hashed).
    pub recorded_at_micros: i64,
    /// The stream (`jira:<site>`, `campaign:<id>`, `request:<id>`).
    pub stream: String,
    /// Version within the stream, from 1.
    pub stream_version: u64,
    /// Deterministic event id, if any.
    pub event_id: Option<String>,
    /// What caused the record.
    pub causation: Option<Causation>,
    /// The event type's name.
    pub event_type: String,
    /// The event type's schema version.
    pub schema_version: u16,
    /// The event, tagged by its type.
    pub event: Event,
    /// SHA-256 of the previous record (hex; zeros for position 1).
    pub prev_hash: String,
    /// SHA-256 of this record's canonical bytes (hex).
    pub hash: String,
}

/// The RFC 3339 form of a record's time, as exported.
fn rfc3339(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
        .unwrap_or_default()
}

impl From<&Record> for ExportRecord {
    fn from(r: &Record) -> Self {
        let recorded_at = rfc3339(r.recorded_at.as_micros());
        ExportRecord {
            position: r.position,
            recorded_at,
            recorded_at_micros: r.recorded_at.as_micros(),
            stream: r.stream.to_string(),
            stream_version: r.stream_version,
            event_id: r.event_id.as_ref().map(|i| i.to_string()),
            causation: r.causation.clone(),
            event_type: r.event.event_type().to_owned(),
            schema_version: r.event.schema_version(),
            event: r.event.clone(),
            prev_hash: r.prev_hash.to_hex(),
            hash: r.hash.to_hex(),
        }
    }
}

/// The JSON Schema of an export line, as checked in under `schemas/`.
pub fn export_schema() -> String {
    grantledger_model::schema_text(&schemars::schema_for!(ExportRecord))
}

impl EventLog {
    /// Writes every record from `from` as one JSON line each; returns how many.
    pub fn export_jsonl(&self, from: Position, out: &mut dyn Write) -> Result<u64> {
        let mut n = 0;
        for record in self.read_from(from) {
            let line = serde_json::to_string(&ExportRecord::from(&record?))
                .expect("export records serialize");
            out.write_all(line.as_bytes())
                .and_then(|_| out.write_all(b"\n"))
                .map_err(crate::error::LogError::io("export output"))?;
            n += 1;
        }
        Ok(n)
    }
}

/// What an offline check of an export expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportExpectations {
    /// The position the export must start at (1 for a whole-log export, whose first
    /// record must link to the zero hash).
    pub from: Position,
    /// A head noted earlier that the export must hold (position and hash), or, when
    /// its position is `from - 1`, the head the export continues from: the export's
    /// first record must link to it.
    pub head: Option<Head>,
}

impl Default for ExportExpectations {
    fn default() -> Self {
        Self {
            from: 1,
            head: None,
        }
    }
}

/// What an export holds, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// The first position (0 for an empty export).
    pub first: Position,
    /// How many records.
    pub records: u64,
    /// The last record's position and hash (for an empty export, the head it was
    /// told to continue from, if any).
    pub head: Head,
}

/// What is wrong with an export, in the export's terms (its lines, its positions,
/// the head noted earlier), never in the terms of a log on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportProblem {
    /// A line is not a record of this format.
    Unreadable {
        /// The line number (from 1).
        line: u64,
        /// What is wrong with it.
        why: String,
    },
    /// The export does not start at the position it should.
    StartsElsewhere {
        /// Where it should start.
        expected: Position,
        /// Where it starts.
        found: Position,
    },
    /// A line's position does not follow the line before's.
    Gap {
        /// The position that should come next.
        expected: Position,
        /// The position found instead.
        found: Position,
    },
    /// A line's fields do not hash to the hash the line claims.
    BadHash {
        /// The line's `hash`.
        claimed: Hash,
        /// The hash of the canonical bytes of the line's fields.
        computed: Hash,
    },
    /// A line's `prev_hash` is not the hash of the line before (or, at position 1,
    /// the zero hash).
    BrokenLink {
        /// What it should link to.
        expected: Hash,
        /// What it links to.
        found: Hash,
    },
    /// A stream's versions are not consecutive within the export (or, in an export
    /// from position 1, a stream does not start at version 1).
    StreamVersion {
        /// The stream.
        stream: String,
        /// The version that should come next.
        expected: u64,
        /// The version found.
        found: u64,
    },
    /// The export's first record does not link to the head noted earlier that it
    /// is said to continue from.
    NotFromHead {
        /// The head noted earlier.
        head: Head,
        /// What the first record links to.
        found: Hash,
    },
    /// The export holds the noted head's position with another hash.
    HeadDiffers {
        /// The head noted earlier.
        head: Head,
        /// The hash the export holds there.
        found: Hash,
    },
    /// The export ends before the noted head's position.
    EndsBefore {
        /// The head noted earlier.
        head: Head,
        /// The export's last position (`from - 1` for an empty export).
        last: Position,
    },
    /// The export starts after the position following the noted head, so it can
    /// neither hold that head nor link to it.
    StartsAfter {
        /// The head noted earlier.
        head: Head,
        /// Where the export starts.
        first: Position,
    },
}

impl fmt::Display for ExportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportProblem::Unreadable { line, why } => {
                write!(f, "line {line} of the export is not a record: {why}")
            }
            ExportProblem::StartsElsewhere { expected: 1, found } => write!(
                f,
                "the export starts at position {found}, not 1: lines were removed from its start (or it is an export of a later part of the log, to be checked from where it starts)"
            ),
            ExportProblem::StartsElsewhere { expected, found } => write!(
                f,
                "the export starts at position {found}, not at {expected} where it was said to start"
            ),
            ExportProblem::Gap { expected, found } => write!(
                f,
                "the export holds position {found} where {expected} should come next (lines removed or reordered)"
            ),
            ExportProblem::BadHash { claimed, computed } => write!(
                f,
                "the record was changed: its fields hash to {computed}, the line claims {claimed}"
            ),
            ExportProblem::BrokenLink { expected, found } if *expected == Hash::ZERO => write!(
                f,
                "the chain is broken: the first record of a log links to the zero hash, this one links to {found}"
            ),
            ExportProblem::BrokenLink { expected, found } => write!(
                f,
                "the chain is broken: the record links to {found}, the line before hashes to {expected} (a record replaced with a fresh hash)"
            ),
            ExportProblem::StreamVersion {
                stream,
                expected,
                found,
            } => write!(
                f,
                "stream {stream} should be at version {expected}, the record says {found}"
            ),
            ExportProblem::NotFromHead { head, found } => write!(
                f,
                "the export does not continue from the head noted earlier ({}:{}): its first record links to {found} (the history up to that head was rewritten, or the export is of another log)",
                head.position, head.hash
            ),
            ExportProblem::HeadDiffers { head, found } => write!(
                f,
                "the head noted earlier ({}:{}) is not in the export: its record at position {} hashes to {found} (the history was rewritten)",
                head.position, head.hash, head.position
            ),
            ExportProblem::EndsBefore { head, last } => write!(
                f,
                "the export ends at position {last}, before the head noted earlier at position {} (its end was cut off, or it was made before that head)",
                head.position
            ),
            ExportProblem::StartsAfter { head, first } => write!(
                f,
                "the export starts at position {first}, after position {}, the one following the head noted earlier: it can neither hold nor continue that head (check an export that starts at position {} or earlier)",
                head.position + 1,
                head.position + 1
            ),
        }
    }
}

/// The longest line [`verify_export`] reads: far above any record's, so that
/// an input that never ends a line is refused with bounded memory.
pub const MAX_EXPORT_LINE: u64 = 16 << 20;

/// Checks an export offline: it starts where expected (at position 1, linked to
/// the zero hash, unless told otherwise), every line parses with no unknown field,
/// its readable time and schema version agree with what is hashed, it re-encodes
/// to the hash it claims, links to the line before and follows it without a gap,
/// each stream's versions follow one another, and it holds the expected head if
/// one is given — or, when the head's position is `from - 1`, its first record
/// links to that head (a tail exported with `from` continuing a head noted
/// earlier). Returns what it holds, or the first problem.
pub fn verify_export(
    input: &mut dyn BufRead,
    expect: ExportExpectations,
) -> std::io::Result<std::result::Result<ExportSummary, Problem>> {
    // Positions start at 1: an export "from 0" is one from the start.
    let from = expect.from.max(1);
    let fail = |position: Position, problem: ExportProblem| {
        Ok(Err(Problem {
            position,
            kind: ProblemKind::Export(problem),
        }))
    };
    // The head the first record must link to: the zero hash for a whole export,
    // the noted head for a tail that continues it.
    let mut start_link = (from == 1).then_some(Hash::ZERO);
    let mut head_seen = false;
    if let Some(h) = expect.head {
        if h.position == 0 && h.hash != Hash::ZERO {
            return fail(
                0,
                ExportProblem::HeadDiffers {
                    head: h,
                    found: Hash::ZERO,
                },
            );
        }
        if h.position + 1 < from {
            return fail(
                from,
                ExportProblem::StartsAfter {
                    head: h,
                    first: from,
                },
            );
        }
        if h.position + 1 == from {
            start_link = Some(h.hash);
            head_seen = true;
        }
    }
    let mut last: Option<Head> = None;
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut summary = ExportSummary {
        first: 0,
        records: 0,
        head: Head::default(),
    };
    let mut raw = Vec::new();
    let mut line_no = 0u64;
    loop {
        raw.clear();
        // Bounded: a line with no end (a file of one huge line, a device) is
        // refused once it is longer than any record, not held in memory.
        let read = (&mut *input)
            .take(MAX_EXPORT_LINE + 1)
            .read_until(b'\n', &mut raw)?;
        if read == 0 {
            break;
        }
        line_no += 1;
        let position_guess = last.map_or(from, |h| h.position + 1);
        let unreadable = |why: String| {
            fail(
                position_guess,
                ExportProblem::Unreadable { line: line_no, why },
            )
        };
        if raw.len() as u64 > MAX_EXPORT_LINE && raw.last() != Some(&b'\n') {
            return unreadable(format!(
                "the line is longer than {} MiB, more than any record: this is not an export",
                MAX_EXPORT_LINE >> 20
            ));
        }
        let Ok(line) = std::str::from_utf8(&raw) else {
            return unreadable("the line is not UTF-8 text: this is not an export".into());
        };
        if line.trim().is_empty() {
            continue;
        }
        let rec: ExportRecord = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(e) => return unreadable(e.to_string()),
        };
        let (Some(stored), Some(prev)) =
            (Hash::from_hex(&rec.hash), Hash::from_hex(&rec.prev_hash))
        else {
            return unreadable("hash and prev_hash must be 64 hex digits".into());
        };
        let stream = match StreamId::parse(&rec.stream) {
            Ok(s) => s,
            Err(e) => return unreadable(e.to_string()),
        };
        if rec.event_type != rec.event.event_type()
            || rec.schema_version != rec.event.schema_version()
        {
            return unreadable(format!(
                "event_type {} / schema_version {} do not match the event ({} version {})",
                rec.event_type,
                rec.schema_version,
                rec.event.event_type(),
                rec.event.schema_version()
            ));
        }
        if rec.recorded_at != rfc3339(rec.recorded_at_micros) {
            return unreadable(format!(
                "recorded_at {} does not match recorded_at_micros {} (which is what is hashed)",
                rec.recorded_at, rec.recorded_at_micros
            ));
        }
        let record = Record {
            position: rec.position,
            recorded_at: Timestamp::from_micros(rec.recorded_at_micros),
            stream,
            stream_version: rec.stream_version,
            event_id: rec.event_id.map(EventId::from),
            causation: rec.causation,
            event: rec.event,
            prev_hash: prev,
            hash: stored,
        };
        match last {
            None if record.position != from => {
                return fail(
                    from,
                    ExportProblem::StartsElsewhere {
                        expected: from,
                        found: record.position,
                    },
                )
            }
            Some(h) if record.position != h.position + 1 => {
                return fail(
                    h.position + 1,
                    ExportProblem::Gap {
                        expected: h.position + 1,
                        found: record.position,
                    },
                )
            }
            _ => {}
        }
        match (last, start_link, expect.head) {
            (Some(h), _, _) if record.prev_hash != h.hash => {
                return fail(
                    record.position,
                    ExportProblem::BrokenLink {
                        expected: h.hash,
                        found: record.prev_hash,
                    },
                )
            }
            (None, Some(link), Some(head))
                if head.position + 1 == from && record.prev_hash != link =>
            {
                return fail(
                    record.position,
                    ExportProblem::NotFromHead {
                        head,
                        found: record.prev_hash,
                    },
                )
            }
            (None, Some(link), _) if record.prev_hash != link => {
                return fail(
                    record.position,
                    ExportProblem::BrokenLink {
                        expected: link,
                        found: record.prev_hash,
                    },
                )
            }
            _ => {}
        }
        let (_, computed) = codec::encode(&record);
        if computed != stored {
            return fail(
                record.position,
                ExportProblem::BadHash {
                    claimed: stored,
                    computed,
                },
            );
        }
        // Versions follow one another within the export; a whole export also
        // starts every stream at version 1 (a tail may meet a stream mid-way).
        let expected_version = match versions.get(record.stream.as_str()) {
            Some(v) => Some(v + 1),
            None => (from == 1).then_some(1),
        };
        if let Some(v) = expected_version.filter(|v| *v != record.stream_version) {
            return fail(
                record.position,
                ExportProblem::StreamVersion {
                    stream: record.stream.to_string(),
                    expected: v,
                    found: record.stream_version,
                },
            );
        }
        match versions.get_mut(record.stream.as_str()) {
            Some(v) => *v = record.stream_version,
            None => {
                versions.insert(record.stream.as_str().to_owned(), record.stream_version);
            }
        }
        if let Some(h) = expect.head.filter(|h| h.position == record.position) {
            if h.hash != stored {
                return fail(
                    record.position,
                    ExportProblem::HeadDiffers {
                        head: h,
                        found: stored,
                    },
                );
            }
            head_seen = true;
        }
        if summary.records == 0 {
            summary.first = record.position;
        }
        summary.records += 1;
        last = Some(Head {
            position: record.position,
            hash: stored,
        });
    }
    if let Some(h) = expect.head.filter(|h| h.position > 0 && !head_seen) {
        let last_position = last.map_or(from - 1, |l| l.position);
        return fail(
            last_position + 1,
            ExportProblem::EndsBefore {
                head: h,
                last: last_position,
            },
        );
    }
    summary.head = match (last, expect.head) {
        (Some(l), _) => l,
        (None, Some(h)) if h.position + 1 == from => h,
        (None, _) => Head::default(),
    };
    Ok(Ok(summary))
}
