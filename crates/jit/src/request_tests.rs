//! Given / when / then for the request aggregate (the test kit's scenarios):
//! given a request's events, when a decision runs, then these events or this
//! refusal, and the state they lead to.

use super::*;
use grantledger_testkit::{given, Fold};

impl Fold for Request {
    fn fold(&mut self, event: &Event) {
        self.apply(event);
    }
}

const HOUR: u64 = 3600;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_micros(1_800_000_000_000_000 + secs * 1_000_000)
}

fn acct(id: &str) -> AccountId {
    AccountId::from(id)
}

fn grant() -> Grant {
    Grant::membership(acct("alice"), GroupId::from("g-devs"))
}

fn rules(approvals: u32) -> Rules {
    Rules {
        policy: "devs".into(),
        requestable: true,
        approvals_needed: approvals,
        max_duration_secs: 8 * HOUR,
        require_justification: false,
        require_ticket: false,
        break_glass_max_secs: Some(HOUR),
    }
}

fn new_request(id: &str, duration: u64) -> NewRequest {
    NewRequest {
        id: RequestId::from(id),
        site: "acme".into(),
        requester: acct("alice"),
        grant: grant(),
        duration_secs: duration,
        justification: Some("on call".into()),
        ticket: None,
        break_glass: false,
    }
}

/// The events of a request `r1` for alice, needing `approvals`, asked at t(0).
fn requested(approvals: u32) -> Vec<Event> {
    create(
        &Request::default(),
        new_request("r1", 2 * HOUR),
        &rules(approvals),
        true,
        t(0),
    )
    .unwrap()
}

/// r1 approved by bob (one approval needed), at t(10).
fn approved() -> Vec<Event> {
    let mut e = requested(1);
    let s = given::<Request>(e.clone()).state().clone();
    e.extend(approve(&s, &acct("bob"), true, None, t(10)).unwrap());
    e
}

/// r1 granted at t(20) (Jira changed), running until t(20) + 2h.
fn granted() -> Vec<Event> {
    let mut e = approved();
    let s = given::<Request>(e.clone()).state().clone();
    e.extend(command_finished(
        &s,
        &grant_command_id(&s.id),
        &CommandOutcome::Succeeded {
            jira: JiraOutcome::Changed,
        },
        t(20),
    ));
    e
}

fn deadline() -> Timestamp {
    after(t(20), 2 * HOUR)
}

