//! Out-of-band access: the direct grants a site holds now that nothing in
//! grantledger explains — no request or operator command added them, no review
//! campaign kept them since they were last added, and no entry of the
//! `[out_of_band]` allow-list covers them. This is the drift report that tells a
//! security team someone went around the process (`grantledger report
//! out-of-band`).
//!
//! Scope: memberships of the privileged groups ([`crate::scope::BUILT_IN_PRIVILEGED`]
//! and `[review] privileged_groups`: one definition, shared with campaigns) and
//! actors of the privileged project roles ([`BUILT_IN_PRIVILEGED_ROLES`] and
//! `[out_of_band] privileged_roles`); every direct grant with `all`.
//!
//! For each grant in scope, the record that last added it says why:
//! - added by grantledger (a request, an operator's `provision`, any command):
//!   explained;
//! - observed by a sync: explained when a launched campaign's item for this
//!   grant is approved and the grant was not added again after that launch, or
//!   when an allow-list entry covers it; otherwise it is out of band, shown with
//!   who added it in Jira when an audit record says so ([`AuditTrail`]), or why
//!   no record says.
//!
//! The allow-list, in `grantledger.toml`:
//!
//! ```toml
//! [out_of_band]
//! privileged_roles = ["Site owners"]       # beside "Administrators"; names or globs
//!
//! [[out_of_band.allow]]
//! principal = "alice@acme.com"             # account id, email, group name, or "*"
//! group = "site-admins"                    # a group name or glob ...
//! reason = "break-glass account, ticket SEC-12"
//!
//! [[out_of_band.allow]]
//! principal = "ops-oncall"                 # a group as a role actor
//! project = "OPS"                          # ... or a project key (or glob)
//! role = "Administrators"                  #     with a role name (or glob)
//! reason = "on-call team administers OPS"
//! ```
//!
//! A file with one error is refused as a whole, naming the line.

use grantledger_eventlog::{EventLog, LogError, Position};
use grantledger_model::*;
use grantledger_projection::attribution::Attribution;
use grantledger_projection::index::Entry;
use grantledger_projection::report::{
    self as view, AsOf, EntitlementView, JiraAttribution, PrincipalView,
};
use grantledger_projection::{rfc3339, AuditTrail, SiteState};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::campaign::{Campaign, Outcome, Status};
use crate::scope::glob;

/// The project roles that give administration of a project by default.
pub const BUILT_IN_PRIVILEGED_ROLES: &[&str] = &["Administrators"];

/// Why the `[out_of_band]` section was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct OutOfBandConfigError {
    /// 1-based line of the offending text.
    pub line: usize,
    /// What is wrong and what to write instead.
    pub reason: String,
}

/// One allow-list entry: a grant that is out of band on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// Account id, email, group name (a group as a role actor), or `*`.
    pub principal: String,
    /// A group name or glob (memberships).
    pub group: Option<String>,
    /// A project key or glob (role actors, with `role`).
    pub project: Option<String>,
    /// A role name or glob (role actors, with `project`).
    pub role: Option<String>,
    /// Why it is allowed (required: the report is evidence).
    pub reason: String,
    /// The line of the entry in the file.
    #[serde(skip)]
    pub line: usize,
}

/// The `[out_of_band]` section of `grantledger.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutOfBandConfig {
    /// Privileged project roles beside [`BUILT_IN_PRIVILEGED_ROLES`].
    pub privileged_roles: Vec<String>,
    /// The allow-list, in file order.
    pub allow: Vec<AllowEntry>,
}

