//! A simulator, a client configured for it, and a fresh log.

use std::time::Duration;

use grantledger_eventlog::EventLog;
use grantledger_jira::{ApiToken, JiraClient, JiraConfig, RetryPolicy};
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};
use tempfile::TempDir;

/// The site name the tests sync under (`jira:sim.atlassian.net`).
pub const SITE: &str = "sim.atlassian.net";

/// Retries that keep a test quick: 8 attempts, 20–200 ms apart, 30 s in all.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 8,
        max_total_wait: Duration::from_secs(30),
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    }
}

/// Starts a simulator over `org` on 127.0.0.1 that accepts the org's admin
/// credential and `extra` credentials, with `faults`.
///
/// # Panics
/// When the simulator cannot start (a test cannot go on without it).
pub async fn start_sim(org: Org, extra: Vec<Credential>, faults: Faults) -> SimServer {
    let mut credentials = vec![Credential::admin_of(&org)];
    credentials.extend(extra);
    SimServer::start(org, credentials, faults)
        .await
        .expect("the simulator starts on 127.0.0.1")
}

/// A client for `sim` signed in as `email` / `token`, with [`fast_retry`] and a
/// 10 s request timeout.
///
/// # Panics
/// When the configuration is refused (the simulator's URL is always valid).
pub fn client_for(sim: &SimServer, email: &str, token: &str) -> JiraClient {
    client_with(sim, email, token, |_| {})
}

/// [`client_for`], with `tweak` applied to the configuration last.
///
/// # Panics
/// When the configuration is refused.
pub fn client_with(
    sim: &SimServer,
    email: &str,
    token: &str,
    tweak: impl FnOnce(&mut JiraConfig),
) -> JiraClient {
    let mut config = JiraConfig::for_base_url(&sim.base_url(), email, ApiToken::new(token))
        .expect("a loopback URL is a valid site");
    config.retry = fast_retry();
    config.timeout = Duration::from_secs(10);
    tweak(&mut config);
    JiraClient::new(config).expect("the client builds")
}

/// A new, empty log in a new temporary directory (removed when the `TempDir` is
/// dropped: keep it alive as long as the log).
///
/// # Panics
/// When the temporary directory or the log cannot be created.
pub fn fresh_log() -> (TempDir, EventLog) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = EventLog::open(dir.path()).expect("a new log opens");
    (dir, log)
}

/// A simulator, an admin client for it and a fresh log: what most end-to-end
/// tests start from.
pub struct Harness {
    /// The simulator, on 127.0.0.1.
    pub sim: SimServer,
    /// A client signed in as the org's site admin.
    pub client: JiraClient,
    /// An empty log in [`Harness::dir`].
    pub log: EventLog,
    /// The log's temporary directory, removed on drop.
    pub dir: TempDir,
}

impl Harness {
    /// A generated org (`preset`, `seed`) with no faults.
    pub async fn start(preset: Preset, seed: u64) -> Harness {
        Self::with_org(Org::generate(preset, seed), Faults::default()).await
    }

    /// A given org with `faults`.
    pub async fn with_org(org: Org, faults: Faults) -> Harness {
        let sim = start_sim(org, Vec::new(), faults).await;
        let client = client_for(&sim, Credential::DEFAULT_EMAIL, Credential::DEFAULT_TOKEN);
        let (dir, log) = fresh_log();
        Harness {
            sim,
            client,
            log,
            dir,
        }
    }

    /// The same harness with its log closed and opened again, as a restarted
    /// process would find it.
    ///
    /// # Panics
    /// When the log does not reopen.
    pub fn reopened(self) -> Harness {
        let Harness {
            sim,
            client,
            log,
            dir,
        } = self;
        drop(log);
        let log = EventLog::open(dir.path()).expect("the log reopens");
        Harness {
            sim,
            client,
            log,
            dir,
        }
    }
}
