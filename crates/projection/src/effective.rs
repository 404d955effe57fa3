//! Effective access: what a user can actually reach, and who reaches an
//! entitlement, each with the path that gives it.
//!
//! Jira Cloud has two ways to hold something besides holding it directly: a
//! project role whose actor is a group reaches every member of that group, and a
//! product reaches every member of each of its product-access groups. Group-in-group
//! membership does not exist in Jira Cloud, so every path has at most one group.

use std::collections::BTreeSet;

use grantledger_model::{AccountId, GroupId, Principal, ProductKey, ProjectId, RoleId};
use serde::Serialize;

use crate::state::SiteState;

/// Something that can be held.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// Membership of a group.
    Group {
        /// The group.
        group: GroupId,
    },
    /// A role in a project.
    ProjectRole {
        /// The project.
        project: ProjectId,
        /// The role.
        role: RoleId,
    },
    /// A Jira product.
    Product {
        /// The product.
        product: ProductKey,
    },
}

/// One way a user reaches a target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Reach {
    /// What is reached.
    pub target: Target,
    /// `None` when held directly; otherwise the group that gives it.
    pub via: Option<GroupId>,
}

/// One holder of a target, and how it holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Holder {
    /// Who holds it: a user, or a group (a role actor or a product-access group).
    pub principal: Principal,
    /// `None` when held directly; otherwise the group it is held through.
    pub via: Option<GroupId>,
}

/// Everything `user` can reach, direct and through groups, in a stable order.
/// Inactive and unknown accounts are answered like any other: the caller shows
/// their status, nothing is dropped here.
pub fn user_access(state: &SiteState, user: &AccountId) -> Vec<Reach> {
    let groups: BTreeSet<&GroupId> = state
        .members
        .iter()
        .filter(|(_, m)| m.contains(user))
        .map(|(g, _)| g)
        .collect();
    let mut out = BTreeSet::new();
    for g in &groups {
        out.insert(Reach {
            target: Target::Group {
                group: (*g).clone(),
            },
            via: None,
        });
    }
    for ((project, role), actors) in &state.role_actors {
        let target = || Target::ProjectRole {
            project: project.clone(),
            role: role.clone(),
        };
        for actor in actors {
            match actor {
                Principal::User(u) if u == user => {
                    out.insert(Reach {
                        target: target(),
                        via: None,
                    });
                }
                Principal::Group(g) if groups.contains(g) => {
                    out.insert(Reach {
                        target: target(),
                        via: Some(g.clone()),
                    });
                }
                _ => {}
            }
        }
    }
    for (product, (_, product_groups)) in &state.products {
        for g in product_groups.iter().filter(|g| groups.contains(g)) {
            out.insert(Reach {
                target: Target::Product {
                    product: product.clone(),
                },
                via: Some(g.clone()),
            });
        }
    }
    out.into_iter().collect()
}

/// Everyone who holds `target`, direct and through groups, in a stable order: the
/// direct holders (users, and groups that are role actors or product-access
/// groups), then each such group's members with the group as their path.
pub fn holders(state: &SiteState, target: &Target) -> Vec<Holder> {
    let mut out = BTreeSet::new();
    let through_group = |g: &GroupId, out: &mut BTreeSet<Holder>| {
        out.insert(Holder {
            principal: Principal::Group(g.clone()),
            via: None,
        });
        for u in state.members.get(g).into_iter().flatten() {
            out.insert(Holder {
                principal: Principal::User(u.clone()),
                via: Some(g.clone()),
            });
        }
    };
    match target {
        Target::Group { group } => {
            for u in state.members.get(group).into_iter().flatten() {
                out.insert(Holder {
                    principal: Principal::User(u.clone()),
                    via: None,
                });
            }
        }
        Target::ProjectRole { project, role } => {
            let actors = state.role_actors.get(&(project.clone(), role.clone()));
            for actor in actors.into_iter().flatten() {
                match actor {
                    Principal::User(_) => {
                        out.insert(Holder {
                            principal: actor.clone(),
                            via: None,
                        });
                    }
                    Principal::Group(g) => through_group(g, &mut out),
                }
            }
        }
        Target::Product { product } => {
            if let Some((_, groups)) = state.products.get(product) {
                for g in groups {
                    through_group(g, &mut out);
                }
            }
        }
    }
    out.into_iter().collect()
}

/// Every role of a project, as targets (for `access who PROJECTKEY`).
pub fn project_roles(state: &SiteState, project: &ProjectId) -> Vec<Target> {
    state
        .roles
        .get(project)
        .into_iter()
        .flat_map(|roles| roles.keys())
        .map(|role| Target::ProjectRole {
            project: project.clone(),
            role: role.clone(),
        })
        .collect()
}
