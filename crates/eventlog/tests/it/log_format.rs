//! `docs/log-format.md` against the code, so the document cannot drift.
//!
//! - The layout section (every struct's fields in order, every enum's variant
//!   indexes, the event types) is generated from the model's serde derives by the
//!   tracer; a new variant, field, enum or event type fails here, naming what to
//!   add. `GRANTLEDGER_BLESS=1 cargo test -p grantledger-eventlog --test it
//!   log_format` rewrites the generated sections.
//! - The layout is checked to *be* the codec's: one value of every variant of
//!   every enum, encoded field by field from its export line following the layout
//!   alone, gives the codec's bytes.
//! - The test vectors are parsed out of the document and checked against the
//!   codec: export line, canonical bytes, hash; they also form an export that
//!   verifies.
//! - `tools/verify_export.py`, the reference verifier in Python, checks a real
//!   export made by the code (and fails on an edited one).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use grantledger_eventlog::{
    codec, verify_export, EventLog, ExpectedVersion, ExportExpectations, ExportRecord, Hash,
    NewEvent, Record,
};
use grantledger_model::*;
use serde_json::Value;

use crate::tracer::{Container, Format, Payload, Tracer};

const BLESS: &str = "GRANTLEDGER_BLESS=1 cargo test -p grantledger-eventlog --test it log_format";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn doc_path() -> PathBuf {
    repo().join("docs/log-format.md")
}

/// The traced layout of everything a record holds: the event types and the
/// causation.
fn traced() -> (Tracer, Vec<Event>) {
    let mut tracer = Tracer::default();
    let events = tracer.trace::<Event>();
    tracer.trace::<Causation>();
    (tracer, events)
}

// ---------------------------------------------------------------- the layout

fn layout_markdown(tracer: &Tracer) -> String {
    let mut out = String::new();
    out.push_str("#### event types\n\n");
    out.push_str("| event_type | schema_version | Event variant index | body: struct |\n");
    out.push_str("|---|---|---|---|\n");
    let Some(Container::Enum(variants)) = tracer.containers.get("Event") else {
        panic!("Event was not traced as an enum");
    };
    for (i, (name, payload)) in variants.iter().enumerate() {
        let version = EVENT_TYPES
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("{name} is a variant of Event but not in EVENT_TYPES"));
        let body = match payload {
            Some(Payload::Newtype(Format::Named(s))) => *s,
            other => panic!("Event::{name} must wrap a struct, found {other:?}"),
        };
        out.push_str(&format!("| {name} | {version} | {i} | {body} |\n"));
    }
    for (name, container) in &tracer.containers {
        if let Container::Struct(fields) = container {
            out.push_str(&format!(
                "\n#### struct {name}\n\n| # | field | type |\n|---|---|---|\n"
            ));
            for (i, (field, format)) in fields.iter().enumerate() {
                out.push_str(&format!("| {} | {field} | {} |\n", i + 1, format.render()));
            }
        }
    }
    for (name, container) in &tracer.containers {
        if let Container::Enum(variants) = container {
            if *name == "Event" {
                continue;
            }
            out.push_str(&format!(
                "\n#### enum {name}\n\n| index | variant | payload |\n|---|---|---|\n"
            ));
            for (i, (variant, payload)) in variants.iter().enumerate() {
                let payload = payload.as_ref().expect("traced").render();
                out.push_str(&format!("| {i} | {variant} | {payload} |\n"));
            }
        }
    }
    out
}

// ------------------------------------------- encoding an export line by the layout

/// One field's bytes and what they are.
type Part = (Vec<u8>, String);

struct Layout<'a>(&'a BTreeMap<&'static str, Container>);

