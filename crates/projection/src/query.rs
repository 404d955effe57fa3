//! Answers from the log: the state at any moment, history, diffs. [`Queries`] is
//! a cheap, clonable, `Send + Sync` handle that an async server can move into a
//! blocking task; nothing here prints.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use grantledger_clock::{Clock, SystemClock};
use grantledger_eventlog::{fold_until, ClosedHead, EventLog, Hash, Position, Projection};
use grantledger_model::{Event, Grant, GrantCause, Principal, Timestamp};

use crate::changes::{check_tail, GrantChanges};
use crate::effective::Target;
use crate::error::{rfc3339, QueryError};
use crate::fold::NumberedSite;
use crate::image::SiteImage;
use crate::index::{Entry, HistoryIndex, StepKind, Subject};
use crate::snapshot::{check_hash, SnapshotFile, SnapshotStore};
use crate::state::{Site, SiteState};

/// The snapshot kind of [`Site`] state.
pub const STATE_KIND: &str = "state";
/// The format of state snapshots; bump it whenever [`SiteState`] or [`Site`]
/// changes shape, and every older snapshot is ignored and rebuilt.
pub const STATE_FORMAT: u32 = 5;
/// The snapshot kind of the [`HistoryIndex`].
pub const INDEX_KIND: &str = "index";
/// The format of index snapshots.
pub const INDEX_FORMAT: u32 = 5;
/// Default distance between periodic state snapshots, in log positions.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 250_000;
/// A replay at the head at least this long leaves a snapshot at the head.
const HEAD_SNAPSHOT_MIN_TAIL: u64 = 5_000;
/// A replay at least this long folds with numbered grant storage
/// ([`NumberedSite`]), and an index fold this long derives its grant subjects
/// at the end ([`HistoryIndex::fold_long`]): below it, either costs more than
/// it saves.
const NUMBERED_FOLD_MIN: u64 = 20_000;

/// A moment in the log: a position, or a time (the last record at or before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// Just after this position.
    Position(Position),
    /// As of this time.
    Time(Timestamp),
}

impl FromStr for Moment {
    type Err = String;

    /// A number is a position; anything else must be an RFC 3339 time
    /// (`2026-03-01T12:00:00Z`).
    fn from_str(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
            return raw
                .parse()
                .map(Moment::Position)
                .map_err(|e| format!("{raw:?} is not a position: {e}"));
        }
        chrono::DateTime::parse_from_rfc3339(raw)
            .map(|t| Moment::Time(Timestamp::from_micros(t.timestamp_micros())))
            .map_err(|e| {
                format!("{raw:?} is neither a log position nor an RFC 3339 time such as 2026-03-01T12:00:00Z ({e})")
            })
    }
}

impl std::fmt::Display for Moment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Moment::Position(p) => write!(f, "position {p}"),
            Moment::Time(t) => f.write_str(&rfc3339(*t)),
        }
    }
}

/// A grant added or removed, as one record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The grant.
    pub grant: Grant,
    /// True for `GrantAdded`.
    pub added: bool,
    /// Where.
    pub position: Position,
    /// When.
    pub recorded_at: Timestamp,
    /// Why.
    pub cause: GrantCause,
}

/// A net change between two moments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetChange {
    /// The grant.
    pub grant: Grant,
    /// True if held at the end and not at the start.
    pub added: bool,
    /// The last record in the window that changed it (`None` when only a vanished
    /// group, project or role took it away).
    pub last: Option<Change>,
}

/// What changed between two positions.
#[derive(Debug, Clone)]
pub struct Diff {
    /// The state at the start.
    pub from: SiteState,
    /// The state at the end.
    pub to: SiteState,
    /// Grants held at one end and not the other, in grant order.
    pub net: Vec<NetChange>,
    /// Every grant record in the window, oldest first (a grant added and removed
    /// within the window is here, not in `net`).
    pub all: Vec<Change>,
}

/// Queries over one site's part of the log.
#[derive(Clone)]
pub struct Queries {
    log: EventLog,
    site: String,
    snapshots: Option<SnapshotStore>,
    every: u64,
    clock: Arc<dyn Clock>,
    preload: Option<Arc<Mutex<Option<StatePreload>>>>,
}

