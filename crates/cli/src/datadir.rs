//! Where grantledger keeps its files, and opening the event log there.
//!
//! Layout of a data directory (`--data-dir`, `GRANTLEDGER_DATA_DIR`, or
//! `<platform data dir>/grantledger`):
//!
//! ```text
//! <data-dir>/          created 0700: the log holds users' names and emails
//!   grantledger.toml   the config file (`grantledger init`), 0600
//!   log/               the event log (sled files, the anchor, the holder file
//!                      while a process has it open; only grantledger-eventlog
//!                      reads them)
//! ```
//!
//! Commands that write open the log in place (one process at a time). Commands
//! that only read (`log verify`, `log stats`, `log export`) open it in place when
//! they can, and otherwise — the log is held by another process, the directory is
//! read-only, the disk is full — read a consistent private copy made in the
//! temporary directory (see ADR 0007).

use std::io::{ErrorKind, Read as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use grantledger_eventlog::{EventLog, LogError, ANCHOR_FILE};

use crate::output::{safe, thousands};

/// A resolved data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// A log opened for reading: in place, or a private copy (removed on drop, after
/// the log).
pub struct ReadLog {
    /// The log (or its copy).
    pub log: EventLog,
    /// The copy's directory, when it is a copy.
    _scratch: Option<tempfile::TempDir>,
}

impl std::ops::Deref for ReadLog {
    type Target = EventLog;
    fn deref(&self) -> &EventLog {
        &self.log
    }
}

impl DataDir {
    /// The directory given on the command line or in `GRANTLEDGER_DATA_DIR`, else
    /// `<platform data dir>/grantledger`. Nothing is created. A path that exists
    /// and is not a directory is refused.
    pub fn resolve(given: Option<&Path>) -> Result<DataDir> {
        let root = match given {
            Some(p) => p.to_path_buf(),
            None => dirs::data_dir()
                .map(|d| d.join("grantledger"))
                .context(
                    "cannot tell this platform's data directory; pass --data-dir or set GRANTLEDGER_DATA_DIR",
                )?,
        };
        if root.exists() && !root.is_dir() {
            bail!(
                "the data directory {} is not a directory (it is a file or a device): nothing was read or changed; pass --data-dir (or set GRANTLEDGER_DATA_DIR) to a directory",
                safe(&root.display().to_string())
            );
        }
        Ok(DataDir { root })
    }

    /// The data directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the event log lives.
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("log")
    }

    /// Whether a log has been created here (without opening, so without creating one).
    pub fn has_log(&self) -> bool {
        self.log_dir().join("db").is_file()
    }

    /// The error for a data directory without a log: none was ever made here, or
    /// its database is gone while its anchor (the last head) is still there.
    fn no_log(&self) -> anyhow::Error {
        let root = safe(&self.root.display().to_string());
        let anchor = self.log_dir().join(ANCHOR_FILE);
        if let Ok(file) = std::fs::File::open(&anchor) {
            let mut text = String::new();
            let _ = file.take(256).read_to_string(&mut text);
            let records = grantledger_eventlog::parse_head(&text)
                .map(|h| format!("a log of {} records", thousands(h.position)))
                .unwrap_or_else(|_| "a log".to_owned());
            return anyhow::anyhow!(
                "the event log's database {root}/log/db is missing, but its anchor says {records} was here: it was deleted or moved; nothing was changed (and nothing will be written until it is back): restore {root}/log from a backup, or pass the --data-dir that holds it"
            );
        }
        anyhow::anyhow!(
            "no event log in {root}: run `grantledger sync` to record one (see `grantledger init`), or pass the --data-dir that holds one (`grantledger demo` prints the directory it used)"
        )
    }

    /// Creates the data directory (0700) if needed, and warns when an existing
    /// one can be read by other users.
    pub fn prepare(&self) -> Result<()> {
        if !self.root.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt as _;
                builder.mode(0o700);
            }
            builder.create(&self.root).with_context(|| {
                format!(
                    "cannot create the data directory {}",
                    safe(&self.root.display().to_string())
                )
            })?;
            return Ok(());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            if let Ok(meta) = std::fs::metadata(&self.root) {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    let root = safe(&self.root.display().to_string());
                    eprintln!(
                        "warning: other users can access the data directory {root} (mode {mode:o}), and its log holds users' names and emails: run `chmod 700 {root}`"
                    );
                }
            }
        }
        Ok(())
    }

    /// Opens the log for a read command: fails, creating nothing, when there is
    /// none. Reads a consistent private copy when the log cannot be opened in
    /// place (held by another process, a read-only directory, a full disk).
    pub fn open_for_reading(&self, verbose: u8) -> Result<ReadLog> {
        if !self.has_log() {
            return Err(self.no_log());
        }
        let dir = self.log_dir();
        let why = match EventLog::open(&dir) {
            Ok(log) => {
                return Ok(ReadLog {
                    log,
                    _scratch: None,
                })
            }
            Err(e @ LogError::Locked { .. }) => e.to_string(),
            Err(e) if can_read_a_copy(&e) => e.to_string(),
            Err(e) => return Err(e.into()),
        };
        let scratch = private_tempdir("grantledger-read-")
            .context("cannot create a temporary directory for a copy of the log (set TMPDIR to a directory with free space)")?;
        if verbose > 0 {
            eprintln!(
                "note: reading a private copy of the log ({}): {}",
                safe(&why),
                scratch.path().display()
            );
        }
        let log = EventLog::open_copy(&dir, scratch.path()).map_err(|e| {
            let full = e.io_kind() == Some(ErrorKind::StorageFull);
            let err = anyhow::Error::new(e);
            if full {
                err.context(format!(
                    "the log cannot be opened in place ({}) and a copy does not fit in the temporary directory {}: set TMPDIR to a directory on a disk with free space",
                    safe(&why),
                    std::env::temp_dir().display()
                ))
            } else {
                err
            }
        })?;
        Ok(ReadLog {
            log,
            _scratch: Some(scratch),
        })
    }

    /// Opens the log, creating it if needed (for commands that write).
    pub fn open_log(&self) -> Result<EventLog> {
        if !self.has_log() && self.log_dir().join(ANCHOR_FILE).exists() {
            return Err(self.no_log());
        }
        self.prepare()?;
        let dir = self.log_dir();
        tracing::debug!(dir = %dir.display(), "opening the event log");
        Ok(EventLog::open(&dir)?)
    }
}

/// A new directory in the temporary directory with a random name, readable by
/// its owner alone.
pub fn private_tempdir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir()
}

/// Whether a failure to open the log in place is one a private copy avoids.
fn can_read_a_copy(e: &LogError) -> bool {
    matches!(
        e.io_kind(),
        Some(ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem | ErrorKind::StorageFull)
    )
}
