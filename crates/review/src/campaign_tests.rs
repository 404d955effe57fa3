//! Given / when / then for the campaign aggregate: given a campaign's events,
//! when a decision runs, then these events or this refusal, and the state they
//! lead to.

use super::*;
use grantledger_testkit::{given, Fold};

impl Fold for Campaign {
    fn fold(&mut self, event: &Event) {
        self.apply(event);
    }
}

fn t(secs: i64) -> Timestamp {
    Timestamp::from_micros(1_800_000_000_000_000 + secs * 1_000_000)
}

fn acct(id: &str) -> AccountId {
    AccountId::from(id)
}

fn cid() -> CampaignId {
    CampaignId::from("c1")
}

fn definition(undecided: UndecidedRule, comment_required: bool) -> CampaignCreated {
    CampaignCreated {
        campaign: cid(),
        site: "acme".into(),
        name: "Q3 admins".into(),
        scope: CampaignScope {
            selectors: vec![ScopeSelector::AllGrants],
            account_types: vec![AccountType::Atlassian],
            since: None,
        },
        reviewers: vec![
            ReviewerRule::Manager {
                managers: vec![ManagerOf {
                    user: acct("alice"),
                    manager: acct("mgr"),
                }],
            },
            ReviewerRule::Fallback {
                reviewer: acct("sec"),
            },
        ],
        due: Some(t(86_400)),
        undecided,
        comment_required_for_revoke: comment_required,
        remediation_sync_limit: 2,
        created_by: "auditor".into(),
        at: t(0),
    }
}

fn devs(user: &str) -> Grant {
    Grant::membership(acct(user), GroupId::from("g-devs"))
}

fn draft(undecided: UndecidedRule, comment_required: bool) -> Vec<Event> {
    let empty = Campaign {
        id: cid(),
        ..Campaign::default()
    };
    create(&empty, definition(undecided, comment_required)).unwrap()
}

/// Three items: alice (manager mgr), bob (fallback sec), and mgr's own
/// membership, which the rules would give to mgr — reviewed by the fallback.
fn frozen() -> Frozen {
    Frozen {
        position: 10,
        head_hash: "ab".repeat(32),
        since_position: None,
        digest: "cd".repeat(32),
        items: vec![
            (devs("alice"), Some((acct("mgr"), 0))),
            (devs("bob"), Some((acct("sec"), 1))),
            (devs("mgr"), Some((acct("mgr"), 0))),
        ],
    }
}

fn open(undecided: UndecidedRule, comment_required: bool) -> Vec<Event> {
    let mut e = draft(undecided, comment_required);
    let s = given::<Campaign>(e.clone()).state().clone();
    e.extend(launch(&s, frozen(), "auditor", t(10)).unwrap());
    e
}

fn with(mut events: Vec<Event>, more: Vec<Event>) -> Vec<Event> {
    events.extend(more);
    events
}

fn state(events: &[Event]) -> Campaign {
    given::<Campaign>(events.to_vec()).state().clone()
}

#[test]
fn create_records_the_definition_and_refuses_incomplete_ones() {
    let empty = Campaign {
        id: cid(),
        ..Campaign::default()
    };
    given::<Campaign>(Vec::new())
        .when_try(|_| create(&empty, definition(UndecidedRule::Keep, false)))
        .unwrap()
        .then_types(&["CampaignCreated"])
        .then_state(|s| {
            assert_eq!(s.status, Status::Draft);
            assert_eq!(s.fallback(), Some(&acct("sec")));
        });
    let mut no_scope = definition(UndecidedRule::Keep, false);
    no_scope.scope.selectors.clear();
    assert!(matches!(
        create(&empty, no_scope),
        Err(ReviewError::InvalidDefinition(_))
    ));
    let mut no_reviewers = definition(UndecidedRule::Keep, false);
    no_reviewers.reviewers.clear();
    assert!(matches!(
        create(&empty, no_reviewers),
        Err(ReviewError::InvalidDefinition(_))
    ));
    let mut past_due = definition(UndecidedRule::Keep, false);
    past_due.due = Some(t(-1));
    assert!(matches!(
        create(&empty, past_due),
        Err(ReviewError::InvalidDefinition(_))
    ));
    let mut zero_limit = definition(UndecidedRule::Keep, false);
    zero_limit.remediation_sync_limit = 0;
    assert!(create(&empty, zero_limit).is_err());
    // The same id twice.
    let s = state(&draft(UndecidedRule::Keep, false));
    assert!(matches!(
        create(&s, definition(UndecidedRule::Keep, false)),
        Err(ReviewError::AlreadyExists(_))
    ));
}

