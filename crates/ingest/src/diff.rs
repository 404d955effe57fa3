//! The diff rules: one completely listed scope against the current state gives the
//! events that make the state equal to what was listed. Pure functions, no I/O.
//!
//! Every function returns events in a deterministic order (sorted by id), and
//! leaves the state untouched; the caller folds the events in before diffing the
//! next scope, so later scopes see earlier changes.
//!
//! **The watermark** (ADR 0010): the functions that touch grants take the log
//! position just before the scope's first page request. A grant whose last
//! change in the state ([`SiteState::last_change`]) is after it was changed by
//! another writer while the scope was being listed, so the listing may predate
//! that change: the diff neither adds nor removes it (nor vanishes the group,
//! project or role holding it), and the next sync, whose listing starts later,
//! decides. [`SETTLED`] passes for a caller with no other writer to fear.

use std::collections::{BTreeMap, BTreeSet};

use grantledger_eventlog::Position;
use grantledger_model::*;
use grantledger_projection::SiteState;

/// A watermark under which every change in the state counts as settled.
pub const SETTLED: Position = Position::MAX;

/// Whether the listing of a scope that began at `watermark` may decide about
/// `grant`: its last change is at or before the watermark (or it never changed).
pub fn settled(state: &SiteState, grant: &Grant, watermark: Position) -> bool {
    state.last_change(grant).is_none_or(|p| p <= watermark)
}

fn cause(run: &SyncRunId) -> GrantCause {
    GrantCause::ObservedInSync { run: run.clone() }
}

fn removed(grant: Grant, run: &SyncRunId) -> Event {
    GrantRemoved {
        grant,
        cause: cause(run),
    }
    .into()
}

fn added(grant: Grant, run: &SyncRunId) -> Event {
    GrantAdded {
        grant,
        cause: cause(run),
    }
    .into()
}

/// The complete user list.
pub fn users(state: &SiteState, listed: &[UserRecord]) -> Vec<Event> {
    let listed: BTreeMap<&AccountId, &UserRecord> =
        listed.iter().map(|u| (&u.account_id, u)).collect();
    let mut out = Vec::new();
    for (id, now) in &listed {
        match state.users.get(*id) {
            None => out.push(
                UserObserved {
                    user: (*now).clone(),
                }
                .into(),
            ),
            Some(before) => {
                let mut after = (*now).clone();
                after.active = before.active;
                if after != *before {
                    out.push(
                        UserChanged {
                            before: before.clone(),
                            after,
                        }
                        .into(),
                    );
                }
                match (before.active, now.active) {
                    (true, false) => out.push(
                        UserDeactivated {
                            account_id: (*id).clone(),
                        }
                        .into(),
                    ),
                    (false, true) => out.push(
                        UserReactivated {
                            account_id: (*id).clone(),
                        }
                        .into(),
                    ),
                    _ => {}
                }
            }
        }
    }
    for id in state.users.keys() {
        if !listed.contains_key(id) {
            out.push(
                UserVanished {
                    account_id: id.clone(),
                }
                .into(),
            );
        }
    }
    out
}

/// The complete group list. A group that is gone takes its memberships and its
/// role actor grants with it: Jira deletes those with the group, and they can no
/// longer be listed.
pub fn groups(
    state: &SiteState,
    listed: &[GroupRecord],
    watermark: Position,
    run: &SyncRunId,
) -> Vec<Event> {
    let listed: BTreeMap<&GroupId, &GroupRecord> =
        listed.iter().map(|g| (&g.group_id, g)).collect();
    let mut out = Vec::new();
    for (id, now) in &listed {
        match state.groups.get(*id) {
            None => out.push(
                GroupObserved {
                    group: (*now).clone(),
                }
                .into(),
            ),
            Some(before) if before.name != now.name => out.push(
                GroupRenamed {
                    group_id: (*id).clone(),
                    from: before.name.clone(),
                    to: now.name.clone(),
                }
                .into(),
            ),
            Some(_) => {}
        }
    }
    for (id, before) in &state.groups {
        if listed.contains_key(id) {
            continue;
        }
        let mut grants: Vec<Grant> = state
            .members
            .get(id)
            .into_iter()
            .flatten()
            .map(|user| Grant::membership(user.clone(), id.clone()))
            .collect();
        let as_actor = Principal::Group(id.clone());
        for ((project, role), actors) in &state.role_actors {
            if actors.contains(&as_actor) {
                grants.push(Grant::role(as_actor.clone(), project.clone(), role.clone()));
            }
        }
        // A grant of the group changed after the listing began: the group may
        // be younger than the listing knows; the next sync decides.
        if !grants.iter().all(|g| settled(state, g, watermark)) {
            continue;
        }
        out.extend(grants.into_iter().map(|g| removed(g, run)));
        out.push(
            GroupVanished {
                group_id: id.clone(),
                name: before.name.clone(),
            }
            .into(),
        );
    }
    out
}

