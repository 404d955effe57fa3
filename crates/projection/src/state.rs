//! The site state: one Jira site's directory and grants, folded from its stream.

use std::collections::{BTreeMap, BTreeSet};

use grantledger_eventlog::{fold_until, EventLog, LogError, Position, Projection, Record};
use grantledger_model::*;
use serde::{Deserialize, Serialize};

use crate::changes::GrantChanges;

/// One Jira site as the log describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteState {
    /// Users present on the site, by account id.
    pub users: BTreeMap<AccountId, UserRecord>,
    /// Groups, by id.
    pub groups: BTreeMap<GroupId, GroupRecord>,
    /// Members of each group (users only).
    pub members: BTreeMap<GroupId, BTreeSet<AccountId>>,
    /// Projects, by id.
    pub projects: BTreeMap<ProjectId, ProjectRecord>,
    /// Roles of each project.
    pub roles: BTreeMap<ProjectId, BTreeMap<RoleId, RoleRecord>>,
    /// Actors (users and groups) of each project role.
    pub role_actors: BTreeMap<(ProjectId, RoleId), BTreeSet<Principal>>,
    /// Products and the groups that give access to each.
    pub products: BTreeMap<ProductKey, (String, BTreeSet<GroupId>)>,
    /// Whether a removal is remembered in [`Self::grant_changes`]. Off for queries,
    /// folds and snapshots (it is never stored); the sync turns it on for the state it
    /// loads, because its watermarks are never below that state's position, so only
    /// removals folded in after loading can be after a watermark.
    #[serde(skip)]
    pub remember_removals: bool,
    /// The last position folded in.
    pub position: Position,
    /// The version of the site's stream after the last record folded in: what the
    /// next append to the stream must expect.
    pub version: u64,
    /// The last sync run that completed, and where.
    pub last_completed_sync: Option<(SyncRunId, Position)>,
    /// Every sync run that started on this site, in order.
    pub runs: Vec<SyncRun>,
    /// Where each held grant was last added — and, while [`Self::remember_removals`]
    /// is on, where each grant removed since then was removed: a sync leaves alone a
    /// grant that changed after its listing began (ADR 0010). A removal folded in with
    /// the flag off forgets the grant, so that the state of a long log does not carry
    /// every grant that ever existed (ADR 0021).
    ///
    /// Last in the encoding, so that it is the tail of a state snapshot's
    /// payload, which a reader can check and leave on disk until it is used
    /// (ADR 0025).
    pub grant_changes: GrantChanges,
}

/// One sync run as the site's stream records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    /// The run.
    pub run: SyncRunId,
    /// Where its `SyncStarted` is.
    pub started: Position,
    /// When it was recorded.
    pub started_at: Timestamp,
    /// How it ended, if it has.
    pub ended: Option<RunEnd>,
}

/// How a sync run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEnd {
    /// Where its `SyncCompleted` or `SyncFailed` is.
    pub position: Position,
    /// When it was recorded.
    pub at: Timestamp,
    /// True for `SyncCompleted`.
    pub completed: bool,
}

impl SiteState {
    /// The state of `site` at the log's head.
    pub fn load(log: &EventLog, site: &str) -> Result<SiteState, LogError> {
        Self::as_of(log, site, Position::MAX)
    }

    /// The state of `site` just after position `at` (inclusive).
    pub fn as_of(log: &EventLog, site: &str, at: Position) -> Result<SiteState, LogError> {
        let mut site = Site::new(site);
        fold_until(log, &mut site, at)?;
        Ok(site.state)
    }

    /// Folds one record of this site's stream in.
    pub fn apply(&mut self, record: &Record) {
        self.apply_event(&record.event);
        self.advance(record);
        match &record.event {
            Event::GrantAdded(GrantAdded { grant, .. }) => {
                self.grant_changes.insert(grant.clone(), record.position);
            }
            Event::GrantRemoved(GrantRemoved { grant, .. }) => {
                if self.remember_removals {
                    self.grant_changes.insert(grant.clone(), record.position);
                } else {
                    self.grant_changes.remove(grant);
                }
            }
            Event::SyncStarted(e) => self.runs.push(SyncRun {
                run: e.run.clone(),
                started: record.position,
                started_at: record.recorded_at,
                ended: None,
            }),
            Event::SyncCompleted(e) => {
                self.last_completed_sync = Some((e.run.clone(), record.position));
                self.end_run(&e.run, record, true);
            }
            Event::SyncFailed(e) => self.end_run(&e.run, record, false),
            _ => {}
        }
    }

