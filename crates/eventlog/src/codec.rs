//! The one place that knows the binary format.
//!
//! Every value the log writes goes through here: records, the chunks that hold
//! them, and the small bookkeeping values (head, stream state, index entries).
//! The format is bincode 1.x's (crate pinned to `=1.3.3`) with fixed-width little-
//! endian integers; bincode's maintainers declared 1.3.3 complete, so the wire
//! format is frozen, which is what a permanent log wants. Golden-bytes tests
//! (`tests/golden.rs`) fail on any accidental change.
//!
//! A record is `canonical ++ sha256(canonical)`, where `canonical` is the bincode
//! encoding of [`Envelope`]: a small header (format version, event type name,
//! schema version) first, then position, time, stream, version, id, causation,
//! the event body (the payload struct's own bincode bytes, length-prefixed, so a
//! reader can skip or upcast a body without knowing its type) and the previous
//! record's hash. A record's hash therefore covers everything about it, including
//! its link to the record before. `docs/log-format.md` specifies these bytes for
//! auditors; its tables and test vectors are checked against this module.

use std::borrow::Cow;

use bincode::Options;
use grantledger_model::{Causation, Event, EventId, StreamId, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::record::{Hash, Position, Record};

/// The record format this code writes. Readers reject any other value.
pub const FORMAT_VERSION: u8 = 1;

/// The chunk format this code writes.
const CHUNK_FORMAT: u8 = 1;

/// Largest value the decoder will allocate for (corrupt length prefixes must not
/// make it allocate gigabytes).
const DECODE_LIMIT: u64 = 64 * 1024 * 1024;

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes are not a valid encoding.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// A format version this code does not know.
    #[error("unknown record format version {0} (this build reads version {FORMAT_VERSION})")]
    UnknownFormat(u8),
    /// An event type this code does not know.
    #[error("unknown event type {0:?}")]
    UnknownEventType(String),
    /// A schema version of a known event type that this code cannot read.
    #[error("event type {event_type} has schema version {found}, this build reads up to {known}")]
    UnknownSchemaVersion {
        /// The type.
        event_type: String,
        /// The stored version.
        found: u16,
        /// The newest version this build knows.
        known: u16,
    },
    /// The stored hash does not match the record's bytes.
    #[error("stored hash {stored} does not match the record's bytes (computed {computed})")]
    HashMismatch {
        /// As stored.
        stored: Hash,
        /// As computed.
        computed: Hash,
    },
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(DECODE_LIMIT)
        .reject_trailing_bytes()
}

fn malformed(what: &'static str) -> impl FnOnce(bincode::Error) -> CodecError {
    move |e| CodecError::Malformed {
        what,
        detail: e.to_string(),
    }
}

/// Serialize with bincode. Serializing our own in-memory types cannot fail short of
/// the 64 MiB limit, which a single record never approaches.
fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    options()
        .serialize(value)
        .expect("bincode serialization of an in-memory value")
}

fn serialize_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    options()
        .serialize_into(out, value)
        .expect("bincode serialization of an in-memory value into a Vec")
}

/// Borrowed bytes that encode as bincode's `bytes` (u64 length, then the bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de [u8]>::deserialize(d).map(Bytes)
    }
}

/// The canonical, hashed part of a record.
#[derive(Serialize, Deserialize)]
struct Envelope<'a> {
    format: u8,
    event_type: &'a str,
    schema_version: u16,
    position: u64,
    recorded_at: i64,
    stream: &'a str,
    stream_version: u64,
    #[serde(borrow)]
    event_id: Option<&'a str>,
    causation: Option<Cow<'a, Causation>>,
    #[serde(borrow)]
    body: Bytes<'a>,
    prev_hash: [u8; 32],
}

macro_rules! body_codec {
    ($($name:ident = $version:literal,)*) => {
        fn encode_body_into(event: &Event, out: &mut Vec<u8>) {
            match event {
                $(Event::$name(payload) => serialize_into(out, payload),)*
            }
        }

        fn decode_body(event_type: &str, schema_version: u16, body: &[u8]) -> Result<Event, CodecError> {
            match event_type {
                $(
                    stringify!($name) => {
                        if schema_version != $version {
                            // Older versions are upcast here once a type's shape changes.
                            return Err(CodecError::UnknownSchemaVersion {
                                event_type: event_type.to_owned(),
                                found: schema_version,
                                known: $version,
                            });
                        }
                        let payload = options()
                            .deserialize(body)
                            .map_err(malformed(concat!("body of ", stringify!($name))))?;
                        Ok(Event::$name(payload))
                    }
                )*
                other => Err(CodecError::UnknownEventType(other.to_owned())),
            }
        }
    };
}

grantledger_model::for_each_event_type!(body_codec);

/// SHA-256 of some bytes.
pub fn sha256(bytes: &[u8]) -> Hash {
    Hash(Sha256::digest(bytes).into())
}

