//! The whole lifecycle against the simulator over loopback HTTP, through the
//! outbox: the simulator's group gains the member when the request is granted
//! and loses it at the deadline; the log tells the story and the group's history
//! names the request as the cause; access that pre-existed is left in place.

use std::sync::Arc;
use std::time::Duration;

use grantledger_clock::{Clock, ManualClock};
use grantledger_ingest::SyncOptions;
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jira_sim::{Credential, Org};
use grantledger_jit::{run_once, run_once_spread, CreateArgs, Jit, Policies, Status};
use grantledger_model::*;
use grantledger_outbox::{DrivePolicy, Executor};
use grantledger_projection::{HistoryIndex, Queries, Subject};
use grantledger_testkit::{fast_retry, Harness, Preset, SITE};

const ADD_MEMBER: &str = "POST /rest/api/3/group/user";
const REMOVE_MEMBER: &str = "DELETE /rest/api/3/group/user";

fn member_in_sim(org: &Org, group: &str, account: &str) -> bool {
    org.memberships
        .get(group)
        .is_some_and(|m| m.contains(account))
}

struct Setup {
    h: Harness,
    clock: Arc<ManualClock>,
    exec: Arc<Executor>,
    jit: Jit,
    group: String,
    group_name: String,
    outsider: String,
    member: String,
    approver: String,
}

async fn setup() -> Setup {
    setup_on(Preset::Small).await
}

async fn setup_on(preset: Preset) -> Setup {
    let h = Harness::start(preset, 11).await;
    let clock = Arc::new(ManualClock::auto_advancing(Timestamp(
        1_764_288_000_000_000,
    )));
    grantledger_ingest::sync(
        &h.log,
        &h.client,
        SyncOptions {
            clock: clock.clone(),
            ..SyncOptions::new(SITE)
        },
    )
    .await
    .expect("the first sync");
    let org = h.sim.org();
    let admin = Credential::admin_of(&org).account_id;
    // A group with a non-admin member and an active non-admin outside it.
    let (group, member, outsider) = org
        .groups
        .iter()
        .filter(|g| {
            !["site-admins", "jira-administrators", "org-admins"].contains(&g.name.as_str())
        })
        .find_map(|g| {
            let members = org.memberships.get(&g.group_id)?;
            let member = members
                .iter()
                .find(|a| **a != admin && !org.is_admin(a))?
                .clone();
            let out = org.outsider(&g.group_id, &[admin.as_str(), member.as_str()])?;
            (!org.is_admin(&out.account_id))
                .then(|| (g.group_id.clone(), member, out.account_id.clone()))
        })
        .expect("a group with a member and an outsider");
    let group_name = org.group_name(&group).unwrap().to_owned();
    let approver = org
        .active_humans()
        .find(|u| {
            ![admin.as_str(), member.as_str(), outsider.as_str()].contains(&u.account_id.as_str())
        })
        .expect("an approver")
        .account_id
        .clone();
    let policies = Policies::parse(&format!(
        "[jit]\n[[jit.policy]]\nname = \"team\"\ngroups = [\"{group_name}\"]\napprovers = [\"{approver}\"]\nmax_duration = \"8h\"\n"
    ))
    .expect("the policies");
    let mut config = JiraConfig::for_base_url(
        &h.sim.base_url(),
        Credential::DEFAULT_EMAIL,
        ApiToken::new(Credential::DEFAULT_TOKEN),
    )
    .unwrap();
    config.retry = fast_retry();
    config.timeout = Duration::from_secs(5);
    let client = JiraClient::with_clock(config, clock.clone()).unwrap();
    let exec = Arc::new(
        Executor::new(
            h.log.clone(),
            clock.clone(),
            DrivePolicy {
                max_attempts: 3,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(4),
                max_retry_after: Duration::from_secs(10),
            },
        )
        .with_site(SITE, client),
    );
    let jit = Jit::new(h.log.clone(), SITE, policies, clock.clone());
    Setup {
        h,
        clock,
        exec,
        jit,
        group,
        group_name,
        outsider,
        member,
        approver,
    }
}

fn ask(s: &Setup, who: &str) -> CreateArgs {
    CreateArgs {
        actor: who.into(),
        entitlement: s.group_name.clone(),
        duration_secs: 2 * 3600,
        justification: Some("incident".into()),
        ..CreateArgs::default()
    }
}