#[derive(Deserialize)]
struct File {
    out_of_band: Option<Section>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    #[serde(default)]
    privileged_roles: Vec<Spanned<String>>,
    #[serde(default)]
    allow: Vec<Spanned<AllowEntry>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl OutOfBandConfig {
    /// Reads the `[out_of_band]` section of a config file's text (other
    /// sections are ignored; no section means an empty allow-list).
    pub fn parse(text: &str) -> Result<OutOfBandConfig, OutOfBandConfigError> {
        let file: File = toml::from_str(text).map_err(|e| OutOfBandConfigError {
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            reason: e.message().trim().to_owned(),
        })?;
        let Some(section) = file.out_of_band else {
            return Ok(OutOfBandConfig::default());
        };
        let mut allow = Vec::with_capacity(section.allow.len());
        for spanned in section.allow {
            let line = line_of(text, spanned.span().start);
            let mut e = spanned.into_inner();
            e.line = line;
            let refuse = |reason: &str| {
                Err(OutOfBandConfigError {
                    line,
                    reason: format!("[[out_of_band.allow]]: {reason}"),
                })
            };
            if e.principal.trim().is_empty() {
                return refuse(
                    "principal is empty: write an account id, an email, a group name or \"*\"",
                );
            }
            if e.reason.trim().is_empty() {
                return refuse(
                    "reason is empty: say why this access is allowed outside the process",
                );
            }
            match (&e.group, &e.project, &e.role) {
                (Some(g), None, None) if !g.trim().is_empty() => {}
                (None, Some(p), Some(r)) if !p.trim().is_empty() && !r.trim().is_empty() => {}
                _ => {
                    return refuse(
                        "name either a group (group = \"site-admins\") or a project role (project = \"OPS\" with role = \"Administrators\"), not both nor neither",
                    )
                }
            }
            allow.push(e);
        }
        if let Some(r) = section
            .privileged_roles
            .iter()
            .find(|r| r.get_ref().trim().is_empty())
        {
            return Err(OutOfBandConfigError {
                line: line_of(text, r.span().start),
                reason:
                    "[out_of_band] privileged_roles holds an empty name: write a role name or glob"
                        .into(),
            });
        }
        Ok(OutOfBandConfig {
            privileged_roles: section
                .privileged_roles
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            allow,
        })
    }

    /// The privileged roles: the built-in ones and the configured ones.
    pub fn privileged_roles(&self) -> Vec<String> {
        BUILT_IN_PRIVILEGED_ROLES
            .iter()
            .map(|s| (*s).to_owned())
            .chain(self.privileged_roles.iter().cloned())
            .collect()
    }

    /// The first entry that covers `grant`, names from `state`.
    pub fn allows(&self, state: &SiteState, grant: &Grant) -> Option<&AllowEntry> {
        self.allow.iter().find(|e| entry_covers(e, state, grant))
    }
}

fn entry_covers(e: &AllowEntry, state: &SiteState, grant: &Grant) -> bool {
    let who = e.principal.trim();
    let principal_ok = who == "*"
        || match &grant.principal {
            Principal::User(a) => {
                a.as_str() == who
                    || state
                        .users
                        .get(a)
                        .and_then(|u| u.email.as_deref())
                        .is_some_and(|m| m.eq_ignore_ascii_case(who))
            }
            Principal::Group(g) => {
                g.as_str() == who
                    || state
                        .groups
                        .get(g)
                        .is_some_and(|r| r.name.eq_ignore_ascii_case(who))
            }
        };
    if !principal_ok {
        return false;
    }
    match (&grant.entitlement, &e.group, &e.project, &e.role) {
        (Entitlement::GroupMembership { group }, Some(pat), _, _) => {
            glob(pat.trim(), group.as_str())
                || state
                    .groups
                    .get(group)
                    .is_some_and(|r| glob(pat.trim(), &r.name))
        }
        (Entitlement::ProjectRole { project, role }, None, Some(pp), Some(rp)) => {
            let key = state.projects.get(project).map(|p| p.key.as_str());
            let name = state
                .roles
                .get(project)
                .and_then(|r| r.get(role))
                .map(|r| r.name.as_str());
            key.is_some_and(|k| glob(pp.trim(), k))
                && (name.is_some_and(|n| glob(rp.trim(), n)) || glob(rp.trim(), role.as_str()))
        }
        _ => false,
    }
}

/// What the report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfBandOptions {
    /// Privileged group names or globs (built-in and `[review] privileged_groups`).
    pub privileged_groups: Vec<String>,
    /// Every direct grant, not only the privileged ones.
    pub all: bool,
    /// Only grants last added after this position.
    pub since: Option<Position>,
}

