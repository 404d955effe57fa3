//! The holder file: who has the log open.
//!
//! sled locks the database file, so a second process cannot open the log; the lock
//! itself does not say who holds it. While a handle is open its process keeps a
//! small file `holder` beside the database naming its pid, its command line and
//! since when; dropping the last handle removes it. A file left by a process that
//! died is stale: the next process to open the log replaces it, and one that finds
//! the log locked ignores a holder file whose pid is not running.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The holder file's name inside the log directory.
pub const HOLDER_FILE: &str = "holder";

/// At most this much of a holder file is read.
const MAX_LEN: u64 = 4096;
/// At most this many characters of the command line are kept.
const MAX_COMMAND: usize = 512;

/// The process that has the log open, as its holder file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// Its command line, arguments separated by spaces (possibly shortened). It
    /// comes from a file: escape it before printing it to a terminal.
    pub command: String,
    /// When it opened the log (RFC 3339).
    pub since: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let command: String = self
            .command
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        write!(
            f,
            "process {} (`{command}`, since {})",
            self.pid, self.since
        )
    }
}

pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(HOLDER_FILE)
}

impl Holder {
    /// This process.
    pub(crate) fn this_process(since: String) -> Holder {
        let mut command = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        if command.chars().count() > MAX_COMMAND {
            command = command.chars().take(MAX_COMMAND).collect::<String>() + "…";
        }
        Holder {
            pid: std::process::id(),
            command,
            since,
        }
    }

    fn render(&self) -> String {
        let command: String = self
            .command
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        format!(
            "pid {}\ncommand {command}\nsince {}\n",
            self.pid, self.since
        )
    }

    fn parse(text: &str) -> Option<Holder> {
        let mut pid = None;
        let mut command = String::new();
        let mut since = String::new();
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("pid", v)) => pid = v.trim().parse().ok(),
                Some(("command", v)) => command = v.to_owned(),
                Some(("since", v)) => since = v.trim().to_owned(),
                _ => {}
            }
        }
        Some(Holder {
            pid: pid?,
            command,
            since,
        })
    }

    /// Writes (or replaces a stale) holder file, readable by its owner alone.
    pub(crate) fn write(&self, dir: &Path) -> std::io::Result<()> {
        let p = path(dir);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut f = options.open(&p)?;
        f.write_all(self.render().as_bytes())
    }

    /// The holder named beside the log, if its file is there and (where this can
    /// be told) its process is still running.
    pub fn read_live(dir: &Path) -> Option<Holder> {
        let mut text = String::new();
        std::fs::File::open(path(dir))
            .ok()?
            .take(MAX_LEN)
            .read_to_string(&mut text)
            .ok()?;
        let holder = Holder::parse(&text)?;
        is_running(holder.pid).then_some(holder)
    }
}

/// Removes the holder file if it names this process.
pub(crate) fn remove_own(dir: &Path) {
    let own = std::fs::read_to_string(path(dir))
        .ok()
        .and_then(|t| Holder::parse(&t))
        .is_some_and(|h| h.pid == std::process::id());
    if own {
        let _ = std::fs::remove_file(path(dir));
    }
}

#[cfg(target_os = "linux")]
fn is_running(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(not(target_os = "linux"))]
fn is_running(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_round_trips_and_a_dead_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let me = Holder::this_process("2026-01-01T00:00:00Z".into());
        me.write(dir.path()).unwrap();
        assert_eq!(Holder::read_live(dir.path()), Some(me.clone()));
        assert!(me
            .to_string()
            .starts_with(&format!("process {} (`", me.pid)));
        let dead = Holder {
            pid: u32::MAX - 1,
            ..me
        };
        dead.write(dir.path()).unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(Holder::read_live(dir.path()), None);
        }
        remove_own(dir.path());
        assert!(path(dir.path()).exists(), "another pid's file stays");
        assert_eq!(Holder::parse("nonsense"), None);
    }
}
