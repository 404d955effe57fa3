//! The ingest tests' shorthands over the test kit: a simulator of a generated
//! org, a client for it, one sync, and the oracle, all for the site `SITE`.
#![allow(dead_code)]

use std::sync::Arc;

use grantledger_eventlog::EventLog;
use grantledger_ingest::{sync, SyncOptions, SyncReport};
use grantledger_jira::{JiraClient, JiraConfig};
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};

pub use grantledger_testkit::{access_events_after, expected_state as expected, SITE};

pub async fn start(preset: Preset, seed: u64) -> SimServer {
    grantledger_testkit::start_sim(Org::generate(preset, seed), Vec::new(), Faults::default()).await
}

pub fn client(sim: &SimServer) -> JiraClient {
    client_with(sim, |_| {})
}

pub fn client_with(sim: &SimServer, tweak: impl FnOnce(&mut JiraConfig)) -> JiraClient {
    grantledger_testkit::client_with(
        sim,
        Credential::DEFAULT_EMAIL,
        Credential::DEFAULT_TOKEN,
        tweak,
    )
}

pub async fn run(log: &EventLog, client: &JiraClient) -> SyncReport {
    sync(log, client, SyncOptions::new(SITE)).await.unwrap()
}

pub fn open(dir: &std::path::Path) -> EventLog {
    EventLog::open(dir).unwrap()
}

/// Compares the log's projection with the org (see the test kit's oracle).
pub fn assert_state_matches(log: &EventLog, org: &Org) {
    grantledger_testkit::assert_state_matches(log, SITE, org);
}

pub fn arc<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
