//! The scheduler on a manual clock: pre-existing access is recorded without a
//! command and expires revoking nothing, on time, also across a restart. These
//! paths issue no command; an executor that is called fails the test.

use std::sync::Arc;
use std::time::Duration;

use grantledger_jit::{run, run_once, CommandRunner, CreateArgs, Jit, Policies, Status};
use grantledger_model::*;

use crate::common::{observe_member, world, HOUR, POLICIES, SITE};

/// No command may be issued on these paths.
struct NoCommands;

impl CommandRunner for NoCommands {
    async fn execute(
        &self,
        command: &CommandIssued,
        _jira: &tokio::sync::Semaphore,
    ) -> Result<grantledger_jit::request::CommandOutcome, String> {
        panic!("no command should be issued here, got {}", command.command)
    }

    async fn drive_unfinished(&self, _limit: usize) -> Result<usize, String> {
        Ok(0)
    }
}

fn approved_request(w: &crate::common::World, who: &str) -> RequestId {
    let r = w
        .jit
        .create(CreateArgs {
            actor: who.into(),
            entitlement: "devs".into(),
            duration_secs: 2 * HOUR,
            ..CreateArgs::default()
        })
        .unwrap();
    w.jit.approve(r.id.as_str(), "bob", None).unwrap();
    r.id
}

#[tokio::test]
async fn pre_existing_access_is_recorded_and_expires_revoking_nothing() {
    let w = world();
    observe_member(&w.log, "alice", "g-devs");
    let id = approved_request(&w, "alice");
    let report = run_once(&w.jit, &NoCommands).await.unwrap();
    assert_eq!(report.granted, vec![id.clone()]);
    let r = w.jit.load(id.as_str()).unwrap();
    assert_eq!(r.status, Status::AlreadyHeld);
    assert_eq!(r.pre_existing, Some(PreExisting::InState));
    let deadline = r.expires_at.unwrap();
    assert_eq!(report.next_deadline, Some(deadline));
    // A second early: nothing.
    w.clock
        .set(Timestamp::from_micros(deadline.as_micros() - 1_000_000));
    let report = run_once(&w.jit, &NoCommands).await.unwrap();
    assert!(report.expired.is_empty());
    // At the deadline, after a "restart" (a new service on the same log).
    w.clock.set(deadline);
    let again = Jit::new(
        w.log.clone(),
        SITE,
        Policies::parse(POLICIES).unwrap(),
        Arc::new(w.clock.clone()),
    );
    let report = run_once(&again, &NoCommands).await.unwrap();
    assert_eq!(report.expired, vec![id.clone()]);
    assert_eq!(report.expiry_lag_micros, vec![0]);
    let r = again.load(id.as_str()).unwrap();
    assert_eq!(r.status, Status::Expired);
    let last = w
        .log
        .read_stream(&StreamId::request(&id), 1)
        .unwrap()
        .pop()
        .unwrap();
    assert!(matches!(
        last.event,
        Event::AccessExpired(AccessExpired {
            action: ExpiryAction::NothingToRevoke {
                why: PreExisting::InState
            },
            ..
        })
    ));
    // The membership is still in the site's state: nothing was revoked.
    assert!(again.site_state().unwrap().has_grant(&Grant::membership(
        AccountId::from("alice"),
        GroupId::from("g-devs")
    )));
    // A further pass does nothing more.
    let report = run_once(&again, &NoCommands).await.unwrap();
    assert!(report.expired.is_empty() && report.granted.is_empty());
}

type Passes = tokio::sync::mpsc::UnboundedReceiver<Result<grantledger_jit::PassReport, String>>;

/// The next pass's report (a hung scheduler fails the test after ten seconds
/// of real time instead of hanging it).
async fn next(passes: &mut Passes) -> grantledger_jit::PassReport {
    tokio::time::timeout(Duration::from_secs(10), passes.recv())
        .await
        .expect("the scheduler made no pass")
        .expect("the scheduler stopped")
        .expect("the pass failed")
}

#[tokio::test]
async fn run_wakes_at_the_deadline_on_the_injected_clock() {
    let w = world();
    observe_member(&w.log, "alice", "g-devs");
    let id = approved_request(&w, "alice");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (pass_tx, mut pass_rx) = tokio::sync::mpsc::unbounded_channel();
    let jit = w.jit.clone();
    let clock: Arc<dyn grantledger_clock::Clock> = Arc::new(w.clock.clone());
    let task = tokio::spawn(async move {
        run(
            move || Ok((jit.clone(), std::sync::Arc::new(NoCommands))),
            clock,
            Duration::from_secs(24 * 3600),
            stop_rx,
            move |r| {
                let sent = match r {
                    Ok(p) => Ok(p.clone()),
                    Err(e) => Err(e.to_string()),
                };
                let _ = pass_tx.send(sent);
            },
        )
        .await
    });
    let first = next(&mut pass_rx).await;
    assert_eq!(first.granted, vec![id.clone()]);
    let deadline = first.next_deadline.unwrap();
    // The loop sleeps until the deadline; move the clock there.
    while w.clock.sleepers() == 0 {
        tokio::task::yield_now().await;
    }
    w.clock.set(deadline);
    let second = next(&mut pass_rx).await;
    assert_eq!(second.expired, vec![id.clone()]);
    assert!(second.expiry_lag_micros.iter().all(|lag| *lag < 1_000_000));
    stop_tx.send(true).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn a_pass_that_cannot_start_is_tried_again_a_second_later_not_a_poll_later() {
    let w = world();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (pass_tx, mut pass_rx) = tokio::sync::mpsc::unbounded_channel();
    let jit = w.jit.clone();
    let clock: Arc<dyn grantledger_clock::Clock> = Arc::new(w.clock.clone());
    let mut opens = 0;
    let task = tokio::spawn(async move {
        run(
            move || {
                opens += 1;
                if opens == 1 {
                    Err(grantledger_jit::RequestError::Unavailable(
                        "the log is held by another command".into(),
                    ))
                } else {
                    Ok((jit.clone(), std::sync::Arc::new(NoCommands)))
                }
            },
            clock,
            Duration::from_secs(3600),
            stop_rx,
            move |r| {
                let _ = pass_tx.send(r.is_ok());
            },
        )
        .await
    });
    let first = tokio::time::timeout(Duration::from_secs(10), pass_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(!first, "the first pass could not start");
    while w.clock.sleepers() == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(w.clock.sleeps(), vec![Duration::from_secs(1)]);
    w.clock.advance(Duration::from_secs(1));
    let second = tokio::time::timeout(Duration::from_secs(10), pass_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(second, "the second pass ran");
    stop_tx.send(true).unwrap();
    task.await.unwrap();
}
