//! The storage layout: every key the log writes, in one sled tree.
//!
//! | key | value |
//! |---|---|
//! | `L` | storage layout version (1 byte) |
//! | `h` | head: last position and hash |
//! | `r` + position (u64 BE) | a chunk of records starting at that position |
//! | `s` + stream name | stream state: version and last position |
//! | `x` + stream name + `0x00` + first version (u64 BE) | one append's run in that stream: first position and count |
//! | `i` + event id | position of the event with that id (u64 BE) |
//!
//! Stream names contain no control characters, so `0x00` cannot occur in them.

use grantledger_model::{EventId, StreamId};

use crate::record::Position;

pub(crate) const LAYOUT: &[u8] = b"L";
pub(crate) const HEAD: &[u8] = b"h";
pub(crate) const STREAM_PREFIX: &[u8] = b"s";
const CHUNK: u8 = b'r';

pub(crate) fn chunk(first: Position) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = CHUNK;
    k[1..].copy_from_slice(&first.to_be_bytes());
    k
}

/// The first key after every chunk key.
pub(crate) fn chunk_end() -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = CHUNK + 1;
    k
}

pub(crate) fn chunk_position(key: &[u8]) -> Position {
    key.get(1..9)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

pub(crate) fn stream(stream: &StreamId) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + stream.as_str().len());
    k.push(b's');
    k.extend_from_slice(stream.as_str().as_bytes());
    k
}

pub(crate) fn run(stream: &StreamId, first_version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(10 + stream.as_str().len());
    k.push(b'x');
    k.extend_from_slice(stream.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&first_version.to_be_bytes());
    k
}

/// The prefix of every run key of every stream.
pub(crate) const RUN_PREFIX: &[u8] = b"x";
/// The prefix of every id key.
pub(crate) const ID_PREFIX: &[u8] = b"i";

/// Splits a run key into its stream name and first version.
pub(crate) fn parse_run(key: &[u8]) -> Option<(&str, u64)> {
    let rest = key.strip_prefix(RUN_PREFIX)?;
    let sep = rest.len().checked_sub(9)?;
    if rest[sep] != 0 {
        return None;
    }
    let name = std::str::from_utf8(&rest[..sep]).ok()?;
    let version = u64::from_be_bytes(rest[sep + 1..].try_into().ok()?);
    Some((name, version))
}

pub(crate) fn id(id: &EventId) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.as_str().len());
    k.push(b'i');
    k.extend_from_slice(id.as_str().as_bytes());
    k
}
