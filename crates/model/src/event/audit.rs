//! Jira's admin audit log, as read by a sync: each record once (by its id), and
//! the window each read covered (the checkpoint the next read starts from). In
//! the stream `audit:<site>`; see ADR 0019.
//!
//! A record is evidence of who changed what in Jira; it changes no grant. What
//! it explains (a `GrantAdded` / `GrantRemoved` observed by a sync) is computed
//! from the log by the projection, never stored.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, SyncRunId};
use crate::time::Timestamp;

/// An object named in an audit record (Jira's `AssociatedItemBean`), as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditItem {
    /// Its id (an account id, a project or role id; Jira sends none for a group).
    pub id: Option<String>,
    /// Its name (a group's name, a role's name, an account id or user key).
    pub name: Option<String>,
    /// `USER`, `GROUP`, `PROJECT`, `PROJECT_ROLE`, ...
    pub type_name: Option<String>,
}

/// A changed field of an audit record (Jira's `ChangedValueBean`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditValueChange {
    /// The field, e.g. `Users`, `Groups`, `Active / Inactive`.
    pub field: String,
    /// The value before (absent when there was none).
    pub from: Option<String>,
    /// The value after (absent when there is none).
    pub to: Option<String>,
}

/// One record of Jira's admin audit log, first seen by a sync run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRecordObserved {
    /// The run that read it.
    pub run: SyncRunId,
    /// Jira's record id (site-wide, increasing).
    pub record_id: i64,
    /// When Jira says the change was made.
    pub created: Timestamp,
    /// What happened, e.g. `User added to group`.
    pub summary: String,
    /// E.g. `group management`, `projects`, `user management`.
    pub category: String,
    /// Who made it, when Jira names them (absent for changes made outside
    /// Jira: admin.atlassian.com, provisioning, the system).
    pub author: Option<AccountId>,
    /// The object changed.
    pub object: Option<AuditItem>,
    /// Objects associated with the change.
    pub associated: Vec<AuditItem>,
    /// The fields changed.
    pub changed: Vec<AuditValueChange>,
}

/// A sync run read the audit log from `from` (inclusive; absent: from the
/// oldest record Jira keeps) to `to` (inclusive). The next read starts at `to`
/// less an overlap, and records already observed are skipped by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditLogRead {
    /// The run.
    pub run: SyncRunId,
    /// The window's start, if it had one.
    pub from: Option<Timestamp>,
    /// The window's end.
    pub to: Timestamp,
    /// Records Jira returned in the window.
    pub records_read: u64,
    /// Of those, records not observed before (each an `AuditRecordObserved`).
    pub records_new: u64,
    /// The oldest record's time in the window, if any: where what the log holds
    /// of Jira's audit log begins, on a first read.
    pub oldest: Option<Timestamp>,
}
