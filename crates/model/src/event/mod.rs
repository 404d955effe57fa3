//! The events. Every event is a fact in the past tense; nothing is ever updated or
//! deleted, a correction is a new event.
//!
//! The list of event types lives in one place, [`for_each_event_type!`], which the
//! codec and the schema generator expand, so adding a variant cannot be forgotten by
//! either.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::access::{Grant, GrantCause};
use crate::directory::{GroupRecord, ProjectRecord, RoleRecord, UserRecord};
use crate::ids::{AccountId, GroupId, ProductKey, ProjectId, RoleId, SyncRunId};
use crate::time::Timestamp;

/// Calls `$callback!` with every event type as `Name = schema_version`.
///
/// The schema version of a type goes up whenever its payload's shape changes; the
/// codec keeps a decoder for every old version and upcasts it.
#[macro_export]
macro_rules! for_each_event_type {
    ($callback:ident) => {
        $callback! {
            SyncStarted = 1,
            SyncCompleted = 1,
            SyncFailed = 1,
            UserObserved = 1,
            UserChanged = 1,
            UserDeactivated = 1,
            UserReactivated = 1,
            UserVanished = 1,
            GroupObserved = 1,
            GroupRenamed = 1,
            GroupVanished = 1,
            ProjectObserved = 1,
            ProjectChanged = 1,
            ProjectVanished = 1,
            ProjectRoleObserved = 1,
            ProjectRoleVanished = 1,
            ProductAccessGroupsChanged = 1,
            GrantAdded = 1,
            GrantRemoved = 1,
        }
    };
}

macro_rules! define_event_enum {
    ($($name:ident = $version:literal,)*) => {
        /// Every event grantledger records.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        pub enum Event {
            $(
                #[allow(missing_docs)]
                $name($name),
            )*
        }

        /// The name and current schema version of every event type.
        pub const EVENT_TYPES: &[(&str, u16)] = &[$((stringify!($name), $version),)*];

        impl Event {
            /// The event type's name, as stored in the record header.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Event::$name(_) => stringify!($name),)*
                }
            }

            /// The current schema version of this event's type.
            pub fn schema_version(&self) -> u16 {
                match self {
                    $(Event::$name(_) => $version,)*
                }
            }
        }

        $(
            impl From<$name> for Event {
                fn from(payload: $name) -> Self {
                    Event::$name(payload)
                }
            }
        )*
    };
}

for_each_event_type!(define_event_enum);

impl Event {
    /// Whether this event changes who-has-what or what the directory holds (as
    /// opposed to a sync's own bookkeeping).
    pub fn is_access_event(&self) -> bool {
        !matches!(
            self,
            Event::SyncStarted(_) | Event::SyncCompleted(_) | Event::SyncFailed(_)
        )
    }
}

/// Figures of one sync run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncStats {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Requests that were retries.
    pub retries: u64,
    /// The fewest requests that could have listed this site, given the page caps.
    pub minimum_requests: u64,
    /// Pages received.
    pub pages: u64,
    /// Items (users, groups, members, projects, actors...) seen.
    pub items_seen: u64,
    /// Events appended by the run, lifecycle events excluded.
    pub events_written: u64,
    /// Response bytes received.
    pub bytes: u64,
    /// Time spent waiting on rate limits, in milliseconds.
    pub wait_ms: u64,
    /// Wall time of the run, in milliseconds.
    pub duration_ms: u64,
}

/// A sync run began.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncStarted {
    /// The run.
    pub run: SyncRunId,
    /// The site, as configured (`acme.atlassian.net`).
    pub site: String,
    /// When it began.
    pub started_at: Timestamp,
}

/// A sync run listed everything and recorded every difference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncCompleted {
    /// The run.
    pub run: SyncRunId,
    /// Its figures.
    pub stats: SyncStats,
}

/// A sync run stopped before listing everything. What it recorded for scopes it
/// finished stands; nothing was removed for scopes it did not finish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncFailed {
    /// The run.
    pub run: SyncRunId,
    /// Why, in one line (no secrets).
    pub reason: String,
    /// The scopes that were not finished.
    pub unfinished_scopes: Vec<String>,
    /// Its figures up to the failure.
    pub stats: SyncStats,
}

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

/// A principal gained an entitlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantAdded {
    /// Who gained what.
    pub grant: Grant,
    /// Why.
    pub cause: GrantCause,
}

/// A principal lost an entitlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRemoved {
    /// Who lost what.
    pub grant: Grant,
    /// Why.
    pub cause: GrantCause,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_listed_once() {
        let mut names: Vec<&str> = EVENT_TYPES.iter().map(|(n, _)| *n).collect();
        let before = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), before);
        assert!(EVENT_TYPES.iter().all(|(_, v)| *v >= 1));
    }

    #[test]
    fn event_type_names_match_variants() {
        let e: Event = UserVanished {
            account_id: AccountId::from("a1"),
        }
        .into();
        assert_eq!(e.event_type(), "UserVanished");
        assert!(e.is_access_event());
        let s: Event = SyncStarted {
            run: SyncRunId::from("r"),
            site: "acme".into(),
            started_at: Timestamp(0),
        }
        .into();
        assert!(!s.is_access_event());
    }
}
