//! SIGKILL at every step of a command: a child process issues and drives one
//! command and stops dead at a chosen step (after the intent, after
//! `CommandStarted`, after Jira changed, after the grant event, after the
//! outcome); the test kills it with SIGKILL, reopens the log in this process and
//! drives the unfinished commands. Each trial must end with exactly one change
//! in Jira (the simulator's write counter and its audit log), the command's
//! events once each, and its grant event once.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;

use grantledger_clock::SystemClock;
use grantledger_eventlog::EventLog;
use grantledger_jira_sim::{Credential, Faults, Org, Preset};
use grantledger_model::*;
use grantledger_outbox::{DrivePolicy, Executor, Outcome, Step};
use grantledger_testkit::SITE;

use crate::{command_events, grant_events, ADD_MEMBER, REMOVE_MEMBER};

/// Trials: every step four times, half of them additions and half removals.
const TRIALS: usize = 20;

#[test]
fn sigkill_at_every_step_leaves_one_change_in_jira_and_no_duplicate_events() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let org = Org::generate(Preset::Small, 7);
    let admin = Credential::admin_of(&org).account_id;
    // The group with the fewest members, and accounts outside it.
    let group = org
        .groups
        .iter()
        .min_by_key(|g| org.memberships.get(&g.group_id).map_or(0, BTreeSet::len))
        .unwrap()
        .group_id
        .clone();
    let members = org.memberships.get(&group).cloned().unwrap_or_default();
    let outsiders: Vec<String> = org
        .users
        .iter()
        .filter(|u| u.active && u.account_id != admin && !members.contains(&u.account_id))
        .map(|u| u.account_id.clone())
        .take(TRIALS / 2)
        .collect();
    assert_eq!(
        outsiders.len(),
        TRIALS / 2,
        "enough accounts outside the group"
    );
    let sim = runtime.block_on(grantledger_testkit::start_sim(
        org,
        Vec::new(),
        Faults::default(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let child = env!("CARGO_BIN_EXE_outbox-crash-child");

    for trial in 0..TRIALS {
        let step = Step::ALL[trial % Step::ALL.len()];
        // Even trials add an outsider; the next trial removes the same account.
        let (action, op) = if trial % 2 == 0 {
            ("add", ADD_MEMBER)
        } else {
            ("remove", REMOVE_MEMBER)
        };
        let account = &outsiders[trial / 2];
        let command = format!("crash-{trial}");
        sim.reset_stats();
        let audit_before = sim.org().audit.len();

        let mut process = Command::new(child)
            .args([
                dir.path().to_str().unwrap(),
                &sim.base_url(),
                Credential::DEFAULT_EMAIL,
                Credential::DEFAULT_TOKEN,
                SITE,
                &command,
                action,
                account,
                &group,
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
            process
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("trial {trial}: the child said {line:?}, stderr {err:?}");
        }
        process.kill().unwrap(); // SIGKILL
        process.wait().unwrap();

        // Restart: a new process would open the log and drive what is unfinished.
        let log = EventLog::open(dir.path()).unwrap();
        let client = grantledger_testkit::client_for(
            &sim,
            Credential::DEFAULT_EMAIL,
            Credential::DEFAULT_TOKEN,
        );
        let ex = Executor::new(
            log.clone(),
            Arc::new(SystemClock::new()),
            DrivePolicy::default(),
        )
        .with_site(SITE, client);
        let driven = runtime.block_on(ex.drive_unfinished()).unwrap();
        let expect_driven = usize::from(step != Step::Finished);
        assert_eq!(
            driven.len(),
            expect_driven,
            "trial {trial} ({})",
            step.name()
        );
        let status = ex
            .status(&CommandId::new(command.as_str()))
            .unwrap()
            .unwrap();
        let Some(Outcome::Succeeded(done)) = status.outcome else {
            panic!("trial {trial}: {:?}", status.outcome);
        };
        assert_eq!(
            done.jira,
            JiraOutcome::Changed,
            "trial {trial} ({})",
            step.name()
        );
        // A grant event found again after a crash is this command's own.
        assert_eq!(
            done.site,
            SiteOutcome::Recorded,
            "trial {trial} ({})",
            step.name()
        );

        let in_group = sim
            .org()
            .memberships
            .get(&group)
            .is_some_and(|m| m.contains(account));
        assert_eq!(in_group, action == "add", "trial {trial}");
        let writes = sim.stats().by_operation.get(op).copied().unwrap_or(0);
        assert_eq!(
            writes,
            1,
            "trial {trial} ({}): one write to Jira",
            step.name()
        );
        let changes = sim.org().audit.len() - audit_before;
        assert_eq!(
            changes,
            1,
            "trial {trial} ({}): one change in Jira",
            step.name()
        );
        assert_eq!(
            command_events(&log, &command),
            ["CommandIssued", "CommandStarted", "CommandSucceeded"],
            "trial {trial} ({})",
            step.name()
        );
        assert_eq!(grant_events(&log, &command).len(), 1, "trial {trial}");
        drop(ex);
        drop(log);
    }

    // The whole site stream replays without a repeated fact, and the log verifies.
    let log = EventLog::open(dir.path()).unwrap();
    let mut grants = BTreeSet::new();
    for record in log.read_stream(&StreamId::jira_site(SITE), 1).unwrap() {
        match record.event {
            Event::GrantAdded(e) => {
                assert!(grants.insert(e.grant), "@{} added twice", record.position)
            }
            Event::GrantRemoved(e) => {
                assert!(
                    grants.remove(&e.grant),
                    "@{} removed but absent",
                    record.position
                )
            }
            _ => {}
        }
    }
    assert!(grants.is_empty(), "every account added was removed again");
    assert!(log.verify().unwrap().is_ok());
}
