//! Who made a change in Jira: the audit record that explains a grant change or
//! a (de)activation a sync observed, computed from the log (ADR 0019).
//!
//! [`AuditTrail`] holds what `audit:<site>` holds: the records Jira's audit log
//! showed the syncs, and whether (and from when) it was read at all. Given a
//! history entry and the site's state (its runs and group names), it finds the
//! newest record about the same object saying the same change, made within the
//! sync window: after the start of the last run that completed before the one
//! that observed the change (any time, for the first run), and no later than
//! the change was recorded. Nothing here is stored: a record read later than the
//! change still explains it, and the rule can improve without touching the log.

use std::collections::{BTreeSet, HashMap};

use grantledger_eventlog::{EventLog, LogError};
use grantledger_model::*;

use crate::index::Entry;
use crate::state::SiteState;

/// What the log holds of a site's Jira audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditTrail {
    /// The records, oldest first.
    records: Vec<AuditRecordObserved>,
    /// Whether any sync read the audit log.
    read: bool,
    /// Where what the log holds begins: the oldest record a first read saw
    /// (Jira keeps records for a limited time).
    oldest: Option<Timestamp>,
    /// Each run's start as its audit read pinned it (the sync's clock, the one
    /// that stamped `SyncStarted::started_at`).
    started: HashMap<SyncRunId, Timestamp>,
}

/// How a change is explained by Jira's audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribution {
    /// A record explains it.
    Recorded {
        /// Jira's record id.
        record_id: i64,
        /// Who made it; `None` when Jira names nobody (a change made outside
        /// Jira: admin.atlassian.com, provisioning, the system).
        author: Option<AccountId>,
        /// When Jira says it was made.
        at: Timestamp,
    },
    /// No record explains it; why, in words.
    Unrecorded(String),
}

/// Whether a record says the change of an entry.
type Matcher<'a> = Box<dyn Fn(&AuditRecordObserved) -> bool + 'a>;

/// The kind of change a record must say.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Added,
    Removed,
}

impl AuditTrail {
    /// Reads `audit:<site>`.
    pub fn load(log: &EventLog, site: &str) -> Result<AuditTrail, LogError> {
        let mut t = AuditTrail::default();
        for r in log.read_stream(&StreamId::audit_site(site), 1)? {
            match r.event {
                Event::AuditRecordObserved(e) => t.records.push(e),
                Event::AuditLogRead(e) => {
                    t.started.insert(e.run.clone(), e.to);
                    if !t.read {
                        t.oldest = if e.from.is_none() {
                            e.oldest.or(Some(e.to))
                        } else {
                            e.from
                        };
                    }
                    t.read = true;
                }
                _ => {}
            }
        }
        t.records.sort_by_key(|e| (e.created, e.record_id));
        Ok(t)
    }

    /// How many records the log holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The explanation of a history entry: `None` for entries that are not a
    /// change a sync observed (grantledger's own changes are explained by their
    /// request or command; directory records by themselves), and for every
    /// entry when no sync ever read the site's audit log.
    pub fn explain(&self, entry: &Entry, state: &SiteState) -> Option<Attribution> {
        let (run, matcher): (&SyncRunId, Matcher<'_>) = match &entry.event {
            Event::GrantAdded(e) => match &e.cause {
                GrantCause::ObservedInSync { run } => (
                    run,
                    Box::new(move |r| grant_matches(r, &e.grant, Change::Added, state)),
                ),
                _ => return None,
            },
            Event::GrantRemoved(e) => match &e.cause {
                GrantCause::ObservedInSync { run } => (
                    run,
                    Box::new(move |r| grant_matches(r, &e.grant, Change::Removed, state)),
                ),
                _ => return None,
            },
            Event::UserDeactivated(e) => match &entry.causation {
                Some(Causation::SyncRun(run)) => (
                    run,
                    Box::new(move |r| activity_matches(r, &e.account_id, false)),
                ),
                _ => return None,
            },
            Event::UserReactivated(e) => match &entry.causation {
                Some(Causation::SyncRun(run)) => (
                    run,
                    Box::new(move |r| activity_matches(r, &e.account_id, true)),
                ),
                _ => return None,
            },
            _ => return None,
        };
        if !self.read {
            // No sync read the audit log (a log older than ADR 0019): nothing to say.
            return None;
        }
        let since = window_start(state, run, &self.started);
        let found = self
            .records
            .iter()
            .rev()
            .filter(|r| r.created <= entry.recorded_at && since.is_none_or(|s| r.created > s))
            .find(|r| matcher(r));
        Some(match found {
            Some(r) => Attribution::Recorded {
                record_id: r.record_id,
                author: r.author.clone(),
                at: r.created,
            },
            None => {
                let before_retention = match (since, self.oldest) {
                    (_, None) => true,
                    (None, Some(_)) => true,
                    (Some(s), Some(o)) => s < o,
                };
                let deactivation = matches!(
                    entry.event,
                    Event::UserDeactivated(_) | Event::UserReactivated(_)
                );
                Attribution::Unrecorded(if deactivation {
                    "no Jira audit record explains it: (de)activations made in admin.atlassian.com or by provisioning appear only in the organisation's audit log".into()
                } else if before_retention {
                    "no Jira audit record explains it: it may be older than the oldest record the log holds (Jira keeps audit records for a limited time), or made outside Jira (admin.atlassian.com, provisioning, a group sync)".into()
                } else {
                    "no Jira audit record explains it: made outside Jira's audit log (admin.atlassian.com, provisioning, a group sync)".into()
                })
            }
        })
    }
}

