//! Just-in-time expiry at scale: N requests on the `large` org, granted, then all
//! expiring at the same moment (or spread over a minute); how late each revoke
//! succeeds after its deadline, for a few scheduler concurrencies, against the
//! bound `1 s + latency × N ÷ concurrency`.
//!
//! `cargo bench -p grantledger-benches --bench jit`
//! Settings: `GL_BENCH_REQUESTS` (default 1000), `GL_BENCH_LATENCY_MS` (the
//! simulator's latency per HTTP request, default 20), `GL_BENCH_CONCURRENCIES`
//! (comma-separated, default `8,32`), `GL_BENCH_SPREAD_SECS` (deadlines spread
//! evenly over this many seconds; default 0: all at one instant, the hardest
//! case), `GL_BENCH_SEED` (default 42).
//!
//! The lag is real: the scheduler runs on a wall clock (the system's, shifted by a
//! constant so that the deadlines, set while granting, fall two seconds after the
//! revoke phase starts), sleeps until the first deadline as `jit run` does, and a
//! request's lag is the time from its deadline to `AccessRevoked`, which is
//! decided on that clock after the removal succeeded in Jira. The simulator runs
//! in this process, over loopback HTTP. Each line also gives the simulator's
//! peak of requests in flight (at most the concurrency: it bounds the calls in
//! Jira, ADR 0022) and the log's flushes in the revoke phase.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use grantledger_benches::env_u64;
use grantledger_clock::{Clock, ManualClock, SleepFuture, SystemClock};
use grantledger_eventlog::EventLog;
use grantledger_ingest::{sync, SyncOptions};
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};
use grantledger_jit::{run_once_spread, CreateArgs, Jit, Policies, Status};
use grantledger_model::{Event, RequestId, StreamId, Timestamp};
use grantledger_outbox::{DrivePolicy, Executor};

const SITE: &str = "sim.atlassian.net";
const DURATION_SECS: u64 = 3600;
/// How long after the revoke phase starts the (first) deadline falls.
const LEAD: Duration = Duration::from_secs(2);