/// The complete project list. A project that is gone takes its roles and their
/// actor grants with it.
pub fn projects(
    state: &SiteState,
    listed: &[ProjectRecord],
    watermark: Position,
    run: &SyncRunId,
) -> Vec<Event> {
    let listed: BTreeMap<&ProjectId, &ProjectRecord> =
        listed.iter().map(|p| (&p.project_id, p)).collect();
    let mut out = Vec::new();
    for (id, now) in &listed {
        match state.projects.get(*id) {
            None => out.push(
                ProjectObserved {
                    project: (*now).clone(),
                }
                .into(),
            ),
            Some(before) if before != *now => out.push(
                ProjectChanged {
                    before: before.clone(),
                    after: (*now).clone(),
                }
                .into(),
            ),
            Some(_) => {}
        }
    }
    for (id, before) in &state.projects {
        if listed.contains_key(id) {
            continue;
        }
        let roles: Vec<&RoleId> = state
            .roles
            .get(id)
            .into_iter()
            .flat_map(BTreeMap::keys)
            .collect();
        if !roles.iter().all(|r| role_settled(state, id, r, watermark)) {
            continue;
        }
        for role in roles {
            out.extend(role_gone(state, id, role, run));
        }
        out.push(
            ProjectVanished {
                project_id: id.clone(),
                key: before.key.clone(),
            }
            .into(),
        );
    }
    out
}

/// Whether every actor grant of a role is settled under `watermark`.
fn role_settled(
    state: &SiteState,
    project: &ProjectId,
    role: &RoleId,
    watermark: Position,
) -> bool {
    state
        .role_actors
        .get(&(project.clone(), role.clone()))
        .into_iter()
        .flatten()
        .all(|a| {
            settled(
                state,
                &Grant::role(a.clone(), project.clone(), role.clone()),
                watermark,
            )
        })
}

fn role_gone(state: &SiteState, project: &ProjectId, role: &RoleId, run: &SyncRunId) -> Vec<Event> {
    let mut out = Vec::new();
    for actor in state
        .role_actors
        .get(&(project.clone(), role.clone()))
        .into_iter()
        .flatten()
    {
        out.push(removed(
            Grant::role(actor.clone(), project.clone(), role.clone()),
            run,
        ));
    }
    out.push(
        ProjectRoleVanished {
            project_id: project.clone(),
            role_id: role.clone(),
        }
        .into(),
    );
    out
}

/// The complete list of one project's roles.
pub fn roles(
    state: &SiteState,
    project: &ProjectId,
    listed: &[RoleRecord],
    watermark: Position,
    run: &SyncRunId,
) -> Vec<Event> {
    let known = state.roles.get(project);
    let listed: BTreeMap<&RoleId, &RoleRecord> = listed.iter().map(|r| (&r.role_id, r)).collect();
    let mut out = Vec::new();
    for (id, now) in &listed {
        if known.and_then(|k| k.get(*id)) != Some(*now) {
            out.push(
                ProjectRoleObserved {
                    role: (*now).clone(),
                }
                .into(),
            );
        }
    }
    for id in known.into_iter().flat_map(BTreeMap::keys) {
        if !listed.contains_key(id) && role_settled(state, project, id, watermark) {
            out.extend(role_gone(state, project, id, run));
        }
    }
    out
}

