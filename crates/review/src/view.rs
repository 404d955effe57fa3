//! Items as people read them: names looked up in the site's state, and the
//! signals a reviewer decides with (inactive account, app account, privileged
//! group member, granted by a JIT request and whether it expired, added since
//! the last campaign over the same scope, revoked in an earlier campaign and
//! granted again, never reviewed before, last decision and reviewer).

use std::collections::{BTreeMap, BTreeSet};

use grantledger_eventlog::EventLog;
use grantledger_model::*;
use grantledger_projection::SiteState;
use serde::Serialize;

use crate::bulk::{decision_cell, ItemRow};
use crate::campaign::{Campaign, Item, Remediation, Status};
use crate::scope::glob;

/// A person's name as shown: `Display Name <email>`, or the id.
pub fn person(state: &SiteState, a: &AccountId) -> String {
    match state.users.get(a) {
        Some(u) => match &u.email {
            Some(e) => format!("{} <{e}>", u.display_name),
            None => format!("{} ({a})", u.display_name),
        },
        None => a.to_string(),
    }
}

/// A principal's name: a person, or `group <name>`.
pub fn principal(state: &SiteState, p: &Principal) -> String {
    match p {
        Principal::User(a) => person(state, a),
        Principal::Group(g) => format!(
            "group {}",
            state.groups.get(g).map_or(g.as_str(), |r| r.name.as_str())
        ),
    }
}

/// An entitlement's name: `group jira-administrators`, `Developers of OPS`.
pub fn entitlement(state: &SiteState, e: &Entitlement) -> String {
    match e {
        Entitlement::GroupMembership { group } => format!(
            "group {}",
            state
                .groups
                .get(group)
                .map_or(group.as_str(), |g| g.name.as_str())
        ),
        Entitlement::ProjectRole { project, role } => {
            let key = state
                .projects
                .get(project)
                .map_or(project.as_str(), |p| p.key.as_str());
            let name = state
                .roles
                .get(project)
                .and_then(|r| r.get(role))
                .map_or(role.as_str(), |r| r.name.as_str());
            format!("{name} of {key}")
        }
        Entitlement::ProductAccess { product } => format!("product {product}"),
    }
}

/// What earlier campaigns and JIT requests say about grants.
#[derive(Debug, Default, Clone)]
pub struct Context {
    /// Per grant, the latest earlier campaign holding it: (campaign, decision
    /// word, reviewer, revoked at close).
    last: BTreeMap<Grant, (CampaignId, &'static str, AccountId, bool)>,
    /// The grants of the latest earlier launched campaign over the same scope.
    same_scope: Option<(CampaignId, BTreeSet<Grant>)>,
    /// Per grant, the JIT requests that granted it: (request, still running).
    jit: BTreeMap<Grant, (RequestId, bool)>,
    /// Privileged groups (names or globs).
    privileged: Vec<String>,
}

impl Context {
    /// The context of `c`: the campaigns of the same site launched before it,
    /// the JIT requests in the log, and the privileged group patterns.
    pub fn build(
        log: &EventLog,
        c: &Campaign,
        all: &[Campaign],
        privileged: Vec<String>,
    ) -> Context {
        let mine = c.launch.as_ref().map_or(u64::MAX, |l| l.position);
        let mut earlier: Vec<&Campaign> = all
            .iter()
            .filter(|o| o.id != c.id && o.launch.as_ref().is_some_and(|l| l.position < mine))
            .collect();
        earlier.sort_by_key(|o| o.launch.as_ref().map(|l| l.position));
        let mut ctx = Context {
            privileged,
            ..Context::default()
        };
        let scope_of = |x: &Campaign| {
            let mut s = x.def().scope.clone();
            s.since = None;
            s
        };
        for o in &earlier {
            for i in &o.items {
                ctx.last.insert(
                    i.grant.clone(),
                    (
                        o.id.clone(),
                        decision_word(o, i),
                        i.reviewer.clone(),
                        o.is_revoked(i),
                    ),
                );
            }
            if c.definition.is_some() && scope_of(o) == scope_of(c) {
                ctx.same_scope = Some((
                    o.id.clone(),
                    o.items.iter().map(|i| i.grant.clone()).collect(),
                ));
            }
        }
        if let Ok(streams) = log.streams() {
            for (s, _) in streams {
                if !s.as_str().starts_with("request:") {
                    continue;
                }
                let Ok(records) = log.read_stream(&s, 1) else {
                    continue;
                };
                let mut grant = None;
                let mut granted = false;
                let mut ended = false;
                let mut id = None;
                for r in &records {
                    match &r.event {
                        Event::AccessRequested(e) => {
                            grant = Some(e.grant.clone());
                            id = Some(e.request.clone());
                        }
                        Event::AccessGranted(_) | Event::AccessTakenOver(_) => granted = true,
                        Event::AccessExpired(_) | Event::AccessRevoked(_) => ended = true,
                        _ => {}
                    }
                }
                if let (Some(g), Some(id), true) = (grant, id, granted) {
                    ctx.jit.insert(g, (id, !ended));
                }
            }
        }
        ctx
    }
}

fn decision_word(c: &Campaign, i: &Item) -> &'static str {
    match (c.outcome(i), c.status) {
        (crate::campaign::Outcome::Approved, _) => "approved",
        (crate::campaign::Outcome::Revoked, _) => "revoked",
        (crate::campaign::Outcome::Undecided, Status::Closed) if c.is_revoked(i) => {
            "revoked (undecided at close)"
        }
        (crate::campaign::Outcome::Undecided, Status::Closed) => "kept (undecided at close)",
        (crate::campaign::Outcome::Undecided, _) => "undecided",
    }
}

