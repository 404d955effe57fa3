//! Sync against a simulator that misbehaves: 429 storms, 503s, dropped connections,
//! malformed and repeated pages, retry budgets that run out.
//!
//! Every faulty run must end either `Completed` with the org recorded exactly, or
//! `Failed` with `SyncFailed` as the log's last record, no false removal (whatever
//! the log held that the org still has is still there) and nothing recorded that the
//! org does not have. A clean sync afterwards converges exactly, and verify passes.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use grantledger_eventlog::EventLog;
use grantledger_ingest::{sync, Outcome, SyncOptions, SyncReport};
use grantledger_jira::RetryPolicy;
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer, SimStats, SimUser};
use grantledger_model::*;
use grantledger_projection::SiteState;

/// What a state holds, as comparable facts: each key (a user, a group, a project,
/// a role, a product) and each full record, so that a removal and a change both
/// show up as a missing fact.
fn facts(s: &SiteState) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (id, u) in &s.users {
        out.insert(format!("user {id}"));
        out.insert(format!("user record {u:?}"));
    }
    for (id, g) in &s.groups {
        out.insert(format!("group {id}"));
        out.insert(format!("group record {g:?}"));
    }
    for (g, members) in &s.members {
        for a in members {
            out.insert(format!("member {a} of group {g}"));
        }
    }
    for (id, p) in &s.projects {
        out.insert(format!("project {id}"));
        out.insert(format!("project record {p:?}"));
    }
    for (p, roles) in &s.roles {
        for (r, rec) in roles {
            out.insert(format!("role {r} of project {p}"));
            out.insert(format!("role record {rec:?}"));
        }
    }
    for ((p, r), actors) in &s.role_actors {
        for a in actors {
            out.insert(format!("actor {a:?} of role {r} in project {p}"));
        }
    }
    for (k, (name, groups)) in &s.products {
        out.insert(format!("product {k}"));
        out.insert(format!("product record {k} {name:?} {groups:?}"));
    }
    out
}

/// After a failed run: nothing that the log held and the org still has was
/// removed, and nothing was recorded that is neither old nor in the org.
fn assert_no_false_removal(before: &SiteState, after: &SiteState, org: &Org) {
    let before = facts(before);
    let after = facts(after);
    let org = facts(&expected(org));
    for fact in before.intersection(&org) {
        assert!(
            after.contains(fact),
            "a failed run removed what the org still has: {fact}"
        );
    }
    for fact in &after {
        assert!(
            before.contains(fact) || org.contains(fact),
            "a failed run recorded what the org does not have: {fact}"
        );
    }
}

/// Checks how a (possibly faulty) run ended, whichever way it ended.
fn check_run(log: &EventLog, before: &SiteState, org: &Org, report: &SyncReport) {
    let last = log.get(log.head().position).unwrap().unwrap();
    match &report.outcome {
        Outcome::Completed => {
            assert_state_matches(log, org);
            let Event::SyncCompleted(done) = &last.event else {
                panic!(
                    "a completed run must end with SyncCompleted: {:?}",
                    last.event
                )
            };
            assert_eq!(done.run, report.run);
        }
        Outcome::Failed { reason, unfinished } => {
            assert!(!reason.is_empty());
            assert!(!unfinished.is_empty(), "a failed run names what it left");
            let Event::SyncFailed(failed) = &last.event else {
                panic!("a failed run must end with SyncFailed: {:?}", last.event)
            };
            assert_eq!(failed.run, report.run);
            assert_eq!(&failed.reason, reason);
            assert_eq!(&failed.unfinished_scopes, unfinished);
            let after = SiteState::load(log, SITE).unwrap();
            assert_no_false_removal(before, &after, org);
        }
    }
    let v = log.verify().unwrap();
    assert!(v.is_ok(), "{:?}", v.problem);
}

/// A clean sync converges exactly; one more records nothing.
async fn converge(log: &EventLog, sim: &SimServer) {
    sim.set_faults(Faults::default());
    let client = client(sim);
    let report = run(log, &client).await;
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    assert_state_matches(log, &sim.org());
    let head = log.head().position;
    let again = run(log, &client).await;
    assert_eq!(again.outcome, Outcome::Completed);
    assert!(access_events_after(log, head).is_empty());
    let v = log.verify().unwrap();
    assert!(v.is_ok(), "{:?}", v.problem);
}

/// The admin's account: never touched by the changes below, so the credential
/// stays valid.
fn admin(org: &Org) -> String {
    Credential::admin_of(org).account_id
}

