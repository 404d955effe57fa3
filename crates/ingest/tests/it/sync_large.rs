//! The `large` preset (~20,000 users, ~200,000 memberships, 1,000 projects × 6
//! roles) synced over HTTP: nothing capped, nothing missed.

use crate::common;

use common::*;
use grantledger_ingest::Outcome;
use grantledger_jira_sim::Preset;
use grantledger_projection::SiteState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_large_org_is_recorded_exactly_with_no_cap_anywhere() {
    let sim = start(Preset::Large, 42).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let report = run(&log, &client(&sim)).await;
    assert_eq!(report.outcome, Outcome::Completed, "{:?}", report.outcome);
    let org = sim.org();
    assert_state_matches(&log, &org);
    assert_eq!(report.stats.requests, report.stats.minimum_requests);

    let state = SiteState::load(&log, SITE).unwrap();
    assert!(state.users.len() >= 20_000, "{}", state.users.len());
    assert!(
        state.members.values().any(|m| m.len() > 10_000),
        "a group far past any 1,000 cap"
    );
    assert!(
        state.role_actors.values().any(|a| a.len() > 1_000),
        "a project role with more than 1,000 members"
    );
    assert!(log.verify().unwrap().is_ok());
}
