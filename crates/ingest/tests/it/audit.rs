//! Jira's audit log read by the sync (ADR 0019) and the refresh it drives
//! (ADR 0020), against the simulator, whose writes record audit entries.

use std::sync::Arc;
use std::time::Duration;

use grantledger_clock::{Clock, ManualClock};
use grantledger_eventlog::EventLog;
use grantledger_ingest::{sync, Outcome, SyncOptions, SyncReport};
use grantledger_jira::JiraClient;
use grantledger_jira_sim::{Credential, Org, SimServer};
use grantledger_model::*;
use proptest::prelude::*;

use crate::common::*;

/// 2026-06-05T10:00:00Z
const T0: i64 = 1_780_653_600_000_000;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp(T0)))
}

async fn run_with(
    log: &EventLog,
    client: &JiraClient,
    clock: &Arc<ManualClock>,
    refresh: bool,
) -> SyncReport {
    let mut opts = SyncOptions::new(SITE);
    opts.clock = clock.clone();
    opts.refresh = refresh;
    let r = sync(log, client, opts).await.unwrap();
    assert_eq!(r.outcome, Outcome::Completed, "{r:?}");
    r
}

fn audit_events(log: &EventLog) -> Vec<Event> {
    log.read_stream(&StreamId::audit_site(SITE), 1)
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect()
}

fn observed(log: &EventLog) -> Vec<AuditRecordObserved> {
    audit_events(log)
        .into_iter()
        .filter_map(|e| match e {
            Event::AuditRecordObserved(o) => Some(o),
            _ => None,
        })
        .collect()
}

