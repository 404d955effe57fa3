//! Grant state built from the event log: what a Jira site looks like according to
//! the log, now or at any past position.
//!
//! [`SiteState`] holds one site's directory (users, groups, projects, project roles,
//! product groups) and its grants (group memberships, project role actors). It is
//! built by folding [`Record`]s of the site's stream (`jira:<site>`) with
//! [`SiteState::apply`]; [`SiteState::load`] replays the log up to its head and
//! [`SiteState::as_of`] up to a given position, so a point-in-time answer is exact.
//! Effective product access is derived, not stored: [`SiteState::products_of`].
//!
//! This crate never writes to the log and never talks to Jira. It is a cache in the
//! sense of the architecture: anything here can be rebuilt from the log at any
//! time. Snapshots (to avoid replaying from position 1) and the query side (history,
//! diffs between positions) come with their own issue.

use std::collections::{BTreeMap, BTreeSet};

use grantledger_eventlog::{EventLog, LogError, Position, Record};
use grantledger_model::*;

/// One Jira site as the log describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// The last position folded in.
    pub position: Position,
    /// The version of the site's stream after the last record folded in: what the
    /// next append to the stream must expect.
    pub version: u64,
    /// The last sync run that completed, and where.
    pub last_completed_sync: Option<(SyncRunId, Position)>,
}

impl SiteState {
    /// The state of `site` at the log's head.
    pub fn load(log: &EventLog, site: &str) -> Result<SiteState, LogError> {
        Self::as_of(log, site, Position::MAX)
    }

    /// The state of `site` just after position `at` (inclusive).
    pub fn as_of(log: &EventLog, site: &str, at: Position) -> Result<SiteState, LogError> {
        let stream = StreamId::jira_site(site);
        let mut state = SiteState::default();
        for record in log.read_from(1) {
            let record = record?;
            if record.position > at {
                break;
            }
            if record.stream == stream {
                state.apply(&record);
            } else {
                state.position = record.position;
            }
        }
        Ok(state)
    }

    /// Folds one record of this site's stream in.
    pub fn apply(&mut self, record: &Record) {
        self.apply_event(&record.event);
        self.position = record.position;
        self.version = record.stream_version;
        if let Event::SyncCompleted(e) = &record.event {
            self.last_completed_sync = Some((e.run.clone(), record.position));
        }
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
        let now = SiteState::load(&log, "acme").unwrap();
        assert!(!now.has_grant(&m));
        assert_eq!(now.membership_count(), 0);
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
