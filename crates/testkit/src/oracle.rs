//! The expected-state oracle: what a correct sync must leave for a simulated org.

use std::collections::{BTreeMap, BTreeSet};

use grantledger_eventlog::{EventLog, Position};
use grantledger_jira_sim::Org;
use grantledger_model::{
    AccountId, AccountType, Event, GroupId, GroupRecord, Principal, ProductKey, ProjectId,
    ProjectRecord, RoleId, RoleRecord, UserRecord,
};
use grantledger_projection::SiteState;

/// The state a correct sync of `org` must leave: exactly the simulator's org, as
/// Jira shows it to an admin (hidden emails absent, empty groups and roles
/// without grants).
///
/// # Panics
/// When a product names a group the org does not have (an invalid org).
pub fn expected_state(org: &Org) -> SiteState {
    let mut s = SiteState::default();
    for u in &org.users {
        let user = UserRecord {
            account_id: AccountId::new(u.account_id.clone()),
            account_type: AccountType::from_jira(&u.account_type),
            display_name: u.display_name.clone(),
            email: if u.email_hidden {
                None
            } else {
                u.email.clone()
            },
            active: u.active,
        };
        s.users.insert(user.account_id.clone(), user);
    }
    let mut by_name = BTreeMap::new();
    for g in &org.groups {
        let id = GroupId::new(g.group_id.clone());
        by_name.insert(g.name.clone(), id.clone());
        s.groups.insert(
            id.clone(),
            GroupRecord {
                group_id: id,
                name: g.name.clone(),
            },
        );
    }
    for (g, members) in &org.memberships {
        if !members.is_empty() {
            s.members.insert(
                GroupId::new(g.clone()),
                members.iter().map(|a| AccountId::new(a.clone())).collect(),
            );
        }
    }
    for p in &org.projects {
        let pid = ProjectId::new(p.id.clone());
        s.projects.insert(
            pid.clone(),
            ProjectRecord {
                project_id: pid.clone(),
                key: p.key.clone(),
                name: p.name.clone(),
                archived: p.archived,
            },
        );
        for r in &p.roles {
            let rid = RoleId::new(r.id.to_string());
            s.roles.entry(pid.clone()).or_default().insert(
                rid.clone(),
                RoleRecord {
                    project_id: pid.clone(),
                    role_id: rid.clone(),
                    name: r.name.clone(),
                },
            );
            let actors: BTreeSet<Principal> = r
                .user_actors
                .iter()
                .map(|a| Principal::User(AccountId::new(a.clone())))
                .chain(
                    r.group_actors
                        .iter()
                        .map(|g| Principal::Group(GroupId::new(g.clone()))),
                )
                .collect();
            if !actors.is_empty() {
                s.role_actors.insert((pid.clone(), rid), actors);
            }
        }
    }
    for a in &org.application_roles {
        let groups: BTreeSet<GroupId> = a
            .groups
            .iter()
            .map(|n| {
                by_name
                    .get(n)
                    .unwrap_or_else(|| panic!("product {} names unknown group {n}", a.key))
                    .clone()
            })
            .collect();
        if !groups.is_empty() {
            s.products
                .insert(ProductKey::new(a.key.clone()), (a.name.clone(), groups));
        }
    }
    s
}

/// Compares the projection of `site` in `log` with `org`, field by field, with a
/// readable message for the first difference.
///
/// # Panics
/// On the first difference, or when the log cannot be read.
pub fn assert_state_matches(log: &EventLog, site: &str, org: &Org) {
    let got = SiteState::load(log, site).expect("the log reads");
    let want = expected_state(org);
    assert_eq!(got.users.len(), want.users.len(), "user count");
    for (id, u) in &want.users {
        assert_eq!(got.users.get(id), Some(u), "user {id}");
    }
    assert_eq!(got.groups, want.groups, "groups");
    for (g, m) in &want.members {
        assert_eq!(got.members.get(g), Some(m), "members of {g}");
    }
    assert_eq!(got.members.len(), want.members.len(), "groups with members");
    assert_eq!(got.projects, want.projects, "projects");
    assert_eq!(got.roles, want.roles, "roles");
    assert_eq!(got.role_actors, want.role_actors, "role actors");
    assert_eq!(got.products, want.products, "products");
}

/// The access events (directory and grants) appended after `position`.
///
/// # Panics
/// When the log cannot be read.
pub fn access_events_after(log: &EventLog, position: Position) -> Vec<Event> {
    log.read_from(position + 1)
        .map(|r| r.expect("the log reads").event)
        .filter(Event::is_access_event)
        .collect()
}