/// The newest state snapshot of a site, read on a thread of its own — its
/// checksum checked and its payload decoded — while the caller opens the log
/// (opening a large log and loading a large state take about as long as each
/// other). [`Queries::with_preload`] hands it to the first state asked for,
/// which uses it only once the log has the snapshot's hash at its position, as
/// for any snapshot (ADR 0008, ADR 0021).
#[derive(Debug)]
pub struct StatePreload {
    site: String,
    position: Position,
    thread: JoinHandle<Option<(SnapshotFile, Hash, Site)>>,
}

impl StatePreload {
    /// Starts reading the newest state snapshot of `site` in `store` (or of the
    /// one site `store` holds states of, when `site` is `None`). `None` when there
    /// is no such snapshot or no thread can be started: the answer is then found
    /// the usual way.
    pub fn start(store: &SnapshotStore, site: Option<&str>) -> Option<StatePreload> {
        let site = match site {
            Some(s) => s.to_owned(),
            None => {
                let mut sites = store.sites(STATE_KIND);
                if sites.len() != 1 {
                    return None;
                }
                sites.pop()?
            }
        };
        let file = store.list(STATE_KIND, &site).ok()?.pop()?;
        let position = file.position;
        let (store, name) = (store.clone(), site.clone());
        let thread = std::thread::Builder::new()
            .name("state-preload".into())
            .spawn(move || {
                // A file that does not read is left to the usual path, which
                // finds the same problem and removes it.
                let (hash, image, tail, entries) = store
                    .read_with_tail::<SiteImage, _>(
                        &file,
                        STATE_KIND,
                        STATE_FORMAT,
                        &name,
                        check_tail,
                    )
                    .ok()?;
                let site = image.into_site(GrantChanges::from_tail(tail, entries));
                Some((file, hash, site))
            })
            .ok()?;
        Some(StatePreload {
            site,
            position,
            thread,
        })
    }

    /// The site whose state is being read.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The position the snapshot being read covers (as its file name says).
    pub fn position(&self) -> Position {
        self.position
    }

    /// The state at the head a log was closed at, without opening the log: the
    /// snapshot must cover exactly that position with exactly that hash (and read
    /// back whole). `Err` gives the preload back when its position is not the
    /// closed head's, so that the usual path can still use it; `Ok(None)` when it
    /// was read and did not match.
    pub fn at_closed_head(self, closed: &ClosedHead) -> Result<Option<SiteState>, StatePreload> {
        if self.position != closed.position {
            return Err(self);
        }
        let Ok(Some((file, hash, site))) = self.thread.join() else {
            return Ok(None);
        };
        Ok((file.position == closed.position && Some(hash) == closed.hash()).then_some(site.state))
    }
}