    /// Moves the position and the stream's version to `record`'s (a record of
    /// this site's stream).
    pub(crate) fn advance(&mut self, record: &Record) {
        self.position = record.position;
        self.version = record.stream_version;
    }

    fn end_run(&mut self, run: &SyncRunId, record: &Record, completed: bool) {
        if let Some(r) = self.runs.iter_mut().rev().find(|r| &r.run == run) {
            r.ended = Some(RunEnd {
                position: record.position,
                at: record.recorded_at,
                completed,
            });
        }
    }

    /// The runs that completed, oldest first.
    pub fn completed_runs(&self) -> impl DoubleEndedIterator<Item = &SyncRun> + '_ {
        self.runs
            .iter()
            .filter(|r| r.ended.is_some_and(|e| e.completed))
    }

    /// Folds one event in (without moving the position).
    pub fn apply_event(&mut self, event: &Event) {
        match event {
            Event::SyncStarted(_) | Event::SyncCompleted(_) | Event::SyncFailed(_) => {}
            Event::UserObserved(e) => {
                self.users.insert(e.user.account_id.clone(), e.user.clone());
            }
            Event::UserChanged(e) => {
                self.users
                    .insert(e.after.account_id.clone(), e.after.clone());
            }
            Event::UserDeactivated(e) => {
                if let Some(u) = self.users.get_mut(&e.account_id) {
                    u.active = false;
                }
            }
            Event::UserReactivated(e) => {
                if let Some(u) = self.users.get_mut(&e.account_id) {
                    u.active = true;
                }
            }
            Event::UserVanished(e) => {
                self.users.remove(&e.account_id);
            }
            Event::GroupObserved(e) => {
                self.groups
                    .insert(e.group.group_id.clone(), e.group.clone());
            }
            Event::GroupRenamed(e) => {
                if let Some(g) = self.groups.get_mut(&e.group_id) {
                    g.name = e.to.clone();
                }
            }
            Event::GroupVanished(e) => {
                // Jira deletes a group's memberships and role-actor grants with it.
                self.groups.remove(&e.group_id);
                self.members.remove(&e.group_id);
                let actor = Principal::Group(e.group_id.clone());
                self.role_actors.retain(|_, actors| {
                    actors.remove(&actor);
                    !actors.is_empty()
                });
            }
            Event::ProjectObserved(e) => {
                self.projects
                    .insert(e.project.project_id.clone(), e.project.clone());
            }
            Event::ProjectChanged(e) => {
                self.projects
                    .insert(e.after.project_id.clone(), e.after.clone());
            }
            Event::ProjectVanished(e) => {
                // ...and a project's roles and their actors with the project.
                self.projects.remove(&e.project_id);
                self.roles.remove(&e.project_id);
                self.role_actors
                    .retain(|(project, _), _| *project != e.project_id);
            }
            Event::ProjectRoleObserved(e) => {
                self.roles
                    .entry(e.role.project_id.clone())
                    .or_default()
                    .insert(e.role.role_id.clone(), e.role.clone());
            }
            Event::ProjectRoleVanished(e) => {
                self.role_actors
                    .remove(&(e.project_id.clone(), e.role_id.clone()));
                if let Some(roles) = self.roles.get_mut(&e.project_id) {
                    roles.remove(&e.role_id);
                    if roles.is_empty() {
                        self.roles.remove(&e.project_id);
                    }
                }
            }
            Event::ProductAccessGroupsChanged(e) => {
                if e.groups.is_empty() {
                    self.products.remove(&e.product);
                } else {
                    self.products.insert(
                        e.product.clone(),
                        (e.name.clone(), e.groups.iter().cloned().collect()),
                    );
                }
            }
            Event::GrantAdded(e) => self.set_grant(&e.grant, true),
            Event::GrantRemoved(e) => self.set_grant(&e.grant, false),
            // The outbox's own records say nothing about the site: the grant a
            // command made arrives as a GrantAdded or GrantRemoved (ADR 0010).
            Event::CommandIssued(_)
            | Event::CommandStarted(_)
            | Event::CommandSucceeded(_)
            | Event::CommandFailed(_) => {}
            // Nor do a request's: what it granted arrives as a grant event too.
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
            | Event::AuditLogRead(_) => {}
        }
    }

    fn set_grant(&mut self, grant: &Grant, present: bool) {
        match (&grant.principal, &grant.entitlement) {
            (Principal::User(user), Entitlement::GroupMembership { group }) => {
                let set = self.members.entry(group.clone()).or_default();
                if present {
                    set.insert(user.clone());
                } else {
                    set.remove(user);
                    if set.is_empty() {
                        self.members.remove(group);
                    }
                }
            }
            (principal, Entitlement::ProjectRole { project, role }) => {
                let key = (project.clone(), role.clone());
                let set = self.role_actors.entry(key.clone()).or_default();
                if present {
                    set.insert(principal.clone());
                } else {
                    set.remove(principal);
                    if set.is_empty() {
                        self.role_actors.remove(&key);
                    }
                }
            }
            // Group-in-group membership does not exist in Jira Cloud, and product
            // access is derived: neither is stored as a grant.
            (Principal::Group(_), Entitlement::GroupMembership { .. })
            | (_, Entitlement::ProductAccess { .. }) => {}
        }
    }

    /// The position of the last record that added or removed `grant`, if any
    /// (events folded by [`SiteState::apply_event`] alone leave it as it was).
    pub fn last_change(&self, grant: &Grant) -> Option<Position> {
        self.grant_changes.get(grant).copied()
    }

    /// Whether the state holds this grant.
    pub fn has_grant(&self, grant: &Grant) -> bool {
        match (&grant.principal, &grant.entitlement) {
            (Principal::User(user), Entitlement::GroupMembership { group }) => {
                self.members.get(group).is_some_and(|m| m.contains(user))
            }
            (principal, Entitlement::ProjectRole { project, role }) => self
                .role_actors
                .get(&(project.clone(), role.clone()))
                .is_some_and(|a| a.contains(principal)),
            (Principal::User(user), Entitlement::ProductAccess { product }) => {
                self.products_of(user).contains(product)
            }
            (Principal::Group(group), Entitlement::ProductAccess { product }) => self
                .products
                .get(product)
                .is_some_and(|(_, groups)| groups.contains(group)),
            (Principal::Group(_), Entitlement::GroupMembership { .. }) => false,
        }
    }

    /// Every stored grant (memberships and role actors), in a stable order.
    pub fn grants(&self) -> impl Iterator<Item = Grant> + '_ {
        let memberships = self.members.iter().flat_map(|(group, users)| {
            users
                .iter()
                .map(move |u| Grant::membership(u.clone(), group.clone()))
        });
        let roles = self
            .role_actors
            .iter()
            .flat_map(|((project, role), actors)| {
                actors
                    .iter()
                    .map(move |a| Grant::role(a.clone(), project.clone(), role.clone()))
            });
        memberships.chain(roles)
    }

    /// Number of group memberships.
    pub fn membership_count(&self) -> usize {
        self.members.values().map(BTreeSet::len).sum()
    }

    /// Number of role actor grants.
    pub fn role_grant_count(&self) -> usize {
        self.role_actors.values().map(BTreeSet::len).sum()
    }

    /// The products a user can use, through any of their groups.
    pub fn products_of(&self, user: &AccountId) -> BTreeSet<ProductKey> {
        self.products
            .iter()
            .filter(|(_, (_, groups))| {
                groups
                    .iter()
                    .any(|g| self.members.get(g).is_some_and(|m| m.contains(user)))
            })
            .map(|(p, _)| p.clone())
            .collect()
    }
}