/// The fields of a record before it is hashed.
pub(crate) struct Unsealed<'a> {
    pub position: Position,
    pub recorded_at: Timestamp,
    pub stream: &'a StreamId,
    pub stream_version: u64,
    pub event_id: Option<&'a EventId>,
    pub causation: Option<&'a Causation>,
    pub event: &'a Event,
    pub prev_hash: Hash,
}

/// Appends a record's stored bytes to `out` and returns its hash. `scratch` is a
/// reusable buffer for the body.
pub(crate) fn encode_record_into(
    r: &Unsealed<'_>,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Hash {
    scratch.clear();
    encode_body_into(r.event, scratch);
    let envelope = Envelope {
        format: FORMAT_VERSION,
        event_type: r.event.event_type(),
        schema_version: r.event.schema_version(),
        position: r.position,
        recorded_at: r.recorded_at.as_micros(),
        stream: r.stream.as_str(),
        stream_version: r.stream_version,
        event_id: r.event_id.map(EventId::as_str),
        causation: r.causation.map(Cow::Borrowed),
        body: Bytes(scratch),
        prev_hash: r.prev_hash.0,
    };
    let start = out.len();
    serialize_into(out, &envelope);
    let hash = sha256(&out[start..]);
    out.extend_from_slice(&hash.0);
    hash
}

/// Encodes a record: returns its stored bytes and its hash.
pub(crate) fn encode_record(r: &Unsealed<'_>) -> (Vec<u8>, Hash) {
    let mut out = Vec::with_capacity(256);
    let hash = encode_record_into(r, &mut out, &mut Vec::new());
    (out, hash)
}

/// Encodes a decoded record again (its fields, not its stored hash): for golden
/// tests and offline verification of exports.
pub fn encode(record: &Record) -> (Vec<u8>, Hash) {
    encode_record(&Unsealed {
        position: record.position,
        recorded_at: record.recorded_at,
        stream: &record.stream,
        stream_version: record.stream_version,
        event_id: record.event_id.as_ref(),
        causation: record.causation.as_ref(),
        event: &record.event,
        prev_hash: record.prev_hash,
    })
}

/// Decodes a record's stored bytes and checks its hash.
pub fn decode_record(bytes: &[u8]) -> Result<Record, CodecError> {
    if bytes.len() < 33 {
        return Err(CodecError::Malformed {
            what: "record",
            detail: format!("{} bytes is shorter than any record", bytes.len()),
        });
    }
    let (canonical, stored) = bytes.split_at(bytes.len() - 32);
    if canonical[0] != FORMAT_VERSION {
        return Err(CodecError::UnknownFormat(canonical[0]));
    }
    let stored = Hash(stored.try_into().expect("split at 32"));
    let computed = sha256(canonical);
    if computed != stored {
        return Err(CodecError::HashMismatch { stored, computed });
    }
    let env: Envelope<'_> = options()
        .deserialize(canonical)
        .map_err(malformed("record envelope"))?;
    let stream = StreamId::parse(env.stream).map_err(|e| CodecError::Malformed {
        what: "record stream",
        detail: e.to_string(),
    })?;
    let event = decode_body(env.event_type, env.schema_version, env.body.0)?;
    Ok(Record {
        position: env.position,
        recorded_at: Timestamp::from_micros(env.recorded_at),
        stream,
        stream_version: env.stream_version,
        event_id: env.event_id.map(EventId::from),
        causation: env.causation.map(Cow::into_owned),
        event,
        prev_hash: Hash(env.prev_hash),
        hash: stored,
    })
}

/// Builds a chunk: many records stored as one value.
pub(crate) struct ChunkWriter {
    buf: Vec<u8>,
    count: u32,
}

impl ChunkWriter {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(64 * 1024);
        buf.push(CHUNK_FORMAT);
        buf.extend_from_slice(&0u32.to_le_bytes());
        Self { buf, count: 0 }
    }

    #[cfg(test)]
    pub fn push(&mut self, record: &[u8]) {
        let len = u32::try_from(record.len()).expect("a record is far below 4 GiB");
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(record);
        self.count += 1;
    }

    /// Encodes a record straight into the chunk; returns its hash and size.
    pub fn push_record(&mut self, r: &Unsealed<'_>, scratch: &mut Vec<u8>) -> (Hash, usize) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        let hash = encode_record_into(r, &mut self.buf, scratch);
        let len = self.buf.len() - at - 4;
        let len32 = u32::try_from(len).expect("a record is far below 4 GiB");
        self.buf[at..at + 4].copy_from_slice(&len32.to_le_bytes());
        self.count += 1;
        (hash, len)
    }

    pub fn len_bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf[1..5].copy_from_slice(&self.count.to_le_bytes());
        self.buf
    }
}