impl std::fmt::Debug for Queries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queries")
            .field("site", &self.site)
            .field("snapshots", &self.snapshots)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl Queries {
    /// Queries on `site` (as in `jira:<site>`), without snapshots: every answer
    /// replays the log.
    pub fn new(log: EventLog, site: impl Into<String>) -> Self {
        Self {
            log,
            site: site.into(),
            snapshots: None,
            every: DEFAULT_SNAPSHOT_EVERY,
            clock: Arc::new(SystemClock::new()),
            preload: None,
        }
    }

    /// Uses (and fills) a snapshot cache, with a periodic snapshot every `every`
    /// positions.
    pub fn with_snapshots(mut self, store: SnapshotStore, every: u64) -> Self {
        self.snapshots = Some(store);
        self.every = every.max(1);
        self
    }

    /// The clock that says what "the future" is.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The site.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// What the log holds of the site's Jira audit log (ADR 0019).
    pub fn audit_trail(&self) -> Result<crate::attribution::AuditTrail, QueryError> {
        Ok(crate::attribution::AuditTrail::load(&self.log, &self.site)?)
    }

    fn save<T: serde::Serialize>(&self, kind: &str, format: u32, position: Position, value: &T) {
        if let Some(store) = &self.snapshots {
            if let Err(e) = store.save(&self.log, kind, format, &self.site, position, value) {
                // A cache that cannot be written costs time, never an answer.
                tracing::warn!(error = %e, "could not write a snapshot");
            }
        }
    }

    /// The state just after position `at`: the nearest usable snapshot at or
    /// before `at`, then the records after it. Periodic snapshots met on the way
    /// are written.
    pub fn state_at(&self, at: Position) -> Result<SiteState, QueryError> {
        let head = self.log.head().position;
        if at > head {
            return Err(QueryError::PositionPastHead { position: at, head });
        }
        let restored = match (self.take_preload(at), &self.snapshots) {
            (Some(site), _) => Some(site),
            (None, Some(store)) => store
                .load_with_tail_at_or_before::<SiteImage, _>(
                    &self.log,
                    STATE_KIND,
                    STATE_FORMAT,
                    &self.site,
                    at,
                    check_tail,
                )?
                .map(|(_, image, tail, entries)| {
                    image.into_site(GrantChanges::from_tail(tail, entries))
                }),
            (None, None) => None,
        };
        let site = restored.unwrap_or_else(|| Site::new(&self.site));
        let start = site.position();
        // A replay from nothing or a long one folds with the grant storage
        // numbered (ADR 0021); a short one after a snapshot folds into the state
        // itself, which costs nothing to set up.
        let site = if start == 0 || at - start >= NUMBERED_FOLD_MIN {
            let mut numbered = NumberedSite::from_site(site);
            self.fold_to(&mut numbered, at, NumberedSite::to_site)?;
            numbered.into_site()
        } else {
            let mut site = site;
            self.fold_to(&mut site, at, Site::clone)?;
            site
        };
        if at == head && at % self.every != 0 && at - start >= HEAD_SNAPSHOT_MIN_TAIL {
            self.save(STATE_KIND, STATE_FORMAT, at, &site);
            if let Some(store) = &self.snapshots {
                store.prune(STATE_KIND, &self.site, 1, self.every)?;
            }
        }
        Ok(site.state)
    }

    /// Reads the newest state snapshot ahead while the log opens: see
    /// [`StatePreload`]. Ignored unless it is of this site.
    pub fn with_preload(mut self, preload: Option<StatePreload>) -> Self {
        self.preload = preload
            .filter(|p| p.site == self.site)
            .map(|p| Arc::new(Mutex::new(Some(p))));
        self
    }

    /// The preloaded state, once, if it covers a position at or before `at` and
    /// the log has its hash there (else it is discarded, and removed when the log
    /// disagrees with it).
    fn take_preload(&self, at: Position) -> Option<Site> {
        let preload = self.preload.as_ref()?.lock().ok()?.take()?;
        let (file, hash, site) = preload.thread.join().ok()??;
        if file.position > at {
            return None;
        }
        match check_hash(&self.log, file.position, hash) {
            Ok(()) => Some(site),
            Err(why) => {
                if let Some(store) = &self.snapshots {
                    store.discard(&file, &why);
                }
                None
            }
        }
    }

    /// Folds `projection` up to `at`, writing a periodic snapshot (of the site
    /// `site_of` gives) at each multiple of `every` met on the way.
    fn fold_to<P: Projection>(
        &self,
        projection: &mut P,
        at: Position,
        site_of: impl Fn(&P) -> Site,
    ) -> Result<(), QueryError> {
        if self.snapshots.is_some() {
            loop {
                let mark = (projection.position() / self.every + 1) * self.every;
                if mark > at {
                    break;
                }
                fold_until(&self.log, projection, mark)?;
                self.save(STATE_KIND, STATE_FORMAT, mark, &site_of(projection));
            }
        }
        fold_until(&self.log, projection, at)?;
        Ok(())
    }

    /// The state at the log's head.
    pub fn current(&self) -> Result<SiteState, QueryError> {
        self.state_at(self.log.head().position)
    }

    /// The history index at the log's head (from its snapshot and the records
    /// after it; a fresh snapshot is left when that tail was long).
    pub fn index(&self) -> Result<HistoryIndex, QueryError> {
        let head = self.log.head().position;
        let restored = match &self.snapshots {
            Some(store) => {
                store.load_at_or_before(&self.log, INDEX_KIND, INDEX_FORMAT, &self.site, head)?
            }
            None => None,
        };
        let mut index = restored.map_or_else(|| HistoryIndex::new(&self.site), |(_, i)| i);
        let start = index.position();
        if head - start >= NUMBERED_FOLD_MIN {
            index.fold_long(&self.log, head)?;
        } else {
            fold_until(&self.log, &mut index, head)?;
        }
        if head - start >= HEAD_SNAPSHOT_MIN_TAIL {
            self.save(INDEX_KIND, INDEX_FORMAT, head, &index);
            if let Some(store) = &self.snapshots {
                store.prune(INDEX_KIND, &self.site, 1, 0)?;
            }
        }
        Ok(index)
    }

    /// The position a moment stands for, checked: not in the future, not past the
    /// head, not before the site's first completed sync. `head` is the current
    /// state (for the sync runs).
    pub fn resolve(&self, moment: Moment, head: &SiteState) -> Result<Position, QueryError> {
        let log_head = self.log.head().position;
        let position = match moment {
            Moment::Position(p) if p > log_head => {
                return Err(QueryError::PositionPastHead {
                    position: p,
                    head: log_head,
                })
            }
            Moment::Position(p) => p,
            Moment::Time(t) => {
                let now = self.clock.now();
                if t > now {
                    return Err(QueryError::FutureTime {
                        asked: rfc3339(t),
                        now: rfc3339(now),
                    });
                }
                self.position_at_time(t)?
            }
        };
        let Some(first) = head.completed_runs().next() else {
            return Err(QueryError::NeverSynced {
                site: self.site.clone(),
            });
        };
        let end = first.ended.expect("a completed run has ended");
        if position < end.position {
            return Err(QueryError::BeforeFirstSync {
                site: self.site.clone(),
                asked: moment.to_string(),
                first: format!(
                    "position {} and completed at position {} ({})",
                    first.started,
                    end.position,
                    rfc3339(end.at)
                ),
            });
        }
        Ok(position)
    }

    /// The last position recorded at or before `t` (0 if none). The log's
    /// `recorded_at` never decreases along positions when its clock does not go
    /// backwards, which makes this binary search exact (ADR 0008).
    pub fn position_at_time(&self, t: Timestamp) -> Result<Position, QueryError> {
        let (mut lo, mut hi) = (0, self.log.head().position);
        // Invariant: recorded_at(lo) <= t (position 0 counts as -inf), and every
        // position after hi is later than t.
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let at = self.log.get(mid)?.map(|r| r.recorded_at);
            if at.is_some_and(|at| at <= t) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    }

    /// The records that touched `subject` up to `until`, newest first; at most
    /// `limit` of them (all with `None`), and how many there are in all.
    pub fn history(
        &self,
        index: &HistoryIndex,
        subject: &Subject,
        until: Position,
        limit: Option<usize>,
    ) -> Result<(Vec<Entry>, usize), QueryError> {
        let all = index.positions(subject);
        let upto = all.partition_point(|p| *p <= until);
        let total = upto;
        let take = limit.unwrap_or(total).min(total);
        let wanted = &all[upto - take..upto];
        let mut out = Vec::with_capacity(take);
        // Newest first; from the index's rows, and the records it does not hold
        // whole (renames, directory changes) each decoded alone (`EventLog::get`).
        for &p in wanted.iter().rev() {
            match index.entry(p) {
                Some(entry) => out.push(entry),
                None => {
                    if let Some(r) = self.log.get(p)? {
                        out.push(r.into());
                    }
                }
            }
        }
        Ok((out, total))
    }

    /// Whether `grant` (a membership or a role actor) was held just after `at`,
    /// from the index alone: the last record about it, unless its group, project
    /// or role vanished since.
    pub fn grant_held_at(
        &self,
        index: &HistoryIndex,
        grant: &Grant,
        at: Position,
    ) -> Result<bool, QueryError> {
        let list = index.positions(&Subject::Grant(grant.clone()));
        let upto = list.partition_point(|p| *p <= at);
        let Some(&last) = list[..upto].last() else {
            return Ok(false);
        };
        let added = match index.grant_added_at(last) {
            Some(added) => added,
            None => matches!(
                self.log.get(last)?.map(|r| r.event),
                Some(Event::GrantAdded(_))
            ),
        };
        if !added {
            return Ok(false);
        }
        let mut gone = Vec::new();
        match (&grant.principal, &grant.entitlement) {
            (
                grantledger_model::Principal::User(_),
                grantledger_model::Entitlement::GroupMembership { group },
            ) => gone.push(Subject::Group(group.clone())),
            (principal, grantledger_model::Entitlement::ProjectRole { project, role }) => {
                gone.push(Subject::Project(project.clone()));
                gone.push(Subject::Role(project.clone(), role.clone()));
                if let grantledger_model::Principal::Group(g) = principal {
                    gone.push(Subject::Group(g.clone()));
                }
            }
            // Not stored grants (see `SiteState::set_grant`).
            _ => return Ok(false),
        }
        Ok(!gone.iter().any(|s| index.vanished_between(s, last, at)))
    }

    /// The direct holders of one group (its members) or one role (its actors) just
    /// after `at`, folded from that entitlement's own records only (through the
    /// index), so the cost follows its history, not the log's length.
    pub fn direct_holders_at(
        &self,
        index: &HistoryIndex,
        target: &Target,
        at: Position,
    ) -> Result<BTreeSet<Principal>, QueryError> {
        let subject = match target {
            Target::Group { group } => Subject::Group(group.clone()),
            Target::ProjectRole { project, role } => Subject::Role(project.clone(), role.clone()),
            Target::Product { .. } => return Ok(BTreeSet::new()),
        };
        let steps = index.timeline(&subject);
        let upto = steps.partition_point(|s| s.position <= at);
        let mut held: BTreeMap<u32, Position> = BTreeMap::new();
        for step in &steps[..upto] {
            match step.kind {
                StepKind::Added => {
                    held.insert(step.principal, step.position);
                }
                StepKind::Removed => {
                    held.remove(&step.principal);
                }
                StepKind::Cleared => held.clear(),
            }
        }
        let mut held: BTreeMap<Principal, Position> = held
            .into_iter()
            .map(|(id, p)| (index.principal(id).clone(), p))
            .collect();
        // A group actor went with its group.
        held.retain(|principal, added| match principal {
            Principal::Group(g) => !index.vanished_between(&Subject::Group(g.clone()), *added, at),
            Principal::User(_) => true,
        });
        Ok(held.into_keys().collect())
    }

    /// The default diff window: the ends of the last two completed syncs.
    pub fn default_window(head: &SiteState) -> Result<(Position, Position), QueryError> {
        let done: Vec<_> = head.completed_runs().collect();
        match done.as_slice() {
            [.., a, b] => Ok((
                a.ended.expect("completed").position,
                b.ended.expect("completed").position,
            )),
            _ => Err(QueryError::NoDefaultWindow {
                completed: done.len(),
            }),
        }
    }

    /// What changed between just after `from` and just after `to`.
    pub fn diff(&self, from: Position, to: Position) -> Result<Diff, QueryError> {
        if from > to {
            return Err(QueryError::BackwardsWindow { from, to });
        }
        let start = self.state_at(from)?;
        let mut site = Site {
            stream: grantledger_model::StreamId::jira_site(&self.site),
            state: start.clone(),
        };
        let mut all = Vec::new();
        for record in self.log.read_from(from + 1) {
            let record = record?;
            if record.position > to {
                break;
            }
            if record.stream == site.stream {
                let change = match &record.event {
                    Event::GrantAdded(e) => Some((e.grant.clone(), true, e.cause.clone())),
                    Event::GrantRemoved(e) => Some((e.grant.clone(), false, e.cause.clone())),
                    _ => None,
                };
                if let Some((grant, added, cause)) = change {
                    all.push(Change {
                        grant,
                        added,
                        position: record.position,
                        recorded_at: record.recorded_at,
                        cause,
                    });
                }
            }
            site.apply(&record);
        }
        let before: BTreeSet<Grant> = start.grants().collect();
        let after: BTreeSet<Grant> = site.state.grants().collect();
        let mut last: BTreeMap<&Grant, &Change> = BTreeMap::new();
        for c in &all {
            last.insert(&c.grant, c);
        }
        let net = before
            .symmetric_difference(&after)
            .map(|g| NetChange {
                grant: g.clone(),
                added: after.contains(g),
                last: last.get(g).map(|c| (*c).clone()),
            })
            .collect();
        Ok(Diff {
            from: start,
            to: site.state,
            net,
            all,
        })
    }
}