/// One grant no request, campaign or allow-list entry explains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutOfBandRow {
    /// Who holds it.
    pub principal: PrincipalView,
    /// What.
    pub entitlement: EntitlementView,
    /// The log position of the record that last added it (0 when the log
    /// does not say: a grant older than position tracking).
    pub added_position: Position,
    /// When that record was written (RFC 3339).
    pub added_at: Option<String>,
    /// The sync run that observed it.
    pub sync_run: Option<String>,
    /// Who added it in Jira, from Jira's audit log, or why no record says.
    pub in_jira: JiraAttribution,
}

/// How many grants in scope each source explained.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Explained {
    /// Added by grantledger: a request, an operator's command.
    pub by_grantledger: usize,
    /// Kept by a campaign's approval since their last addition.
    pub by_campaign: usize,
    /// Covered by an `[out_of_band]` allow-list entry.
    pub by_allow_list: usize,
    /// Last added before `since`.
    pub before_since: usize,
}

/// `report out-of-band`: the grants in scope nothing explains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutOfBandReport {
    /// The site.
    pub site: String,
    /// The moment (the log's head).
    pub as_of: AsOf,
    /// `privileged` or `all`.
    pub scope: String,
    /// The privileged group patterns (with scope `privileged`).
    pub privileged_groups: Vec<String>,
    /// The privileged role patterns (with scope `privileged`).
    pub privileged_roles: Vec<String>,
    /// Only grants last added after this position.
    pub since_position: Option<Position>,
    /// How many direct grants are in scope.
    pub in_scope: usize,
    /// How many of them are explained, by source.
    pub explained: Explained,
    /// The unexplained ones, oldest addition first.
    pub grants: Vec<OutOfBandRow>,
}

/// Why a grant in scope is explained, or `None`: it is out of band.
fn explanation(
    cause: Option<&GrantCause>,
    added: Position,
    grant: &Grant,
    campaigns: &[Campaign],
    cfg: &OutOfBandConfig,
    state: &SiteState,
) -> Option<Source> {
    match cause {
        Some(GrantCause::ObservedInSync { .. }) | None => {}
        Some(_) => return Some(Source::Grantledger),
    }
    let kept = campaigns.iter().any(|c| {
        matches!(c.status, Status::Open | Status::Closed)
            && c.launch.as_ref().is_some_and(|l| added <= l.position)
            && c.items
                .iter()
                .any(|i| i.grant == *grant && c.outcome(i) == Outcome::Approved)
    });
    if kept {
        return Some(Source::Campaign);
    }
    cfg.allows(state, grant).map(|_| Source::AllowList)
}

enum Source {
    Grantledger,
    Campaign,
    AllowList,
}

/// Whether `grant` is in the privileged scope.
pub fn is_privileged(
    state: &SiteState,
    grant: &Grant,
    groups: &[String],
    roles: &[String],
) -> bool {
    match &grant.entitlement {
        Entitlement::GroupMembership { group } => state
            .groups
            .get(group)
            .is_some_and(|g| groups.iter().any(|p| glob(p, &g.name))),
        Entitlement::ProjectRole { project, role } => state
            .roles
            .get(project)
            .and_then(|r| r.get(role))
            .is_some_and(|r| roles.iter().any(|p| glob(p, &r.name))),
        Entitlement::ProductAccess { .. } => false,
    }
}

