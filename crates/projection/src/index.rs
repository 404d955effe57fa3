//! The history index: for each user, group, project, role, product and grant, the
//! positions of the records that touched it, and a compact copy of the records
//! that most histories are made of (grants added and removed, accounts
//! deactivated and reactivated), so that a history reads the log only for the
//! rare others. A cache like the snapshots: folded from the log, stored as a
//! snapshot, rebuilt when missing.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::HashMap;

use grantledger_eventlog::{fold_until, EventLog, LogError, Position, Projection, Record};
use grantledger_model::*;
use serde::{Deserialize, Serialize};

use crate::index_wire;

/// What a history is asked about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Subject {
    /// A user.
    User(AccountId),
    /// A group.
    Group(GroupId),
    /// A project (its own changes, its roles' and every grant in it).
    Project(ProjectId),
    /// One role of one project.
    Role(ProjectId, RoleId),
    /// A product.
    Product(ProductKey),
    /// One grant.
    Grant(Grant),
}

/// The index of one site's stream. Implements [`Projection`], so a
/// [`grantledger_eventlog::Follower`] keeps it current. Stored compactly in its
/// snapshot (`index_wire`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryIndex {
    pub(crate) stream: Option<StreamId>,
    pub(crate) position: Position,
    pub(crate) by_subject: SubjectMap<Vec<Position>>,
    /// Each product's groups as last recorded, so that a group that stops giving a
    /// product has that change in its history too.
    pub(crate) product_groups: HashMap<ProductKey, Vec<GroupId>>,
    /// Where groups, projects and roles vanished: their grants went with them.
    pub(crate) vanished: SubjectMap<Vec<Position>>,
    /// Each group's and role's changes of holders, oldest first, so that one
    /// entitlement's holders at any position need no read of the log.
    pub(crate) timelines: SubjectMap<Vec<Step>>,
    /// Principals of the timelines and rows, numbered.
    pub(crate) principals: Interned<Principal>,
    /// One row for each record the index lists, by position (oldest first).
    pub(crate) rows: Vec<Row>,
    /// What the rows name, numbered: entitlements, accounts, causes, causations (each
    /// kept once) and times (a new one whenever it changes along the log).
    pub(crate) entitlements: Interned<Entitlement>,
    pub(crate) users: Interned<AccountId>,
    pub(crate) causes: Interned<GrantCause>,
    pub(crate) causations: Interned<Causation>,
    pub(crate) times: Vec<Timestamp>,
}

/// A map keyed by subjects, hashed with foldhash (seeded per map, several times
/// faster than SipHash on these keys; an index holds millions).
pub(crate) type SubjectMap<V> = HashMap<Subject, V, foldhash::fast::RandomState>;

/// Values numbered in the order they were first met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interned<T: std::hash::Hash + Eq> {
    pub(crate) values: Vec<T>,
    pub(crate) ids: HashMap<T, u32, foldhash::fast::RandomState>,
}

impl<T: std::hash::Hash + Eq> Default for Interned<T> {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            ids: HashMap::default(),
        }
    }
}

impl<T: std::hash::Hash + Eq + Clone> Interned<T> {
    pub(crate) fn id(&mut self, value: &T) -> u32 {
        if let Some(id) = self.ids.get(value) {
            return *id;
        }
        let id = self.values.len() as u32;
        self.values.push(value.clone());
        self.ids.insert(value.clone(), id);
        id
    }
}

/// No causation (a row's `causation` field).
pub(crate) const NONE: u32 = u32::MAX;

/// What the index keeps of one record it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) position: Position,
    /// In [`HistoryIndex::times`].
    pub(crate) time: u32,
    /// In `causations`, or [`NONE`].
    pub(crate) causation: u32,
    pub(crate) what: What,
}

/// A record's event, in numbers, when it is one the index can give back whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum What {
    /// `GrantAdded` (`added`) or `GrantRemoved`.
    Grant {
        added: bool,
        principal: u32,
        entitlement: u32,
        cause: u32,
    },
    /// `UserDeactivated` (the account in `users`).
    Deactivated { user: u32 },
    /// `UserReactivated`.
    Reactivated { user: u32 },
    /// Any other event: read from the log when asked for.
    InLog,
}

/// One record of a history: what the log holds at `position`, less what no
/// history shows (its stream, version, id and hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where.
    pub position: Position,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// What caused it.
    pub causation: Option<Causation>,
    /// The event.
    pub event: Event,
}

impl From<Record> for Entry {
    fn from(r: Record) -> Self {
        Entry {
            position: r.position,
            recorded_at: r.recorded_at,
            causation: r.causation,
            event: r.event,
        }
    }
}