#[test]
fn launch_freezes_the_items_and_sends_self_review_to_the_fallback_recorded() {
    given::<Campaign>(draft(UndecidedRule::Keep, false))
        .when_try(|s| launch(s, frozen(), "auditor", t(10)))
        .unwrap()
        .then_types(&["CampaignLaunched", "CampaignItemsFrozen", "ItemReassigned"])
        .then_state(|s| {
            assert_eq!(s.status, Status::Open);
            assert_eq!(s.items.len(), 3);
            assert_eq!(s.item(1).unwrap().reviewer, acct("mgr"));
            let own = s.item(3).unwrap();
            assert_eq!(
                own.reviewer,
                acct("sec"),
                "mgr's own access goes to the fallback"
            );
            assert!(own.self_review_reassigned);
            let l = s.launch.as_ref().unwrap();
            assert_eq!((l.position, l.item_count, l.chunks), (10, 3, 1));
        });
}

#[test]
fn launch_chunks_large_populations() {
    let s = state(&draft(UndecidedRule::Keep, false));
    let mut f = frozen();
    f.items = (0..ITEMS_PER_CHUNK * 2 + 1)
        .map(|i| (devs(&format!("u{i}")), Some((acct("sec"), 1))))
        .collect();
    let events = launch(&s, f, "auditor", t(10)).unwrap();
    assert_eq!(events.len(), 4, "the launch and three chunks");
    let after = given::<Campaign>(with(draft(UndecidedRule::Keep, false), events));
    assert_eq!(after.state().items.len(), ITEMS_PER_CHUNK * 2 + 1);
    assert_eq!(after.state().item(4001).unwrap().id, 4001);
}

#[test]
fn launch_refuses_unassigned_items_self_review_without_fallback_and_a_second_launch() {
    let s = state(&draft(UndecidedRule::Keep, false));
    let mut f = frozen();
    f.items.push((devs("zoe"), None));
    assert!(matches!(
        launch(&s, f, "auditor", t(10)),
        Err(ReviewError::Unassigned { count: 1 })
    ));
    // The fallback's own access, with no one else to review it.
    let mut f = frozen();
    f.items = vec![(devs("sec"), Some((acct("sec"), 1)))];
    assert!(matches!(
        launch(&s, f, "auditor", t(10)),
        Err(ReviewError::NoFallbackForSelfReview { .. })
    ));
    let opened = state(&open(UndecidedRule::Keep, false));
    assert!(matches!(
        launch(&opened, frozen(), "auditor", t(11)),
        Err(ReviewError::NotAllowedInState { .. })
    ));
}

#[test]
fn only_the_assigned_reviewer_decides() {
    let s = state(&open(UndecidedRule::Keep, false));
    assert!(matches!(
        decide(&s, 1, &acct("sec"), Decision::Approve, None, t(20)),
        Err(ReviewError::NotReviewer { item: 1, .. })
    ));
    given::<Campaign>(open(UndecidedRule::Keep, false))
        .when_try(|s| {
            decide(
                s,
                1,
                &acct("mgr"),
                Decision::Approve,
                Some("ok".into()),
                t(20),
            )
        })
        .unwrap()
        .then_types(&["ItemDecided"])
        .then_state(|s| {
            let d = s.item(1).unwrap().decision.clone().unwrap();
            assert_eq!(
                (d.decision, d.by, d.at),
                (Decision::Approve, acct("mgr"), t(20))
            );
        });
    assert!(matches!(
        decide(&s, 99, &acct("mgr"), Decision::Approve, None, t(20)),
        Err(ReviewError::NoSuchItem { .. })
    ));
}

