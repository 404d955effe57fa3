//! A small campaign with hostile names: markup, quotes, unicode, right-to-left
//! text, a bidi override and a control character.

use grantledger_report::*;

/// A name that would run script if it were not escaped: it sets the title.
pub const HOSTILE: &str =
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";

pub fn campaign() -> CampaignReport {
    let item =
        |id: &str, who: &str, pid: &str, what: &str, reviewer: &str, decision: &str| ItemRow {
            item_id: id.into(),
            principal: who.into(),
            principal_id: pid.into(),
            entitlement: what.into(),
            reviewer: reviewer.into(),
            decision: decision.into(),
            decided_by: None,
            decided_at: None,
            comment: None,
            signals: Vec::new(),
            remediation: None,
        };
    let items = vec![
        ItemRow {
            decided_by: Some("Ada Lovelace (ada@acme.example)".into()),
            decided_at: Some("2026-01-06T10:15:00Z".into()),
            comment: Some("Still on the platform team.".into()),
            signals: vec!["privileged".into()],
            ..item(
                "i-000001",
                "Zoë Ångström (zoe@acme.example)",
                "u-zoe",
                "group jira-administrators",
                "Ada Lovelace (ada@acme.example)",
                "approved",
            )
        },
        ItemRow {
            decided_by: Some("Ada Lovelace (ada@acme.example)".into()),
            decided_at: Some("2026-01-06T10:16:00Z".into()),
            comment: Some("Left in December.\nTicket: OPS-42 \"offboarding\" & <cleanup>".into()),
            signals: vec!["inactive in Jira".into(), "never reviewed".into()],
            remediation: Some("verified by sync run s-7".into()),
            ..item(
                "i-000002",
                HOSTILE,
                "u-evil",
                "group jira-administrators",
                "Ada Lovelace (ada@acme.example)",
                "revoked",
            )
        },
        ItemRow {
            decided_by: Some("Grace Hopper".into()),
            decided_at: Some("2026-01-07T08:00:00Z".into()),
            signals: vec!["app account".into()],
            remediation: Some("pending".into()),
            ..item(
                "i-000003",
                "שרה כהן (sara@acme.example)",
                "u-sara",
                "Developers of CS",
                "Grace Hopper",
                "revoked",
            )
        },
        ItemRow {
            signals: vec!["granted by JIT request r12 (expired)".into()],
            ..item(
                "i-000004",
                "evil\u{202e}moc.elpmaxe@\u{7}",
                "u-bidi",
                "Administrators of مشروع",
                "Grace Hopper",
                "undecided",
            )
        },
        ItemRow {
            decided_by: Some("Fallback Reviewer".into()),
            decided_at: Some("2026-01-08T12:00:00Z".into()),
            comment: Some("Reassigned: self-review.".into()),
            ..item(
                "i-000005",
                "Grace Hopper",
                "u-grace",
                "product jira-software",
                "Fallback Reviewer",
                "approved",
            )
        },
    ];
    CampaignReport {
        campaign_id: "c-2026q1".into(),
        name: "Q1 2026 admins & <developers> \"review\"".into(),
        status: "closed".into(),
        scope: vec![
            "privileged groups".into(),
            "project CS, all roles".into(),
            "product access jira-software".into(),
        ],
        created_at: "2026-01-05T09:00:00Z".into(),
        due: Some("2026-01-31T23:59:59Z".into()),
        closed_at: Some("2026-02-01T09:00:00Z".into()),
        undecided_rule: "kept".into(),
        totals: Totals {
            items: 5,
            approved: 2,
            revoked: 2,
            undecided: 1,
            reassigned: 1,
        },
        reviewers: vec![
            ReviewerProgress {
                reviewer: "Ada Lovelace (ada@acme.example)".into(),
                assigned: 2,
                decided: 2,
                approved: 1,
                revoked: 1,
            },
            ReviewerProgress {
                reviewer: "Grace Hopper".into(),
                assigned: 2,
                decided: 1,
                approved: 0,
                revoked: 1,
            },
            ReviewerProgress {
                reviewer: "Fallback Reviewer".into(),
                assigned: 1,
                decided: 1,
                approved: 1,
                revoked: 0,
            },
        ],
        items,
        remediation: vec![
            RemediationRow {
                item_id: "i-000002".into(),
                principal: HOSTILE.into(),
                entitlement: "group jira-administrators".into(),
                command_id: Some("cmd-c-2026q1-i-000002".into()),
                status: "verified".into(),
                detail: "removed in Jira; confirmed by sync run s-7".into(),
            },
            RemediationRow {
                item_id: "i-000003".into(),
                principal: "שרה כהן (sara@acme.example)".into(),
                entitlement: "Developers of CS".into(),
                command_id: None,
                status: "pending".into(),
                detail: "revoke command not issued yet".into(),
            },
        ],
        evidence: Evidence {
            launch_position: 1_204,
            launch_time: "2026-01-05T09:30:00Z".into(),
            launch_head: "1204:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            item_count: 5,
            item_digest: "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b".into(),
            digest_doc: "docs/review-digest.md".into(),
            head_at_close: Some("2311:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752".into()),
            verify_commands: vec![
                "grantledger review verify c-2026q1".into(),
                "grantledger log verify --expect-head 1204:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                "grantledger log verify --expect-head 2311:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752".into(),
            ],
        },
        generated_at: "2026-02-01T09:05:00Z".into(),
        generator: "grantledger 0.1.0".into(),
    }
}
