//! The history index as stored in its snapshot (ADR 0021). In memory the index
//! keeps positions as `u64`s, rows and steps as fixed-size structs and each
//! grant's own list keyed by the whole grant; stored that way, a 5M-event log's
//! index took ~575 MiB. Stored here: every list of positions as differences
//! from the previous one in LEB128 varints (a byte or two each), rows and steps
//! as varints too, each grant's list keyed by its principal's and entitlement's
//! numbers in the index's own tables, and the tables as plain lists (their
//! lookup maps are rebuilt on load). The in-memory index is unchanged.
//!
//! What the grant rows alone give is not stored at all (INDEX_FORMAT 5, ADR
//! 0025): a grant row's position under its principal's, its entitlement's and
//! its grant's subjects, and its step in the group's or role's timeline, are
//! derived from the rows on load ([`derive`], the same rules as
//! `HistoryIndex::index_grant` and `grant_step`). Stored are only the rest of
//! each list and timeline (renames, directory records, vanishings); saving
//! checks that what it leaves out is exactly what loading derives.

use std::hash::Hash;

use grantledger_eventlog::Position;
use grantledger_model::*;
use serde::de::{Error as _, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::index::{HistoryIndex, Interned, Row, Step, StepKind, Subject, SubjectMap, What, NONE};

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

/// What the grant rows alone put in an index: each row's position under the
/// subjects `HistoryIndex::index_grant` lists it under, and the step
/// `HistoryIndex::grant_step` adds to a group's or role's timeline, in
/// position order. `rows` must name principals and entitlements inside the
/// tables.
pub(crate) struct Derived {
    pub(crate) lists: SubjectMap<Vec<Position>>,
    pub(crate) steps: SubjectMap<Vec<Step>>,
}

pub(crate) fn derive(
    rows: &[Row],
    principals: &[Principal],
    entitlements: &[Entitlement],
) -> Derived {
    // Subjects numbered once, so that the rows cost no hashing of names.
    let mut subjects: Vec<Subject> = Vec::new();
    let mut numbers: SubjectMap<usize> = SubjectMap::default();
    let mut number = |s: Subject| -> usize {
        *numbers.entry(s.clone()).or_insert_with(|| {
            subjects.push(s);
            subjects.len() - 1
        })
    };
    let of_principal: Vec<usize> = principals
        .iter()
        .map(|p| {
            number(match p {
                Principal::User(u) => Subject::User(u.clone()),
                Principal::Group(g) => Subject::Group(g.clone()),
            })
        })
        .collect();
    let of_entitlement: Vec<(usize, Option<usize>)> = entitlements
        .iter()
        .map(|e| match e {
            Entitlement::GroupMembership { group } => (number(Subject::Group(group.clone())), None),
            Entitlement::ProjectRole { project, role } => (
                number(Subject::Project(project.clone())),
                Some(number(Subject::Role(project.clone(), role.clone()))),
            ),
            Entitlement::ProductAccess { product } => {
                (number(Subject::Product(product.clone())), None)
            }
        })
        .collect();
    let mut lists: Vec<Vec<Position>> = vec![Vec::new(); subjects.len()];
    let mut steps: Vec<Vec<Step>> = vec![Vec::new(); subjects.len()];
    // Each grant's positions: (principal, entitlement, position) sorted, then cut
    // into runs (sorting numbers beats hashing five million keys).
    let mut grant_rows: Vec<(u32, u32, Position)> = Vec::new();
    fn push(list: &mut Vec<Position>, p: Position) {
        if list.last() != Some(&p) {
            list.push(p);
        }
    }
    for row in rows {
        let What::Grant {
            added,
            principal,
            entitlement,
            ..
        } = row.what
        else {
            continue;
        };
        let p = row.position;
        let (on, also) = of_entitlement[entitlement as usize];
        push(&mut lists[of_principal[principal as usize]], p);
        push(&mut lists[on], p);
        if let Some(role) = also {
            push(&mut lists[role], p);
        }
        grant_rows.push((principal, entitlement, p));
        let timeline = match (
            &principals[principal as usize],
            &entitlements[entitlement as usize],
        ) {
            (Principal::User(_), Entitlement::GroupMembership { .. }) => Some(on),
            (_, Entitlement::ProjectRole { .. }) => also,
            _ => None,
        };
        if let Some(t) = timeline {
            steps[t].push(Step {
                position: p,
                principal,
                kind: if added {
                    StepKind::Added
                } else {
                    StepKind::Removed
                },
            });
        }
    }
    let mut by_subject: SubjectMap<Vec<Position>> = subjects
        .iter()
        .cloned()
        .zip(lists)
        .filter(|(_, list)| !list.is_empty())
        .collect();
    // Stable: each grant's positions stay in row order.
    grant_rows.sort_by_key(|(p, e, _)| (*p, *e));
    let distinct = grant_rows.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)).count();
    by_subject.reserve(distinct);
    for run in grant_rows.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let (p, e, _) = run[0];
        let mut list = Vec::with_capacity(run.len());
        for (_, _, position) in run {
            push(&mut list, *position);
        }
        let grant = Grant {
            principal: principals[p as usize].clone(),
            entitlement: entitlements[e as usize].clone(),
        };
        by_subject.insert(Subject::Grant(grant), list);
    }
    Derived {
        lists: by_subject,
        steps: subjects
            .into_iter()
            .zip(steps)
            .filter(|(_, s)| !s.is_empty())
            .collect(),
    }
}

