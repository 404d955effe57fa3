//! Where each grant last changed ([`GrantChanges`]), kept undecoded after a
//! snapshot load until something asks.
//!
//! The map is most of a large site's state snapshot (on the 5M-event benchmark
//! log, 36 of its 56 MB: one entry per held grant, each naming its principal and
//! entitlement in full), yet only the sync, the review's remediation checks and
//! the out-of-band report read it; `access`, `history` and `diff` never do. So it
//! is stored as one length-prefixed blob inside the state's encoding, holding
//! the bincode of its entries in key order. Loading a snapshot copies the blob
//! and checks that it decodes (a walk over its bytes that allocates nothing);
//! the map is built on first use. Writing a state whose map was never decoded writes
//! the blob back as it was read (ADR 0025).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use grantledger_eventlog::Position;
use grantledger_model::Grant;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

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
    bytes: Arc<[u8]>,
    len: usize,
}

impl GrantChanges {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The map, decoded on the first call.
    pub fn map(&self) -> &BTreeMap<Grant, Position> {
        self.map.get_or_init(|| match &self.raw {
            // Checked when read (`check_entries`), so it decodes.
            Some(raw) => decode_entries(&raw.bytes)
                .expect("grant changes were checked when their snapshot was read"),
            None => BTreeMap::new(),
        })
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
                a.bytes == b.bytes || self.map() == other.map()
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
            (Some(raw), _) => s.serialize_bytes(&raw.bytes),
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
        struct Blob;
        impl<'de> Visitor<'de> for Blob {
            type Value = Vec<u8>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the encoded grant changes")
            }

            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }

            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        let bytes = d.deserialize_byte_buf(Blob)?;
        let len = check_entries(&bytes).map_err(de::Error::custom)?;
        Ok(Self {
            map: OnceLock::new(),
            raw: Some(Raw {
                bytes: bytes.into(),
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
    let mut r = Walk { bytes, at: 0 };
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
    if r.at != bytes.len() {
        return Err(format!(
            "grant changes: {} bytes after the last entry",
            bytes.len() - r.at
        ));
    }
    usize::try_from(n).map_err(|_| format!("grant changes: {n} entries"))
}

/// A cursor over bincode bytes.
struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Walk<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("cut short at byte {}", self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
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
        let len = usize::try_from(self.u64()?).map_err(|_| "a string too long".to_owned())?;
        let at = self.at;
        std::str::from_utf8(self.take(len)?)
            .map(|_| ())
            .map_err(|_| format!("a string at byte {at} is not UTF-8"))
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
        let blob = bincode::serialize(&serde_bytes_of(&bad)).unwrap();
        assert!(bincode::deserialize::<GrantChanges>(&blob).is_err());
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

    /// Bytes serialized as serde bytes (a length and the bytes).
    fn serde_bytes_of(b: &[u8]) -> Bytes<'_> {
        Bytes(b)
    }

    struct Bytes<'a>(&'a [u8]);

    impl Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
}