/// The complete member list of one group.
pub fn members(
    state: &SiteState,
    group: &GroupId,
    listed: &[AccountId],
    watermark: Position,
    run: &SyncRunId,
) -> Vec<Event> {
    let listed: BTreeSet<&AccountId> = listed.iter().collect();
    let known = state.members.get(group);
    let mut out = Vec::new();
    for user in &listed {
        let grant = Grant::membership((*user).clone(), group.clone());
        if !known.is_some_and(|k| k.contains(*user)) && settled(state, &grant, watermark) {
            out.push(added(grant, run));
        }
    }
    for user in known.into_iter().flatten() {
        let grant = Grant::membership(user.clone(), group.clone());
        if !listed.contains(user) && settled(state, &grant, watermark) {
            out.push(removed(grant, run));
        }
    }
    out
}

/// The complete actor list of one project role.
pub fn actors(
    state: &SiteState,
    project: &ProjectId,
    role: &RoleId,
    listed: &[Principal],
    watermark: Position,
    run: &SyncRunId,
) -> Vec<Event> {
    let listed: BTreeSet<&Principal> = listed.iter().collect();
    let known = state.role_actors.get(&(project.clone(), role.clone()));
    let mut out = Vec::new();
    for actor in &listed {
        let grant = Grant::role((*actor).clone(), project.clone(), role.clone());
        if !known.is_some_and(|k| k.contains(*actor)) && settled(state, &grant, watermark) {
            out.push(added(grant, run));
        }
    }
    for actor in known.into_iter().flatten() {
        let grant = Grant::role(actor.clone(), project.clone(), role.clone());
        if !listed.contains(actor) && settled(state, &grant, watermark) {
            out.push(removed(grant, run));
        }
    }
    out
}

/// One product and the groups that give access to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductGroups {
    /// The product.
    pub product: ProductKey,
    /// Its name.
    pub name: String,
    /// The groups.
    pub groups: BTreeSet<GroupId>,
}

