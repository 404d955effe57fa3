//! Errors as a person reads them: one line that says what is wrong, what is
//! safe and what to do. The library errors are typed and say what went wrong;
//! advice that names a `grantledger` command belongs here, not in the libraries
//! (a web page shows their errors too). The raw causes come with `-v`.

use std::io::ErrorKind;
use std::path::Path;

use grantledger_eventlog::LogError;

use crate::output::safe;

/// A usage error (exit code 2): something missing or malformed in what was given
/// on the command line, in the environment or in the config file.
#[derive(Debug)]
pub struct UsageError(String);

impl UsageError {
    /// A usage error saying `what`.
    pub fn new(what: impl Into<String>) -> UsageError {
        UsageError(what.into())
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Whether the failure is a usage error.
pub fn is_usage(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|c| c.downcast_ref::<UsageError>().is_some())
}

/// The operating-system error kind behind the failure, wherever it is in the chain.
fn io_kind(err: &anyhow::Error) -> Option<ErrorKind> {
    err.chain().find_map(|c| {
        c.downcast_ref::<LogError>()
            .and_then(LogError::io_kind)
            .or_else(|| c.downcast_ref::<std::io::Error>().map(|e| e.kind()))
    })
}

/// The one line for failures that need more than the library's message: a
/// log in use, a damaged log, a full disk. `None` keeps the message as it is.
pub fn explain(err: &anyhow::Error, data_dir: Option<&Path>) -> Option<String> {
    let log_error = err.chain().find_map(|c| c.downcast_ref::<LogError>());
    let where_ = data_dir.map_or_else(
        || "the data directory".to_owned(),
        |d| safe(&d.display().to_string()),
    );
    if let Some(e) = log_error {
        match e {
            LogError::Locked { holder, .. } => {
                let who = holder
                    .as_ref()
                    .map_or_else(|| "another process".to_owned(), |h| safe(&h.to_string()));
                return Some(format!(
                    "the event log in {where_} is in use by {who}: nothing was changed; wait for it to finish (or stop it) and run this again (commands that only read — `log verify`, `log export`, `access`, `history`, `diff`, `request list` — work meanwhile)"
                ));
            }
            LogError::Busy { .. } => {
                return Some(format!(
                    "the event log in {where_} kept changing while a copy was taken to read it: nothing was changed; run this again once the process writing it is done"
                ));
            }
            LogError::RolledBack { .. } | LogError::AnchorMismatch { .. } => {
                return Some(format!(
                    "{e}; `grantledger log verify` names the first position that differs"
                ));
            }
            LogError::Corrupt { position, .. } => {
                return Some(format!(
                    "the event log in {where_} is damaged at position {position}: nothing was written; `grantledger log verify` names the first bad position, and {where_}/log must be restored from a backup (-v shows the details)"
                ));
            }
            _ if e.is_damage() => {
                return Some(format!(
                    "the event log in {where_} is damaged (its storage files fail their checksums, so it cannot be read, not even to verify it): nothing was written; restore {where_}/log from a backup, then `grantledger log verify --expect-head` with a head noted earlier proves the restored log (-v shows the storage engine's message)"
                ));
            }
            _ => {}
        }
    }
    match io_kind(err) {
        Some(ErrorKind::StorageFull) => {
            let what = if log_error.is_some() {
                format!("the disk holding the event log in {where_} is full")
            } else {
                format!("the disk is full ({})", safe(&err.to_string()))
            };
            Some(format!(
                "{what}: nothing acknowledged was lost (every record appended before this stands and verifies); free space on that disk and run this again (-v shows the system's message)"
            ))
        }
        Some(ErrorKind::NotADirectory) if data_dir.is_some_and(|d| d.is_file()) => Some(format!(
            "the data directory {where_} is a file, not a directory: nothing was read or changed; pass --data-dir (or set GRANTLEDGER_DATA_DIR) to a directory"
        )),
        Some(ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied)
            if log_error.is_some() =>
        {
            Some(format!(
                "cannot write the event log in {where_} (no write access: read-only file system or permissions): nothing was changed; run this as the log's owner, or on a writable copy (`log verify`, `log stats` and `log export` only read and work here)"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_explained_whatever_wraps_it() {
        let io = std::io::Error::new(ErrorKind::StorageFull, "No space left on device");
        let err = anyhow::Error::new(io).context("cannot write out.jsonl");
        let line = explain(&err, None).unwrap();
        assert!(
            line.starts_with("the disk is full (cannot write out.jsonl)"),
            "{line}"
        );
        assert!(line.contains("free space"), "{line}");
        assert!(!is_usage(&err));
        assert!(is_usage(&anyhow::Error::new(UsageError::new("no site"))));
        let plain = anyhow::anyhow!("something else");
        assert_eq!(explain(&plain, None), None);
    }

    #[test]
    fn log_errors_get_the_cli_advice_the_library_leaves_out() {
        let dir = Path::new("/data");
        let damaged = anyhow::Error::new(LogError::Corrupt {
            position: 7,
            source: grantledger_eventlog::codec::CodecError::UnknownFormat(9),
        })
        .context("cannot verify the log");
        let line = explain(&damaged, Some(dir)).unwrap();
        assert!(
            line.starts_with("the event log in /data is damaged"),
            "{line}"
        );
        assert!(line.contains("nothing was written") && line.contains("grantledger log verify"));
        assert!(line.contains("at position 7"), "{line}");
        assert!(
            line.contains("/data/log must be restored from a backup"),
            "{line}"
        );

        let locked = anyhow::Error::new(LogError::Locked {
            path: dir.join("log"),
            holder: Some(grantledger_eventlog::Holder {
                pid: 4242,
                command: "grantledger sync\u{1b}[2J".into(),
                since: "2026-01-01T00:00:00Z".into(),
            }),
        });
        let line = explain(&locked, Some(dir)).unwrap();
        assert!(
            line.contains("in use by process 4242 (`grantledger sync"),
            "{line}"
        );
        assert!(!line.contains('\u{1b}'), "{line:?}");
        assert!(line.contains("log verify") && line.contains("nothing was changed"));

        let rolled = anyhow::Error::new(LogError::RolledBack { anchor: 9, head: 4 });
        let line = explain(&rolled, Some(dir)).unwrap();
        assert!(
            line.contains("restore the database from a backup"),
            "{line}"
        );
        assert!(line.contains("`grantledger log verify` names"), "{line}");
        // The library's own message names no command.
        assert!(!rolled.to_string().contains("grantledger"));
    }
}
