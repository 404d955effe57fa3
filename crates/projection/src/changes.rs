//! Where each grant last changed ([`GrantChanges`]), kept undecoded after a
//! snapshot load until something asks.
//!
//! The map is most of a large site's state snapshot (on the 5M-event benchmark
//! log, 36 of its 56 MB: one entry per held grant, each naming its principal and
//! entitlement in full), yet only the sync, the review's remediation checks and
//! the out-of-band report read it; `access`, `history` and `diff` never do. So it
//! is stored as one length-prefixed blob, the last part of the state's encoding,
//! holding the bincode of its entries in key order. Loading a state snapshot
//! streams the blob through its checksum and a walk that checks it decodes,
//! allocating nothing, and leaves it on disk ([`Tail`]); the map is read and
//! built on first use. Writing a state whose map was never decoded writes the
//! blob back as it was read (ADR 0025).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufReader, Read};
use std::sync::{Arc, OnceLock};

use grantledger_eventlog::Position;
use grantledger_model::Grant;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::index_wire::Bytes;
use crate::snapshot::Tail;

/// Where each grant last changed: a map from grant to position, decoded lazily
/// when the state came from a snapshot.
#[derive(Clone, Default)]
pub struct GrantChanges {
    /// The decoded map, once built.
    map: OnceLock<BTreeMap<Grant, Position>>,
    /// The entries as read from a snapshot (checked at load), while the map is
    /// not built or not changed since.
    raw: Option<Raw>,
}

/// A checked blob and how many entries it holds.
#[derive(Clone)]
struct Raw {
    blob: Blob,
    len: usize,
}

/// Where a checked blob is.
#[derive(Clone)]
enum Blob {
    /// In memory.
    Bytes(Arc<[u8]>),
    /// Still in its snapshot file: the tail of the state's payload, the blob's
    /// length (8 bytes) and then the blob.
    Snapshot(Tail),
}

impl Blob {
    /// `f` of the blob's bytes.
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, String> {
        match self {
            Blob::Bytes(b) => Ok(f(b)),
            Blob::Snapshot(tail) => {
                let read = tail.read()?;
                Ok(f(read.get(8..).unwrap_or_default()))
            }
        }
    }
}

impl GrantChanges {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The map, decoded on the first call.
    ///
    /// # Panics
    /// When the map was left in its snapshot file and that file was written over
    /// in place since it was read and checked (snapshots are only ever written
    /// whole under a new name, so nothing of grantledger's does that), or can no
    /// longer be read: the message names the file.
    pub fn map(&self) -> &BTreeMap<Grant, Position> {
        self.map.get_or_init(|| match &self.raw {
            // Checked when read (`check_entries`), so it decodes.
            Some(raw) => raw
                .blob
                .with_bytes(decode_entries)
                .and_then(|decoded| decoded)
                .unwrap_or_else(|e| panic!("grant changes checked at load: {e}")),
            None => BTreeMap::new(),
        })
    }

    /// Grant changes left in a snapshot file: `tail` holds the blob as
    /// [`check_tail`] checked it, `len` entries.
    pub(crate) fn from_tail(tail: Tail, len: usize) -> Self {
        Self {
            map: OnceLock::new(),
            raw: Some(Raw {
                blob: Blob::Snapshot(tail),
                len,
            }),
        }
    }

    fn map_mut(&mut self) -> &mut BTreeMap<Grant, Position> {
        self.map();
        // Changed from here on: the blob no longer describes it.
        self.raw = None;
        self.map.get_mut().expect("decoded above")
    }

    /// Where `grant` last changed, if it is remembered.
    pub fn get(&self, grant: &Grant) -> Option<&Position> {
        self.map().get(grant)
    }

    /// Remembers that `grant` changed at `position`.
    pub fn insert(&mut self, grant: Grant, position: Position) -> Option<Position> {
        self.map_mut().insert(grant, position)
    }

    /// Forgets `grant`.
    pub fn remove(&mut self, grant: &Grant) -> Option<Position> {
        self.map_mut().remove(grant)
    }

    /// How many grants are remembered (without decoding).
    pub fn len(&self) -> usize {
        match (self.map.get(), &self.raw) {
            (Some(map), _) => map.len(),
            (None, Some(raw)) => raw.len,
            (None, None) => 0,
        }
    }

