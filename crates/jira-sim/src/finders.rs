//! Finders over an [`Org`]: the accounts, groups and projects that a test, a
//! benchmark or the demo needs for a scenario ("an active account that is not an
//! admin", "an account outside this group"). Written once here so that every
//! caller picks the same kind of account the same way.

use crate::generate::JIRA_ADMINISTRATORS;
use crate::org::{Org, SimProject, SimUser};

impl Org {
    /// Active human (`atlassian`) accounts, in the org's order.
    pub fn active_humans(&self) -> impl Iterator<Item = &SimUser> {
        self.users
            .iter()
            .filter(|u| u.active && u.account_type == "atlassian")
    }

    /// Whether the account has administrative rights of any kind: a site admin,
    /// a member of `jira-administrators`, or a user actor of a project's
    /// `Administrators` role.
    pub fn is_admin(&self, account_id: &str) -> bool {
        self.site_admins.contains(account_id)
            || self
                .group_by_name(JIRA_ADMINISTRATORS)
                .and_then(|g| self.memberships.get(&g.group_id))
                .is_some_and(|m| m.contains(account_id))
            || self.projects.iter().any(|p| {
                p.roles
                    .iter()
                    .any(|r| r.name == "Administrators" && r.user_actors.contains(account_id))
            })
    }

    /// The first active human account without administrative rights (see
    /// [`Org::is_admin`]).
    pub fn plain_user(&self) -> Option<&SimUser> {
        self.active_humans().find(|u| !self.is_admin(&u.account_id))
    }

    /// The first active human account that is not a member of `group_id` and is
    /// none of `except`.
    pub fn outsider(&self, group_id: &str, except: &[&str]) -> Option<&SimUser> {
        let members = self.memberships.get(group_id);
        self.active_humans().find(|u| {
            !members.is_some_and(|m| m.contains(&u.account_id))
                && !except.contains(&u.account_id.as_str())
        })
    }

    /// The first active human account that is none of `except`.
    pub fn active_human_except(&self, except: &[&str]) -> Option<&SimUser> {
        self.active_humans()
            .find(|u| !except.contains(&u.account_id.as_str()))
    }

    /// The first (group id, member) pair whose group is not `skip_group` and whose
    /// member is none of `except`: a membership that can be removed without
    /// touching the given accounts.
    pub fn membership_except(&self, skip_group: &str, except: &[&str]) -> Option<(&str, &str)> {
        self.memberships
            .iter()
            .filter(|(g, _)| g.as_str() != skip_group)
            .find_map(|(g, members)| {
                members
                    .iter()
                    .find(|a| !except.contains(&a.as_str()))
                    .map(|a| (g.as_str(), a.as_str()))
            })
    }

    /// The name of the group with this id.
    pub fn group_name(&self, group_id: &str) -> Option<&str> {
        self.groups
            .iter()
            .find(|g| g.group_id == group_id)
            .map(|g| g.name.as_str())
    }

    /// The first project that is not archived and has at least one role.
    pub fn project_with_roles(&self) -> Option<&SimProject> {
        self.projects
            .iter()
            .find(|p| !p.archived && !p.roles.is_empty())
    }

    /// The first project with a role that has a group among its actors.
    pub fn project_with_group_actor(&self) -> Option<&SimProject> {
        self.projects
            .iter()
            .find(|p| p.roles.iter().any(|r| !r.group_actors.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Org, Preset};

    #[test]
    fn finders_pick_accounts_that_fit_their_description() {
        let org = Org::generate(Preset::Small, 7);
        let plain = org.plain_user().expect("a plain user");
        assert!(plain.active && plain.account_type == "atlassian");
        assert!(!org.is_admin(&plain.account_id));
        let admin = org.site_admins.iter().next().expect("a site admin");
        assert!(org.is_admin(admin));

        let (group, member) = org
            .membership_except("", &[admin.as_str()])
            .expect("a membership");
        assert!(org.memberships[group].contains(member));
        assert_ne!(member, admin);

        let outsider = org
            .outsider(group, &[plain.account_id.as_str()])
            .expect("an outsider");
        assert!(!org.memberships[group].contains(&outsider.account_id));
        assert_ne!(outsider.account_id, plain.account_id);
        assert!(outsider.active);

        let p = org.project_with_roles().expect("a project with roles");
        assert!(!p.archived && !p.roles.is_empty());
        assert!(org.group_name(group).is_some());
    }
}
