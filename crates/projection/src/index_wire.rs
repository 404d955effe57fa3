//! The history index as stored in its snapshot (ADR 0021). In memory the index
//! keeps positions as `u64`s, rows and steps as fixed-size structs and each
//! grant's own list keyed by the whole grant; stored that way, a 5M-event log's
//! index took ~575 MiB. Stored here: every list of positions as differences
//! from the previous one in LEB128 varints (a byte or two each), rows and steps
//! as varints too, each grant's list keyed by its principal's and entitlement's
//! numbers in the index's own tables, and the tables as plain lists (their
//! lookup maps are rebuilt on load). The in-memory index is unchanged.

use std::collections::HashMap;
use std::hash::Hash;

use grantledger_eventlog::Position;
use grantledger_model::*;
use serde::de::{Error as _, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::index::{HistoryIndex, Interned, Row, Step, StepKind, Subject, What, NONE};

/// Bytes stored as one byte string (not one element at a time).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Bytes(pub(crate) Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads varints from a byte string.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn done(&self) -> bool {
        self.0.is_empty()
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first().ok_or("a varint is cut short")?;
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a varint is longer than 64 bits".into())
    }

    fn u32(&mut self) -> Result<u32, String> {
        u32::try_from(self.u64()?).map_err(|_| "a number is out of range".to_owned())
    }

    fn id(&mut self, len: usize) -> Result<u32, String> {
        let id = self.u32()?;
        if (id as usize) < len {
            Ok(id)
        } else {
            Err(format!("a number {id} past its table of {len}"))
        }
    }
}

fn positions(list: &[Position]) -> Bytes {
    let mut out = Vec::with_capacity(list.len() + 4);
    let mut last = 0;
    for &p in list {
        put(&mut out, p.wrapping_sub(last));
        last = p;
    }
    Bytes(out)
}

fn read_positions(bytes: &Bytes) -> Result<Vec<Position>, String> {
    let mut r = Reader(&bytes.0);
    let mut out = Vec::new();
    let mut last: u64 = 0;
    while !r.done() {
        last = last.wrapping_add(r.u64()?);
        out.push(last);
    }
    Ok(out)
}

/// [`HistoryIndex`]'s stored form.
#[derive(Serialize, Deserialize)]
pub(crate) struct IndexWire {
    stream: Option<StreamId>,
    position: Position,
    principals: Vec<Principal>,
    entitlements: Vec<Entitlement>,
    users: Vec<AccountId>,
    causes: Vec<GrantCause>,
    causations: Vec<Causation>,
    times: Vec<Timestamp>,
    /// Every subject but the grants, with its positions.
    subjects: Vec<(Subject, Bytes)>,
    /// Each grant as (principal, entitlement) numbers, with its positions.
    grants: Vec<(u32, u32, Bytes)>,
    product_groups: Vec<(ProductKey, Vec<GroupId>)>,
    vanished: Vec<(Subject, Vec<Position>)>,
    /// Each timeline: per step the position's difference, the principal and the kind.
    timelines: Vec<(Subject, Bytes)>,
    /// Per row: the position's and the time's differences, the causation (0 for
    /// none, else its number + 1) and what (a tag, then its numbers).
    rows: Bytes,
}

fn values<T: Hash + Eq + Clone>(t: &Interned<T>) -> Vec<T> {
    t.values.clone()
}

fn table<T: Hash + Eq + Clone>(values: Vec<T>) -> Interned<T> {
    let ids = values
        .iter()
        .enumerate()
        .map(|(i, v)| (v.clone(), i as u32))
        .collect();
    Interned { values, ids }
}

const IN_LOG: u64 = 0;
const ADDED: u64 = 1;
const REMOVED: u64 = 2;
const DEACTIVATED: u64 = 3;
const REACTIVATED: u64 = 4;

