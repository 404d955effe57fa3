//! The out-of-band report from a small log: given these events, these grants
//! are out of band — each explanation source (a request, an operator, a
//! campaign's approval, the allow-list) takes a grant out, a re-addition after
//! a campaign's launch puts it back, `since` and `all` narrow and widen, and an
//! audit record names who added it in Jira.

use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent, Position};
use grantledger_model::*;
use grantledger_projection::SiteState;
use grantledger_review::campaign::{Campaign, Item, ItemDecision, Status};
use grantledger_review::out_of_band::{
    out_of_band, since_position, OutOfBandConfig, OutOfBandOptions, OutOfBandReport,
};
use grantledger_testkit::fresh_log;

const SITE: &str = "acme";

fn now_minus(secs: i64) -> Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    Timestamp::from_micros(now.as_micros() as i64 - secs * 1_000_000)
}

fn append(log: &EventLog, stream: &StreamId, events: Vec<Event>) -> Position {
    let out = log
        .append(
            stream,
            ExpectedVersion::Any,
            events.into_iter().map(NewEvent::new).collect(),
        )
        .unwrap();
    out.last
}

fn user(id: &str, name: &str) -> Event {
    UserObserved {
        user: UserRecord {
            account_id: id.into(),
            account_type: AccountType::Atlassian,
            display_name: name.into(),
            email: Some(format!("{id}@acme.com")),
            active: true,
        },
    }
    .into()
}

fn group(id: &str, name: &str) -> Event {
    GroupObserved {
        group: GroupRecord {
            group_id: id.into(),
            name: name.into(),
        },
    }
    .into()
}

fn observed(run: &str, g: Grant) -> Event {
    GrantAdded {
        grant: g,
        cause: GrantCause::ObservedInSync { run: run.into() },
    }
    .into()
}

fn admins(u: &str) -> Grant {
    Grant::membership(u.into(), "g-admins".into())
}

fn ops_admin(u: &str) -> Grant {
    Grant::role(Principal::User(u.into()), "p1".into(), "r-admin".into())
}

/// A log: one sync that sees the directory and five privileged grants, one
/// plain membership, then a request and an operator adding two more.
fn seeded() -> (tempfile::TempDir, EventLog) {
    let (dir, log) = fresh_log();
    let s = StreamId::jira_site(SITE);
    append(
        &log,
        &s,
        vec![
            SyncStarted {
                run: "run-1".into(),
                site: SITE.into(),
                started_at: now_minus(600),
            }
            .into(),
            user("alice", "Alice"),
            user("bob", "Bob"),
            user("carol", "Carol"),
            user("dave", "Dave"),
            user("erin", "Erin"),
            user("mallory", "Mallory"),
            group("g-admins", "site-admins"),
            group("g-devs", "developers"),
            ProjectObserved {
                project: ProjectRecord {
                    project_id: "p1".into(),
                    key: "OPS".into(),
                    name: "Operations".into(),
                    archived: false,
                },
            }
            .into(),
            ProjectRoleObserved {
                role: RoleRecord {
                    project_id: "p1".into(),
                    role_id: "r-admin".into(),
                    name: "Administrators".into(),
                },
            }
            .into(),
            observed("run-1", admins("alice")),
            observed("run-1", admins("bob")),
            observed("run-1", ops_admin("carol")),
            observed("run-1", Grant::membership("dave".into(), "g-devs".into())),
            SyncCompleted {
                run: "run-1".into(),
                stats: SyncStats::default(),
            }
            .into(),
        ],
    );
    append(
        &log,
        &s,
        vec![
            GrantAdded {
                grant: admins("erin"),
                cause: GrantCause::AppliedByRequest {
                    request: "req-1".into(),
                    command: "cmd-1".into(),
                },
            }
            .into(),
            GrantAdded {
                grant: ops_admin("dave"),
                cause: GrantCause::ChangedByOperator {
                    operator: "ops@acme.com".into(),
                    command: "cmd-2".into(),
                },
            }
            .into(),
        ],
    );
    (dir, log)
}

fn state(log: &EventLog) -> SiteState {
    SiteState::load(log, SITE).unwrap()
}

fn privileged() -> OutOfBandOptions {
    OutOfBandOptions {
        privileged_groups: vec![
            "site-admins".into(),
            "jira-administrators".into(),
            "org-admins".into(),
        ],
        all: false,
        since: None,
    }
}

fn ids(r: &OutOfBandReport) -> Vec<(String, String)> {
    r.grants
        .iter()
        .map(|g| (g.principal.id.clone(), g.entitlement.name.clone()))
        .collect()
}

fn pair(u: &str, e: &str) -> (String, String) {
    (u.to_owned(), e.to_owned())
}

