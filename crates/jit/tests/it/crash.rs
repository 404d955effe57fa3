//! SIGKILL at every step of a request's command: a child process runs one
//! scheduler pass (the grant of an approved request, or the removal at its
//! deadline) and stops dead at a chosen step of the outbox's command; the test
//! kills it with SIGKILL, reopens the log here and runs one pass. Each trial
//! must end with exactly one change in Jira (the simulator's write counters and
//! its audit log), the request's story once, in the right state, and the log
//! must verify. Grants and removals alternate, each step four times.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;

use grantledger_clock::{Clock, ManualClock};
use grantledger_eventlog::EventLog;
use grantledger_jira_sim::Credential;
use grantledger_jit::{run_once_spread, Jit, Policies, Request};
use grantledger_model::*;
use grantledger_outbox::{DrivePolicy, Executor, Step};
use grantledger_testkit::{client_for, SITE};

use crate::failures::{world, World, ADD_MEMBER, REMOVE_MEMBER};

/// Trials: ten requests, each granted in one trial and removed in the next.
const TRIALS: usize = 20;

const GRANTED: [&str; 4] = [
    "AccessRequested",
    "ApprovalGiven",
    "RequestApproved",
    "AccessGranted",
];
const REVOKED: [&str; 6] = [
    "AccessRequested",
    "ApprovalGiven",
    "RequestApproved",
    "AccessGranted",
    "AccessExpired",
    "AccessRevoked",
];

