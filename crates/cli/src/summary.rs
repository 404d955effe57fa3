//! The one-screen summary of a sync, and one-line descriptions of events.

use std::fmt::Write as _;

use grantledger_ingest::{Outcome, SyncReport};
use grantledger_model::{Entitlement, Event, Grant, GrantCause, Principal};
use grantledger_projection::SiteState;

use crate::output::{bytes, safe, thousands};

/// The line for stderr when a sync failed (`None` when it completed).
pub fn failure_line(site: &str, report: &SyncReport) -> Option<String> {
    match &report.outcome {
        Outcome::Completed => None,
        Outcome::Failed { reason, unfinished } => Some(format!(
            "sync of {} FAILED: {}; {} not finished: no removal was recorded for them, everything listed before stands, and the next sync converges",
            safe(site),
            safe(reason),
            match unfinished.len() {
                1 => "1 scope".to_owned(),
                n => format!("{} scopes", thousands(n as u64)),
            }
        )),
    }
}

/// The summary printed after a sync (on stdout; a failure's own line goes to
/// stderr, see [`failure_line`]). Notes on routine steps come with `-v`.
pub fn sync_summary(site: &str, report: &SyncReport, verbose: u8) -> String {
    let site = safe(site);
    let s = &report.stats;
    let c = &report.counts;
    let mut out = String::new();
    let secs = s.duration_ms as f64 / 1000.0;
    match &report.outcome {
        Outcome::Completed => {
            let _ = writeln!(
                out,
                "sync of {site} completed in {secs:.1} s (run {})",
                report.run
            );
        }
        Outcome::Failed { .. } => {
            let _ = writeln!(
                out,
                "sync of {site} failed after {secs:.1} s (run {}); what it recorded:",
                report.run
            );
        }
    }
    let _ = writeln!(
        out,
        "  users        {:>9}  ({} inactive)",
        thousands(c.users),
        thousands(c.inactive_users)
    );
    let _ = writeln!(
        out,
        "  groups       {:>9}  memberships {}",
        thousands(c.groups),
        thousands(c.memberships)
    );
    let _ = writeln!(
        out,
        "  projects     {:>9}  roles {}, role grants {}",
        thousands(c.projects),
        thousands(c.roles),
        thousands(c.role_grants)
    );
    let _ = writeln!(out, "  products     {:>9}", thousands(c.products));
    let by_type: Vec<String> = report
        .events_by_type
        .iter()
        .map(|(t, n)| format!("{t} {}", thousands(*n)))
        .collect();
    let _ = writeln!(
        out,
        "  events       {:>9}  {}",
        thousands(s.events_written),
        if by_type.is_empty() {
            "(no change)".to_owned()
        } else {
            by_type.join(", ")
        }
    );
    let ratio = if s.minimum_requests > 0 {
        s.requests as f64 / s.minimum_requests as f64
    } else {
        0.0
    };
    let _ = writeln!(
        out,
        "  requests     {:>9}  minimum {} ({ratio:.2}x), {} retries, {} received, {} ms of backoff (429s and server errors, summed over requests)",
        thousands(s.requests),
        thousands(s.minimum_requests),
        thousands(s.retries),
        bytes(s.bytes),
        thousands(s.wait_ms)
    );
    if let Some((first, last)) = report.written {
        let _ = writeln!(
            out,
            "  log          positions {}..{} (the run's access events; its start and end records sit just before and after)",
            thousands(first),
            thousands(last)
        );
    }
    if let Some(a) = &report.audit {
        let _ = writeln!(
            out,
            "  audit log    {:>9}  records read, {} new ({} pages)",
            thousands(a.read),
            thousands(a.new),
            thousands(a.pages)
        );
    }
    if let Some(r) = &report.refreshed {
        let _ = writeln!(
            out,
            "  refresh      listed again the members of {} groups and the roles of {} projects the audit log names",
            thousands(r.group_names.len() as u64),
            thousands(r.projects.len() as u64)
        );
    }
    if let Some(n) = report.missed_by_refresh {
        let _ = writeln!(
            out,
            "  after refresh {:>8}  changes the last refresh did not see (not in Jira's audit log, or made after it)",
            thousands(n)
        );
    }
    for w in &report.warnings {
        let _ = writeln!(out, "  warning: {}", safe(w));
    }
    if verbose > 0 {
        for n in &report.notes {
            let _ = writeln!(out, "  info: {}", safe(n));
        }
    }
    out
}