#[test]
fn nobody_decides_their_own_access() {
    // Item 3 is mgr's own membership; even if it were assigned to mgr, mgr
    // could not decide it.
    let mut s = state(&open(UndecidedRule::Keep, false));
    s.items[2].reviewer = acct("mgr");
    assert!(matches!(
        decide(&s, 3, &acct("mgr"), Decision::Approve, None, t(20)),
        Err(ReviewError::SelfReview { item: 3 })
    ));
}

#[test]
fn decisions_change_until_close_and_a_repeat_records_nothing() {
    let e = open(UndecidedRule::Keep, false);
    let s = state(&e);
    let first = decide(&s, 1, &acct("mgr"), Decision::Approve, None, t(20)).unwrap();
    let e = with(e, first);
    given::<Campaign>(e.clone())
        .when_try(|s| decide(s, 1, &acct("mgr"), Decision::Approve, None, t(21)))
        .unwrap()
        .then_types(&[]);
    let e2 = given::<Campaign>(e.clone())
        .when_try(|s| {
            decide(
                s,
                1,
                &acct("mgr"),
                Decision::Revoke,
                Some("left".into()),
                t(22),
            )
        })
        .unwrap()
        .then_types(&["ItemDecided"])
        .then_state(|s| {
            let item = s.item(1).unwrap();
            assert_eq!(item.decision.as_ref().unwrap().decision, Decision::Revoke);
            assert_eq!(item.decisions, 2);
        })
        .after();
    // Closed: decisions are final.
    let mut after_close = e2.clone();
    for ev in close(&e2, "auditor", (50, "ef".repeat(32)), t(30)).unwrap() {
        after_close.apply(&ev);
    }
    assert!(matches!(
        decide(
            &after_close,
            1,
            &acct("mgr"),
            Decision::Approve,
            None,
            t(40)
        ),
        Err(ReviewError::NotAllowedInState { .. })
    ));
}

#[test]
fn a_revocation_needs_a_comment_when_the_campaign_says_so() {
    let s = state(&open(UndecidedRule::Keep, true));
    assert!(matches!(
        decide(&s, 1, &acct("mgr"), Decision::Revoke, None, t(20)),
        Err(ReviewError::CommentRequired(_))
    ));
    assert!(matches!(
        decide(
            &s,
            1,
            &acct("mgr"),
            Decision::Revoke,
            Some("  ".into()),
            t(20)
        ),
        Err(ReviewError::CommentRequired(_))
    ));
    assert!(decide(
        &s,
        1,
        &acct("mgr"),
        Decision::Revoke,
        Some("left".into()),
        t(20)
    )
    .is_ok());
    assert!(decide(&s, 1, &acct("mgr"), Decision::Approve, None, t(20)).is_ok());
}

