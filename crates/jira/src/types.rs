//! Typed Jira Cloud responses, as the wire spells them (serde, camelCase).
//!
//! Only the fields grantledger needs are declared; everything else Jira sends is
//! ignored. Fields that Atlassian's documentation marks optional, or that older
//! (2022) responses omit, are `Option` here, so decoding never fails on their
//! absence; the converters (`to_record`, [`GroupIndex::resolve`]) decide what a
//! missing field means and say so with a typed error.
//!
//! **Missing `groupId`.** Older responses carry a group's name but no `groupId`.
//! Names change, ids do not, so grantledger identifies groups by id only:
//! [`Group::to_record`] fails with [`JiraError::MissingField`] when the id is
//! absent, and a role's group actor without an id is resolved by name through a
//! [`GroupIndex`] built from the full group listing (`/group/bulk`, which always
//! carries ids on current sites). A name that the index does not know is again a
//! `MissingField` error naming the group: grantledger never invents an id.

use std::collections::BTreeMap;

use grantledger_model::{
    AccountId, AccountType, GroupId, GroupRecord, ProjectId, ProjectRecord, RoleId, UserRecord,
};
use serde::{Deserialize, Serialize};

use crate::error::JiraError;

/// A Jira user (`User` / `UserDetails` in the spec).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The account id.
    pub account_id: String,
    /// `atlassian`, `app`, `customer` or `unknown`; absent in some older responses.
    #[serde(default)]
    pub account_type: Option<String>,
    /// Whether the account is active, as sent; [`User::is_active`] reads an
    /// absent value as inactive.
    #[serde(default)]
    pub active: Option<bool>,
    /// The display name (may be absent for some app accounts).
    #[serde(default)]
    pub display_name: Option<String>,
    /// The email address. `None` means Jira hid it (privacy settings): Jira omits
    /// the field rather than sending null.
    #[serde(default)]
    pub email_address: Option<String>,
}

impl User {
    /// The account type as grantledger's enum; an absent value is `Unknown`.
    pub fn account_type(&self) -> AccountType {
        self.account_type
            .as_deref()
            .map(AccountType::from_jira)
            .unwrap_or(AccountType::Unknown)
    }

    /// Whether the account is active. Every operation the client uses returns
    /// `active`; if a response ever omits it, the account is reported inactive,
    /// the conservative reading for an access review.
    pub fn is_active(&self) -> bool {
        self.active.unwrap_or(false)
    }

    /// The model record for this user.
    pub fn to_record(&self) -> UserRecord {
        UserRecord {
            account_id: AccountId::new(self.account_id.clone()),
            account_type: self.account_type(),
            display_name: self.display_name.clone().unwrap_or_default(),
            email: self.email_address.clone(),
            active: self.is_active(),
        }
    }
}

/// A group as listed by `/group/bulk` (`GroupDetails`) or returned by a group
/// write (`Group`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The group id; nullable in the spec and absent in older responses.
    #[serde(default)]
    pub group_id: Option<String>,
    /// The group name.
    #[serde(default)]
    pub name: Option<String>,
}

impl Group {
    /// The model record. Fails with [`JiraError::MissingField`] when Jira sent no
    /// `groupId` (see the module docs).
    pub fn to_record(&self) -> Result<GroupRecord, JiraError> {
        let name = self.name.clone().unwrap_or_default();
        match &self.group_id {
            Some(id) if !id.is_empty() => Ok(GroupRecord {
                group_id: GroupId::new(id.clone()),
                name,
            }),
            _ => Err(JiraError::MissingField {
                field: "groupId",
                context: format!("group '{name}'"),
            }),
        }
    }
}

/// A project as listed by `/project/search`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// The numeric project id, as a string.
    pub id: String,
    /// The project key.
    pub key: String,
    /// The project name.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether the project is archived; absent means live.
    #[serde(default)]
    pub archived: Option<bool>,
    /// Whether the project is in the recycle bin; absent means not.
    #[serde(default)]
    pub deleted: Option<bool>,
    /// `software`, `service_desk` or `business`.
    #[serde(default)]
    pub project_type_key: Option<String>,
}

