//! The query side on a large log: rebuild rate against the log's own replay
//! rate, one entitlement as of random past positions, history of one user and
//! one group, the whole CLI for `access who jira-administrators`, the state's
//! memory and the snapshot's size against the encoded state.
//!
//! `cargo bench -p grantledger-benches --bench query`
//! Settings: `GL_BENCH_EVENTS` (log size to reach, default 5,000,000),
//! `GL_BENCH_PRESET` (the org synced first: small, medium or large; default
//! large), `GL_BENCH_CHURN` (changes per appended daily sync, default 5,000),
//! `GL_BENCH_SAMPLES` (random positions for as-of, default 200), `GL_BENCH_SEED`,
//! `GL_BENCH_DIR` (a data directory to build the log in and keep, and to reuse
//! on later runs when its log already holds enough events; default a temporary
//! one), `GL_BENCH_PARTS` (which figures: `all`, or some of `rebuild`, `memory`,
//! `asof`, `history`, `cli`, comma-separated; the snapshots are removed first
//! when `memory` is measured, so that its figures start from nothing; `memory`
//! implies `rebuild`).
//! A quick run: `GL_BENCH_EVENTS=300000 GL_BENCH_PRESET=medium`.
//!
//! The log is built as a user's would be: the org is synced from the simulator
//! over loopback, then each simulated day appends one sync run (`SyncStarted`,
//! the day's joins, leaves, renames, deactivations and role changes as the sync
//! would record them, `SyncCompleted`) straight through `EventLog::append`, the
//! changes drawn against the current state so that each one is a real change.
//! The CLI figure needs `target/release/grantledger` (`cargo build --release -p
//! grantledger-cli`) and `/usr/bin/time` for the peak resident set.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use grantledger_benches::{dir_size, env_u64, mib, output_of, proc_status_bytes, rate};
use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent};
use grantledger_jira_sim::{Org, Preset};
use grantledger_model::*;
use grantledger_projection::query::{DEFAULT_SNAPSHOT_EVERY, STATE_KIND};
use grantledger_projection::{
    HistoryIndex, Queries, Site, SiteState, SnapshotStore, Subject, Target,
};

