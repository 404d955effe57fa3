//! Sync: turns a Jira Cloud site's listings into access events.
//!
//! [`sync`] runs one sync of the site behind a [`grantledger_jira::JiraClient`]
//! into a [`grantledger_eventlog::EventLog`]:
//!
//! 1. it folds the site's stream into a [`grantledger_projection::SiteState`] and
//!    appends `SyncStarted`;
//! 2. it lists every [`Scope`] — the users, the groups, the projects, product access,
//!    then each group's members and each project's roles and role actors as the
//!    lists reveal them — with bounded concurrency; a PageBean listing whose first
//!    page gives a total has its other pages fetched concurrently (and checked to fit
//!    together, or listed again page by page);
//! 3. it diffs each completely listed scope against the state ([`diff`]), in the
//!    fixed [`Scope`] order whatever order the answers came in, and appends the
//!    differences in durable batches as scopes complete;
//! 4. it closes the run with `SyncCompleted` and its figures, or `SyncFailed`.
//!
//! **A second writer** (ADR 0010): grantledger's command executor appends the
//! grants it makes to the same stream while a sync may run. Each scope's diff
//! leaves alone a grant changed after the scope's watermark (the log's head just
//! before its first request), and an append that finds the stream moved on reads
//! the records it missed, folds them and diffs the scopes not yet appended again.
//!
//! **Removal safety**: a removal is recorded only for a scope that this run listed
//! completely. A scope that failed records nothing; a group whose listing failed is
//! not a group that vanished. A run that stops half-way (an error or a crash) leaves
//! what it recorded, and the next run converges from the state the log holds.
//!
//! This crate does not talk HTTP itself (the client does), and does not decide what
//! to grant or revoke (that is review and jit).

pub mod audit;
mod confirm;
pub mod diff;
mod scope;
mod sync;

pub use scope::{minimum_requests, Scope};
pub use sync::{
    is_refresh_run, sync, Counts, Outcome, Progress, SyncError, SyncObserver, SyncOptions,
    SyncReport, DEFAULT_DEADLINE,
};