/// Changes of every kind a sync records: members leave and join, a user is
/// deactivated, role actors go. Returns the (group, account) memberships removed.
fn change_org(sim: &SimServer) -> Vec<(String, String)> {
    let org = sim.org();
    let admin = admin(&org);
    let mut removed = Vec::new();
    for (g, members) in &org.memberships {
        if let Some(a) = members.iter().find(|a| **a != admin) {
            removed.push((g.clone(), a.clone()));
        }
    }
    let (join_group, join_members) = org.memberships.iter().next().unwrap();
    let joining = org
        .users
        .iter()
        .find(|u| u.active && !join_members.contains(&u.account_id))
        .unwrap()
        .account_id
        .clone();
    let join_group = join_group.clone();
    let deactivated = org
        .users
        .iter()
        .find(|u| u.active && u.account_id != admin && u.account_id != joining)
        .unwrap()
        .account_id
        .clone();
    let gone = removed.clone();
    sim.mutate(move |o| {
        for (g, a) in &gone {
            o.memberships.get_mut(g).unwrap().remove(a);
        }
        o.memberships.get_mut(&join_group).unwrap().insert(joining);
        o.users
            .iter_mut()
            .find(|u| u.account_id == deactivated)
            .unwrap()
            .active = false;
        for p in &mut o.projects {
            for r in &mut p.roles {
                let first = r.user_actors.iter().find(|a| **a != admin).cloned();
                if let Some(a) = first {
                    r.user_actors.remove(&a);
                }
            }
        }
    });
    removed
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 8,
        max_total_wait: Duration::from_secs(10),
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(80),
    }
}

/// The two faulty runs of a round, with what the simulator saw during each.
struct Round {
    /// The run on a log that had a complete sync before the org changed.
    synced: SyncReport,
    synced_stats: SimStats,
    /// The run on a fresh log.
    fresh: SyncReport,
    fresh_stats: SimStats,
}

impl Round {
    fn runs(&self) -> [(&SyncReport, &SimStats); 2] {
        [
            (&self.synced, &self.synced_stats),
            (&self.fresh, &self.fresh_stats),
        ]
    }
}

fn faults_of(stats: &SimStats, kind: &str) -> u64 {
    stats.faults_by_kind.get(kind).copied().unwrap_or(0)
}

/// One round: a log synced cleanly before the org changed, and a fresh log, are
/// both synced under `faults`; each run is checked, then a clean sync converges
/// on both logs.
async fn fault_round(seed: u64, faults: Faults, policy: RetryPolicy) -> Round {
    let sim = start(Preset::Small, seed).await;
    let synced_dir = tempfile::tempdir().unwrap();
    let synced = open(synced_dir.path());
    let first = run(&synced, &client(&sim)).await;
    assert_eq!(first.outcome, Outcome::Completed);
    change_org(&sim);
    let org = sim.org();

    sim.set_faults(faults);
    let faulty = client_with(&sim, |c| c.retry = policy);
    let before = SiteState::load(&synced, SITE).unwrap();
    sim.reset_stats();
    let a = run(&synced, &faulty).await;
    let a_stats = sim.stats();
    check_run(&synced, &before, &org, &a);

    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = open(fresh_dir.path());
    sim.reset_stats();
    let b = run(&fresh, &faulty).await;
    let b_stats = sim.stats();
    check_run(&fresh, &SiteState::default(), &org, &b);
    eprintln!(
        "faulty runs: {:?} ({} faults), {:?} ({} faults)",
        a.outcome, a_stats.faults_injected, b.outcome, b_stats.faults_injected
    );
    assert!(
        a_stats.faults_injected > 0 && b_stats.faults_injected > 0,
        "the faults must have fired: {a_stats:?} {b_stats:?}"
    );

    converge(&synced, &sim).await;
    converge(&fresh, &sim).await;
    Round {
        synced: a,
        synced_stats: a_stats,
        fresh: b,
        fresh_stats: b_stats,
    }
}