/// One change of an entitlement's holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Where.
    pub position: Position,
    /// Who (see [`HistoryIndex::principal`]); unused for [`StepKind::Cleared`].
    pub principal: u32,
    /// What happened.
    pub kind: StepKind,
}

/// What a [`Step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    /// The principal gained it.
    Added,
    /// The principal lost it.
    Removed,
    /// Everyone lost it (the group, role or project vanished).
    Cleared,
}

impl HistoryIndex {
    /// An empty index of `site`'s stream.
    pub fn new(site: &str) -> Self {
        Self {
            stream: Some(StreamId::jira_site(site)),
            ..Self::default()
        }
    }

    /// The positions of the records that touched `subject`, oldest first.
    pub fn positions(&self, subject: &Subject) -> &[Position] {
        self.by_subject.get(subject).map_or(&[], Vec::as_slice)
    }

    /// Whether `subject` (a group, project or role) vanished in `(after, until]`.
    pub fn vanished_between(&self, subject: &Subject, after: Position, until: Position) -> bool {
        self.vanished
            .get(subject)
            .is_some_and(|v| v.iter().any(|p| (after + 1..=until).contains(p)))
    }

    /// The changes of holders of a group (`Subject::Group`) or a role
    /// (`Subject::Role`), oldest first.
    pub fn timeline(&self, subject: &Subject) -> &[Step] {
        self.timelines.get(subject).map_or(&[], Vec::as_slice)
    }

    /// The principal a [`Step`] names.
    pub fn principal(&self, id: u32) -> &Principal {
        &self.principals.values[id as usize]
    }

    /// The row of the record at `position`, if the index lists one there.
    fn row_at(&self, position: Position) -> Option<&Row> {
        let at = self.rows.partition_point(|r| r.position < position);
        self.rows.get(at).filter(|r| r.position == position)
    }

    /// The record at `position` when the index holds it whole; `None` when it
    /// must be read from the log (or the index lists no record there).
    pub fn entry(&self, position: Position) -> Option<Entry> {
        let row = self.row_at(position)?;
        let user = |id: u32| self.users.values[id as usize].clone();
        let event: Event = match row.what {
            What::InLog => return None,
            What::Grant {
                added,
                principal,
                entitlement,
                cause,
            } => {
                let grant = Grant {
                    principal: self.principal(principal).clone(),
                    entitlement: self.entitlements.values[entitlement as usize].clone(),
                };
                let cause = self.causes.values[cause as usize].clone();
                if added {
                    GrantAdded { grant, cause }.into()
                } else {
                    GrantRemoved { grant, cause }.into()
                }
            }
            What::Deactivated { user: id } => UserDeactivated {
                account_id: user(id),
            }
            .into(),
            What::Reactivated { user: id } => UserReactivated {
                account_id: user(id),
            }
            .into(),
        };
        Some(Entry {
            position,
            recorded_at: self.times[row.time as usize],
            causation: (row.causation != NONE)
                .then(|| self.causations.values[row.causation as usize].clone()),
            event,
        })
    }

    /// Whether the record at `position` is a `GrantAdded`, from the index alone
    /// (`None` when the index lists no grant record there).
    pub fn grant_added_at(&self, position: Position) -> Option<bool> {
        match self.row_at(position)?.what {
            What::Grant { added, .. } => Some(added),
            _ => None,
        }
    }

    /// Keeps a row for a record the index lists.
    fn row(&mut self, record: &Record) {
        let what = match &record.event {
            Event::GrantAdded(GrantAdded { grant, cause })
            | Event::GrantRemoved(GrantRemoved { grant, cause }) => What::Grant {
                added: matches!(record.event, Event::GrantAdded(_)),
                principal: self.principals.id(&grant.principal),
                entitlement: self.entitlements.id(&grant.entitlement),
                cause: self.causes.id(cause),
            },
            Event::UserDeactivated(e) => What::Deactivated {
                user: self.users.id(&e.account_id),
            },
            Event::UserReactivated(e) => What::Reactivated {
                user: self.users.id(&e.account_id),
            },
            _ => What::InLog,
        };
        if self.times.last() != Some(&record.recorded_at) {
            self.times.push(record.recorded_at);
        }
        let causation = match &record.causation {
            Some(c) => self.causations.id(c),
            None => NONE,
        };
        self.rows.push(Row {
            position: record.position,
            time: (self.times.len() - 1) as u32,
            causation,
            what,
        });
    }

    fn step(
        &mut self,
        subject: Subject,
        position: Position,
        principal: Option<&Principal>,
        kind: StepKind,
    ) {
        let principal = match principal {
            None => 0,
            Some(p) => self.principals.id(p),
        };
        self.timelines.entry(subject).or_default().push(Step {
            position,
            principal,
            kind,
        });
    }

