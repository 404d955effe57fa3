//! grantledger's event log: the only source of truth.
//!
//! An [`EventLog`] is an append-only sequence of [`Record`]s on local disk (sled
//! 0.34.7), each at a gapless global [`Position`] and in one stream
//! ([`grantledger_model::StreamId`]) at a per-stream version. [`EventLog::append`]
//! takes a batch of [`NewEvent`]s for one stream with an [`ExpectedVersion`] and
//! returns only when the whole batch is durable; a batch is visible entirely or not
//! at all, also after a crash. Each record carries the SHA-256 of the record before
//! it and its own, so [`EventLog::verify`] can walk the chain and name the first bad
//! position; the stored head catches a truncated tail.
//!
//! Reads: [`EventLog::read_from`] (a position onwards), [`EventLog::read_stream`],
//! [`EventLog::get`], [`EventLog::find_by_id`], and [`EventLog::subscribe`] to follow
//! new appends. [`EventLog::export_jsonl`] writes [`ExportRecord`] lines, and
//! [`verify_export`] checks such an export without the database.
//!
//! The binary format lives in [`codec`] alone (bincode 1.3.3); the storage layout
//! in `keys`. See `docs/adr/` for why sled, why bincode and what "durable" means.
//!
//! What this crate does not do: interpret events (that is `grantledger-projection`),
//! talk to Jira, or let anyone but the single writer in this process append (sled
//! locks the directory against a second process, which gets [`LogError::Locked`]
//! naming the holder; it can read a consistent copy with [`EventLog::open_copy`]).
//!
//! ```
//! use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent};
//! use grantledger_model::{AccountId, StreamId, UserVanished};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let log = EventLog::open(dir.path()).unwrap();
//! let stream = StreamId::jira_site("acme");
//! let done = log
//!     .append(&stream, ExpectedVersion::NoStream, vec![NewEvent::new(UserVanished {
//!         account_id: AccountId::from("5b10ac8d82e05b22cc7d4ef5"),
//!     })])
//!     .unwrap();
//! assert_eq!((done.first, done.stream_version), (1, 1));
//! assert!(log.verify().unwrap().is_ok());
//! ```

mod anchor;
mod closed;
pub mod codec;
mod error;
mod export;
mod files;
mod follow;
mod holder;
mod iter;
mod keys;
mod log;
mod record;
mod verify;

pub use anchor::{parse as parse_head, ANCHOR_FILE};
pub use closed::{ClosedHead, CLOSED_FILE};
pub use error::{LogError, Result};
pub use export::{
    export_schema, verify_export, ExportExpectations, ExportProblem, ExportRecord, ExportSummary,
    MAX_EXPORT_LINE,
};
pub use follow::{fold_until, Follower, Projection, READ_AHEAD_MIN};
pub use holder::{Holder, HOLDER_FILE};
pub use iter::RecordIter;
pub use log::{EventLog, OpenOptions, PendingAppend};
pub use record::{Appended, ExpectedVersion, Hash, Head, NewEvent, Position, Record};
pub use verify::{Problem, ProblemKind, VerifyReport};