#[test]
fn the_whole_lifecycle_requested_approved_granted_expired_revoked() {
    given::<Request>(Vec::new())
        .when_try(|s| create(s, new_request("r1", 2 * HOUR), &rules(2), true, t(0)))
        .unwrap()
        .then_types(&["AccessRequested"])
        .then_state(|s| assert_eq!(s.status, Status::Pending));
    let mut events = requested(2);
    let then = given::<Request>(events.clone())
        .when_try(|s| approve(s, &acct("bob"), true, Some("ok".into()), t(5)))
        .unwrap()
        .then_types(&["ApprovalGiven"])
        .then_state(|s| assert_eq!(s.status, Status::Pending));
    events.extend(then.events().to_vec());
    let then = given::<Request>(events.clone())
        .when_try(|s| approve(s, &acct("carol"), true, None, t(10)))
        .unwrap()
        .then_types(&["ApprovalGiven", "RequestApproved"])
        .then_state(|s| {
            assert_eq!(s.status, Status::Approved);
            assert_eq!(s.approvals.len(), 2);
        });
    events.extend(then.events().to_vec());
    // The grant: a command to add alice to the group, for this request.
    let s = given::<Request>(events.clone()).state().clone();
    let GrantStep::Issue(cmd) = grant_step(&s, false, false, t(11)) else {
        panic!("expected a command");
    };
    assert_eq!(cmd.action, CommandAction::Add);
    assert_eq!(cmd.grant, grant());
    assert_eq!(cmd.command, CommandId::from("r1-grant"));
    assert_eq!(
        cmd.purpose,
        CommandPurpose::GrantForRequest {
            request: RequestId::from("r1")
        }
    );
    // Driven again after a restart: the same command, never a second one.
    assert_eq!(
        grant_step(&s, true, true, t(12)),
        GrantStep::Issue(cmd.clone())
    );
    let then = given::<Request>(events.clone())
        .when(|s| {
            command_finished(
                s,
                &cmd.command,
                &CommandOutcome::Succeeded {
                    jira: JiraOutcome::Changed,
                },
                t(20),
            )
        })
        .then_types(&["AccessGranted"])
        .then_state(|s| {
            assert_eq!(s.status, Status::Granted);
            assert!(s.owns_access);
            assert_eq!(s.expires_at, Some(after(t(20), 2 * HOUR)));
        })
        .then_converges(|s| {
            command_finished(
                s,
                &cmd.command,
                &CommandOutcome::Succeeded {
                    jira: JiraOutcome::Changed,
                },
                t(21),
            )
        });
    events.extend(then.events().to_vec());
    // Not yet: a second before the deadline nothing happens.
    given::<Request>(events.clone())
        .when(|s| {
            expire(
                s,
                None,
                Timestamp::from_micros(deadline().as_micros() - 1_000_000),
            )
        })
        .then_types(&[]);
    let then = given::<Request>(events.clone())
        .when(|s| expire(s, None, deadline()))
        .then_events(&[AccessExpired {
            request: RequestId::from("r1"),
            deadline: deadline(),
            action: ExpiryAction::Revoke {
                command: CommandId::from("r1-expire"),
            },
            at: deadline(),
        }
        .into()])
        .then_state(|s| assert_eq!(s.status, Status::Revoking));
    events.extend(then.events().to_vec());
    let s = given::<Request>(events.clone()).state().clone();
    let remove = removal_command(&s).expect("a remove command");
    assert_eq!(remove.action, CommandAction::Remove);
    assert_eq!(
        remove.purpose,
        CommandPurpose::ExpireRequest {
            request: RequestId::from("r1")
        }
    );
    given::<Request>(events)
        .when(|s| {
            command_finished(
                s,
                &remove.command,
                &CommandOutcome::Succeeded {
                    jira: JiraOutcome::Changed,
                },
                t(7300),
            )
        })
        .then_types(&["AccessRevoked"])
        .then_state(|s| {
            assert_eq!(s.status, Status::Revoked);
            assert!(s.status.is_final());
            assert!(!s.owns_access);
            assert!(removal_command(s).is_none());
        });
}

#[test]
fn nobody_approves_their_own_request_and_approvers_must_be_allowed_and_distinct() {
    let e = requested(2);
    // The requester (also the beneficiary here).
    let err = given::<Request>(e.clone())
        .when_try(|s| approve(s, &acct("alice"), true, None, t(1)))
        .unwrap_err();
    assert!(matches!(err, RequestError::SelfApproval), "{err}");
    // The beneficiary of a request someone else made.
    let mut other = new_request("r2", HOUR);
    other.requester = acct("dave");
    let e2 = create(&Request::default(), other, &rules(1), true, t(0)).unwrap();
    let err = given::<Request>(e2)
        .when_try(|s| approve(s, &acct("alice"), true, None, t(1)))
        .unwrap_err();
    assert!(matches!(err, RequestError::SelfApproval), "{err}");
    let err = given::<Request>(e.clone())
        .when_try(|s| approve(s, &acct("mallory"), false, None, t(1)))
        .unwrap_err();
    assert!(
        matches!(err, RequestError::ApproverNotAllowed { .. }),
        "{err}"
    );
    let mut once = e.clone();
    let s = given::<Request>(e).state().clone();
    once.extend(approve(&s, &acct("bob"), true, None, t(1)).unwrap());
    let err = given::<Request>(once)
        .when_try(|s| approve(s, &acct("bob"), true, None, t(2)))
        .unwrap_err();
    assert!(matches!(err, RequestError::AlreadyApproved), "{err}");
}