const SITE: &str = "sim.atlassian.net";

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    if let Some(data) = std::env::var_os(STATE_CHILD) {
        state_in_a_fresh_process(Path::new(&data));
        return;
    }
    let target = env_u64("GL_BENCH_EVENTS", 5_000_000);
    let preset = Preset::from_str(&std::env::var("GL_BENCH_PRESET").unwrap_or("large".into()))
        .expect("GL_BENCH_PRESET is small, medium or large");
    let churn = env_u64("GL_BENCH_CHURN", 5_000) as usize;
    let samples = env_u64("GL_BENCH_SAMPLES", 200) as usize;
    let seed = env_u64("GL_BENCH_SEED", 42);
    let (_temporary, data) = match std::env::var_os("GL_BENCH_DIR") {
        Some(dir) => (None, PathBuf::from(dir)),
        None => {
            let t = tempfile::tempdir().expect("a temporary directory");
            let path = t.path().to_path_buf();
            (Some(t), path)
        }
    };
    let log_dir = data.join("log");
    let parts = std::env::var("GL_BENCH_PARTS").unwrap_or_else(|_| "all".into());
    let part = |name: &str| parts == "all" || parts.split(',').any(|p| p.trim() == name);
    if part("memory") {
        let _ = std::fs::remove_dir_all(data.join("snapshots"));
    }

    // ----- build the log (or reuse a kept one) -----------------------------------
    let started = Instant::now();
    let log = EventLog::open(&log_dir).expect("a log");
    let kept = log.head().position;
    let synced = if kept >= target {
        // The org's sync ends at the log's first SyncCompleted.
        let synced = log
            .read_from(1)
            .map(|r| r.expect("a readable record"))
            .find(|r| matches!(r.event, Event::SyncCompleted(_)))
            .expect("a completed sync")
            .position;
        println!(
            "log: reusing {} ({kept} events; the org synced by position {synced})",
            log_dir.display()
        );
        synced
    } else {
        assert_eq!(
            kept, 0,
            "GL_BENCH_DIR holds a log of {kept} events, fewer than asked: remove it"
        );
        let org = Org::generate(preset, seed);
        grantledger_benches::sync_from_simulator(&log, org, SITE);
        let synced = log.head().position;
        println!(
            "log: {preset:?} org synced in {:.1} s ({synced} events)",
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let days = append_churn(&log, target, churn, seed);
        println!(
            "log: {days} daily syncs of up to {churn} changes appended in {:.1} s: {} events, {:.0} MiB on disk",
            started.elapsed().as_secs_f64(),
            log.head().position,
            mib(log.size_on_disk().unwrap_or(0))
        );
        synced
    };
    let head = log.head().position;

    let store = SnapshotStore::new(data.join("snapshots"));
    let cached =
        Queries::new(log.clone(), SITE).with_snapshots(store.clone(), DEFAULT_SNAPSHOT_EVERY);
    let (state, index) = if part("rebuild") || part("memory") {
        rebuild(&log, head)
    } else {
        (
            cached.current().expect("the state"),
            cached.index().expect("the index"),
        )
    };
    if part("memory") {
        memory(&log, &cached, &store, &state);
    }
    if part("asof") {
        as_of(&cached, &state, &index, synced, head, samples, seed);
    }
    if part("history") {
        history(&cached, &state, &index, head, samples, seed);
    }
    drop(log);
    drop(cached);
    drop(index);
    if part("memory") {
        state_memory(&data);
    }

    // ----- the whole CLI ---------------------------------------------------------
    if part("cli") {
        cli(&data);
    }
}

/// Replays the log, then rebuilds the state and the index from nothing.
fn rebuild(log: &EventLog, head: u64) -> (SiteState, HistoryIndex) {
    let t = Instant::now();
    let mut n = 0u64;
    for r in log.read_from(1) {
        r.expect("a readable record");
        n += 1;
    }
    let replay = t.elapsed();
    let t = Instant::now();
    let state = Queries::new(log.clone(), SITE)
        .current()
        .expect("the state");
    let rebuild = t.elapsed();
    let t = Instant::now();
    let index = Queries::new(log.clone(), SITE).index().expect("the index");
    let index_rebuild = t.elapsed();
    println!(
        "rebuild: log replay (decode only) {:.2} M events/s; state rebuild {:.2} M events/s ({:.2}x of replay); history index rebuild {:.2} M events/s ({:.2}x)",
        rate(n, replay) / 1e6,
        rate(head, rebuild) / 1e6,
        replay.as_secs_f64() / rebuild.as_secs_f64(),
        rate(head, index_rebuild) / 1e6,
        replay.as_secs_f64() / index_rebuild.as_secs_f64(),
    );
    (state, index)
}

/// The state's memory, and the snapshots written from nothing.
fn memory(log: &EventLog, cached: &Queries, store: &SnapshotStore, state: &SiteState) {
    let before = proc_status_bytes("VmRSS").unwrap_or(0);
    let again = Queries::new(log.clone(), SITE)
        .current()
        .expect("the state");
    let after = proc_status_bytes("VmRSS").unwrap_or(0);
    let site = Site {
        stream: StreamId::jira_site(SITE),
        state: again,
    };
    let encoded = bincode::serialize(&site).expect("encodes").len() as u64;
    drop(site);
    let t = Instant::now();
    cached.current().expect("the state, filling the cache");
    let fill = t.elapsed();
    let files = store.list(STATE_KIND, SITE).expect("the snapshots");
    let last = files.last().expect("at least one snapshot");
    println!(
        "memory: current state of {} users, {} groups, {} memberships, {} role grants: +{:.0} MiB resident while rebuilt from nothing, the fold's threads' and allocator's included (encoded {:.1} MiB)",
        state.users.len(),
        state.groups.len(),
        state.membership_count(),
        state.role_grant_count(),
        mib(after.saturating_sub(before)),
        mib(encoded)
    );
    println!(
        "snapshots: {} files, {:.0} MiB in all, written in {:.1} s; newest {:.1} MiB = {:.3}x the encoded state",
        files.len(),
        mib(dir_size(store.dir())),
        fill.as_secs_f64(),
        mib(last.bytes),
        last.bytes as f64 / encoded as f64
    );
}

