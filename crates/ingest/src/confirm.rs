//! What a listing would remove, so that a removal is recorded only when two
//! listings agree on it (ADR 0004, ADR 0006).

use std::collections::BTreeSet;

use grantledger_jira::types::GroupIndex;
use grantledger_model::{AccountId, GroupId, Principal};
use grantledger_projection::SiteState;

use crate::scope::Scope;
use crate::sync::failure::ScopeFailure;
use crate::sync::listing::{Data, Payload};

/// The ids a paged listing (users, groups, projects, a group's members) no
/// longer holds, of those the state knows.
pub(crate) fn removed_by(state: &SiteState, scope: &Scope, listing: &Payload) -> BTreeSet<String> {
    fn missing<'a>(
        known: impl Iterator<Item = &'a str>,
        listed: &BTreeSet<&str>,
    ) -> BTreeSet<String> {
        known
            .filter(|id| !listed.contains(id))
            .map(str::to_owned)
            .collect()
    }
    match (scope, listing) {
        (Scope::Users, Payload::Users(users)) => {
            let listed = users.iter().map(|u| u.account_id.as_str()).collect();
            missing(state.users.keys().map(AccountId::as_str), &listed)
        }
        (Scope::Members(g), Payload::Users(users)) => {
            let listed = users.iter().map(|u| u.account_id.as_str()).collect();
            state.members.get(g).map_or_else(BTreeSet::new, |m| {
                missing(m.iter().map(AccountId::as_str), &listed)
            })
        }
        (Scope::Groups, Payload::Groups(groups)) => {
            let listed = groups
                .iter()
                .filter_map(|g| g.group_id.as_deref())
                .collect();
            missing(state.groups.keys().map(GroupId::as_str), &listed)
        }
        (Scope::Projects, Payload::Projects(projects)) => {
            let listed = projects.iter().map(|p| p.id.as_str()).collect();
            missing(state.projects.keys().map(|p| p.as_str()), &listed)
        }
        _ => BTreeSet::new(),
    }
}

/// How many items the state holds for a role map, role or product scope.
pub(crate) fn held(state: &SiteState, scope: &Scope) -> usize {
    match scope {
        Scope::Users => state.users.len(),
        Scope::Groups => state.groups.len(),
        Scope::Projects => state.projects.len(),
        Scope::Members(g) => state.members.get(g).map_or(0, |m| m.len()),
        Scope::Roles(p) => state.roles.get(p).map_or(0, |r| r.len()),
        Scope::Actors(p, r) => state
            .role_actors
            .get(&(p.clone(), r.clone()))
            .map_or(0, |a| a.len()),
        Scope::Products => state.products.values().map(|(_, g)| g.len()).sum(),
    }
}

/// The items a role map, role or product listing would remove: role ids,
/// actors, or `product/group` grants. An actor whose group cannot be resolved
/// counts as not listed (the diff fails such a listing anyway).
pub(crate) fn removed_by_other(
    state: &SiteState,
    groups: &GroupIndex,
    scope: &Scope,
    data: &Data,
) -> BTreeSet<String> {
    match (scope, data) {
        (Scope::Roles(_), Data::Roles(p, roles)) => {
            let listed: BTreeSet<&str> = roles.iter().map(|r| r.id.as_str()).collect();
            state.roles.get(p).map_or_else(BTreeSet::new, |known| {
                known
                    .keys()
                    .filter(|id| !listed.contains(id.as_str()))
                    .map(|id| id.as_str().to_owned())
                    .collect()
            })
        }
        (Scope::Actors(_, _), Data::Actors(p, r, role)) => {
            let listed: BTreeSet<Principal> = role
                .actors
                .iter()
                .filter_map(|a| match (a.account_id(), &a.actor_group) {
                    (Some(id), _) => Some(Principal::User(AccountId::from(id))),
                    (None, Some(g)) => groups.resolve(g).ok().map(Principal::Group),
                    _ => None,
                })
                .collect();
            state
                .role_actors
                .get(&(p.clone(), r.clone()))
                .map_or_else(BTreeSet::new, |known| {
                    known
                        .iter()
                        .filter(|a| !listed.contains(*a))
                        .map(|a| format!("{a:?}"))
                        .collect()
                })
        }
        (Scope::Products, Data::Products(products)) => {
            let mut listed: BTreeSet<(String, String)> = BTreeSet::new();
            for p in products {
                for name in &p.groups {
                    let id = p
                        .group_details
                        .iter()
                        .find(|g| g.name.as_deref() == Some(name.as_str()))
                        .and_then(|g| g.group_id.clone())
                        .or_else(|| groups.id_of(name).map(|g| g.as_str().to_owned()));
                    if let Some(id) = id {
                        listed.insert((p.key.clone(), id));
                    }
                }
            }
            let mut out = BTreeSet::new();
            for (key, (_, gs)) in &state.products {
                for g in gs {
                    let grant = (key.as_str().to_owned(), g.as_str().to_owned());
                    if !listed.contains(&grant) {
                        out.insert(format!("{}/{}", grant.0, grant.1));
                    }
                }
            }
            out
        }
        _ => BTreeSet::new(),
    }
}

/// Why two listings of one scope prove no removal, in one line.
pub(crate) fn disagreement(first: &BTreeSet<String>, second: &BTreeSet<String>) -> ScopeFailure {
    ScopeFailure::Disagreement {
        first: first.len(),
        second: second.len(),
        only_first: first.difference(second).count(),
        only_second: second.difference(first).count(),
    }
}
