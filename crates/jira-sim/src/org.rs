//! The simulated Jira site's state: plain data, serde-able, cloneable.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::SimError;

/// The whole state of a simulated Jira Cloud site.
///
/// Every field is plain data so tests and the demo can build or edit an org
/// directly; [`Org::validate`] checks that the references between fields hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    /// The site name (`acme` for `acme.atlassian.net`).
    pub site: String,
    /// The cloud id answered by `GET /_edge/tenant_info`.
    pub cloud_id: String,
    /// Every account: `atlassian`, `app` and `customer`; some inactive.
    pub users: Vec<SimUser>,
    /// Every group.
    pub groups: Vec<SimGroup>,
    /// Group id → account ids of its direct members.
    pub memberships: BTreeMap<String, BTreeSet<String>>,
    /// Every project, live and archived.
    pub projects: Vec<SimProject>,
    /// Product access: which groups grant which product.
    pub application_roles: Vec<SimApplicationRole>,
    /// Account ids of site admins: the only callers allowed to change groups.
    pub site_admins: BTreeSet<String>,
    /// The admin audit log, oldest first.
    pub audit: Vec<SimAuditRecord>,
}

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUser {
    /// Opaque account id (at most 128 characters).
    pub account_id: String,
    /// `atlassian`, `app` or `customer`.
    pub account_type: String,
    /// The display name.
    pub display_name: String,
    /// The email address, if the account has one.
    pub email: Option<String>,
    /// When true the user's privacy settings hide the email: `emailAddress` is omitted.
    pub email_hidden: bool,
    /// Whether the account is active.
    pub active: bool,
}

/// One group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimGroup {
    /// The group id (uuid-like).
    pub group_id: String,
    /// The group name.
    pub name: String,
}

/// One project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimProject {
    /// The numeric project id, as a string (as Jira sends it).
    pub id: String,
    /// The project key.
    pub key: String,
    /// The project name.
    pub name: String,
    /// `software`, `service_desk` or `business`.
    pub project_type: String,
    /// Archived projects are listed only when `status=archived` is asked for.
    pub archived: bool,
    /// The project's roles with their actors.
    pub roles: Vec<SimRole>,
}

/// One project role in one project. Role ids are site-wide, actors are per project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRole {
    /// The role id (the same role has the same id in every project).
    pub id: u64,
    /// The role name.
    pub name: String,
    /// Account ids of user actors.
    pub user_actors: BTreeSet<String>,
    /// Group ids of group actors (not expanded into members).
    pub group_actors: BTreeSet<String>,
}

/// One product: a user has it by being in one of `groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimApplicationRole {
    /// `jira-software`, `jira-servicedesk`, ...
    pub key: String,
    /// Display name, e.g. `Jira Software`.
    pub name: String,
    /// Names of the groups granting this product.
    pub groups: Vec<String>,
    /// Names of the groups new users are put in.
    pub default_groups: Vec<String>,
    /// Licensed seats.
    pub number_of_seats: u32,
}

/// One admin audit log record, in the shape Jira Cloud serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimAuditRecord {
    /// Increasing record id.
    pub id: u64,
    /// Creation time, RFC 3339 in UTC (served as `2024-03-01T09:15:27.512+0000`).
    pub created: String,
    /// E.g. `User added to group`.
    pub summary: String,
    /// E.g. `group management`.
    pub category: String,
    /// Account id of the caller who made the change; `None` for changes made
    /// outside Jira (admin.atlassian.com, the system), served without an author.
    #[serde(default)]
    pub author_account_id: Option<String>,
    /// The changed object (a group, a project role, a user).
    pub object_item: SimAuditItem,
    /// Items involved (the user added, the project).
    pub associated_items: Vec<SimAuditItem>,
    /// Changed fields (`Users`, `Groups` of a role; `Active / Inactive` of a user).
    #[serde(default)]
    pub changed_values: Vec<SimAuditChange>,
}

/// An item named in an audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimAuditItem {
    /// The item's id (account id, project id, role id); empty for a group,
    /// which Jira names without an id.
    pub id: String,
    /// The item's name.
    pub name: String,
    /// `USER`, `GROUP`, `PROJECT`, `PROJECT_ROLE`.
    pub type_name: String,
    /// The user directory of a `USER` or `GROUP` item (`parentId`, `parentName`).
    #[serde(default)]
    pub directory: Option<(String, String)>,
}

/// A changed field of an audit record (`ChangedValueBean`): a side that was
/// null is omitted when served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimAuditChange {
    /// E.g. `Users`, `Groups`, `Active / Inactive`.
    pub field_name: String,
    /// The value before, if there was one.
    #[serde(default)]
    pub changed_from: Option<String>,
    /// The value after, if there is one.
    #[serde(default)]
    pub changed_to: Option<String>,
}

/// Size presets of the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Preset {
    /// About 50 users: the demo.
    Small,
    /// About 2,000 users, 200 groups, 20,000 memberships, 100 projects.
    Medium,
    /// About 20,000 users, 2,000 groups, 200,000 memberships, 1,000 projects × 6 roles.
    Large,
}