    fn grant_step(&mut self, grant: &Grant, position: Position, added: bool) {
        let subject = match (&grant.principal, &grant.entitlement) {
            (Principal::User(_), Entitlement::GroupMembership { group }) => {
                Subject::Group(group.clone())
            }
            (_, Entitlement::ProjectRole { project, role }) => {
                Subject::Role(project.clone(), role.clone())
            }
            // Not stored grants (see `SiteState::set_grant`).
            _ => return,
        };
        let kind = if added {
            StepKind::Added
        } else {
            StepKind::Removed
        };
        self.step(subject, position, Some(&grant.principal), kind);
    }

    fn add(&mut self, subject: Subject, position: Position) {
        let list = self.by_subject.entry(subject).or_default();
        if list.last() != Some(&position) {
            list.push(position);
        }
    }

    fn index_grant(&mut self, grant: &Grant, position: Position) {
        match &grant.principal {
            Principal::User(u) => self.add(Subject::User(u.clone()), position),
            Principal::Group(g) => self.add(Subject::Group(g.clone()), position),
        }
        match &grant.entitlement {
            Entitlement::GroupMembership { group } => {
                self.add(Subject::Group(group.clone()), position)
            }
            Entitlement::ProjectRole { project, role } => {
                self.add(Subject::Project(project.clone()), position);
                self.add(Subject::Role(project.clone(), role.clone()), position);
            }
            Entitlement::ProductAccess { product } => {
                self.add(Subject::Product(product.clone()), position)
            }
        }
        self.add(Subject::Grant(grant.clone()), position);
    }

    /// Indexes one event at `position` (whatever its stream). Returns whether
    /// the event touched any subject (the records that did get a row).
    pub fn index_event(&mut self, event: &Event, position: Position) -> bool {
        self.index_event_with(event, position, false)
    }

    /// Folds the records after its position up to `until` (inclusive) as
    /// [`fold_until`] would, for a long stretch: a grant record's row is kept
    /// but its positions under its subjects and its timeline step are not added
    /// one by one (a lookup of a whole `Subject` each, most of such a fold's
    /// time); they are derived from the rows at the end and merged with what
    /// the other records added — the same derivation that loading a snapshot
    /// uses (ADR 0025, ADR 0026). Also when the fold fails part-way: the index
    /// then holds every record before the failure.
    pub fn fold_long(&mut self, log: &EventLog, until: Position) -> Result<u64, LogError> {
        let first_row = self.rows.len();
        let folded = fold_until(log, &mut Deferring(self), until);
        let derived = index_wire::derive(
            &self.rows[first_row..],
            &self.principals.values,
            &self.entitlements.values,
        );
        merge_into(&mut self.by_subject, derived.lists, |p| *p);
        merge_into(&mut self.timelines, derived.steps, |s: &Step| s.position);
        folded
    }