#[test]
fn reassignment_moves_the_item_drops_its_decision_and_goes_to_the_fallback_for_its_holder() {
    let e = open(UndecidedRule::Keep, false);
    let decided = with(
        e.clone(),
        decide(&state(&e), 1, &acct("mgr"), Decision::Approve, None, t(20)).unwrap(),
    );
    given::<Campaign>(decided.clone())
        .when_try(|s| {
            reassign(
                s,
                1,
                &acct("mgr"),
                &acct("carol"),
                Some("her team".into()),
                t(21),
            )
        })
        .unwrap()
        .then_types(&["ItemReassigned"])
        .then_state(|s| {
            let item = s.item(1).unwrap();
            assert_eq!(item.reviewer, acct("carol"));
            assert!(item.decision.is_none());
        });
    // Handing alice's item to alice sends it to the fallback, recorded as such.
    let then = given::<Campaign>(decided.clone())
        .when_try(|s| reassign(s, 1, &acct("mgr"), &acct("alice"), None, t(21)))
        .unwrap()
        .then_types(&["ItemReassigned"]);
    let Event::ItemReassigned(r) = &then.events()[0] else {
        panic!()
    };
    assert_eq!(
        (r.to.clone(), r.reason),
        (acct("sec"), ReassignReason::SelfReview)
    );
    // Only its reviewer reassigns; not to the same reviewer.
    let s = state(&decided);
    assert!(matches!(
        reassign(&s, 1, &acct("sec"), &acct("carol"), None, t(21)),
        Err(ReviewError::NotReviewer { .. })
    ));
    assert!(matches!(
        reassign(&s, 1, &acct("mgr"), &acct("mgr"), None, t(21)),
        Err(ReviewError::SameReviewer { .. })
    ));
}

#[test]
fn close_applies_the_undecided_rule() {
    for (rule, revoked) in [
        (UndecidedRule::Keep, vec![1]),
        (UndecidedRule::Revoke, vec![1, 2, 3]),
    ] {
        let e = open(rule, false);
        let e = with(
            e.clone(),
            decide(&state(&e), 1, &acct("mgr"), Decision::Revoke, None, t(20)).unwrap(),
        );
        let then = given::<Campaign>(e)
            .when_try(|s| close(s, "auditor", (50, "ef".repeat(32)), t(30)))
            .unwrap()
            .then_types(&["CampaignClosed"]);
        let Event::CampaignClosed(c) = &then.events()[0] else {
            panic!()
        };
        assert_eq!(c.undecided, 2);
        let after = then.after();
        assert_eq!(after.status, Status::Closed);
        let pending: Vec<u32> = pending_revocations(&after)
            .iter()
            .map(|(i, _)| i.id)
            .collect();
        assert_eq!(pending, revoked, "{rule:?}");
        assert_eq!(
            pending_revocations(&after)[0].1,
            CommandId::from("c1-i1-revoke")
        );
    }
    let d = state(&draft(UndecidedRule::Keep, false));
    assert!(close(&d, "auditor", (1, String::new()), t(1)).is_err());
}

fn closed_with_revocation() -> Vec<Event> {
    let e = open(UndecidedRule::Keep, false);
    let e = with(
        e.clone(),
        decide(&state(&e), 1, &acct("mgr"), Decision::Revoke, None, t(20)).unwrap(),
    );
    let e = with(
        e.clone(),
        close(&state(&e), "a", (50, "ef".repeat(32)), t(30)).unwrap(),
    );
    let e = with(
        e.clone(),
        revocation_issued(&state(&e), 1, 51, t(31)).unwrap(),
    );
    // Issuing again adds nothing; approved items are never issued.
    assert!(revocation_issued(&state(&e), 1, 52, t(32))
        .unwrap()
        .is_empty());
    assert!(revocation_issued(&state(&e), 2, 52, t(32))
        .unwrap()
        .is_empty());
    e
}

/// A site state with `runs` (id, started, ended) completed and alice's
/// membership held or not, last changed at `changed`.
fn site(runs: &[(&str, u64, u64)], held: bool, changed: u64) -> SiteState {
    let mut s = SiteState::default();
    for (run, started, ended) in runs {
        s.runs.push(grantledger_projection::SyncRun {
            run: SyncRunId::from(*run),
            started: *started,
            started_at: t(0),
            ended: Some(grantledger_projection::RunEnd {
                position: *ended,
                at: t(0),
                completed: true,
            }),
        });
    }
    if held {
        s.apply_event(
            &GrantAdded {
                grant: devs("alice"),
                cause: GrantCause::ObservedInSync {
                    run: SyncRunId::from("x"),
                },
            }
            .into(),
        );
    }
    s.grant_changes.insert(devs("alice"), changed);
    s
}

