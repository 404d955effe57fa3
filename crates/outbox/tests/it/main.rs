//! The executor against the simulator over loopback HTTP: every kind of change,
//! idempotent re-drives, refusals, transient failures, and SIGKILL at every step.

mod crash;

use std::sync::Arc;
use std::time::Duration;

use grantledger_clock::ManualClock;
use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent};
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};
use grantledger_model::*;
use grantledger_outbox::{CommandSpec, DrivePolicy, Executor, OutboxError, Outcome};
use grantledger_testkit::{fast_retry, Harness, SITE};

pub(crate) const ADD_MEMBER: &str = "POST /rest/api/3/group/user";
pub(crate) const REMOVE_MEMBER: &str = "DELETE /rest/api/3/group/user";

/// A client for the simulator whose waits go through `clock`.
fn client(sim: &SimServer, email: &str, token: &str, clock: Arc<ManualClock>) -> JiraClient {
    let mut config = JiraConfig::for_base_url(&sim.base_url(), email, ApiToken::new(token))
        .expect("a loopback URL");
    config.retry = fast_retry();
    config.timeout = Duration::from_secs(5);
    JiraClient::with_clock(config, clock).expect("the client builds")
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::auto_advancing(Timestamp(
        1_764_288_000_000_000,
    )))
}

fn policy() -> DrivePolicy {
    DrivePolicy {
        max_attempts: 4,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(10),
        max_retry_after: Duration::from_secs(60),
    }
}

fn executor(h: &Harness, clock: Arc<ManualClock>) -> Executor {
    let admin = client(
        &h.sim,
        Credential::DEFAULT_EMAIL,
        Credential::DEFAULT_TOKEN,
        clock.clone(),
    );
    Executor::new(h.log.clone(), clock, policy()).with_site(SITE, admin)
}

fn operator(
    id: &str,
    action: CommandAction,
    principal: Principal,
    entitlement: Entitlement,
) -> CommandSpec {
    CommandSpec {
        id: Some(CommandId::from(id)),
        site: SITE.into(),
        action,
        grant: Grant {
            principal,
            entitlement,
        },
        purpose: CommandPurpose::Operator {
            operator: "ops@example.test".into(),
        },
    }
}

fn membership(group: &str) -> Entitlement {
    Entitlement::GroupMembership {
        group: GroupId::from(group),
    }
}

fn user(a: &str) -> Principal {
    Principal::User(AccountId::from(a))
}

/// The admin the executor acts as: never a test subject.
fn admin(org: &Org) -> String {
    Credential::admin_of(org).account_id
}

/// A group, an active non-admin user outside it, and one inside it.
fn group_with_outsider_and_member(org: &Org) -> (String, String, String) {
    let admin = admin(org);
    for g in &org.groups {
        let members = org
            .memberships
            .get(&g.group_id)
            .cloned()
            .unwrap_or_default();
        let outsider = org
            .users
            .iter()
            .find(|u| u.active && u.account_id != admin && !members.contains(&u.account_id));
        let member = members
            .iter()
            .find(|m| **m != admin && org.user(m).is_some_and(|u| u.active));
        if let (Some(o), Some(m)) = (outsider, member) {
            return (g.group_id.clone(), o.account_id.clone(), m.clone());
        }
    }
    panic!("the small org has a group with members and outsiders");
}

fn is_member(sim: &SimServer, group: &str, account: &str) -> bool {
    sim.org()
        .memberships
        .get(group)
        .is_some_and(|m| m.contains(account))
}

/// Write requests sent to Jira (refused ones included).
fn writes(sim: &SimServer, op: &str) -> u64 {
    sim.stats().by_operation.get(op).copied().unwrap_or(0)
}

/// Changes Jira carried out.
fn changes(sim: &SimServer, op: &str) -> u64 {
    sim.stats().changes.get(op).copied().unwrap_or(0)
}

fn succeeded(outcome: Outcome) -> CommandSucceeded {
    match outcome {
        Outcome::Succeeded(s) => s,
        Outcome::Failed(f) => panic!("the command failed: {f:?}"),
    }
}

fn failed(outcome: Outcome) -> CommandFailed {
    match outcome {
        Outcome::Failed(f) => f,
        Outcome::Succeeded(s) => panic!("the command succeeded: {s:?}"),
    }
}

/// The site stream's grant events naming `command`.
pub(crate) fn grant_events(log: &EventLog, command: &str) -> Vec<Event> {
    log.read_stream(&StreamId::jira_site(SITE), 1)
        .unwrap()
        .into_iter()
        .filter(|r| r.causation == Some(Causation::Command(CommandId::from(command))))
        .map(|r| r.event)
        .collect()
}

/// The event types of `command:<id>`, in order.
pub(crate) fn command_events(log: &EventLog, command: &str) -> Vec<&'static str> {
    log.read_stream(&StreamId::command(&CommandId::from(command)), 1)
        .unwrap()
        .iter()
        .map(|r| r.event.event_type())
        .collect()
}

/// Records what a sync would have seen: these grants (and users) in the site's
/// stream.
fn observe(log: &EventLog, events: Vec<Event>) {
    let batch = events.into_iter().map(NewEvent::new).collect();
    log.append(&StreamId::jira_site(SITE), ExpectedVersion::Any, batch)
        .unwrap();
}

