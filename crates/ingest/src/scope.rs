//! Scopes: the units a sync lists completely (or not at all), in the order their
//! differences are appended, and what listing them minimally costs.

use grantledger_jira::{GROUPS_PAGE, MEMBERS_PAGE, PROJECTS_PAGE, USERS_PAGE};
use grantledger_model::{GroupId, ProjectId, RoleId};

/// One thing a sync lists completely. The derived order is the order in which
/// differences are appended: it depends only on ids, never on timing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The user list.
    Users,
    /// The group list.
    Groups,
    /// The project list (live and archived).
    Projects,
    /// Product access (which groups give which product).
    Products,
    /// One group's members.
    Members(GroupId),
    /// One project's roles.
    Roles(ProjectId),
    /// One project role's actors.
    Actors(ProjectId, RoleId),
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Users => f.write_str("users"),
            Scope::Groups => f.write_str("groups"),
            Scope::Projects => f.write_str("projects"),
            Scope::Products => f.write_str("product access"),
            Scope::Members(g) => write!(f, "members of group {g}"),
            Scope::Roles(p) => write!(f, "roles of project {p}"),
            Scope::Actors(p, r) => write!(f, "actors of role {r} in project {p}"),
        }
    }
}

fn pages(items: u64, page: u64) -> u64 {
    items.div_ceil(page).max(1)
}

/// The fewest requests that can list a scope of `items` items, given Jira's page
/// caps and list shapes. The user list is a bare array: only an empty page proves
/// it ended, so it costs one request more than its full pages.
pub fn minimum_requests(scope: &Scope, items: u64) -> u64 {
    match scope {
        Scope::Users => items.div_ceil(USERS_PAGE) + 1,
        Scope::Groups => pages(items, GROUPS_PAGE),
        Scope::Members(_) => pages(items, MEMBERS_PAGE),
        Scope::Projects => pages(items, PROJECTS_PAGE),
        Scope::Products | Scope::Roles(_) | Scope::Actors(..) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_lists_first_then_members_then_roles_then_actors() {
        let mut scopes = vec![
            Scope::Actors("p1".into(), "r1".into()),
            Scope::Members("g2".into()),
            Scope::Roles("p2".into()),
            Scope::Products,
            Scope::Members("g1".into()),
            Scope::Users,
            Scope::Roles("p1".into()),
            Scope::Projects,
            Scope::Groups,
        ];
        scopes.sort();
        assert_eq!(
            scopes[..4],
            [
                Scope::Users,
                Scope::Groups,
                Scope::Projects,
                Scope::Products
            ]
        );
        assert_eq!(scopes[4], Scope::Members("g1".into()));
        assert_eq!(scopes[8], Scope::Actors("p1".into(), "r1".into()));
    }

    #[test]
    fn minimum_requests_follow_the_page_caps() {
        assert_eq!(minimum_requests(&Scope::Users, 0), 1);
        assert_eq!(minimum_requests(&Scope::Users, 1_000), 2);
        assert_eq!(minimum_requests(&Scope::Users, 20_001), 22);
        assert_eq!(minimum_requests(&Scope::Members("g".into()), 0), 1);
        assert_eq!(minimum_requests(&Scope::Members("g".into()), 50), 1);
        assert_eq!(minimum_requests(&Scope::Members("g".into()), 51), 2);
        assert_eq!(minimum_requests(&Scope::Projects, 1_000), 10);
        assert_eq!(minimum_requests(&Scope::Groups, 2_000), 40);
        assert_eq!(
            minimum_requests(&Scope::Actors("p".into(), "r".into()), 5_000),
            1
        );
    }
}