/// Splits a chunk into its records' stored bytes.
pub(crate) fn split_chunk(chunk: &[u8]) -> Result<Vec<&[u8]>, CodecError> {
    let bad = |detail: String| CodecError::Malformed {
        what: "chunk",
        detail,
    };
    if chunk.len() < 5 {
        return Err(bad(format!(
            "{} bytes is shorter than a chunk header",
            chunk.len()
        )));
    }
    if chunk[0] != CHUNK_FORMAT {
        return Err(bad(format!("unknown chunk format {}", chunk[0])));
    }
    let count = u32::from_le_bytes(chunk[1..5].try_into().expect("4 bytes")) as usize;
    let mut out = Vec::with_capacity(count.min(chunk.len() / 37));
    let mut at = 5usize;
    for i in 0..count {
        let len_end = at
            .checked_add(4)
            .filter(|e| *e <= chunk.len())
            .ok_or_else(|| bad(format!("record {i} of {count}: length prefix past the end")))?;
        let len = u32::from_le_bytes(chunk[at..len_end].try_into().expect("4 bytes")) as usize;
        let end = len_end
            .checked_add(len)
            .filter(|e| *e <= chunk.len())
            .ok_or_else(|| {
                bad(format!(
                    "record {i} of {count}: {len} bytes run past the end"
                ))
            })?;
        out.push(&chunk[len_end..end]);
        at = end;
    }
    if at != chunk.len() {
        return Err(bad(format!("{} trailing bytes", chunk.len() - at)));
    }
    Ok(out)
}

/// The stored head: the last record's position and hash.
pub(crate) fn encode_head(position: Position, hash: Hash) -> Vec<u8> {
    to_bytes(&(FORMAT_VERSION, position, hash.0))
}

pub(crate) fn decode_head(bytes: &[u8]) -> Result<(Position, Hash), CodecError> {
    let (format, position, hash): (u8, u64, [u8; 32]) =
        options().deserialize(bytes).map_err(malformed("head"))?;
    if format != FORMAT_VERSION {
        return Err(CodecError::UnknownFormat(format));
    }
    Ok((position, Hash(hash)))
}

/// A stream's state: its version and the position of its last record.
pub(crate) fn encode_stream_state(version: u64, last: Position) -> Vec<u8> {
    to_bytes(&(version, last))
}

pub(crate) fn decode_stream_state(bytes: &[u8]) -> Result<(u64, Position), CodecError> {
    options()
        .deserialize(bytes)
        .map_err(malformed("stream state"))
}

/// A stream index entry: one append's run of records in one stream.
pub(crate) fn encode_run(first: Position, count: u64) -> Vec<u8> {
    to_bytes(&(first, count))
}

pub(crate) fn decode_run(bytes: &[u8]) -> Result<(Position, u64), CodecError> {
    options()
        .deserialize(bytes)
        .map_err(malformed("stream index entry"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantledger_model::{AccountId, UserVanished};

    fn sample(position: u64) -> (Vec<u8>, Hash) {
        let stream = StreamId::jira_site("acme");
        let event: Event = UserVanished {
            account_id: AccountId::from("abc"),
        }
        .into();
        encode_record(&Unsealed {
            position,
            recorded_at: Timestamp(7),
            stream: &stream,
            stream_version: position,
            event_id: None,
            causation: None,
            event: &event,
            prev_hash: Hash::ZERO,
        })
    }

    #[test]
    fn a_record_round_trips_and_its_hash_covers_every_byte() {
        let (bytes, hash) = sample(3);
        let back = decode_record(&bytes).unwrap();
        assert_eq!(back.position, 3);
        assert_eq!(back.hash, hash);
        assert_eq!(encode(&back), (bytes.clone(), hash));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(
                decode_record(&bad).is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
    }

    #[test]
    fn chunks_split_back_into_their_records_and_reject_damage() {
        let mut w = ChunkWriter::new();
        let (a, _) = sample(1);
        let (b, _) = sample(2);
        w.push(&a);
        w.push(&b);
        assert_eq!(w.count(), 2);
        let chunk = w.finish();
        assert_eq!(split_chunk(&chunk).unwrap(), vec![&a[..], &b[..]]);
        assert!(split_chunk(&chunk[..chunk.len() - 1]).is_err());
        let mut extra = chunk.clone();
        extra.push(0);
        assert!(split_chunk(&extra).is_err());
        let mut huge = chunk.clone();
        huge[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(split_chunk(&huge).is_err());
    }

    #[test]
    fn unknown_types_and_versions_are_named() {
        assert!(matches!(
            decode_body("NoSuchEvent", 1, &[]),
            Err(CodecError::UnknownEventType(t)) if t == "NoSuchEvent"
        ));
        assert!(matches!(
            decode_body("UserVanished", 9, &[]),
            Err(CodecError::UnknownSchemaVersion { found: 9, .. })
        ));
    }
}
