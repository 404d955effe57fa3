//! A pass that runs many commands at once, against the simulator over loopback
//! HTTP with latency: still one write to Jira per grant and per removal (the
//! simulator's counters), each grant and removal recorded once in `jira:<site>`,
//! at most `concurrency` calls in Jira at once (the simulator's peak of requests
//! in flight; the client would allow more), and a second request for the same
//! grant run after the first, never beside it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use grantledger_clock::{Clock, ManualClock};
use grantledger_ingest::SyncOptions;
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jira_sim::{Credential, Faults, Org};
use grantledger_jit::{run_once_spread, CreateArgs, Jit, Policies, Status};
use grantledger_model::*;
use grantledger_outbox::{DrivePolicy, Executor};
use grantledger_testkit::{fast_retry, Harness, Preset, SITE};

const ADD_MEMBER: &str = "POST /rest/api/3/group/user";
const REMOVE_MEMBER: &str = "DELETE /rest/api/3/group/user";
const CONCURRENCY: usize = 4;

/// The writes of `op` Jira carried out.
fn writes(h: &Harness, op: &str) -> u64 {
    h.sim.stats().changes.get(op).copied().unwrap_or(0)
}

/// Per request, the grant events in the site stream whose cause names it.
fn grant_events_by_request(
    log: &grantledger_eventlog::EventLog,
) -> BTreeMap<String, Vec<&'static str>> {
    let mut out: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for r in log.read_stream(&StreamId::jira_site(SITE), 1).unwrap() {
        let request = match &r.event {
            Event::GrantAdded(e) => match &e.cause {
                GrantCause::AppliedByRequest { request, .. } => Some(request.clone()),
                _ => None,
            },
            Event::GrantRemoved(e) => match &e.cause {
                GrantCause::RemovedAtExpiry { request, .. } => Some(request.clone()),
                _ => None,
            },
            _ => None,
        };
        if let Some(request) = request {
            out.entry(request.to_string())
                .or_default()
                .push(r.event.event_type());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_are_granted_and_revoked_concurrently_each_once_in_jira_and_in_the_log() {
    let faults = Faults {
        latency: Duration::from_millis(10),
        ..Faults::default()
    };
    let h = Harness::with_org(Org::generate(Preset::Small, 11), faults).await;
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_288_000_000_000)));
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
    let group = org
        .groups
        .iter()
        .filter(|g| {
            !["site-admins", "jira-administrators", "org-admins"].contains(&g.name.as_str())
        })
        .max_by_key(|g| {
            let members = org.memberships.get(&g.group_id).map_or(0, |m| m.len());
            usize::MAX - members
        })
        .expect("a group")
        .clone();
    let members = org
        .memberships
        .get(&group.group_id)
        .cloned()
        .unwrap_or_default();
    let mut people = org
        .active_humans()
        .filter(|u| u.account_id != admin && !org.is_admin(&u.account_id))
        .filter(|u| !members.contains(&u.account_id))
        .map(|u| u.account_id.clone());
    let approver = people.next().expect("an approver");
    let beneficiaries: Vec<String> = people.take(16).collect();
    assert_eq!(beneficiaries.len(), 16, "the small org has 16 outsiders");
    let policies = Policies::parse(&format!(
        "[jit]\nconcurrency = {CONCURRENCY}\n[[jit.policy]]\nname = \"team\"\ngroups = [\"{}\"]\napprovers = [\"{approver}\"]\nmax_duration = \"8h\"\n",
        group.name
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
    // The client would let more requests out at once: the pass is the bound.
    config.concurrency = 4 * CONCURRENCY;
    let client = JiraClient::with_clock(config, clock.clone()).unwrap();
    let exec = Arc::new(
        Executor::new(h.log.clone(), clock.clone(), DrivePolicy::default()).with_site(SITE, client),
    );
    let jit = Jit::new(h.log.clone(), SITE, policies, clock.clone());

    let mut ids = Vec::new();
    for who in &beneficiaries {
        let r = jit
            .create(CreateArgs {
                actor: who.clone(),
                entitlement: group.name.clone(),
                duration_secs: 3600,
                ..CreateArgs::default()
            })
            .unwrap();
        jit.approve(r.id.as_str(), &approver, None).unwrap();
        ids.push(r.id);
    }
    // The first beneficiary asks a second time for the same access, for longer.
    let second = jit
        .create(CreateArgs {
            actor: beneficiaries[0].clone(),
            entitlement: group.name.clone(),
            duration_secs: 7200,
            ..CreateArgs::default()
        })
        .unwrap();
    jit.approve(second.id.as_str(), &approver, None).unwrap();

    h.sim.reset_stats();
    let report = run_once_spread(&jit, &exec).await.unwrap();
    assert_eq!(report.granted.len(), 17, "{report:?}");
    assert!(report.unfinished.is_empty() && report.failed.is_empty());
    let peak_grants = h.sim.stats().peak_in_flight as usize;
    assert!(
        (2..=CONCURRENCY).contains(&peak_grants),
        "grants overlapped in Jira within the limit: peak {peak_grants}"
    );
    assert_eq!(writes(&h, ADD_MEMBER), 16, "one add per beneficiary");
    for id in &ids {
        assert_eq!(
            jit.load(id.as_str()).unwrap().status,
            Status::Granted,
            "{id}"
        );
    }
    // The second request ran after the first (same grant), never beside it: the
    // site's state showed the first one's grant, so it issued no command.
    let s = jit.load(second.id.as_str()).unwrap();
    assert_eq!(s.status, Status::AlreadyHeld);
    assert_eq!(s.pre_existing, Some(PreExisting::InState));
    let sim = h.sim.org();
    for who in &beneficiaries {
        assert!(sim.memberships[&group.group_id].contains(who), "{who}");
    }

    // Every first request's deadline passes at once: the first beneficiary's
    // access is handed over to the second request, the others are removed.
    h.sim.reset_stats();
    clock.set(Timestamp::from_micros(
        clock.now().as_micros() + 3600 * 1_000_000,
    ));
    let report = run_once_spread(&jit, &exec).await.unwrap();
    assert_eq!(report.expired.len(), 16, "{report:?}");
    assert_eq!(report.revoked.len(), 15, "{report:?}");
    assert!(report.expiry_lag_micros.iter().all(|l| *l == 0));
    let peak_removals = h.sim.stats().peak_in_flight as usize;
    assert!(
        (2..=CONCURRENCY).contains(&peak_removals),
        "removals overlapped in Jira within the limit: peak {peak_removals}"
    );
    assert_eq!(
        writes(&h, REMOVE_MEMBER),
        15,
        "one remove per revoked request"
    );
    assert_eq!(jit.load(ids[0].as_str()).unwrap().status, Status::Expired);
    let s = jit.load(second.id.as_str()).unwrap();
    assert!(s.owns_access && s.status == Status::Granted, "{s:?}");
    let sim = h.sim.org();
    for (i, who) in beneficiaries.iter().enumerate() {
        assert_eq!(
            sim.memberships[&group.group_id].contains(who),
            i == 0,
            "{who}"
        );
    }

    // Each grant and each removal once in the site's history.
    let events = grant_events_by_request(&h.log);
    for (i, id) in ids.iter().enumerate() {
        let want: &[&str] = if i == 0 {
            &["GrantAdded"]
        } else {
            &["GrantAdded", "GrantRemoved"]
        };
        assert_eq!(
            events.get(id.as_str()).map(Vec::as_slice),
            Some(want),
            "{id}"
        );
    }
    assert!(!events.contains_key(second.id.as_str()));

    // Another pass changes nothing (the counts are since the removal pass).
    let report = run_once_spread(&jit, &exec).await.unwrap();
    assert!(report.expired.is_empty() && report.revoked.is_empty() && report.granted.is_empty());
    assert_eq!((writes(&h, ADD_MEMBER), writes(&h, REMOVE_MEMBER)), (0, 15));
    assert!(h.log.verify().unwrap().is_ok());
}