/// The additions and removals Jira carried out (not the requests sent: a
/// write Jira refuses changes nothing).
fn adds_and_removes(s: &Setup) -> (u64, u64) {
    let stats = s.h.sim.stats();
    (
        stats.changes.get(ADD_MEMBER).copied().unwrap_or(0),
        stats.changes.get(REMOVE_MEMBER).copied().unwrap_or(0),
    )
}

#[tokio::test]
async fn the_simulator_gains_and_loses_the_member_at_the_right_moments() {
    let s = setup().await;
    assert!(!member_in_sim(&s.h.sim.org(), &s.group, &s.outsider));
    let r = s.jit.create(ask(&s, &s.outsider)).unwrap();
    // Not approved yet: a pass changes nothing in Jira.
    run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert!(!member_in_sim(&s.h.sim.org(), &s.group, &s.outsider));
    assert_eq!(adds_and_removes(&s), (0, 0));
    s.jit.approve(r.id.as_str(), &s.approver, None).unwrap();
    let report = run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert_eq!(report.granted, vec![r.id.clone()]);
    assert!(
        member_in_sim(&s.h.sim.org(), &s.group, &s.outsider),
        "granted in Jira"
    );
    assert_eq!(adds_and_removes(&s), (1, 0));
    let granted = s.jit.load(r.id.as_str()).unwrap();
    assert_eq!(granted.status, Status::Granted);
    let deadline = granted.expires_at.unwrap();
    // The site's state shows it at once, with the request as the cause.
    let grant = Grant::membership(
        AccountId::from(s.outsider.as_str()),
        GroupId::from(s.group.as_str()),
    );
    assert!(s.jit.site_state().unwrap().has_grant(&grant));
    // Passes before the deadline leave it.
    s.clock
        .set(Timestamp::from_micros(deadline.as_micros() - 1_000_000));
    let report = run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert!(report.expired.is_empty());
    assert!(member_in_sim(&s.h.sim.org(), &s.group, &s.outsider));
    // At the deadline: expired and revoked in the same pass.
    s.clock.set(deadline);
    let report = run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert_eq!(report.expired, vec![r.id.clone()]);
    assert_eq!(report.revoked, vec![r.id.clone()]);
    assert!(report.expiry_lag_micros.iter().all(|l| *l < 1_000_000));
    assert!(
        !member_in_sim(&s.h.sim.org(), &s.group, &s.outsider),
        "removed from Jira"
    );
    assert_eq!(
        adds_and_removes(&s),
        (1, 1),
        "one add and one remove in all"
    );
    let done = s.jit.load(r.id.as_str()).unwrap();
    assert_eq!(done.status, Status::Revoked);
    // The request's story.
    let types: Vec<&str> =
        s.h.log
            .read_stream(&StreamId::request(&r.id), 1)
            .unwrap()
            .iter()
            .map(|r| r.event.event_type())
            .collect();
    assert_eq!(
        types,
        [
            "AccessRequested",
            "ApprovalGiven",
            "RequestApproved",
            "AccessGranted",
            "AccessExpired",
            "AccessRevoked"
        ]
    );
    // The group's history names the request as the cause of both changes.
    let queries = Queries::new(s.h.log.clone(), SITE);
    let index: HistoryIndex = queries.index().unwrap();
    let (records, _) = queries
        .history(
            &index,
            &Subject::Grant(grant.clone()),
            s.h.log.head().position,
            None,
        )
        .unwrap();
    let causes: Vec<GrantCause> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::GrantAdded(e) => Some(e.cause.clone()),
            Event::GrantRemoved(e) => Some(e.cause.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        causes,
        [
            GrantCause::RemovedAtExpiry {
                request: r.id.clone(),
                command: CommandId::from(format!("{}-expire", r.id)),
            },
            GrantCause::AppliedByRequest {
                request: r.id.clone(),
                command: CommandId::from(format!("{}-grant", r.id)),
            },
        ]
    );
    // More passes change nothing more.
    s.clock
        .set(Timestamp::from_micros(deadline.as_micros() + 3_600_000_000));
    run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert_eq!(adds_and_removes(&s), (1, 1));
    let _ = s.clock.now();
}

