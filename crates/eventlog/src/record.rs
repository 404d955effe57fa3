//! What the log stores: records, hashes, and what an append asks for.

use grantledger_model::{Causation, Event, EventId, StreamId, Timestamp};
use std::fmt;

/// A log position: gapless, starting at 1. Position 0 means "before the first record".
pub type Position = u64;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The hash that the first record links to.
    pub const ZERO: Hash = Hash([0; 32]);

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(raw: &str) -> Option<Hash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(raw, &mut out).ok()?;
        Some(Hash(out))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", &self.to_hex()[..16])
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// One record of the log, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its global position.
    pub position: Position,
    /// When the log accepted it.
    pub recorded_at: Timestamp,
    /// Its stream.
    pub stream: StreamId,
    /// Its version within the stream (1 for a stream's first event).
    pub stream_version: u64,
    /// Its deterministic id, if the domain gave one.
    pub event_id: Option<EventId>,
    /// What caused it.
    pub causation: Option<Causation>,
    /// The event.
    pub event: Event,
    /// The hash of the record before it ([`Hash::ZERO`] for position 1).
    pub prev_hash: Hash,
    /// The SHA-256 of this record's canonical bytes (everything above, encoded).
    pub hash: Hash,
}

/// An event to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// The event.
    pub event: Event,
    /// A deterministic id where the domain gives one; appending an id that is already
    /// in the log is a no-op.
    pub id: Option<EventId>,
    /// What caused it.
    pub causation: Option<Causation>,
}

impl NewEvent {
    /// An event without id or causation.
    pub fn new(event: impl Into<Event>) -> Self {
        Self {
            event: event.into(),
            id: None,
            causation: None,
        }
    }

    /// Sets the deterministic id.
    pub fn with_id(mut self, id: impl Into<EventId>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the causation.
    pub fn caused_by(mut self, causation: Causation) -> Self {
        self.causation = Some(causation);
        self
    }
}

/// What an append expects the stream's version to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must exist (any version).
    StreamExists,
    /// The stream's current version must be exactly this (0 = no stream).
    Exact(u64),
}

impl ExpectedVersion {
    pub(crate) fn admits(self, current: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current == 0,
            ExpectedVersion::StreamExists => current > 0,
            ExpectedVersion::Exact(v) => current == v,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::StreamExists => f.write_str("an existing stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// What an append did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Position of the batch's first record.
    pub first: Position,
    /// Position of the batch's last record.
    pub last: Position,
    /// The stream's version after the batch.
    pub stream_version: u64,
    /// True when every event of the batch was already in the log (same ids) and
    /// nothing was written; the positions are those of the existing records.
    pub duplicate: bool,
}

/// The log's last record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Head {
    /// Its position (0 for an empty log).
    pub position: Position,
    /// Its hash ([`Hash::ZERO`] for an empty log).
    pub hash: Hash,
}