fn observed_grant(grant: Grant) -> Event {
    GrantAdded {
        grant,
        cause: GrantCause::ObservedInSync {
            run: SyncRunId::from("seen"),
        },
    }
    .into()
}

#[tokio::test]
async fn adds_and_removes_a_group_member_and_records_the_grant_once() {
    let h = Harness::start(Preset::Small, 7).await;
    let (group, outsider, _) = group_with_outsider_and_member(&h.sim.org());
    let ex = executor(&h, clock());

    let add = ex
        .issue(operator(
            "add-1",
            CommandAction::Add,
            user(&outsider),
            membership(&group),
        ))
        .unwrap();
    assert!(ex.status(&add).unwrap().unwrap().is_unfinished());
    assert_eq!(ex.unfinished().unwrap(), vec![add.clone()]);
    assert!(
        !is_member(&h.sim, &group, &outsider),
        "issuing alone calls no one"
    );
    let done = succeeded(ex.drive(&add).await.unwrap());
    assert_eq!(done.jira, JiraOutcome::Changed);
    assert_eq!(done.site, SiteOutcome::Recorded);
    assert_eq!(done.attempts, 1);
    assert!(is_member(&h.sim, &group, &outsider));
    assert_eq!(
        command_events(&h.log, "add-1"),
        ["CommandIssued", "CommandStarted", "CommandSucceeded"]
    );
    let grant = Grant::membership(
        AccountId::from(outsider.as_str()),
        GroupId::from(group.as_str()),
    );
    assert_eq!(
        grant_events(&h.log, "add-1"),
        vec![Event::from(GrantAdded {
            grant: grant.clone(),
            cause: GrantCause::ChangedByOperator {
                operator: "ops@example.test".into(),
                command: add.clone(),
            },
        })]
    );
    assert!(ex.unfinished().unwrap().is_empty());

    let remove = ex
        .issue(operator(
            "remove-1",
            CommandAction::Remove,
            user(&outsider),
            membership(&group),
        ))
        .unwrap();
    let done = succeeded(ex.drive(&remove).await.unwrap());
    assert_eq!(
        (done.jira, done.site),
        (JiraOutcome::Changed, SiteOutcome::Recorded)
    );
    assert!(!is_member(&h.sim, &group, &outsider));
    assert!(matches!(
        &grant_events(&h.log, "remove-1")[..],
        [Event::GrantRemoved(e)] if e.grant == grant
    ));
    let state = grantledger_projection::SiteState::load(&h.log, SITE).unwrap();
    assert!(!state.has_grant(&grant));
    assert_eq!(writes(&h.sim, ADD_MEMBER), 1);
    assert_eq!(writes(&h.sim, REMOVE_MEMBER), 1);
}

