//! Export as JSON lines, and offline verification of an export.
//!
//! Each line is one [`ExportRecord`]; `schemas/export-record.schema.json` is
//! generated from that type and checked in. Because every record's hash covers
//! the record's canonical binary encoding, and that encoding is a pure function of
//! the exported fields, an auditor can check an export without the database:
//! [`verify_export`] re-encodes each line, recomputes its hash and follows the chain.

use std::io::{BufRead, Write};

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
    let schema = schemars::schema_for!(ExportRecord);
    let mut out = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    out.push('\n');
    out
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
    /// A head noted earlier that the export must hold (position and hash).
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
    /// The last record's position and hash.
    pub head: Head,
}

/// Checks an export offline: it starts where expected (at position 1, linked to
/// the zero hash, unless told otherwise), every line parses with no unknown field,
/// its readable time and schema version agree with what is hashed, it re-encodes
/// to the hash it claims, links to the line before and follows it without a gap,
/// and it holds the expected head if one is given. Returns what it holds, or the
/// first problem.
pub fn verify_export(
    input: &mut dyn BufRead,
    expect: ExportExpectations,
) -> std::io::Result<std::result::Result<ExportSummary, Problem>> {
    // Positions start at 1: an export "from 0" is one from the start.
    let expect = ExportExpectations {
        from: expect.from.max(1),
        ..expect
    };
    let mut last: Option<Head> = None;
    let mut summary = ExportSummary {
        first: 0,
        records: 0,
        head: Head::default(),
    };
    let mut seen_expected = false;
    let mut line = String::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        line_no += 1;
        if line.trim().is_empty() {
            continue;
        }
        let position_guess = last.map_or(expect.from, |h| h.position + 1);
        let bad = |kind: ProblemKind| Problem {
            position: position_guess,
            kind,
        };
        let undecodable = |why: String| {
            Ok(Err(bad(ProblemKind::Undecodable(format!(
                "line {line_no}: {why}"
            )))))
        };
        let rec: ExportRecord = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => return undecodable(e.to_string()),
        };
        let (Some(stored), Some(prev)) =
            (Hash::from_hex(&rec.hash), Hash::from_hex(&rec.prev_hash))
        else {
            return undecodable("hashes must be 64 hex digits".into());
        };
        let stream = match StreamId::parse(&rec.stream) {
            Ok(s) => s,
            Err(e) => return undecodable(e.to_string()),
        };
        if rec.event_type != rec.event.event_type()
            || rec.schema_version != rec.event.schema_version()
        {
            return undecodable(format!(
                "event_type {} / schema_version {} do not match the event ({} version {})",
                rec.event_type,
                rec.schema_version,
                rec.event.event_type(),
                rec.event.schema_version()
            ));
        }
        if rec.recorded_at != rfc3339(rec.recorded_at_micros) {
            return undecodable(format!(
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
        let (expected_position, expected_link) = match last {
            Some(h) => (h.position + 1, Some(h.hash)),
            None => (expect.from, (expect.from <= 1).then_some(Hash::ZERO)),
        };
        if record.position != expected_position {
            return Ok(Err(Problem {
                position: expected_position,
                kind: ProblemKind::Gap {
                    expected: expected_position,
                    found: record.position,
                },
            }));
        }
        if let Some(link) = expected_link {
            if record.prev_hash != link {
                return Ok(Err(Problem {
                    position: record.position,
                    kind: ProblemKind::BrokenLink {
                        expected: link,
                        found: record.prev_hash,
                    },
                }));
            }
        }
        let (_, computed) = codec::encode(&record);
        if computed != stored {
            return Ok(Err(Problem {
                position: record.position,
                kind: ProblemKind::BadHash { stored, computed },
            }));
        }
        if let Some(h) = expect.head.filter(|h| h.position == record.position) {
            if h.hash != stored {
                return Ok(Err(Problem {
                    position: record.position,
                    kind: ProblemKind::AnchorMismatch {
                        what: "the expected head".into(),
                        anchor: h,
                        found: Some(stored),
                    },
                }));
            }
            seen_expected = true;
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
    if let Some(h) = expect.head.filter(|h| h.position > 0 && !seen_expected) {
        return Ok(Err(Problem {
            position: h.position,
            kind: ProblemKind::AnchorMismatch {
                what: "the expected head".into(),
                anchor: h,
                found: None,
            },
        }));
    }
    if summary.records == 0 && expect.from > 1 {
        return Ok(Err(Problem {
            position: expect.from,
            kind: ProblemKind::Gap {
                expected: expect.from,
                found: 0,
            },
        }));
    }
    summary.head = last.unwrap_or_default();
    Ok(Ok(summary))
}