impl Layout<'_> {
    /// Encodes a JSON value of the given format as the document says, one part
    /// per leaf.
    fn encode(&self, v: &Value, f: &Format, label: &str, out: &mut Vec<Part>) {
        let int = |v: &Value| {
            v.as_i64()
                .map(i128::from)
                .or(v.as_u64().map(i128::from))
                .unwrap_or_else(|| panic!("{label}: expected an integer, found {v}"))
        };
        match f {
            Format::Bool => {
                let b = v.as_bool().unwrap_or_else(|| panic!("{label}: {v}"));
                out.push((vec![u8::from(b)], format!("{label}: bool {b}")));
            }
            Format::U8 => out.push((vec![int(v) as u8], format!("{label}: u8 {v}"))),
            Format::U16 => out.push((
                (int(v) as u16).to_le_bytes().to_vec(),
                format!("{label}: u16 {v}"),
            )),
            Format::U32 => out.push((
                (int(v) as u32).to_le_bytes().to_vec(),
                format!("{label}: u32 {v}"),
            )),
            Format::U64 => out.push((
                (int(v) as u64).to_le_bytes().to_vec(),
                format!("{label}: u64 {v}"),
            )),
            Format::I64 => out.push((
                (int(v) as i64).to_le_bytes().to_vec(),
                format!("{label}: i64 {v}"),
            )),
            Format::Str => {
                let s = v.as_str().unwrap_or_else(|| panic!("{label}: {v}"));
                out.push((
                    (s.len() as u64).to_le_bytes().to_vec(),
                    format!("{label}: length {} (u64)", s.len()),
                ));
                if !s.is_empty() {
                    out.push((s.as_bytes().to_vec(), format!("{label}: {s:?}")));
                }
            }
            Format::Option(inner) => {
                if v.is_null() {
                    out.push((vec![0], format!("{label}: absent (0)")));
                } else {
                    out.push((vec![1], format!("{label}: present (1)")));
                    self.encode(v, inner, label, out);
                }
            }
            Format::Seq(inner) => {
                let items = v.as_array().unwrap_or_else(|| panic!("{label}: {v}"));
                out.push((
                    (items.len() as u64).to_le_bytes().to_vec(),
                    format!("{label}: {} elements (u64)", items.len()),
                ));
                for (i, item) in items.iter().enumerate() {
                    self.encode(item, inner, &format!("{label}[{i}]"), out);
                }
            }
            Format::Tuple(fs) => {
                let items = v.as_array().unwrap_or_else(|| panic!("{label}: {v}"));
                for (i, (item, f)) in items.iter().zip(fs).enumerate() {
                    self.encode(item, f, &format!("{label}.{i}"), out);
                }
            }
            Format::Named(name) => match self.0.get(name) {
                Some(Container::Struct(fields)) => self.fields(v, fields, label, out),
                Some(Container::Enum(variants)) => {
                    let (tag, payload) = match v {
                        Value::String(s) => (s.as_str(), &Value::Null),
                        Value::Object(m) if m.len() == 1 => {
                            let (k, p) = m.iter().next().expect("one key");
                            (k.as_str(), p)
                        }
                        _ => panic!("{label}: {v} is not a {name}"),
                    };
                    let index = variants
                        .iter()
                        .position(|(n, _)| *n == tag)
                        .unwrap_or_else(|| panic!("{label}: {tag} is not a variant of {name}"));
                    out.push((
                        (index as u32).to_le_bytes().to_vec(),
                        format!("{label}: {name}::{tag}, variant {index} (u32)"),
                    ));
                    let label = format!("{label}.{tag}");
                    match variants[index].1.as_ref().expect("traced") {
                        Payload::Unit => {}
                        Payload::Newtype(f) => self.encode(payload, f, &label, out),
                        Payload::Struct(fields) => self.fields(payload, fields, &label, out),
                        Payload::Tuple(fs) => {
                            self.encode(payload, &Format::Tuple(fs.clone()), &label, out)
                        }
                    }
                }
                None => panic!("{label}: {name} was not traced"),
            },
            Format::Unknown | Format::Unit | Format::Bytes => {
                panic!("{label}: {f:?} does not occur in an export line")
            }
        }
    }

    fn fields(
        &self,
        v: &Value,
        fields: &[(&'static str, Format)],
        label: &str,
        out: &mut Vec<Part>,
    ) {
        let object = v.as_object().unwrap_or_else(|| panic!("{label}: {v}"));
        for (name, f) in fields {
            let field = object.get(*name).unwrap_or(&Value::Null);
            self.encode(field, f, &format!("{label}.{name}"), out);
        }
    }

    /// The canonical bytes of an export line, field by field.
    fn record(&self, line: &Value) -> Vec<Part> {
        let mut out = Vec::new();
        out.push((vec![codec::FORMAT_VERSION], "format version: u8 1".into()));
        self.encode(&line["event_type"], &Format::Str, "event_type", &mut out);
        self.encode(
            &line["schema_version"],
            &Format::U16,
            "schema_version",
            &mut out,
        );
        self.encode(&line["position"], &Format::U64, "position", &mut out);
        self.encode(
            &line["recorded_at_micros"],
            &Format::I64,
            "recorded_at_micros",
            &mut out,
        );
        self.encode(&line["stream"], &Format::Str, "stream", &mut out);
        self.encode(
            &line["stream_version"],
            &Format::U64,
            "stream_version",
            &mut out,
        );
        let opt_str = Format::Option(Box::new(Format::Str));
        self.encode(&line["event_id"], &opt_str, "event_id", &mut out);
        let causation = Format::Option(Box::new(Format::Named("Causation")));
        self.encode(&line["causation"], &causation, "causation", &mut out);
        let event_type = line["event_type"].as_str().expect("event_type");
        let event_type: &'static str = EVENT_TYPES
            .iter()
            .map(|(n, _)| *n)
            .find(|n| *n == event_type)
            .unwrap_or_else(|| panic!("unknown event type {event_type}"));
        let mut body = Vec::new();
        self.encode(
            &line["event"][event_type],
            &Format::Named(event_type),
            &format!("event.{event_type}"),
            &mut body,
        );
        let len: usize = body.iter().map(|(b, _)| b.len()).sum();
        out.push((
            (len as u64).to_le_bytes().to_vec(),
            format!("body: length {len} (u64)"),
        ));
        out.extend(body);
        let prev = line["prev_hash"].as_str().expect("prev_hash");
        out.push((
            hex::decode(prev).expect("hex"),
            "prev_hash: 32 bytes".into(),
        ));
        out
    }
}

fn concat(parts: &[Part]) -> Vec<u8> {
    parts.iter().flat_map(|(b, _)| b.iter().copied()).collect()
}

/// The canonical bytes the codec writes for a record (its stored bytes without
/// the trailing hash).
fn canonical(record: &Record) -> (Vec<u8>, Hash) {
    let (mut bytes, hash) = codec::encode(record);
    bytes.truncate(bytes.len() - 32);
    (bytes, hash)
}

fn export_line(record: &Record) -> String {
    serde_json::to_string(&ExportRecord::from(record)).expect("serializes")
}

// ------------------------------------------------------------------ the vectors

/// A vector before it is chained: title, stream, event id, causation, event.
type VectorEvent = (
    &'static str,
    StreamId,
    Option<EventId>,
    Option<Causation>,
    Event,
);

fn vector_events() -> Vec<VectorEvent> {
    let run = SyncRunId::from("sync-20261128T000000.000000Z-4f2a");
    let mia = AccountId::from("5b10a2844c20165700ede21g");
    let admins = GroupId::from("276f955c-63d7-42c8-9520-92d01dca0625");
    let site = StreamId::jira_site("acme.atlassian.net");
    vec![
        (
            "SyncStarted, the first record (links to the zero hash)",
            site.clone(),
            None,
            Some(Causation::SyncRun(run.clone())),
            SyncStarted {
                run: run.clone(),
                site: "acme.atlassian.net".into(),
                started_at: Timestamp(1_764_288_000_000_000),
            }
            .into(),
        ),
        (
            "UserObserved, every optional field present (event_id, causation, email)",
            site.clone(),
            Some(EventId::from("evt-user-1")),
            Some(Causation::Operator("ops@example.com".into())),
            UserObserved {
                user: UserRecord {
                    account_id: mia.clone(),
                    account_type: AccountType::Atlassian,
                    display_name: "Mia Krystof".into(),
                    email: Some("mia@example.com".into()),
                    active: true,
                },
            }
            .into(),
        ),
        (
            "UserObserved, every optional field absent",
            site.clone(),
            None,
            None,
            UserObserved {
                user: UserRecord {
                    account_id: AccountId::from("qm:0b7a5c1e-1d2f"),
                    account_type: AccountType::Customer,
                    display_name: "Customer".into(),
                    email: None,
                    active: false,
                },
            }
            .into(),
        ),
        (
            "GrantAdded: a group as a project role actor, applied for a request",
            site.clone(),
            None,
            Some(Causation::Command(CommandId::from("cmd-7"))),
            GrantAdded {
                grant: Grant::role(
                    Principal::Group(admins.clone()),
                    ProjectId::from("10000"),
                    RoleId::from("10002"),
                ),
                cause: GrantCause::AppliedByRequest {
                    request: RequestId::from("req-3"),
                    command: CommandId::from("cmd-7"),
                },
            }
            .into(),
        ),
        (
            "ProductAccessGroupsChanged: a list",
            site,
            None,
            Some(Causation::SyncRun(run)),
            ProductAccessGroupsChanged {
                product: ProductKey::from("jira-software"),
                name: "Jira Software".into(),
                groups: vec![admins.clone(), GroupId::from("g-users")],
            }
            .into(),
        ),
        (
            "CommandIssued, in a stream of its own",
            StreamId::command(&CommandId::from("cmd-8")),
            Some(EventId::from("cmd-8/issued")),
            Some(Causation::Request(RequestId::from("req-3"))),
            CommandIssued {
                command: CommandId::from("cmd-8"),
                site: "acme.atlassian.net".into(),
                action: CommandAction::Remove,
                grant: Grant::membership(mia, admins),
                purpose: CommandPurpose::ExpireRequest {
                    request: RequestId::from("req-3"),
                },
            }
            .into(),
        ),
    ]
}

/// The vectors as a chain from position 1.
fn vector_records() -> Vec<(&'static str, Record)> {
    let mut prev = Hash::ZERO;
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    vector_events()
        .into_iter()
        .enumerate()
        .map(|(i, (title, stream, event_id, causation, event))| {
            let version = versions.entry(stream.to_string()).or_insert(0);
            *version += 1;
            let mut record = Record {
                position: i as u64 + 1,
                recorded_at: Timestamp(1_764_288_000_123_456 + i as i64 * 1_000),
                stream,
                stream_version: *version,
                event_id,
                causation,
                event,
                prev_hash: prev,
                hash: Hash::ZERO,
            };
            record.hash = codec::encode(&record).1;
            prev = record.hash;
            (title, record)
        })
        .collect()
}

fn vectors_markdown(layout: &Layout<'_>) -> String {
    let mut out = String::new();
    for (i, (title, record)) in vector_records().iter().enumerate() {
        let line = export_line(record);
        let parts = layout.record(&serde_json::from_str(&line).expect("json"));
        let (bytes, hash) = canonical(record);
        assert_eq!(
            concat(&parts),
            bytes,
            "vector {title}: layout and codec differ"
        );
        let width = parts.iter().map(|(b, _)| b.len() * 2).max().unwrap_or(0);
        out.push_str(&format!(
            "#### Vector {}: {title}\n\nExport line:\n\n```json\n{line}\n```\n\nCanonical bytes ({} bytes), one field per line (hex, then what it is):\n\n```text\n",
            i + 1,
            bytes.len()
        ));
        for (b, what) in &parts {
            out.push_str(&format!("{:<width$}  {what}\n", hex::encode(b)));
        }
        out.push_str(&format!(
            "```\n\nSHA-256 of the canonical bytes, the record's `hash`: `{}`\n\n",
            hash.to_hex()
        ));
    }
    out
}

/// A vector as the document states it.
struct DocVector {
    title: String,
    line: String,
    bytes: Vec<u8>,
    hash: String,
}

fn parse_vectors(section: &str) -> Vec<DocVector> {
    let mut out = Vec::new();
    for block in section.split("#### Vector ").skip(1) {
        let title = block.lines().next().unwrap_or_default().to_owned();
        let fenced = |tag: &str| -> String {
            let open = format!("```{tag}\n");
            let start = block
                .find(&open)
                .unwrap_or_else(|| panic!("vector {title}: no ```{tag} block"))
                + open.len();
            let end = start + block[start..].find("```").expect("closed block");
            block[start..end].to_owned()
        };
        let line = fenced("json").trim().to_owned();
        let hex_text: String = fenced("text")
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let bytes = hex::decode(&hex_text)
            .unwrap_or_else(|e| panic!("vector {title}: the bytes are not hex: {e}"));
        let hash_line = block
            .lines()
            .find(|l| l.starts_with("SHA-256"))
            .unwrap_or_else(|| panic!("vector {title}: no SHA-256 line"));
        let hash = hash_line
            .split('`')
            .nth(3)
            .unwrap_or_else(|| panic!("vector {title}: the hash is not in backticks"))
            .to_owned();
        out.push(DocVector {
            title,
            line,
            bytes,
            hash,
        });
    }
    out
}

// ------------------------------------------------------------ the document

fn section<'d>(doc: &'d str, name: &str) -> (usize, usize, &'d str) {
    let begin = format!("<!-- BEGIN GENERATED {name} -->\n");
    let end = format!("<!-- END GENERATED {name} -->");
    let start = doc
        .find(&begin)
        .unwrap_or_else(|| panic!("docs/log-format.md lacks the line {begin:?}"))
        + begin.len();
    let stop = start
        + doc[start..]
            .find(&end)
            .unwrap_or_else(|| panic!("docs/log-format.md lacks the line {end:?}"));
    (start, stop, &doc[start..stop])
}

