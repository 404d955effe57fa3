//! The scheduler: one pass grants what was approved, expires what ran out and
//! drives unfinished commands; `run` repeats passes, waking at the next deadline.
//! All state comes from the log, so a restart resumes where the last pass was.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use grantledger_clock::Clock;
use grantledger_model::*;

use crate::error::RequestError;
use crate::request::{self, CommandOutcome, GrantStep, Request, Status};
use crate::service::Jit;

/// Runs the outbox's commands: issues a command (appends its `CommandIssued`
/// unless its stream exists) and drives it until it has an outcome in its
/// `command:<id>` stream, or leaves it unfinished to be driven again by a later
/// pass. The scheduler calls `execute` for several commands at once (never two
/// of the same grant at once); the `[jit]` section's `concurrency` bounds how
/// many of them are calling Jira at once (the permits of `jira`).
pub trait CommandRunner: Send + Sync {
    /// Issues (if needed) and drives `command`; returns its outcome, or why it was
    /// left unfinished (the log failed, a crash, Jira unusable for a reason that
    /// is not an outcome). A command that Jira refused is an outcome, not an error.
    /// Jira is called only while holding a permit of `jira`; the log's appends
    /// are made without one.
    fn execute(
        &self,
        command: &CommandIssued,
        jira: &tokio::sync::Semaphore,
    ) -> impl Future<Output = Result<CommandOutcome, String>> + Send;

    /// Drives every command that has an intent and no outcome (whatever issued
    /// it), up to `limit` at once; returns how many were driven.
    fn drive_unfinished(&self, limit: usize) -> impl Future<Output = Result<usize, String>> + Send;
}

/// The outbox runs the commands: `issue_and_drive` with the request's derived
/// command id (issuing is a no-op when issued already), whose outcome is
/// returned as is.
impl CommandRunner for grantledger_outbox::Executor {
    async fn execute(
        &self,
        command: &CommandIssued,
        jira: &tokio::sync::Semaphore,
    ) -> Result<CommandOutcome, String> {
        let spec = grantledger_outbox::CommandSpec {
            id: Some(command.command.clone()),
            site: command.site.clone(),
            action: command.action,
            grant: command.grant.clone(),
            purpose: command.purpose.clone(),
        };
        let (_, outcome) = self
            .issue_and_drive(spec, jira)
            .await
            .map_err(|e| e.to_string())?;
        match outcome {
            grantledger_outbox::Outcome::Succeeded(s) => {
                Ok(CommandOutcome::Succeeded { jira: s.jira })
            }
            grantledger_outbox::Outcome::Failed(f) => {
                Ok(CommandOutcome::Failed { reason: f.reason })
            }
        }
    }

    async fn drive_unfinished(&self, limit: usize) -> Result<usize, String> {
        let driven = self
            .drive_unfinished_concurrently(limit)
            .await
            .map_err(|e| e.to_string())?;
        for (id, result) in &driven {
            if let Err(e) = result {
                tracing::warn!(command = %id, error = %e, "an unfinished command could not be driven");
            }
        }
        Ok(driven.len())
    }
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Unfinished commands driven at the start of the pass (left by a crash).
    pub driven_unfinished: usize,
    /// Requests whose grant was recorded (granted or found held already).
    pub granted: Vec<RequestId>,
    /// Requests that expired.
    pub expired: Vec<RequestId>,
    /// Requests whose access was revoked (the remove command finished).
    pub revoked: Vec<RequestId>,
    /// Requests whose command failed.
    pub failed: Vec<RequestId>,
    /// Requests whose failed removal was tried again with a new command.
    pub removals_retried: Vec<RequestId>,
    /// Commands left unfinished (driven again next pass).
    pub unfinished: Vec<CommandId>,
    /// How late each expiry was decided after its deadline, in microseconds.
    pub expiry_lag_micros: Vec<i64>,
    /// The earliest deadline still ahead.
    pub next_deadline: Option<Timestamp>,
}

impl PassReport {
    fn merge(&mut self, other: PassReport) {
        self.driven_unfinished += other.driven_unfinished;
        self.granted.extend(other.granted);
        self.expired.extend(other.expired);
        self.revoked.extend(other.revoked);
        self.failed.extend(other.failed);
        self.removals_retried.extend(other.removals_retried);
        self.unfinished.extend(other.unfinished);
        self.expiry_lag_micros.extend(other.expiry_lag_micros);
    }
}

fn is_issued(jit: &Jit, command: &CommandId) -> Result<bool, RequestError> {
    Ok(jit.log().stream_version(&StreamId::command(command))? > 0)
}

