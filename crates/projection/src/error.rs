//! The query side's errors: each says what was wrong and what to do.

use std::path::{Path, PathBuf};

use grantledger_eventlog::{LogError, Position};
use grantledger_model::Timestamp;

/// One candidate of an ambiguous or unknown name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// What it is (`user`, `group`, `project`, `role`, `product`).
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// Its name as shown (display name, group name, project key...).
    pub name: String,
    /// More to tell candidates apart (a user's email), if any.
    pub detail: Option<String>,
}

/// What went wrong while answering a query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A position past the log's head was asked for.
    #[error(
        "position {position} is past the log's head ({head}); ask for a position up to {head}"
    )]
    PositionPastHead {
        /// The position asked for.
        position: Position,
        /// The head.
        head: Position,
    },
    /// A time in the future was asked for.
    #[error("{asked} is in the future (now is {now}); the log cannot answer for a time that has not happened")]
    FutureTime {
        /// The time asked for (RFC 3339).
        asked: String,
        /// Now (RFC 3339).
        now: String,
    },
    /// The moment asked for is before the site's first sync: the log knows nothing
    /// about the site then, which is not the same as "nobody had access".
    #[error("{asked} is before the first sync of {site} (it started at {first}); the log knows nothing about the site before that, so there is no answer")]
    BeforeFirstSync {
        /// The site.
        site: String,
        /// The moment asked for, as given.
        asked: String,
        /// The first sync's start (position and time).
        first: String,
    },
    /// No sync of the site has completed (none ran, or every one failed), so the
    /// log holds no complete picture of it to answer from.
    #[error("no sync of site {site} has completed yet, so the log holds no complete picture of it to answer from; a sync that completes makes it answerable")]
    NeverSynced {
        /// The site.
        site: String,
    },
    /// A name matches nothing.
    #[error("no {what} matches {asked:?}{}", closest_list(.closest))]
    NotFound {
        /// What was looked for (`user`, `group, project or product`...).
        what: &'static str,
        /// The name asked for.
        asked: String,
        /// The closest names, best first.
        closest: Vec<Candidate>,
    },
    /// A name matches more than one thing.
    #[error("{asked:?} matches {} {what}s; use an id instead:{}", .candidates.len(), list(.candidates))]
    Ambiguous {
        /// What was looked for.
        what: &'static str,
        /// The name asked for.
        asked: String,
        /// Every match.
        candidates: Vec<Candidate>,
    },
    /// Fewer than two completed syncs, so there is no default window for a diff.
    #[error("a diff without --from/--to compares the last two completed syncs, and the log has {completed}; pass --from and --to")]
    NoDefaultWindow {
        /// How many completed syncs there are.
        completed: usize,
    },
    /// A diff's window runs backwards.
    #[error("--from ({from}) is after --to ({to}); swap them")]
    BackwardsWindow {
        /// The start.
        from: Position,
        /// The end.
        to: Position,
    },
    /// A snapshot could not be encoded.
    #[error("cannot encode a snapshot: {0}")]
    SnapshotEncode(#[source] bincode::Error),
    /// The snapshot directory could not be read or written.
    #[error("snapshot cache {path}: {source}; it is only a cache: delete the directory (or fix its permissions) and retry")]
    SnapshotIo {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl QueryError {
    pub(crate) fn snapshot_io(path: &Path, source: std::io::Error) -> Self {
        QueryError::SnapshotIo {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn describe(c: &Candidate) -> String {
    let mut s = format!(
        "{} {} (id {})",
        c.kind,
        crate::text::escape(&c.name),
        crate::text::escape(&c.id)
    );
    if let Some(d) = &c.detail {
        s.push_str(", ");
        s.push_str(&crate::text::escape(d));
    }
    s
}

fn list(candidates: &[Candidate]) -> String {
    candidates
        .iter()
        .map(|c| format!("\n  {}", describe(c)))
        .collect()
}

fn closest_list(candidates: &[Candidate]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        format!("; closest:{}", list(candidates))
    }
}

/// Formats a timestamp as RFC 3339 (UTC, seconds, or microseconds when needed).
pub fn rfc3339(t: Timestamp) -> String {
    match chrono::DateTime::from_timestamp_micros(t.as_micros()) {
        Some(d) if d.timestamp_subsec_micros() == 0 => {
            d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        }
        Some(d) => d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        None => format!("@{}us", t.as_micros()),
    }
}