    /// [`Self::index_event`]; with `defer_grants`, a grant record only says that
    /// it touched subjects (see [`Self::fold_long`]).
    fn index_event_with(&mut self, event: &Event, position: Position, defer_grants: bool) -> bool {
        match event {
            Event::GrantAdded(_) | Event::GrantRemoved(_) if defer_grants => return true,
            Event::SyncStarted(_)
            | Event::SyncCompleted(_)
            | Event::SyncFailed(_)
            | Event::CommandIssued(_)
            | Event::CommandStarted(_)
            | Event::CommandSucceeded(_)
            | Event::CommandFailed(_) => return false,
            // A request's own records say nothing about the site; the grant it
            // made is a GrantAdded whose cause names it.
            Event::AccessRequested(_)
            | Event::ApprovalGiven(_)
            | Event::RequestApproved(_)
            | Event::RequestDenied(_)
            | Event::RequestCancelled(_)
            | Event::AccessGranted(_)
            | Event::AccessAlreadyHeld(_)
            | Event::AccessExtended(_)
            | Event::AccessExpired(_)
            | Event::AccessTakenOver(_)
            | Event::RevocationRequested(_)
            | Event::AccessRevoked(_)
            | Event::RequestFailed(_)
            | Event::RemovalRetried(_)
            | Event::CampaignCreated(_)
            | Event::CampaignLaunched(_)
            | Event::CampaignItemsFrozen(_)
            | Event::ItemDecided(_)
            | Event::ItemReassigned(_)
            | Event::CampaignClosed(_)
            | Event::RevocationIssued(_)
            | Event::RemediationVerified(_)
            | Event::RemediationFlagged(_)
            | Event::AuditRecordObserved(_)
            | Event::AuditLogRead(_) => return false,
            Event::UserObserved(e) => self.add(Subject::User(e.user.account_id.clone()), position),
            Event::UserChanged(e) => self.add(Subject::User(e.after.account_id.clone()), position),
            Event::UserDeactivated(e) => self.add(Subject::User(e.account_id.clone()), position),
            Event::UserReactivated(e) => self.add(Subject::User(e.account_id.clone()), position),
            Event::UserVanished(e) => self.add(Subject::User(e.account_id.clone()), position),
            Event::GroupObserved(e) => self.add(Subject::Group(e.group.group_id.clone()), position),
            Event::GroupRenamed(e) => self.add(Subject::Group(e.group_id.clone()), position),
            Event::GroupVanished(e) => {
                let s = Subject::Group(e.group_id.clone());
                self.vanished.entry(s.clone()).or_default().push(position);
                self.step(s.clone(), position, None, StepKind::Cleared);
                self.add(s, position)
            }
            Event::ProjectObserved(e) => {
                self.add(Subject::Project(e.project.project_id.clone()), position)
            }
            Event::ProjectChanged(e) => {
                self.add(Subject::Project(e.after.project_id.clone()), position)
            }
            Event::ProjectVanished(e) => {
                let s = Subject::Project(e.project_id.clone());
                self.vanished.entry(s.clone()).or_default().push(position);
                // The project's roles with a timeline: those with steps, and
                // those a grant row names (their steps may be still to derive,
                // in `fold_long`).
                let mut roles: Vec<Subject> = self
                    .timelines
                    .keys()
                    .filter(|k| matches!(k, Subject::Role(p, _) if *p == e.project_id))
                    .cloned()
                    .chain(self.entitlements.values.iter().filter_map(|en| match en {
                        Entitlement::ProjectRole { project, role } if *project == e.project_id => {
                            Some(Subject::Role(project.clone(), role.clone()))
                        }
                        _ => None,
                    }))
                    .collect();
                roles.sort();
                roles.dedup();
                for role in roles {
                    self.step(role, position, None, StepKind::Cleared);
                }
                self.add(s, position)
            }
            Event::ProjectRoleObserved(e) => {
                self.add(Subject::Project(e.role.project_id.clone()), position);
                self.add(
                    Subject::Role(e.role.project_id.clone(), e.role.role_id.clone()),
                    position,
                );
            }
            Event::ProjectRoleVanished(e) => {
                self.add(Subject::Project(e.project_id.clone()), position);
                let s = Subject::Role(e.project_id.clone(), e.role_id.clone());
                self.vanished.entry(s.clone()).or_default().push(position);
                self.step(s.clone(), position, None, StepKind::Cleared);
                self.add(s, position);
            }
            Event::ProductAccessGroupsChanged(e) => {
                self.add(Subject::Product(e.product.clone()), position);
                let before = self
                    .product_groups
                    .insert(e.product.clone(), e.groups.clone())
                    .unwrap_or_default();
                for g in before.iter().chain(&e.groups) {
                    self.add(Subject::Group(g.clone()), position);
                }
            }
            Event::GrantAdded(e) => {
                self.index_grant(&e.grant, position);
                self.grant_step(&e.grant, position, true);
            }
            Event::GrantRemoved(e) => {
                self.index_grant(&e.grant, position);
                self.grant_step(&e.grant, position, false);
            }
        }
        true
    }
}

impl HistoryIndex {
    fn apply_with(&mut self, record: &Record, defer_grants: bool) {
        // A row for exactly the records some subject lists.
        if self.stream.as_ref() == Some(&record.stream)
            && self.index_event_with(&record.event, record.position, defer_grants)
        {
            self.row(record);
        }
        self.position = record.position;
    }
}

impl Projection for HistoryIndex {
    fn apply(&mut self, record: &Record) {
        self.apply_with(record, false);
    }

    fn position(&self) -> Position {
        self.position
    }
}

/// Merges `more` into `map`, each subject's two lists in order by `key`. The
/// smaller map is walked and merged into the larger, which is kept.
fn merge_into<T, K: Ord>(
    map: &mut SubjectMap<Vec<T>>,
    mut more: SubjectMap<Vec<T>>,
    key: impl Fn(&T) -> K + Copy,
) {
    if more.len() > map.len() {
        std::mem::swap(map, &mut more);
    }
    map.reserve(more.len());
    for (subject, list) in more {
        match map.entry(subject) {
            MapEntry::Occupied(mut o) => {
                let before = std::mem::take(o.get_mut());
                *o.get_mut() = index_wire::merged(before, list, key);
            }
            MapEntry::Vacant(v) => {
                v.insert(list);
            }
        }
    }
}

/// The index folding with its grant subjects deferred ([`HistoryIndex::fold_long`]).
struct Deferring<'a>(&'a mut HistoryIndex);

impl Projection for Deferring<'_> {
    fn apply(&mut self, record: &Record) {
        self.0.apply_with(record, true);
    }

    fn position(&self) -> Position {
        self.0.position
    }
}
