//! What Jira's directory says about users, groups, projects, roles and products.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, GroupId, ProjectId, RoleId};

/// Jira's `accountType`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum AccountType {
    /// A person with an Atlassian account.
    Atlassian,
    /// An app (bot) account.
    App,
    /// A Jira Service Management customer.
    Customer,
    /// Anything else Jira reports (`unknown`, or a value newer than this code).
    Unknown,
}

impl AccountType {
    /// Maps Jira's wire value; anything unrecognised is `Unknown`.
    pub fn from_jira(raw: &str) -> Self {
        match raw {
            "atlassian" => Self::Atlassian,
            "app" => Self::App,
            "customer" => Self::Customer,
            _ => Self::Unknown,
        }
    }

    /// Jira's wire value.
    pub fn as_jira(self) -> &'static str {
        match self {
            Self::Atlassian => "atlassian",
            Self::App => "app",
            Self::Customer => "customer",
            Self::Unknown => "unknown",
        }
    }
}

/// A user as last seen.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// The account id.
    pub account_id: AccountId,
    /// The account type.
    pub account_type: AccountType,
    /// The display name.
    pub display_name: String,
    /// The email address, whenever Jira shows it (privacy settings may hide it).
    pub email: Option<String>,
    /// Whether the account is active.
    pub active: bool,
}

/// A group as last seen.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRecord {
    /// The group id.
    pub group_id: GroupId,
    /// The group name.
    pub name: String,
}

/// A project as last seen.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRecord {
    /// The project id.
    pub project_id: ProjectId,
    /// The project key (may change).
    pub key: String,
    /// The project name.
    pub name: String,
    /// Whether the project is archived.
    pub archived: bool,
}

/// A project role as last seen.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRecord {
    /// The project.
    pub project_id: ProjectId,
    /// The role id.
    pub role_id: RoleId,
    /// The role name.
    pub name: String,
}