impl Project {
    /// The model record.
    pub fn to_record(&self) -> ProjectRecord {
        ProjectRecord {
            project_id: ProjectId::new(self.id.clone()),
            key: self.key.clone(),
            name: self.name.clone().unwrap_or_default(),
            archived: self.archived.unwrap_or(false),
        }
    }
}

/// One entry of a project's role map (`/project/{k}/role`): a name and the
/// role's URL, whose last segment is the role id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRef {
    /// The role name.
    pub name: String,
    /// The numeric role id, as a string.
    pub id: RoleId,
    /// The role's URL as Jira gave it.
    pub url: String,
}

impl RoleRef {
    /// Parses one map entry; the id is the URL's last path segment and must be
    /// numeric. The error names the role and the URL.
    pub fn from_entry(name: &str, url: &str) -> Result<RoleRef, String> {
        let path = url.split(['?', '#']).next().unwrap_or("");
        let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if last.is_empty() || !last.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "role '{name}': cannot read a numeric role id from URL '{url}'"
            ));
        }
        Ok(RoleRef {
            name: name.to_owned(),
            id: RoleId::new(last),
            url: url.to_owned(),
        })
    }

    /// Parses the whole map, in name order.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Vec<RoleRef>, String> {
        map.iter()
            .map(|(name, url)| RoleRef::from_entry(name, url))
            .collect()
    }
}

/// A project role with its actors (`ProjectRole`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRole {
    /// The role id.
    #[serde(default)]
    pub id: Option<u64>,
    /// The role name.
    #[serde(default)]
    pub name: Option<String>,
    /// The actors: users and groups (groups are not expanded). Absent from
    /// role lists (`ProjectRoleDetails`); [`crate::JiraClient::role`] requires
    /// it, so an error body or `{}` is not a role with no actors.
    #[serde(default)]
    pub actors: Vec<RoleActor>,
}

impl ProjectRole {
    /// Whether `account_id` is a user actor of this role.
    pub fn has_user(&self, account_id: &str) -> bool {
        self.actors
            .iter()
            .any(|a| a.account_id() == Some(account_id))
    }

    /// Whether the group is a group actor of this role. Matches by id; an actor
    /// without an id (older responses) matches by `group_name` when one is given.
    pub fn has_group(&self, group_id: &str, group_name: Option<&str>) -> bool {
        self.actors.iter().any(|a| match &a.actor_group {
            Some(g) => match g.group_id.as_deref() {
                Some(id) => id == group_id,
                None => group_name.is_some() && g.name.as_deref() == group_name,
            },
            None => false,
        })
    }
}

/// The actor type string of a user actor.
pub const USER_ACTOR: &str = "atlassian-user-role-actor";
/// The actor type string of a group actor.
pub const GROUP_ACTOR: &str = "atlassian-group-role-actor";

/// One actor of a project role (`RoleActor`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleActor {
    /// The actor id (an internal number, not the account or group id).
    #[serde(default)]
    pub id: Option<u64>,
    /// [`USER_ACTOR`] or [`GROUP_ACTOR`].
    #[serde(rename = "type", default)]
    pub actor_type: Option<String>,
    /// The display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Present for user actors.
    #[serde(default)]
    pub actor_user: Option<RoleActorUser>,
    /// Present for group actors.
    #[serde(default)]
    pub actor_group: Option<RoleActorGroup>,
}

impl RoleActor {
    /// The account id, for a user actor.
    pub fn account_id(&self) -> Option<&str> {
        self.actor_user
            .as_ref()
            .and_then(|u| u.account_id.as_deref())
    }
}

/// The user of a user actor (`ProjectRoleUser`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleActorUser {
    /// The account id.
    #[serde(default)]
    pub account_id: Option<String>,
}