#[test]
fn denied_and_cancelled_requests_end_and_refuse_further_actions() {
    let then = given::<Request>(requested(1))
        .when_try(|s| deny(s, &acct("bob"), true, Some("not on call".into()), t(3)))
        .unwrap()
        .then_types(&["RequestDenied"])
        .then_state(|s| {
            assert_eq!(s.status, Status::Denied);
            assert!(s.status.is_final());
        });
    let mut denied = requested(1);
    denied.extend(then.events().to_vec());
    let err = given::<Request>(denied)
        .when_try(|s| approve(s, &acct("carol"), true, None, t(4)))
        .unwrap_err();
    assert!(
        matches!(
            err,
            RequestError::NotAllowedInState {
                action: "approve",
                status: "denied",
                ..
            }
        ),
        "{err}"
    );
    let err = given::<Request>(requested(1))
        .when_try(|s| deny(s, &acct("alice"), true, None, t(3)))
        .unwrap_err();
    assert!(matches!(err, RequestError::SelfDenial), "{err}");
    let err = given::<Request>(requested(1))
        .when_try(|s| cancel(s, &acct("bob"), t(3)))
        .unwrap_err();
    assert!(matches!(err, RequestError::NotRequester), "{err}");
    given::<Request>(requested(1))
        .when_try(|s| cancel(s, &acct("alice"), t(3)))
        .unwrap()
        .then_types(&["RequestCancelled"])
        .then_state(|s| assert_eq!(s.status, Status::Cancelled));
    // Once approved, the grant may be under way: no cancelling, revoke later.
    let err = given::<Request>(approved())
        .when_try(|s| cancel(s, &acct("alice"), t(11)))
        .unwrap_err();
    assert!(
        matches!(err, RequestError::NotAllowedInState { .. }),
        "{err}"
    );
}

#[test]
fn a_failed_grant_ends_the_request_and_a_failed_revoke_waits_for_a_new_one() {
    given::<Request>(approved())
        .when(|s| {
            command_finished(
                s,
                &grant_command_id(&s.id),
                &CommandOutcome::Failed {
                    reason: "Jira refused: the account is inactive".into(),
                },
                t(20),
            )
        })
        .then_types(&["RequestFailed"])
        .then_state(|s| {
            assert_eq!(s.status, Status::Failed);
            assert_eq!(
                s.outcome.as_deref(),
                Some("Jira refused: the account is inactive")
            );
        });
    let mut e = granted();
    let s = given::<Request>(e.clone()).state().clone();
    e.extend(expire(&s, None, deadline()));
    let s = given::<Request>(e.clone()).state().clone();
    e.extend(command_finished(
        &s,
        &CommandId::from("r1-expire"),
        &CommandOutcome::Failed {
            reason: "Jira refused: 403".into(),
        },
        deadline(),
    ));
    assert_eq!(
        given::<Request>(e.clone()).state().status,
        Status::RevokeFailed
    );
    // A person runs a new remove command.
    given::<Request>(e)
        .when_try(|s| revoke(s, &acct("bob"), true, Some("retry".into()), t(9000)))
        .unwrap()
        .then_state(|s| {
            assert_eq!(s.status, Status::Revoking);
            assert_eq!(s.removal_command, Some(CommandId::from("r1-revoke-2")));
            let c = removal_command(s).unwrap();
            assert_eq!(
                c.purpose,
                CommandPurpose::RevokeRequest {
                    request: RequestId::from("r1")
                }
            );
        });
}

#[test]
fn a_failed_removal_is_retried_after_a_growing_wait_keeping_its_purpose() {
    let mut e = granted();
    let s = given::<Request>(e.clone()).state().clone();
    e.extend(expire(&s, None, deadline()));
    let s = given::<Request>(e.clone()).state().clone();
    let failed_at = after(deadline(), 5);
    e.extend(command_finished(
        &s,
        &CommandId::from("r1-expire"),
        &CommandOutcome::Failed {
            reason: "gave up after 3 attempts".into(),
        },
        failed_at,
    ));
    let s = given::<Request>(e.clone()).state().clone();
    assert_eq!(s.status, Status::RevokeFailed);
    let first = removal_retry_due(&s).unwrap();
    assert_eq!(first, after(failed_at, REMOVAL_RETRY_FIRST_SECS));
    // Not before the wait is over.
    assert_eq!(retry_removal(&s, after(failed_at, 59)), None);
    let retried = retry_removal(&s, first).unwrap();
    e.extend(retried);
    let s = given::<Request>(e.clone()).state().clone();
    assert_eq!(s.status, Status::Revoking);
    assert_eq!(s.removal_command, Some(CommandId::from("r1-expire-2")));
    assert_eq!(
        removal_command(&s).unwrap().purpose,
        CommandPurpose::ExpireRequest {
            request: RequestId::from("r1")
        }
    );
    // The second failure waits twice as long, and so on up to the cap.
    let s = given::<Request>(e.clone()).state().clone();
    let second_failed_at = after(first, 5);
    e.extend(command_finished(
        &s,
        &CommandId::from("r1-expire-2"),
        &CommandOutcome::Failed {
            reason: "gave up after 3 attempts".into(),
        },
        second_failed_at,
    ));
    let s = given::<Request>(e.clone()).state().clone();
    assert_eq!(
        removal_retry_due(&s),
        Some(after(second_failed_at, 2 * REMOVAL_RETRY_FIRST_SECS))
    );
    let mut many = s.clone();
    many.removal_attempts = 40;
    assert_eq!(
        removal_retry_due(&many),
        Some(after(second_failed_at, REMOVAL_RETRY_MAX_SECS))
    );
    // A request that owns nothing, or is not revoke-failed, is never retried.
    let mut owns_nothing = s.clone();
    owns_nothing.owns_access = false;
    assert_eq!(removal_retry_due(&owns_nothing), None);
    let granted_state = given::<Request>(granted()).state().clone();
    assert_eq!(
        retry_removal(&granted_state, after(deadline(), 99_999)),
        None
    );
}