    /// Whether no grant is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries in grant order.
    pub fn iter(&self) -> impl Iterator<Item = (&Grant, &Position)> + '_ {
        self.map().iter()
    }

    /// Whether the map has been decoded (for tests of the lazy load).
    pub fn is_decoded(&self) -> bool {
        self.map.get().is_some()
    }

    /// The map itself.
    pub fn into_map(mut self) -> BTreeMap<Grant, Position> {
        self.map();
        self.map.take().expect("decoded above")
    }
}

impl From<BTreeMap<Grant, Position>> for GrantChanges {
    fn from(map: BTreeMap<Grant, Position>) -> Self {
        Self {
            map: OnceLock::from(map),
            raw: None,
        }
    }
}

impl FromIterator<(Grant, Position)> for GrantChanges {
    fn from_iter<I: IntoIterator<Item = (Grant, Position)>>(iter: I) -> Self {
        Self::from(iter.into_iter().collect::<BTreeMap<_, _>>())
    }
}

impl PartialEq for GrantChanges {
    fn eq(&self, other: &Self) -> bool {
        match (&self.raw, &other.raw) {
            // Both unchanged since read: the same bytes are the same entries.
            (Some(a), Some(b)) if !self.is_decoded() && !other.is_decoded() => {
                matches!((&a.blob, &b.blob), (Blob::Bytes(x), Blob::Bytes(y)) if x == y)
                    || self.map() == other.map()
            }
            _ => self.map() == other.map(),
        }
    }
}

impl Eq for GrantChanges {}

impl fmt::Debug for GrantChanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.map().iter()).finish()
    }
}

impl Serialize for GrantChanges {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (&self.raw, self.map.get()) {
            (Some(raw), _) => raw
                .blob
                .with_bytes(|bytes| s.serialize_bytes(bytes))
                .map_err(serde::ser::Error::custom)?,
            (None, map) => {
                let empty = BTreeMap::new();
                let bytes = bincode::serialize(map.unwrap_or(&empty))
                    .map_err(|e| serde::ser::Error::custom(e.to_string()))?;
                s.serialize_bytes(&bytes)
            }
        }
    }
}

impl<'de> Deserialize<'de> for GrantChanges {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Bytes(bytes) = Bytes::deserialize(d)?;
        let len = check_entries(&bytes).map_err(de::Error::custom)?;
        Ok(Self {
            map: OnceLock::new(),
            raw: Some(Raw {
                blob: Blob::Bytes(bytes.into()),
                len,
            }),
        })
    }
}

fn decode_entries(bytes: &[u8]) -> Result<BTreeMap<Grant, Position>, String> {
    // A map is encoded as its length and its entries in key order, as a list of
    // pairs is: read as a list, the map is built in bulk from sorted entries.
    let entries: Vec<(Grant, Position)> =
        bincode::deserialize(bytes).map_err(|e| format!("grant changes: {e}"))?;
    Ok(entries.into_iter().collect())
}

/// Checks that `bytes` decode as grant changes and consume every byte, without
/// decoding them: a walk over bincode's layout of `Vec<(Grant, Position)>`
/// (fixed-width little-endian integers; a `u32` variant index before each enum
/// value; a `u64` length before each string, whose bytes must be UTF-8), the
/// layout `docs/log-format.md` describes for the same types in records. Returns
/// the number of entries. A test holds it to what `bincode` writes for every
/// variant, and [`GrantChanges::map`] decodes with `bincode` itself.
fn check_entries(bytes: &[u8]) -> Result<usize, String> {
    walk_entries(&mut Walk::new(bytes, bytes.len() as u64))
}

/// The same check over a state snapshot's tail as a stream of `tail_len`
/// bytes: the blob's length (which must be the rest of the tail), then the
/// blob. Allocates nothing the size of the blob.
pub(crate) fn check_tail(tail: &mut dyn Read, tail_len: u64) -> Result<usize, String> {
    let mut r = BufReader::with_capacity(64 * 1024, tail);
    let mut len = [0u8; 8];
    r.read_exact(&mut len)
        .map_err(|_| "grant changes: no length".to_owned())?;
    let len = u64::from_le_bytes(len);
    if Some(len) != tail_len.checked_sub(8) {
        return Err(format!(
            "grant changes: a blob of {len} bytes in a tail of {tail_len}"
        ));
    }
    walk_entries(&mut Walk::new(r, len))
}

