//! A whole campaign against the simulator over loopback HTTP: sync → create →
//! launch (the digest recomputed from the log) → decisions (one by one and by a
//! CSV import) → close → revocations through the outbox → the simulator's
//! group loses exactly the revoked members → the next sync confirms each
//! removal (`RemediationVerified`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use grantledger_clock::ManualClock;
use grantledger_ingest::SyncOptions;
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jira_sim::Credential;
use grantledger_model::*;
use grantledger_outbox::{DrivePolicy, Executor};
use grantledger_review::bulk::{self, ItemRow};
use grantledger_review::{NewCampaign, Remediation, ReviewError, Reviews, Status};
use grantledger_testkit::{fast_retry, Harness, Preset, SITE};

async fn sync(h: &Harness, clock: &Arc<ManualClock>) {
    grantledger_ingest::sync(
        &h.log,
        &h.client,
        SyncOptions {
            clock: clock.clone(),
            ..SyncOptions::new(SITE)
        },
    )
    .await
    .expect("a sync");
}

/// The human members of one group.
fn humans_of(group: &str) -> CampaignScope {
    CampaignScope {
        selectors: vec![ScopeSelector::Groups {
            patterns: vec![group.to_owned()],
        }],
        account_types: vec![AccountType::Atlassian],
        since: None,
    }
}