/// A second site admin, signed in with a credential of their own.
fn named_admin(sim: &SimServer) -> (String, JiraClient) {
    let org = sim.org();
    let first = Credential::admin_of(&org).account_id;
    let alex = org
        .site_admins
        .iter()
        .find(|a| **a != first && org.user(a).is_some_and(|u| u.active))
        .expect("a second active site admin")
        .clone();
    sim.add_credential(Credential::new(
        "alex@example.test",
        "alex-token",
        alex.clone(),
    ));
    let c = grantledger_testkit::client_for(sim, "alex@example.test", "alex-token");
    (alex, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_records_are_imported_once_each_with_a_checkpoint() {
    let sim = start(grantledger_jira_sim::Preset::Small, 7).await;
    let clock = clock();
    sim.set_clock(clock.clone());
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let client = client(&sim);

    let first = run_with(&log, &client, &clock, false).await;
    let generated = sim.org().audit.len();
    let a = first.audit.as_ref().expect("the audit log was read");
    assert_eq!(
        (a.read, a.new, a.from),
        (generated as u64, generated as u64, None)
    );
    assert_eq!(observed(&log).len(), generated);

    // Alex adds someone to a group at 10:42.
    clock.advance(Duration::from_secs(42 * 60));
    let (alex, alex_client) = named_admin(&sim);
    let org = sim.org();
    let group = org
        .groups
        .iter()
        .find(|g| g.name.starts_with("team-"))
        .unwrap_or(&org.groups[0]);
    let outsider = org
        .outsider(&group.group_id, &[])
        .unwrap()
        .account_id
        .clone();
    alex_client
        .add_group_member(
            &GroupId::from(group.group_id.as_str()),
            &AccountId::from(outsider.as_str()),
        )
        .await
        .unwrap();
    clock.advance(Duration::from_secs(60));
    let second = run_with(&log, &client, &clock, false).await;
    let a = second.audit.as_ref().unwrap();
    assert_eq!(a.new, 1);
    assert_eq!(
        a.from,
        Some(Timestamp(T0 - 600_000_000)),
        "the checkpoint less the overlap"
    );
    let all = observed(&log);
    assert_eq!(all.len(), generated + 1);
    let last = all.last().unwrap();
    assert_eq!(last.summary, "User added to group");
    assert_eq!(last.author, Some(AccountId::from(alex.as_str())));
    assert_eq!(last.created, Timestamp(T0 + 42 * 60_000_000));
    assert_eq!(
        last.object.as_ref().unwrap().name.as_deref(),
        Some(group.name.as_str())
    );

    // Read again within the overlap: the record is seen, not appended twice.
    clock.advance(Duration::from_secs(60));
    let third = run_with(&log, &client, &clock, false).await;
    let a = third.audit.as_ref().unwrap();
    assert_eq!((a.read, a.new), (1, 0));
    assert_eq!(observed(&log).len(), generated + 1);
    let reads = audit_events(&log)
        .into_iter()
        .filter(|e| matches!(e, Event::AuditLogRead(_)))
        .count();
    assert_eq!(reads, 3, "one checkpoint per run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_lists_what_the_audit_log_names_and_a_full_sync_counts_what_it_missed() {
    let sim = start(grantledger_jira_sim::Preset::Small, 7).await;
    let clock = clock();
    sim.set_clock(clock.clone());
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let client = client(&sim);
    let full = run_with(&log, &client, &clock, false).await;
    assert_eq!(full.missed_by_refresh, None);

    clock.advance(Duration::from_secs(300));
    let org = sim.org();
    let group = &org.groups[org.groups.len() - 1];
    let outsider = org
        .outsider(&group.group_id, &[])
        .unwrap()
        .account_id
        .clone();
    client
        .add_group_member(
            &GroupId::from(group.group_id.as_str()),
            &AccountId::from(outsider.as_str()),
        )
        .await
        .unwrap();
    let project = org.project_with_roles().unwrap();
    let role = &project.roles[0];
    let newcomer = org
        .active_humans()
        .find(|u| !role.user_actors.contains(&u.account_id))
        .unwrap()
        .account_id
        .clone();
    client
        .add_role_actor(
            &ProjectId::from(project.id.as_str()),
            &RoleId::from(role.id.to_string().as_str()),
            &Principal::User(AccountId::from(newcomer.as_str())),
        )
        .await
        .unwrap();
    let plain = org.plain_user().unwrap().account_id.clone();
    assert!(sim.set_user_active(&plain, false, None));
    clock.advance(Duration::from_secs(60));

    sim.reset_stats();
    let refresh = run_with(&log, &client, &clock, true).await;
    assert!(refresh.run.as_str().starts_with("refresh-"));
    let named = refresh.refreshed.clone().unwrap();
    assert_eq!(named.group_names.len(), 1);
    assert_eq!(named.roles.len(), 1);
    assert!(named.projects.is_empty());
    assert_state_matches(&log, &sim.org());
    // Audit page + users (2) + groups + projects + products + one group's
    // members + one role's actors.
    let expected = 1 + 2 + 1 + 1 + 1 + 1 + 1;
    assert_eq!(refresh.stats.requests, expected, "{:?}", sim.stats());
    assert_eq!(refresh.stats.minimum_requests, expected);

    clock.advance(Duration::from_secs(60));
    let after = run_with(&log, &client, &clock, false).await;
    assert_eq!(after.stats.events_written, 0);
    assert_eq!(after.missed_by_refresh, Some(0));

    // A change Jira's audit log does not show (made behind the API): the
    // refresh misses it, the full sync records it and says so.
    sim.mutate(|o: &mut Org| {
        let members = o.memberships.get_mut(&group.group_id).unwrap();
        members.remove(&outsider);
    });
    clock.advance(Duration::from_secs(60));
    let missed = run_with(&log, &client, &clock, true).await;
    assert_eq!(missed.stats.events_written, 0);
    clock.advance(Duration::from_secs(60));
    let caught = run_with(&log, &client, &clock, false).await;
    assert_eq!(caught.stats.events_written, 1);
    assert_eq!(caught.missed_by_refresh, Some(1));
    assert_state_matches(&log, &sim.org());
}

#[derive(Debug, Clone)]
enum Write {
    AddMember(usize, usize),
    RemoveMember(usize, usize),
    AddActor(usize, usize, usize),
    RemoveActor(usize, usize),
    Deactivate(usize),
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(g, u)| Write::AddMember(g, u)),
        (any::<usize>(), any::<usize>()).prop_map(|(g, u)| Write::RemoveMember(g, u)),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(p, r, u)| Write::AddActor(p, r, u)),
        (any::<usize>(), any::<usize>()).prop_map(|(p, r)| Write::RemoveActor(p, r)),
        any::<usize>().prop_map(Write::Deactivate),
    ]
}

