//! The request service against a real log: names and approver rights resolve
//! from the site's state, decisions append to `request:<id>`, and the errors a
//! person meets say what is wrong.

use grantledger_jit::{CreateArgs, ListFilter, RequestError, Status};
use grantledger_model::*;

use crate::common::{world, HOUR};

fn ask(actor: &str, entitlement: &str, secs: u64) -> CreateArgs {
    CreateArgs {
        actor: actor.into(),
        entitlement: entitlement.into(),
        duration_secs: secs,
        ..CreateArgs::default()
    }
}

#[test]
fn a_request_is_created_approved_by_a_listed_approver_and_kept_in_its_stream() {
    let w = world();
    let r = w
        .jit
        .create(ask("alice@example.com", "devs", 2 * HOUR))
        .unwrap();
    assert_eq!(r.id, RequestId::from("r1"));
    assert_eq!(r.status, Status::Pending);
    assert_eq!(r.policy, "developers");
    assert_eq!(
        r.grant,
        Some(Grant::membership(
            AccountId::from("alice"),
            GroupId::from("g-devs")
        ))
    );
    // The approver listed by email.
    let r = w.jit.approve("r1", "bob", Some("ok".into())).unwrap();
    assert_eq!(r.status, Status::Approved);
    let stream = w
        .log
        .read_stream(&StreamId::request(&RequestId::from("r1")), 1)
        .unwrap();
    let types: Vec<&str> = stream.iter().map(|r| r.event.event_type()).collect();
    assert_eq!(
        types,
        ["AccessRequested", "ApprovalGiven", "RequestApproved"]
    );
    assert!(stream
        .iter()
        .all(|r| r.causation == Some(Causation::Request(RequestId::from("r1")))));
    // Reloaded from the log, the same state.
    assert_eq!(w.jit.load("r1").unwrap(), r);
    // The next request gets the next id.
    let r2 = w.jit.create(ask("carol", "devs", HOUR)).unwrap();
    assert_eq!(r2.id, RequestId::from("r2"));
}

#[test]
fn an_approver_group_member_approves_and_an_outsider_does_not() {
    let w = world();
    w.jit.create(ask("alice", "devs", HOUR)).unwrap();
    let err = w.jit.approve("r1", "carol", None).unwrap_err();
    assert!(
        matches!(err, RequestError::ApproverNotAllowed { .. }),
        "{err}"
    );
    // dave is in team-leads.
    let r = w.jit.approve("r1", "Dave", None).unwrap();
    assert_eq!(r.status, Status::Approved);
}

#[test]
fn the_errors_a_person_meets() {
    let w = world();
    let err = w
        .jit
        .create(ask("alice", "no-such-group", HOUR))
        .unwrap_err();
    assert!(matches!(err, RequestError::UnknownEntitlement(_)), "{err}");
    let err = w.jit.create(ask("alice", "finance", HOUR)).unwrap_err();
    assert!(
        matches!(err, RequestError::NotRequestable { policy: Some(_) }),
        "{err}"
    );
    let err = w.jit.create(ask("alice", "team-leads", HOUR)).unwrap_err();
    assert!(
        matches!(err, RequestError::NotRequestable { policy: None }),
        "{err}"
    );
    let err = w.jit.create(ask("alice", "devs", 9 * HOUR)).unwrap_err();
    assert!(matches!(err, RequestError::DurationOverMax { .. }), "{err}");
    let mut for_erin = ask("alice", "devs", HOUR);
    for_erin.beneficiary = Some("erin".into());
    let err = w.jit.create(for_erin).unwrap_err();
    assert!(matches!(err, RequestError::InactiveBeneficiary), "{err}");
    let err = w
        .jit
        .create(ask("alice", "OPS:Developers", HOUR))
        .unwrap_err();
    assert!(matches!(err, RequestError::TicketRequired { .. }), "{err}");
    let err = w.jit.create(ask("alice", "OPS", HOUR)).unwrap_err();
    assert!(matches!(err, RequestError::NotAnEntitlement(_)), "{err}");
    let err = w
        .jit
        .create(ask("nobody-at-all", "devs", HOUR))
        .unwrap_err();
    assert!(matches!(err, RequestError::Query(_)), "{err}");
    // Self-approval: bob asks, bob is an approver of the policy.
    w.jit.create(ask("bob", "devs", HOUR)).unwrap();
    let err = w.jit.approve("r1", "bob", None).unwrap_err();
    assert!(matches!(err, RequestError::SelfApproval), "{err}");
    w.jit.cancel("r1", "bob").unwrap();
    let err = w.jit.approve("r1", "dave", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "request r1 is cancelled: it cannot approve now"
    );
    let err = w.jit.approve("r77", "dave", None).unwrap_err();
    assert!(matches!(err, RequestError::NoSuchRequest(_)), "{err}");
}

#[test]
fn a_privileged_group_needs_two_distinct_approvals() {
    let w = world();
    let r = w.jit.create(ask("alice", "site-admins", HOUR)).unwrap();
    assert_eq!(r.approvals_needed, 2);
    let r = w.jit.approve("r1", "bob", None).unwrap();
    assert_eq!(r.status, Status::Pending);
    let r = w.jit.approve("r1", "carol", None).unwrap();
    assert_eq!(r.status, Status::Approved);
}

#[test]
fn break_glass_requests_are_approved_at_once_and_listed_apart() {
    let w = world();
    let mut bg = ask("alice", "devs", HOUR);
    bg.break_glass = true;
    let r = w.jit.create(bg).unwrap();
    assert_eq!(r.status, Status::Approved);
    w.jit.create(ask("carol", "devs", HOUR)).unwrap();
    let all = w.jit.list(&ListFilter::default()).unwrap();
    assert_eq!(all.len(), 2);
    let flagged = w
        .jit
        .list(&ListFilter {
            break_glass: true,
            ..ListFilter::default()
        })
        .unwrap();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].id, RequestId::from("r1"));
    let carols = w
        .jit
        .list(&ListFilter {
            involving: Some(AccountId::from("carol")),
            status: Some(Status::Pending),
            ..ListFilter::default()
        })
        .unwrap();
    assert_eq!(carols.len(), 1);
    assert_eq!(carols[0].id, RequestId::from("r2"));
}
