//! The population of a campaign: which direct grants of a site's state its scope
//! selects, who reviews each (the reviewer rules, first match wins), and the
//! item digest (canonical lines, canonical order; `docs/review-digest.md`).
//! Pure functions of a [`SiteState`]: the launch, the preview and `review
//! verify` all call them, on the state at the launch position.

use std::collections::BTreeMap;

use grantledger_model::*;
use grantledger_projection::SiteState;
use sha2::{Digest, Sha256};

pub use grantledger_model::names::{
    glob_matches as glob, BUILT_IN_PRIVILEGED_GROUPS as BUILT_IN_PRIVILEGED,
};

fn any_glob(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| glob(p, name))
}

/// The canonical line of a grant (without its newline): a compact JSON array
/// of strings, as `docs/review-digest.md` specifies.
pub fn canonical_line(grant: &Grant) -> String {
    let parts: Vec<&str> = match (&grant.principal, &grant.entitlement) {
        (Principal::User(a), Entitlement::GroupMembership { group }) => {
            vec!["member", a.as_str(), group.as_str()]
        }
        (Principal::User(a), Entitlement::ProjectRole { project, role }) => {
            vec!["role-user", a.as_str(), project.as_str(), role.as_str()]
        }
        (Principal::Group(g), Entitlement::ProjectRole { project, role }) => {
            vec!["role-group", g.as_str(), project.as_str(), role.as_str()]
        }
        // Never selected: product access is reviewed through the memberships
        // that give it, and groups are not members of groups.
        (Principal::User(a), Entitlement::ProductAccess { product }) => {
            vec!["product-user", a.as_str(), product.as_str()]
        }
        (Principal::Group(g), Entitlement::ProductAccess { product }) => {
            vec!["product-group", g.as_str(), product.as_str()]
        }
        (Principal::Group(g), Entitlement::GroupMembership { group }) => {
            vec!["group-member", g.as_str(), group.as_str()]
        }
    };
    serde_json::to_string(&parts).expect("strings serialize")
}

/// The grants the scope selects from `state`, in canonical order (by canonical
/// line, bytewise), with their digest. `since` is the resolved position of a
/// delta scope (grants whose last change is after it).
pub fn select(state: &SiteState, scope: &CampaignScope, since: Option<u64>) -> Population {
    // Groups selected for membership review, by the names they had.
    let mut member_groups: Vec<&GroupId> = Vec::new();
    let mut all_roles = false;
    let mut role_projects: Vec<(&Vec<String>, &Vec<String>)> = Vec::new();
    let mut all_memberships = false;
    for sel in &scope.selectors {
        match sel {
            ScopeSelector::AllGrants => {
                all_memberships = true;
                all_roles = true;
            }
            ScopeSelector::Groups { patterns } | ScopeSelector::PrivilegedGroups { patterns } => {
                member_groups.extend(
                    state
                        .groups
                        .values()
                        .filter(|g| any_glob(patterns, &g.name))
                        .map(|g| &g.group_id),
                );
            }
            ScopeSelector::ProductAccess { products } => {
                for p in products {
                    if let Some((_, groups)) = state.products.get(p) {
                        member_groups.extend(groups.iter());
                    }
                }
            }
            ScopeSelector::ProjectRoles { projects, roles } => {
                role_projects.push((projects, roles))
            }
        }
    }
    member_groups.sort_unstable();
    member_groups.dedup();
    let keep_user = |a: &AccountId| -> bool {
        let t = state
            .users
            .get(a)
            .map_or(AccountType::Unknown, |u| u.account_type);
        scope.account_types.contains(&t)
    };
    let keep_since = |g: &Grant| -> bool {
        match since {
            None => true,
            Some(s) => state.last_change(g).is_some_and(|p| p > s),
        }
    };
    let mut grants: Vec<Grant> = Vec::new();
    let memberships: Box<dyn Iterator<Item = (&GroupId, &std::collections::BTreeSet<AccountId>)>> =
        if all_memberships {
            Box::new(state.members.iter())
        } else {
            Box::new(
                member_groups
                    .iter()
                    .filter_map(|g| state.members.get_key_value(*g)),
            )
        };
    for (group, users) in memberships {
        for u in users {
            if keep_user(u) {
                let g = Grant::membership(u.clone(), group.clone());
                if keep_since(&g) {
                    grants.push(g);
                }
            }
        }
    }
    for ((project, role), actors) in &state.role_actors {
        let selected = all_roles || {
            let key = state.projects.get(project).map(|p| p.key.as_str());
            let role_name = state
                .roles
                .get(project)
                .and_then(|r| r.get(role))
                .map(|r| r.name.as_str());
            role_projects.iter().any(|(projects, roles)| {
                key.is_some_and(|k| any_glob(projects, k))
                    && (roles.is_empty() || role_name.is_some_and(|n| any_glob(roles, n)))
            })
        };
        if !selected {
            continue;
        }
        for a in actors {
            let keep = match a {
                Principal::User(u) => keep_user(u),
                Principal::Group(_) => true,
            };
            if keep {
                let g = Grant::role(a.clone(), project.clone(), role.clone());
                if keep_since(&g) {
                    grants.push(g);
                }
            }
        }
    }
    let mut lines: Vec<(String, Grant)> = grants
        .into_iter()
        .map(|g| (canonical_line(&g), g))
        .collect();
    lines.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    lines.dedup_by(|a, b| a.0 == b.0);
    let mut hasher = Sha256::new();
    for (line, _) in &lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    Population {
        digest: hex::encode(hasher.finalize()),
        grants: lines.into_iter().map(|(_, g)| g).collect(),
    }
}