/// Applies `w` through the simulator's API (a write that does not apply —
/// already a member, nobody to remove — is skipped).
async fn apply(sim: &SimServer, client: &JiraClient, w: &Write) {
    let org = sim.org();
    let humans: Vec<&str> = org.active_humans().map(|u| u.account_id.as_str()).collect();
    let admin = Credential::admin_of(&org).account_id;
    let humans: Vec<&str> = humans.into_iter().filter(|a| *a != admin).collect();
    match *w {
        Write::AddMember(g, u) => {
            let group = &org.groups[g % org.groups.len()];
            let who = humans[u % humans.len()];
            if !org
                .memberships
                .get(&group.group_id)
                .is_some_and(|m| m.contains(who))
            {
                client
                    .add_group_member(
                        &GroupId::from(group.group_id.as_str()),
                        &AccountId::from(who),
                    )
                    .await
                    .unwrap();
            }
        }
        Write::RemoveMember(g, u) => {
            let group = &org.groups[g % org.groups.len()];
            let members: Vec<&String> = org
                .memberships
                .get(&group.group_id)
                .map(|m| m.iter().filter(|a| **a != admin).collect())
                .unwrap_or_default();
            if !members.is_empty() {
                let who = members[u % members.len()];
                client
                    .remove_group_member(
                        &GroupId::from(group.group_id.as_str()),
                        &AccountId::from(who.as_str()),
                    )
                    .await
                    .unwrap();
            }
        }
        Write::AddActor(p, r, u) => {
            let project = &org.projects[p % org.projects.len()];
            if project.roles.is_empty() {
                return;
            }
            let role = &project.roles[r % project.roles.len()];
            let who = humans[u % humans.len()];
            if !role.user_actors.contains(who) {
                client
                    .add_role_actor(
                        &ProjectId::from(project.id.as_str()),
                        &RoleId::from(role.id.to_string().as_str()),
                        &Principal::User(AccountId::from(who)),
                    )
                    .await
                    .unwrap();
            }
        }
        Write::RemoveActor(p, r) => {
            let project = &org.projects[p % org.projects.len()];
            if project.roles.is_empty() {
                return;
            }
            let role = &project.roles[r % project.roles.len()];
            let actor = role
                .user_actors
                .iter()
                .find(|a| **a != admin)
                .map(|a| Principal::User(AccountId::from(a.as_str())))
                .or_else(|| {
                    role.group_actors
                        .iter()
                        .next()
                        .map(|g| Principal::Group(GroupId::from(g.as_str())))
                });
            if let Some(actor) = actor {
                client
                    .remove_role_actor(
                        &ProjectId::from(project.id.as_str()),
                        &RoleId::from(role.id.to_string().as_str()),
                        &actor,
                    )
                    .await
                    .unwrap();
            }
        }
        Write::Deactivate(u) => {
            sim.set_user_active(humans[u % humans.len()], false, None);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    /// For any sequence of writes through the API, a refresh records what a
    /// full sync would: the full sync after it records nothing, and the log's
    /// state is the simulator's.
    #[test]
    fn a_refresh_then_a_full_sync_records_nothing_more(writes in proptest::collection::vec(write(), 1..8)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let sim = start(grantledger_jira_sim::Preset::Small, 7).await;
            let clock = clock();
            sim.set_clock(clock.clone());
            let dir = tempfile::tempdir().unwrap();
            let log = open(dir.path());
            let client = client(&sim);
            run_with(&log, &client, &clock, false).await;
            for w in &writes {
                clock.advance(Duration::from_secs(7));
                apply(&sim, &client, w).await;
            }
            clock.advance(Duration::from_secs(60));
            let refresh = run_with(&log, &client, &clock, true).await;
            assert_state_matches(&log, &sim.org());
            clock.advance(Duration::from_secs(60));
            let full = run_with(&log, &client, &clock, false).await;
            assert_eq!(full.stats.events_written, 0, "after {writes:?}: the refresh recorded {:?}", refresh.events_by_type);
            assert_eq!(full.missed_by_refresh, Some(0));
            let _ = clock.now();
        });
    }
}