fn user(state: &SiteState, id: &grantledger_model::AccountId) -> String {
    match state.users.get(id) {
        Some(u) if !u.display_name.is_empty() => format!("{} ({id})", u.display_name),
        _ => id.to_string(),
    }
}

fn principal(state: &SiteState, p: &Principal) -> String {
    match p {
        Principal::User(a) => user(state, a),
        Principal::Group(g) => format!("group {}", group(state, g)),
    }
}

fn group(state: &SiteState, g: &grantledger_model::GroupId) -> String {
    state
        .groups
        .get(g)
        .map_or_else(|| g.to_string(), |r| r.name.clone())
}

fn grant(state: &SiteState, g: &Grant) -> String {
    let who = principal(state, &g.principal);
    match &g.entitlement {
        Entitlement::GroupMembership { group: id } => {
            format!("{who} in group {}", group(state, id))
        }
        Entitlement::ProjectRole { project, role } => {
            let key = state
                .projects
                .get(project)
                .map_or_else(|| project.to_string(), |p| p.key.clone());
            let role_name = state
                .roles
                .get(project)
                .and_then(|r| r.get(role))
                .map_or_else(|| role.to_string(), |r| r.name.clone());
            format!("{who} as {role_name} of project {key}")
        }
        Entitlement::ProductAccess { product } => format!("{who} with access to {product}"),
    }
}

/// A grant's cause, when it is not the plain "a sync saw it".
fn by(cause: &GrantCause) -> String {
    match cause {
        GrantCause::ObservedInSync { .. } => String::new(),
        other => format!(" ({})", grantledger_projection::report::cause_text(other)),
    }
}

/// One line describing an event, with names looked up in `state`.
pub fn describe(state: &SiteState, event: &Event) -> String {
    match event {
        Event::GrantAdded(e) => format!("+ {}{}", grant(state, &e.grant), by(&e.cause)),
        Event::GrantRemoved(e) => format!("- {}{}", grant(state, &e.grant), by(&e.cause)),
        Event::CommandIssued(e) => format!(
            "command {} issued: {}",
            e.command,
            grantledger_outbox::describe(e)
        ),
        Event::CommandStarted(e) => format!(
            "command {} started (Jira read, change not there yet; writing)",
            e.command
        ),
        Event::CommandSucceeded(e) => format!("command {} succeeded", e.command),
        Event::CommandFailed(e) => format!("command {} failed: {}", e.command, e.reason),
        Event::UserObserved(e) => format!("new user {}", user(state, &e.user.account_id)),
        Event::UserChanged(e) => format!("user changed: {}", user(state, &e.after.account_id)),
        Event::UserDeactivated(e) => format!("user deactivated: {}", user(state, &e.account_id)),
        Event::UserReactivated(e) => format!("user reactivated: {}", user(state, &e.account_id)),
        Event::UserVanished(e) => format!("user gone: {}", e.account_id),
        Event::GroupObserved(e) => format!("new group {}", e.group.name),
        Event::ProjectRoleObserved(e) => {
            let key = state
                .projects
                .get(&e.role.project_id)
                .map_or_else(|| e.role.project_id.to_string(), |p| p.key.clone());
            format!("role {} in project {key}", e.role.name)
        }
        Event::GroupRenamed(e) => format!("group renamed: {} -> {}", e.from, e.to),
        Event::GroupVanished(e) => format!("group gone: {}", e.name),
        Event::ProjectObserved(e) => format!("new project {} ({})", e.project.key, e.project.name),
        Event::ProjectChanged(e) => format!("project changed: {}", e.after.key),
        Event::ProjectVanished(e) => format!("project gone: {}", e.key),
        Event::ProjectRoleVanished(e) => {
            format!("role {} gone from project {}", e.role_id, e.project_id)
        }
        Event::ProductAccessGroupsChanged(e) => {
            format!("{} is now given by {} groups", e.name, e.groups.len())
        }
        other => other.event_type().to_owned(),
    }
}
