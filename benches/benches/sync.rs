//! A full sync of a simulated site: requests against the minimum, wall time
//! against the latency-bound ideal, and the sync's peak memory.
//!
//! `cargo bench -p grantledger-benches --bench sync`
//! Settings: `GL_BENCH_PRESET` (small, medium or large; default large),
//! `GL_BENCH_LATENCY_MS` (injected per request, default 30),
//! `GL_BENCH_CONCURRENCY` (requests in flight, default 8), `GL_BENCH_SEED`
//! (default 42), `GL_BENCH_TIMELINE=1` (print the request rate second by second).
//!
//! The simulator runs in a child process (this executable again, with
//! `GL_BENCH_ROLE=sim`), so the peak resident set read here is the sync's own.
//! The child prints one line with its base URL and the org's sizes, then serves
//! until its stdin closes; the parent kills it when it ends or panics. The second
//! sync (`resync`) and the run without latency (`reference`) get processes of
//! their own as well, so each peak is that run's alone (an allocator keeps what a
//! previous run freed). A transport baseline, the client alone at the same latency
//! and concurrency, tells the sync's own overhead from the round trip's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grantledger_benches::{env_u64, mib, proc_status_bytes};
use grantledger_eventlog::EventLog;
use grantledger_ingest::{minimum_requests, sync, Outcome, Scope, SyncOptions, SyncReport};
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jira_sim::{Credential, Faults, Org, Preset};

const SITE: &str = "sim.atlassian.net";
const ROLE: &str = "GL_BENCH_ROLE";
const SIM_PRESET: &str = "GL_BENCH_SIM_PRESET";
const SIM_SEED: &str = "GL_BENCH_SIM_SEED";
const SIM_LATENCY_MS: &str = "GL_BENCH_SIM_LATENCY_MS";
const SIM_BASE: &str = "GL_BENCH_SIM_BASE";
const LOG_DIR: &str = "GL_BENCH_LOG_DIR";
/// How often the request counter is sampled during a run.
const SAMPLE: Duration = Duration::from_millis(50);

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("sim") => serve_sim(),
        Ok("reference") => reference(),
        Ok("resync") => resync(),
        _ => bench(),
    }
}

// ----- the simulator process ---------------------------------------------------

/// Serves the org until stdin closes, after printing
/// `base=<url> users=.. groups=.. memberships=.. projects=.. roles=.. minimum=.. largest_group=..`.
fn serve_sim() {
    let preset = Preset::from_str(&std::env::var(SIM_PRESET).unwrap_or_default())
        .expect("a preset from the parent");
    let seed = env_u64(SIM_SEED, 42);
    let latency = Duration::from_millis(env_u64(SIM_LATENCY_MS, 0));
    let org = Org::generate(preset, seed);
    let sizes = org_sizes(&org);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let faults = Faults {
        latency,
        ..Faults::default()
    };
    let server = runtime.block_on(grantledger_testkit::start_sim(org, Vec::new(), faults));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "base={} {sizes}", server.base_url()).expect("stdout");
        out.flush().expect("stdout");
    }
    // The runtime's workers serve; this thread waits for the parent to go away.
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    runtime.block_on(server.shutdown());
}

/// The org's sizes and the fewest requests that can list it, counted from the
/// org itself (a cross-check of the figure the sync reports).
fn org_sizes(org: &Org) -> String {
    let mut minimum = minimum_requests(&Scope::Users, org.users.len() as u64)
        + minimum_requests(&Scope::Groups, org.groups.len() as u64)
        + minimum_requests(&Scope::Projects, org.projects.len() as u64)
        + minimum_requests(&Scope::Products, org.application_roles.len() as u64);
    let mut largest = 0;
    for g in &org.groups {
        let n = org.memberships.get(&g.group_id).map_or(0, |m| m.len());
        largest = largest.max(n);
        minimum += minimum_requests(&Scope::Members(g.group_id.as_str().into()), n as u64);
    }
    let mut roles = 0;
    for p in &org.projects {
        minimum += 1 + p.roles.len() as u64;
        roles += p.roles.len();
    }
    format!(
        "users={} groups={} memberships={} projects={} roles={roles} minimum={minimum} largest_group={largest}",
        org.users.len(),
        org.groups.len(),
        org.membership_count(),
        org.projects.len(),
    )
}

