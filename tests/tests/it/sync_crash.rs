//! A sync process is killed with SIGKILL at random moments while it syncs a
//! simulated site, and the site changes between the kills. After each
//! kill the log opens and verifies. Afterwards one sync in process converges to
//! exactly the site, the whole log replays without a duplicate (no grant added
//! twice, none removed that was absent), and a further sync appends nothing.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use grantledger_eventlog::EventLog;
use grantledger_ingest::{sync, Outcome, SyncOptions};
use grantledger_jira::JiraClient;
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer, SimUser, SplitMix64};
use grantledger_model::*;

use grantledger_testkit::SITE;
const TRIALS: usize = 8;
/// Added to every request during the trials, so that one sync of the small site
/// takes about a second and the kills land in all of its phases.
const LATENCY: Duration = Duration::from_millis(150);

/// The test's churn may empty a small group between trials: the site changing,
/// recorded as it is (mass removals allowed).
fn churn_options() -> SyncOptions {
    let mut opts = SyncOptions::new(SITE);
    opts.allow_mass_removal = true;
    opts
}

fn assert_matches(log: &EventLog, org: &Org) {
    grantledger_testkit::assert_state_matches(log, SITE, org);
}

/// Replays the whole site stream and checks that no event repeats a fact: every
/// grant added was absent, every grant removed was present, every user, group,
/// project or role observed was new and every one that vanished was there.
/// Returns the number of access events.
fn assert_no_duplicates(log: &EventLog) -> u64 {
    let stream = StreamId::jira_site(SITE);
    let mut grants: BTreeSet<Grant> = BTreeSet::new();
    let mut users = BTreeSet::new();
    let mut groups = BTreeSet::new();
    let mut projects = BTreeSet::new();
    let mut roles = BTreeSet::new();
    let mut access = 0;
    let audit = StreamId::audit_site(SITE);
    let mut audit_ids = BTreeSet::new();
    for record in log.read_from(1) {
        let record = record.unwrap();
        // Jira's audit records (ADR 0019): each once, whatever run read it.
        if record.stream == audit {
            if let Event::AuditRecordObserved(e) = &record.event {
                assert!(
                    audit_ids.insert(e.record_id),
                    "audit record {} appended twice",
                    e.record_id
                );
            }
            continue;
        }
        assert_eq!(record.stream, stream);
        let at = record.position;
        if record.event.is_access_event() {
            access += 1;
        }
        match record.event {
            Event::GrantAdded(e) => {
                assert!(
                    grants.insert(e.grant.clone()),
                    "@{at}: {:?} added twice",
                    e.grant
                )
            }
            Event::GrantRemoved(e) => assert!(
                grants.remove(&e.grant),
                "@{at}: {:?} removed but absent",
                e.grant
            ),
            Event::UserObserved(e) => {
                assert!(
                    users.insert(e.user.account_id.clone()),
                    "@{at}: user observed twice"
                )
            }
            Event::UserVanished(e) => {
                assert!(users.remove(&e.account_id), "@{at}: absent user vanished")
            }
            Event::GroupObserved(e) => {
                assert!(
                    groups.insert(e.group.group_id.clone()),
                    "@{at}: group observed twice"
                )
            }
            Event::GroupVanished(e) => {
                assert!(groups.remove(&e.group_id), "@{at}: absent group vanished")
            }
            Event::ProjectObserved(e) => assert!(
                projects.insert(e.project.project_id.clone()),
                "@{at}: project observed twice"
            ),
            Event::ProjectVanished(e) => {
                assert!(
                    projects.remove(&e.project_id),
                    "@{at}: absent project vanished"
                )
            }
            Event::ProjectRoleObserved(e) => assert!(
                roles.insert((e.role.project_id.clone(), e.role.role_id.clone())),
                "@{at}: role observed twice"
            ),
            Event::ProjectRoleVanished(e) => assert!(
                roles.remove(&(e.project_id.clone(), e.role_id.clone())),
                "@{at}: absent role vanished"
            ),
            _ => {}
        }
    }
    access
}

fn client(sim: &SimServer) -> JiraClient {
    grantledger_testkit::client_for(sim, Credential::DEFAULT_EMAIL, Credential::DEFAULT_TOKEN)
}

/// Changes the site the way people do between syncs, enough for a few batches of
/// events early and late in a run: a wave of new accounts (the user list, listed
/// first), members leaving groups and joining them, deactivations, role actors
/// going. The admin whose credential the sync uses is never touched.
fn change_site(sim: &SimServer, trial: usize, rng: &mut SplitMix64) {
    let admin = Credential::admin_of(&sim.org()).account_id;
    sim.mutate(|o| {
        for i in 0..50 {
            o.users.push(SimUser {
                account_id: format!("712020:trial{trial}-{i}"),
                account_type: "atlassian".into(),
                display_name: format!("New Hire {trial}-{i}"),
                email: Some(format!("hire{trial}.{i}@example.test")),
                email_hidden: i % 5 == 0,
                active: true,
            });
        }
        let groups: Vec<String> = o.groups.iter().map(|g| g.group_id.clone()).collect();
        let users: Vec<String> = o.users.iter().map(|u| u.account_id.clone()).collect();
        for _ in 0..25 {
            let members = o.memberships.entry(groups[rng.below(groups.len())].clone());
            let members = members.or_default();
            let leaving: Vec<String> = members.iter().filter(|a| **a != admin).cloned().collect();
            if !leaving.is_empty() {
                members.remove(&leaving[rng.below(leaving.len())]);
            }
            let members = o.memberships.entry(groups[rng.below(groups.len())].clone());
            members
                .or_default()
                .insert(users[rng.below(users.len())].clone());
        }
        for _ in 0..2 {
            let i = rng.below(o.users.len());
            if o.users[i].account_id != admin {
                o.users[i].active = false;
            }
        }
        for _ in 0..3 {
            let p = rng.below(o.projects.len());
            let r = rng.below(o.projects[p].roles.len());
            let actors = &mut o.projects[p].roles[r].user_actors;
            if let Some(a) = actors.iter().find(|a| **a != admin).cloned() {
                actors.remove(&a);
            }
        }
    });
}

