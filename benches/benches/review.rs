//! Review campaigns on the `large` org: launch over every group membership and
//! project-role actor (about 230,000 items) — time and peak resident set, in a
//! process of its own that opens the log as `review launch` would — against the
//! log's own replay of the site's state measured in the same run; and an import
//! of 100,000 decisions from CSV, against parsing the same CSV alone.
//!
//! `cargo bench -p grantledger-benches --bench review`
//! Settings: `GL_BENCH_PRESET` (small, medium or large; default large),
//! `GL_BENCH_DECISIONS` (rows imported, default 100,000), `GL_BENCH_SEED`.
//! Goals (issue 12): launch < 5 s and < 500 MB peak; import < 10 s.

use std::path::Path;
use std::process::Command;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use grantledger_benches::{env_u64, mib, output_of, proc_status_bytes};
use grantledger_clock::{Clock, SystemClock};
use grantledger_eventlog::EventLog;
use grantledger_jira_sim::{Org, Preset};
use grantledger_model::*;
use grantledger_projection::SiteState;
use grantledger_review::{bulk, NewCampaign, Reviews};

const SITE: &str = "sim.atlassian.net";
const CHILD: &str = "GL_BENCH_REVIEW_CHILD";

fn reviews(log: &EventLog) -> Reviews {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    Reviews::new(log.clone(), SITE, clock)
}

/// The child process: one phase, its time and peak resident set on stdout.
fn child(phase: &str, dir: &Path) {
    let log = EventLog::open(dir.join("log")).expect("the log");
    let start = Instant::now();
    match phase {
        "replay" => {
            let s = SiteState::load(&log, SITE).expect("the state");
            assert!(s.membership_count() > 0);
        }
        "launch" => {
            let c = reviews(&log).launch("c1", "bench").expect("launched");
            assert!(!c.items.is_empty());
        }
        "import" => {
            let text = std::fs::read_to_string(dir.join("decisions.csv")).expect("the CSV");
            let reviewer = std::fs::read_to_string(dir.join("reviewer")).expect("the reviewer");
            let (_, decided) = reviews(&log)
                .import("c1", reviewer.trim(), &text)
                .unwrap_or_else(|e| panic!("import: {e}"));
            assert!(!decided.is_empty());
        }
        "parse" => {
            let text = std::fs::read_to_string(dir.join("decisions.csv")).expect("the CSV");
            let rows = bulk::parse_csv(&text).expect("parses");
            assert!(rows.len() > 1);
        }
        other => panic!("unknown phase {other}"),
    }
    let took = start.elapsed();
    println!(
        "{} {}",
        took.as_secs_f64(),
        proc_status_bytes("VmHWM").unwrap_or(0)
    );
}

