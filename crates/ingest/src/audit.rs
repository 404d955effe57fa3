//! Jira's admin audit log, read by every sync run (ADR 0019): the records
//! since the last checkpoint, each appended once to `audit:<site>` as an
//! `AuditRecordObserved`, and the window read as an `AuditLogRead` (the next
//! checkpoint). A refresh (ADR 0020) also learns from them which groups and
//! projects changed.
//!
//! Against a hostile server the read is bounded like every listing (strict
//! pages, the client's per-listing ceiling and page budget): the window is
//! pinned at both ends (`from` the checkpoint less an overlap, `to` the run's
//! start), so records added while it is paged do not shift it, and a record
//! seen twice (the overlap, offset drift) is appended once, by id.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use grantledger_eventlog::{EventLog, ExpectedVersion, LogError, NewEvent};
use grantledger_jira::types::{AuditQuery, AuditRecord};
use grantledger_jira::{JiraClient, JiraError};
use grantledger_model::*;

/// How far before the last checkpoint a read starts again: Jira shows some
/// records late, and its clock is not ours.
pub const DEFAULT_AUDIT_OVERLAP: Duration = Duration::from_secs(10 * 60);

/// What the audit log says changed: the scopes a refresh lists again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affected {
    /// Groups by name (Jira names a group in a record without its id).
    pub group_names: BTreeSet<String>,
    /// Projects by id, whose roles are all listed again (a record about the
    /// project itself).
    pub projects: BTreeSet<ProjectId>,
    /// Project roles by project and role id (`Project roles changed`): only
    /// that role's actors are listed again.
    pub roles: BTreeSet<(ProjectId, RoleId)>,
    /// Records naming a user's account (created, updated): the user list, which
    /// every refresh reads anyway, covers them.
    pub user_records: u64,
    /// Records about nothing a sync lists (workflows, fields, ...).
    pub other_records: u64,
}

/// What one read of the audit log did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSummary {
    /// The window's start (absent: from the oldest record Jira keeps).
    pub from: Option<Timestamp>,
    /// The window's end.
    pub to: Timestamp,
    /// Records Jira returned.
    pub read: u64,
    /// Of those, records not in the log before (appended now).
    pub new: u64,
    /// Records without an id or a readable time, left out.
    pub unusable: u64,
    /// Pages requested.
    pub pages: u64,
    /// What the new and re-read records say changed.
    pub affected: Affected,
}