/// The out-of-band report of `site` in `state` (the site's state at the log's
/// head, e.g. [`SiteState::load`] or a snapshot-backed `Queries::current`):
/// `campaigns` are the site's campaigns (any status; only launched ones explain
/// anything).
pub fn out_of_band(
    log: &EventLog,
    site: &str,
    state: &SiteState,
    campaigns: &[Campaign],
    cfg: &OutOfBandConfig,
    opts: &OutOfBandOptions,
) -> Result<OutOfBandReport, LogError> {
    let trail = AuditTrail::load(log, site)?;
    let roles = cfg.privileged_roles();
    let mut explained = Explained::default();
    let mut in_scope = 0;
    let mut rows: Vec<OutOfBandRow> = Vec::new();
    for grant in state.grants() {
        if !opts.all && !is_privileged(state, &grant, &opts.privileged_groups, &roles) {
            continue;
        }
        in_scope += 1;
        let position = state.last_change(&grant);
        let record = match position {
            Some(p) => log.get(p)?,
            None => None,
        };
        let cause = record.as_ref().and_then(|r| match &r.event {
            Event::GrantAdded(e) => Some(e.cause.clone()),
            _ => None,
        });
        let added = position.unwrap_or(0);
        if opts.since.is_some_and(|s| added <= s) {
            explained.before_since += 1;
            continue;
        }
        match explanation(cause.as_ref(), added, &grant, campaigns, cfg, state) {
            Some(Source::Grantledger) => explained.by_grantledger += 1,
            Some(Source::Campaign) => explained.by_campaign += 1,
            Some(Source::AllowList) => explained.by_allow_list += 1,
            None => {
                let in_jira = match &record {
                    Some(r) => trail
                        .explain(&Entry::from(r.clone()), state)
                        .map(|a| view::jira_attribution(a, "added", state))
                        .unwrap_or_else(|| unrecorded(
                            "no sync read Jira's audit log for this site (the log predates audit import): who added it is unknown",
                        )),
                    None => unrecorded("the log holds no record of its addition: who added it is unknown"),
                };
                rows.push(OutOfBandRow {
                    principal: view::principal_view(state, &grant.principal),
                    entitlement: view::entitlement_view(state, &grant.entitlement),
                    added_position: added,
                    added_at: record.as_ref().map(|r| rfc3339(r.recorded_at)),
                    sync_run: match cause {
                        Some(GrantCause::ObservedInSync { run }) => Some(run.to_string()),
                        _ => None,
                    },
                    in_jira,
                });
            }
        }
    }
    rows.sort_by(|a, b| {
        (a.added_position, &a.entitlement.name, &a.principal.id).cmp(&(
            b.added_position,
            &b.entitlement.name,
            &b.principal.id,
        ))
    });
    let as_of = AsOf::after(state.position, log.get(state.position)?.as_ref());
    let (privileged_groups, privileged_roles) = if opts.all {
        (Vec::new(), Vec::new())
    } else {
        (opts.privileged_groups.clone(), roles)
    };
    Ok(OutOfBandReport {
        site: site.to_owned(),
        as_of,
        scope: if opts.all { "all" } else { "privileged" }.into(),
        privileged_groups,
        privileged_roles,
        since_position: opts.since,
        in_scope,
        explained,
        grants: rows,
    })
}

fn unrecorded(why: &str) -> JiraAttribution {
    view::jira_attribution(
        Attribution::Unrecorded(why.into()),
        "added",
        &SiteState::default(),
    )
}

/// The position `--since` means: a position as given, the last record at or
/// before a time, or a campaign's launch position.
pub fn since_position(
    log: &EventLog,
    site: &str,
    since: &Since,
    campaigns: &[Campaign],
) -> Result<Position, crate::ReviewError> {
    Ok(match since {
        Since::Position(p) => *p,
        Since::Time(t) => {
            grantledger_projection::Queries::new(log.clone(), site).position_at_time(*t)?
        }
        Since::Campaign(id) => {
            let c = campaigns
                .iter()
                .find(|c| &c.id == id)
                .ok_or_else(|| crate::ReviewError::NoSuchCampaign(id.to_string()))?;
            c.launch.as_ref().map(|l| l.position).ok_or_else(|| {
                crate::ReviewError::InvalidDefinition(format!(
                    "campaign {id} was never launched: --since needs a launched campaign"
                ))
            })?
        }
    })
}

/// The JSON Schema of [`OutOfBandReport`], as `(file name, pretty JSON)`.
pub fn schemas() -> Vec<(&'static str, String)> {
    vec![(
        "out-of-band.schema.json",
        grantledger_model::schema_text(&schemars::schema_for!(OutOfBandReport)),
    )]
}