/// A campaign launched at `at` whose item for `grant` is approved.
fn approving(id: &str, at: Position, grant: Grant) -> Campaign {
    Campaign {
        id: id.into(),
        status: Status::Open,
        launch: Some(CampaignLaunched {
            campaign: id.into(),
            position: at,
            head_hash: String::new(),
            since_position: None,
            item_count: 1,
            digest: String::new(),
            chunks: 1,
            launched_by: "auditor".into(),
            at: now_minus(0),
        }),
        items: vec![Item {
            id: 1,
            grant,
            reviewer: "rev".into(),
            rule: 0,
            decision: Some(ItemDecision {
                decision: Decision::Approve,
                by: "rev".into(),
                comment: None,
                at: now_minus(0),
            }),
            decisions: 1,
            reassignments: 0,
            self_review_reassigned: false,
            remediation: None,
            flagged: None,
        }],
        ..Campaign::default()
    }
}

#[test]
fn grants_added_by_grantledger_are_explained_and_observed_ones_are_not() {
    let (_d, log) = seeded();
    let r = out_of_band(
        &log,
        SITE,
        &state(&log),
        &[],
        &OutOfBandConfig::default(),
        &privileged(),
    )
    .unwrap();
    assert_eq!(
        ids(&r),
        vec![
            pair("alice", "site-admins"),
            pair("bob", "site-admins"),
            pair("carol", "OPS:Administrators"),
        ]
    );
    assert_eq!(
        r.in_scope, 5,
        "erin's and dave's privileged grants are in scope"
    );
    assert_eq!(r.explained.by_grantledger, 2);
    assert_eq!(r.grants[0].sync_run.as_deref(), Some("run-1"));
    assert!(r.grants[0].added_at.is_some());
    // No sync read Jira's audit log here: said plainly.
    assert!(
        r.grants[0]
            .in_jira
            .text
            .contains("no sync read Jira's audit log"),
        "{}",
        r.grants[0].in_jira.text
    );
    // --all brings the plain membership in.
    let all = out_of_band(
        &log,
        SITE,
        &state(&log),
        &[],
        &OutOfBandConfig::default(),
        &OutOfBandOptions {
            all: true,
            ..privileged()
        },
    )
    .unwrap();
    assert!(ids(&all).contains(&pair("dave", "developers")));
    assert_eq!(all.in_scope, 6);
}

#[test]
fn a_campaign_approval_explains_a_grant_until_it_is_added_again() {
    let (_d, log) = seeded();
    let launch = log.head().position;
    let campaigns = vec![approving("q3", launch, admins("alice"))];
    let cfg = OutOfBandConfig::default();
    let r = out_of_band(&log, SITE, &state(&log), &campaigns, &cfg, &privileged()).unwrap();
    assert!(!ids(&r).contains(&pair("alice", "site-admins")));
    assert_eq!(r.explained.by_campaign, 1);
    // A revoked item explains nothing.
    let mut revoked = approving("q4", launch, admins("bob"));
    revoked.items[0].decision.as_mut().unwrap().decision = Decision::Revoke;
    let r = out_of_band(&log, SITE, &state(&log), &[revoked], &cfg, &privileged()).unwrap();
    assert!(ids(&r).contains(&pair("bob", "site-admins")));
    // Removed and added again in Jira after the launch: out of band again.
    let s = StreamId::jira_site(SITE);
    append(
        &log,
        &s,
        vec![
            GrantRemoved {
                grant: admins("alice"),
                cause: GrantCause::ObservedInSync {
                    run: "run-2".into(),
                },
            }
            .into(),
            observed("run-3", admins("alice")),
        ],
    );
    let r = out_of_band(&log, SITE, &state(&log), &campaigns, &cfg, &privileged()).unwrap();
    assert!(ids(&r).contains(&pair("alice", "site-admins")));
    assert_eq!(r.explained.by_campaign, 0);
}