#[test]
fn extensions_by_an_approver_within_the_policy_maximum() {
    let until = after(t(20), 6 * HOUR);
    given::<Request>(granted())
        .when_try(|s| extend(s, &acct("bob"), true, until, t(100)))
        .unwrap()
        .then_types(&["AccessExtended"])
        .then_state(|s| assert_eq!(s.expires_at, Some(until)));
    // Over the 8h maximum, counted from the grant.
    let err = given::<Request>(granted())
        .when_try(|s| extend(s, &acct("bob"), true, after(t(20), 8 * HOUR + 1), t(100)))
        .unwrap_err();
    assert!(
        matches!(err, RequestError::DurationOverMax { max_secs, .. } if max_secs == 8 * HOUR),
        "{err}"
    );
    let err = given::<Request>(granted())
        .when_try(|s| extend(s, &acct("alice"), true, until, t(100)))
        .unwrap_err();
    assert!(matches!(err, RequestError::SelfApproval), "{err}");
    let err = given::<Request>(granted())
        .when_try(|s| extend(s, &acct("mallory"), false, until, t(100)))
        .unwrap_err();
    assert!(
        matches!(err, RequestError::ApproverNotAllowed { .. }),
        "{err}"
    );
    let err = given::<Request>(granted())
        .when_try(|s| extend(s, &acct("bob"), true, t(30), t(100)))
        .unwrap_err();
    assert!(matches!(err, RequestError::ExtensionNotLater), "{err}");
    let err = given::<Request>(requested(1))
        .when_try(|s| extend(s, &acct("bob"), true, until, t(100)))
        .unwrap_err();
    assert!(
        matches!(err, RequestError::NotAllowedInState { .. }),
        "{err}"
    );
}

#[test]
fn early_revocation_by_the_requester_or_an_approver_and_no_one_else() {
    for who in ["alice", "bob"] {
        given::<Request>(granted())
            .when_try(|s| revoke(s, &acct(who), who == "bob", None, t(100)))
            .unwrap()
            .then_types(&["RevocationRequested"])
            .then_state(|s| {
                assert_eq!(s.status, Status::Revoking);
                assert_eq!(s.removal_command, Some(CommandId::from("r1-revoke")));
            })
            // Expiry does nothing once revoking.
            .then_converges(|s| expire(s, None, after(deadline(), 10)));
    }
    let err = given::<Request>(granted())
        .when_try(|s| revoke(s, &acct("mallory"), false, None, t(100)))
        .unwrap_err();
    assert!(matches!(err, RequestError::NotAllowedToRevoke), "{err}");
    let err = given::<Request>(requested(1))
        .when_try(|s| revoke(s, &acct("alice"), false, None, t(100)))
        .unwrap_err();
    assert!(
        matches!(err, RequestError::NotAllowedInState { .. }),
        "{err}"
    );
}

