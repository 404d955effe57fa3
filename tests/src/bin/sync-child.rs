//! Runs one sync of the simulator at argv[2] into the log at argv[1], as the
//! simulator's default admin, appending in batches of 50 events so that appends
//! happen often. Prints the outcome; exits 0 when the run completed, 1 when it
//! ended `Failed` or the log failed. The sync crash test kills it with SIGKILL at
//! random moments.

use grantledger_eventlog::EventLog;
use grantledger_ingest::{sync, Outcome, SyncOptions};
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jira_sim::Credential;

/// The site name the crash test reads back.
const SITE: &str = "sim.atlassian.net";

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(url)) = (args.next(), args.next()) else {
        eprintln!("usage: sync-child <log dir> <sim base url>");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let log = EventLog::open(&dir).expect("open the log");
    let config = JiraConfig::for_base_url(
        &url,
        Credential::DEFAULT_EMAIL,
        ApiToken::new(Credential::DEFAULT_TOKEN),
    )
    .expect("the simulator's URL");
    let client = JiraClient::new(config).expect("a Jira client");
    let mut opts = SyncOptions::new(SITE);
    // The crash test's churn may empty a small group between trials: that is
    // the site changing, which this test records as it is.
    opts.allow_mass_removal = true;
    opts.batch_events = 50;
    match runtime.block_on(sync(&log, &client, opts)) {
        Ok(report) => match report.outcome {
            Outcome::Completed => println!("completed: {} events", report.stats.events_written),
            Outcome::Failed { reason, .. } => {
                eprintln!("sync failed: {reason}");
                std::process::exit(1);
            }
        },
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
