//! What a sync is told (options) and what it tells (progress, outcome,
//! report, the one-line figures of a failed run).

use super::*;

/// How to run a sync.
#[derive(Clone)]
pub struct SyncOptions {
    /// The site's name in the log: events go to the stream `jira:<site>`.
    pub site: String,
    /// Listing requests in flight at once.
    pub concurrency: usize,
    /// Compute the events without appending anything.
    pub dry_run: bool,
    /// The run's id; by default derived from the clock.
    pub run_id: Option<SyncRunId>,
    /// Events per appended batch (a scope's events are never split).
    pub batch_events: usize,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// Told about progress after every scope.
    pub observer: Option<Arc<dyn SyncObserver>>,
    /// When this turns `true` the run stops fetching, records the scopes already
    /// listed and closes with `SyncFailed` ("interrupted").
    pub cancel: Option<tokio::sync::watch::Receiver<bool>>,
    /// The most a run may take; past it the run stops its requests and ends
    /// `SyncFailed` with what it finished.
    pub deadline: Duration,
    /// A role map, role or product listing that would remove at least this
    /// share of what the scope holds (and it holds more than
    /// `confirm_min_items`) is listed again, and nothing is removed unless both
    /// listings agree on what is gone. (Users, groups, projects and members are
    /// listed twice before any removal.)
    pub confirm_share: f64,
    /// See `confirm_share`: scopes this small are not confirmed by share.
    pub confirm_min_items: usize,
    /// A removal that two listings agree on is still held back (the scope
    /// fails with `MassRemoval`) when it takes more than `mass_removal_min`
    /// items and at least this share of what the scope holds: a server that
    /// answers wrongly but consistently looks the same as a mass deletion, so
    /// one is recorded only when `allow_mass_removal` says so.
    pub mass_removal_share: f64,
    /// See `mass_removal_share`.
    pub mass_removal_min: usize,
    /// Record mass removals (see `mass_removal_share`) for this run.
    pub allow_mass_removal: bool,
    /// Users that two agreeing user listings no longer hold are looked up by
    /// id (`GET /user`) before they are recorded as gone: a bare-array listing
    /// carries no total, so only this proves it did not skip them. At most this
    /// many (an even sample of them when there are more).
    pub max_user_lookups: usize,
    /// How many times in a row one append may find the site's stream moved on
    /// by another writer (and rebase) before the run gives up with
    /// [`SyncError::Contended`] (ADR 0010).
    pub max_rebases: u32,
    /// Read Jira's admin audit log since the last checkpoint into
    /// `audit:<site>` at the start of the run (ADR 0019). A failure to read it
    /// is a warning, not a failed sync (unless `refresh`).
    pub read_audit: bool,
    /// How far before the last checkpoint the audit read starts again
    /// ([`crate::audit::DEFAULT_AUDIT_OVERLAP`]).
    pub audit_overlap: Duration,
    /// A refresh (ADR 0020): list again only the groups' members and the
    /// projects' roles the audit records name, plus the users, groups,
    /// projects and product access; the run's id starts with `refresh-`.
    pub refresh: bool,
}

/// Default for [`SyncOptions::deadline`]: the largest real site (200,000 users,
/// 50,000 groups, 20,000 projects: about 100,000 requests) at the ~10 requests
/// a second Jira's rate limits sustain is under three hours.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(4 * 3600);

impl SyncOptions {
    /// Defaults for `site`: concurrency 8, batches of 1,000 events, system clock,
    /// 8 rebases in a row at most.
    pub fn new(site: impl Into<String>) -> Self {
        Self {
            site: site.into(),
            concurrency: 8,
            dry_run: false,
            run_id: None,
            batch_events: 1_000,
            clock: Arc::new(SystemClock::new()),
            observer: None,
            cancel: None,
            deadline: DEFAULT_DEADLINE,
            confirm_share: 1.0,
            confirm_min_items: 3,
            max_user_lookups: 100,
            mass_removal_share: 0.5,
            mass_removal_min: 3,
            allow_mass_removal: false,
            max_rebases: 8,
            read_audit: true,
            audit_overlap: crate::audit::DEFAULT_AUDIT_OVERLAP,
            refresh: false,
        }
    }
}

impl std::fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("site", &self.site)
            .field("concurrency", &self.concurrency)
            .field("dry_run", &self.dry_run)
            .field("run_id", &self.run_id)
            .field("batch_events", &self.batch_events)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// Progress of a running sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Scopes diffed (or given up).
    pub scopes_done: u64,
    /// Scopes known so far (grows as lists reveal groups, projects and roles).
    pub scopes_known: u64,
    /// HTTP requests so far.
    pub requests: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Events computed so far.
    pub events: u64,
}