#[test]
fn break_glass_is_immediate_self_granted_short_and_flagged() {
    let mut bg = new_request("r9", HOUR);
    bg.break_glass = true;
    given::<Request>(Vec::new())
        .when_try(|s| create(s, bg.clone(), &rules(2), true, t(0)))
        .unwrap()
        .then_types(&["AccessRequested"])
        .then_state(|s| {
            assert!(s.break_glass);
            assert_eq!(s.status, Status::Approved);
            assert!(s.approvals.is_empty());
            assert_eq!(s.max_duration_secs, HOUR);
            assert!(matches!(
                grant_step(s, false, false, t(1)),
                GrantStep::Issue(_)
            ));
        });
    let mut long = bg.clone();
    long.duration_secs = HOUR + 60;
    let err = create(&Request::default(), long, &rules(2), true, t(0)).unwrap_err();
    assert!(
        matches!(err, RequestError::DurationOverMax { break_glass: true, max_secs, .. } if max_secs == HOUR),
        "{err}"
    );
    let mut for_other = bg.clone();
    for_other.requester = acct("dave");
    let err = create(&Request::default(), for_other, &rules(2), true, t(0)).unwrap_err();
    assert!(matches!(err, RequestError::BreakGlassForOthers), "{err}");
    let mut no_bg = rules(2);
    no_bg.break_glass_max_secs = None;
    let err = create(&Request::default(), bg, &no_bg, true, t(0)).unwrap_err();
    assert!(
        matches!(err, RequestError::BreakGlassNotAllowed { .. }),
        "{err}"
    );
}