/// The request's event types, checking that no event id appears twice.
fn story(log: &EventLog, r: &RequestId) -> Vec<&'static str> {
    let records = log.read_stream(&StreamId::request(r), 1).unwrap();
    let ids: Vec<_> = records.iter().filter_map(|r| r.event_id.clone()).collect();
    let unique: BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an event id twice in {r}'s stream");
    records.iter().map(|r| r.event.event_type()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_every_step_of_a_grant_or_removal_leaves_one_change_and_one_story() {
    let wall = std::time::Instant::now();
    let clock = ManualClock::auto_advancing(Timestamp(1_764_288_000_000_000));
    let World {
        h,
        policies,
        group,
        group_name,
        outsiders,
        approver,
        ..
    } = world(clock.clone()).await;
    let (sim, dir) = (h.sim, h.dir);
    drop(h.log);
    assert!(outsiders.len() >= TRIALS / 2);
    let policy_file = dir.path().with_extension("policies.toml");
    std::fs::write(&policy_file, &policies).unwrap();
    let policies = Policies::parse(&policies).unwrap();
    let clock: Arc<ManualClock> = Arc::new(clock);
    let open = || {
        let log = EventLog::open(dir.path()).unwrap();
        let jit = Jit::new(log.clone(), SITE, policies.clone(), clock.clone());
        let client = client_for(&sim, Credential::DEFAULT_EMAIL, Credential::DEFAULT_TOKEN);
        let exec = Arc::new(
            Executor::new(log.clone(), clock.clone(), DrivePolicy::default())
                .with_site(SITE, client),
        );
        (log, jit, exec)
    };
    let child = env!("CARGO_BIN_EXE_jit-crash-child");
    let mut request: Option<Request> = None;

    for trial in 0..TRIALS {
        let step = Step::ALL[(trial / 2) % Step::ALL.len()];
        let grant = trial % 2 == 0;
        let who = &outsiders[trial / 2];
        let (log, jit, exec) = open();
        let r = if grant {
            let r = jit
                .create(grantledger_jit::CreateArgs {
                    actor: who.clone(),
                    entitlement: group_name.clone(),
                    duration_secs: 3600,
                    justification: Some("crash trial".into()),
                    ..Default::default()
                })
                .unwrap();
            jit.approve(r.id.as_str(), &approver, None).unwrap()
        } else {
            let r = jit.load(request.as_ref().unwrap().id.as_str()).unwrap();
            clock.set(r.expires_at.unwrap());
            r
        };
        let command = if grant {
            format!("{}-grant", r.id)
        } else {
            format!("{}-expire", r.id)
        };
        drop((log, jit, exec));
        sim.reset_stats();
        let audit_before = sim.org().audit.len();

        let mut process = Command::new(child)
            .args([
                dir.path().to_str().unwrap(),
                &sim.base_url(),
                Credential::DEFAULT_EMAIL,
                Credential::DEFAULT_TOKEN,
                SITE,
                policy_file.to_str().unwrap(),
                &clock.now().as_micros().to_string(),
                &command,
                step.name(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(process.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != format!("STOPPED {}", step.name()) {
            let mut err = String::new();
            let _ = process.stderr.take().unwrap().read_to_string(&mut err);
            panic!("trial {trial}: the child said {line:?}, stderr {err:?}");
        }
        process.kill().unwrap(); // SIGKILL
        process.wait().unwrap();

        // The restart: a new process opens the log and runs one pass.
        let (log, jit, exec) = open();
        let report = run_once_spread(&jit, &exec).await.unwrap();
        let at = format!(
            "trial {trial} ({} at {})",
            if grant { "grant" } else { "removal" },
            step.name()
        );
        assert_eq!(
            report.driven_unfinished,
            usize::from(step != Step::Finished),
            "{at}"
        );
        let after = jit.load(r.id.as_str()).unwrap();
        let stats = sim.stats();
        let n = |op: &str| stats.by_operation.get(op).copied().unwrap_or(0);
        let member = sim
            .org()
            .memberships
            .get(&group)
            .is_some_and(|m| m.contains(who.as_str()));
        if grant {
            assert_eq!(
                after.status.as_str(),
                "granted",
                "{at}: {:?}",
                after.outcome
            );
            assert!(after.owns_access, "{at}: the add is the request's own");
            assert_eq!((n(ADD_MEMBER), n(REMOVE_MEMBER)), (1, 0), "{at}: one add");
            assert!(member, "{at}");
            assert_eq!(story(&log, &r.id), GRANTED, "{at}");
        } else {
            assert_eq!(
                after.status.as_str(),
                "revoked",
                "{at}: {:?}",
                after.outcome
            );
            assert_eq!(
                (n(ADD_MEMBER), n(REMOVE_MEMBER)),
                (0, 1),
                "{at}: one remove"
            );
            assert!(!member, "{at}");
            assert_eq!(story(&log, &r.id), REVOKED, "{at}");
        }
        assert_eq!(
            sim.org().audit.len(),
            audit_before + 1,
            "{at}: one change in Jira"
        );
        // The command's own events once each.
        let command_types: Vec<&str> = log
            .read_stream(&StreamId::command(&CommandId::from(command.clone())), 1)
            .unwrap()
            .iter()
            .map(|r| r.event.event_type())
            .collect();
        assert_eq!(
            command_types,
            ["CommandIssued", "CommandStarted", "CommandSucceeded"],
            "{at}"
        );
        // Another pass changes nothing more.
        let again = run_once_spread(&jit, &exec).await.unwrap();
        assert!(
            again.granted.is_empty() && again.revoked.is_empty() && again.driven_unfinished == 0,
            "{at}: {again:?}"
        );
        let stats = sim.stats();
        assert_eq!(
            (
                stats.by_operation.get(ADD_MEMBER).copied().unwrap_or(0),
                stats.by_operation.get(REMOVE_MEMBER).copied().unwrap_or(0)
            ),
            (n(ADD_MEMBER), n(REMOVE_MEMBER)),
            "{at}: no write on the next pass"
        );
        request = Some(after);
        drop((log, jit, exec));
    }

    // The site's stream: every add removed once, no fact twice; the log verifies.
    let log = EventLog::open(dir.path()).unwrap();
    let mut held = BTreeSet::new();
    for record in log.read_stream(&StreamId::jira_site(SITE), 1).unwrap() {
        match record.event {
            Event::GrantAdded(e) if matches!(e.cause, GrantCause::AppliedByRequest { .. }) => {
                assert!(held.insert(e.grant), "@{} added twice", record.position)
            }
            Event::GrantRemoved(e) if matches!(e.cause, GrantCause::RemovedAtExpiry { .. }) => {
                assert!(
                    held.remove(&e.grant),
                    "@{} removed but not added",
                    record.position
                )
            }
            _ => {}
        }
    }
    assert!(held.is_empty(), "every add was removed: {held:?}");
    assert!(log.verify().unwrap().is_ok());
    println!(
        "{TRIALS} SIGKILL trials in {} ms",
        wall.elapsed().as_millis()
    );
}
