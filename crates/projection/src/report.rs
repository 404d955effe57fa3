//! The answers as data: what `access user`, `access who`, `history` and `diff`
//! return, with names looked up, ready to serialize as stable JSON (schemas in
//! `schemas/`, see [`schemas`]) or to lay out as a table or CSV. Names are Jira's,
//! unescaped: whoever writes them to a terminal escapes them ([`crate::text`]).

use grantledger_eventlog::{Position, Record};
use grantledger_model::{
    AccountId, Causation, Entitlement, Event, Grant, GrantCause, GroupId, Principal, ProjectId,
    RoleId,
};
use schemars::JsonSchema;
use serde::Serialize;

use crate::effective::{holders, user_access, Target};
use crate::error::rfc3339;
use crate::index::{Entry, Subject};
use crate::query::{Change, Diff};
use crate::state::SiteState;

/// The moment an answer is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AsOf {
    /// The last log position taken into account.
    pub position: Position,
    /// When that record was written (RFC 3339), if there is one.
    pub recorded_at: Option<String>,
}

impl AsOf {
    /// The moment just after `record` (or before everything, for `None`).
    pub fn after(position: Position, record: Option<&Record>) -> Self {
        Self {
            position,
            recorded_at: record.map(|r| rfc3339(r.recorded_at)),
        }
    }
}

/// A user or a group, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalView {
    /// `user` or `group`.
    pub kind: String,
    /// The account id or group id.
    pub id: String,
    /// The display name or group name (empty when the log no longer knows it).
    pub name: String,
    /// A user's email, when Jira shows it.
    pub email: Option<String>,
    /// A user's status: `active`, `inactive`, or `unknown` when the account is no
    /// longer on the site. Absent for groups.
    pub status: Option<String>,
}

/// An entitlement, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntitlementView {
    /// `group`, `project_role` or `product`.
    pub kind: String,
    /// The group id, `PROJECTID:ROLEID`, or the product key.
    pub id: String,
    /// The group name, `PROJECTKEY:Role name`, or the product name.
    pub name: String,
}

/// One thing a user reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRow {
    /// What.
    pub entitlement: EntitlementView,
    /// The group it comes through; absent when held directly.
    pub via: Option<PrincipalView>,
}

/// `access user`: everything one user reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserAccessReport {
    /// The site.
    pub site: String,
    /// The moment.
    pub as_of: AsOf,
    /// The user.
    pub user: PrincipalView,
    /// Direct and effective access, one row per path.
    pub access: Vec<AccessRow>,
}

/// One holder of one entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HolderRow {
    /// What is held.
    pub entitlement: EntitlementView,
    /// Who holds it.
    pub principal: PrincipalView,
    /// The group it comes through; absent when held directly.
    pub via: Option<PrincipalView>,
}

/// `access who`: everyone who holds a group, a role (or every role of a
/// project) or a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoReport {
    /// The site.
    pub site: String,
    /// The moment.
    pub as_of: AsOf,
    /// What was asked about.
    pub entitlements: Vec<EntitlementView>,
    /// Direct holders and everyone reaching it through a group, one row per path.
    pub holders: Vec<HolderRow>,
}

/// One record in a history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryRow {
    /// Where.
    pub position: Position,
    /// When (RFC 3339).
    pub recorded_at: String,
    /// The event type.
    pub event_type: String,
    /// One line, with names as of the end of the history.
    pub summary: String,
    /// Why, for grant changes: `observed in sync run R`, `applied by request Q`...
    pub cause: Option<String>,
    /// The sync run that wrote it, if one did.
    pub sync_run: Option<String>,
    /// For a change a sync observed: who made it in Jira, from Jira's audit
    /// log, or why no record explains it (ADR 0019). Absent for other records.
    pub in_jira: Option<JiraAttribution>,
    /// The event as recorded.
    pub event: Event,
}