// ----- the bench process --------------------------------------------------------

/// The simulator child; killed and reaped when dropped (also on a panic).
struct Sim {
    child: Child,
    base: String,
    sizes: String,
}

impl Sim {
    fn start(preset: Preset, seed: u64, latency_ms: u64) -> Sim {
        let exe = std::env::current_exe().expect("the bench's own executable");
        let mut child = Command::new(exe)
            .env(ROLE, "sim")
            .env(SIM_PRESET, preset.to_string())
            .env(SIM_SEED, seed.to_string())
            .env(SIM_LATENCY_MS, latency_ms.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the simulator process");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        // Build the guard before checking, so a failed start still reaps the child.
        let mut sim = Sim {
            child,
            base: String::new(),
            sizes: String::new(),
        };
        read.expect("read the simulator's first line");
        let line = line.trim();
        let (base, sizes) = line
            .strip_prefix("base=")
            .and_then(|rest| rest.split_once(' '))
            .unwrap_or_else(|| panic!("the simulator printed {line:?}"));
        sim.base = base.to_owned();
        sim.sizes = sizes.to_owned();
        sim
    }

    /// A figure of the org's sizes line.
    fn size(&self, key: &str) -> u64 {
        self.sizes
            .split(' ')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {:?}", self.sizes))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `total` of `GET <base>/__sim/stats`: every `/rest` request the simulator served.
fn sim_requests(base: &str) -> u64 {
    let addr = base.strip_prefix("http://").expect("an http base URL");
    let mut conn = TcpStream::connect(addr).expect("connect to the simulator");
    write!(
        conn,
        "GET /__sim/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("read the stats");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let digits: String = body
        .split_once("\"total\":")
        .map_or("", |(_, rest)| rest)
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no total in the simulator's stats: {answer:?}"))
}

fn client(base: &str, concurrency: usize) -> JiraClient {
    let mut config = JiraConfig::for_base_url(
        base,
        Credential::DEFAULT_EMAIL,
        ApiToken::new(Credential::DEFAULT_TOKEN),
    )
    .expect("a client config");
    config.concurrency = concurrency;
    JiraClient::new(config).expect("a client")
}

/// One sync, timed, with the simulator's request count and the client's counter
/// sampled every [`SAMPLE`].
struct Measured {
    report: SyncReport,
    wall: Duration,
    sim_requests: u64,
    samples: Vec<(Duration, u64)>,
    /// The share of the requests that listed group members.
    member_share: f64,
}

fn run_sync(
    runtime: &tokio::runtime::Runtime,
    base: &str,
    log: &EventLog,
    concurrency: usize,
) -> Measured {
    let client = client(base, concurrency);
    let before = sim_requests(base);
    let samples = Arc::new(Mutex::new(Vec::new()));
    let (report, wall) = runtime.block_on(async {
        let start = Instant::now();
        let sampler = {
            let client = client.clone();
            let samples = samples.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(SAMPLE);
                loop {
                    tick.tick().await;
                    let n = client.metrics().requests;
                    samples.lock().unwrap().push((start.elapsed(), n));
                }
            })
        };
        let mut opts = SyncOptions::new(SITE);
        opts.concurrency = concurrency;
        let report = sync(log, &client, opts).await.expect("the sync runs");
        let wall = start.elapsed();
        sampler.abort();
        (report, wall)
    });
    let mut samples = std::mem::take(&mut *samples.lock().unwrap());
    samples.push((wall, report.stats.requests));
    if let Outcome::Failed { reason, .. } = &report.outcome {
        panic!("the sync failed: {reason}");
    }
    let m = client.metrics();
    let members = m
        .by_operation
        .iter()
        .filter(|(op, _)| op.contains("/group/member"))
        .map(|(_, n)| *n)
        .sum::<u64>();
    Measured {
        member_share: members as f64 / m.requests.max(1) as f64,
        report,
        wall,
        sim_requests: sim_requests(base) - before,
        samples,
    }
}

/// The baseline: the client alone, no sync, at the same latency and concurrency:
/// `n` requests mixing first pages of group members (`member_share` of them) and
/// project roles, like a sync's. Returns the wall time.
fn transport_baseline(
    runtime: &tokio::runtime::Runtime,
    base: &str,
    concurrency: usize,
    n: u64,
    member_share: f64,
) -> Duration {
    let client = client(base, concurrency);
    runtime.block_on(async {
        // Untimed: what to ask for.
        let groups: Vec<String> = client
            .groups()
            .await
            .expect("the group list")
            .into_iter()
            .filter_map(|g| g.group_id)
            .collect();
        let (_, projects) = client
            .projects_pages()
            .page_at(0)
            .await
            .expect("the first project page");
        let mut roles = Vec::new();
        for p in projects.iter().take(10) {
            for r in client.project_roles(&p.id).await.expect("a role map") {
                roles.push((p.id.clone(), r.id.to_string()));
            }
        }
        assert!(
            !groups.is_empty() && !roles.is_empty(),
            "the site has groups and roles"
        );
        let start = Instant::now();
        let mut jobs = tokio::task::JoinSet::new();
        let (mut g, mut r) = (0usize, 0usize);
        for i in 0..n {
            if jobs.len() >= concurrency {
                jobs.join_next().await.expect("a job").expect("no panic");
            }
            let client = client.clone();
            let member =
                ((i + 1) as f64 * member_share).floor() > (i as f64 * member_share).floor();
            if member {
                let group = groups[g % groups.len()].clone();
                g += 1;
                jobs.spawn(async move {
                    client
                        .group_members_pages(&group)
                        .page_at(0)
                        .await
                        .expect("a member page");
                });
            } else {
                let (project, role) = roles[r % roles.len()].clone();
                r += 1;
                jobs.spawn(async move {
                    client.role(&project, &role).await.expect("a role");
                });
            }
        }
        while let Some(done) = jobs.join_next().await {
            done.expect("no panic");
        }
        start.elapsed()
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The request rate by tenth of the run, as a share of the ideal rate
/// (`concurrency` requests per `latency`): where a run loses time.
fn rate_by_tenth(samples: &[(Duration, u64)], wall: Duration, ideal_per_s: f64) -> String {
    let at = |t: Duration| -> f64 {
        // Requests counted by time t, interpolated between samples.
        let mut prev = (Duration::ZERO, 0u64);
        for &(st, n) in samples {
            if st >= t {
                let span = (st - prev.0).as_secs_f64();
                let f = if span > 0.0 {
                    (t - prev.0).as_secs_f64() / span
                } else {
                    1.0
                };
                return prev.1 as f64 + f * (n - prev.1) as f64;
            }
            prev = (st, n);
        }
        prev.1 as f64
    };
    (0..10)
        .map(|k| {
            let (a, b) = (wall * k / 10, wall * (k + 1) / 10);
            let rate = (at(b) - at(a)) / (b - a).as_secs_f64();
            format!("{:.0}%", 100.0 * rate / ideal_per_s)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn timeline(samples: &[(Duration, u64)], ideal_per_s: f64) {
    let mut prev = (Duration::ZERO, 0u64);
    let mut next = Duration::from_secs(1);
    for &(t, n) in samples {
        if t > prev.0 && (t >= next || Some(&(t, n)) == samples.last()) {
            let rate = (n - prev.1) as f64 / (t - prev.0).as_secs_f64();
            println!(
                "  t={:>7.1}s requests={n:>7} rate={rate:>6.0}/s ({:.0}% of ideal)",
                t.as_secs_f64(),
                100.0 * rate / ideal_per_s
            );
            prev = (t, n);
            next = t + Duration::from_secs(1);
        }
    }
}

fn bench() {
    let preset_name = std::env::var("GL_BENCH_PRESET").unwrap_or_else(|_| "large".into());
    let preset = Preset::from_str(&preset_name).expect("GL_BENCH_PRESET: small, medium or large");
    let latency_ms = env_u64("GL_BENCH_LATENCY_MS", 30);
    let concurrency = env_u64("GL_BENCH_CONCURRENCY", 8).max(1) as usize;
    let seed = env_u64("GL_BENCH_SEED", 42);
    let show_timeline = env_u64("GL_BENCH_TIMELINE", 0) == 1;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");

    let sim = Sim::start(preset, seed, latency_ms);
    println!(
        "sync bench: preset {preset}, seed {seed}, {latency_ms} ms latency per request, concurrency {concurrency}, load average {}",
        load()
    );
    println!("site: {}", sim.sizes);

    let dir = tempfile::tempdir().expect("a temp dir");
    let log = EventLog::open(dir.path()).expect("open a fresh log");
    let hwm_before = proc_status_bytes("VmHWM").unwrap_or(0);
    let first = run_sync(&runtime, &sim.base, &log, concurrency);
    let hwm_after = proc_status_bytes("VmHWM").unwrap_or(0);
    let s = &first.report.stats;
    let c = &first.report.counts;
    assert_eq!(
        (c.users, c.groups, c.memberships, c.projects, c.roles),
        (
            sim.size("users"),
            sim.size("groups"),
            sim.size("memberships"),
            sim.size("projects"),
            sim.size("roles")
        ),
        "the log's state after the sync has the org's sizes"
    );
    let ratio = first.sim_requests as f64 / s.minimum_requests as f64;
    let ideal = Duration::from_secs_f64(
        first.sim_requests as f64 * latency_ms as f64 / 1e3 / concurrency as f64,
    );
    let ideal_per_s = concurrency as f64 * 1e3 / latency_ms.max(1) as f64;
    println!("first sync into a fresh log:");
    println!(
        "  requests: {} (simulator) / {} (client), retries {}; minimum {} (the org says {}); ratio {ratio:.4} (goal: <= 1.02)",
        first.sim_requests,
        s.requests,
        s.retries,
        s.minimum_requests,
        sim.size("minimum")
    );
    if latency_ms > 0 {
        println!(
            "  wall time: {:.0} ms (sync's own figure {} ms); ideal {:.0} ms = {} requests x {latency_ms} ms / {concurrency}; ratio {:.3} (goal: <= 1.25)",
            ms(first.wall),
            s.duration_ms,
            ms(ideal),
            first.sim_requests,
            first.wall.as_secs_f64() / ideal.as_secs_f64()
        );
        println!(
            "  request rate by tenth of the run, % of the ideal {ideal_per_s:.0}/s: {}",
            rate_by_tenth(&first.samples, first.wall, ideal_per_s)
        );
        let last_sent = first
            .samples
            .iter()
            .find(|(_, n)| *n == s.requests)
            .map_or(first.wall, |(t, _)| *t);
        println!(
            "  the last request was sent by {:.0} ms (sampled every {} ms); the run ended {:.0} ms later; mean time per request {:.1} ms (= wall x {concurrency} / requests)",
            ms(last_sent),
            SAMPLE.as_millis(),
            ms(first.wall.saturating_sub(last_sent)),
            ms(first.wall) * concurrency as f64 / first.sim_requests as f64
        );
    } else {
        println!(
            "  wall time: {:.0} ms (sync's own figure {} ms); no latency injected, so no ideal",
            ms(first.wall),
            s.duration_ms
        );
    }
    println!(
        "  events written: {}; pages {}, items seen {}, {:.1} MiB received",
        s.events_written,
        s.pages,
        s.items_seen,
        mib(s.bytes)
    );
    println!(
        "  peak RSS of the bench process: {:.1} MiB before, {:.1} MiB after (goal: < 300 MB = {:.1} MiB); now {:.1} MiB",
        mib(hwm_before),
        mib(hwm_after),
        mib(300_000_000),
        mib(proc_status_bytes("VmRSS").unwrap_or(0))
    );
    if !first.report.warnings.is_empty() {
        println!("  warnings: {:?}", first.report.warnings);
    }
    if show_timeline {
        timeline(&first.samples, ideal_per_s);
    }
    let first_member_share = first.member_share;
    let first_per = ms(first.wall) * concurrency as f64 / first.sim_requests as f64;
    drop(first);

    // The second sync in a process of its own too: it folds the log the first
    // one wrote (sled allows one process at a time, so this one lets go of it).
    drop(log);
    let child = Command::new(std::env::current_exe().expect("the bench's own executable"))
        .env(ROLE, "resync")
        .env(SIM_BASE, &sim.base)
        .env(LOG_DIR, dir.path())
        .env("GL_BENCH_CONCURRENCY", concurrency.to_string())
        .env("GL_BENCH_LATENCY_MS", latency_ms.to_string())
        .stdin(Stdio::null())
        .spawn()
        .expect("start the second sync");
    let mut child = Reaped(child);
    let status = child.0.wait().expect("wait for the second sync");
    assert!(status.success(), "the second sync failed: {status}");

    if latency_ms > 0 {
        let n = env_u64("GL_BENCH_BASELINE_REQUESTS", 1_000);
        let took = transport_baseline(&runtime, &sim.base, concurrency, n, first_member_share);
        let per = ms(took) * concurrency as f64 / n as f64;
        println!(
            "baseline, the client alone at the same latency and concurrency: {n} requests ({:.0}% member pages, the rest roles) in {:.0} ms; mean time per request {per:.1} ms, ratio {:.3} to the ideal; the sync's {first_per:.1} ms: {:+.1} ms per request are the sync's own (its work, and slots idle while lists reveal what to fetch next)",
            100.0 * first_member_share,
            ms(took),
            ms(took) / (n as f64 * latency_ms as f64 / concurrency as f64),
            first_per - per
        );
    }
    drop(dir);
    drop(sim);

    if latency_ms > 0 {
        // In a process of its own, so its peak resident set is its own too.
        let exe = std::env::current_exe().expect("the bench's own executable");
        let child = Command::new(exe)
            .env(ROLE, "reference")
            .env("GL_BENCH_PRESET", preset.to_string())
            .env("GL_BENCH_SEED", seed.to_string())
            .env("GL_BENCH_CONCURRENCY", concurrency.to_string())
            .stdin(Stdio::null())
            .spawn()
            .expect("start the reference run");
        let mut child = Reaped(child);
        let status = child.0.wait().expect("wait for the reference run");
        assert!(status.success(), "the reference run failed: {status}");
    }
}

/// A child process killed and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The reference run: one sync of the preset without injected latency into a
/// fresh log, in a fresh process.
fn reference() {
    let preset = Preset::from_str(&std::env::var("GL_BENCH_PRESET").unwrap_or_default())
        .expect("a preset from the parent");
    let seed = env_u64("GL_BENCH_SEED", 42);
    let concurrency = env_u64("GL_BENCH_CONCURRENCY", 8).max(1) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let sim = Sim::start(preset, seed, 0);
    let dir = tempfile::tempdir().expect("a temp dir");
    let log = EventLog::open(dir.path()).expect("open a fresh log");
    let hwm_before = proc_status_bytes("VmHWM").unwrap_or(0);
    let zero = run_sync(&runtime, &sim.base, &log, concurrency);
    println!(
        "reference, no injected latency, fresh log, own process: wall {:.0} ms (sync's own figure {} ms), requests {}, events written {}, peak RSS {:.1} MiB before, {:.1} MiB after",
        ms(zero.wall),
        zero.report.stats.duration_ms,
        zero.sim_requests,
        zero.report.stats.events_written,
        mib(hwm_before),
        mib(proc_status_bytes("VmHWM").unwrap_or(0)),
    );
}

/// The second sync: the unchanged site again, into the log the first sync
/// wrote, in a fresh process.
fn resync() {
    let base = std::env::var(SIM_BASE).expect("the simulator's base URL from the parent");
    let dir = std::env::var(LOG_DIR).expect("the log directory from the parent");
    let concurrency = env_u64("GL_BENCH_CONCURRENCY", 8).max(1) as usize;
    let latency_ms = env_u64("GL_BENCH_LATENCY_MS", 30);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let log = EventLog::open(&dir).expect("open the first sync's log");
    let hwm_before = proc_status_bytes("VmHWM").unwrap_or(0);
    let again = run_sync(&runtime, &base, &log, concurrency);
    let s = &again.report.stats;
    println!(
        "second sync of the unchanged site, own process: requests {} (simulator) / {} (client), minimum {}; events written {} (expected 0); wall {:.0} ms (sync's own figure {} ms; ideal {:.0} ms); peak RSS {:.1} MiB before, {:.1} MiB after",
        again.sim_requests,
        s.requests,
        s.minimum_requests,
        s.events_written,
        ms(again.wall),
        s.duration_ms,
        again.sim_requests as f64 * latency_ms as f64 / concurrency as f64,
        mib(hwm_before),
        mib(proc_status_bytes("VmHWM").unwrap_or(0)),
    );
}