/// The digest of an empty item set (SHA-256 of nothing).
pub fn empty_digest() -> String {
    hex::encode(Sha256::digest(b""))
}

/// A selected population: the grants in canonical order and their digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Population {
    /// The grants, item `i<N>` at index N-1.
    pub grants: Vec<Grant>,
    /// SHA-256 of the canonical lines, lowercase hex.
    pub digest: String,
}

/// Who reviews each grant: the first rule naming a reviewer, as
/// `(reviewer, rule index)`; `None` when no rule does.
pub fn assign(
    state: &SiteState,
    rules: &[ReviewerRule],
    grants: &[Grant],
) -> Vec<Option<(AccountId, u32)>> {
    let managers: Vec<BTreeMap<&AccountId, &AccountId>> = rules
        .iter()
        .map(|r| match r {
            ReviewerRule::Manager { managers } => {
                managers.iter().map(|m| (&m.user, &m.manager)).collect()
            }
            _ => BTreeMap::new(),
        })
        .collect();
    grants
        .iter()
        .map(|grant| {
            rules.iter().enumerate().find_map(|(i, rule)| {
                let who = match rule {
                    ReviewerRule::Owner {
                        groups,
                        projects,
                        reviewer,
                        ..
                    } => {
                        let hit = match &grant.entitlement {
                            Entitlement::GroupMembership { group } => state
                                .groups
                                .get(group)
                                .is_some_and(|g| any_glob(groups, &g.name)),
                            Entitlement::ProjectRole { project, .. } => state
                                .projects
                                .get(project)
                                .is_some_and(|p| any_glob(projects, &p.key)),
                            Entitlement::ProductAccess { .. } => false,
                        };
                        hit.then(|| reviewer.clone())
                    }
                    ReviewerRule::Manager { .. } => match &grant.principal {
                        Principal::User(u) => managers[i].get(u).map(|m| (*m).clone()),
                        Principal::Group(_) => None,
                    },
                    ReviewerRule::Fallback { reviewer } => Some(reviewer.clone()),
                };
                who.map(|w| (w, i as u32))
            })
        })
        .collect()
}

/// One line per selector, for people (`show`, the report).
pub fn describe_scope(scope: &CampaignScope) -> Vec<String> {
    let mut out: Vec<String> = scope
        .selectors
        .iter()
        .map(|s| match s {
            ScopeSelector::AllGrants => "every group membership and project-role actor".to_owned(),
            ScopeSelector::Groups { patterns } => {
                format!("members of groups {}", patterns.join(", "))
            }
            ScopeSelector::PrivilegedGroups { patterns } => {
                format!("members of privileged groups ({})", patterns.join(", "))
            }
            ScopeSelector::ProjectRoles { projects, roles } => {
                if roles.is_empty() {
                    format!("every role of projects {}", projects.join(", "))
                } else {
                    format!(
                        "roles {} of projects {}",
                        roles.join(", "),
                        projects.join(", ")
                    )
                }
            }
            ScopeSelector::ProductAccess { products } => format!(
                "members of the groups giving {}",
                products
                    .iter()
                    .map(ProductKey::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect();
    out.push(format!(
        "account types: {}",
        scope
            .account_types
            .iter()
            .map(|t| t.as_jira())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(since) = &scope.since {
        out.push(match since {
            Since::Position(p) => format!("only grants added after log position {p}"),
            Since::Time(t) => format!(
                "only grants added after {}",
                grantledger_projection::rfc3339(*t)
            ),
            Since::Campaign(c) => format!("only grants added since campaign {c} launched"),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_case_insensitively_with_stars_and_marks() {
        assert!(glob("dev-*", "DEV-ops"));
        assert!(glob("site-admins", "Site-Admins"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(!glob("dev-*", "ops-dev"));
        assert!(glob("*", ""));
    }

    #[test]
    fn canonical_lines_are_compact_json_arrays() {
        let g = Grant::membership(AccountId::from("a\"1"), GroupId::from("g1"));
        assert_eq!(canonical_line(&g), r#"["member","a\"1","g1"]"#);
        let r = Grant::role(
            Principal::Group(GroupId::from("g2")),
            ProjectId::from("10000"),
            RoleId::from("10002"),
        );
        assert_eq!(canonical_line(&r), r#"["role-group","g2","10000","10002"]"#);
        assert_eq!(
            empty_digest(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