#[test]
fn a_sync_after_the_command_confirms_the_removal() {
    let e = closed_with_revocation();
    let s = state(&e);
    let done = |_: &CommandId| CommandFact::Succeeded { position: 55 };
    // Removed by the command (position 56), no sync since: nothing yet.
    assert!(remediate(&s, &site(&[("r1", 5, 9)], false, 56), &done, t(40)).is_empty());
    // A sync that started after the outcome and did not see it again.
    let events = remediate(
        &s,
        &site(&[("r1", 5, 9), ("r2", 60, 70)], false, 56),
        &done,
        t(40),
    );
    assert_eq!(events.len(), 1);
    let Event::RemediationVerified(v) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!((v.item, v.run.as_str(), v.position), (1, "r2", 70));
    let after = given::<Campaign>(with(e, events)).state().clone();
    assert!(matches!(
        after.item(1).unwrap().remediation,
        Some(Remediation::Verified { .. })
    ));
    // Verified once: the next pass adds nothing while the grant stays gone.
    assert!(remediate(
        &after,
        &site(&[("r2", 60, 70), ("r3", 80, 90)], false, 56),
        &done,
        t(41)
    )
    .is_empty());
    // A revoked grant that reappears is flagged, once.
    let back = site(&[("r2", 60, 70), ("r3", 80, 90)], true, 85);
    let flagged = remediate(&after, &back, &done, t(42));
    assert_eq!(flagged.len(), 1);
    let Event::RemediationFlagged(f) = &flagged[0] else {
        panic!()
    };
    assert_eq!(f.reason, FlagReason::Reappeared { position: 85 });
}

#[test]
fn a_removal_not_seen_within_the_limit_is_flagged_and_a_failed_command_too() {
    let s = state(&closed_with_revocation());
    let unfinished = |_: &CommandId| CommandFact::Unfinished;
    // One completed sync since the issue (limit 2): not yet.
    assert!(remediate(&s, &site(&[("r2", 60, 70)], true, 5), &unfinished, t(40)).is_empty());
    let events = remediate(
        &s,
        &site(&[("r2", 60, 70), ("r3", 80, 90)], true, 5),
        &unfinished,
        t(40),
    );
    let Event::RemediationFlagged(f) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(f.reason, FlagReason::NotRemoved { syncs: 2 });
    let failed = |_: &CommandId| CommandFact::Failed {
        reason: "Jira refused".into(),
    };
    let events = remediate(&s, &site(&[], true, 5), &failed, t(40));
    let Event::RemediationFlagged(f) = &events[0] else {
        panic!()
    };
    assert!(matches!(f.reason, FlagReason::CommandFailed { .. }));
    // An open campaign has nothing to verify.
    let open_state = state(&open(UndecidedRule::Keep, false));
    assert!(remediate(&open_state, &site(&[], true, 5), &failed, t(40)).is_empty());
}

#[test]
fn progress_counts_per_reviewer() {
    let e = open(UndecidedRule::Keep, false);
    let e = with(
        e.clone(),
        decide(&state(&e), 1, &acct("mgr"), Decision::Revoke, None, t(20)).unwrap(),
    );
    let p = progress(&state(&e));
    assert_eq!(p[&acct("mgr")], [1, 1, 0, 1]);
    assert_eq!(p[&acct("sec")], [2, 0, 0, 0]);
}

#[test]
fn item_numbers_parse_with_or_without_the_prefix() {
    assert_eq!(parse_item("i17"), Some(17));
    assert_eq!(parse_item(" 17 "), Some(17));
    assert_eq!(parse_item("i0"), None);
    assert_eq!(parse_item("x"), None);
}
