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

impl From<&Record> for ExportRecord {
    fn from(r: &Record) -> Self {
        let recorded_at = DateTime::from_timestamp_micros(r.recorded_at.as_micros())
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
            .unwrap_or_default();
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

/// Checks an export offline: every line parses, re-encodes to the hash it claims,
/// links to the line before and follows it without a gap. An export that starts at
/// a later position is checked from its first line on. Returns the last record's
/// head, or the first problem.
pub fn verify_export(
    input: &mut dyn BufRead,
) -> std::io::Result<std::result::Result<Head, Problem>> {
    let mut last: Option<Head> = None;
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
        let position_guess = last.map(|h| h.position + 1).unwrap_or(0);
        let bad = |kind: ProblemKind| Problem {
            position: position_guess,
            kind,
        };
        let rec: ExportRecord = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                return Ok(Err(bad(ProblemKind::Undecodable(format!(
                    "line {line_no}: {e}"
                )))))
            }
        };
        let (Some(stored), Some(prev)) =
            (Hash::from_hex(&rec.hash), Hash::from_hex(&rec.prev_hash))
        else {
            return Ok(Err(bad(ProblemKind::Undecodable(format!(
                "line {line_no}: hashes must be 64 hex digits"
            )))));
        };
        let stream = match StreamId::parse(&rec.stream) {
            Ok(s) => s,
            Err(e) => {
                return Ok(Err(bad(ProblemKind::Undecodable(format!(
                    "line {line_no}: {e}"
                )))))
            }
        };
        if rec.event_type != rec.event.event_type() {
            return Ok(Err(bad(ProblemKind::Undecodable(format!(
                "line {line_no}: event_type {} does not match the event {}",
                rec.event_type,
                rec.event.event_type()
            )))));
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
        if let Some(h) = last {
            if record.position != h.position + 1 {
                return Ok(Err(Problem {
                    position: h.position + 1,
                    kind: ProblemKind::Gap {
                        expected: h.position + 1,
                        found: record.position,
                    },
                }));
            }
            if record.prev_hash != h.hash {
                return Ok(Err(Problem {
                    position: record.position,
                    kind: ProblemKind::BrokenLink {
                        expected: h.hash,
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
        last = Some(Head {
            position: record.position,
            hash: stored,
        });
    }
    Ok(Ok(last.unwrap_or_default()))
}
