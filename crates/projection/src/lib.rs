//! Grant state built from the event log: what a Jira site looks like according to
//! the log, now or at any past moment, who can reach what and through which
//! group, what touched a user or a group, and what changed between two moments.
//!
//! - [`state`]: [`SiteState`] (a site's directory and grants) and [`Site`], its
//!   [`grantledger_eventlog::Projection`], kept current by a
//!   [`grantledger_eventlog::Follower`].
//! - [`effective`]: effective access with paths ([`user_access`], [`holders`]).
//! - [`index`]: the [`HistoryIndex`] (records by user, group, project, role,
//!   product and grant).
//! - [`snapshot`]: the [`SnapshotStore`], a disposable cache of projections
//!   beside the log, checked against the log's hash before use.
//! - [`query`]: [`Queries`], the point-in-time state, history and diffs.
//! - [`report`]: the answers as data, and their JSON Schemas.
//! - [`resolve`]: names as people type them.
//! - [`text`]: escaping untrusted names for terminals.
//!
//! This crate never writes to the log and never talks to Jira. Everything here,
//! snapshots and indexes included, can be rebuilt from the log at any time
//! (ADR 0008). Nothing prints; errors are [`QueryError`]s.

pub mod attribution;
pub mod changes;
pub mod effective;
mod error;
mod fold;
mod image;
pub mod index;
mod index_wire;
pub mod query;
pub mod report;
pub mod resolve;
pub mod snapshot;
pub mod state;
pub mod text;

pub use attribution::{Attribution, AuditTrail};
pub use changes::GrantChanges;
pub use effective::{holders, user_access, Holder, Reach, Target};
pub use error::{rfc3339, Candidate, QueryError};
pub use index::{Entry, HistoryIndex, Subject};
pub use query::{Change, Diff, Moment, NetChange, Queries, StatePreload};
pub use snapshot::{SnapshotFile, SnapshotStore};
pub use state::{RunEnd, Site, SiteState, SyncRun};