/// Receives progress; implemented by the CLI's progress bars.
pub trait SyncObserver: Send + Sync {
    /// Called after every scope.
    fn progress(&self, progress: &Progress);
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was listed and every difference recorded.
    Completed,
    /// Some scopes could not be listed; their removals were not recorded.
    Failed {
        /// Why, in one line.
        reason: String,
        /// The scopes not finished.
        unfinished: Vec<String>,
    },
}

/// Sizes of the site after the run, as the log now has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Users (every account type).
    pub users: u64,
    /// Inactive users among them.
    pub inactive_users: u64,
    /// Groups.
    pub groups: u64,
    /// Group memberships.
    pub memberships: u64,
    /// Projects.
    pub projects: u64,
    /// Project roles.
    pub roles: u64,
    /// Role actor grants (users and groups).
    pub role_grants: u64,
    /// Products.
    pub products: u64,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The run.
    pub run: SyncRunId,
    /// How it ended.
    pub outcome: Outcome,
    /// Its figures.
    pub stats: SyncStats,
    /// The site afterwards.
    pub counts: Counts,
    /// Access events by type.
    pub events_by_type: BTreeMap<&'static str, u64>,
    /// Positions of the first and last access events written (none for a dry
    /// run or no change). Another writer's records may lie between them.
    pub written: Option<(Position, Position)>,
    /// How many times an append found another writer's records first, so the
    /// run read them and diffed its scopes not yet appended again (ADR 0010).
    pub rebases: u64,
    /// The events a dry run would have appended.
    pub dry_run_events: Vec<Event>,
    /// Things worth knowing that did not fail the run.
    pub warnings: Vec<String>,
    /// Routine steps worth explaining (not problems), e.g. removals confirmed by a
    /// second listing.
    pub notes: Vec<String>,
    /// What the read of Jira's audit log did (none when it was not read or
    /// failed; a failure is in `warnings`).
    pub audit: Option<crate::audit::AuditSummary>,
    /// For a refresh: the groups (by name) and projects it listed again.
    pub refreshed: Option<crate::audit::Affected>,
    /// For a full sync after a refresh: the access events it recorded, each a
    /// change the refresh did not see (one Jira's audit log does not show, or
    /// one made after the refresh).
    pub missed_by_refresh: Option<u64>,
}

/// A sync could not record its outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The log failed; what was appended before stands and verifies.
    #[error("the event log failed during the sync: {0}")]
    Log(#[from] LogError),
    /// A background task died.
    #[error("internal error during the sync: {0}")]
    Internal(String),
    /// Other writers appended to the site's stream before every attempt of
    /// one append: the run stopped appending (what it appended before stands,
    /// and its next run picks up from there).
    #[error("the stream {stream} kept changing under the sync: {attempts} attempts in a row found records of another writer first; nothing more was recorded — run the sync again when the other writer is quieter")]
    Contended {
        /// The site's stream.
        stream: StreamId,
        /// Attempts made after the first.
        attempts: u32,
    },
}

/// A failed run's figures in one line: what it sent and why it waited.
pub(super) fn figures(m: &Metrics, m0: &Metrics, cancelled: u64, took: Duration) -> String {
    format!(
        "{} requests sent in {} ({} retries, {} connection failures with {} ms waited after them, {} answered 429, {} ms of backoff after 429s and server errors summed over concurrent requests, {} page requests cancelled)",
        m.requests - m0.requests,
        human(took),
        m.retries - m0.retries,
        m.connection_failures - m0.connection_failures,
        m.connection_wait_ms - m0.connection_wait_ms,
        m.rate_limited - m0.rate_limited,
        m.wait_ms - m0.wait_ms,
        cancelled
    )
}

/// A duration as people read it: "4h", "90s", "250ms".
pub(super) fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s >= 60 && s % 60 == 0 {
        format!("{}min", s / 60)
    } else if s >= 1 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// At most this many unfinished scopes are named in `SyncFailed`; the rest are
/// counted, so a run that fails early on a large site still writes a small record.
pub(super) const MAX_NAMED_UNFINISHED: usize = 50;

pub(super) fn summarize_unfinished(all: &[String]) -> Vec<String> {
    let mut out: Vec<String> = all.iter().take(MAX_NAMED_UNFINISHED).cloned().collect();
    if all.len() > MAX_NAMED_UNFINISHED {
        out.push(format!(
            "... and {} more scopes",
            all.len() - MAX_NAMED_UNFINISHED
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_runs_record_names_a_bounded_number_of_scopes() {
        let many: Vec<String> = (0..500).map(|i| format!("members of group g{i}")).collect();
        let named = summarize_unfinished(&many);
        assert_eq!(named.len(), MAX_NAMED_UNFINISHED + 1);
        assert!(named.last().unwrap().contains("450 more"));
        assert_eq!(summarize_unfinished(&many[..3]).len(), 3);
    }
}
