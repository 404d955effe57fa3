//! Sync lifecycle: a sync run's own bookkeeping (it began, it finished, it failed).
//! These events say nothing about who has what.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::SyncRunId;
use crate::time::Timestamp;

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