/// The signals of one item, in words.
pub fn signals(state: &SiteState, ctx: &Context, item: &Item) -> Vec<String> {
    let mut out = Vec::new();
    if let Principal::User(a) = &item.grant.principal {
        match state.users.get(a) {
            Some(u) => {
                if !u.active {
                    out.push("inactive in Jira".to_owned());
                }
                if u.account_type == AccountType::App {
                    out.push("app account".to_owned());
                }
            }
            None => out.push("account no longer in Jira".to_owned()),
        }
        let privileged = state.members.iter().any(|(g, m)| {
            m.contains(a)
                && state
                    .groups
                    .get(g)
                    .is_some_and(|r| ctx.privileged.iter().any(|p| glob(p, &r.name)))
        });
        if privileged {
            out.push("member of a privileged group".to_owned());
        }
    }
    if let Some((r, running)) = ctx.jit.get(&item.grant) {
        out.push(format!(
            "granted by JIT request {r} ({})",
            if *running {
                "running"
            } else {
                "expired or revoked"
            }
        ));
    }
    if let Some((c, grants)) = &ctx.same_scope {
        if !grants.contains(&item.grant) {
            out.push(format!("added since campaign {c} (same scope)"));
        }
    }
    match ctx.last.get(&item.grant) {
        None => out.push("never reviewed before".to_owned()),
        Some((c, word, reviewer, revoked)) => {
            if *revoked {
                out.push(format!("revoked in campaign {c} and granted again"));
            }
            out.push(format!(
                "last review: {word} in {c} by {}",
                person(state, reviewer)
            ));
        }
    }
    if item.self_review_reassigned {
        out.push("reviewer's own access: reassigned to the fallback".to_owned());
    }
    out
}

/// Where an item's removal stands, in words.
pub fn remediation_text(c: &Campaign, item: &Item) -> Option<String> {
    if let Some(f) = &item.flagged {
        return Some(format!(
            "flagged: {}",
            match f {
                FlagReason::NotRemoved { syncs } =>
                    format!("still in Jira after {syncs} completed syncs"),
                FlagReason::Reappeared { position } =>
                    format!("granted again (log position {position})"),
                FlagReason::CommandFailed { reason } => format!("the removal failed: {reason}"),
            }
        ));
    }
    match &item.remediation {
        Some(Remediation::Issued { command, .. }) => Some(format!("pending (command {command})")),
        Some(Remediation::Verified { run, .. }) => Some(format!("verified by sync run {run}")),
        None if c.is_revoked(item) => Some("pending".to_owned()),
        None => None,
    }
}

/// One item as shown (JSON, CSV, table): `review items --format json` prints a
/// list of these (schema `schemas/review-items.schema.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ItemView {
    /// `i<N>`.
    pub item: String,
    /// The principal's id.
    pub principal_id: String,
    /// The principal's name.
    pub principal: String,
    /// The entitlement's name.
    pub entitlement: String,
    /// The reviewer's id.
    pub reviewer_id: String,
    /// The reviewer's name.
    pub reviewer: String,
    /// `approved`, `revoked`, `undecided`, or after close what undecided became.
    pub decision: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When (RFC 3339).
    pub decided_at: Option<String>,
    /// The comment.
    pub comment: Option<String>,
    /// Signals.
    pub signals: Vec<String>,
    /// Remediation, once revoked.
    pub remediation: Option<String>,
}

/// The view of an item.
pub fn item_view(c: &Campaign, state: &SiteState, ctx: &Context, item: &Item) -> ItemView {
    ItemView {
        item: format!("i{}", item.id),
        principal_id: match &item.grant.principal {
            Principal::User(a) => a.to_string(),
            Principal::Group(g) => g.to_string(),
        },
        principal: principal(state, &item.grant.principal),
        entitlement: entitlement(state, &item.grant.entitlement),
        reviewer_id: item.reviewer.to_string(),
        reviewer: person(state, &item.reviewer),
        decision: decision_word(c, item).to_owned(),
        decided_by: item.decision.as_ref().map(|d| person(state, &d.by)),
        decided_at: item
            .decision
            .as_ref()
            .map(|d| grantledger_projection::rfc3339(d.at)),
        comment: item.decision.as_ref().and_then(|d| d.comment.clone()),
        signals: signals(state, ctx, item),
        remediation: remediation_text(c, item),
    }
}

/// The CSV row of an item (the bulk format).
pub fn item_row(c: &Campaign, v: &ItemView, item: &Item) -> ItemRow {
    ItemRow {
        campaign: c.id.to_string(),
        item: v.item.clone(),
        reviewer: v.reviewer_id.clone(),
        principal_id: v.principal_id.clone(),
        principal: v.principal.clone(),
        entitlement: v.entitlement.clone(),
        signals: v.signals.join("; "),
        decision: decision_cell(c, item).to_owned(),
        comment: v.comment.clone().unwrap_or_default(),
    }
}

/// The JSON Schemas of the review answers, as `(file name, pretty JSON)`:
/// `review-items.schema.json` (`review items --format json`, the items with
/// their decisions) and `review-csv.schema.json` (one row of the CSV of `review
/// export` / `review import` and `review items --format csv`, as an object).
pub fn schemas() -> Vec<(&'static str, String)> {
    fn pretty(schema: schemars::Schema) -> String {
        grantledger_model::schema_text(&schema)
    }
    vec![
        (
            "review-items.schema.json",
            pretty(schemars::schema_for!(Vec<ItemView>)),
        ),
        (
            "review-csv.schema.json",
            pretty(schemars::schema_for!(ItemRow)),
        ),
    ]
}