/// Runs `command` for request `r` and records its outcome in the request.
/// Returns the request after.
async fn run_command<E: CommandRunner>(
    jit: &Jit,
    exec: &E,
    jira: &tokio::sync::Semaphore,
    r: &Request,
    command: &CommandIssued,
    report: &mut PassReport,
) -> Result<Request, RequestError> {
    let outcome = match exec.execute(command, jira).await {
        Ok(outcome) => outcome,
        Err(why) => {
            tracing::warn!(request = %r.id, command = %command.command, %why, "command left unfinished");
            report.unfinished.push(command.command.clone());
            return Ok(r.clone());
        }
    };
    // The request may have moved meanwhile (another process): decide on fresh state.
    let fresh = jit.load(r.id.as_str())?;
    let events = request::command_finished(&fresh, &command.command, &outcome, jit.clock().now());
    let after = jit.commit_async(&fresh, events).await?;
    match after.status {
        Status::Granted | Status::AlreadyHeld if fresh.status == Status::Approved => {
            report.granted.push(after.id.clone())
        }
        Status::Revoked if fresh.status == Status::Revoking => {
            report.revoked.push(after.id.clone())
        }
        Status::Failed | Status::RevokeFailed if fresh.status != after.status => {
            report.failed.push(after.id.clone())
        }
        _ => {}
    }
    Ok(after)
}

/// Whether a pass has something to do for `r` at `now`: a grant to make, an
/// expiry due, a removal under way, or a failed removal whose wait is over.
fn has_work(r: &Request, now: Timestamp) -> bool {
    match r.status {
        Status::Approved | Status::Revoking => true,
        s if s.is_running() => r.expires_at.is_none_or(|d| d <= now),
        Status::RevokeFailed => request::removal_retry_due(r).is_some_and(|d| d <= now),
        _ => false,
    }
}

/// One request's due steps, in order: its grant, its expiry (handing the access
/// over to a running request of the same grant, looked for among `all`), its
/// removal, and the retry of a failed removal.
async fn advance<E: CommandRunner>(
    jit: &Jit,
    exec: &E,
    jira: &tokio::sync::Semaphore,
    id: &RequestId,
    all: &[Request],
) -> Result<PassReport, RequestError> {
    let mut report = PassReport::default();
    let mut r = jit.load(id.as_str())?;
    if r.status == Status::Approved {
        let held = match &r.grant {
            Some(g) => jit.with_site_state(|s| s.has_grant(g))?,
            None => false,
        };
        let issued = is_issued(jit, &request::grant_command_id(&r.id))?;
        match request::grant_step(&r, held, issued, jit.clock().now()) {
            GrantStep::Nothing => {}
            GrantStep::Record(events) => {
                r = jit.commit(&r, events)?;
                report.granted.push(r.id.clone());
            }
            GrantStep::Issue(command) => {
                r = run_command(jit, exec, jira, &r, &command, &mut report).await?;
            }
        }
    }
    let mut expiry = None;
    if r.status.is_running() {
        let now = jit.clock().now();
        let deadline = r.expires_at.unwrap_or(now);
        if now >= deadline {
            (r, expiry) = expire(jit, &r, all, now, &mut report).await?;
        }
    }
    if let Some(command) = request::removal_command(&r) {
        r = run_command(jit, exec, jira, &r, &command, &mut report).await?;
    }
    // Durable by now if the removal's command appended anything (the log
    // flushes in order); awaited in any case before the pass reports it.
    if let Some(expiry) = expiry {
        expiry.durable().await?;
    }
    // A removal that failed is tried again once its wait is over: access a
    // request added must not outlive it because Jira was down for a while.
    if let Some(events) = request::retry_removal(&r, jit.clock().now()) {
        r = jit.commit(&r, events)?;
        report.removals_retried.push(r.id.clone());
        if let Some(command) = request::removal_command(&r) {
            run_command(jit, exec, jira, &r, &command, &mut report).await?;
        }
    }
    Ok(report)
}

/// How many requests a pass advances at once per command it lets call Jira at
/// once: while `concurrency` commands wait for Jira's answer, as many others
/// record their intent (to be ready the moment a call ends) or their outcome,
/// so that the log's flushes do not leave Jira idle.
const ADVANCED_PER_JIRA_CALL: usize = 2;

/// The permits of the calls to Jira a pass makes at once (the policies'
/// `concurrency`) and how many requests it advances at once.
fn limits(jit: &Jit) -> (tokio::sync::Semaphore, usize) {
    let jira = jit.policies().scheduler_concurrency().max(1);
    (
        tokio::sync::Semaphore::new(jira),
        jira * ADVANCED_PER_JIRA_CALL,
    )
}