impl std::str::FromStr for Preset {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "small" => Ok(Preset::Small),
            "medium" => Ok(Preset::Medium),
            "large" => Ok(Preset::Large),
            _ => Err(SimError::UnknownPreset(s.to_owned())),
        }
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Preset::Small => "small",
            Preset::Medium => "medium",
            Preset::Large => "large",
        })
    }
}

impl Org {
    /// Reads an org saved by [`Org::save_json`] (or written by hand) and validates it.
    pub fn load_json(path: &Path) -> Result<Org, SimError> {
        let bytes = std::fs::read(path).map_err(|source| SimError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        let org: Org = serde_json::from_slice(&bytes).map_err(|source| SimError::Json {
            path: path.to_owned(),
            source,
        })?;
        org.validate()?;
        Ok(org)
    }

    /// Writes the org as pretty JSON.
    pub fn save_json(&self, path: &Path) -> Result<(), SimError> {
        let json = serde_json::to_vec_pretty(self).map_err(|source| SimError::Json {
            path: path.to_owned(),
            source,
        })?;
        // The org holds users' names and emails: the file is its owner's alone.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let io = |source| SimError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        };
        let mut file = options.open(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // An existing file keeps its mode on open: tighten it as well.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        std::io::Write::write_all(&mut file, &json).map_err(io)
    }

    /// Checks the references between fields: unique ids, memberships and role
    /// actors naming existing users and groups, site admins existing.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |reason: String| Err(SimError::InvalidOrg { reason });
        let mut users = HashSet::new();
        for u in &self.users {
            if u.account_id.is_empty() || u.account_id.len() > 128 {
                return bad(format!(
                    "account id {:?} is empty or longer than 128 characters",
                    u.account_id
                ));
            }
            if !matches!(
                u.account_type.as_str(),
                "atlassian" | "app" | "customer" | "unknown"
            ) {
                return bad(format!(
                    "user {} has account type {:?}",
                    u.account_id, u.account_type
                ));
            }
            if !users.insert(u.account_id.as_str()) {
                return bad(format!("account id {} appears twice", u.account_id));
            }
        }
        let mut group_ids = HashSet::new();
        let mut group_names = HashSet::new();
        for g in &self.groups {
            if !group_ids.insert(g.group_id.as_str()) {
                return bad(format!("group id {} appears twice", g.group_id));
            }
            if !group_names.insert(g.name.as_str()) {
                return bad(format!("group name {} appears twice", g.name));
            }
        }
        for (gid, members) in &self.memberships {
            if !group_ids.contains(gid.as_str()) {
                return bad(format!("memberships name unknown group id {gid}"));
            }
            if let Some(m) = members.iter().find(|m| !users.contains(m.as_str())) {
                return bad(format!("group {gid} has unknown member {m}"));
            }
        }
        let mut keys = HashSet::new();
        let mut ids = HashSet::new();
        for p in &self.projects {
            if !keys.insert(p.key.as_str()) || !ids.insert(p.id.as_str()) {
                return bad(format!("project {} ({}) appears twice", p.key, p.id));
            }
            if p.id.parse::<u64>().is_err() {
                return bad(format!("project {} has a non-numeric id {:?}", p.key, p.id));
            }
            let mut role_ids = HashSet::new();
            for r in &p.roles {
                if !role_ids.insert(r.id) {
                    return bad(format!("project {} has role id {} twice", p.key, r.id));
                }
                if let Some(u) = r.user_actors.iter().find(|u| !users.contains(u.as_str())) {
                    return bad(format!(
                        "project {} role {} names unknown user {u}",
                        p.key, r.name
                    ));
                }
                if let Some(g) = r
                    .group_actors
                    .iter()
                    .find(|g| !group_ids.contains(g.as_str()))
                {
                    return bad(format!(
                        "project {} role {} names unknown group id {g}",
                        p.key, r.name
                    ));
                }
            }
        }
        for a in &self.application_roles {
            if let Some(g) = a
                .groups
                .iter()
                .chain(&a.default_groups)
                .find(|g| !group_names.contains(g.as_str()))
            {
                return bad(format!(
                    "application role {} names unknown group {g}",
                    a.key
                ));
            }
        }
        if let Some(s) = self
            .site_admins
            .iter()
            .find(|s| !users.contains(s.as_str()))
        {
            return bad(format!("site admin {s} is not a user"));
        }
        Ok(())
    }

    /// The user with this account id.
    pub fn user(&self, account_id: &str) -> Option<&SimUser> {
        self.users.iter().find(|u| u.account_id == account_id)
    }

    /// The group with this name.
    pub fn group_by_name(&self, name: &str) -> Option<&SimGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The project with this key.
    pub fn project(&self, key: &str) -> Option<&SimProject> {
        self.projects.iter().find(|p| p.key == key)
    }

    /// Members of the group with this name (empty if the group does not exist).
    pub fn members_of(&self, group_name: &str) -> BTreeSet<String> {
        self.group_by_name(group_name)
            .and_then(|g| self.memberships.get(&g.group_id))
            .cloned()
            .unwrap_or_default()
    }

    /// Number of (group, member) pairs.
    pub fn membership_count(&self) -> usize {
        self.memberships.values().map(BTreeSet::len).sum()
    }
}