/// `all` less `derived`, both in order, where `derived` must be a subsequence
/// of `all`: what the stored form keeps.
fn rest<T: PartialEq + Copy>(all: &[T], derived: &[T]) -> Option<Vec<T>> {
    let mut out = Vec::with_capacity(all.len().saturating_sub(derived.len()));
    let mut d = derived.iter().peekable();
    for x in all {
        if d.peek() == Some(&x) {
            d.next();
        } else {
            out.push(*x);
        }
    }
    d.next().is_none().then_some(out)
}

/// Two lists in order merged into one in order (`key` orders them).
pub(crate) fn merged<T, K: Ord>(a: Vec<T>, b: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    if a.is_empty() {
        return b;
    }
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => key(x) <= key(y),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}

impl TryFrom<&HistoryIndex> for IndexWire {
    type Error = String;

    fn try_from(ix: &HistoryIndex) -> Result<Self, String> {
        let derived = derive(&ix.rows, &ix.principals.values, &ix.entitlements.values);
        let none: (Vec<Position>, Vec<Step>) = (Vec::new(), Vec::new());
        // Grant subjects are numbered in the index's own tables; a grant indexed
        // without a row (an `index_event` call from outside) is added to copies.
        let mut principals = ix.principals.clone();
        let mut entitlements = ix.entitlements.clone();
        let mut subjects = Vec::new();
        let mut grants = Vec::new();
        for (subject, list) in &ix.by_subject {
            let from_rows = derived.lists.get(subject).unwrap_or(&none.0);
            let kept = rest(list, from_rows).ok_or_else(|| {
                format!("the index lists {subject:?} without some of its grant rows' positions")
            })?;
            if kept.is_empty() {
                continue;
            }
            match subject {
                Subject::Grant(g) => grants.push((
                    principals.id(&g.principal),
                    entitlements.id(&g.entitlement),
                    positions(&kept),
                )),
                other => subjects.push((other.clone(), positions(&kept))),
            }
        }
        if let Some(s) = derived
            .lists
            .keys()
            .find(|s| !ix.by_subject.contains_key(*s))
        {
            return Err(format!(
                "the index's grant rows name {s:?}, which it does not list"
            ));
        }
        let mut timelines = Vec::new();
        for (subject, steps) in &ix.timelines {
            let from_rows = derived.steps.get(subject).unwrap_or(&none.1);
            let kept = rest(steps, from_rows).ok_or_else(|| {
                format!("the timeline of {subject:?} lacks some of its grant rows' steps")
            })?;
            if !kept.is_empty() {
                timelines.push((subject.clone(), kept));
            }
        }
        if let Some(s) = derived
            .steps
            .keys()
            .find(|s| !ix.timelines.contains_key(*s))
        {
            return Err(format!(
                "the index's grant rows step {s:?}, which has no timeline"
            ));
        }
        let timelines = timelines
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
        Ok(IndexWire {
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
        })
    }
}

impl TryFrom<IndexWire> for HistoryIndex {
    type Error = String;

    fn try_from(w: IndexWire) -> Result<Self, String> {
        let mut by_subject: SubjectMap<Vec<Position>> = SubjectMap::with_capacity_and_hasher(
            w.subjects.len() + w.grants.len(),
            Default::default(),
        );
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
        let mut timelines =
            SubjectMap::with_capacity_and_hasher(w.timelines.len(), Default::default());
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
        // What the rows alone give (sized for every grant at once), with what was
        // stored beside it merged in.
        let derived = derive(&rows, &w.principals, &w.entitlements);
        let mut lists = derived.lists;
        lists.reserve(by_subject.len());
        for (subject, stored) in by_subject {
            let list = match lists.remove(&subject) {
                Some(from_rows) => merged(from_rows, stored, |p| *p),
                None => stored,
            };
            lists.insert(subject, list);
        }
        let by_subject = lists;
        let mut steps = derived.steps;
        for (subject, stored) in timelines {
            let merged_steps = match steps.remove(&subject) {
                Some(from_rows) => merged(from_rows, stored, |s: &Step| s.position),
                None => stored,
            };
            steps.insert(subject, merged_steps);
        }
        let timelines = steps;
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
        IndexWire::try_from(self)
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
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
    fn what_the_grant_rows_give_is_not_stored() {
        let cause = GrantCause::ObservedInSync {
            run: SyncRunId::from("r1"),
        };
        let mut ix = HistoryIndex::new("acme");
        let grants = [
            Grant::membership("u1".into(), "g1".into()),
            Grant::membership("u2".into(), "g1".into()),
            Grant::role(Principal::Group("g1".into()), "p1".into(), "r1".into()),
            Grant::role(Principal::User("u2".into()), "p1".into(), "r2".into()),
            Grant {
                principal: Principal::User("u1".into()),
                entitlement: Entitlement::ProductAccess {
                    product: "jira-software".into(),
                },
            },
        ];
        let mut position = 0;
        for round in 0..3 {
            for g in &grants {
                position += 1;
                let event: Event = if round == 1 {
                    GrantRemoved {
                        grant: g.clone(),
                        cause: cause.clone(),
                    }
                    .into()
                } else {
                    GrantAdded {
                        grant: g.clone(),
                        cause: cause.clone(),
                    }
                    .into()
                };
                ix.apply(&record(position, 10, None, event));
            }
        }
        let wire = IndexWire::try_from(&ix).unwrap();
        assert!(wire.subjects.is_empty(), "{:?}", wire.subjects);
        assert!(wire.grants.is_empty());
        assert!(wire.timelines.is_empty());
        let bytes = bincode::serialize(&ix).unwrap();
        assert_eq!(bincode::deserialize::<HistoryIndex>(&bytes).unwrap(), ix);
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