/// The kill delays: one per trial, spread over 100–1500 ms (each in its own
/// slice of that range, in a shuffled order), so that kills land early and late
/// in a run whatever the seed.
fn kill_delays(rng: &mut SplitMix64) -> Vec<Duration> {
    let slice = 1_400 / TRIALS as u64;
    let mut delays: Vec<Duration> = (0..TRIALS as u64)
        .map(|i| Duration::from_millis(100 + i * slice + rng.next_u64() % slice))
        .collect();
    for i in (1..delays.len()).rev() {
        delays.swap(i, rng.below(i + 1));
    }
    delays
}

#[test]
fn sigkill_mid_sync_leaves_a_verifying_log_and_the_next_sync_converges_without_duplicates() {
    let seed = std::env::var("GRANTLEDGER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("sync crash seed {seed} (set GRANTLEDGER_CRASH_SEED to repeat)");
    let mut rng = SplitMix64::new(seed);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let org = Org::generate(Preset::Small, 23);
    let faults = Faults {
        latency: LATENCY,
        ..Faults::default()
    };
    let sim = runtime.block_on(grantledger_testkit::start_sim(org, Vec::new(), faults));
    let dir = tempfile::tempdir().unwrap();

    let mut interrupted_after_appending = 0;
    let mut finished_before_the_kill = 0;
    let mut last_head: Option<(u64, grantledger_eventlog::Hash)> = None;
    for (trial, delay) in kill_delays(&mut rng).into_iter().enumerate() {
        if trial > 0 {
            // The site changes between the trials, so that every run has real work.
            change_site(&sim, trial, &mut rng);
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_sync-child"))
            .arg(dir.path())
            .arg(sim.base_url())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL on Unix; harmless if it already exited
        let status = child.wait().unwrap();
        let stderr = grantledger_tests::drain(child.stderr.take());
        let stdout = grantledger_tests::drain(child.stdout.take());
        if status.code().is_some() {
            assert!(status.success(), "trial {trial}: the sync failed: {stderr}");
            finished_before_the_kill += 1;
        }

        let log = EventLog::open(dir.path())
            .unwrap_or_else(|e| panic!("trial {trial}: the log does not open: {e}"));
        let report = log.verify().unwrap();
        assert!(report.is_ok(), "trial {trial}: {:?}", report.problem);
        let head = log.head();
        if let Some((position, hash)) = last_head {
            let kept = log
                .get(position)
                .unwrap()
                .expect("an earlier record is gone");
            assert_eq!(kept.hash, hash, "trial {trial}: earlier records changed");
        }
        // What the killed run left: its records after its SyncStarted.
        let run_records: Vec<Event> = log
            .read_from(last_head.map_or(1, |(p, _)| p + 1))
            .map(|r| r.unwrap().event)
            .collect();
        let appended_access = run_records.iter().filter(|e| e.is_access_event()).count();
        let closed = run_records
            .iter()
            .any(|e| matches!(e, Event::SyncCompleted(_) | Event::SyncFailed(_)));
        if let Some(n) = stdout
            .trim()
            .strip_prefix("completed: ")
            .and_then(|r| r.strip_suffix(" events"))
        {
            assert_eq!(
                n.parse::<usize>().unwrap(),
                appended_access,
                "trial {trial}: the finished run appended what it reported"
            );
        }
        if !closed && appended_access > 0 {
            interrupted_after_appending += 1;
        }
        println!(
            "trial {trial}: killed after {delay:?}: {} records, {appended_access} access events{} {}",
            run_records.len(),
            if closed { ", run closed" } else { "" },
            stdout.trim()
        );
        last_head = Some((head.position, head.hash));
    }
    println!("{interrupted_after_appending} runs killed after appending, {finished_before_the_kill} finished first");
    assert!(
        interrupted_after_appending > 0,
        "no kill landed while a run was appending"
    );

    // Recovery: one sync in process, without faults, converges to exactly the site.
    sim.set_faults(Faults::default());
    let log = EventLog::open(dir.path()).unwrap();
    let client = client(&sim);
    let report = runtime
        .block_on(sync(&log, &client, churn_options()))
        .unwrap();
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    println!(
        "recovery sync: {} access events",
        report.stats.events_written
    );
    assert_matches(&log, &sim.org());
    let access = assert_no_duplicates(&log);
    assert!(
        access > 600,
        "the site and seven waves of changes make about 1,100 access events, not {access}"
    );

    // A further sync appends no access event.
    let head = log.head().position;
    let again = runtime
        .block_on(sync(&log, &client, churn_options()))
        .unwrap();
    assert_eq!(again.outcome, Outcome::Completed);
    assert_eq!(again.stats.events_written, 0);
    assert_eq!(
        log.head().position,
        head + 3,
        "only SyncStarted, the audit log's checkpoint and SyncCompleted"
    );
    let report = log.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problem);
}