/// The group of a group actor (`ProjectRoleGroup`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleActorGroup {
    /// The group id; absent in older responses (see the module docs).
    #[serde(default)]
    pub group_id: Option<String>,
    /// The group name.
    #[serde(default)]
    pub name: Option<String>,
    /// The display name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// Group ids by name, built from the full group listing, to resolve group
/// actors (or product-access groups) that arrive without a `groupId`.
#[derive(Clone, Debug, Default)]
pub struct GroupIndex {
    by_name: BTreeMap<String, String>,
}

impl GroupIndex {
    /// Indexes every group that has both a name and an id.
    pub fn from_groups<'a>(groups: impl IntoIterator<Item = &'a Group>) -> GroupIndex {
        let mut by_name = BTreeMap::new();
        for g in groups {
            if let (Some(name), Some(id)) = (&g.name, &g.group_id) {
                by_name.insert(name.clone(), id.clone());
            }
        }
        GroupIndex { by_name }
    }

    /// The id of the group named `name`, if listed.
    pub fn id_of(&self, name: &str) -> Option<GroupId> {
        self.by_name.get(name).map(|id| GroupId::new(id.clone()))
    }

    /// The id of a role's group actor: its own `groupId` when present, else the
    /// id listed under its name. Fails with [`JiraError::MissingField`] naming the
    /// group when neither is known.
    pub fn resolve(&self, group: &RoleActorGroup) -> Result<GroupId, JiraError> {
        if let Some(id) = group.group_id.as_deref().filter(|s| !s.is_empty()) {
            return Ok(GroupId::new(id));
        }
        let name = group.name.as_deref().unwrap_or("");
        self.id_of(name).ok_or_else(|| JiraError::MissingField {
            field: "groupId",
            context: format!(
                "group actor '{name}' (no groupId in the response and no group of that name in the group listing)"
            ),
        })
    }
}

/// A product (`ApplicationRole`): a user has the product by being in one of
/// its `groups`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationRole {
    /// The product key, e.g. `jira-software`.
    pub key: String,
    /// The product name.
    #[serde(default)]
    pub name: Option<String>,
    /// The names of the groups that grant the product.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The same groups with ids, where Jira gives them.
    #[serde(default)]
    pub group_details: Vec<Group>,
}

/// One page of the admin audit log (`AuditRecords`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecords {
    /// The offset of this page (required, like a PageBean's `startAt`).
    pub offset: u64,
    /// The effective page size (required).
    pub limit: u64,
    /// The number of matching records.
    #[serde(default)]
    pub total: Option<u64>,
    /// The records (required).
    pub records: Vec<AuditRecord>,
}

/// One admin audit record (`AuditRecordBean`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// The record id.
    #[serde(default)]
    pub id: Option<i64>,
    /// What happened, e.g. "User added to group".
    #[serde(default)]
    pub summary: Option<String>,
    /// Who did it: a user key (`ug:…`) on Cloud, deprecated.
    #[serde(default)]
    pub author_key: Option<String>,
    /// The author's account id (sent by Jira Cloud though not in the
    /// schema); absent on changes made outside Jira or by the system.
    #[serde(default)]
    pub author_account_id: Option<String>,
    /// When (ISO-8601, as Jira spells it).
    #[serde(default)]
    pub created: Option<String>,
    /// The category, e.g. "group management".
    #[serde(default)]
    pub category: Option<String>,
    /// Where the change came from.
    #[serde(default)]
    pub event_source: Option<String>,
    /// The object changed.
    #[serde(default)]
    pub object_item: Option<AuditItem>,
    /// Objects associated with the change.
    #[serde(default)]
    pub associated_items: Vec<AuditItem>,
    /// Field changes.
    #[serde(default)]
    pub changed_values: Vec<AuditChange>,
}

/// An object named in an audit record (`AssociatedItemBean`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditItem {
    /// The object's id.
    #[serde(default)]
    pub id: Option<String>,
    /// The object's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its type, e.g. "USER" or "GROUP".
    #[serde(default)]
    pub type_name: Option<String>,
    /// The parent's id.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// The parent's name.
    #[serde(default)]
    pub parent_name: Option<String>,
}