/// The start of the sync window of `run`: the start of the last run that
/// completed before it began (`None`: it is the first), as that run's audit
/// read pinned it, else as its `SyncStarted` was recorded.
fn window_start(
    state: &SiteState,
    run: &SyncRunId,
    started: &HashMap<SyncRunId, Timestamp>,
) -> Option<Timestamp> {
    let this = state.runs.iter().find(|r| &r.run == run)?;
    state
        .runs
        .iter()
        .filter(|r| {
            r.ended
                .as_ref()
                .is_some_and(|e| e.completed && e.position < this.started)
        })
        .map(|r| started.get(&r.run).copied().unwrap_or(r.started_at))
        .max()
}

fn is(item: Option<&AuditItem>, type_name: &str) -> bool {
    item.is_some_and(|i| i.type_name.as_deref() == Some(type_name))
}

fn names(item: &AuditItem, value: &str) -> bool {
    item.id.as_deref() == Some(value) || item.name.as_deref() == Some(value)
}

/// The entries of a list value (`"a, b, c"`).
fn list(value: Option<&str>) -> BTreeSet<&str> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn grant_matches(
    r: &AuditRecordObserved,
    grant: &Grant,
    change: Change,
    state: &SiteState,
) -> bool {
    match (&grant.principal, &grant.entitlement) {
        (Principal::User(account), Entitlement::GroupMembership { group }) => {
            let summary = match change {
                Change::Added => "User added to group",
                Change::Removed => "User removed from group",
            };
            let group_name = state.groups.get(group).map(|g| g.name.as_str());
            r.summary == summary
                && is(r.object.as_ref(), "GROUP")
                && r.object.as_ref().is_some_and(|o| {
                    o.name.as_deref().is_some_and(|n| Some(n) == group_name)
                        || o.id.as_deref() == Some(group.as_str())
                })
                && r.associated
                    .iter()
                    .any(|i| i.type_name.as_deref() == Some("USER") && names(i, account.as_str()))
        }
        (principal, Entitlement::ProjectRole { project, role }) => {
            let same_role = is(r.object.as_ref(), "PROJECT_ROLE")
                && r.object
                    .as_ref()
                    .is_some_and(|o| o.id.as_deref() == Some(role.as_str()))
                && r.associated.iter().any(|i| {
                    i.type_name.as_deref() == Some("PROJECT")
                        && i.id.as_deref() == Some(project.as_str())
                });
            if !same_role {
                return false;
            }
            let (field, keys): (&str, Vec<&str>) = match principal {
                Principal::User(a) => ("Users", vec![a.as_str()]),
                Principal::Group(g) => {
                    let mut keys = vec![g.as_str()];
                    if let Some(rec) = state.groups.get(g) {
                        keys.push(rec.name.as_str());
                    }
                    ("Groups", keys)
                }
            };
            r.changed.iter().any(|c| {
                if c.field != field {
                    return false;
                }
                let (from, to) = (list(c.from.as_deref()), list(c.to.as_deref()));
                let (was, is_now) = (
                    keys.iter().any(|k| from.contains(k)),
                    keys.iter().any(|k| to.contains(k)),
                );
                match change {
                    Change::Added => is_now && !was,
                    Change::Removed => was && !is_now,
                }
            })
        }
        _ => false,
    }
}

fn activity_matches(r: &AuditRecordObserved, account: &AccountId, active: bool) -> bool {
    let to = if active { "Active" } else { "Inactive" };
    is(r.object.as_ref(), "USER")
        && r.object
            .as_ref()
            .is_some_and(|o| names(o, account.as_str()))
        && r.changed
            .iter()
            .any(|c| c.field == "Active / Inactive" && c.to.as_deref() == Some(to))
}