#[test]
fn the_allow_list_explains_what_it_names_and_refuses_a_bad_entry_by_line() {
    let (_d, log) = seeded();
    let cfg = OutOfBandConfig::parse(
        r#"[review]
privileged_groups = []

[[out_of_band.allow]]
principal = "ALICE@acme.com"
group = "site-*"
reason = "break-glass account"

[[out_of_band.allow]]
principal = "carol"
project = "OPS"
role = "Admin*"
reason = "owns OPS"
"#,
    )
    .unwrap();
    assert_eq!(cfg.allow[1].line, 9);
    let r = out_of_band(&log, SITE, &state(&log), &[], &cfg, &privileged()).unwrap();
    assert_eq!(ids(&r), vec![pair("bob", "site-admins")]);
    assert_eq!(r.explained.by_allow_list, 2);

    let err = OutOfBandConfig::parse(
        "[out_of_band]\n\n[[out_of_band.allow]]\nprincipal = \"a\"\ngroup = \"g\"\nproject = \"P\"\nrole = \"R\"\nreason = \"x\"\n",
    )
    .unwrap_err();
    assert_eq!(err.line, 3, "{err}");
    assert!(err.reason.contains("either a group"), "{err}");
    let err = OutOfBandConfig::parse(
        "[[out_of_band.allow]]\nprincipal = \"a\"\ngroup = \"g\"\nreason = \" \"\n",
    )
    .unwrap_err();
    assert!(err.reason.contains("reason is empty"), "{err}");
    let err = OutOfBandConfig::parse("[out_of_band]\nallow = 3\n").unwrap_err();
    assert_eq!(err.line, 2, "{err}");
    let err = OutOfBandConfig::parse("[out_of_band]\nalow = []\n").unwrap_err();
    assert_eq!(err.line, 2, "{err}");
    let err =
        OutOfBandConfig::parse("[out_of_band]\nprivileged_roles = [\n  \"Owners\",\n  \"\",\n]\n")
            .unwrap_err();
    assert_eq!(err.line, 4, "{err}");
    let roles = OutOfBandConfig::parse("[out_of_band]\nprivileged_roles = [\"Owners\"]\n")
        .unwrap()
        .privileged_roles();
    assert_eq!(
        roles,
        vec!["Administrators".to_owned(), "Owners".to_owned()]
    );
}

#[test]
fn since_keeps_only_grants_added_after_a_position_a_time_or_a_launch() {
    let (_d, log) = seeded();
    let cfg = OutOfBandConfig::default();
    let before = log.head().position;
    append(
        &log,
        &StreamId::jira_site(SITE),
        vec![observed("run-2", admins("mallory"))],
    );
    let c = approving("q3", before, admins("alice"));
    for since in [
        Since::Position(before),
        Since::Campaign("q3".into()),
        Since::Time(log.get(before).unwrap().unwrap().recorded_at),
    ] {
        let at = since_position(&log, SITE, &since, std::slice::from_ref(&c)).unwrap();
        assert_eq!(at, before, "{since:?}");
        let r = out_of_band(
            &log,
            SITE,
            &state(&log),
            &[],
            &cfg,
            &OutOfBandOptions {
                since: Some(at),
                ..privileged()
            },
        )
        .unwrap();
        assert_eq!(ids(&r), vec![pair("mallory", "site-admins")], "{since:?}");
        assert_eq!(r.explained.before_since, 5);
    }
    assert!(since_position(&log, SITE, &Since::Campaign("nope".into()), &[c]).is_err());
}

#[test]
fn an_audit_record_names_who_added_it_in_jira() {
    let (_d, log) = seeded();
    let audit = StreamId::audit_site(SITE);
    append(
        &log,
        &audit,
        vec![
            AuditRecordObserved {
                run: "run-2".into(),
                record_id: 77,
                created: now_minus(0),
                summary: "User added to group".into(),
                category: "group management".into(),
                author: Some("alice".into()),
                object: Some(AuditItem {
                    id: None,
                    name: Some("site-admins".into()),
                    type_name: Some("GROUP".into()),
                }),
                associated: vec![AuditItem {
                    id: Some("mallory".into()),
                    name: Some("Mallory".into()),
                    type_name: Some("USER".into()),
                }],
                changed: vec![],
            }
            .into(),
            AuditLogRead {
                run: "run-2".into(),
                from: None,
                to: now_minus(0),
                records_read: 1,
                records_new: 1,
                oldest: Some(now_minus(3600)),
            }
            .into(),
        ],
    );
    let s = StreamId::jira_site(SITE);
    append(
        &log,
        &s,
        vec![
            SyncStarted {
                run: "run-2".into(),
                site: SITE.into(),
                started_at: now_minus(0),
            }
            .into(),
            observed("run-2", admins("mallory")),
            SyncCompleted {
                run: "run-2".into(),
                stats: SyncStats::default(),
            }
            .into(),
        ],
    );
    let r = out_of_band(
        &log,
        SITE,
        &state(&log),
        &[],
        &OutOfBandConfig::default(),
        &privileged(),
    )
    .unwrap();
    let m = r
        .grants
        .iter()
        .find(|g| g.principal.id == "mallory")
        .expect("mallory's membership is out of band");
    assert_eq!(m.in_jira.audit_record, Some(77));
    assert_eq!(m.in_jira.author_name.as_deref(), Some("Alice"));
    assert!(
        m.in_jira.text.starts_with("added by Alice in Jira at "),
        "{}",
        m.in_jira.text
    );
    // Bob's, from before the audit log was read, says why nobody is named.
    let b = r.grants.iter().find(|g| g.principal.id == "bob").unwrap();
    assert_eq!(b.in_jira.audit_record, None);
    assert!(
        b.in_jira.text.starts_with("no Jira audit record"),
        "{}",
        b.in_jira.text
    );
}