impl From<&HistoryIndex> for IndexWire {
    fn from(ix: &HistoryIndex) -> Self {
        // Grant subjects are numbered in the index's own tables; a grant indexed
        // without a row (an `index_event` call from outside) is added to copies.
        let mut principals = ix.principals.clone();
        let mut entitlements = ix.entitlements.clone();
        let mut subjects = Vec::new();
        let mut grants = Vec::new();
        for (subject, list) in &ix.by_subject {
            match subject {
                Subject::Grant(g) => grants.push((
                    principals.id(&g.principal),
                    entitlements.id(&g.entitlement),
                    positions(list),
                )),
                other => subjects.push((other.clone(), positions(list))),
            }
        }
        let timelines = ix
            .timelines
            .iter()
            .map(|(subject, steps)| {
                let mut out = Vec::with_capacity(steps.len() * 4);
                let mut last = 0;
                for s in steps {
                    put(&mut out, s.position.wrapping_sub(last));
                    last = s.position;
                    put(&mut out, u64::from(s.principal));
                    out.push(match s.kind {
                        StepKind::Added => 0,
                        StepKind::Removed => 1,
                        StepKind::Cleared => 2,
                    });
                }
                (subject.clone(), Bytes(out))
            })
            .collect();
        let mut rows = Vec::with_capacity(ix.rows.len() * 8);
        let (mut last_position, mut last_time) = (0u64, 0u32);
        for row in &ix.rows {
            put(&mut rows, row.position.wrapping_sub(last_position));
            last_position = row.position;
            put(&mut rows, u64::from(row.time.wrapping_sub(last_time)));
            last_time = row.time;
            put(
                &mut rows,
                if row.causation == NONE {
                    0
                } else {
                    u64::from(row.causation) + 1
                },
            );
            match row.what {
                What::InLog => put(&mut rows, IN_LOG),
                What::Grant {
                    added,
                    principal,
                    entitlement,
                    cause,
                } => {
                    put(&mut rows, if added { ADDED } else { REMOVED });
                    put(&mut rows, u64::from(principal));
                    put(&mut rows, u64::from(entitlement));
                    put(&mut rows, u64::from(cause));
                }
                What::Deactivated { user } => {
                    put(&mut rows, DEACTIVATED);
                    put(&mut rows, u64::from(user));
                }
                What::Reactivated { user } => {
                    put(&mut rows, REACTIVATED);
                    put(&mut rows, u64::from(user));
                }
            }
        }
        IndexWire {
            stream: ix.stream.clone(),
            position: ix.position,
            principals: principals.values,
            entitlements: entitlements.values,
            users: values(&ix.users),
            causes: values(&ix.causes),
            causations: values(&ix.causations),
            times: ix.times.clone(),
            subjects,
            grants,
            product_groups: ix
                .product_groups
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            vanished: ix
                .vanished
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            timelines,
            rows: Bytes(rows),
        }
    }
}

impl TryFrom<IndexWire> for HistoryIndex {
    type Error = String;

    fn try_from(w: IndexWire) -> Result<Self, String> {
        let mut by_subject: HashMap<Subject, Vec<Position>> =
            HashMap::with_capacity(w.subjects.len() + w.grants.len());
        for (subject, list) in &w.subjects {
            by_subject.insert(subject.clone(), read_positions(list)?);
        }
        for (p, e, list) in &w.grants {
            let principal = w
                .principals
                .get(*p as usize)
                .ok_or("a grant's principal past its table")?;
            let entitlement = w
                .entitlements
                .get(*e as usize)
                .ok_or("a grant's entitlement past its table")?;
            let grant = Grant {
                principal: principal.clone(),
                entitlement: entitlement.clone(),
            };
            by_subject.insert(Subject::Grant(grant), read_positions(list)?);
        }
        let mut timelines = HashMap::with_capacity(w.timelines.len());
        for (subject, bytes) in w.timelines {
            let mut r = Reader(&bytes.0);
            let mut steps = Vec::new();
            let mut last: u64 = 0;
            while !r.done() {
                last = last.wrapping_add(r.u64()?);
                let principal = r.u32()?;
                let kind = match r.u64()? {
                    0 => StepKind::Added,
                    1 => StepKind::Removed,
                    2 => StepKind::Cleared,
                    k => return Err(format!("a step of kind {k}")),
                };
                if kind != StepKind::Cleared && principal as usize >= w.principals.len() {
                    return Err("a step's principal past its table".into());
                }
                steps.push(Step {
                    position: last,
                    principal,
                    kind,
                });
            }
            timelines.insert(subject, steps);
        }
        let mut rows = Vec::new();
        let mut r = Reader(&w.rows.0);
        let (mut position, mut time) = (0u64, 0u32);
        while !r.done() {
            position = position.wrapping_add(r.u64()?);
            time = time.wrapping_add(r.u32()?);
            if time as usize >= w.times.len() {
                return Err("a row's time past its table".into());
            }
            let causation = match r.u32()? {
                0 => NONE,
                c if (c as usize) <= w.causations.len() => c - 1,
                _ => return Err("a row's causation past its table".into()),
            };
            let what = match r.u64()? {
                IN_LOG => What::InLog,
                tag @ (ADDED | REMOVED) => What::Grant {
                    added: tag == ADDED,
                    principal: r.id(w.principals.len())?,
                    entitlement: r.id(w.entitlements.len())?,
                    cause: r.id(w.causes.len())?,
                },
                DEACTIVATED => What::Deactivated {
                    user: r.id(w.users.len())?,
                },
                REACTIVATED => What::Reactivated {
                    user: r.id(w.users.len())?,
                },
                t => return Err(format!("a row of kind {t}")),
            };
            rows.push(Row {
                position,
                time,
                causation,
                what,
            });
        }
        Ok(HistoryIndex {
            stream: w.stream,
            position: w.position,
            by_subject,
            product_groups: w.product_groups.into_iter().collect(),
            vanished: w.vanished.into_iter().collect(),
            timelines,
            principals: table(w.principals),
            rows,
            entitlements: table(w.entitlements),
            users: table(w.users),
            causes: table(w.causes),
            causations: table(w.causations),
            times: w.times,
        })
    }
}

