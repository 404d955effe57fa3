//! Directory: what the site holds — users, groups, projects, project roles and the
//! groups that give each product — as a sync observed it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::directory::{GroupRecord, ProjectRecord, RoleRecord, UserRecord};
use crate::ids::{AccountId, GroupId, ProductKey, ProjectId, RoleId};

/// A user was seen for the first time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserObserved {
    /// The user.
    pub user: UserRecord,
}

/// A user's display name, email or account type changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChanged {
    /// Before.
    pub before: UserRecord,
    /// After.
    pub after: UserRecord,
}

/// An active account became inactive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDeactivated {
    /// The account.
    pub account_id: AccountId,
}

/// An inactive account became active again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserReactivated {
    /// The account.
    pub account_id: AccountId,
}

/// A completely listed user list no longer holds this account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserVanished {
    /// The account.
    pub account_id: AccountId,
}

/// A group was seen for the first time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupObserved {
    /// The group.
    pub group: GroupRecord,
}

/// A group (same id) has a new name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRenamed {
    /// The group.
    pub group_id: GroupId,
    /// The old name.
    pub from: String,
    /// The new name.
    pub to: String,
}

/// A completely listed group list no longer holds this group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupVanished {
    /// The group.
    pub group_id: GroupId,
    /// Its last known name.
    pub name: String,
}

/// A project was seen for the first time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectObserved {
    /// The project.
    pub project: ProjectRecord,
}

/// A project's key, name or archived flag changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectChanged {
    /// Before.
    pub before: ProjectRecord,
    /// After.
    pub after: ProjectRecord,
}

/// A completely listed project list no longer holds this project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectVanished {
    /// The project.
    pub project_id: ProjectId,
    /// Its last known key.
    pub key: String,
}

/// A project role was seen for the first time (or renamed: the record is the new state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRoleObserved {
    /// The role.
    pub role: RoleRecord,
}

/// A project's completely listed roles no longer hold this role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRoleVanished {
    /// The project.
    pub project_id: ProjectId,
    /// The role.
    pub role_id: RoleId,
}

/// The groups that give a product changed; `groups` is the whole new set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductAccessGroupsChanged {
    /// The product.
    pub product: ProductKey,
    /// The product's name.
    pub name: String,
    /// Every group that now gives access to it.
    pub groups: Vec<GroupId>,
}