/// Set (to the data directory) in the child process that measures the state.
const STATE_CHILD: &str = "GL_BENCH_STATE_CHILD";

/// The current state's memory, measured in a fresh process (this bench run
/// again) so that nothing freed earlier is counted or reused: its resident set
/// before and after loading the state from its snapshot with every part of it
/// decoded.
fn state_memory(data: &Path) {
    let exe = std::env::current_exe().expect("this bench's path");
    let out = output_of(
        Command::new(exe).env(STATE_CHILD, data),
        "the bench, run again",
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

fn state_in_a_fresh_process(data: &Path) {
    let before = proc_status_bytes("VmRSS").unwrap_or(0);
    let log = EventLog::open(data.join("log")).expect("the log");
    let opened = proc_status_bytes("VmRSS").unwrap_or(0);
    let queries = Queries::new(log.clone(), SITE).with_snapshots(
        SnapshotStore::new(data.join("snapshots")),
        DEFAULT_SNAPSHOT_EVERY,
    );
    let state = queries.current().expect("the state");
    let grants = state.grant_changes.map().len();
    let loaded = proc_status_bytes("VmRSS").unwrap_or(0);
    println!(
        "memory: the current state loaded from its snapshot in a fresh process, grant changes ({grants}) decoded: +{:.0} MiB resident (the log's handle: +{:.0} MiB more)",
        mib(loaded.saturating_sub(opened)),
        mib(opened.saturating_sub(before)),
    );
    drop(state);
}

/// One entitlement, and the whole state, as of random past positions.
fn as_of(
    cached: &Queries,
    state: &SiteState,
    index: &HistoryIndex,
    synced: u64,
    head: u64,
    samples: usize,
    seed: u64,
) {
    let mut rng = Rng(seed);
    let groups: Vec<&GroupId> = state.groups.keys().collect();
    let roles: Vec<&(ProjectId, RoleId)> = state.role_actors.keys().collect();
    let mut times = Vec::with_capacity(samples);
    let mut held = 0usize;
    for i in 0..samples {
        let at = synced + rng.below((head - synced) as usize) as u64;
        let target = if i % 2 == 0 {
            Target::Group {
                group: groups[rng.below(groups.len())].clone(),
            }
        } else {
            let (project, role) = roles[rng.below(roles.len())].clone();
            Target::ProjectRole { project, role }
        };
        let t = Instant::now();
        held += cached
            .direct_holders_at(index, &target, at)
            .expect("holders")
            .len();
        times.push(t.elapsed());
    }
    times.sort_unstable();
    println!(
        "as-of one entitlement (direct holders of a random group or role at a random position, {samples} samples, {held} holders in all): median {:.2} ms, p99 {:.2} ms",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );
    let mut times = Vec::new();
    for _ in 0..samples.min(20) {
        let at = synced + rng.below((head - synced) as usize) as u64;
        let t = Instant::now();
        cached.state_at(at).expect("a state");
        times.push(t.elapsed());
    }
    times.sort_unstable();
    println!(
        "as-of whole state (nearest snapshot + replay, every {DEFAULT_SNAPSHOT_EVERY}): median {:.0} ms, p99 {:.0} ms",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );
}

/// History of random users and of jira-administrators.
fn history(
    cached: &Queries,
    state: &SiteState,
    index: &HistoryIndex,
    head: u64,
    samples: usize,
    seed: u64,
) {
    let mut rng = Rng(seed ^ 0x4157);
    let admins = state
        .groups
        .values()
        .find(|g| g.name == "jira-administrators")
        .map(|g| g.group_id.clone())
        .expect("jira-administrators");
    let users: Vec<&AccountId> = state.users.keys().collect();
    let mut user_times = Vec::new();
    let mut rows = 0;
    for _ in 0..samples.min(100) {
        let u = Subject::User(users[rng.below(users.len())].clone());
        let t = Instant::now();
        rows += cached
            .history(index, &u, head, None)
            .expect("history")
            .0
            .len();
        user_times.push(t.elapsed());
    }
    user_times.sort_unstable();
    let mut group_times = Vec::new();
    let mut group_rows = 0;
    for _ in 0..9 {
        let t = Instant::now();
        group_rows = cached
            .history(index, &Subject::Group(admins.clone()), head, None)
            .expect("history")
            .0
            .len();
        group_times.push(t.elapsed());
    }
    group_times.sort_unstable();
    // The baseline: the same group's records each read from the log.
    let positions = index.positions(&Subject::Group(admins.clone())).to_vec();
    let mut read_times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        for &p in positions.iter().rev() {
            cached.log().get(p).expect("a record").expect("in the log");
        }
        read_times.push(t.elapsed());
    }
    read_times.sort_unstable();
    println!(
        "history: one user median {:.2} ms ({:.1} records on average); jira-administrators median {:.2} ms ({group_rows} records; reading each from the log instead: {:.2} ms, {:.1}x)",
        ms(percentile(&user_times, 0.5)),
        rows as f64 / user_times.len() as f64,
        ms(percentile(&group_times, 0.5)),
        ms(percentile(&read_times, 0.5)),
        percentile(&read_times, 0.5).as_secs_f64() / percentile(&group_times, 0.5).as_secs_f64(),
    );
}

/// Appends daily sync runs of `churn` changes each until the log holds `target`
/// events; returns the number of days.
fn append_churn(log: &EventLog, target: u64, churn: usize, seed: u64) -> u64 {
    let stream = StreamId::jira_site(SITE);
    let mut site = Site::new(SITE);
    grantledger_eventlog::fold_until(log, &mut site, log.head().position).expect("the state");
    let mut rng = Rng(seed ^ 0xc4u64);
    let users: Vec<AccountId> = site.state.users.keys().cloned().collect();
    let groups: Vec<GroupId> = site.state.groups.keys().cloned().collect();
    let roles: Vec<(ProjectId, RoleId)> = site
        .state
        .roles
        .iter()
        .flat_map(|(p, rs)| rs.keys().map(move |r| (p.clone(), r.clone())))
        .collect();
    // Each user's groups and user-actor roles, kept beside the state.
    let mut member_of: HashMap<AccountId, Vec<GroupId>> =
        users.iter().map(|u| (u.clone(), Vec::new())).collect();
    let mut roles_of: HashMap<AccountId, Vec<(ProjectId, RoleId)>> =
        users.iter().map(|u| (u.clone(), Vec::new())).collect();
    for grant in site.state.grants() {
        track(
            &mut member_of,
            &mut roles_of,
            &GrantAdded {
                grant,
                cause: GrantCause::ObservedInSync {
                    run: "initial".into(),
                },
            }
            .into(),
        );
    }
    let mut day = 0u64;
    let mut capped = false;
    while log.head().position < target {
        day += 1;
        let run = SyncRunId::new(format!("bench-day-{day:05}"));
        let cause = || GrantCause::ObservedInSync { run: run.clone() };
        let mut events: Vec<Event> = vec![SyncStarted {
            run: run.clone(),
            site: SITE.into(),
            started_at: Timestamp::from_micros(day as i64 * 86_400_000_000),
        }
        .into()];
        let mut seen_grants = std::collections::HashSet::new();
        let mut seen_users = std::collections::HashSet::new();
        // A small org has fewer distinct changes to make in a day than asked:
        // the day ends when draws keep finding nothing new.
        let mut draws = 0usize;
        while events.len() <= churn {
            draws += 1;
            if draws > churn.saturating_mul(20) {
                if !capped {
                    capped = true;
                    println!(
                        "log: the org gives fewer than {churn} distinct changes a day; day {day} has {}",
                        events.len() - 1
                    );
                }
                break;
            }
            let user = &users[rng.below(users.len())];
            let event: Event = match rng.below(100) {
                // Joins and leaves, balanced so that the org keeps its size: most
                // of a day's changes.
                0..=69 => {
                    let grant = if rng.below(2) == 0 {
                        let group = &groups[rng.below(groups.len())];
                        Grant::membership(user.clone(), group.clone())
                    } else {
                        let mine = &member_of[user];
                        if mine.is_empty() {
                            continue;
                        }
                        Grant::membership(user.clone(), mine[rng.below(mine.len())].clone())
                    };
                    if site.state.has_grant(&grant) {
                        GrantRemoved {
                            grant,
                            cause: cause(),
                        }
                        .into()
                    } else {
                        GrantAdded {
                            grant,
                            cause: cause(),
                        }
                        .into()
                    }
                }
                // Role changes: a user actor added, or one of theirs removed.
                70..=89 => {
                    let grant = if rng.below(2) == 0 {
                        let (project, role) = roles[rng.below(roles.len())].clone();
                        Grant::role(Principal::User(user.clone()), project, role)
                    } else {
                        let mine = &roles_of[user];
                        if mine.is_empty() {
                            continue;
                        }
                        let (project, role) = mine[rng.below(mine.len())].clone();
                        Grant::role(Principal::User(user.clone()), project, role)
                    };
                    if site.state.has_grant(&grant) {
                        GrantRemoved {
                            grant,
                            cause: cause(),
                        }
                        .into()
                    } else {
                        GrantAdded {
                            grant,
                            cause: cause(),
                        }
                        .into()
                    }
                }
                // Renames.
                90..=95 => {
                    let Some(before) = site.state.users.get(user).cloned() else {
                        continue;
                    };
                    let mut after = before.clone();
                    let base = before.display_name.split(" ~").next().unwrap_or("");
                    after.display_name = format!("{base} ~{day}");
                    UserChanged { before, after }.into()
                }
                // Deactivations and reactivations.
                _ => match site.state.users.get(user) {
                    Some(u) if u.active => UserDeactivated {
                        account_id: user.clone(),
                    }
                    .into(),
                    Some(_) => UserReactivated {
                        account_id: user.clone(),
                    }
                    .into(),
                    None => continue,
                },
            };
            // One change per grant or user a day, as a sync would see it.
            let fresh = match &event {
                Event::GrantAdded(e) => seen_grants.insert(e.grant.clone()),
                Event::GrantRemoved(e) => seen_grants.insert(e.grant.clone()),
                _ => seen_users.insert(user.clone()),
            };
            if !fresh {
                continue;
            }
            site.state.apply_event(&event);
            track(&mut member_of, &mut roles_of, &event);
            events.push(event);
        }
        events.push(
            SyncCompleted {
                run: run.clone(),
                stats: SyncStats::default(),
            }
            .into(),
        );
        let batch: Vec<NewEvent> = events
            .into_iter()
            .map(|e| NewEvent::new(e).caused_by(Causation::SyncRun(run.clone())))
            .collect();
        let done = log
            .append(&stream, ExpectedVersion::Any, batch)
            .expect("an append");
        site.state.position = done.last;
    }
    day
}

/// Keeps the per-user lists in step with a grant event.
fn track(
    member_of: &mut HashMap<AccountId, Vec<GroupId>>,
    roles_of: &mut HashMap<AccountId, Vec<(ProjectId, RoleId)>>,
    event: &Event,
) {
    let (grant, added) = match event {
        Event::GrantAdded(e) => (&e.grant, true),
        Event::GrantRemoved(e) => (&e.grant, false),
        _ => return,
    };
    let Principal::User(user) = &grant.principal else {
        return;
    };
    match &grant.entitlement {
        Entitlement::GroupMembership { group } => {
            let list = member_of.entry(user.clone()).or_default();
            if added {
                list.push(group.clone());
            } else {
                list.retain(|g| g != group);
            }
        }
        Entitlement::ProjectRole { project, role } => {
            let key = (project.clone(), role.clone());
            let list = roles_of.entry(user.clone()).or_default();
            if added {
                list.push(key);
            } else {
                list.retain(|k| *k != key);
            }
        }
        Entitlement::ProductAccess { .. } => {}
    }
}

/// `grantledger access who jira-administrators` as a whole process: the first
/// run (it leaves a snapshot at the head), then the median of warm runs, and the
/// peak resident set from `/usr/bin/time -v`.
fn cli(data: &Path) {
    let bin = std::env::var_os("GL_BENCH_CLI")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.join("grantledger"))
        })
        .filter(|p| p.is_file());
    let Some(bin) = bin else {
        println!("cli: skipped: no release binary next to this bench; run `cargo build --release -p grantledger-cli` first (or set GL_BENCH_CLI)");
        return;
    };
    let closed = data.join("log").join(grantledger_eventlog::CLOSED_FILE);
    // `opened`: the log opened as before (its `closed` file removed first);
    // otherwise the answer may come from the closed head (ADR 0025).
    let run = |opened: bool| {
        if opened {
            let _ = std::fs::remove_file(&closed);
        }
        let t = Instant::now();
        let out = output_of(
            Command::new(&bin).arg("--data-dir").arg(data).args([
                "access",
                "who",
                "jira-administrators",
            ]),
            "the CLI",
        );
        (t.elapsed(), out.stdout)
    };
    let (cold, first) = run(true);
    let lines = first.iter().filter(|b| **b == b'\n').count();
    // Alternating, so that both see the same machine.
    let mut fast = Vec::new();
    let mut opened = Vec::new();
    for _ in 0..9 {
        let (t, out) = run(false);
        assert_eq!(out, first, "the closed-head answer is the opened log's");
        fast.push(t);
        opened.push(run(true).0);
    }
    // The last run opened the log and closed it in order: the next is fast.
    fast.sort_unstable();
    opened.sort_unstable();
    let rss = |opened: bool| {
        if opened {
            let _ = std::fs::remove_file(&closed);
        }
        Command::new("/usr/bin/time")
            .arg("-v")
            .arg(&bin)
            .arg("--data-dir")
            .arg(data)
            .args(["access", "who", "jira-administrators"])
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stderr).lines().find_map(|l| {
                    l.trim()
                        .strip_prefix("Maximum resident set size (kbytes): ")
                        .and_then(|kb| kb.parse::<f64>().ok())
                })
            })
            .map_or_else(
                || "unknown (no /usr/bin/time)".to_owned(),
                |kb| format!("{:.0} MiB", kb / 1024.0),
            )
    };
    let (rss_opened, rss_fast) = (rss(true), rss(false));
    println!(
        "cli: `grantledger access who jira-administrators` ({lines} lines): first run {:.0} ms; \
         from the closed head median {:.0} ms (p90 {:.0} ms, peak RSS {rss_fast}); \
         opening the log median {:.0} ms (peak RSS {rss_opened}); ratio {:.2}",
        ms(cold),
        ms(percentile(&fast, 0.5)),
        ms(percentile(&fast, 0.9)),
        ms(percentile(&opened, 0.5)),
        ms(percentile(&fast, 0.5)) / ms(percentile(&opened, 0.5)),
    );
}