/// The [`Projection`] of one site: its [`SiteState`], moved along by every record
/// of the log (records of other streams only move the position).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// The site's stream (`jira:<site>`).
    pub stream: StreamId,
    /// The state.
    pub state: SiteState,
}

impl Site {
    /// The empty state of `site`, before position 1.
    pub fn new(site: &str) -> Self {
        Self {
            stream: StreamId::jira_site(site),
            state: SiteState::default(),
        }
    }
}

impl Projection for Site {
    fn apply(&mut self, record: &Record) {
        if record.stream == self.stream {
            self.state.apply(record);
        } else {
            self.state.position = record.position;
        }
    }

    fn position(&self) -> Position {
        self.state.position
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantledger_eventlog::{ExpectedVersion, NewEvent};

    fn user(id: &str) -> UserRecord {
        UserRecord {
            account_id: AccountId::from(id),
            account_type: AccountType::Atlassian,
            display_name: id.to_uppercase(),
            email: None,
            active: true,
        }
    }

    fn added(grant: Grant) -> Event {
        GrantAdded {
            grant,
            cause: GrantCause::ObservedInSync {
                run: SyncRunId::from("r"),
            },
        }
        .into()
    }

    fn removed(grant: Grant) -> Event {
        GrantRemoved {
            grant,
            cause: GrantCause::ObservedInSync {
                run: SyncRunId::from("r"),
            },
        }
        .into()
    }

    #[test]
    fn as_of_answers_exactly_at_each_position() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        let s = StreamId::jira_site("acme");
        let m = Grant::membership("u1".into(), "g1".into());
        let events: Vec<Event> = vec![
            UserObserved { user: user("u1") }.into(),
            GroupObserved {
                group: GroupRecord {
                    group_id: "g1".into(),
                    name: "admins".into(),
                },
            }
            .into(),
            added(m.clone()),
            UserDeactivated {
                account_id: "u1".into(),
            }
            .into(),
            removed(m.clone()),
        ];
        for e in events {
            log.append(&s, ExpectedVersion::Any, vec![NewEvent::new(e)])
                .unwrap();
        }
        // Another site's events do not leak in.
        log.append(
            &StreamId::jira_site("other"),
            ExpectedVersion::Any,
            vec![NewEvent::new(added(Grant::membership(
                "u9".into(),
                "g1".into(),
            )))],
        )
        .unwrap();
        let at = |p| SiteState::as_of(&log, "acme", p).unwrap();
        assert!(!at(2).has_grant(&m));
        assert!(at(3).has_grant(&m));
        assert!(at(3).users[&AccountId::from("u1")].active);
        assert!(!at(4).users[&AccountId::from("u1")].active);
        assert!(at(4).has_grant(&m));
        assert_eq!(at(4).last_change(&m), Some(3));
        let now = SiteState::load(&log, "acme").unwrap();
        assert!(!now.has_grant(&m));
        assert_eq!(now.membership_count(), 0);
        // A removal is forgotten unless the state remembers removals (as a sync's does);
        // another site's records do not count.
        assert_eq!(now.last_change(&m), None);
        let mut remembering = at(4);
        remembering.remember_removals = true;
        let stream = StreamId::jira_site("acme");
        for record in log.read_stream(&stream, 0).unwrap() {
            if record.position > 4 {
                remembering.apply(&record);
            }
        }
        assert_eq!(remembering.last_change(&m), Some(5));
        assert_eq!(
            now.last_change(&Grant::membership("u9".into(), "g1".into())),
            None
        );
        assert_eq!(now.position, 6);
    }