fn walk_entries<R: Read>(r: &mut Walk<R>) -> Result<usize, String> {
    let n = r.u64()?;
    for i in 0..n {
        let entry = |e: String| format!("grant changes, entry {i}: {e}");
        // Principal: User(AccountId) | Group(GroupId).
        match r.u32().map_err(entry)? {
            0 | 1 => r.str().map_err(entry)?,
            v => return Err(entry(format!("principal variant {v}"))),
        }
        // Entitlement: GroupMembership { group } | ProjectRole { project, role }
        // | ProductAccess { product }.
        match r.u32().map_err(entry)? {
            0 | 2 => r.str().map_err(entry)?,
            1 => {
                r.str().map_err(entry)?;
                r.str().map_err(entry)?;
            }
            v => return Err(entry(format!("entitlement variant {v}"))),
        }
        r.u64().map_err(entry)?;
    }
    let extra = r.rest()?;
    if extra != 0 {
        return Err(format!("grant changes: {extra} bytes after the last entry"));
    }
    usize::try_from(n).map_err(|_| format!("grant changes: {n} entries"))
}

/// A cursor over bincode bytes read from `r`, which holds `end` of them.
struct Walk<R> {
    r: R,
    at: u64,
    end: u64,
    scratch: Vec<u8>,
}

impl<R: Read> Walk<R> {
    fn new(r: R, end: u64) -> Self {
        Self {
            r,
            at: 0,
            end,
            scratch: Vec::new(),
        }
    }

    fn take(&mut self, n: u64) -> Result<&[u8], String> {
        let cut = || format!("cut short at byte {}", self.at);
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.end)
            .ok_or_else(cut)?;
        // Bounded by `end`, the bytes there are to read (a slice's length, or a
        // tail's, checked against the file).
        let n = usize::try_from(n).map_err(|_| cut())?;
        self.scratch.resize(n, 0);
        if self.r.read_exact(&mut self.scratch).is_err() {
            return Err(cut());
        }
        self.at = end;
        Ok(&self.scratch)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn str(&mut self) -> Result<(), String> {
        let len = self.u64()?;
        let at = self.at;
        std::str::from_utf8(self.take(len)?)
            .map(|_| ())
            .map_err(|_| format!("a string at byte {at} is not UTF-8"))
    }