#[test]
fn creation_checks_the_policy_and_the_beneficiary() {
    let mut r = rules(1);
    r.requestable = false;
    let err = create(&Request::default(), new_request("r1", HOUR), &r, true, t(0)).unwrap_err();
    assert!(matches!(err, RequestError::NotRequestable { .. }), "{err}");
    let err = create(
        &Request::default(),
        new_request("r1", HOUR),
        &rules(1),
        false,
        t(0),
    )
    .unwrap_err();
    assert!(matches!(err, RequestError::InactiveBeneficiary), "{err}");
    let err = create(
        &Request::default(),
        new_request("r1", 9 * HOUR),
        &rules(1),
        true,
        t(0),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            RequestError::DurationOverMax {
                break_glass: false,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("9h") && err.to_string().contains("8h"),
        "{err}"
    );
    let mut r = rules(1);
    r.require_justification = true;
    r.require_ticket = true;
    let mut n = new_request("r1", HOUR);
    n.justification = Some("  ".into());
    let err = create(&Request::default(), n.clone(), &r, true, t(0)).unwrap_err();
    assert!(
        matches!(err, RequestError::JustificationRequired { .. }),
        "{err}"
    );
    n.justification = Some("incident".into());
    let err = create(&Request::default(), n.clone(), &r, true, t(0)).unwrap_err();
    assert!(matches!(err, RequestError::TicketRequired { .. }), "{err}");
    n.ticket = Some("OPS-1".into());
    given::<Request>(Vec::new())
        .when_try(|s| create(s, n, &r, true, t(0)))
        .unwrap()
        .then_types(&["AccessRequested"]);
    let err = given::<Request>(requested(1))
        .when_try(|s| create(s, new_request("r1", HOUR), &rules(1), true, t(0)))
        .unwrap_err();
    assert!(matches!(err, RequestError::AlreadyExists(_)), "{err}");
}

#[test]
fn pre_existing_access_is_recorded_and_never_revoked() {
    // Found in the site's state before any command: nothing is issued.
    let then = given::<Request>(approved())
        .when(|s| match grant_step(s, true, false, t(20)) {
            GrantStep::Record(events) => events,
            other => panic!("expected a record, got {other:?}"),
        })
        .then_types(&["AccessAlreadyHeld"])
        .then_state(|s| {
            assert_eq!(s.status, Status::AlreadyHeld);
            assert_eq!(s.pre_existing, Some(PreExisting::InState));
            assert!(!s.owns_access);
        });
    let mut held = approved();
    held.extend(then.events().to_vec());
    given::<Request>(held.clone())
        .when(|s| expire(s, None, deadline()))
        .then_events(&[AccessExpired {
            request: RequestId::from("r1"),
            deadline: deadline(),
            action: ExpiryAction::NothingToRevoke {
                why: PreExisting::InState,
            },
            at: deadline(),
        }
        .into()])
        .then_state(|s| {
            assert_eq!(s.status, Status::Expired);
            assert!(removal_command(s).is_none());
        });
    // Early revocation of pre-existing access revokes nothing either.
    given::<Request>(held)
        .when_try(|s| revoke(s, &acct("alice"), false, None, t(30)))
        .unwrap()
        .then_state(|s| {
            assert_eq!(s.status, Status::Revoked);
            assert!(removal_command(s).is_none());
        });
    // Jira answered "already in place": the same, with why.
    given::<Request>(approved())
        .when(|s| {
            command_finished(
                s,
                &grant_command_id(&s.id),
                &CommandOutcome::Succeeded {
                    jira: JiraOutcome::AlreadyInPlace,
                },
                t(20),
            )
        })
        .then_types(&["AccessAlreadyHeld"])
        .then_state(|s| {
            assert_eq!(s.pre_existing, Some(PreExisting::InJira));
            assert_eq!(
                expire(s, None, deadline()),
                vec![AccessExpired {
                    request: RequestId::from("r1"),
                    deadline: deadline(),
                    action: ExpiryAction::NothingToRevoke {
                        why: PreExisting::InJira
                    },
                    at: deadline(),
                }
                .into()]
            );
        });
}

#[test]
fn expiry_hands_access_another_running_request_holds_to_it() {
    // r2 asked for the same access while r1 held it: it found it held.
    let mut r2 = create(
        &Request::default(),
        new_request("r2", 4 * HOUR),
        &rules(1),
        true,
        t(30),
    )
    .unwrap();
    let s = given::<Request>(r2.clone()).state().clone();
    r2.extend(approve(&s, &acct("bob"), true, None, t(31)).unwrap());
    let s = given::<Request>(r2.clone()).state().clone();
    let GrantStep::Record(held) = grant_step(&s, true, false, t(32)) else {
        panic!("r2 should find the access held");
    };
    r2.extend(held);
    // r1 expires: it hands the removal over to r2 instead of removing.
    given::<Request>(granted())
        .when(|s| expire(s, Some(&RequestId::from("r2")), deadline()))
        .then_state(|s| {
            assert_eq!(s.status, Status::Expired);
            assert!(!s.owns_access);
            assert!(removal_command(s).is_none());
        });
    let then = given::<Request>(r2.clone())
        .when(|s| take_over(s, &RequestId::from("r1"), deadline()))
        .then_types(&["AccessTakenOver"])
        .then_state(|s| {
            assert!(s.owns_access);
            assert_eq!(s.status, Status::Granted);
        })
        .then_converges(|s| take_over(s, &RequestId::from("r1"), deadline()));
    r2.extend(then.events().to_vec());
    let end = after(t(32), 4 * HOUR);
    given::<Request>(r2)
        .when(|s| expire(s, None, end))
        .then_events(&[AccessExpired {
            request: RequestId::from("r2"),
            deadline: end,
            action: ExpiryAction::Revoke {
                command: CommandId::from("r2-expire"),
            },
            at: end,
        }
        .into()]);
}

#[test]
fn events_of_other_streams_do_not_move_a_request() {
    let mut s = given::<Request>(requested(1)).state().clone();
    let before = s.clone();
    s.apply(
        &GrantAdded {
            grant: grant(),
            cause: GrantCause::ObservedInSync {
                run: SyncRunId::from("x"),
            },
        }
        .into(),
    );
    assert_eq!(s, before);
}

#[test]
fn removal_command_ids_name_the_purpose_and_the_attempt() {
    let r = RequestId::from("r7");
    assert_eq!(
        removal_command_id(&r, RemovalPurpose::Expiry, 1).as_str(),
        "r7-expire"
    );
    assert_eq!(
        removal_command_id(&r, RemovalPurpose::Revoke, 1).as_str(),
        "r7-revoke"
    );
    assert_eq!(
        removal_command_id(&r, RemovalPurpose::Revoke, 3).as_str(),
        "r7-revoke-3"
    );
    // The purpose is the state's, not read back from the id: a request whose id
    // contains "-revoke" still expires as an expiry.
    let mut odd = Request::default();
    let id = RequestId::from("x-revoke");
    odd.apply(
        &AccessExpired {
            request: id.clone(),
            deadline: Timestamp::from_micros(1),
            action: ExpiryAction::Revoke {
                command: removal_command_id(&id, RemovalPurpose::Expiry, 1),
            },
            at: Timestamp::from_micros(1),
        }
        .into(),
    );
    odd.grant = Some(Grant::membership(AccountId::from("a"), GroupId::from("g")));
    assert_eq!(odd.removal_purpose, Some(RemovalPurpose::Expiry));
    let command = removal_command(&odd).expect("a removal under way");
    assert!(matches!(
        command.purpose,
        CommandPurpose::ExpireRequest { .. }
    ));
}