impl Serialize for HistoryIndex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        IndexWire::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for HistoryIndex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        HistoryIndex::try_from(IndexWire::deserialize(d)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantledger_eventlog::{Hash, Projection, Record};

    fn record(position: Position, at: i64, causation: Option<Causation>, event: Event) -> Record {
        Record {
            position,
            recorded_at: Timestamp::from_micros(at),
            stream: StreamId::jira_site("acme"),
            stream_version: position,
            event_id: None,
            causation,
            event,
            prev_hash: Hash::ZERO,
            hash: Hash::ZERO,
        }
    }

    #[test]
    fn the_stored_index_reads_back_equal() {
        let cause = GrantCause::ObservedInSync {
            run: SyncRunId::from("r1"),
        };
        let sync = Some(Causation::SyncRun(SyncRunId::from("r1")));
        let grants = [
            Grant::membership("u1".into(), "g1".into()),
            Grant::role(Principal::Group("g1".into()), "p1".into(), "r1".into()),
            Grant::role(Principal::User("u2".into()), "p1".into(), "r1".into()),
        ];
        let mut ix = HistoryIndex::new("acme");
        let mut position = 0;
        let mut next = |ix: &mut HistoryIndex, at: i64, causation, event: Event| {
            position += 1;
            // Positions far apart too: differences of several varint bytes.
            position += u64::from(position % 7 == 0) * 1_000_000_007;
            ix.apply(&record(position, at, causation, event));
        };
        for (i, g) in grants.iter().enumerate() {
            let added = GrantAdded {
                grant: g.clone(),
                cause: cause.clone(),
            };
            next(&mut ix, 10, sync.clone(), added.into());
            next(
                &mut ix,
                10 + i as i64,
                None,
                GrantRemoved {
                    grant: g.clone(),
                    cause: cause.clone(),
                }
                .into(),
            );
        }
        next(
            &mut ix,
            20,
            None,
            UserDeactivated {
                account_id: "u1".into(),
            }
            .into(),
        );
        next(
            &mut ix,
            21,
            None,
            UserReactivated {
                account_id: "u1".into(),
            }
            .into(),
        );
        next(
            &mut ix,
            22,
            sync.clone(),
            GroupRenamed {
                group_id: "g1".into(),
                from: "a".into(),
                to: "b".into(),
            }
            .into(),
        );
        next(
            &mut ix,
            23,
            None,
            ProjectRoleVanished {
                project_id: "p1".into(),
                role_id: "r1".into(),
            }
            .into(),
        );
        next(
            &mut ix,
            23,
            None,
            GroupVanished {
                group_id: "g1".into(),
                name: "b".into(),
            }
            .into(),
        );
        let bytes = bincode::serialize(&ix).unwrap();
        let back: HistoryIndex = bincode::deserialize(&bytes).unwrap();
        assert_eq!(back, ix);
        assert!(!ix.rows.is_empty() && !ix.timelines.is_empty());
        // A stored index cut short or with a byte changed fails to load or
        // differs; it never panics.
        assert!(bincode::deserialize::<HistoryIndex>(&bytes[..bytes.len() - 1]).is_err());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x55;
            let _ = bincode::deserialize::<HistoryIndex>(&bad);
        }

        // A grant indexed from outside (no row) keeps its own list too.
        let outside = Grant::membership("u9".into(), "g9".into());
        ix.index_event(
            &GrantAdded {
                grant: outside.clone(),
                cause,
            }
            .into(),
            99,
        );
        let back: HistoryIndex = bincode::deserialize(&bincode::serialize(&ix).unwrap()).unwrap();
        assert_eq!(back.positions(&Subject::Grant(outside)), &[99]);
        assert_eq!(back.rows, ix.rows);
        assert_eq!(back.by_subject, ix.by_subject);
    }
}