    /// How many bytes are left: those the length promised beyond the walk,
    /// then any the reader still has.
    fn rest(&mut self) -> Result<u64, String> {
        let promised = self.end - self.at;
        let more = std::io::copy(&mut self.r, &mut std::io::sink())
            .map_err(|e| format!("grant changes: {e}"))?;
        Ok(promised.max(more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantledger_model::{Entitlement, Principal};

    fn sample() -> BTreeMap<Grant, Position> {
        [
            (Grant::membership("u1".into(), "g1".into()), 3),
            (
                Grant::role(Principal::Group("g1".into()), "p1".into(), "r1".into()),
                5,
            ),
            (
                Grant::role(Principal::User("ü2".into()), "p1".into(), "r2".into()),
                8,
            ),
            (
                Grant {
                    principal: Principal::User("u3".into()),
                    entitlement: Entitlement::ProductAccess {
                        product: "jira-software".into(),
                    },
                },
                13,
            ),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn a_round_trip_stays_undecoded_until_asked_and_writes_the_same_bytes() {
        let changes = GrantChanges::from(sample());
        let bytes = bincode::serialize(&changes).unwrap();
        let read: GrantChanges = bincode::deserialize(&bytes).unwrap();
        assert!(!read.is_decoded());
        assert_eq!(read.len(), 4);
        // Written back undecoded: the same bytes.
        assert_eq!(bincode::serialize(&read).unwrap(), bytes);
        assert_eq!(
            read.get(&Grant::membership("u1".into(), "g1".into())),
            Some(&3)
        );
        assert!(read.is_decoded());
        assert_eq!(read.map(), &sample());
        assert_eq!(read, changes);
    }

    #[test]
    fn a_change_after_loading_is_written() {
        let bytes = bincode::serialize(&GrantChanges::from(sample())).unwrap();
        let mut read: GrantChanges = bincode::deserialize(&bytes).unwrap();
        let g = Grant::membership("u1".into(), "g1".into());
        assert_eq!(read.remove(&g), Some(3));
        read.insert(Grant::membership("u9".into(), "g1".into()), 21);
        let again: GrantChanges =
            bincode::deserialize(&bincode::serialize(&read).unwrap()).unwrap();
        let mut expected = sample();
        expected.remove(&g);
        expected.insert(Grant::membership("u9".into(), "g1".into()), 21);
        assert_eq!(again.into_map(), expected);
    }

    #[test]
    fn the_walk_accepts_what_bincode_writes_and_refuses_damage() {
        // Every principal and entitlement variant: the walk agrees with the
        // model's variant order and field shapes as bincode writes them.
        let inner = bincode::serialize(&sample()).unwrap();
        assert_eq!(check_entries(&inner), Ok(4));
        assert_eq!(
            check_entries(&bincode::serialize(&BTreeMap::<Grant, Position>::new()).unwrap()),
            Ok(0)
        );
        assert!(check_entries(&inner[..inner.len() - 1]).is_err());
        let mut extra = inner.clone();
        extra.push(0);
        assert!(check_entries(&extra)
            .unwrap_err()
            .contains("after the last entry"));
        // First entry: the count (8 bytes), then the principal's variant index.
        let mut bad = inner.clone();
        bad[8] = 7;
        assert!(check_entries(&bad)
            .unwrap_err()
            .contains("principal variant 7"));
        // Then the account id's length (8 bytes) and its text, "u1".
        let mut bad = inner.clone();
        bad[12 + 8] = 0xff;
        assert!(check_entries(&bad).unwrap_err().contains("not UTF-8"));
        // Then the entitlement's variant index.
        let mut bad = inner.clone();
        bad[12 + 8 + 2] = 3;
        assert!(check_entries(&bad)
            .unwrap_err()
            .contains("entitlement variant 3"));
        // A length past the end.
        let mut bad = inner.clone();
        bad[12] = 200;
        assert!(check_entries(&bad).unwrap_err().contains("cut short"));
        // And a damaged blob is refused when the state is read, not at first use.
        let mut bad = inner.clone();
        bad[8] = 7;
        let blob = bincode::serialize(&Bytes(bad.clone())).unwrap();
        assert!(bincode::deserialize::<GrantChanges>(&blob).is_err());
    }

    #[test]
    fn the_streamed_check_of_a_tail_agrees_with_the_walk() {
        // A tail is the blob as serde bytes: its length, then the blob.
        let changes = GrantChanges::from(sample());
        let tail = bincode::serialize(&changes).unwrap();
        let check = |b: &[u8]| check_tail(&mut &b[..], b.len() as u64);
        assert_eq!(check(&tail), Ok(4));
        let empty = bincode::serialize(&GrantChanges::new()).unwrap();
        assert_eq!(check(&empty), Ok(0));
        // A blob length that is not the tail's, cut short, a byte past the
        // blob, damage inside it.
        assert!(check(&tail[..tail.len() - 1])
            .unwrap_err()
            .contains("in a tail of"));
        assert!(check_tail(&mut &tail[..tail.len() - 1], tail.len() as u64)
            .unwrap_err()
            .contains("cut short"));
        let mut extra = tail.clone();
        extra.push(0);
        assert!(check(&extra).unwrap_err().contains("in a tail of"));
        assert!(check_tail(&mut &extra[..], tail.len() as u64)
            .unwrap_err()
            .contains("1 bytes after the last entry"));
        let mut bad = tail.clone();
        bad[8 + 8] = 7;
        assert!(check(&bad).unwrap_err().contains("principal variant 7"));
        // A string's length past the blob's end is refused before anything is
        // allocated for it (the first entry's account id length).
        let mut long = tail.clone();
        long[8 + 8 + 4..8 + 8 + 4 + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(check(&long).unwrap_err().contains("cut short"));
        assert!(check(&tail[..5]).is_err(), "no length");
    }

    #[test]
    fn empty_and_default_agree() {
        let empty = GrantChanges::new();
        assert!(empty.is_empty());
        let read: GrantChanges =
            bincode::deserialize(&bincode::serialize(&empty).unwrap()).unwrap();
        assert!(read.is_empty());
        assert_eq!(read, empty);
    }
}