/// Who made a change in Jira, from its admin audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JiraAttribution {
    /// One line: `added by Alex Kim in Jira at 10:42 (2026-06-05, UTC)`, or
    /// why no record explains it.
    pub text: String,
    /// The audit record's id, when one explains it.
    pub audit_record: Option<i64>,
    /// The author's account id, when the record names one.
    pub author_account_id: Option<String>,
    /// The author's display name, when known.
    pub author_name: Option<String>,
    /// When Jira says it was made (RFC 3339), when a record explains it.
    pub at: Option<String>,
}

/// `history`: what touched a user, a group, a project or a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryReport {
    /// The site.
    pub site: String,
    /// The moment the history ends at.
    pub as_of: AsOf,
    /// What it is about: `user`, `group`, `project`, `project_role` or `product`.
    pub subject_kind: String,
    /// Its id.
    pub subject_id: String,
    /// Its name.
    pub subject_name: String,
    /// How many records touched it in all.
    pub total: usize,
    /// The newest records first (at most the limit asked for).
    pub entries: Vec<HistoryRow>,
}

/// One grant change in a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffRow {
    /// `added` or `removed`.
    pub change: String,
    /// Who.
    pub principal: PrincipalView,
    /// What.
    pub entitlement: EntitlementView,
    /// The record that made the change (for a net change: the last one in the
    /// window); absent when only a vanished group, project or role took it away.
    pub position: Option<Position>,
    /// When that record was written.
    pub recorded_at: Option<String>,
    /// Why.
    pub cause: Option<String>,
}

/// `diff`: grants added and removed between two moments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffReport {
    /// The site.
    pub site: String,
    /// The start (exclusive).
    pub from: AsOf,
    /// The end (inclusive).
    pub to: AsOf,
    /// The net effect: held at one end and not the other.
    pub net: Vec<DiffRow>,
    /// Every change in the window, oldest first (with `--all`).
    pub all: Option<Vec<DiffRow>>,
}

/// How [`DiffReport`] rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// By entitlement, then principal.
    Entitlement,
    /// By principal, then entitlement.
    Principal,
}

/// The JSON Schemas of the four answers, as `(file name, pretty JSON)`.
pub fn schemas() -> Vec<(&'static str, String)> {
    fn pretty(schema: schemars::Schema) -> String {
        grantledger_model::schema_text(&schema)
    }
    vec![
        (
            "access-user.schema.json",
            pretty(schemars::schema_for!(UserAccessReport)),
        ),
        (
            "access-who.schema.json",
            pretty(schemars::schema_for!(WhoReport)),
        ),
        (
            "history.schema.json",
            pretty(schemars::schema_for!(HistoryReport)),
        ),
        (
            "diff.schema.json",
            pretty(schemars::schema_for!(DiffReport)),
        ),
    ]
}

/// A user as shown (also one the state no longer knows).
pub fn user_view(state: &SiteState, id: &AccountId) -> PrincipalView {
    let u = state.users.get(id);
    PrincipalView {
        kind: "user".into(),
        id: id.to_string(),
        name: u.map_or_else(String::new, |u| u.display_name.clone()),
        email: u.and_then(|u| u.email.clone()),
        status: Some(
            match u {
                Some(u) if u.active => "active",
                Some(_) => "inactive",
                None => "unknown",
            }
            .into(),
        ),
    }
}

/// A group as shown.
pub fn group_view(state: &SiteState, id: &GroupId) -> PrincipalView {
    PrincipalView {
        kind: "group".into(),
        id: id.to_string(),
        name: state
            .groups
            .get(id)
            .map_or_else(String::new, |g| g.name.clone()),
        email: None,
        status: None,
    }
}

/// A principal as shown.
pub fn principal_view(state: &SiteState, p: &Principal) -> PrincipalView {
    match p {
        Principal::User(u) => user_view(state, u),
        Principal::Group(g) => group_view(state, g),
    }
}

fn project_key(state: &SiteState, p: &ProjectId) -> String {
    state
        .projects
        .get(p)
        .map_or_else(|| p.to_string(), |p| p.key.clone())
}