/// `#### heading` blocks by heading.
fn blocks(text: &str) -> BTreeMap<String, String> {
    text.split("#### ")
        .skip(1)
        .map(|b| {
            let heading = b.lines().next().unwrap_or_default().to_owned();
            (heading, b.trim_end().to_owned())
        })
        .collect()
}

/// What differs between the document's section and the code's, block by block.
fn drift(doc: &str, code: &str) -> Vec<String> {
    let (doc, code) = (blocks(doc), blocks(code));
    let mut out = Vec::new();
    for (heading, block) in &code {
        match doc.get(heading) {
            None => out.push(format!(
                "the code has `{heading}`, the document does not: add\n#### {block}"
            )),
            Some(d) if d != block => {
                let lines = |text: &str| text.lines().map(str::to_owned).collect::<Vec<_>>();
                let (doc_lines, code_lines) = (lines(d), lines(block));
                let only = |a: &[String], b: &[String]| {
                    a.iter()
                        .filter(|l| !b.contains(l))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                out.push(format!(
                    "`{heading}` differs: the code has\n{}\nwhere the document has\n{}",
                    only(&code_lines, &doc_lines),
                    only(&doc_lines, &code_lines)
                ))
            }
            Some(_) => {}
        }
    }
    for heading in doc.keys().filter(|h| !code.contains_key(*h)) {
        out.push(format!(
            "the document has `{heading}`, the code does not: remove it"
        ));
    }
    out
}

/// Checks a generated section of the document against the code (rewriting it
/// when blessing); returns the section as the document holds it.
fn check_section(name: &str, fresh: &str) -> String {
    let path = doc_path();
    let mut doc =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if std::env::var_os("GRANTLEDGER_BLESS").is_some() {
        let (start, stop, _) = section(&doc, name);
        doc.replace_range(start..stop, fresh);
        std::fs::write(&path, &doc).unwrap();
    }
    let (_, _, stored) = section(&doc, name);
    if stored != fresh {
        let diffs = drift(stored, fresh);
        panic!(
            "docs/log-format.md's {name} section differs from the code (a new event type, variant, field or enum?):\n\n{}\n\nDescribe the change in the prose if it needs words, and regenerate the section with {BLESS}",
            if diffs.is_empty() {
                "(the blocks are the same; the text around them differs)".to_owned()
            } else {
                diffs.join("\n\n")
            }
        );
    }
    stored.to_owned()
}

#[test]
fn the_documented_layout_is_the_codes() {
    let (tracer, _) = traced();
    check_section("LAYOUT", &layout_markdown(&tracer));
}

#[test]
fn the_layout_encodes_every_variant_of_every_enum_as_the_codec_does() {
    let (tracer, events) = traced();
    let layout = Layout(&tracer.containers);
    let mut causations = Tracer::default().trace::<Causation>().into_iter().cycle();
    let mut prev = Hash::ZERO;
    for (i, event) in events.into_iter().enumerate() {
        let record = Record {
            position: i as u64 + 1,
            recorded_at: Timestamp(-1 + i as i64),
            stream: StreamId::jira_site("s"),
            stream_version: i as u64 + 1,
            event_id: (i % 2 == 0).then(|| EventId::from("e")),
            causation: (i % 3 != 0).then(|| causations.next().expect("cycle")),
            event,
            prev_hash: prev,
            hash: Hash::ZERO,
        };
        let (bytes, hash) = canonical(&record);
        let line: Value = serde_json::from_str(&export_line(&Record {
            hash,
            ..record.clone()
        }))
        .expect("json");
        let parts = layout.record(&line);
        assert_eq!(
            hex::encode(concat(&parts)),
            hex::encode(&bytes),
            "the documented layout encodes {} differently from the codec:\n{line}",
            record.event.event_type()
        );
        prev = hash;
    }
}

#[test]
fn the_documented_vectors_are_the_codecs() {
    let (tracer, _) = traced();
    let layout = Layout(&tracer.containers);
    let stored = check_section("VECTORS", &vectors_markdown(&layout));
    let vectors = parse_vectors(&stored);
    assert!(
        vectors.len() >= 4,
        "the document holds {} vectors",
        vectors.len()
    );
    let mut export = String::new();
    for v in &vectors {
        let rec: ExportRecord = serde_json::from_str(&v.line)
            .unwrap_or_else(|e| panic!("vector {}: the line does not parse: {e}", v.title));
        let record = Record {
            position: rec.position,
            recorded_at: Timestamp(rec.recorded_at_micros),
            stream: StreamId::parse(&rec.stream).expect("stream"),
            stream_version: rec.stream_version,
            event_id: rec.event_id.clone().map(EventId::from),
            causation: rec.causation.clone(),
            event: rec.event.clone(),
            prev_hash: Hash::from_hex(&rec.prev_hash).expect("prev_hash"),
            hash: Hash::from_hex(&rec.hash).expect("hash"),
        };
        let (bytes, hash) = canonical(&record);
        assert_eq!(
            hex::encode(&v.bytes),
            hex::encode(&bytes),
            "vector {}: the document's bytes are not the codec's",
            v.title
        );
        assert_eq!(v.hash, hash.to_hex(), "vector {}: hash", v.title);
        assert_eq!(rec.hash, v.hash, "vector {}: the line's hash", v.title);
        assert_eq!(
            export_line(&record),
            v.line,
            "vector {}: export line",
            v.title
        );
        export.push_str(&v.line);
        export.push('\n');
    }
    // One vector has every optional field present, one has them all absent.
    fn nulls(v: &Value) -> usize {
        match v {
            Value::Null => 1,
            Value::Array(a) => a.iter().map(nulls).sum(),
            Value::Object(m) => m.values().map(nulls).sum(),
            _ => 0,
        }
    }
    let lines: Vec<Value> = vectors
        .iter()
        .map(|v| serde_json::from_str(&v.line).expect("json"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| nulls(l) == 0 && l["event"].to_string().contains("email")),
        "no vector has every optional field present"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["event_id"].is_null() && l["causation"].is_null() && nulls(&l["event"]) > 0),
        "no vector has every optional field absent"
    );
    // Together the vectors are an export from position 1 that verifies.
    let summary = verify_export(&mut export.as_bytes(), ExportExpectations::default())
        .unwrap()
        .unwrap_or_else(|p| panic!("the vectors do not verify as an export: {p}"));
    assert_eq!(summary.records, vectors.len() as u64);
}