/// One pass over every request of the site. The requests with something due are
/// advanced concurrently, with up to the policies' `concurrency` commands calling
/// Jira at once (a command holds its permit only while it calls Jira, not while
/// it appends to the log); those of one grant (the same beneficiary and
/// entitlement) one after the other, in the order they were asked for, as a
/// single pass would: a grant and a removal of the same membership never race,
/// and a hand-over finds its successor as the earlier steps left it.
pub async fn run_once<E: CommandRunner>(jit: &Jit, exec: &E) -> Result<PassReport, RequestError> {
    let (jira, advanced) = limits(jit);
    let (report, all, chains) = plan(jit, exec, jira.available_permits()).await?;
    let (all, jira) = (&all, &jira);
    let runs = chains
        .into_iter()
        .map(|chain| async move { run_chain(jit, exec, jira, chain, all).await });
    let results = grantledger_outbox::bounded(runs, advanced)
        .await
        .into_iter()
        .flatten()
        .collect();
    finish(jit, report, results)
}

/// [`run_once`] with each chain a task of its own, so that the pass's work
/// (encoding, folding, HTTP) spreads over the runtime's threads instead of one
/// task's; at most the `[jit]` section's `concurrency` commands call Jira at
/// once, as in `run_once`. What `jit run` uses; the steps and their order within
/// a chain are the same.
pub async fn run_once_spread<E: CommandRunner + 'static>(
    jit: &Jit,
    exec: &Arc<E>,
) -> Result<PassReport, RequestError> {
    let (jira, advanced) = limits(jit);
    let (report, all, chains) = plan(jit, exec.as_ref(), jira.available_permits()).await?;
    let all = Arc::new(all);
    let jira = Arc::new(jira);
    let permits = Arc::new(tokio::sync::Semaphore::new(advanced));
    let mut tasks = tokio::task::JoinSet::new();
    for chain in chains {
        let (jit, exec, all, jira, permits) = (
            jit.clone(),
            exec.clone(),
            all.clone(),
            jira.clone(),
            permits.clone(),
        );
        tasks.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("the semaphore stays open");
            run_chain(&jit, exec.as_ref(), &jira, chain, &all).await
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(out) => results.extend(out),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(RequestError::Interrupted(e.to_string())),
        }
    }
    finish(jit, report, results)
}

/// The results of a pass's chains: each request's index in `all` and its steps.
type ChainResults = Vec<(usize, Result<PassReport, RequestError>)>;

/// A pass's start: unfinished commands driven, every request read, and the
/// requests with something due grouped into chains (those of one grant in the
/// order they were asked for).
async fn plan<E: CommandRunner>(
    jit: &Jit,
    exec: &E,
    limit: usize,
) -> Result<(PassReport, Vec<Request>, Vec<Vec<usize>>), RequestError> {
    let mut report = PassReport::default();
    match exec.drive_unfinished(limit).await {
        Ok(n) => report.driven_unfinished = n,
        Err(why) => tracing::warn!(%why, "unfinished commands could not be driven"),
    }
    let all = jit.all()?;
    let now = jit.clock().now();
    let mut chains: Vec<Vec<usize>> = Vec::new();
    let mut chain_of: std::collections::HashMap<(&str, &Grant), usize> =
        std::collections::HashMap::new();
    for (i, r) in all.iter().enumerate() {
        if !has_work(r, now) {
            continue;
        }
        match &r.grant {
            Some(g) => match chain_of.get(&(r.site.as_str(), g)) {
                Some(&c) => chains[c].push(i),
                None => {
                    chain_of.insert((r.site.as_str(), g), chains.len());
                    chains.push(vec![i]);
                }
            },
            None => chains.push(vec![i]),
        }
    }
    Ok((report, all, chains))
}

/// One chain's requests advanced in order; a failure stops the chain, since a
/// later step of the same grant must not run on an unknown state.
async fn run_chain<E: CommandRunner>(
    jit: &Jit,
    exec: &E,
    jira: &tokio::sync::Semaphore,
    chain: Vec<usize>,
    all: &[Request],
) -> ChainResults {
    let mut out = Vec::with_capacity(chain.len());
    for i in chain {
        let result = advance(jit, exec, jira, &all[i].id, all).await;
        let stop = result.is_err();
        out.push((i, result));
        if stop {
            break;
        }
    }
    out
}