/// Runs a phase in a child process: (seconds, peak bytes).
fn phase(name: &str, dir: &Path) -> (f64, u64) {
    let out = output_of(
        Command::new(std::env::current_exe().expect("this binary"))
            .env(CHILD, name)
            .env("GL_BENCH_REVIEW_DIR", dir),
        name,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    let secs: f64 = it.next().and_then(|s| s.parse().ok()).expect("seconds");
    let peak: u64 = it.next().and_then(|s| s.parse().ok()).expect("peak");
    (secs, peak)
}

fn main() {
    if let Ok(name) = std::env::var(CHILD) {
        let dir = std::env::var("GL_BENCH_REVIEW_DIR").expect("the directory");
        child(&name, Path::new(&dir));
        return;
    }
    let preset = Preset::from_str(&std::env::var("GL_BENCH_PRESET").unwrap_or("large".into()))
        .expect("GL_BENCH_PRESET is small, medium or large");
    let decisions = env_u64("GL_BENCH_DECISIONS", 100_000) as usize;
    let seed = env_u64("GL_BENCH_SEED", 42);
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path();
    let org = Org::generate(preset, seed);
    let started = Instant::now();
    {
        let log = EventLog::open(dir.join("log")).expect("a log");
        let humans: Vec<String> = org.active_humans().map(|u| u.account_id.clone()).collect();
        grantledger_benches::sync_from_simulator(&log, org, SITE);
        println!(
            "log: {preset:?} org synced in {:.1} s ({} events)",
            started.elapsed().as_secs_f64(),
            log.head().position
        );
        // Every membership and role actor, every account type; one fallback
        // reviewer, whose own access their manager reviews.
        let (fallback, manager) = (humans[0].clone(), humans[1].clone());
        reviews(&log)
            .create(NewCampaign {
                id: Some("c1".into()),
                name: "everything".into(),
                scope: CampaignScope {
                    selectors: vec![ScopeSelector::AllGrants],
                    account_types: vec![
                        AccountType::Atlassian,
                        AccountType::App,
                        AccountType::Customer,
                        AccountType::Unknown,
                    ],
                    since: None,
                },
                owners: Vec::new(),
                managers_csv: Some(format!("{fallback},{manager}\n")),
                fallback: Some(fallback.clone()),
                due: None,
                undecided: UndecidedRule::Keep,
                comment_required_for_revoke: false,
                remediation_sync_limit: 2,
                actor: "bench".into(),
            })
            .expect("created");
        std::fs::write(dir.join("reviewer"), &fallback).expect("written");
    }

    let (replay, replay_peak) = phase("replay", dir);
    let (launch, launch_peak) = phase("launch", dir);
    let log = EventLog::open(dir.join("log")).expect("the log");
    let c = reviews(&log).load("c1").expect("the campaign");
    let items = c.items.len();
    println!(
        "launch: {items} items in {launch:.2} s, peak {:.0} MiB (goal < 5 s, < 500 MB); the site's state alone replays in {replay:.2} s, peak {:.0} MiB: launch/replay = {:.2}",
        mib(launch_peak),
        mib(replay_peak),
        launch / replay
    );

    // A CSV of the fallback's first `decisions` items, half revoked.
    let fallback = std::fs::read_to_string(dir.join("reviewer")).expect("the reviewer");
    let rows: Vec<bulk::ItemRow> = c
        .items
        .iter()
        .filter(|i| i.reviewer.as_str() == fallback.trim())
        .take(decisions)
        .enumerate()
        .map(|(n, i)| bulk::ItemRow {
            campaign: "c1".into(),
            item: format!("i{}", i.id),
            reviewer: i.reviewer.to_string(),
            principal_id: format!("{:?}", i.grant.principal),
            principal: String::new(),
            entitlement: String::new(),
            signals: String::new(),
            decision: if n % 2 == 0 { "approve" } else { "revoke" }.into(),
            comment: if n % 2 == 0 {
                String::new()
            } else {
                "=no longer needed".into()
            },
        })
        .collect();
    drop(log);
    let n = rows.len();
    std::fs::write(dir.join("decisions.csv"), bulk::write_csv(&rows)).expect("written");
    let (parse, _) = phase("parse", dir);
    let (import, import_peak) = phase("import", dir);
    println!(
        "import: {n} decisions in {import:.2} s, peak {:.0} MiB (goal < 10 s); parsing the CSV alone {parse:.2} s: import/parse = {:.1}",
        mib(import_peak),
        import / parse
    );
    let log = EventLog::open(dir.join("log")).expect("the log");
    let c = reviews(&log).load("c1").expect("the campaign");
    let decided = c.items.iter().filter(|i| i.decision.is_some()).count();
    assert_eq!(decided, n, "every imported decision is recorded");
    println!(
        "verdict: launch {} ({launch:.2} s, {:.0} MiB), import {} ({import:.2} s)",
        if launch < 5.0 && mib(launch_peak) < 500.0 {
            "meets its goal"
        } else {
            "MISSES its goal"
        },
        mib(launch_peak),
        if import < 10.0 {
            "meets its goal"
        } else {
            "MISSES its goal"
        }
    );
}