fn role_name(state: &SiteState, p: &ProjectId, r: &RoleId) -> String {
    state
        .roles
        .get(p)
        .and_then(|roles| roles.get(r))
        .map_or_else(|| r.to_string(), |r| r.name.clone())
}

/// A target as shown.
pub fn target_view(state: &SiteState, target: &Target) -> EntitlementView {
    match target {
        Target::Group { group } => EntitlementView {
            kind: "group".into(),
            id: group.to_string(),
            name: group_view(state, group).name,
        },
        Target::ProjectRole { project, role } => EntitlementView {
            kind: "project_role".into(),
            id: format!("{project}:{role}"),
            name: format!(
                "{}:{}",
                project_key(state, project),
                role_name(state, project, role)
            ),
        },
        Target::Product { product } => EntitlementView {
            kind: "product".into(),
            id: product.to_string(),
            name: state
                .products
                .get(product)
                .map_or_else(|| product.to_string(), |(n, _)| n.clone()),
        },
    }
}

/// An entitlement as shown.
pub fn entitlement_view(state: &SiteState, e: &Entitlement) -> EntitlementView {
    target_view(state, &entitlement_target(e))
}

fn entitlement_target(e: &Entitlement) -> Target {
    match e {
        Entitlement::GroupMembership { group } => Target::Group {
            group: group.clone(),
        },
        Entitlement::ProjectRole { project, role } => Target::ProjectRole {
            project: project.clone(),
            role: role.clone(),
        },
        Entitlement::ProductAccess { product } => Target::Product {
            product: product.clone(),
        },
    }
}

/// `access user`.
pub fn access_user(
    site: &str,
    state: &SiteState,
    as_of: AsOf,
    user: &AccountId,
) -> UserAccessReport {
    UserAccessReport {
        site: site.to_owned(),
        as_of,
        user: user_view(state, user),
        access: user_access(state, user)
            .into_iter()
            .map(|r| AccessRow {
                entitlement: target_view(state, &r.target),
                via: r.via.as_ref().map(|g| group_view(state, g)),
            })
            .collect(),
    }
}

/// `access who`, for one or more targets (every role of a project).
pub fn access_who(site: &str, state: &SiteState, as_of: AsOf, targets: &[Target]) -> WhoReport {
    let mut rows = Vec::new();
    for t in targets {
        let ent = target_view(state, t);
        for h in holders(state, t) {
            rows.push(HolderRow {
                entitlement: ent.clone(),
                principal: principal_view(state, &h.principal),
                via: h.via.as_ref().map(|g| group_view(state, g)),
            });
        }
    }
    WhoReport {
        site: site.to_owned(),
        as_of,
        entitlements: targets.iter().map(|t| target_view(state, t)).collect(),
        holders: rows,
    }
}

/// A cause in words.
pub fn cause_text(cause: &GrantCause) -> String {
    match cause {
        GrantCause::ObservedInSync { run } => format!("observed in sync run {run}"),
        GrantCause::AppliedByRequest { request, command } => {
            format!("applied by request {request} (command {command})")
        }
        GrantCause::RemovedByReview { campaign, command } => {
            format!("removed by campaign {campaign} (command {command})")
        }
        GrantCause::RemovedAtExpiry { request, command } => {
            format!("removed at expiry of request {request} (command {command})")
        }
        GrantCause::RevokedForRequest { request, command } => {
            format!("revoked early for request {request} (command {command})")
        }
        GrantCause::ChangedByOperator { operator, command } => {
            format!("changed by operator {operator} (command {command})")
        }
    }
}

fn grant_text(state: &SiteState, g: &Grant) -> String {
    let who = principal_view(state, &g.principal);
    let who = if who.name.is_empty() {
        format!("{} {}", who.kind, who.id)
    } else {
        format!("{} {}", who.kind, who.name)
    };
    let what = target_view(state, &entitlement_target(&g.entitlement));
    match what.kind.as_str() {
        "group" => format!("{who} in group {}", what.name),
        "project_role" => format!("{who} as {}", what.name),
        _ => format!("{who} with {}", what.name),
    }
}