#[tokio::test]
async fn pre_existing_access_is_untouched_by_expiry_and_early_revocation_removes_only_what_was_added(
) {
    let s = setup().await;
    // The member already holds the group: nothing is granted, nothing revoked.
    let held = s.jit.create(ask(&s, &s.member)).unwrap();
    s.jit.approve(held.id.as_str(), &s.approver, None).unwrap();
    // The outsider's request, revoked early by the approver.
    let early = s.jit.create(ask(&s, &s.outsider)).unwrap();
    s.jit.approve(early.id.as_str(), &s.approver, None).unwrap();
    run_once_spread(&s.jit, &s.exec).await.unwrap();
    let h = s.jit.load(held.id.as_str()).unwrap();
    assert_eq!(h.status, Status::AlreadyHeld);
    assert_eq!(h.pre_existing, Some(PreExisting::InState));
    assert!(member_in_sim(&s.h.sim.org(), &s.group, &s.outsider));
    assert_eq!(adds_and_removes(&s), (1, 0), "only the outsider was added");
    s.jit
        .revoke(early.id.as_str(), &s.approver, Some("done".into()))
        .unwrap();
    let r = grantledger_jit::drive(&s.jit, s.exec.as_ref(), early.id.as_str())
        .await
        .unwrap();
    assert_eq!(r.status, Status::Revoked);
    assert!(!member_in_sim(&s.h.sim.org(), &s.group, &s.outsider));
    // The held request's deadline passes: the member stays.
    s.clock.set(h.expires_at.unwrap());
    let report = run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert_eq!(report.expired, vec![held.id.clone()]);
    assert!(report.revoked.is_empty());
    assert_eq!(
        s.jit.load(held.id.as_str()).unwrap().status,
        Status::Expired
    );
    assert!(
        member_in_sim(&s.h.sim.org(), &s.group, &s.member),
        "pre-existing access untouched"
    );
    assert_eq!(adds_and_removes(&s), (1, 1));
}

#[tokio::test]
async fn a_grant_jira_refuses_ends_the_request_failed_with_the_reason() {
    let s = setup().await;
    let r = s.jit.create(ask(&s, &s.outsider)).unwrap();
    s.jit.approve(r.id.as_str(), &s.approver, None).unwrap();
    // The group is deleted in Jira before the grant is made.
    let gone = s.group.clone();
    s.h.sim
        .mutate(move |org| org.groups.retain(|g| g.group_id != gone));
    let report = run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert_eq!(report.failed, vec![r.id.clone()]);
    let failed = s.jit.load(r.id.as_str()).unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert!(failed.outcome.as_deref().is_some_and(|o| !o.is_empty()));
    assert_eq!(adds_and_removes(&s).0, 0, "no add went through");
    // Nothing more happens to it.
    let report = run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert!(report.failed.is_empty() && report.granted.is_empty());
}

#[tokio::test]
async fn a_second_request_for_the_same_access_takes_over_its_removal() {
    let s = setup().await;
    let first = s.jit.create(ask(&s, &s.outsider)).unwrap();
    s.jit.approve(first.id.as_str(), &s.approver, None).unwrap();
    run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert_eq!(
        s.jit.load(first.id.as_str()).unwrap().status,
        Status::Granted
    );
    // An hour later the same person asks again, for four hours.
    let start = s.clock.now();
    s.clock
        .set(Timestamp::from_micros(start.as_micros() + 3_600_000_000));
    let mut again = ask(&s, &s.outsider);
    again.duration_secs = 4 * 3600;
    let second = s.jit.create(again).unwrap();
    s.jit
        .approve(second.id.as_str(), &s.approver, None)
        .unwrap();
    run_once_spread(&s.jit, &s.exec).await.unwrap();
    let held = s.jit.load(second.id.as_str()).unwrap();
    assert_eq!(
        held.status,
        Status::AlreadyHeld,
        "the first request added it"
    );
    // The first one's deadline: the member stays, the second owns the removal.
    s.clock
        .set(s.jit.load(first.id.as_str()).unwrap().expires_at.unwrap());
    let report = run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert_eq!(report.expired, vec![first.id.clone()]);
    assert!(member_in_sim(&s.h.sim.org(), &s.group, &s.outsider));
    let handed = s.jit.load(second.id.as_str()).unwrap();
    assert!(handed.owns_access);
    assert_eq!(handed.taken_over_from, vec![first.id.clone()]);
    // The second one's deadline: removed, once.
    s.clock.set(held.expires_at.unwrap());
    let report = run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert_eq!(report.revoked, vec![second.id.clone()]);
    assert!(!member_in_sim(&s.h.sim.org(), &s.group, &s.outsider));
    assert_eq!(adds_and_removes(&s), (1, 1));
}