#[tokio::test]
async fn adds_and_removes_users_and_groups_as_role_actors() {
    let h = Harness::start(Preset::Small, 11).await;
    let org = h.sim.org();
    let admin = admin(&org);
    let project = org
        .projects
        .iter()
        .find(|p| !p.archived && !p.roles.is_empty())
        .expect("a project with roles");
    let role = &project.roles[0];
    let account = org
        .users
        .iter()
        .find(|u| u.active && u.account_id != admin && !role.user_actors.contains(&u.account_id))
        .expect("a user outside the role")
        .account_id
        .clone();
    let group = org
        .groups
        .iter()
        .find(|g| !role.group_actors.contains(&g.group_id))
        .expect("a group outside the role")
        .group_id
        .clone();
    let entitlement = Entitlement::ProjectRole {
        project: ProjectId::from(project.id.as_str()),
        role: RoleId::new(role.id.to_string()),
    };
    let actors = |sim: &SimServer| {
        let org = sim.org();
        let p = org.projects.iter().find(|p| p.id == project.id).unwrap();
        let r = p.roles.iter().find(|r| r.id == role.id).unwrap();
        (
            r.user_actors.contains(&account),
            r.group_actors.contains(&group),
        )
    };
    let ex = executor(&h, clock());
    let group_principal = Principal::Group(GroupId::from(group.as_str()));
    for (id, action, principal) in [
        ("role-add-user", CommandAction::Add, user(&account)),
        (
            "role-add-group",
            CommandAction::Add,
            group_principal.clone(),
        ),
    ] {
        let c = ex
            .issue(operator(id, action, principal, entitlement.clone()))
            .unwrap();
        let done = succeeded(ex.drive(&c).await.unwrap());
        assert_eq!(
            (done.jira, done.site),
            (JiraOutcome::Changed, SiteOutcome::Recorded),
            "{id}"
        );
        assert!(
            matches!(&grant_events(&h.log, id)[..], [Event::GrantAdded(_)]),
            "{id}"
        );
    }
    assert_eq!(actors(&h.sim), (true, true));
    for (id, action, principal) in [
        ("role-remove-user", CommandAction::Remove, user(&account)),
        ("role-remove-group", CommandAction::Remove, group_principal),
    ] {
        let c = ex
            .issue(operator(id, action, principal, entitlement.clone()))
            .unwrap();
        let done = succeeded(ex.drive(&c).await.unwrap());
        assert_eq!(
            (done.jira, done.site),
            (JiraOutcome::Changed, SiteOutcome::Recorded),
            "{id}"
        );
        assert!(
            matches!(&grant_events(&h.log, id)[..], [Event::GrantRemoved(_)]),
            "{id}"
        );
    }
    assert_eq!(actors(&h.sim), (false, false));
    let stats = h.sim.stats();
    let role_writes = |m: &str| {
        stats
            .by_operation
            .iter()
            .filter(|(k, _)| k.starts_with(m) && k.contains("/role/"))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    assert_eq!((role_writes("POST"), role_writes("DELETE")), (2, 2));
}

#[tokio::test]
async fn driving_or_issuing_again_changes_jira_once_and_appends_nothing() {
    let h = Harness::start(Preset::Small, 7).await;
    let (group, outsider, _) = group_with_outsider_and_member(&h.sim.org());
    let ex = executor(&h, clock());
    let spec = operator(
        "twice",
        CommandAction::Add,
        user(&outsider),
        membership(&group),
    );
    let id = ex.issue(spec.clone()).unwrap();
    let first = ex.drive(&id).await.unwrap();
    let head = h.log.head();
    let stats = h.sim.stats().total;
    assert_eq!(ex.drive(&id).await.unwrap(), first);
    assert_eq!(
        ex.issue(spec.clone()).unwrap(),
        id,
        "issuing again is a no-op"
    );
    assert!(ex.drive_unfinished().await.unwrap().is_empty());
    assert_eq!(h.log.head(), head, "nothing appended");
    assert_eq!(h.sim.stats().total, stats, "Jira not called again");
    assert_eq!(writes(&h.sim, ADD_MEMBER), 1);

    // The same id with another intent is refused, not recorded.
    let mut other = spec;
    other.action = CommandAction::Remove;
    let e = ex.issue(other).unwrap_err();
    assert!(matches!(e, OutboxError::Conflict { .. }), "{e}");
    assert_eq!(h.log.head(), head);
}

#[tokio::test]
async fn a_member_already_in_place_is_not_written_and_not_recorded_twice() {
    let h = Harness::start(Preset::Small, 7).await;
    let (group, _, member) = group_with_outsider_and_member(&h.sim.org());
    let grant = Grant::membership(
        AccountId::from(member.as_str()),
        GroupId::from(group.as_str()),
    );
    observe(&h.log, vec![observed_grant(grant)]);
    let ex = executor(&h, clock());
    let id = ex
        .issue(operator(
            "already",
            CommandAction::Add,
            user(&member),
            membership(&group),
        ))
        .unwrap();
    let audit_before = h.sim.org().audit.len();
    let done = succeeded(ex.drive(&id).await.unwrap());
    assert_eq!(done.jira, JiraOutcome::AlreadyInPlace);
    assert_eq!(done.site, SiteOutcome::AlreadyInState);
    // A first attempt writes at once (it cannot have written before): Jira
    // refuses the addition as "already a member", the client reads the state
    // back and finds it in effect. One request sent, no change made in Jira.
    assert_eq!(writes(&h.sim, ADD_MEMBER), 1, "one write, refused by Jira");
    assert_eq!(changes(&h.sim, ADD_MEMBER), 0);
    assert_eq!(
        h.sim.org().audit.len(),
        audit_before,
        "Jira changed nothing (no audit record)"
    );
    assert_eq!(
        command_events(&h.log, "already"),
        ["CommandIssued", "CommandStarted", "CommandSucceeded"]
    );
    assert!(grant_events(&h.log, "already").is_empty());

    // Not a member, and the state agrees: a removal does nothing either.
    let (group2, outsider, _) = group_with_outsider_and_member(&h.sim.org());
    let id = ex
        .issue(operator(
            "absent",
            CommandAction::Remove,
            user(&outsider),
            membership(&group2),
        ))
        .unwrap();
    let done = succeeded(ex.drive(&id).await.unwrap());
    assert_eq!(
        (done.jira, done.site),
        (JiraOutcome::AlreadyInPlace, SiteOutcome::AlreadyInState)
    );
    // Refused as "not a member", checked against the state: nothing changed.
    assert_eq!(writes(&h.sim, REMOVE_MEMBER), 1);
    assert_eq!(h.sim.org().audit.len(), audit_before);
    assert!(!is_member(&h.sim, &group2, &outsider));
}

#[tokio::test]
async fn refusals_fail_at_once_with_a_reason_a_person_can_act_on() {
    let org = Org::generate(Preset::Small, 7);
    let (group, outsider, _) = group_with_outsider_and_member(&org);
    // A signed-in account without site-admin rights.
    let plain = Credential::new("plain@example.test", "plain-secret-token", outsider.clone());
    let sim = grantledger_testkit::start_sim(org, vec![plain.clone()], Faults::default()).await;
    let (_dir, log) = grantledger_testkit::fresh_log();
    let c = clock();
    let ex = Executor::new(log.clone(), c.clone(), policy())
        .with_site(SITE, client(&sim, &plain.email, &plain.token, c.clone()));
    let id = ex
        .issue(operator(
            "forbidden",
            CommandAction::Add,
            user(&outsider),
            membership(&group),
        ))
        .unwrap();
    let f = failed(ex.drive(&id).await.unwrap());
    assert_eq!(f.kind, CommandFailureKind::Refused);
    assert!(f.reason.contains("403"), "{}", f.reason);
    assert!(
        f.reason.contains(&format!("adding user '{outsider}'")),
        "{}",
        f.reason
    );
    assert!(!f.reason.contains("plain-secret-token"));
    assert!(!is_member(&sim, &group, &outsider));
    assert!(grant_events(&log, "forbidden").is_empty());

    let admin_client = client(
        &sim,
        Credential::DEFAULT_EMAIL,
        Credential::DEFAULT_TOKEN,
        c.clone(),
    );
    let ex = Executor::new(log.clone(), c, policy()).with_site(SITE, admin_client);
    let id = ex
        .issue(operator(
            "no-group",
            CommandAction::Add,
            user(&outsider),
            membership("no-such-group"),
        ))
        .unwrap();
    let f = failed(ex.drive(&id).await.unwrap());
    assert_eq!((f.kind, f.attempts), (CommandFailureKind::Refused, 1));
    assert!(f.reason.contains("not found"), "{}", f.reason);
    assert!(f.reason.contains("still exist"), "{}", f.reason);
    // A failed command stays failed: driving it again calls no one.
    let total = sim.stats().total;
    assert_eq!(Outcome::Failed(f), ex.drive(&id).await.unwrap());
    assert_eq!(sim.stats().total, total);
    // The write was sent (a first attempt does not read first) and refused.
    assert_eq!(
        command_events(&log, "no-group"),
        ["CommandIssued", "CommandStarted", "CommandFailed"]
    );

    // An account or a project that does not exist, an invalid request.
    let org = sim.org();
    let project = org.projects.iter().find(|p| !p.roles.is_empty()).unwrap();
    let role = RoleId::new(project.roles[0].id.to_string());
    for (id, principal, entitlement) in [
        ("no-user", user("no-such-account"), membership(&group)),
        // An empty account id: Jira answers 400.
        ("empty-account", user(""), membership(&group)),
        (
            "no-user-role",
            user("no-such-account"),
            Entitlement::ProjectRole {
                project: ProjectId::from(project.id.as_str()),
                role: role.clone(),
            },
        ),
        (
            "no-project",
            user(&outsider),
            Entitlement::ProjectRole {
                project: ProjectId::from("99999"),
                role,
            },
        ),
    ] {
        let c = ex
            .issue(operator(id, CommandAction::Add, principal, entitlement))
            .unwrap();
        let f = failed(ex.drive(&c).await.unwrap());
        assert_eq!(f.kind, CommandFailureKind::Refused, "{id}");
        let expected = if id == "empty-account" {
            "(400)"
        } else {
            "not found"
        };
        assert!(f.reason.contains(expected), "{id}: {}", f.reason);
        assert!(grant_events(&log, id).is_empty(), "{id}");
    }
    assert!(ex.unfinished().unwrap().is_empty());

    // An inactive account the site state knows: refused before Jira is called.
    let mut inactive = sim.org().user(&outsider).cloned().unwrap();
    inactive.active = false;
    sim.mutate(|o| {
        o.users
            .iter_mut()
            .filter(|u| u.account_id == outsider)
            .for_each(|u| u.active = false)
    });
    observe(
        &log,
        vec![UserObserved {
            user: UserRecord {
                account_id: AccountId::from(outsider.as_str()),
                account_type: AccountType::Atlassian,
                display_name: inactive.display_name.clone(),
                email: None,
                active: false,
            },
        }
        .into()],
    );
    let total = sim.stats().total;
    let id = ex
        .issue(operator(
            "inactive",
            CommandAction::Add,
            user(&outsider),
            membership(&group),
        ))
        .unwrap();
    let f = failed(ex.drive(&id).await.unwrap());
    assert_eq!((f.kind, f.attempts), (CommandFailureKind::Refused, 0));
    assert!(f.reason.contains("is deactivated in Jira"), "{}", f.reason);
    assert_eq!(sim.stats().total, total, "Jira was not called");

    // An inactive account Jira refuses as a role actor (the state does not know it).
    let org = sim.org();
    let project = org.projects.iter().find(|p| !p.roles.is_empty()).unwrap();
    let other = org
        .users
        .iter()
        .find(|u| u.account_id != admin(&org) && u.account_id != outsider && u.active)
        .unwrap()
        .account_id
        .clone();
    sim.mutate(|o| {
        o.users
            .iter_mut()
            .filter(|u| u.account_id == other)
            .for_each(|u| u.active = false)
    });
    let id = ex
        .issue(operator(
            "inactive-role",
            CommandAction::Add,
            user(&other),
            Entitlement::ProjectRole {
                project: ProjectId::from(project.id.as_str()),
                role: RoleId::new(project.roles[0].id.to_string()),
            },
        ))
        .unwrap();
    let f = failed(ex.drive(&id).await.unwrap());
    assert_eq!(f.kind, CommandFailureKind::Refused);
    assert!(f.reason.contains("not active"), "{}", f.reason);
}

#[tokio::test]
async fn a_rate_limit_storm_is_waited_out_through_the_clock() {
    let faults = Faults {
        rate_limit_ratio: 0.6,
        retry_after_secs: 2,
        ..Faults::default()
    };
    let h = Harness::with_org(Org::generate(Preset::Small, 7), faults).await;
    let (group, outsider, _) = group_with_outsider_and_member(&h.sim.org());
    let c = clock();
    let ex = executor(&h, c.clone());
    let started = std::time::Instant::now();
    let id = ex
        .issue(operator(
            "storm",
            CommandAction::Add,
            user(&outsider),
            membership(&group),
        ))
        .unwrap();
    let done = succeeded(ex.drive(&id).await.unwrap());
    assert_eq!(done.jira, JiraOutcome::Changed);
    assert!(is_member(&h.sim, &group, &outsider));
    assert!(
        h.sim
            .stats()
            .faults_by_kind
            .get("rate_limited")
            .copied()
            .unwrap_or(0)
            > 0
    );
    assert!(
        c.sleeps().iter().any(|d| *d >= Duration::from_secs(2)),
        "Retry-After honoured: {:?}",
        c.sleeps()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "nothing slept for real"
    );
    assert_eq!(grant_events(&h.log, "storm").len(), 1);
}

#[tokio::test]
async fn a_storm_past_the_budget_gives_up_without_changing_jira() {
    let faults = Faults {
        rate_limit_every: Some(1),
        retry_after_secs: 1,
        ..Faults::default()
    };
    let h = Harness::with_org(Org::generate(Preset::Small, 7), faults).await;
    let (group, outsider, _) = group_with_outsider_and_member(&h.sim.org());
    let c = clock();
    let ex = executor(&h, c.clone());
    let id = ex
        .issue(operator(
            "hopeless",
            CommandAction::Add,
            user(&outsider),
            membership(&group),
        ))
        .unwrap();
    let f = failed(ex.drive(&id).await.unwrap());
    assert_eq!(
        (f.kind, f.attempts),
        (CommandFailureKind::GaveUp, policy().max_attempts)
    );
    assert!(f.reason.contains("rate limited"), "{}", f.reason);
    // Every attempt sent its write (a first attempt, then attempts after a
    // write Jira refused without acting), each refused with 429 until the
    // client's budget ran out: Jira certainly holds no change.
    assert!(f.reason.contains("Jira was not changed"), "{}", f.reason);
    assert!(!is_member(&h.sim, &group, &outsider));
    assert!(writes(&h.sim, ADD_MEMBER) > 0);
    assert_eq!(changes(&h.sim, ADD_MEMBER), 0);
    assert!(!h
        .sim
        .org()
        .audit
        .iter()
        .any(|r| r.associated_items.iter().any(|i| i.id == outsider)));
    assert!(grant_events(&h.log, "hopeless").is_empty());
}

#[tokio::test]
async fn server_errors_are_retried_and_the_change_lands_once() {
    let faults = Faults {
        server_error_every: Some(2),
        retry_after_secs: 0,
        ..Faults::default()
    };
    let h = Harness::with_org(Org::generate(Preset::Small, 7), faults).await;
    let (group, outsider, _) = group_with_outsider_and_member(&h.sim.org());
    let c = clock();
    // The simulator faults every second request (counting from 1): one read
    // first makes the command's write, its first request, a faulted one.
    client(
        &h.sim,
        Credential::DEFAULT_EMAIL,
        Credential::DEFAULT_TOKEN,
        c.clone(),
    )
    .myself()
    .await
    .unwrap();
    let ex = executor(&h, c);
    let c = ex
        .issue(operator(
            "flaky",
            CommandAction::Add,
            user(&outsider),
            membership(&group),
        ))
        .unwrap();
    let done = succeeded(ex.drive(&c).await.unwrap());
    assert_eq!(done.jira, JiraOutcome::Changed);
    assert!(
        h.sim
            .stats()
            .faults_by_kind
            .get("server_error")
            .copied()
            .unwrap_or(0)
            > 0
    );
    assert!(is_member(&h.sim, &group, &outsider));
    let audit = h.sim.org().audit;
    let added = audit
        .iter()
        .filter(|r| {
            r.summary == "User added to group"
                && r.associated_items.iter().any(|i| i.id == outsider)
        })
        .count();
    assert_eq!(added, 1);
    assert_eq!(grant_events(&h.log, "flaky").len(), 1);
}

#[tokio::test]
async fn dropped_connections_are_retried_and_the_change_lands_once() {
    let faults = Faults {
        drop_every: Some(2),
        ..Faults::default()
    };
    let h = Harness::with_org(Org::generate(Preset::Small, 7), faults).await;
    let org = h.sim.org();
    let (group, outsider, member) = group_with_outsider_and_member(&org);
    let ex = executor(&h, clock());
    for (id, action, account) in [
        ("drop-add", CommandAction::Add, &outsider),
        ("drop-remove", CommandAction::Remove, &member),
    ] {
        let c = ex
            .issue(operator(id, action, user(account), membership(&group)))
            .unwrap();
        let done = succeeded(ex.drive(&c).await.unwrap());
        assert_eq!(done.jira, JiraOutcome::Changed, "{id}");
    }
    assert!(
        h.sim
            .stats()
            .faults_by_kind
            .get("dropped_connection")
            .copied()
            .unwrap_or(0)
            > 0
    );
    assert!(is_member(&h.sim, &group, &outsider));
    assert!(!is_member(&h.sim, &group, &member));
    assert!(writes(&h.sim, ADD_MEMBER) <= 2 && writes(&h.sim, REMOVE_MEMBER) <= 2);
    let audit = h.sim.org().audit;
    let changes = |summary: &str, account: &str| {
        audit
            .iter()
            .filter(|r| r.summary == summary && r.associated_items.iter().any(|i| i.id == account))
            .count()
    };
    assert_eq!(changes("User added to group", &outsider), 1);
    assert_eq!(changes("User removed from group", &member), 1);
    assert_eq!(grant_events(&h.log, "drop-add").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_writer_appending_to_the_site_stream_meanwhile_neither_fails_nor_doubles() {
    let h = Harness::start(Preset::Small, 7).await;
    let org = h.sim.org();
    let admin = admin(&org);
    let group = org.groups[0].group_id.clone();
    let members = org.memberships.get(&group).cloned().unwrap_or_default();
    let outsiders: Vec<String> = org
        .users
        .iter()
        .filter(|u| u.active && u.account_id != admin && !members.contains(&u.account_id))
        .map(|u| u.account_id.clone())
        .take(8)
        .collect();
    // A second writer (as a sync would be) appends to jira:<site> all along.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (log, stop) = (h.log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let version = log.stream_version(&StreamId::jira_site(SITE)).unwrap();
                let event = NewEvent::new(UserVanished {
                    account_id: AccountId::new(format!("gone-{n}")),
                });
                let _ = log.append(
                    &StreamId::jira_site(SITE),
                    ExpectedVersion::Exact(version),
                    vec![event],
                );
                n += 1;
            }
            n
        })
    };
    let ex = executor(&h, clock());
    for (i, account) in outsiders.iter().enumerate() {
        let id = format!("busy-{i}");
        let c = ex
            .issue(operator(
                &id,
                CommandAction::Add,
                user(account),
                membership(&group),
            ))
            .unwrap();
        let done = succeeded(ex.drive(&c).await.unwrap());
        assert_eq!(done.site, SiteOutcome::Recorded, "{id}");
        assert_eq!(grant_events(&h.log, &id).len(), 1, "{id}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let appended = writer.join().unwrap();
    assert!(appended > 0, "the other writer appended meanwhile");
    assert_eq!(writes(&h.sim, ADD_MEMBER), outsiders.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_running_meanwhile_and_the_next_one_record_each_applied_grant_once() {
    use grantledger_ingest::{sync, SyncOptions};
    let faults = Faults {
        latency: Duration::from_millis(2),
        ..Faults::default()
    };
    let h = Harness::with_org(Org::generate(Preset::Small, 7), faults).await;
    let first = sync(&h.log, &h.client, SyncOptions::new(SITE))
        .await
        .unwrap();
    assert!(matches!(
        first.outcome,
        grantledger_ingest::Outcome::Completed
    ));
    let org = h.sim.org();
    let admin = admin(&org);
    let group = org.groups[1].group_id.clone();
    let members = org.memberships.get(&group).cloned().unwrap_or_default();
    let outsiders: Vec<String> = org
        .users
        .iter()
        .filter(|u| u.active && u.account_id != admin && !members.contains(&u.account_id))
        .map(|u| u.account_id.clone())
        .take(6)
        .collect();
    let ex = executor(&h, clock());
    let drives = async {
        for (i, account) in outsiders.iter().enumerate() {
            let c = ex
                .issue(operator(
                    &format!("along-{i}"),
                    CommandAction::Add,
                    user(account),
                    membership(&group),
                ))
                .unwrap();
            let done = succeeded(ex.drive(&c).await.unwrap());
            assert_eq!(done.jira, JiraOutcome::Changed);
        }
    };
    let (report, ()) = tokio::join!(sync(&h.log, &h.client, SyncOptions::new(SITE)), drives);
    assert!(matches!(
        report.unwrap().outcome,
        grantledger_ingest::Outcome::Completed
    ));
    let last = sync(&h.log, &h.client, SyncOptions::new(SITE))
        .await
        .unwrap();
    assert!(matches!(
        last.outcome,
        grantledger_ingest::Outcome::Completed
    ));
    grantledger_testkit::assert_state_matches(&h.log, SITE, &h.sim.org());
    for account in &outsiders {
        let grant = Grant::membership(
            AccountId::from(account.as_str()),
            GroupId::from(group.as_str()),
        );
        let added = h
            .log
            .read_stream(&StreamId::jira_site(SITE), 1)
            .unwrap()
            .into_iter()
            .filter(|r| matches!(&r.event, Event::GrantAdded(e) if e.grant == grant))
            .count();
        assert_eq!(
            added, 1,
            "{account}: recorded once, by the executor or a sync"
        );
    }
}

#[tokio::test]
async fn unknown_sites_and_commands_are_errors_that_leave_the_log_alone() {
    let h = Harness::start(Preset::Small, 7).await;
    let ex = executor(&h, clock());
    let e = ex.drive(&CommandId::from("nope")).await.unwrap_err();
    assert!(e.to_string().contains("no command 'nope'"), "{e}");
    let mut spec = operator("elsewhere", CommandAction::Add, user("a"), membership("g"));
    spec.site = "other.atlassian.net".into();
    let id = ex.issue(spec).unwrap();
    let e = ex.drive(&id).await.unwrap_err();
    assert!(matches!(e, OutboxError::UnknownSite { .. }), "{e}");
    assert!(ex.status(&id).unwrap().unwrap().is_unfinished());
    let product = CommandSpec {
        grant: Grant {
            principal: user("a"),
            entitlement: Entitlement::ProductAccess {
                product: ProductKey::from("jira-software"),
            },
        },
        ..operator("product", CommandAction::Add, user("a"), membership("g"))
    };
    assert!(matches!(ex.issue(product), Err(OutboxError::Invalid(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_drives_write_once_each_and_record_each_grant_once_beside_another_writer() {
    let faults = Faults {
        latency: Duration::from_millis(15),
        ..Faults::default()
    };
    let h = Harness::with_org(Org::generate(Preset::Small, 7), faults).await;
    let org = h.sim.org();
    let admin = admin(&org);
    let group = org.groups[0].group_id.clone();
    let members = org.memberships.get(&group).cloned().unwrap_or_default();
    let outsiders: Vec<String> = org
        .users
        .iter()
        .filter(|u| u.active && u.account_id != admin && !members.contains(&u.account_id))
        .map(|u| u.account_id.clone())
        .take(20)
        .collect();
    assert!(outsiders.len() >= 12, "the small org has enough outsiders");
    // Peak number of drives between CommandStarted and Jira's answer.
    let in_jira = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hook: grantledger_outbox::StepHook = {
        let (in_jira, peak) = (in_jira.clone(), peak.clone());
        Arc::new(move |_id: &CommandId, step: grantledger_outbox::Step| {
            use std::sync::atomic::Ordering::SeqCst;
            match step {
                grantledger_outbox::Step::Started => {
                    let now = in_jira.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(now, SeqCst);
                }
                grantledger_outbox::Step::JiraDone => {
                    in_jira.fetch_sub(1, SeqCst);
                }
                _ => {}
            }
        })
    };
    let ex = executor(&h, clock()).with_hook(hook);
    // Every outsider is added; the first four are removed again in the same batch
    // (their removal must follow their addition, never race it); and every id is
    // listed twice (a second drive of a command is no second write).
    let mut ids = Vec::new();
    for (i, account) in outsiders.iter().enumerate() {
        ids.push(
            ex.issue(operator(
                &format!("many-add-{i}"),
                CommandAction::Add,
                user(account),
                membership(&group),
            ))
            .unwrap(),
        );
    }
    for (i, account) in outsiders.iter().take(4).enumerate() {
        ids.push(
            ex.issue(operator(
                &format!("many-remove-{i}"),
                CommandAction::Remove,
                user(account),
                membership(&group),
            ))
            .unwrap(),
        );
    }
    let twice: Vec<CommandId> = ids.iter().chain(ids.iter()).cloned().collect();
    // A second writer (as a sync would be) appends to jira:<site> all along.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (log, stop) = (h.log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let version = log.stream_version(&StreamId::jira_site(SITE)).unwrap();
                let event = NewEvent::new(UserVanished {
                    account_id: AccountId::new(format!("gone-{n}")),
                });
                let _ = log.append(
                    &StreamId::jira_site(SITE),
                    ExpectedVersion::Exact(version),
                    vec![event],
                );
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            n
        })
    };
    let results = ex.drive_all(&twice, 8).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let appended = writer.join().unwrap();
    assert!(appended > 0, "the other writer appended meanwhile");

    assert_eq!(results.len(), twice.len());
    for ((id, result), asked) in results.into_iter().zip(&twice) {
        assert_eq!(&id, asked, "results come in the order asked");
        let done = succeeded(result.unwrap());
        assert_eq!(done.jira, JiraOutcome::Changed, "{id}");
        assert_eq!(done.site, SiteOutcome::Recorded, "{id}");
    }
    let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (2..=8).contains(&peak),
        "drives overlapped in Jira, within the limit: peak {peak}"
    );
    // One write per command, whatever the concurrency.
    assert_eq!(writes(&h.sim, ADD_MEMBER), outsiders.len() as u64);
    assert_eq!(writes(&h.sim, REMOVE_MEMBER), 4);
    for (i, account) in outsiders.iter().enumerate() {
        assert_eq!(is_member(&h.sim, &group, account), i >= 4, "{account}");
        assert_eq!(grant_events(&h.log, &format!("many-add-{i}")).len(), 1);
    }
    for i in 0..4 {
        let removed = grant_events(&h.log, &format!("many-remove-{i}"));
        assert!(matches!(removed.as_slice(), [Event::GrantRemoved(_)]));
    }
    // Each command's stream: intent, start, outcome, once each.
    for id in &ids {
        assert_eq!(
            command_events(&h.log, id.as_str()),
            ["CommandIssued", "CommandStarted", "CommandSucceeded"],
            "{id}"
        );
    }
    assert!(h.log.verify().unwrap().is_ok());
}

/// A command on its first attempt cannot have written before: it writes at
/// once, one request to Jira, no read first (the expiry benchmark's round trip).
#[tokio::test]
async fn a_first_attempt_is_one_request_to_jira() {
    let h = Harness::start(Preset::Small, 7).await;
    let (group, outsider, _) = group_with_outsider_and_member(&h.sim.org());
    let ex = executor(&h, clock());
    for (name, action, member_after) in [
        ("one-trip-add", CommandAction::Add, true),
        ("one-trip-remove", CommandAction::Remove, false),
    ] {
        let before = h.sim.stats().total;
        let id = ex
            .issue(operator(name, action, user(&outsider), membership(&group)))
            .unwrap();
        let done = succeeded(ex.drive(&id).await.unwrap());
        assert_eq!(done.jira, JiraOutcome::Changed, "{name}");
        assert_eq!(
            h.sim.stats().total - before,
            1,
            "{name}: {:?}",
            h.sim.stats()
        );
        assert_eq!(is_member(&h.sim, &group, &outsider), member_after, "{name}");
    }
    assert_eq!(
        command_events(&h.log, "one-trip-remove"),
        ["CommandIssued", "CommandStarted", "CommandSucceeded"]
    );
}

/// `issue_and_drive`: the intent and `CommandStarted` are durable (visible to
/// readers, who see durable records only) after one flush and before Jira is
/// called; Jira is called only with a permit of the semaphore given, which the
/// log's work does not need; issuing again, or driving a command issued the
/// two-step way, changes Jira once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_and_drive_starts_with_one_flush_and_calls_jira_only_with_a_permit() {
    use grantledger_outbox::{Step, StepHook};
    use std::sync::Mutex;

    let h = Harness::start(Preset::Small, 7).await;
    let (group, outsider, member) = group_with_outsider_and_member(&h.sim.org());
    // At each start: the command's events readers see, and the flushes so far.
    type Seen = Vec<(Vec<&'static str>, u64)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let started = Arc::new(tokio::sync::Notify::new());
    let hook: StepHook = {
        let (log, seen, started) = (h.log.clone(), seen.clone(), started.clone());
        Arc::new(move |id: &CommandId, step: Step| {
            if step == Step::Started {
                let events = command_events(&log, id.as_str());
                seen.lock().unwrap().push((events, log.flushes()));
                started.notify_one();
            }
        })
    };
    let ex = Arc::new(executor(&h, clock()).with_hook(hook));
    let jira = Arc::new(tokio::sync::Semaphore::new(1));
    let spec = operator(
        "gated",
        CommandAction::Add,
        user(&outsider),
        membership(&group),
    );

    // The test holds the only permit: the command records its start, then waits.
    let held = jira.clone().acquire_owned().await.unwrap();
    let (flushes, requests) = (h.log.flushes(), h.sim.stats().total);
    let task = tokio::spawn({
        let (ex, jira, spec) = (ex.clone(), jira.clone(), spec.clone());
        async move { ex.issue_and_drive(spec, &jira).await }
    });
    tokio::time::timeout(Duration::from_secs(10), started.notified())
        .await
        .expect("the command started");
    assert_eq!(
        *seen.lock().unwrap(),
        [(vec!["CommandIssued", "CommandStarted"], flushes + 1)],
        "the intent and the start durable together, with one flush, before Jira"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.sim.stats().total,
        requests,
        "no call to Jira without a permit"
    );
    assert!(!task.is_finished());
    drop(held);
    let (id, outcome) = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the drive ends once the permit is free")
        .unwrap()
        .unwrap();
    assert_eq!(id, CommandId::from("gated"));
    assert_eq!(succeeded(outcome.clone()).jira, JiraOutcome::Changed);
    assert_eq!(
        h.sim.stats().total - requests,
        1,
        "one write, no read first"
    );
    assert!(
        h.log.flushes() - flushes <= 2,
        "the grant event and the outcome share the second flush"
    );
    assert_eq!(
        command_events(&h.log, "gated"),
        ["CommandIssued", "CommandStarted", "CommandSucceeded"]
    );
    assert_eq!(grant_events(&h.log, "gated").len(), 1);
    assert!(is_member(&h.sim, &group, &outsider));

    // Again: the recorded outcome, nothing appended, Jira not called.
    let head = h.log.head();
    let (_, again) = ex.issue_and_drive(spec, &jira).await.unwrap();
    assert_eq!(again, outcome);
    assert_eq!(h.log.head(), head);
    assert_eq!(h.sim.stats().total - requests, 1);

    // A command issued the two-step way, not driven: issue_and_drive drives it.
    let two_step = operator(
        "two-step",
        CommandAction::Remove,
        user(&member),
        membership(&group),
    );
    ex.issue(two_step.clone()).unwrap();
    let (_, outcome) = ex.issue_and_drive(two_step, &jira).await.unwrap();
    assert_eq!(succeeded(outcome).jira, JiraOutcome::Changed);
    assert_eq!(changes(&h.sim, REMOVE_MEMBER), 1);
    assert!(!is_member(&h.sim, &group, &member));
    assert_eq!(
        command_events(&h.log, "two-step"),
        ["CommandIssued", "CommandStarted", "CommandSucceeded"]
    );
}
