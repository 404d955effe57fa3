//! The history index: for each user, group, project, role, product and grant, the
//! positions of the records that touched it. A cache like the snapshots: folded
//! from the log, stored as a snapshot, rebuilt when missing.

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
/// [`grantledger_eventlog::Follower`] keeps it current.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryIndex {
    stream: Option<StreamId>,
    position: Position,
    by_subject: HashMap<Subject, Vec<Position>>,
    /// Each product's groups as last recorded, so that a group that stops giving a
    /// product has that change in its history too.
    product_groups: HashMap<ProductKey, Vec<GroupId>>,
    /// Where groups, projects and roles vanished: their grants went with them.
    vanished: HashMap<Subject, Vec<Position>>,
    /// Each group's and role's changes of holders, oldest first, so that one
    /// entitlement's holders at any position need no read of the log.
    timelines: HashMap<Subject, Vec<Step>>,
    /// Principals of the timelines, numbered.
    principals: Vec<Principal>,
    principal_ids: HashMap<Principal, u32>,
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
        &self.principals[id as usize]
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
            Some(p) => match self.principal_ids.get(p) {
                Some(id) => *id,
                None => {
                    let id = self.principals.len() as u32;
                    self.principals.push(p.clone());
                    self.principal_ids.insert(p.clone(), id);
                    id
                }
            },
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

    /// Indexes one event at `position` (whatever its stream).
    pub fn index_event(&mut self, event: &Event, position: Position) {
        match event {
            Event::SyncStarted(_)
            | Event::SyncCompleted(_)
            | Event::SyncFailed(_)
            | Event::CommandIssued(_)
            | Event::CommandStarted(_)
            | Event::CommandSucceeded(_)
            | Event::CommandFailed(_) => {}
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
            | Event::RequestFailed(_) => {}
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
    }
}

impl Projection for HistoryIndex {
    fn apply(&mut self, record: &Record) {
        if self.stream.as_ref() == Some(&record.stream) {
            self.index_event(&record.event, record.position);
        }
        self.position = record.position;
    }

    fn position(&self) -> Position {
        self.position
    }
}