/// One line about an event, with names from `state`.
pub fn summary(state: &SiteState, event: &Event) -> String {
    match event {
        Event::GrantAdded(e) => format!("added: {}", grant_text(state, &e.grant)),
        Event::GrantRemoved(e) => format!("removed: {}", grant_text(state, &e.grant)),
        Event::UserObserved(e) => format!(
            "user seen: {} ({})",
            e.user.display_name,
            if e.user.active { "active" } else { "inactive" }
        ),
        Event::UserChanged(e) => format!(
            "user changed: {} -> {}",
            e.before.display_name, e.after.display_name
        ),
        Event::UserDeactivated(e) => {
            format!("deactivated: {}", user_view(state, &e.account_id).name)
        }
        Event::UserReactivated(e) => {
            format!("reactivated: {}", user_view(state, &e.account_id).name)
        }
        Event::UserVanished(e) => format!("user gone: {}", e.account_id),
        Event::GroupObserved(e) => format!("group seen: {}", e.group.name),
        Event::GroupRenamed(e) => format!("group renamed: {} -> {}", e.from, e.to),
        Event::GroupVanished(e) => format!("group gone: {}", e.name),
        Event::ProjectObserved(e) => {
            format!("project seen: {} ({})", e.project.key, e.project.name)
        }
        Event::ProjectChanged(e) => format!("project changed: {} -> {}", e.before.key, e.after.key),
        Event::ProjectVanished(e) => format!("project gone: {}", e.key),
        Event::ProjectRoleObserved(e) => format!(
            "role seen: {}:{}",
            project_key(state, &e.role.project_id),
            e.role.name
        ),
        Event::ProjectRoleVanished(e) => format!(
            "role gone: {}:{}",
            project_key(state, &e.project_id),
            role_name(state, &e.project_id, &e.role_id)
        ),
        Event::ProductAccessGroupsChanged(e) => format!(
            "{} given by: {}",
            e.name,
            e.groups
                .iter()
                .map(|g| group_view(state, g).name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.event_type().to_owned(),
    }
}

/// The subject's kind, id and name, as shown.
pub fn subject_view(state: &SiteState, subject: &Subject) -> (String, String, String) {
    match subject {
        Subject::User(u) => ("user".into(), u.to_string(), user_view(state, u).name),
        Subject::Group(g) => ("group".into(), g.to_string(), group_view(state, g).name),
        Subject::Project(p) => ("project".into(), p.to_string(), project_key(state, p)),
        Subject::Role(p, r) => {
            let v = target_view(
                state,
                &Target::ProjectRole {
                    project: p.clone(),
                    role: r.clone(),
                },
            );
            ("project_role".into(), v.id, v.name)
        }
        Subject::Product(p) => {
            let v = target_view(state, &Target::Product { product: p.clone() });
            ("product".into(), v.id, v.name)
        }
        Subject::Grant(g) => ("grant".into(), format!("{g:?}"), grant_text(state, g)),
    }
}

/// `history`, from the entries [`crate::Queries::history`] returned.
pub fn history(
    site: &str,
    state: &SiteState,
    as_of: AsOf,
    subject: &Subject,
    records: &[Entry],
    total: usize,
) -> HistoryReport {
    let (kind, id, name) = subject_view(state, subject);
    HistoryReport {
        site: site.to_owned(),
        as_of,
        subject_kind: kind,
        subject_id: id,
        subject_name: name,
        total,
        entries: records
            .iter()
            .map(|r| HistoryRow {
                position: r.position,
                recorded_at: rfc3339(r.recorded_at),
                event_type: r.event.event_type().to_owned(),
                summary: summary(state, &r.event),
                cause: match &r.event {
                    Event::GrantAdded(e) => Some(cause_text(&e.cause)),
                    Event::GrantRemoved(e) => Some(cause_text(&e.cause)),
                    _ => None,
                },
                sync_run: match &r.causation {
                    Some(Causation::SyncRun(run)) => Some(run.to_string()),
                    _ => None,
                },
                in_jira: None,
                event: r.event.clone(),
            })
            .collect(),
    }
}

fn diff_row(diff: &Diff, grant: &Grant, added: bool, change: Option<&Change>) -> DiffRow {
    // Names from the end that still knows them.
    let state = if added { &diff.to } else { &diff.from };
    DiffRow {
        change: if added { "added" } else { "removed" }.into(),
        principal: principal_view(state, &grant.principal),
        entitlement: target_view(state, &entitlement_target(&grant.entitlement)),
        position: change.map(|c| c.position),
        recorded_at: change.map(|c| rfc3339(c.recorded_at)),
        cause: change.map(|c| cause_text(&c.cause)),
    }
}

/// `diff`.
pub fn diff(site: &str, diff: &Diff, from: AsOf, to: AsOf, all: bool, by: GroupBy) -> DiffReport {
    let mut net: Vec<DiffRow> = diff
        .net
        .iter()
        .map(|n| diff_row(diff, &n.grant, n.added, n.last.as_ref()))
        .collect();
    let key = |r: &DiffRow| match by {
        GroupBy::Entitlement => (
            r.entitlement.name.clone(),
            r.entitlement.id.clone(),
            r.principal.name.clone(),
            r.principal.id.clone(),
        ),
        GroupBy::Principal => (
            r.principal.name.clone(),
            r.principal.id.clone(),
            r.entitlement.name.clone(),
            r.entitlement.id.clone(),
        ),
    };
    net.sort_by_key(key);
    DiffReport {
        site: site.to_owned(),
        from,
        to,
        net,
        all: all.then(|| {
            diff.all
                .iter()
                .map(|c| diff_row(diff, &c.grant, c.added, Some(c)))
                .collect()
        }),
    }
}

/// Fills each history row's `in_jira` from Jira's audit log (`trail`), the
/// entries being the rows' records in the same order; `state` gives the runs,
/// the group names and the authors' names.
pub fn attribute(
    report: &mut HistoryReport,
    entries: &[crate::index::Entry],
    trail: &crate::attribution::AuditTrail,
    state: &SiteState,
) {
    for (row, entry) in report.entries.iter_mut().zip(entries) {
        let verb = match &entry.event {
            Event::GrantAdded(_) => "added",
            Event::GrantRemoved(_) => "removed",
            Event::UserDeactivated(_) => "deactivated",
            Event::UserReactivated(_) => "reactivated",
            _ => "changed",
        };
        row.in_jira = trail
            .explain(entry, state)
            .map(|a| jira_attribution(a, verb, state));
    }
}

/// An [`Attribution`](crate::attribution::Attribution) as shown: `verb` is
/// what the change did (`added`, `removed`, ...); `state` gives the author's
/// name.
pub fn jira_attribution(
    a: crate::attribution::Attribution,
    verb: &str,
    state: &SiteState,
) -> JiraAttribution {
    use crate::attribution::Attribution;
    match a {
        Attribution::Recorded {
            record_id,
            author,
            at,
        } => {
            let t = grantledger_clock::utc(at);
            let when = format!("at {} ({}, UTC)", t.format("%H:%M"), t.format("%Y-%m-%d"));
            let name = author
                .as_ref()
                .and_then(|a| state.users.get(a))
                .map(|u| u.display_name.clone())
                .filter(|n| !n.is_empty());
            let text = match (&author, &name) {
                    (Some(_), Some(n)) => format!("{verb} by {n} in Jira {when}"),
                    (Some(a), None) => format!("{verb} by account {a} in Jira {when}"),
                    (None, _) => format!(
                        "{verb} in Jira {when}; the audit record names no author: made outside Jira (admin.atlassian.com, provisioning or the system)"
                    ),
                };
            JiraAttribution {
                text,
                audit_record: Some(record_id),
                author_account_id: author.map(|a| a.to_string()),
                author_name: name,
                at: Some(rfc3339(at)),
            }
        }
        Attribution::Unrecorded(why) => JiraAttribution {
            text: why,
            audit_record: None,
            author_account_id: None,
            author_name: None,
            at: None,
        },
    }
}
