//! A second writer of `jira:<site>` (ADR 0010): grantledger's command executor
//! records the grants it makes while a sync runs. The executor is played here
//! as the ADR describes it: it changes the simulator first, then appends one
//! `GrantAdded` or `GrantRemoved` with its cause, expecting the stream's
//! current version. A sync observer plays it at a chosen moment of the run, so
//! the append lands mid-sync deterministically.

use std::sync::{Arc, Mutex};

use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent, Record};
use grantledger_ingest::{
    sync, Outcome, Progress, SyncError, SyncObserver, SyncOptions, SyncReport,
};
use grantledger_jira::JiraClient;
use grantledger_jira_sim::{Preset, SimServer};
use grantledger_model::*;

use crate::common::*;

/// Runs `act` once, at the first progress report for which `when` holds.
struct Hook {
    when: Box<dyn Fn(&Progress) -> bool + Send + Sync>,
    act: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl SyncObserver for Hook {
    fn progress(&self, p: &Progress) {
        if (self.when)(p) {
            if let Some(act) = self.act.lock().unwrap().take() {
                act();
            }
        }
    }
}

fn hook(
    when: impl Fn(&Progress) -> bool + Send + Sync + 'static,
    act: impl FnOnce() + Send + 'static,
) -> Arc<Hook> {
    Arc::new(Hook {
        when: Box::new(when),
        act: Mutex::new(Some(Box::new(act))),
    })
}

/// The last scope has been diffed: every listing is done, nothing more of
/// this run is appended yet when the batches are larger than the run.
fn at_the_end(p: &Progress) -> bool {
    p.scopes_known > 4 && p.scopes_done == p.scopes_known
}

fn stream() -> StreamId {
    StreamId::jira_site(SITE)
}

/// What the executor appends once Jira confirmed its command.
fn executor_appends(log: &EventLog, event: Event) {
    let version = log.stream_version(&stream()).unwrap();
    log.append(
        &stream(),
        ExpectedVersion::Exact(version),
        vec![NewEvent::new(event)],
    )
    .unwrap();
}

fn applied(grant: &Grant, n: u32) -> Event {
    GrantAdded {
        grant: grant.clone(),
        cause: GrantCause::AppliedByRequest {
            request: RequestId::new(format!("req-{n}")),
            command: CommandId::new(format!("cmd-{n}")),
        },
    }
    .into()
}

fn expired(grant: &Grant, n: u32) -> Event {
    GrantRemoved {
        grant: grant.clone(),
        cause: GrantCause::RemovedAtExpiry {
            request: RequestId::new(format!("req-{n}")),
            command: CommandId::new(format!("cmd-{n}")),
        },
    }
    .into()
}

fn add_in_sim(sim: &SimServer, user: &str, group: &str) {
    sim.mutate(|org| {
        org.memberships
            .entry(group.to_owned())
            .or_default()
            .insert(user.to_owned());
    });
}

fn remove_in_sim(sim: &SimServer, user: &str, group: &str) {
    sim.mutate(|org| {
        if let Some(m) = org.memberships.get_mut(group) {
            m.remove(user);
        }
    });
}

/// Every `GrantAdded` / `GrantRemoved` of `grant` in the site's stream, as
/// (event type, cause).
fn history(log: &EventLog, grant: &Grant) -> Vec<(&'static str, GrantCause)> {
    log.read_stream(&stream(), 1)
        .unwrap()
        .into_iter()
        .filter_map(|r: Record| match r.event {
            Event::GrantAdded(e) if e.grant == *grant => Some(("GrantAdded", e.cause)),
            Event::GrantRemoved(e) if e.grant == *grant => Some(("GrantRemoved", e.cause)),
            _ => None,
        })
        .collect()
}

fn observed(events: &[(&'static str, GrantCause)]) -> usize {
    events
        .iter()
        .filter(|(_, c)| matches!(c, GrantCause::ObservedInSync { .. }))
        .count()
}

async fn sync_with(
    log: &EventLog,
    client: &JiraClient,
    tweak: impl FnOnce(&mut SyncOptions),
) -> SyncReport {
    let mut opts = SyncOptions::new(SITE);
    tweak(&mut opts);
    sync(log, client, opts).await.unwrap()
}

/// A group with members and an active human outside it.
fn pick(sim: &SimServer) -> (String, String, String) {
    let org = sim.org();
    let (group, member) = org
        .memberships
        .iter()
        .find(|(_, m)| m.len() >= 2)
        .map(|(g, m)| (g.clone(), m.iter().next().unwrap().clone()))
        .expect("the small org has a group with members");
    let outsider = org
        .outsider(&group, &[])
        .expect("someone outside the group")
        .account_id
        .clone();
    (group, member, outsider)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_applied_while_its_group_is_listed_is_recorded_once_and_the_sync_completes() {
    let sim = Arc::new(start(Preset::Small, 21).await);
    let (_dir, log) = grantledger_testkit::fresh_log();
    let client = client(&sim);
    assert_eq!(run(&log, &client).await.outcome, Outcome::Completed);
    let (group, _, user) = pick(&sim);
    let grant = Grant::membership(user.as_str().into(), group.as_str().into());

    // Every listing is done (the group's members listed without the user) when
    // grantledger adds the user in Jira and records it: the sync's batch then
    // meets the executor's record.
    let (s, l, u, g, gr) = (
        sim.clone(),
        log.clone(),
        user.clone(),
        group.clone(),
        grant.clone(),
    );
    let h = hook(at_the_end, move || {
        add_in_sim(&s, &u, &g);
        executor_appends(&l, applied(&gr, 1));
    });
    let report = sync_with(&log, &client, |o| {
        o.batch_events = usize::MAX;
        o.observer = Some(h);
    })
    .await;
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    assert!(report.rebases >= 1, "the sync met the executor's record");
    // The listing predates the grant: the sync neither removed it nor added it.
    let once = vec![(
        "GrantAdded",
        GrantCause::AppliedByRequest {
            request: RequestId::new("req-1"),
            command: CommandId::new("cmd-1"),
        },
    )];
    assert_eq!(history(&log, &grant), once);

    // The next sync lists the group after the grant: it has nothing to add.
    let next = run(&log, &client).await;
    assert_eq!(next.outcome, Outcome::Completed);
    assert_eq!(history(&log, &grant), once, "never observed a second time");
    assert_state_matches(&log, &sim.org());
    assert!(log.verify().unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_applied_before_its_group_is_listed_is_not_observed_by_the_sync() {
    let sim = Arc::new(start(Preset::Small, 22).await);
    let (_dir, log) = grantledger_testkit::fresh_log();
    let client = client(&sim);
    assert_eq!(run(&log, &client).await.outcome, Outcome::Completed);
    let (group, _, user) = pick(&sim);
    let grant = Grant::membership(user.as_str().into(), group.as_str().into());

    // One request at a time: when the user list is diffed, no group has been
    // asked for yet. The executor's record lands then, before the group's
    // listing (which holds the user) and before the sync's own batch, which
    // was diffed against a state without it: the append must rebase.
    let (s, l, u, g, gr) = (
        sim.clone(),
        log.clone(),
        user.clone(),
        group.clone(),
        grant.clone(),
    );
    let h = hook(
        |p| p.scopes_done == 1,
        move || {
            add_in_sim(&s, &u, &g);
            executor_appends(&l, applied(&gr, 2));
        },
    );
    let report = sync_with(&log, &client, |o| {
        o.concurrency = 1;
        o.batch_events = usize::MAX;
        o.observer = Some(h);
    })
    .await;
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    assert_eq!(report.rebases, 1, "{report:?}");
    assert_eq!(report.stats.events_written, 0, "nothing new for the sync");
    let events = history(&log, &grant);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(observed(&events), 0, "{events:?}");

    run(&log, &client).await;
    assert_eq!(history(&log, &grant), events);
    assert_state_matches(&log, &sim.org());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_removed_at_expiry_while_its_group_is_listed_is_recorded_once() {
    let sim = Arc::new(start(Preset::Small, 23).await);
    let (_dir, log) = grantledger_testkit::fresh_log();
    let client = client(&sim);
    assert_eq!(run(&log, &client).await.outcome, Outcome::Completed);
    let (group, user, _) = pick(&sim);
    let grant = Grant::membership(user.as_str().into(), group.as_str().into());
    let before = history(&log, &grant);
    assert_eq!(before.len(), 1, "the first sync observed the membership");

    // The group was listed with the user still in it; then the grant expires.
    let (s, l, u, g, gr) = (
        sim.clone(),
        log.clone(),
        user.clone(),
        group.clone(),
        grant.clone(),
    );
    let h = hook(at_the_end, move || {
        remove_in_sim(&s, &u, &g);
        executor_appends(&l, expired(&gr, 3));
    });
    let report = sync_with(&log, &client, |o| {
        o.batch_events = usize::MAX;
        o.observer = Some(h);
    })
    .await;
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    assert!(report.rebases >= 1);
    let mut want = before.clone();
    want.push((
        "GrantRemoved",
        GrantCause::RemovedAtExpiry {
            request: RequestId::new("req-3"),
            command: CommandId::new("cmd-3"),
        },
    ));
    assert_eq!(
        history(&log, &grant),
        want,
        "not re-added from a stale listing"
    );

    run(&log, &client).await;
    assert_eq!(history(&log, &grant), want, "nor by the next sync");
    assert_state_matches(&log, &sim.org());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grantledger_grant_removed_in_jira_is_recorded_as_observed_by_the_next_sync() {
    let sim = Arc::new(start(Preset::Small, 24).await);
    let (_dir, log) = grantledger_testkit::fresh_log();
    let client = client(&sim);
    assert_eq!(run(&log, &client).await.outcome, Outcome::Completed);
    let (group, _, user) = pick(&sim);
    let grant = Grant::membership(user.as_str().into(), group.as_str().into());

    add_in_sim(&sim, &user, &group);
    executor_appends(&log, applied(&grant, 4));
    let quiet = run(&log, &client).await;
    assert_eq!(quiet.outcome, Outcome::Completed);
    assert_eq!(
        quiet.stats.events_written, 0,
        "the grant is already recorded"
    );

    // Someone takes it away in Jira a minute later.
    remove_in_sim(&sim, &user, &group);
    let next = run(&log, &client).await;
    assert_eq!(next.outcome, Outcome::Completed, "{next:?}");
    let events = history(&log, &grant);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "GrantAdded");
    assert!(matches!(events[0].1, GrantCause::AppliedByRequest { .. }));
    assert_eq!(
        events[1],
        (
            "GrantRemoved",
            GrantCause::ObservedInSync {
                run: next.run.clone()
            }
        )
    );
    assert_state_matches(&log, &sim.org());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_during_the_final_batches_forces_a_rebase_and_the_log_matches_the_site() {
    let sim = Arc::new(start(Preset::Small, 25).await);
    let (_dir, log) = grantledger_testkit::fresh_log();
    let client = client(&sim);
    assert_eq!(run(&log, &client).await.outcome, Outcome::Completed);
    // Changes in many groups, so the run has many small batches to append.
    let org = sim.org();
    let groups: Vec<String> = org.memberships.keys().cloned().collect();
    for g in &groups {
        if let Some(u) = org.outsider(g, &[]) {
            add_in_sim(&sim, &u.account_id, g);
        }
    }
    let (group, _, user) = pick(&sim);
    let grant = Grant::membership(user.as_str().into(), group.as_str().into());

    let (s, l, u, g, gr) = (
        sim.clone(),
        log.clone(),
        user.clone(),
        group.clone(),
        grant.clone(),
    );
    let h = hook(
        |p| p.scopes_known > 4 && p.scopes_known - p.scopes_done <= 3,
        move || {
            add_in_sim(&s, &u, &g);
            executor_appends(&l, applied(&gr, 5));
        },
    );
    let report = sync_with(&log, &client, |o| {
        o.batch_events = 2;
        o.observer = Some(h);
    })
    .await;
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    assert!(report.rebases >= 1, "{report:?}");
    assert!(report.stats.events_written >= groups.len() as u64 / 2);
    assert_state_matches(&log, &sim.org());
    let events = history(&log, &grant);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(observed(&events), 0);
    // What the report counts is what the log holds of this run.
    let run_events = log
        .read_stream(&stream(), 1)
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.event.is_access_event() && r.causation == Some(Causation::SyncRun(report.run.clone()))
        })
        .count() as u64;
    assert_eq!(run_events, report.stats.events_written);
    assert!(log.verify().unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_cannot_append_past_another_writer_says_so_and_the_next_converges() {
    let sim = Arc::new(start(Preset::Small, 26).await);
    let (_dir, log) = grantledger_testkit::fresh_log();
    let client = client(&sim);
    assert_eq!(run(&log, &client).await.outcome, Outcome::Completed);
    let (group, _, user) = pick(&sim);
    let grant = Grant::membership(user.as_str().into(), group.as_str().into());
    // A change for the sync to record, and the executor appending before it can.
    let (_, member, _) = pick(&sim);
    let other = sim
        .org()
        .memberships
        .keys()
        .find(|g| **g != group && !sim.org().memberships[*g].contains(&member))
        .cloned()
        .unwrap();
    add_in_sim(&sim, &member, &other);
    let (s, l, u, g, gr) = (
        sim.clone(),
        log.clone(),
        user.clone(),
        group.clone(),
        grant.clone(),
    );
    let h = hook(at_the_end, move || {
        add_in_sim(&s, &u, &g);
        executor_appends(&l, applied(&gr, 6));
    });
    let head = log.head().position;
    let mut opts = SyncOptions::new(SITE);
    opts.batch_events = usize::MAX;
    opts.max_rebases = 0;
    opts.observer = Some(h);
    let err = sync(&log, &client, opts).await.unwrap_err();
    assert!(
        matches!(err, SyncError::Contended { attempts: 0, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("run the sync again"), "{err}");
    // SyncStarted, the audit log's checkpoint and the executor's grant:
    // nothing of the run's batch.
    assert_eq!(log.head().position, head + 3);

    let next = run(&log, &client).await;
    assert_eq!(next.outcome, Outcome::Completed, "{next:?}");
    assert_eq!(next.rebases, 0);
    assert_state_matches(&log, &sim.org());
    assert_eq!(history(&log, &grant).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_applied_after_its_group_was_listed_is_not_removed_once_folded_in() {
    let sim = Arc::new(start(Preset::Small, 27).await);
    let (_dir, log) = grantledger_testkit::fresh_log();
    let client = client(&sim);
    assert_eq!(run(&log, &client).await.outcome, Outcome::Completed);
    let org = sim.org();
    // An account deleted in Jira: the user list, first in order, is then taken
    // twice and the account looked up, while every group's members are listed.
    let gone = org.plain_user().unwrap().account_id.clone();
    let (group, _) = org
        .memberships
        .iter()
        .find(|(_, m)| !m.contains(&gone) && !m.is_empty())
        .unwrap();
    let group = group.clone();
    let user = org.outsider(&group, &[&gone]).unwrap().account_id.clone();
    let grant = Grant::membership(user.as_str().into(), group.as_str().into());
    sim.mutate(|org| {
        org.users.retain(|u| u.account_id != gone);
        for m in org.memberships.values_mut() {
            m.remove(&gone);
        }
        for role in org.projects.iter_mut().flat_map(|p| p.roles.iter_mut()) {
            role.user_actors.remove(&gone);
        }
    });
    let latency = std::time::Duration::from_millis(40);
    sim.set_faults(grantledger_jira_sim::Faults {
        latency,
        ..Default::default()
    });
    sim.reset_stats();
    let groups = org.groups.len() as u64;

    // When the user list is diffed, every group's members were listed (no
    // scope after it was diffed yet): grantledger adds the user to the group
    // and records it. The user list's batch meets that record and folds it in
    // before the group is diffed; the group's listing predates the grant.
    let (s, l, u, g, gr) = (
        sim.clone(),
        log.clone(),
        user.clone(),
        group.clone(),
        grant.clone(),
    );
    let h = hook(
        |p| p.scopes_done == 1,
        move || {
            let listed = || {
                s.stats()
                    .by_operation
                    .get("GET /rest/api/3/group/member")
                    .copied()
                    .unwrap_or(0)
            };
            let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while listed() < groups {
                assert!(
                    std::time::Instant::now() < until,
                    "every group's members are asked for while the user list is taken"
                );
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            // Asked for, and answered.
            std::thread::sleep(latency * 5);
            add_in_sim(&s, &u, &g);
            executor_appends(&l, applied(&gr, 7));
        },
    );
    let report = sync_with(&log, &client, |o| {
        o.concurrency = 512;
        o.batch_events = 1;
        o.observer = Some(h);
    })
    .await;
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    assert_eq!(report.rebases, 1, "{report:?}");
    assert_eq!(
        report.events_by_type.get("UserVanished"),
        Some(&1),
        "{report:?}"
    );
    let events = history(&log, &grant);
    assert_eq!(events.len(), 1, "neither removed nor observed: {events:?}");
    assert_eq!(observed(&events), 0);

    sim.set_faults(grantledger_jira_sim::Faults::default());
    let next = run(&log, &client).await;
    assert_eq!(next.outcome, Outcome::Completed);
    assert_eq!(history(&log, &grant), events);
    assert_state_matches(&log, &sim.org());
}