/// A pass's end: the chains' reports merged in request order (the first error
/// wins), and the earliest deadline ahead.
fn finish(
    jit: &Jit,
    mut report: PassReport,
    mut results: ChainResults,
) -> Result<PassReport, RequestError> {
    results.sort_by_key(|(i, _)| *i);
    let mut first_error = None;
    for (_, result) in results {
        match result {
            Ok(part) => report.merge(part),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    // The earliest deadline ahead, from the requests as they are now.
    let now = jit.clock().now();
    report.next_deadline = jit
        .all()?
        .iter()
        .filter_map(|r| {
            if r.status.is_running() {
                r.expires_at
            } else {
                request::removal_retry_due(r)
            }
        })
        .filter(|d| *d > now)
        .min();
    Ok(report)
}

/// Expires `r`, handing its access over to a running request of the same grant
/// that ends later, if there is one (looked for among `all`, the requests as the
/// pass found them, each loaded again: an earlier step of the pass may have
/// granted it). The expiry is applied, not awaited: the caller awaits it after
/// the removal's command, whose first append (awaited before Jira is called)
/// makes it durable with the same flush.
async fn expire(
    jit: &Jit,
    r: &Request,
    all: &[Request],
    now: Timestamp,
    report: &mut PassReport,
) -> Result<(Request, Option<grantledger_eventlog::PendingAppend>), RequestError> {
    let successor = if r.owns_access {
        let mut best: Option<Request> = None;
        for o in all
            .iter()
            .filter(|o| o.id != r.id && o.site == r.site && o.grant == r.grant)
            .filter(|o| !o.status.is_final())
        {
            let o = jit.load(o.id.as_str())?;
            if o.status.is_running()
                && o.expires_at.is_some_and(|d| d > now)
                && best.as_ref().is_none_or(|b| o.expires_at > b.expires_at)
            {
                best = Some(o);
            }
        }
        best
    } else {
        None
    };
    if let Some(s) = &successor {
        // The successor's side first: a crash before the expiry leaves this
        // request running, and the next pass hands over again (a no-op for the
        // successor, which remembers whom it took over from).
        jit.commit_async(s, request::take_over(s, &r.id, now))
            .await?;
    }
    let events = request::expire(r, successor.as_ref().map(|s| &s.id), now);
    let (after, pending) = jit.commit_applied(r, events)?;
    if let Some(deadline) = r.expires_at {
        report
            .expiry_lag_micros
            .push(now.as_micros() - deadline.as_micros());
    }
    report.expired.push(r.id.clone());
    Ok((after, pending))
}

/// Runs the outbox's commands for one request now (after `request revoke`, say),
/// instead of waiting for the scheduler.
pub async fn drive<E: CommandRunner>(
    jit: &Jit,
    exec: &E,
    id: &str,
) -> Result<Request, RequestError> {
    let mut report = PassReport::default();
    let jira = tokio::sync::Semaphore::new(1);
    let jira = &jira;
    let r = jit.load(id)?;
    match request::removal_command(&r) {
        Some(command) => run_command(jit, exec, jira, &r, &command, &mut report).await,
        None => Ok(r),
    }
}

/// Repeats passes until `stop` turns true: after each pass it sleeps until the
/// next deadline or for `poll` (to pick up new approvals and drive unfinished
/// commands), whichever comes first. `open` gives the request service and the
/// command runner for a pass (the CLI opens the log for each pass and closes it
/// between passes, so other commands can write meanwhile); a pass that fails is
/// reported to `on_pass` and retried a second later (or after `poll`, if shorter).
pub async fn run<E, F>(
    mut open: F,
    clock: Arc<dyn Clock>,
    poll: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut on_pass: impl FnMut(&Result<PassReport, RequestError>),
) where
    E: CommandRunner + 'static,
    F: FnMut() -> Result<(Jit, Arc<E>), RequestError>,
{
    loop {
        if *stop.borrow() {
            return;
        }
        let result = match open() {
            Ok((jit, exec)) => run_once_spread(&jit, &exec).await,
            Err(e) => Err(e),
        };
        on_pass(&result);
        let now = clock.now();
        let mut wake = Timestamp::from_micros(
            now.as_micros()
                .saturating_add(i64::try_from(poll.as_micros()).unwrap_or(i64::MAX)),
        );
        match &result {
            Ok(report) => {
                if let Some(d) = report.next_deadline {
                    wake = wake.min(d);
                }
            }
            // The log held by another command for a moment, say: try again soon,
            // so that a deadline is not missed by a whole poll interval.
            Err(_) => wake = wake.min(Timestamp::from_micros(now.as_micros() + 1_000_000)),
        }
        tokio::select! {
            _ = clock.sleep_until(wake) => {}
            _ = stop.changed() => {}
        }
    }
}