/// A changed field in an audit record (`ChangedValueBean`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditChange {
    /// The field.
    #[serde(default)]
    pub field_name: Option<String>,
    /// The old value.
    #[serde(default)]
    pub changed_from: Option<String>,
    /// The new value.
    #[serde(default)]
    pub changed_to: Option<String>,
}

/// What to ask the audit log for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Records created on or after this time (ISO-8601, passed through).
    pub from: Option<String>,
    /// Records created on or before this time (ISO-8601, passed through).
    pub to: Option<String>,
    /// Space-separated strings matched against the records' content.
    pub filter: Option<String>,
}

/// Jira's error body (`ErrorCollection`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCollection {
    /// Messages not tied to a field.
    #[serde(default)]
    pub error_messages: Vec<String>,
    /// Messages by field.
    #[serde(default)]
    pub errors: BTreeMap<String, String>,
}

impl ErrorCollection {
    /// Every message joined into one line, or `None` when there is none.
    pub fn summary(&self) -> Option<String> {
        let mut parts: Vec<String> = self.error_messages.clone();
        parts.extend(self.errors.iter().map(|(k, v)| format!("{k}: {v}")));
        if parts.is_empty() {
            None
        } else {
            Some(parts.join("; "))
        }
    }
}

/// `GET /_edge/tenant_info`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantInfo {
    /// The site's cloud id.
    pub cloud_id: String,
}

/// The PageBean envelope. `startAt`, `maxResults` and `values` are what make
/// a page a page (Jira always sends them), so they are required: Jira's error
/// body, `{}` or any other object without them is a decode error, never an
/// empty page. `total`, `isLast` and `nextPage` are optional per operation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageBean<T> {
    /// The page's offset, as the server echoes it.
    pub start_at: u64,
    /// The effective (possibly clamped) page size.
    pub max_results: u64,
    /// The number of items, when the operation reports it.
    #[serde(default)]
    pub total: Option<u64>,
    /// Whether this is the last page, when the operation reports it.
    #[serde(default)]
    pub is_last: Option<bool>,
    /// The next page's URL; absent on the last page.
    #[serde(default)]
    pub next_page: Option<String>,
    /// The items.
    pub values: Vec<T>,
}

/// How a write ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Jira confirmed the change.
    Applied,
    /// Nothing to do: Jira (or a read before the write) showed the desired state
    /// was already in effect.
    AlreadyInEffect,
    /// The first attempt's outcome was unknown (dropped connection, timeout); a
    /// re-check showed the desired state is in effect.
    ConfirmedAfterRetry,
}

/// A string of a response that is longer than the client accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLong {
    /// Which field, e.g. "displayName".
    pub field: &'static str,
    /// Its length in bytes.
    pub len: usize,
    /// The limit it broke.
    pub limit: usize,
}

/// Checks the lengths of a response item's ids and names against the limits,
/// so a server cannot make the client store a 50 MiB display name.
pub trait Bounded {
    /// The first string past its limit, if any. `max_id` bounds ids,
    /// `max_name` names, keys, emails and URLs.
    fn too_long(&self, max_id: usize, max_name: usize) -> Option<TooLong>;
}

fn check_len(field: &'static str, value: Option<&str>, limit: usize) -> Option<TooLong> {
    let len = value.map_or(0, str::len);
    (len > limit).then_some(TooLong { field, len, limit })
}

impl Bounded for User {
    fn too_long(&self, max_id: usize, max_name: usize) -> Option<TooLong> {
        check_len("accountId", Some(&self.account_id), max_id)
            .or_else(|| check_len("accountType", self.account_type.as_deref(), max_name))
            .or_else(|| check_len("displayName", self.display_name.as_deref(), max_name))
            .or_else(|| check_len("emailAddress", self.email_address.as_deref(), max_name))
    }
}

