//! Sync against the simulator over real HTTP on loopback.

use crate::common;

use common::*;
use grantledger_ingest::{minimum_requests, sync, Outcome, Scope, SyncOptions};
use grantledger_jira_sim::Preset;
use grantledger_model::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_of_the_small_org_records_it_exactly_and_a_second_sync_records_nothing() {
    let sim = start(Preset::Small, 7).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let client = client(&sim);
    let report = run(&log, &client).await;
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    assert_state_matches(&log, &sim.org());
    assert!(log.verify().unwrap().is_ok());
    assert!(report.stats.requests >= report.stats.minimum_requests);
    assert_eq!(
        report.stats.requests,
        sim.stats().total,
        "the client counts what the server saw"
    );
    assert!(report.written.is_some());

    let head = log.head().position;
    let again = run(&log, &client).await;
    assert_eq!(again.outcome, Outcome::Completed);
    assert_eq!(again.stats.events_written, 0);
    assert!(again.written.is_none());
    assert!(
        access_events_after(&log, head).is_empty(),
        "an unchanged site must append no access events"
    );
    // Only SyncStarted, the audit log's checkpoint (`AuditLogRead`, no record
    // is new) and SyncCompleted were added.
    assert_eq!(log.head().position, head + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_medium_org_is_recorded_exactly_with_requests_close_to_the_minimum() {
    let sim = start(Preset::Medium, 11).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let report = run(&log, &client(&sim)).await;
    assert_eq!(report.outcome, Outcome::Completed);
    let org = sim.org();
    assert_state_matches(&log, &org);
    // The minimum, computed independently from the org.
    let mut minimum = minimum_requests(&Scope::Users, org.users.len() as u64)
        + minimum_requests(&Scope::Groups, org.groups.len() as u64)
        + minimum_requests(&Scope::Projects, org.projects.len() as u64)
        + 1
        // The audit log: one page of 1,000 holds the generated records.
        + org.audit.len().div_ceil(1000).max(1) as u64;
    for g in &org.groups {
        let n = org.memberships.get(&g.group_id).map_or(0, |m| m.len()) as u64;
        minimum += minimum_requests(&Scope::Members(g.group_id.as_str().into()), n);
    }
    for p in &org.projects {
        minimum += 1 + p.roles.len() as u64;
    }
    assert_eq!(report.stats.minimum_requests, minimum);
    assert_eq!(
        report.stats.requests, minimum,
        "a fault-free sync needs no request beyond the minimum"
    );
    // Hidden emails, inactive and app accounts, and a group of more than 1,000 are all there.
    let state = grantledger_projection::SiteState::load(&log, SITE).unwrap();
    assert!(state.users.values().any(|u| u.email.is_none()));
    assert!(state.users.values().any(|u| !u.active));
    assert!(state
        .users
        .values()
        .any(|u| u.account_type == AccountType::App));
    assert!(state.members.values().any(|m| m.len() > 1_000));
    let inactive_member = state
        .members
        .values()
        .flatten()
        .any(|a| state.users.get(a).is_some_and(|u| !u.active));
    assert!(inactive_member, "inactive members must be listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_through_the_jira_api_are_recorded_exactly() {
    let sim = start(Preset::Small, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let client = client(&sim);
    run(&log, &client).await;
    let org = sim.org();

    // Pick a group with members and a user outside it.
    let (group, members) = org.memberships.iter().find(|(_, m)| m.len() >= 2).unwrap();
    let leaving = members.iter().next().unwrap().clone();
    let joining = org
        .users
        .iter()
        .find(|u| u.active && u.account_type == "atlassian" && !members.contains(&u.account_id))
        .unwrap()
        .account_id
        .clone();
    let gid = GroupId::new(group.as_str());
    client
        .add_group_member(&gid, &AccountId::new(joining.as_str()))
        .await
        .unwrap();
    client
        .remove_group_member(&gid, &AccountId::new(leaving.as_str()))
        .await
        .unwrap();
    let project = &org.projects[0];
    let role = &project.roles[0];
    client
        .add_role_actor(
            &ProjectId::new(project.id.as_str()),
            &RoleId::new(role.id.to_string()),
            &Principal::User(AccountId::new(joining.as_str())),
        )
        .await
        .unwrap();
    let deactivated = org
        .users
        .iter()
        .find(|u| u.active && u.account_id != joining)
        .unwrap()
        .account_id
        .clone();
    sim.mutate(|o| {
        o.users
            .iter_mut()
            .find(|u| u.account_id == deactivated)
            .unwrap()
            .active = false
    });

    let head = log.head().position;
    sim.reset_stats();
    let report = run(&log, &client).await;
    assert_eq!(report.outcome, Outcome::Completed);
    // The group that lost a member was listed twice before the removal was recorded.
    assert!(
        report
            .notes
            .iter()
            .any(|w| w.contains("taken twice to confirm")),
        "{:?}",
        report.notes
    );
    let member_listings = sim
        .stats()
        .by_operation
        .get("GET /rest/api/3/group/member")
        .copied()
        .unwrap_or(0);
    assert!(
        member_listings > org.groups.len() as u64,
        "{member_listings}"
    );
    let run_id = report.run.clone();
    let cause = GrantCause::ObservedInSync { run: run_id };
    let g = GroupId::new(group.clone());
    let want: Vec<Event> = vec![
        UserDeactivated {
            account_id: AccountId::new(deactivated.clone()),
        }
        .into(),
        GrantAdded {
            grant: Grant::membership(AccountId::new(joining.clone()), g.clone()),
            cause: cause.clone(),
        }
        .into(),
        GrantRemoved {
            grant: Grant::membership(AccountId::new(leaving.clone()), g.clone()),
            cause: cause.clone(),
        }
        .into(),
        GrantAdded {
            grant: Grant::role(
                Principal::User(AccountId::new(joining.clone())),
                ProjectId::new(project.id.clone()),
                RoleId::new(role.id.to_string()),
            ),
            cause,
        }
        .into(),
    ];
    let mut got = access_events_after(&log, head);
    let mut want_sorted = want.clone();
    // Order is by scope: users, then members (by group id), then actors.
    got.sort_by_key(|e| format!("{e:?}"));
    want_sorted.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(got, want_sorted);
    assert_state_matches(&log, &sim.org());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renames_keep_identity_and_vanished_groups_take_their_grants() {
    let sim = start(Preset::Small, 5).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let client = client(&sim);
    run(&log, &client).await;
    let org = sim.org();
    let renamed = org
        .groups
        .iter()
        .find(|g| {
            org.memberships
                .get(&g.group_id)
                .is_some_and(|m| !m.is_empty())
        })
        .unwrap()
        .clone();
    let doomed = org
        .groups
        .iter()
        .find(|g| {
            g.group_id != renamed.group_id
                && org
                    .memberships
                    .get(&g.group_id)
                    .is_some_and(|m| !m.is_empty())
        })
        .unwrap()
        .clone();
    sim.mutate(|o| {
        o.groups
            .iter_mut()
            .find(|g| g.group_id == renamed.group_id)
            .unwrap()
            .name = "renamed-team".into();
        // Jira keeps product access pointing at the renamed group.
        for a in &mut o.application_roles {
            for n in a.groups.iter_mut().chain(a.default_groups.iter_mut()) {
                if *n == renamed.name {
                    *n = "renamed-team".into();
                }
            }
        }
        o.groups.retain(|g| g.group_id != doomed.group_id);
        o.memberships.remove(&doomed.group_id);
        for p in &mut o.projects {
            for r in &mut p.roles {
                r.group_actors.remove(&doomed.group_id);
            }
        }
        for a in &mut o.application_roles {
            a.groups.retain(|n| *n != doomed.name);
        }
    });
    let head = log.head().position;
    let report = run(&log, &client).await;
    assert_eq!(report.outcome, Outcome::Completed);
    let events = access_events_after(&log, head);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::GroupRenamed(r) if r.to == "renamed-team")));
    assert!(
        !events.iter().any(|e| matches!(e, Event::GroupObserved(_))),
        "a rename is not a new group"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::GroupVanished(v) if v.group_id.as_str() == doomed.group_id)));
    assert_state_matches(&log, &sim.org());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_computes_the_events_and_appends_nothing() {
    let sim = start(Preset::Small, 9).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut opts = SyncOptions::new(SITE);
    opts.dry_run = true;
    let report = sync(&log, &client(&sim), opts).await.unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(log.head().position, 0);
    assert_eq!(
        report.dry_run_events.len() as u64,
        report.stats.events_written
    );
    assert!(report.dry_run_events.len() > 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_site_and_log_give_the_same_events_whatever_the_concurrency() {
    let sim = start(Preset::Small, 21).await;
    let mut runs = Vec::new();
    for concurrency in [1, 3, 16] {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        let mut opts = SyncOptions::new(SITE);
        opts.concurrency = concurrency;
        opts.run_id = Some(SyncRunId::from("fixed"));
        sync(&log, &client(&sim), opts).await.unwrap();
        runs.push(access_events_after(&log, 0));
    }
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_end_in_sync_failed_with_a_clear_reason() {
    let sim = start(Preset::Small, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let client = client_with(&sim, |c| c.token = grantledger_jira::ApiToken::new("wrong"));
    let report = run(&log, &client).await;
    let Outcome::Failed { reason, unfinished } = &report.outcome else {
        panic!("{report:?}")
    };
    assert!(reason.contains("check the email and API token"), "{reason}");
    assert!(!unfinished.is_empty());
    assert!(!reason.contains("wrong"), "the token must not appear");
    let last = log.get(log.head().position).unwrap().unwrap();
    assert!(matches!(last.event, Event::SyncFailed(_)));
    assert!(access_events_after(&log, 0).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_admin_rights_gets_sync_failed_naming_the_permission() {
    use grantledger_jira_sim::{Credential, Faults, Org, SimServer};
    let org = Org::generate(Preset::Small, 2);
    let plain = org.plain_user().unwrap().account_id.clone();
    let cred = Credential::new("someone@example.test", "their-token", plain);
    let sim = SimServer::start(org, vec![cred], Faults::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let client = client_with(&sim, |c| {
        c.email = "someone@example.test".into();
        c.token = grantledger_jira::ApiToken::new("their-token");
    });
    let report = run(&log, &client).await;
    let Outcome::Failed { reason, .. } = &report.outcome else {
        panic!("{report:?}")
    };
    assert!(
        reason.contains("403") && reason.contains("needs"),
        "{reason}"
    );
    let last = log.get(log.head().position).unwrap().unwrap();
    assert!(matches!(last.event, Event::SyncFailed(_)));
}
