//! The closed head: what the log held when its last handle closed in order.
//!
//! Opening the database costs a large log a tenth of a second or more (sled
//! recovers its page table and rewrites every free segment on each open), and
//! closing it as much again. A reader that only needs "the state at the head"
//! can skip both when it knows the head without opening: the file `closed`
//! beside the database says it. It is written when the last handle of a
//! process drops, if that handle appended nothing it could not make durable and
//! trusted its anchor; every open removes it, durably (the directory is
//! fsynced), before the handle is returned, so before anything can append. So a
//! `closed` file that reads back names the head of a log that nobody has opened
//! since. It is a hint that can only be missing, never wrong: a crash leaves
//! none (the next open writes none until it closes in order), a lost write after
//! a power cut leaves none or an unreadable one, and any doubt means the reader
//! opens the log as before (ADR 0025).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use grantledger_model::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{LogError, Result};
use crate::files::fsync_dir;
use crate::record::{Hash, Position};

/// The closed-head file's name inside the log directory.
pub const CLOSED_FILE: &str = "closed";

/// At most this much of the file is read.
const MAX_LEN: u64 = 64 * 1024;

/// The head of a log closed in order, and what a reader needs besides the state
/// to answer as of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedHead {
    /// The last position.
    pub position: Position,
    /// Its hash (hex).
    pub hash: String,
    /// When the record at `position` was written (none for an empty log).
    pub recorded_at: Option<Timestamp>,
    /// The Jira sites the log holds (its `jira:` streams), by name.
    pub sites: Vec<String>,
}

impl ClosedHead {
    /// The head's hash.
    pub fn hash(&self) -> Option<Hash> {
        Hash::from_hex(&self.hash)
    }

    /// Reads the closed head of the log in `dir`: `None` when there is none or it
    /// does not read back whole (then the log must be opened).
    pub fn read(dir: impl AsRef<Path>) -> Option<ClosedHead> {
        use std::io::Read as _;
        let mut text = String::new();
        std::fs::File::open(path(dir.as_ref()))
            .ok()?
            .take(MAX_LEN)
            .read_to_string(&mut text)
            .ok()?;
        let head: ClosedHead = serde_json::from_str(&text).ok()?;
        head.hash()?;
        Some(head)
    }
}

pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(CLOSED_FILE)
}

/// Removes the closed head, durably, before a handle is returned.
pub(crate) fn remove(dir: &Path) -> Result<()> {
    let p = path(dir);
    match std::fs::remove_file(&p) {
        Ok(()) => fsync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io(&p)(e)),
    }
}

/// Writes the closed head (a new file renamed into place, so a reader sees all
/// of it or none). Not fsynced: lost, it is merely missing.
pub(crate) fn write(dir: &Path, head: &ClosedHead) -> std::io::Result<()> {
    let p = path(dir);
    let tmp = dir.join(format!(".{CLOSED_FILE}.{}.tmp", std::process::id()));
    let text = serde_json::to_string(head).map_err(std::io::Error::other)?;
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        std::fs::rename(&tmp, &p)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