fn rows(c: &grantledger_review::Campaign, reviewer: &AccountId) -> Vec<ItemRow> {
    c.items
        .iter()
        .filter(|i| i.reviewer == *reviewer)
        .map(|i| ItemRow {
            campaign: c.id.to_string(),
            item: format!("i{}", i.id),
            reviewer: i.reviewer.to_string(),
            principal_id: match &i.grant.principal {
                Principal::User(a) => a.to_string(),
                Principal::Group(g) => g.to_string(),
            },
            principal: String::new(),
            entitlement: String::new(),
            signals: String::new(),
            decision: String::new(),
            comment: String::new(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_revokes_exactly_what_was_decided_and_a_sync_confirms_it() {
    let h = Harness::start(Preset::Small, 12).await;
    let clock = Arc::new(ManualClock::auto_advancing(Timestamp(
        1_764_288_000_000_000,
    )));
    sync(&h, &clock).await;
    let org = h.sim.org();
    let admin = Credential::admin_of(&org).account_id;
    let human = |a: &String| {
        org.users
            .iter()
            .any(|u| &u.account_id == a && u.account_type == "atlassian")
    };
    // A plain group with at least three human members, the admin not among them.
    let group = org
        .groups
        .iter()
        .filter(|g| {
            !["site-admins", "jira-administrators", "org-admins"].contains(&g.name.as_str())
        })
        .find(|g| {
            org.memberships
                .get(&g.group_id)
                .is_some_and(|m| !m.contains(&admin) && m.iter().filter(|a| human(a)).count() >= 3)
        })
        .expect("a group with three human members")
        .clone();
    let members: Vec<String> = org.memberships[&group.group_id]
        .iter()
        .filter(|a| human(a))
        .cloned()
        .collect();
    let reviewer = org
        .active_humans()
        .find(|u| u.account_id != admin && !members.contains(&u.account_id))
        .expect("a reviewer outside the group")
        .account_id
        .clone();
    let reviews = Reviews::new(h.log.clone(), SITE, clock.clone());
    // A manager mapping naming a member as the manager of another member, so a
    // self-review cannot arise, and the first member's items go to them.
    let managers = format!("user,manager\n{},{}\n", members[0], members[1]);
    let c = reviews
        .create(NewCampaign {
            id: None,
            name: "Q3 group review".into(),
            scope: humans_of(&group.name),
            owners: Vec::new(),
            managers_csv: Some(managers),
            fallback: Some(reviewer.clone()),
            due: None,
            undecided: UndecidedRule::Keep,
            comment_required_for_revoke: true,
            remediation_sync_limit: 2,
            actor: "auditor@example.com".into(),
        })
        .expect("created");
    assert_eq!(c.id.as_str(), "c1");
    let preview = reviews.preview("c1").expect("a preview");
    assert_eq!(preview.items.len(), members.len());
    assert_eq!(preview.unassigned().count(), 0);

    let c = reviews
        .launch("c1", "auditor@example.com")
        .expect("launched");
    assert_eq!(c.status, Status::Open);
    assert_eq!(c.items.len(), members.len());
    let v = reviews.verify("c1").expect("verified");
    assert!(v.ok(), "{v:?}");

    // The manager mapping: member 0's item goes to member 1; the rest to the
    // fallback reviewer.
    let m0 = c
        .items
        .iter()
        .find(|i| i.grant.principal == Principal::User(AccountId::from(members[0].as_str())))
        .unwrap();
    assert_eq!(m0.reviewer.as_str(), members[1]);
    // Only the assigned reviewer decides; a comment is required to revoke.
    assert!(matches!(
        reviews.decide("c1", m0.id, &reviewer, Decision::Revoke, Some("x".into())),
        Err(ReviewError::NotReviewer { .. })
    ));
    assert!(matches!(
        reviews.decide("c1", m0.id, &members[1], Decision::Revoke, None),
        Err(ReviewError::CommentRequired(_))
    ));
    reviews
        .decide(
            "c1",
            m0.id,
            &members[1],
            Decision::Revoke,
            Some("left the team".into()),
        )
        .expect("decided");

    // The fallback reviewer's items by CSV: revoke the first, approve the rest.
    let c = reviews.load("c1").unwrap();
    let mut mine = rows(&c, &AccountId::from(reviewer.as_str()));
    assert_eq!(mine.len(), members.len() - 1);
    for (n, r) in mine.iter_mut().enumerate() {
        if n == 0 {
            r.decision = "revoke".into();
            r.comment = "=not needed".into();
        } else {
            r.decision = "approve".into();
        }
    }
    let revoked_by_csv = mine[0].principal_id.clone();
    // A bad file is refused as a whole, naming each line.
    let mut bad = mine.clone();
    bad[0].decision = "maybe".into();
    bad.push(bad[1].clone());
    let err = reviews
        .import("c1", &reviewer, &bulk::write_csv(&bad))
        .unwrap_err();
    let ReviewError::Import(problems) = err else {
        panic!("{err}")
    };
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![2, bad.len() + 1], "{problems:?}");
    assert!(
        reviews
            .load("c1")
            .unwrap()
            .items
            .iter()
            .filter(|i| i.decision.is_some())
            .count()
            == 1
    );
    let (_, decided) = reviews
        .import("c1", &reviewer, &bulk::write_csv(&mine))
        .expect("imported");
    assert_eq!(decided.len(), mine.len());
    let c = reviews.load("c1").unwrap();
    let comment = c
        .items
        .iter()
        .find_map(|i| {
            i.decision
                .as_ref()
                .filter(|d| d.decision == Decision::Revoke && d.by.as_str() == reviewer)
        })
        .and_then(|d| d.comment.clone());
    assert_eq!(
        comment.as_deref(),
        Some("=not needed"),
        "the Excel escape is removed on import"
    );

    // Close, revoke through the outbox.
    let c = reviews.close("c1", "auditor@example.com").expect("closed");
    assert_eq!(c.closed.as_ref().unwrap().undecided, 0);
    let mut config = JiraConfig::for_base_url(
        &h.sim.base_url(),
        Credential::DEFAULT_EMAIL,
        ApiToken::new(Credential::DEFAULT_TOKEN),
    )
    .unwrap();
    config.retry = fast_retry();
    config.timeout = Duration::from_secs(5);
    let client = JiraClient::with_clock(config, clock.clone()).unwrap();
    let exec =
        Executor::new(h.log.clone(), clock.clone(), DrivePolicy::default()).with_site(SITE, client);
    let (_, commands) = reviews.issue_revocations("c1", &exec).expect("issued");
    assert_eq!(commands.len(), 2);
    // Issuing again adds nothing.
    let (_, again) = reviews
        .issue_revocations("c1", &exec)
        .expect("issued again");
    assert!(again.is_empty());
    for cmd in &commands {
        let outcome = exec.drive(cmd).await.expect("driven");
        assert!(outcome.is_success(), "{outcome:?}");
    }
    let after: BTreeSet<String> = h.sim.org().memberships[&group.group_id].clone();
    let expected: BTreeSet<String> = org.memberships[&group.group_id]
        .iter()
        .filter(|m| **m != members[0] && **m != revoked_by_csv)
        .cloned()
        .collect();
    assert_eq!(
        after, expected,
        "the group lost exactly the revoked members"
    );

    // No sync yet: nothing is verified.
    let (_, events) = reviews.remediate("c1").unwrap();
    assert!(events.is_empty(), "{events:?}");
    sync(&h, &clock).await;
    let (c, events) = reviews.remediate("c1").unwrap();
    assert_eq!(
        events.iter().map(Event::event_type).collect::<Vec<_>>(),
        vec!["RemediationVerified", "RemediationVerified"]
    );
    let verified = c
        .items
        .iter()
        .filter(|i| matches!(i.remediation, Some(Remediation::Verified { .. })))
        .count();
    assert_eq!(verified, 2);
    // The pass is idempotent.
    assert!(reviews.remediate_all().unwrap().is_empty());
    // Verifying the digest still holds after everything that followed.
    assert!(reviews.verify("c1").unwrap().ok());

    // A fallback who holds an item in scope, and no other rule for it: the
    // preview names that item, and the launch is refused for it.
    let holder = expected.iter().next().expect("a member left").clone();
    let c2 = reviews
        .create(NewCampaign {
            id: None,
            name: "fallback in scope".into(),
            scope: humans_of(&group.name),
            owners: Vec::new(),
            managers_csv: None,
            fallback: Some(holder.clone()),
            due: None,
            undecided: UndecidedRule::Keep,
            comment_required_for_revoke: false,
            remediation_sync_limit: 2,
            actor: "auditor@example.com".into(),
        })
        .expect("created");
    let p = reviews.preview(c2.id.as_str()).unwrap();
    assert_eq!(
        p.no_reviewer_left,
        vec![Grant::membership(
            AccountId::from(holder.as_str()),
            group.group_id.as_str().into()
        )]
    );
    assert_eq!(p.self_review, 0);
    assert_eq!(
        p.per_reviewer.values().sum::<u64>(),
        p.items.len() as u64 - 1
    );
    assert!(matches!(
        reviews.launch(c2.id.as_str(), "auditor@example.com"),
        Err(ReviewError::NoFallbackForSelfReview { .. })
    ));
}