// ------------------------------------------------------ the Python verifier

fn python() -> Command {
    let probe = Command::new("python3").arg("--version").output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "python3 is needed to run the reference verifier tools/verify_export.py (standard library only): install Python 3 and run this again ({probe:?})"
    );
    let mut c = Command::new("python3");
    c.arg(repo().join("tools/verify_export.py"));
    c
}

fn run_python(export: &Path, args: &[&str]) -> (bool, String) {
    let o = python()
        .arg(export)
        .args(args)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

#[test]
fn the_python_reference_verifier_checks_a_real_export() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path().join("log")).unwrap();
    // Every variant of every enum, in two streams, with and without ids and causes.
    let (_, events) = traced();
    let causations = Tracer::default().trace::<Causation>();
    let site = StreamId::jira_site("acme");
    let batch = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let mut e = NewEvent::new(event);
            if i % 2 == 0 {
                e = e.with_id(EventId::new(format!("evt-{i}")));
            }
            if i % 3 != 0 {
                e = e.caused_by(causations[i % causations.len()].clone());
            }
            e
        })
        .collect();
    log.append(&site, ExpectedVersion::Any, batch).unwrap();
    for (_, record) in vector_records().into_iter().skip(1) {
        let stream = record.stream.clone();
        let mut e = NewEvent::new(record.event);
        e.causation = record.causation;
        log.append(&stream, ExpectedVersion::Any, vec![e]).unwrap();
    }
    let export = dir.path().join("export.jsonl");
    let mut bytes = Vec::new();
    let n = log.export_jsonl(1, &mut bytes).unwrap();
    std::fs::write(&export, &bytes).unwrap();
    let head = log.head();

    let (ok, out) = run_python(&export, &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "ok: {n} records, positions 1..{}, head {}:{}",
            head.position, head.position, head.hash
        )),
        "{out}"
    );
    let noted = format!("{}:{}", head.position, head.hash);
    let (ok, out) = run_python(&export, &["--expect-head", &noted]);
    assert!(ok, "{out}");

    // A tail continuing a head noted earlier; and not another head.
    let mut tail = Vec::new();
    log.export_jsonl(11, &mut tail).unwrap();
    let tail_file = dir.path().join("tail.jsonl");
    std::fs::write(&tail_file, &tail).unwrap();
    let at10 = format!("10:{}", log.get(10).unwrap().unwrap().hash);
    let (ok, out) = run_python(&tail_file, &["--from", "11", "--expect-head", &at10]);
    assert!(ok, "{out}");
    let (ok, out) = run_python(
        &tail_file,
        &[
            "--from",
            "11",
            "--expect-head",
            &format!("10:{}", "0".repeat(64)),
        ],
    );
    assert!(!ok && out.contains("position 11"), "{out}");
    // As an auditor may run it: the tail on standard input; a hash prefix (which
    // this verifier does not complete) is a usage error, not a broken chain; a
    // missing file is one line, not a traceback.
    let o = python()
        .args(["-", "--from", "11", "--expect-head", &at10])
        .stdin(std::fs::File::open(&tail_file).unwrap())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && text.starts_with("ok: "), "{o:?}");
    let o = python()
        .arg(&tail_file)
        .args(["--from", "11", "--expect-head", &at10[..19]])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(text.contains("full 64-digit hash"), "{text}");
    let binary = dir.path().join("binary.jsonl");
    std::fs::write(&binary, b"\xff\xfe\x00\n").unwrap();
    let (ok, out) = run_python(&binary, &[]);
    assert!(!ok && out.contains("line 1 is not UTF-8"), "{out}");
    let (ok, out) = run_python(&dir.path().join("missing.jsonl"), &[]);
    assert!(!ok && out.starts_with("FAILED: cannot read"), "{out}");
    assert!(!out.contains("Traceback"), "{out}");
    // A tail cut at its end passes alone and fails against the head noted before.
    let cut_file = dir.path().join("cut.jsonl");
    let cut: String = String::from_utf8(tail.clone())
        .unwrap()
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&cut_file, cut).unwrap();
    let (ok, out) = run_python(&cut_file, &["--from", "11"]);
    assert!(ok, "{out}");
    let (ok, out) = run_python(&cut_file, &["--from", "11", "--expect-head", &noted]);
    assert!(
        !ok && out.contains("ends before the head noted earlier"),
        "{out}"
    );

    // Edits are caught: a value inside an event, a dropped line, an extra field.
    let text = String::from_utf8(bytes).unwrap();
    type Edit = Box<dyn Fn(&str) -> String>;
    let edits: [(&str, Edit); 3] = [
        (
            "an edited value",
            Box::new(|t: &str| t.replacen("\"evt-4\"", "\"evt-X\"", 1)),
        ),
        (
            "a dropped line",
            Box::new(|t: &str| {
                t.lines()
                    .enumerate()
                    .filter(|(i, _)| *i != 6)
                    .map(|(_, l)| format!("{l}\n"))
                    .collect()
            }),
        ),
        (
            "an unknown field",
            Box::new(|t: &str| t.replacen("\"site\":\"", "\"approved_by\":\"cfo\",\"site\":\"", 1)),
        ),
    ];
    for (what, edit) in edits {
        let edited = edit(&text);
        assert_ne!(edited, text, "{what}: the edit changed nothing");
        let file = dir.path().join("edited.jsonl");
        std::fs::write(&file, edited).unwrap();
        let (ok, out) = run_python(&file, &[]);
        assert!(!ok && out.contains("FAILED"), "{what}: {out}");
    }
}

#[test]
fn both_verifiers_refuse_a_stream_version_out_of_sequence_under_valid_hashes() {
    // A chain whose hashes are all correct, but whose second record skips a
    // version of its stream: only the version check catches it.
    let mut prev = Hash::ZERO;
    let mut text = String::new();
    for (position, version) in [(1, 1), (2, 3)] {
        let mut record = vector_records().remove(2).1;
        record.position = position;
        record.stream_version = version;
        record.prev_hash = prev;
        record.hash = codec::encode(&record).1;
        prev = record.hash;
        text.push_str(&export_line(&record));
        text.push('\n');
    }
    let problem = verify_export(&mut text.as_bytes(), ExportExpectations::default())
        .unwrap()
        .unwrap_err();
    assert!(
        problem.position == 2 && problem.to_string().contains("should be at version 2"),
        "{problem}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("skip.jsonl");
    std::fs::write(&file, &text).unwrap();
    let (ok, out) = run_python(&file, &[]);
    assert!(
        !ok && out.contains("position 2: stream jira:acme.atlassian.net should be at version 2"),
        "{out}"
    );
}