/// The system's clock shifted by a constant: a real wall clock whose deadlines
/// can be placed where the benchmark needs them.
struct ShiftedClock {
    system: SystemClock,
    offset_micros: AtomicI64,
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(
            self.system.now().as_micros() + self.offset_micros.load(Ordering::Relaxed),
        )
    }

    fn monotonic(&self) -> Duration {
        self.system.monotonic()
    }

    fn sleep(&self, d: Duration) -> SleepFuture {
        self.system.sleep(d)
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(bench());
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn client(sim: &SimServer, concurrency: usize) -> JiraClient {
    let mut config = JiraConfig::for_base_url(
        &sim.base_url(),
        Credential::DEFAULT_EMAIL,
        ApiToken::new(Credential::DEFAULT_TOKEN),
    )
    .expect("a loopback URL");
    config.concurrency = concurrency;
    config.timeout = Duration::from_secs(30);
    config.retry = grantledger_testkit::fast_retry();
    JiraClient::with_clock(config, Arc::new(SystemClock::new())).expect("the client builds")
}

/// What one durable append costs on this machine, alone and with 32 tasks
/// appending at once on the bench's runtime (a scratch log: the same fsync).
async fn append_cost() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = EventLog::open(dir.path().join("log")).expect("a new log");
    let event = |i: usize| {
        grantledger_eventlog::NewEvent::new(grantledger_model::CommandStarted {
            command: grantledger_model::CommandId::new(format!("probe-{i}")),
        })
    };
    const N: usize = 400;
    let took = Instant::now();
    for i in 0..N {
        let stream = StreamId::command(&grantledger_model::CommandId::new(format!("probe-{i}")));
        log.append(
            &stream,
            grantledger_eventlog::ExpectedVersion::Any,
            vec![event(i)],
        )
        .expect("an append");
    }
    let alone = took.elapsed();
    let flushes_alone = log.flushes();
    let took = Instant::now();
    let tasks: Vec<_> = (0..32)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in (t..N).step_by(32) {
                    let stream = StreamId::command(&grantledger_model::CommandId::new(format!(
                        "probe-{t}-{i}"
                    )));
                    log.append_async(
                        &stream,
                        grantledger_eventlog::ExpectedVersion::Any,
                        vec![event(i)],
                    )
                    .await
                    .expect("an append");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("the appender");
    }
    let together = took.elapsed();
    println!(
        "jit: a durable append: {:.2} ms one at a time, {:.2} ms each with 32 tasks appending at once ({} flushes for {N} appends)",
        alone.as_secs_f64() * 1000.0 / N as f64,
        together.as_secs_f64() * 1000.0 / N as f64,
        log.flushes() - flushes_alone,
    );
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn bench() {
    let n = env_u64("GL_BENCH_REQUESTS", 1000) as usize;
    let latency_ms = env_u64("GL_BENCH_LATENCY_MS", 20);
    let spread = env_u64("GL_BENCH_SPREAD_SECS", 0);
    let seed = env_u64("GL_BENCH_SEED", 42);
    let concurrencies: Vec<usize> = std::env::var("GL_BENCH_CONCURRENCIES")
        .unwrap_or_else(|_| "8,32".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|c| *c >= 1)
        .collect();

    let org = Org::generate(Preset::Large, seed);
    let sim = grantledger_testkit::start_sim(org.clone(), Vec::new(), Faults::default()).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = EventLog::open(dir.path().join("log")).expect("a new log");
    let took = Instant::now();
    let report = sync(&log, &client(&sim, 8), SyncOptions::new(SITE))
        .await
        .expect("the sync of the large org");
    assert!(
        matches!(report.outcome, grantledger_ingest::Outcome::Completed),
        "the sync completed"
    );
    println!(
        "jit: large org synced ({} users, {} groups, {} records) in {:.1} s",
        org.users.len(),
        org.groups.len(),
        log.head().position,
        took.elapsed().as_secs_f64()
    );

    // One request per group, the smallest groups first (a membership check
    // pages through the group), each for an active account outside it.
    let admin = Credential::admin_of(&org).account_id;
    let humans: Vec<&str> = org
        .active_humans()
        .filter(|u| u.account_id != admin && !org.is_admin(&u.account_id))
        .map(|u| u.account_id.as_str())
        .collect();
    let approver = humans[0];
    let mut groups: Vec<_> = org
        .groups
        .iter()
        .filter(|g| {
            !["site-admins", "jira-administrators", "org-admins"].contains(&g.name.as_str())
        })
        .filter(|g| org.groups.iter().filter(|o| o.name == g.name).count() == 1)
        .map(|g| {
            let size = org.memberships.get(&g.group_id).map_or(0, |m| m.len());
            (size, g)
        })
        .collect();
    groups.sort_by_key(|(size, g)| (*size, g.name.clone()));
    let mut pairs = Vec::new();
    for (k, (_, g)) in groups.iter().enumerate() {
        let members = org.memberships.get(&g.group_id);
        let who = humans[1..]
            .iter()
            .cycle()
            .skip(k * 7)
            .take(humans.len())
            .find(|a| members.is_none_or(|m| !m.contains(**a)));
        if let Some(who) = who {
            pairs.push((g.name.clone(), g.group_id.clone(), who.to_string()));
        }
        if pairs.len() == n {
            break;
        }
    }
    assert_eq!(
        pairs.len(),
        n,
        "the large org has {n} groups with an outsider"
    );
    let names: Vec<String> = pairs.iter().map(|(name, _, _)| toml_string(name)).collect();
    let policy_text = format!(
        "[jit]\n[[jit.policy]]\nname = \"bench\"\ngroups = [{}]\napprovers = [{}]\nmax_duration = \"8h\"\n",
        names.join(", "),
        toml_string(approver)
    );
    let policies = Policies::parse(&policy_text).expect("the bench's policies");
    println!(
        "jit: {n} requests, one per group (groups of {} to {} members), latency {latency_ms} ms per HTTP request, deadlines {}",
        groups.first().map_or(0, |g| g.0),
        groups.get(n - 1).map_or(0, |g| g.0),
        if spread == 0 {
            "all at one instant".to_string()
        } else {
            format!("spread over {spread} s")
        }
    );

    append_cost().await;

    for &concurrency in &concurrencies {
        let mut policies = policies.clone();
        policies.concurrency = Some(concurrency);
        let exec = Arc::new(
            Executor::new(
                log.clone(),
                Arc::new(SystemClock::new()),
                DrivePolicy::default(),
            )
            .with_site(SITE, client(&sim, concurrency)),
        );

        // Ask and approve on a frozen clock: every grant is decided at the same
        // time, so the deadlines (grant time + duration, + i mod spread) are
        // known.
        sim.set_faults(Faults::default());
        let frozen = ManualClock::auto_advancing(SystemClock::new().now());
        let granted_at = frozen.now();
        let asking = Jit::new(log.clone(), SITE, policies.clone(), Arc::new(frozen));
        let took = Instant::now();
        let mut ids: Vec<RequestId> = Vec::with_capacity(n);
        for (i, (name, _, who)) in pairs.iter().enumerate() {
            let extra = if spread == 0 {
                0
            } else {
                (i as u64 * spread) / n as u64
            };
            let r = asking
                .create(CreateArgs {
                    actor: who.clone(),
                    entitlement: name.clone(),
                    duration_secs: DURATION_SECS + extra,
                    ..CreateArgs::default()
                })
                .expect("a request");
            asking
                .approve(r.id.as_str(), approver, None)
                .expect("an approval");
            ids.push(r.id);
        }
        let asked = took.elapsed();
        sim.set_faults(Faults {
            latency: Duration::from_millis(latency_ms),
            ..Faults::default()
        });
        let took = Instant::now();
        let report = run_once_spread(&asking, &exec)
            .await
            .expect("the grant pass");
        let grant_pass = took.elapsed();
        assert_eq!(report.granted.len(), n, "every request granted: {report:?}");

        // The revoke phase: a real wall clock on which the first deadline is
        // LEAD from now.
        let first_deadline = granted_at.as_micros() + DURATION_SECS as i64 * 1_000_000;
        let clock = Arc::new(ShiftedClock {
            system: SystemClock::new(),
            offset_micros: AtomicI64::new(0),
        });
        let now = clock.now().as_micros();
        clock.offset_micros.store(
            first_deadline - LEAD.as_micros() as i64 - now,
            Ordering::Relaxed,
        );
        let jit = Jit::new(log.clone(), SITE, policies.clone(), clock.clone());
        // As a running `jit run` would have: the site's state folded before.
        jit.with_site_state(|_| ()).expect("the site state");
        sim.reset_stats();
        let flushes = log.flushes();
        let mut pending: BTreeSet<RequestId> = ids.iter().cloned().collect();
        let started = Instant::now();
        while !pending.is_empty() {
            let next = ids
                .iter()
                .filter(|id| pending.contains(*id))
                .filter_map(|id| jit.load(id.as_str()).ok()?.expires_at)
                .filter(|d| *d > clock.now())
                .min();
            if let Some(next) = next {
                clock.sleep_until(next).await;
            }
            let report = run_once_spread(&jit, &exec).await.expect("a pass");
            for id in &report.revoked {
                pending.remove(id);
            }
            assert!(
                report.failed.is_empty() && report.unfinished.is_empty(),
                "{report:?}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "the revokes took over 10 minutes"
            );
        }
        let revoke_phase = started.elapsed();
        let flushes = log.flushes() - flushes;
        let stats = sim.stats();

        let mut lags: Vec<f64> = Vec::with_capacity(n);
        for id in &ids {
            let records = log.read_stream(&StreamId::request(id), 1).expect("reads");
            let deadline = records.iter().find_map(|r| match &r.event {
                Event::AccessExpired(e) => Some(e.deadline),
                _ => None,
            });
            let revoked = records.iter().find_map(|r| match &r.event {
                Event::AccessRevoked(e) => Some(e.at),
                _ => None,
            });
            let (Some(deadline), Some(revoked)) = (deadline, revoked) else {
                panic!("{id} was not revoked");
            };
            assert_eq!(
                jit.load(id.as_str()).expect("loads").status,
                Status::Revoked
            );
            lags.push((revoked.as_micros() - deadline.as_micros()) as f64 / 1e6);
        }
        lags.sort_by(f64::total_cmp);
        let bound = 1.0 + latency_ms as f64 / 1000.0 * n as f64 / concurrency as f64;
        let max = lags[lags.len() - 1];
        println!(
            "jit: concurrency {concurrency:>3}: revoke lag median {:.3} s, p99 {:.3} s, max {:.3} s; bound {:.3} s: {} \
             (asked+approved in {:.1} s, grant pass {:.1} s, revoke phase {:.1} s; {} HTTP requests in the revoke phase, {:.1} per revoke, \
             at most {} at once; {} log flushes, {:.1} per revoke)",
            percentile(&lags, 0.5),
            percentile(&lags, 0.99),
            max,
            bound,
            if max <= bound { "within" } else { "OVER" },
            asked.as_secs_f64(),
            grant_pass.as_secs_f64(),
            revoke_phase.as_secs_f64(),
            stats.total,
            stats.total as f64 / n as f64,
            stats.peak_in_flight,
            flushes,
            flushes as f64 / n as f64,
        );
    }
    sim.shutdown().await;
}
