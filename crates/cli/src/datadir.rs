//! Where grantledger keeps its files, and opening the event log there.
//!
//! Layout of a data directory (`--data-dir`, `GRANTLEDGER_DATA_DIR`, or
//! `<platform data dir>/grantledger`):
//!
//! ```text
//! <data-dir>/
//!   log/        the event log (sled files; only grantledger-eventlog reads them)
//! ```
//!
//! Further entries (configuration, snapshots) get their own names next to `log/`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use grantledger_eventlog::EventLog;

/// A resolved data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The directory given on the command line or in `GRANTLEDGER_DATA_DIR`, else
    /// `<platform data dir>/grantledger`. Nothing is created.
    pub fn resolve(given: Option<&Path>) -> Result<DataDir> {
        let root = match given {
            Some(p) => p.to_path_buf(),
            None => dirs::data_dir()
                .map(|d| d.join("grantledger"))
                .context(
                    "cannot tell this platform's data directory; pass --data-dir or set GRANTLEDGER_DATA_DIR",
                )?,
        };
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

    /// Opens the log for a read command: fails, creating nothing, when there is none.
    pub fn open_existing_log(&self) -> Result<EventLog> {
        if !self.has_log() {
            bail!(
                "no event log in {}: run `grantledger demo` (or `grantledger sync`) first, or pass --data-dir",
                self.root.display()
            );
        }
        self.open_log()
    }

    /// Opens the log, creating it if needed (for commands that write).
    pub fn open_log(&self) -> Result<EventLog> {
        let dir = self.log_dir();
        tracing::debug!(dir = %dir.display(), "opening the event log");
        // The eventlog's errors name the directory and what to do (e.g. `Locked`).
        Ok(EventLog::open(&dir)?)
    }
}
