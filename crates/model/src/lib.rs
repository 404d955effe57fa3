//! grantledger's domain vocabulary, shared by every other crate.
//!
//! - [`ids`]: newtype ids (`AccountId`, `GroupId`, `ProjectId`, `RoleId`, and ids of
//!   sync runs, campaigns, requests and commands).
//! - [`access`]: [`Principal`] (user or group) holds an [`Entitlement`] (group
//!   membership, project role, product access); the pair is a [`Grant`]; every change
//!   of a grant carries a [`GrantCause`]; every record a [`Causation`].
//! - [`directory`]: what Jira says about users, groups, projects and roles.
//! - [`event`]: the [`Event`] enum, one variant per event type, and
//!   [`for_each_event_type!`], the single list of event types and schema versions.
//! - [`StreamId`]: the stream an event belongs to.
//! - [`Timestamp`]: time as the log stores it (the clock that tells it is
//!   `grantledger-clock`'s).
//!
//! This crate is pure data: no I/O, no clock, no encoding choices beyond serde
//! derives. The binary format lives in `grantledger-eventlog`'s codec.
//!
//! ```
//! use grantledger_model::{Grant, AccountId, GroupId, Event, GrantAdded, GrantCause, SyncRunId};
//! let e: Event = GrantAdded {
//!     grant: Grant::membership(AccountId::from("5b10a2844c20165700ede21g"), GroupId::from("g-admins")),
//!     cause: GrantCause::ObservedInSync { run: SyncRunId::from("run-1") },
//! }.into();
//! assert_eq!(e.event_type(), "GrantAdded");
//! ```

pub mod access;
pub mod directory;
pub mod event;
pub mod ids;
pub mod names;
pub mod place;
pub mod schema;
mod stream;
mod time;

pub use access::{Causation, Entitlement, Grant, GrantCause, Principal};
pub use directory::{AccountType, GroupRecord, ProjectRecord, RoleRecord, UserRecord};
pub use event::*;
pub use ids::*;
pub use place::line_and_column;
pub use schema::schema_text;
pub use stream::{InvalidStreamId, StreamId, MAX_STREAM_LEN};
pub use time::Timestamp;
