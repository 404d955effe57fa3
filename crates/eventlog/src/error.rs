//! The log's errors.

use grantledger_model::{EventId, StreamId};
use std::path::PathBuf;

use crate::codec::CodecError;
use crate::holder::Holder;
use crate::record::{ExpectedVersion, Position};

/// What went wrong in the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The stream is not at the version the append expected.
    #[error("stream {stream} is at version {current}, but the append expected {expected}")]
    WrongExpectedVersion {
        /// The stream.
        stream: StreamId,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// What the stream is at.
        current: u64,
    },
    /// An event id in the batch is already in the log, but the batch is not a
    /// retry of the batch that wrote it.
    #[error("event id {id} is already in the log at position {position}, and this batch is not the batch that wrote it ({detail})")]
    IdConflict {
        /// The id.
        id: EventId,
        /// Where it is.
        position: Position,
        /// How the batch differs.
        detail: String,
    },
    /// The batch cannot be appended as given.
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    /// A stored record or value could not be decoded.
    #[error("the log is damaged at position {position}: {source}")]
    Corrupt {
        /// The position (or the nearest known one).
        position: Position,
        /// What the decoder said.
        #[source]
        source: CodecError,
    },
    /// Another process has the log open.
    #[error("the log at {path} is in use by another process{} (one process at a time may open it)", holder.as_ref().map_or_else(String::new, |h| format!(", {h}")))]
    Locked {
        /// The log directory.
        path: PathBuf,
        /// The process holding it, when it left its holder file (see
        /// [`crate::HOLDER_FILE`]) and is still running.
        holder: Option<Holder>,
    },
    /// A consistent copy of the log could not be taken: it changed during every
    /// attempt.
    #[error("the log at {path} kept changing while it was copied ({attempts} attempts)")]
    Busy {
        /// The log directory.
        path: PathBuf,
        /// How many copies were tried.
        attempts: u32,
    },
    /// An earlier append failed after it reached the storage engine: whether it is
    /// durable is unknown until the log is reopened.
    #[error("an earlier append failed half-way, so this handle no longer writes; reopen the log (it recovers to the last durable batch)")]
    Poisoned,
    /// The database holds fewer records than its head anchor says it had: it was
    /// cut short or replaced by an older copy. Appending would fork the history.
    #[error("the log was rolled back: its anchor records position {anchor} but the database ends at {head}; restore the database from a backup before writing to it")]
    RolledBack {
        /// The anchor's position.
        anchor: Position,
        /// The database's stored head.
        head: Position,
    },
    /// The database and its head anchor disagree; appends are refused so that the
    /// evidence stays as found.
    #[error("the log does not match its head anchor ({reason}); appending is refused so the evidence stays as found: restore the database and its anchor file together from a backup")]
    AnchorMismatch {
        /// What disagrees.
        reason: String,
    },
    /// The storage engine failed.
    #[error("storage error while {context}: {source}")]
    Storage {
        /// What the log was doing.
        context: &'static str,
        /// The engine's error.
        #[source]
        source: sled::Error,
    },
    /// A file operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl LogError {
    /// The kind of the operating-system error behind this one, if there is one
    /// (e.g. `StorageFull`, `PermissionDenied`, `ReadOnlyFilesystem`), so that
    /// callers can classify failures by type.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            LogError::Io { source, .. } => Some(source.kind()),
            LogError::Storage {
                source: sled::Error::Io(e),
                ..
            } => Some(e.kind()),
            _ => None,
        }
    }

    /// True when stored bytes could not be decoded: the files are damaged (the
    /// storage engine's own checksums, or our decoder).
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            LogError::Corrupt { .. }
                | LogError::Storage {
                    source: sled::Error::Corruption { .. },
                    ..
                }
        )
    }

    /// The same refusal again, for a later append on a distrusted handle.
    pub(crate) fn clone_for_refusal(&self) -> LogError {
        match self {
            LogError::RolledBack { anchor, head } => LogError::RolledBack {
                anchor: *anchor,
                head: *head,
            },
            LogError::AnchorMismatch { reason } => LogError::AnchorMismatch {
                reason: reason.clone(),
            },
            other => LogError::AnchorMismatch {
                reason: other.to_string(),
            },
        }
    }

    pub(crate) fn storage(context: &'static str) -> impl FnOnce(sled::Error) -> LogError {
        move |source| LogError::Storage { context, source }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LogError {
        let path = path.into();
        move |source| LogError::Io { path, source }
    }
}

/// The log's result type.
pub type Result<T, E = LogError> = std::result::Result<T, E>;