/// The complete product list. A product that is gone is recorded with no groups.
pub fn products(state: &SiteState, listed: &[ProductGroups]) -> Vec<Event> {
    let listed: BTreeMap<&ProductKey, &ProductGroups> =
        listed.iter().map(|p| (&p.product, p)).collect();
    let mut out = Vec::new();
    for (key, now) in &listed {
        let same = state
            .products
            .get(*key)
            .is_some_and(|(name, groups)| *name == now.name && *groups == now.groups);
        // A product without groups is the same as no product.
        let known = state.products.contains_key(*key);
        if !same && (known || !now.groups.is_empty()) {
            out.push(
                ProductAccessGroupsChanged {
                    product: (*key).clone(),
                    name: now.name.clone(),
                    groups: now.groups.iter().cloned().collect(),
                }
                .into(),
            );
        }
    }
    for (key, (name, _)) in &state.products {
        if !listed.contains_key(key) {
            out.push(
                ProductAccessGroupsChanged {
                    product: key.clone(),
                    name: name.clone(),
                    groups: Vec::new(),
                }
                .into(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Given a state, when a scope is listed, then these events.
    use super::*;
    use grantledger_testkit::Given;

    fn run() -> SyncRunId {
        SyncRunId::from("run-2")
    }

    fn user(id: &str, active: bool, email: Option<&str>) -> UserRecord {
        UserRecord {
            account_id: id.into(),
            account_type: AccountType::Atlassian,
            display_name: id.to_uppercase(),
            email: email.map(str::to_owned),
            active,
        }
    }

    /// The state folded from `events` (the test kit's given / when / then).
    fn given(events: Vec<Event>) -> SiteState {
        grantledger_testkit::given::<SiteState>(events)
            .state()
            .clone()
    }

    fn then_applies_to(state: &SiteState, events: &[Event]) -> SiteState {
        Given::from_state(state.clone())
            .when(|_| events.to_vec())
            .after()
    }

    #[test]
    fn users_new_changed_deactivated_reactivated_and_gone() {
        let listed = vec![
            user("a", false, None),       // email hidden now, and deactivated
            user("b", true, None),        // unchanged
            user("c", true, None),        // reactivated
            user("e", true, Some("e@x")), // new
        ];
        let want: BTreeMap<AccountId, UserRecord> = listed
            .iter()
            .map(|u| (u.account_id.clone(), u.clone()))
            .collect();
        grantledger_testkit::given::<SiteState>(vec![
            UserObserved {
                user: user("a", true, Some("a@x")),
            }
            .into(),
            UserObserved {
                user: user("b", true, None),
            }
            .into(),
            UserObserved {
                user: user("c", false, None),
            }
            .into(),
            UserObserved {
                user: user("d", true, None),
            }
            .into(),
        ])
        .when(|state| users(state, &listed))
        .then_types(&[
            "UserChanged",
            "UserDeactivated",
            "UserReactivated",
            "UserObserved",
            "UserVanished",
        ])
        .then_state(|after| assert_eq!(after.users, want))
        .then_converges(|after| users(after, &listed));
    }

    #[test]
    fn a_renamed_group_keeps_its_id_and_a_vanished_group_takes_its_grants() {
        let g = |id: &str, name: &str| GroupRecord {
            group_id: id.into(),
            name: name.into(),
        };
        let state = given(vec![
            GroupObserved {
                group: g("g1", "devs"),
            }
            .into(),
            GroupObserved {
                group: g("g2", "old"),
            }
            .into(),
            added(Grant::membership("u1".into(), "g2".into()), &run()),
            added(
                Grant::role(Principal::Group("g2".into()), "p1".into(), "r1".into()),
                &run(),
            ),
        ]);
        let events = groups(
            &state,
            &[g("g1", "developers"), g("g3", "new")],
            SETTLED,
            &run(),
        );
        let types: Vec<_> = events.iter().map(Event::event_type).collect();
        assert_eq!(
            types,
            vec![
                "GroupRenamed",
                "GroupObserved",
                "GrantRemoved",
                "GrantRemoved",
                "GroupVanished"
            ]
        );
        let after = then_applies_to(&state, &events);
        assert_eq!(after.groups.len(), 2);
        assert_eq!(after.groups[&GroupId::from("g1")].name, "developers");
        assert_eq!(after.membership_count() + after.role_grant_count(), 0);
    }

    #[test]
    fn members_and_actors_are_set_differences() {
        let state = given(vec![
            added(Grant::membership("u1".into(), "g1".into()), &run()),
            added(Grant::membership("u2".into(), "g1".into()), &run()),
        ]);
        let events = members(
            &state,
            &"g1".into(),
            &["u2".into(), "u3".into()],
            SETTLED,
            &run(),
        );
        assert_eq!(
            events,
            vec![
                added(Grant::membership("u3".into(), "g1".into()), &run()),
                removed(Grant::membership("u1".into(), "g1".into()), &run()),
            ]
        );
        let p = ProjectId::from("p1");
        let r = RoleId::from("r1");
        let listed = vec![Principal::User("u1".into()), Principal::Group("g1".into())];
        let events = actors(&state, &p, &r, &listed, SETTLED, &run());
        assert_eq!(events.len(), 2);
        let after = then_applies_to(&state, &events);
        assert!(actors(&after, &p, &r, &listed, SETTLED, &run()).is_empty());
        assert_eq!(actors(&after, &p, &r, &[], SETTLED, &run()).len(), 2);
    }

    #[test]
    fn a_grant_changed_after_the_watermark_is_left_to_the_next_sync() {
        let m = |u: &str| Grant::membership(u.into(), "g1".into());
        // u1 held since position 2; u2 added and u3 removed by another writer at 10.
        let mut state = given(vec![
            GroupObserved {
                group: GroupRecord {
                    group_id: "g1".into(),
                    name: "devs".into(),
                },
            }
            .into(),
            added(m("u1"), &run()),
            added(m("u2"), &run()),
        ]);
        state.grant_changes.insert(m("u1"), 2);
        state.grant_changes.insert(m("u2"), 10);
        state.grant_changes.insert(m("u3"), 10);
        // A listing that began at 5 holds u3 but neither u1 nor u2: it may
        // predate both changes at 10, so only u1's removal is its to decide.
        let listed = ["u3".into()];
        assert_eq!(
            members(&state, &"g1".into(), &listed, 5, &run()),
            vec![removed(m("u1"), &run())]
        );
        // A listing that began at 10 saw them: it decides all three.
        assert_eq!(
            members(&state, &"g1".into(), &listed, 10, &run()),
            vec![
                added(m("u3"), &run()),
                removed(m("u1"), &run()),
                removed(m("u2"), &run())
            ]
        );
        // The same for a role's actors.
        let (p, r) = (ProjectId::from("p1"), RoleId::from("r1"));
        let actor = Grant::role(Principal::User("u4".into()), p.clone(), r.clone());
        state.grant_changes.insert(actor.clone(), 10);
        let listed = [Principal::User("u4".into())];
        assert!(actors(&state, &p, &r, &listed, 5, &run()).is_empty());
        assert_eq!(
            actors(&state, &p, &r, &listed, 10, &run()),
            vec![added(actor, &run())]
        );
        // A group missing from a listing that began before one of its grants
        // changed is not called gone (Jira deletes memberships with the group).
        assert!(groups(&state, &[], 5, &run()).is_empty());
        assert_eq!(
            groups(&state, &[], 10, &run())
                .iter()
                .map(Event::event_type)
                .collect::<Vec<_>>(),
            ["GrantRemoved", "GrantRemoved", "GroupVanished"]
        );
    }

    #[test]
    fn projects_and_roles_changed_and_gone() {
        let proj = |key: &str, archived| ProjectRecord {
            project_id: "p1".into(),
            key: key.into(),
            name: "P".into(),
            archived,
        };
        let role = RoleRecord {
            project_id: "p1".into(),
            role_id: "r1".into(),
            name: "Admins".into(),
        };
        let state = given(vec![
            ProjectObserved {
                project: proj("P", false),
            }
            .into(),
            ProjectRoleObserved { role: role.clone() }.into(),
            added(
                Grant::role(Principal::User("u1".into()), "p1".into(), "r1".into()),
                &run(),
            ),
        ]);
        let changed = projects(&state, &[proj("PX", true)], SETTLED, &run());
        assert_eq!(
            changed.iter().map(Event::event_type).collect::<Vec<_>>(),
            vec!["ProjectChanged"]
        );
        let gone = projects(&state, &[], SETTLED, &run());
        assert_eq!(
            gone.iter().map(Event::event_type).collect::<Vec<_>>(),
            vec!["GrantRemoved", "ProjectRoleVanished", "ProjectVanished"]
        );
        let renamed = RoleRecord {
            name: "Administrators".into(),
            ..role.clone()
        };
        assert_eq!(
            roles(&state, &"p1".into(), &[renamed], SETTLED, &run()).len(),
            1
        );
        assert!(roles(&state, &"p1".into(), &[role], SETTLED, &run()).is_empty());
        let after = then_applies_to(&state, &gone);
        assert!(
            after.projects.is_empty() && after.roles.is_empty() && after.role_actors.is_empty()
        );
    }

    #[test]
    fn product_groups_change_as_sets() {
        let pg = |groups: &[&str]| ProductGroups {
            product: "jira-software".into(),
            name: "Jira Software".into(),
            groups: groups.iter().map(|g| GroupId::from(*g)).collect(),
        };
        let state = SiteState::default();
        let first = products(&state, &[pg(&["g1", "g2"])]);
        assert_eq!(first.len(), 1);
        let after = then_applies_to(&state, &first);
        assert!(products(&after, &[pg(&["g2", "g1"])]).is_empty());
        assert_eq!(products(&after, &[pg(&["g1"])]).len(), 1);
        let gone = products(&after, &[]);
        assert!(then_applies_to(&after, &gone).products.is_empty());
    }
}
