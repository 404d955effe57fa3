//! The history index: for each user, group, project, role, product and grant, the
//! positions of the records that touched it, and a compact copy of the records
//! that most histories are made of (grants added and removed, accounts
//! deactivated and reactivated), so that a history reads the log only for the
//! rare others. A cache like the snapshots: folded from the log, stored as a
//! snapshot, rebuilt when missing.

use std::collections::HashMap;

use grantledger_eventlog::{Position, Projection, Record};
use grantledger_model::*;
use serde::{Deserialize, Serialize};

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
    pub(crate) by_subject: HashMap<Subject, Vec<Position>>,
    /// Each product's groups as last recorded, so that a group that stops giving a
    /// product has that change in its history too.
    pub(crate) product_groups: HashMap<ProductKey, Vec<GroupId>>,
    /// Where groups, projects and roles vanished: their grants went with them.
    pub(crate) vanished: HashMap<Subject, Vec<Position>>,
    /// Each group's and role's changes of holders, oldest first, so that one
    /// entitlement's holders at any position need no read of the log.
    pub(crate) timelines: HashMap<Subject, Vec<Step>>,
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

/// Values numbered in the order they were first met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interned<T: std::hash::Hash + Eq> {
    pub(crate) values: Vec<T>,
    pub(crate) ids: HashMap<T, u32>,
}

impl<T: std::hash::Hash + Eq> Default for Interned<T> {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            ids: HashMap::new(),
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
        match event {
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
                let roles: Vec<Subject> = self
                    .timelines
                    .keys()
                    .filter(|k| matches!(k, Subject::Role(p, _) if *p == e.project_id))
                    .cloned()
                    .collect();
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

impl Projection for HistoryIndex {
    fn apply(&mut self, record: &Record) {
        // A row for exactly the records some subject lists.
        if self.stream.as_ref() == Some(&record.stream)
            && self.index_event(&record.event, record.position)
        {
            self.row(record);
        }
        self.position = record.position;
    }

    fn position(&self) -> Position {
        self.position
    }
}