    #[test]
    fn product_access_is_derived_from_groups() {
        let mut s = SiteState::default();
        s.apply_event(&added(Grant::membership("u1".into(), "g1".into())));
        s.apply_event(
            &ProductAccessGroupsChanged {
                product: "jira-software".into(),
                name: "Jira Software".into(),
                groups: vec!["g1".into(), "g2".into()],
            }
            .into(),
        );
        let p = ProductKey::from("jira-software");
        assert!(s.products_of(&"u1".into()).contains(&p));
        assert!(s.products_of(&"u2".into()).is_empty());
        assert!(s.has_grant(&Grant {
            principal: Principal::User("u1".into()),
            entitlement: Entitlement::ProductAccess { product: p.clone() }
        }));
        s.apply_event(&removed(Grant::membership("u1".into(), "g1".into())));
        assert!(s.products_of(&"u1".into()).is_empty());
    }

    #[test]
    fn role_actors_hold_users_and_groups() {
        let mut s = SiteState::default();
        let g = Grant::role(
            Principal::Group("g1".into()),
            "10000".into(),
            "10002".into(),
        );
        let u = Grant::role(Principal::User("u1".into()), "10000".into(), "10002".into());
        s.apply_event(&added(g.clone()));
        s.apply_event(&added(u.clone()));
        assert_eq!(s.role_grant_count(), 2);
        assert_eq!(s.grants().count(), 2);
        s.apply_event(&removed(g.clone()));
        assert!(!s.has_grant(&g));
        assert!(s.has_grant(&u));
    }
}
