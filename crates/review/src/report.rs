//! A campaign mapped into the report's plain-data view model
//! ([`grantledger_report::CampaignReport`]); the CLI renders it with
//! [`grantledger_report::render_html`] (`review report`).

use grantledger_model::*;
use grantledger_projection::{rfc3339, SiteState};
use grantledger_report::{
    CampaignReport, Evidence, ItemRow, RemediationRow, ReviewerProgress, Totals,
};

use crate::campaign::{progress, Campaign, Remediation};
use crate::scope::describe_scope;
use crate::view::{self, Context};

/// The report of `c`, with names and signals from `state` and `ctx`, generated
/// at `now` by `generator` (e.g. `grantledger 0.1.0`).
pub fn campaign_report(
    c: &Campaign,
    state: &SiteState,
    ctx: &Context,
    now: Timestamp,
    generator: &str,
) -> CampaignReport {
    let d = c.def();
    let p = progress(c);
    let sum = |k: usize| p.values().map(|r| r[k]).sum::<u64>();
    let items: Vec<ItemRow> = c
        .items
        .iter()
        .map(|i| {
            let v = view::item_view(c, state, ctx, i);
            ItemRow {
                item_id: v.item,
                principal: v.principal,
                principal_id: v.principal_id,
                entitlement: v.entitlement,
                reviewer: v.reviewer,
                decision: v.decision,
                decided_by: v.decided_by,
                decided_at: v.decided_at,
                comment: v.comment,
                signals: v.signals,
                remediation: v.remediation,
            }
        })
        .collect();
    let remediation = c
        .items
        .iter()
        .filter_map(|i| {
            let status = view::remediation_text(c, i)?;
            let command = match &i.remediation {
                Some(Remediation::Issued { command, .. })
                | Some(Remediation::Verified { command, .. }) => Some(command.to_string()),
                None => None,
            };
            let detail = match (&i.remediation, &i.flagged) {
                (_, Some(_)) => "needs a person: see the status".to_owned(),
                (Some(Remediation::Verified { position, .. }), None) => {
                    format!("the sync's completion is at log position {position}")
                }
                (Some(Remediation::Issued { position, .. }), None) => format!(
                    "issued at log position {position}; the next completed sync confirms it"
                ),
                (None, None) => "not issued yet: `grantledger review close` issues it".to_owned(),
            };
            Some(RemediationRow {
                item_id: format!("i{}", i.id),
                principal: view::principal(state, &i.grant.principal),
                entitlement: view::entitlement(state, &i.grant.entitlement),
                command_id: command,
                status,
                detail,
            })
        })
        .collect();
    let launch = c.launch.as_ref();
    CampaignReport {
        campaign_id: c.id.to_string(),
        name: d.name.clone(),
        status: c.status.as_str().to_owned(),
        scope: describe_scope(&d.scope),
        created_at: rfc3339(d.at),
        due: d.due.map(rfc3339),
        closed_at: c.closed.as_ref().map(|x| rfc3339(x.at)),
        undecided_rule: match d.undecided {
            UndecidedRule::Keep => "kept".into(),
            UndecidedRule::Revoke => "revoked".into(),
        },
        totals: Totals {
            items: c.items.len() as u64,
            approved: sum(2),
            revoked: sum(3),
            undecided: c.items.len() as u64 - sum(1),
            reassigned: c.items.iter().filter(|i| i.reassignments > 0).count() as u64,
        },
        reviewers: p
            .iter()
            .map(|(r, row)| ReviewerProgress {
                reviewer: view::person(state, r),
                assigned: row[0],
                decided: row[1],
                approved: row[2],
                revoked: row[3],
            })
            .collect(),
        items,
        remediation,
        evidence: Evidence {
            launch_position: launch.map_or(0, |l| l.position),
            launch_time: launch.map_or_else(String::new, |l| rfc3339(l.at)),
            launch_head: launch
                .map_or_else(String::new, |l| format!("{}:{}", l.position, l.head_hash)),
            item_count: launch.map_or(0, |l| l.item_count),
            item_digest: launch.map_or_else(String::new, |l| l.digest.clone()),
            digest_doc: "docs/review-digest.md".into(),
            head_at_close: c
                .closed
                .as_ref()
                .map(|x| format!("{}:{}", x.head_position, x.head_hash)),
            verify_commands: {
                let mut v = vec![
                    format!("grantledger review verify {}", c.id),
                    "grantledger log export -o export.jsonl".to_owned(),
                    "python3 tools/verify_export.py export.jsonl".to_owned(),
                    format!("python3 tools/review_digest.py export.jsonl {}", c.id),
                ];
                if let Some(x) = &c.closed {
                    v.push(format!(
                        "grantledger log verify --expect-head {}:{}",
                        x.head_position, x.head_hash
                    ));
                }
                v
            },
        },
        generated_at: rfc3339(now),
        generator: generator.to_owned(),
    }
}