/// Every retried fault shows as a retry in the run's figures.
fn assert_retried(round: &Round, kind: &str) {
    for (report, stats) in round.runs() {
        let n = faults_of(stats, kind);
        assert!(n > 0, "no {kind} fault fired: {stats:?}");
        assert!(
            report.stats.retries > 0,
            "{n} {kind} faults but no retry: {:?}",
            report.stats
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_third_request_rate_limited_without_retry_after_uses_the_clients_backoff() {
    let faults = Faults {
        rate_limit_every: Some(3),
        ..Faults::default()
    };
    let round = fault_round(31, faults, fast_policy()).await;
    assert_retried(&round, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_of_requests_rate_limited_at_random_ends_safely_either_way() {
    let faults = Faults {
        rate_limit_ratio: 0.33,
        ..Faults::default()
    };
    let round = fault_round(32, faults, fast_policy()).await;
    assert_retried(&round, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_waited_out_and_the_run_completes() {
    // Retry-After is in whole seconds: a 429 every 40th request only (about one
    // per run of the small org), to keep the test short.
    let faults = Faults {
        rate_limit_every: Some(40),
        retry_after_secs: 1,
        ..Faults::default()
    };
    let round = fault_round(33, faults, fast_policy()).await;
    for (report, stats) in round.runs() {
        assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
        if faults_of(stats, "rate_limited") > 0 {
            assert!(
                report.stats.wait_ms >= 900,
                "a 1 s Retry-After must be waited out: {:?}",
                report.stats
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_every_fourth_request_is_retried() {
    let faults = Faults {
        server_error_every: Some(4),
        ..Faults::default()
    };
    let round = fault_round(34, faults, fast_policy()).await;
    assert_retried(&round, "server_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_retried_for_reads() {
    let faults = Faults {
        drop_every: Some(5),
        ..Faults::default()
    };
    let round = fault_round(35, faults, fast_policy()).await;
    assert_retried(&round, "dropped_connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_pages_mid_sync_fail_the_run_without_false_removals() {
    // A 200 with a body cut in half is not retried: its scope fails.
    let faults = Faults {
        malformed_every: Some(9),
        ..Faults::default()
    };
    let round = fault_round(36, faults, fast_policy()).await;
    for (report, _) in round.runs() {
        let Outcome::Failed { reason, .. } = &report.outcome else {
            panic!("a malformed page must fail its scope: {report:?}")
        };
        assert!(reason.contains("cannot decode"), "{reason}");
        assert!(
            report.stats.events_written > 0,
            "the scopes listed before and after the bad page are recorded"
        );
    }
}

/// Removals recorded by the run on `log` after `head`, as grants.
fn removals_after(log: &EventLog, head: u64) -> BTreeSet<Grant> {
    access_events_after(log, head)
        .into_iter()
        .filter_map(|e| match e {
            Event::GrantRemoved(r) => Some(r.grant),
            _ => None,
        })
        .collect()
}

fn membership(group: &str, account: &str) -> Grant {
    Grant::membership(AccountId::new(account), GroupId::new(group))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_budget_exhausted_half_way_records_no_removal_for_unfinished_scopes() {
    let sim = start(Preset::Small, 41).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let clean = client(&sim);
    assert_eq!(run(&log, &clean).await.outcome, Outcome::Completed);
    let removed = change_org(&sim);
    let org = sim.org();

    // Every third request's connection drops and nothing is retried. With one
    // listing at a time the requests come in a fixed order; start the run on a
    // sequence number that lets the group list through (the fault sequence
    // counts every /rest request since the server started, as the stats do).
    while sim.stats().total % 3 != 1 {
        clean.myself().await.unwrap();
    }
    sim.set_faults(Faults {
        drop_every: Some(3),
        ..Faults::default()
    });
    let faulty = client_with(&sim, |c| {
        c.retry = RetryPolicy {
            max_attempts: 1,
            ..fast_policy()
        }
    });
    let mut opts = SyncOptions::new(SITE);
    opts.concurrency = 1;
    let before = SiteState::load(&log, SITE).unwrap();
    let head = log.head().position;
    let report = sync(&log, &faulty, opts).await.unwrap();
    check_run(&log, &before, &org, &report);
    let Outcome::Failed { reason, unfinished } = &report.outcome else {
        panic!("every third request failing must fail the run: {report:?}")
    };
    assert!(reason.contains("after 1 attempts"), "{reason}");
    assert!(
        report.stats.events_written > 0,
        "scopes listed before the budget ran out are recorded"
    );

    // Per group: the member removed from the org is removed in the log exactly
    // when that group's listing finished.
    let state = SiteState::load(&log, SITE).unwrap();
    let recorded = removals_after(&log, head);
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for (g, a) in &removed {
        let grant = membership(g, a);
        let unfinished_scope = unfinished.contains(&format!("members of group {g}"));
        assert_eq!(
            state.has_grant(&grant),
            unfinished_scope,
            "group {g}: listing unfinished = {unfinished_scope}"
        );
        assert_eq!(recorded.contains(&grant), !unfinished_scope);
        if unfinished_scope {
            kept.push(grant)
        } else {
            dropped.push(grant)
        }
    }
    assert!(
        !kept.is_empty() && !dropped.is_empty(),
        "the run must stop half-way: {} member listings failed, {} finished; unfinished: {unfinished:?}",
        kept.len(),
        dropped.len()
    );
    // No removal at all was recorded for an unfinished scope.
    for grant in &recorded {
        if let Entitlement::GroupMembership { group } = &grant.entitlement {
            assert!(
                !unfinished.contains(&format!("members of group {group}")),
                "{grant:?}"
            );
        }
        if let Entitlement::ProjectRole { project, role } = &grant.entitlement {
            assert!(
                !unfinished.contains(&format!("actors of role {role} in project {project}")),
                "{grant:?}"
            );
        }
    }

    // The clean sync records what the failed one could not.
    let head = log.head().position;
    converge(&log, &sim).await;
    let recorded = removals_after(&log, head);
    for grant in &kept {
        assert!(recorded.contains(grant), "{grant:?} recorded later");
    }
    for grant in &dropped {
        assert!(!recorded.contains(grant), "{grant:?} recorded twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_pages_fail_the_run_on_paging_and_remove_nothing_unlisted() {
    let sim = start(Preset::Small, 42).await;
    // One group of more than one members page (50): under repeat_page, its
    // listing is the one that cannot finish. Twenty more accounts, all in it.
    let big = sim.org().groups[0].group_id.clone();
    {
        let big = big.clone();
        sim.mutate(move |o| {
            for i in 0..20 {
                o.users.push(SimUser {
                    account_id: format!("712020:extra-{i}"),
                    account_type: "atlassian".into(),
                    display_name: format!("Extra {i}"),
                    email: Some(format!("extra{i}@example.test")),
                    email_hidden: false,
                    active: true,
                });
            }
            let everyone: Vec<String> = o.users.iter().map(|u| u.account_id.clone()).collect();
            o.memberships.entry(big).or_default().extend(everyone);
        });
    }
    assert!(sim.org().memberships[&big].len() > 60);
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    assert_eq!(run(&log, &client(&sim)).await.outcome, Outcome::Completed);

    // Members leave the big group and a small one.
    let org = sim.org();
    let admin = admin(&org);
    let leaving_big: Vec<String> = org.memberships[&big]
        .iter()
        .filter(|a| **a != admin)
        .take(2)
        .cloned()
        .collect();
    let (small, small_members) = org
        .memberships
        .iter()
        .find(|(g, m)| **g != big && m.iter().any(|a| *a != admin))
        .unwrap();
    let leaving_small = small_members.iter().find(|a| **a != admin).unwrap().clone();
    let small = small.clone();
    {
        let (big, small, lb, ls) = (
            big.clone(),
            small.clone(),
            leaving_big.clone(),
            leaving_small.clone(),
        );
        sim.mutate(move |o| {
            for a in &lb {
                o.memberships.get_mut(&big).unwrap().remove(a);
            }
            o.memberships.get_mut(&small).unwrap().remove(&ls);
        });
    }
    let org = sim.org();
    assert!(org.memberships[&big].len() > 50);

    sim.set_faults(Faults {
        repeat_page: true,
        ..Faults::default()
    });
    let before = SiteState::load(&log, SITE).unwrap();
    let head = log.head().position;
    let report = run(&log, &client(&sim)).await;
    check_run(&log, &before, &org, &report);
    let Outcome::Failed { reason, unfinished } = &report.outcome else {
        panic!("a server that repeats pages must fail the run: {report:?}")
    };
    assert!(reason.contains("paging"), "{reason}");
    assert!(unfinished.contains(&"users".to_string()), "{unfinished:?}");
    assert!(
        unfinished.contains(&format!("members of group {big}")),
        "{unfinished:?}"
    );
    assert!(!unfinished.contains(&format!("members of group {small}")));
    let recorded = removals_after(&log, head);
    for a in &leaving_big {
        assert!(
            !recorded.contains(&membership(&big, a)),
            "the big group's listing failed: no removal"
        );
    }
    assert_eq!(
        recorded,
        BTreeSet::from([membership(&small, &leaving_small)]),
        "only the finished small group's change is recorded"
    );
    assert!(
        !access_events_after(&log, head)
            .iter()
            .any(|e| matches!(e, Event::UserVanished(_) | Event::GroupVanished(_))),
        "nothing vanishes when its list did not finish"
    );

    // A fresh log under the same fault: the same failure, nothing removed.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = open(fresh_dir.path());
    let report = run(&fresh, &client(&sim)).await;
    check_run(&fresh, &SiteState::default(), &org, &report);
    assert!(matches!(&report.outcome, Outcome::Failed { reason, .. } if reason.contains("paging")));
    assert!(removals_after(&fresh, 0).is_empty());

    // Once the server pages properly, the big group's removals are recorded.
    let head = log.head().position;
    converge(&log, &sim).await;
    let recorded = removals_after(&log, head);
    let want: BTreeSet<Grant> = leaving_big.iter().map(|a| membership(&big, a)).collect();
    assert_eq!(recorded, want);
    converge(&fresh, &sim).await;
}