/// The history entry of the record that recorded `pick`.
fn entry_of(log: &EventLog, pick: impl Fn(&Event) -> bool) -> grantledger_projection::Entry {
    let r = log
        .read_stream(&StreamId::jira_site(SITE), 1)
        .unwrap()
        .into_iter()
        .rev()
        .find(|r| pick(&r.event))
        .expect("the change is in the log");
    r.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_names_who_made_a_change_in_jira_and_says_when_nobody_is_known() {
    use grantledger_projection::{report, Attribution, AuditTrail, SiteState};

    let sim = start(grantledger_jira_sim::Preset::Small, 7).await;
    let clock = clock();
    sim.set_clock(clock.clone());
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let client = client(&sim);
    run_with(&log, &client, &clock, false).await;

    // Alex Kim adds a member at 10:42 and a role actor at 10:43; someone is
    // deactivated in admin.atlassian.com; a membership changes behind Jira's log.
    let (alex, alex_client) = named_admin(&sim);
    sim.mutate(|o: &mut Org| {
        if let Some(u) = o.users.iter_mut().find(|u| u.account_id == alex) {
            u.display_name = "Alex Kim".into();
        }
    });
    let org = sim.org();
    let group = &org.groups[org.groups.len() - 1];
    let outsider = org
        .outsider(&group.group_id, &[])
        .unwrap()
        .account_id
        .clone();
    clock.advance(Duration::from_secs(42 * 60));
    alex_client
        .add_group_member(
            &GroupId::from(group.group_id.as_str()),
            &AccountId::from(outsider.as_str()),
        )
        .await
        .unwrap();
    clock.advance(Duration::from_secs(60));
    let project = org.project_with_roles().unwrap();
    let role = &project.roles[0];
    let group_actor = org
        .groups
        .iter()
        .find(|g| !role.group_actors.contains(&g.group_id))
        .unwrap();
    alex_client
        .add_role_actor(
            &ProjectId::from(project.id.as_str()),
            &RoleId::from(role.id.to_string().as_str()),
            &Principal::Group(GroupId::from(group_actor.group_id.as_str())),
        )
        .await
        .unwrap();
    let plain = org
        .active_humans()
        .find(|u| u.account_id != alex && u.account_id != outsider && !org.is_admin(&u.account_id))
        .unwrap()
        .account_id
        .clone();
    assert!(sim.set_user_active(&plain, false, None));
    let (hidden_group, hidden_member) = org
        .membership_except(&group.group_id, &[&alex, &outsider, &plain])
        .unwrap();
    let (hidden_group, hidden_member) = (hidden_group.to_owned(), hidden_member.to_owned());
    sim.mutate(|o: &mut Org| {
        o.memberships
            .get_mut(&hidden_group)
            .unwrap()
            .remove(&hidden_member);
    });
    clock.advance(Duration::from_secs(60));
    run_with(&log, &client, &clock, false).await;

    let state = SiteState::load(&log, SITE).unwrap();
    let trail = AuditTrail::load(&log, SITE).unwrap();
    let added = entry_of(
        &log,
        |e| matches!(e, Event::GrantAdded(g) if g.grant == Grant::membership(AccountId::from(outsider.as_str()), GroupId::from(group.group_id.as_str()))),
    );
    match trail.explain(&added, &state) {
        Some(Attribution::Recorded { author, at, .. }) => {
            assert_eq!(author, Some(AccountId::from(alex.as_str())));
            assert_eq!(at, Timestamp(T0 + 42 * 60_000_000));
        }
        other => panic!("the membership is explained by Alex's record, not {other:?}"),
    }
    let actor = entry_of(
        &log,
        |e| matches!(e, Event::GrantAdded(g) if g.grant.principal == Principal::Group(GroupId::from(group_actor.group_id.as_str()))),
    );
    assert!(matches!(
        trail.explain(&actor, &state),
        Some(Attribution::Recorded { author: Some(a), .. }) if a.as_str() == alex
    ));
    let deactivated = entry_of(
        &log,
        |e| matches!(e, Event::UserDeactivated(u) if u.account_id.as_str() == plain),
    );
    assert!(matches!(
        trail.explain(&deactivated, &state),
        Some(Attribution::Recorded { author: None, .. })
    ));
    let hidden = entry_of(
        &log,
        |e| matches!(e, Event::GrantRemoved(g) if g.grant == Grant::membership(AccountId::from(hidden_member.as_str()), GroupId::from(hidden_group.as_str()))),
    );
    assert!(matches!(
        trail.explain(&hidden, &state),
        Some(Attribution::Unrecorded(_))
    ));

    // As history shows them.
    let entries = vec![added, deactivated, hidden];
    let mut r = report::history(
        SITE,
        &state,
        report::AsOf::after(0, None),
        &grantledger_projection::Subject::User(AccountId::from(outsider.as_str())),
        &entries,
        entries.len(),
    );
    report::attribute(&mut r, &entries, &trail, &state);
    let texts: Vec<String> = r
        .entries
        .iter()
        .map(|e| e.in_jira.clone().unwrap().text)
        .collect();
    assert_eq!(
        texts[0],
        "added by Alex Kim in Jira at 10:42 (2026-06-05, UTC)"
    );
    assert!(
        texts[1].starts_with("deactivated in Jira at 10:43")
            && texts[1].contains("names no author"),
        "{}",
        texts[1]
    );
    assert!(
        texts[2].starts_with("no Jira audit record explains it"),
        "{}",
        texts[2]
    );
}