impl Bounded for Group {
    fn too_long(&self, max_id: usize, max_name: usize) -> Option<TooLong> {
        check_len("groupId", self.group_id.as_deref(), max_id)
            .or_else(|| check_len("name", self.name.as_deref(), max_name))
    }
}

impl Bounded for Project {
    fn too_long(&self, max_id: usize, max_name: usize) -> Option<TooLong> {
        check_len("id", Some(&self.id), max_id)
            .or_else(|| check_len("key", Some(&self.key), max_name))
            .or_else(|| check_len("name", self.name.as_deref(), max_name))
    }
}

impl Bounded for RoleRef {
    fn too_long(&self, max_id: usize, max_name: usize) -> Option<TooLong> {
        check_len("role id", Some(self.id.as_str()), max_id)
            .or_else(|| check_len("role name", Some(&self.name), max_name))
            .or_else(|| check_len("role URL", Some(&self.url), max_name))
    }
}

impl Bounded for ProjectRole {
    fn too_long(&self, max_id: usize, max_name: usize) -> Option<TooLong> {
        check_len("name", self.name.as_deref(), max_name).or_else(|| {
            self.actors.iter().find_map(|a| {
                check_len("displayName", a.display_name.as_deref(), max_name)
                    .or_else(|| check_len("accountId", a.account_id(), max_id))
                    .or_else(|| {
                        a.actor_group.as_ref().and_then(|g| {
                            check_len("groupId", g.group_id.as_deref(), max_id)
                                .or_else(|| check_len("group name", g.name.as_deref(), max_name))
                        })
                    })
            })
        })
    }
}

impl Bounded for ApplicationRole {
    fn too_long(&self, max_id: usize, max_name: usize) -> Option<TooLong> {
        check_len("key", Some(&self.key), max_name)
            .or_else(|| check_len("name", self.name.as_deref(), max_name))
            .or_else(|| {
                self.groups
                    .iter()
                    .find_map(|g| check_len("group name", Some(g), max_name))
            })
            .or_else(|| {
                self.group_details
                    .iter()
                    .find_map(|g| g.too_long(max_id, max_name))
            })
    }
}

impl Bounded for AuditItem {
    fn too_long(&self, max_id: usize, max_name: usize) -> Option<TooLong> {
        check_len("item id", self.id.as_deref(), max_id)
            .or_else(|| check_len("item name", self.name.as_deref(), max_name))
            .or_else(|| check_len("item typeName", self.type_name.as_deref(), max_name))
            .or_else(|| check_len("item parentId", self.parent_id.as_deref(), max_id))
            .or_else(|| check_len("item parentName", self.parent_name.as_deref(), max_name))
    }
}

/// How many names long a changed value may be: a role's whole actor list
/// before and after a change is one value.
const CHANGED_VALUE_NAMES: usize = 256;

impl Bounded for AuditRecord {
    fn too_long(&self, max_id: usize, max_name: usize) -> Option<TooLong> {
        // The sync stores audit records: every string is bounded.
        let value_limit = max_name.saturating_mul(CHANGED_VALUE_NAMES);
        check_len("summary", self.summary.as_deref(), max_name)
            .or_else(|| check_len("authorKey", self.author_key.as_deref(), max_id))
            .or_else(|| check_len("authorAccountId", self.author_account_id.as_deref(), max_id))
            .or_else(|| check_len("created", self.created.as_deref(), max_name))
            .or_else(|| check_len("category", self.category.as_deref(), max_name))
            .or_else(|| check_len("eventSource", self.event_source.as_deref(), max_name))
            .or_else(|| {
                self.object_item
                    .iter()
                    .chain(&self.associated_items)
                    .find_map(|i| i.too_long(max_id, max_name))
            })
            .or_else(|| {
                self.changed_values.iter().find_map(|c| {
                    check_len("fieldName", c.field_name.as_deref(), max_name)
                        .or_else(|| {
                            check_len("changedFrom", c.changed_from.as_deref(), value_limit)
                        })
                        .or_else(|| check_len("changedTo", c.changed_to.as_deref(), value_limit))
                })
            })
    }
}