/// Why the audit log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Jira refused or failed.
    #[error("the audit log could not be read: {0}")]
    Jira(#[from] JiraError),
    /// The log failed.
    #[error("the audit records could not be recorded: {0}")]
    Log(#[from] LogError),
    /// A background task died.
    #[error("internal error while reading the audit log: {0}")]
    Internal(String),
}

/// The `audit:<site>` stream as the log holds it.
pub(crate) struct Checkpoint {
    version: u64,
    known: HashSet<i64>,
    last_to: Option<Timestamp>,
}

fn load(log: &EventLog, site: &str) -> Result<Checkpoint, LogError> {
    let stream = StreamId::audit_site(site);
    let mut cp = Checkpoint {
        version: 0,
        known: HashSet::new(),
        last_to: None,
    };
    for r in log.read_stream(&stream, 1)? {
        cp.version = cp.version.max(r.stream_version);
        match &r.event {
            Event::AuditRecordObserved(e) => {
                cp.known.insert(e.record_id);
            }
            Event::AuditLogRead(e) => cp.last_to = Some(cp.last_to.map_or(e.to, |t| t.max(e.to))),
            _ => {}
        }
    }
    Ok(cp)
}

/// `t` as the audit API takes it (`2026-06-05T10:42:00.000Z`).
fn query_time(t: Timestamp) -> String {
    grantledger_clock::utc(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Jira's `created` (`2024-03-01T09:15:27.512+0000`, or RFC 3339).
pub fn parse_created(s: &str) -> Option<Timestamp> {
    let t = chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()?;
    Some(Timestamp(t.timestamp_micros()))
}

fn item(i: &grantledger_jira::types::AuditItem) -> AuditItem {
    AuditItem {
        id: i.id.clone(),
        name: i.name.clone(),
        type_name: i.type_name.clone(),
    }
}

/// The event of a record, or `None` when it has no id or no readable time.
fn observed(run: &SyncRunId, r: &AuditRecord) -> Option<AuditRecordObserved> {
    let record_id = r.id?;
    let created = parse_created(r.created.as_deref()?)?;
    Some(AuditRecordObserved {
        run: run.clone(),
        record_id,
        created,
        summary: r.summary.clone().unwrap_or_default(),
        category: r.category.clone().unwrap_or_default(),
        author: r
            .author_account_id
            .as_deref()
            .filter(|a| !a.is_empty())
            .map(AccountId::from),
        object: r.object_item.as_ref().map(item),
        associated: r.associated_items.iter().map(item).collect(),
        changed: r
            .changed_values
            .iter()
            .map(|c| AuditValueChange {
                field: c.field_name.clone().unwrap_or_default(),
                from: c.changed_from.clone(),
                to: c.changed_to.clone(),
            })
            .collect(),
    })
}

impl Affected {
    /// Notes what `record` says changed. Any group or project an item names
    /// counts (a record of a kind not known here still names its scope).
    pub fn note(&mut self, record: &AuditRecordObserved) {
        // A role's change: that role of that project.
        if let Some(role) = record
            .object
            .as_ref()
            .filter(|o| o.type_name.as_deref() == Some("PROJECT_ROLE"))
            .and_then(|o| o.id.as_deref().filter(|id| !id.is_empty()))
        {
            let projects: Vec<&str> = record
                .associated
                .iter()
                .filter(|i| i.type_name.as_deref() == Some("PROJECT"))
                .filter_map(|i| i.id.as_deref().filter(|id| !id.is_empty()))
                .collect();
            if !projects.is_empty() {
                for p in projects {
                    self.roles.insert((ProjectId::from(p), RoleId::from(role)));
                }
                return;
            }
        }
        let mut any = false;
        for i in record.object.iter().chain(&record.associated) {
            match i.type_name.as_deref() {
                Some("GROUP") => {
                    if let Some(n) = i.name.as_deref().filter(|n| !n.is_empty()) {
                        self.group_names.insert(n.to_owned());
                        any = true;
                    }
                }
                Some("PROJECT") => {
                    if let Some(id) = i.id.as_deref().filter(|n| !n.is_empty()) {
                        self.projects.insert(ProjectId::from(id));
                        any = true;
                    }
                }
                Some("USER") => any = true,
                _ => {}
            }
        }
        if !any {
            self.other_records += 1;
        } else if record
            .object
            .as_ref()
            .is_some_and(|o| o.type_name.as_deref() == Some("USER"))
        {
            self.user_records += 1;
        }
    }
}

/// Reads the audit log since the checkpoint and appends what is new (unless
/// `dry_run`), for `run` at `now`.
pub(crate) async fn import(
    log: &EventLog,
    client: &JiraClient,
    site: &str,
    run: &SyncRunId,
    now: Timestamp,
    overlap: Duration,
    dry_run: bool,
) -> Result<AuditSummary, AuditError> {
    let (log2, site2) = (log.clone(), site.to_owned());
    let cp = tokio::task::spawn_blocking(move || load(&log2, &site2))
        .await
        .map_err(|e| AuditError::Internal(e.to_string()))??;
    let from = cp
        .last_to
        .map(|t| Timestamp(t.as_micros().saturating_sub(overlap.as_micros() as i64)));
    let query = AuditQuery {
        from: from.map(query_time),
        to: Some(query_time(now)),
        filter: None,
    };
    let mut pager = client.audit_records_pages(&query);
    let mut summary = AuditSummary {
        from,
        to: now,
        ..AuditSummary::default()
    };
    let mut fresh: Vec<AuditRecordObserved> = Vec::new();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut oldest: Option<Timestamp> = None;
    while let Some(page) = pager.next_page().await? {
        summary.pages += 1;
        for r in &page {
            summary.read += 1;
            let Some(e) = observed(run, r) else {
                summary.unusable += 1;
                continue;
            };
            oldest = Some(oldest.map_or(e.created, |o| o.min(e.created)));
            if !seen.insert(e.record_id) || cp.known.contains(&e.record_id) {
                continue;
            }
            summary.affected.note(&e);
            fresh.push(e);
        }
    }
    // Oldest first, as they happened.
    fresh.sort_by_key(|e| (e.created, e.record_id));
    summary.new = fresh.len() as u64;
    if dry_run {
        return Ok(summary);
    }
    let read = AuditLogRead {
        run: run.clone(),
        from,
        to: now,
        records_read: summary.read,
        records_new: summary.new,
        oldest,
    };
    let stream = StreamId::audit_site(site);
    let batch: Vec<NewEvent> = fresh
        .into_iter()
        .map(|e| {
            let id = EventId::new(format!("{stream}/{}", e.record_id));
            NewEvent::new(e)
                .with_id(id)
                .caused_by(Causation::SyncRun(run.clone()))
        })
        .chain(std::iter::once(
            NewEvent::new(read).caused_by(Causation::SyncRun(run.clone())),
        ))
        .collect();
    let (log2, version) = (log.clone(), cp.version);
    tokio::task::spawn_blocking(move || {
        log2.append(&stream, ExpectedVersion::Exact(version), batch)
    })
    .await
    .map_err(|e| AuditError::Internal(e.to_string()))??;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_s_created_and_rfc_3339_both_parse() {
        let a = parse_created("2024-03-01T09:15:27.512+0000").unwrap();
        let b = parse_created("2024-03-01T09:15:27.512Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_micros() % 1_000_000, 512_000);
        assert!(parse_created("last tuesday").is_none());
    }

    #[test]
    fn affected_scopes_come_from_the_items() {
        let rec = |object: AuditItem, associated: Vec<AuditItem>| AuditRecordObserved {
            run: SyncRunId::from("r"),
            record_id: 1,
            created: Timestamp(0),
            summary: String::new(),
            category: String::new(),
            author: None,
            object: Some(object),
            associated,
            changed: Vec::new(),
        };
        let it = |id: Option<&str>, name: &str, t: &str| AuditItem {
            id: id.map(str::to_owned),
            name: Some(name.into()),
            type_name: Some(t.into()),
        };
        let mut a = Affected::default();
        a.note(&rec(
            it(None, "team-a", "GROUP"),
            vec![it(Some("u1"), "u1", "USER")],
        ));
        a.note(&rec(
            it(Some("10002"), "Developers", "PROJECT_ROLE"),
            vec![it(Some("10300"), "Apollo", "PROJECT")],
        ));
        a.note(&rec(it(Some("u2"), "u2", "USER"), vec![]));
        a.note(&rec(it(Some("5"), "Workflow", "WORKFLOW"), vec![]));
        a.note(&rec(it(Some("10301"), "Hermes", "PROJECT"), vec![]));
        assert_eq!(a.group_names, BTreeSet::from(["team-a".to_owned()]));
        assert_eq!(
            a.roles,
            BTreeSet::from([(ProjectId::from("10300"), RoleId::from("10002"))])
        );
        assert_eq!(a.projects, BTreeSet::from([ProjectId::from("10301")]));
        assert_eq!(a.user_records, 1);
        assert_eq!(a.other_records, 1);
    }
}