#[tokio::test]
async fn a_command_issued_before_a_crash_is_driven_once_after_the_restart() {
    let s = setup().await;
    let r = s.jit.create(ask(&s, &s.outsider)).unwrap();
    let approved = s.jit.approve(r.id.as_str(), &s.approver, None).unwrap();
    // The scheduler issued the grant command and stopped before driving it.
    let grantledger_jit::request::GrantStep::Issue(command) =
        grantledger_jit::request::grant_step(&approved, false, false, s.clock.now())
    else {
        panic!("a grant command");
    };
    s.exec
        .issue(grantledger_outbox::CommandSpec {
            id: Some(command.command.clone()),
            site: command.site.clone(),
            action: command.action,
            grant: command.grant.clone(),
            purpose: command.purpose.clone(),
        })
        .unwrap();
    assert_eq!(adds_and_removes(&s), (0, 0));
    // A new process: a new executor and service on the same log.
    let exec = Executor::new(s.h.log.clone(), s.clock.clone(), DrivePolicy::default())
        .with_site(SITE, s.h.client.clone());
    let jit = Jit::new(
        s.h.log.clone(),
        SITE,
        Policies::parse(&format!(
            "[jit]\n[[jit.policy]]\nname = \"team\"\ngroups = [\"{}\"]\napprovers = [\"{}\"]\nmax_duration = \"8h\"\n",
            s.group_name, s.approver
        ))
        .unwrap(),
        s.clock.clone(),
    );
    let report = run_once(&jit, &exec).await.unwrap();
    assert_eq!(report.driven_unfinished, 1);
    assert_eq!(report.granted, vec![r.id.clone()]);
    assert_eq!(jit.load(r.id.as_str()).unwrap().status, Status::Granted);
    assert!(member_in_sim(&s.h.sim.org(), &s.group, &s.outsider));
    assert_eq!(adds_and_removes(&s), (1, 0), "exactly one add");
    let command_events =
        s.h.log
            .read_stream(&StreamId::command(&command.command), 1)
            .unwrap();
    assert_eq!(
        command_events
            .iter()
            .filter(|r| r.event.event_type() == "CommandIssued")
            .count(),
        1
    );
}

#[tokio::test]
async fn many_requests_expiring_at_the_same_moment_are_all_revoked_in_one_pass() {
    let s = setup_on(Preset::Small).await;
    let org = s.h.sim.org();
    let admin = Credential::admin_of(&org).account_id;
    let beneficiaries: Vec<String> = org
        .active_humans()
        .filter(|u| !org.is_admin(&u.account_id) && u.account_id != admin)
        .filter(|u| u.account_id != s.approver)
        .filter(|u| !member_in_sim(&org, &s.group, &u.account_id))
        .map(|u| u.account_id.clone())
        .take(100)
        .collect();
    assert!(beneficiaries.len() >= 5, "the org has too few users");
    for b in &beneficiaries {
        let r = s.jit.create(ask(&s, b)).unwrap();
        s.jit.approve(r.id.as_str(), &s.approver, None).unwrap();
    }
    let n = beneficiaries.len();
    let report = run_once_spread(&s.jit, &s.exec).await.unwrap();
    assert_eq!(report.granted.len(), n);
    let deadline = report.next_deadline.unwrap();
    s.clock.set(deadline);
    let wall = std::time::Instant::now();
    let report = run_once_spread(&s.jit, &s.exec).await.unwrap();
    let elapsed = wall.elapsed();
    assert_eq!(report.revoked.len(), n);
    assert!(report.expiry_lag_micros.iter().all(|l| *l == 0));
    assert_eq!(adds_and_removes(&s), (n as u64, n as u64));
    let org = s.h.sim.org();
    assert!(beneficiaries
        .iter()
        .all(|b| !member_in_sim(&org, &s.group, b)));
    // A figure for the report (shown with --nocapture).
    println!(
        "{n} expiries decided at their deadline and revoked in one pass in {} ms of wall time",
        elapsed.as_millis()
    );
}
