//! One sync run: plan, fetch concurrently, diff each completed scope in a fixed
//! order, append in durable batches, and close the run.
//!
//! This module holds the run's loop and state ([`sync`], `Run`); the rest is
//! split by responsibility: `report` (options, progress, outcome, figures),
//! `listing` (what is listed and the jobs that fetch it), `gather` (planning a
//! PageBean listing's pages and checking they fit), `removals` (confirming a
//! removal before it is recorded), `normalise` (a listing turned into records
//! and diffed) and `writer` (appending, and the rebase when another writer
//! appended first).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use grantledger_clock::{Clock, SystemClock};
use grantledger_eventlog::{Appended, EventLog, ExpectedVersion, LogError, NewEvent, Position};
use grantledger_jira::paging::PageMeta;
use grantledger_jira::types::{
    ApplicationRole, Group, GroupIndex, Project, ProjectRole, RoleRef, User,
};
use grantledger_jira::{
    JiraClient, JiraError, Metrics, Operation, GROUPS_PAGE, MEMBERS_PAGE, PROJECTS_PAGE,
};
use grantledger_model::*;
use grantledger_projection::SiteState;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use tracing::{debug, info, warn, Instrument as _};

use crate::diff::{self, ProductGroups};
use crate::scope::{minimum_requests, Scope};

pub(crate) mod failure;
mod gather;
pub(crate) mod listing;
mod normalise;
mod removals;
mod report;
mod writer;

use failure::ScopeFailure;
use gather::*;
use listing::*;
use removals::*;
pub use report::*;
use writer::*;

fn is_fatal(e: &JiraError) -> bool {
    matches!(
        e,
        JiraError::Unauthorized { .. }
            | JiraError::UnknownHost { .. }
            | JiraError::Unreachable { .. }
            | JiraError::RateLimited { .. }
            | JiraError::Config(_)
            | JiraError::Token(_)
    )
}

/// Whether a run was a refresh (ADR 0020), by its id.
pub fn is_refresh_run(run: &SyncRunId) -> bool {
    run.as_str().starts_with("refresh-")
}

fn run_id(clock: &dyn Clock, refresh: bool) -> SyncRunId {
    let micros = clock.now().as_micros();
    let at = chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y%m%dT%H%M%S%.6fZ").to_string())
        .unwrap_or_else(|| micros.to_string());
    let kind = if refresh { "refresh" } else { "sync" };
    SyncRunId::new(format!("{kind}-{at}-{:x}", std::process::id()))
}

struct Run<'a> {
    client: &'a JiraClient,
    log: &'a EventLog,
    stream: StreamId,
    opts: &'a SyncOptions,
    run: SyncRunId,
    /// The stream as the log holds it (see `writer`).
    committed: SiteState,
    /// `committed` and the events not yet appended: what scopes are diffed against.
    state: SiteState,
    /// The scopes diffed since the last acknowledged batch.
    diffed: Vec<Diffed>,
    /// Each scope's watermark: the log's head just before its first request.
    watermarks: BTreeMap<Scope, Position>,
    /// The log's head, as its appends publish it.
    head: watch::Receiver<Position>,
    /// Where the state was loaded: the watermark of a scope never requested.
    loaded_at: Position,
    /// The positions of the access events this run appended (first, last).
    span: Option<(Position, Position)>,
    rebases: u64,
    /// Scopes whose removals a rebase held back (see `writer`).
    removals_deferred: u64,
    /// Why appending stopped, when it did.
    log_error: Option<SyncError>,
    scopes: BTreeMap<Scope, Status>,
    queue: VecDeque<Job>,
    gathers: BTreeMap<List, Gather>,
    group_index: GroupIndex,
    pending: Vec<Event>,
    all_events: Vec<Event>,
    /// Appending stopped (`log_error` says why).
    writer_gone: bool,
    unfinished: Vec<String>,
    first_failure: Option<String>,
    fatal: Option<String>,
    warnings: Vec<String>,
    events_by_type: BTreeMap<&'static str, u64>,
    access_events: u64,
    items_seen: u64,
    minimum: u64,
    relisted: u64,
    /// First listings of scopes that implied removals, kept until a second listing
    /// confirms them (see [`Run::confirmed`]).
    first_listings: BTreeMap<Scope, Payload>,
    /// First listings of role maps, roles and product access that would remove a
    /// large share of their scope, kept until a second listing agrees.
    first_others: BTreeMap<Scope, Data>,
    /// Page requests of each paged listing, queued or in flight, to cancel
    /// them when the listing fails.
    inflight: BTreeMap<List, Vec<AbortHandle>>,
    cancelled: u64,
    /// A user listing waiting for its removals to be looked up by id.
    user_lookup: Option<UserLookup>,
    confirm_relists: u64,
    kept_unconfirmed: u64,
    scopes_done: u64,
    metrics0: Metrics,
    /// A refresh's scopes: only these groups' members and projects' roles (and
    /// groups and projects the log does not know yet) are listed.
    refresh: Option<crate::audit::Affected>,
}

impl Run<'_> {
    fn discover(&mut self, scope: Scope, job: Job) {
        if self.fatal.is_some() {
            return;
        }
        self.scopes.entry(scope).or_insert(Status::Pending);
        self.queue.push_back(job);
    }

    fn finish_scope(&mut self, scope: Scope, result: Result<Data, JiraError>) {
        let status = match result {
            Ok(data) => Status::Done(data),
            Err(e) => {
                if is_fatal(&e) && self.fatal.is_none() {
                    self.fatal = Some(e.to_string());
                }
                Status::Failed(ScopeFailure::Jira(e))
            }
        };
        self.scopes.insert(scope, status);
    }

    fn fail_scope(&mut self, scope: Scope, why: ScopeFailure) {
        self.scopes.insert(scope, Status::Failed(why));
    }

    /// Cancels every queued and in-flight page request of a listing.
    fn cancel(&mut self, list: &List) {
        let before = self.queue.len();
        self.queue
            .retain(|j| !matches!(j, Job::Page(l, _) | Job::Relist(l) if l == list));
        self.cancelled += (before - self.queue.len()) as u64;
        for h in self.inflight.remove(list).unwrap_or_default() {
            if !h.is_finished() {
                h.abort();
                self.cancelled += 1;
            }
        }
    }

    fn on_done(&mut self, done: Done) {
        match done {
            Done::Users(Ok(users)) => match self.confirmed(Scope::Users, Payload::Users(users)) {
                Some(Ok(Payload::Users(users))) => self.look_up_removed_users(users),
                Some(Ok(_)) => self.fail_scope(Scope::Users, ScopeFailure::WrongKind),
                Some(Err(why)) => self.fail_scope(Scope::Users, why),
                None => {}
            },
            Done::Users(Err(e)) => self.finish_scope(Scope::Users, Err(e)),
            Done::Products(r) => self.finish_other(Scope::Products, r.map(Data::Products)),
            Done::RoleMap(p, r) => {
                let data = r.map(|roles| Data::Roles(p.clone(), roles));
                self.finish_other(Scope::Roles(p), data)
            }
            Done::Role(p, r, res) => {
                let data = res.map(|role| Data::Actors(p.clone(), r.clone(), role));
                self.finish_other(Scope::Actors(p, r), data)
            }
            Done::Page(list, start, r) => self.on_page(list, start, r),
            Done::UserLookup(id, r) => self.on_user_lookup(id, r),
            Done::Relisted(list, r) => {
                self.gathers.remove(&list);
                self.inflight.remove(&list);
                self.list_done(list, r);
            }
        }
    }

    /// Diffs every scope that is next in order and finished, and appends a
    /// batch whenever one is full.
    async fn settle(&mut self) {
        loop {
            self.drain();
            if self.pending.len() < self.opts.batch_events || self.writer_gone {
                return;
            }
            self.flush().await;
        }
    }

    /// The log's head just before a scope's first request.
    fn watermark(&self, scope: &Scope) -> Position {
        self.watermarks
            .get(scope)
            .copied()
            .unwrap_or(self.loaded_at)
    }

    /// Diffs every scope that is next in order and finished, until a batch is
    /// full (see [`Run::settle`]).
    fn drain(&mut self) {
        loop {
            let Some(entry) = self.scopes.first_entry() else {
                return;
            };
            if matches!(entry.get(), Status::Pending) && self.fatal.is_none() {
                return;
            }
            let (scope, status) = entry.remove_entry();
            self.scopes_done += 1;
            match status {
                Status::Done(data) => {
                    if self.fatal.is_some() {
                        // Past a fatal error nothing more is recorded: the run stops.
                        self.unfinished.push(scope.to_string());
                    } else {
                        match self.normalise(&scope, data) {
                            Ok(listed) => {
                                let watermark = self.watermark(&scope);
                                let events = listed.diff(&self.state, watermark, &self.run);
                                let removals =
                                    events.iter().filter(|e| is_removal(e)).cloned().collect();
                                self.record(events);
                                if !self.opts.dry_run {
                                    self.diffed.push(Diffed {
                                        scope,
                                        listed,
                                        watermark,
                                        removals,
                                    });
                                }
                            }
                            Err(why) => self.fail(&scope, why),
                        }
                    }
                }
                Status::Failed(why) => self.fail(&scope, why),
                Status::Pending => self.unfinished.push(scope.to_string()),
            }
            self.report_progress();
            if self.pending.len() >= self.opts.batch_events {
                return;
            }
        }
    }

    fn fail(&mut self, scope: &Scope, why: ScopeFailure) {
        debug!(%scope, %why, "scope not finished");
        if self.first_failure.is_none() {
            self.first_failure = Some(format!("{scope}: {why}"));
        }
        self.unfinished.push(scope.to_string());
    }

    fn report_progress(&self) {
        if let Some(o) = &self.opts.observer {
            let m = self.client.metrics();
            o.progress(&Progress {
                scopes_done: self.scopes_done,
                scopes_known: self.scopes_done + self.scopes.len() as u64,
                requests: m.requests - self.metrics0.requests,
                retries: m.retries - self.metrics0.retries,
                events: self.access_events,
            });
        }
    }

    fn record(&mut self, events: Vec<Event>) {
        for e in &events {
            self.state.apply_event(e);
            *self.events_by_type.entry(e.event_type()).or_default() += 1;
        }
        self.access_events += events.len() as u64;
        self.pending.extend(events);
    }
}

/// Runs one sync of the site behind `client` into `log`.
///
/// Jira failures do not make this return `Err`: they end the run with
/// [`Outcome::Failed`] and a `SyncFailed` event, after recording every scope that
/// was listed completely (and no removal for any other). `Err` means the log itself
/// failed; whatever it acknowledged before stands.
pub async fn sync(
    log: &EventLog,
    client: &JiraClient,
    opts: SyncOptions,
) -> Result<SyncReport, SyncError> {
    let run = opts
        .run_id
        .clone()
        .unwrap_or_else(|| run_id(opts.clock.as_ref(), opts.refresh));
    // Every line the run logs, its listing tasks' included, carries the run and
    // the site from this span.
    let span = tracing::info_span!("sync", run = %run, site = %opts.site);
    run_sync(log, client, opts, run).instrument(span).await
}

async fn run_sync(
    log: &EventLog,
    client: &JiraClient,
    opts: SyncOptions,
    run: SyncRunId,
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let stream = StreamId::jira_site(&opts.site);
    let head = log.subscribe();
    // The state and the expected version come from the same fold; another
    // writer appending in between makes `SyncStarted` fail, and the fold is
    // taken again.
    let mut attempts = 0;
    let start_time = opts.clock.now();
    let metrics0 = client.metrics();
    let (state, loaded_at) = loop {
        let site = opts.site.clone();
        let log2 = log.clone();
        let mut state = tokio::task::spawn_blocking(move || SiteState::load(&log2, &site))
            .await
            .map_err(|e| SyncError::Internal(e.to_string()))??;
        // Changes of grants folded in so far are all before any scope's watermark;
        // removals folded in from now on (another writer's, found by a rebase) must
        // be remembered to be weighed against a watermark (ADR 0010).
        let loaded_at = state.position;
        state.remember_removals = true;
        if opts.dry_run {
            break (state, loaded_at);
        }
        let started_event = SyncStarted {
            run: run.clone(),
            site: opts.site.clone(),
            started_at: start_time,
        }
        .into();
        match append(log, &stream, state.version, &run, vec![started_event]).await {
            Appending::Done(done) => {
                state.version = done.stream_version;
                state.position = done.last;
                break (state, loaded_at);
            }
            Appending::Moved if attempts < opts.max_rebases => attempts += 1,
            Appending::Moved => return Err(SyncError::Contended { stream, attempts }),
            Appending::Failed(e) => return Err(e),
        }
    };
    info!(position = loaded_at, "sync started");
    // The run that completed last, before this one: a refresh, or not.
    let after_refresh = state
        .completed_runs()
        .next_back()
        .is_some_and(|r| is_refresh_run(&r.run));

    // Jira's audit log since the checkpoint (ADR 0019), before any listing: a
    // refresh lists what it names.
    let mut audit_warning = None;
    let mut fatal_audit = None;
    let audit = if opts.read_audit || opts.refresh {
        let read = crate::audit::import(
            log,
            client,
            &opts.site,
            &run,
            start_time,
            opts.audit_overlap,
            opts.dry_run,
        )
        .await;
        match read {
            Ok(summary) => Some(summary),
            // Refused credentials, an unreachable Jira: the run stops as it
            // would on its first listing.
            Err(crate::audit::AuditError::Jira(e)) if is_fatal(&e) => {
                debug!(error = %e, "audit log not read");
                fatal_audit = Some(e.to_string());
                None
            }
            Err(e) => {
                debug!(error = %e, "audit log not read");
                audit_warning = Some(e.to_string());
                None
            }
        }
    } else {
        None
    };

    let mut r = Run {
        client,
        log,
        stream: stream.clone(),
        opts: &opts,
        run: run.clone(),
        committed: if opts.dry_run {
            SiteState::default()
        } else {
            state.clone()
        },
        state,
        diffed: Vec::new(),
        watermarks: BTreeMap::new(),
        head,
        loaded_at,
        span: None,
        rebases: 0,
        removals_deferred: 0,
        log_error: None,
        scopes: BTreeMap::new(),
        queue: VecDeque::new(),
        gathers: BTreeMap::new(),
        group_index: GroupIndex::default(),
        pending: Vec::new(),
        all_events: Vec::new(),
        writer_gone: false,
        unfinished: Vec::new(),
        first_failure: None,
        fatal: None,
        warnings: Vec::new(),
        events_by_type: BTreeMap::new(),
        access_events: 0,
        items_seen: 0,
        minimum: 0,
        relisted: 0,
        first_listings: BTreeMap::new(),
        first_others: BTreeMap::new(),
        inflight: BTreeMap::new(),
        cancelled: 0,
        user_lookup: None,
        confirm_relists: 0,
        kept_unconfirmed: 0,
        scopes_done: 0,
        metrics0,
        refresh: None,
    };
    if let Some(a) = &audit {
        r.minimum += a.pages.max(1);
    }
    // The lists are known before anything can stop the run, so a run stopped
    // by the audit read names them as unfinished.
    r.discover(Scope::Users, Job::Users);
    r.discover(Scope::Groups, Job::Page(List::Groups, 0));
    r.discover(Scope::Projects, Job::Page(List::Projects, 0));
    r.discover(Scope::Products, Job::Products);
    r.fatal = fatal_audit;
    if let Some(w) = &audit_warning {
        if opts.refresh {
            r.fatal = Some(format!(
                "{w}; a refresh lists only what the audit log says changed, so it cannot go on: run a full sync (without --refresh)"
            ));
        } else {
            r.warnings.push(format!(
                "{w}; nothing of it was recorded, and who made this run's changes in Jira is not known until a later sync reads it"
            ));
        }
    }
    if opts.refresh {
        r.refresh = audit.as_ref().map(|a| a.affected.clone());
    }

    let mut jobs: JoinSet<Done> = JoinSet::new();
    let limit = opts.concurrency.max(1);
    let deadline = tokio::time::Instant::from_std(started) + opts.deadline;
    let mut cancel = opts.cancel.clone();
    loop {
        while r.fatal.is_none() && jobs.len() < limit {
            let Some(job) = r.queue.pop_front() else {
                break;
            };
            let list = match &job {
                Job::Page(l, _) | Job::Relist(l) => Some(l.clone()),
                _ => None,
            };
            // The watermark: what the log held before this scope was first asked for.
            let at = *r.head.borrow();
            r.watermarks.entry(job.scope()).or_insert(at);
            // A listing task logs inside a span naming its scope, a child of the
            // run's span.
            let span = tracing::debug_span!("scope", scope = %job.label());
            let handle = jobs.spawn(run_job(client.clone(), job).instrument(span));
            if let Some(l) = list {
                r.inflight.entry(l).or_default().push(handle);
            }
        }
        let next = tokio::select! {
            next = tokio::time::timeout_at(deadline, jobs.join_next()) => Some(next),
            () = cancelled(&mut cancel) => None,
        };
        let done = match next {
            None => {
                r.fatal.get_or_insert_with(|| "interrupted".to_owned());
                jobs.abort_all();
                while jobs.join_next().await.is_some() {}
                r.settle().await;
                break;
            }
            Some(Ok(Some(done))) => done,
            Some(Ok(None)) => break,
            Some(Err(_)) => {
                if r.fatal.is_none() {
                    r.fatal = Some(format!(
                        "the sync deadline of {} passed with {} of {} known scopes finished; raise the deadline for a site this large or slow",
                        human(opts.deadline),
                        r.scopes_done,
                        r.scopes_done + r.scopes.len() as u64
                    ));
                }
                jobs.abort_all();
                while jobs.join_next().await.is_some() {}
                r.settle().await;
                break;
            }
        };
        match done {
            Ok(done) => r.on_done(done),
            // A page request cancelled because its listing failed.
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                if r.fatal.is_none() {
                    r.fatal = Some(format!("a listing task failed: {e}"));
                }
            }
        }
        if r.fatal.is_some() {
            jobs.abort_all();
            while jobs.join_next().await.is_some() {}
        }
        r.settle().await;
        if r.writer_gone {
            break;
        }
    }
    r.settle().await;
    // Anything still pending was never finished (a fatal error stopped the run).
    for (scope, _) in std::mem::take(&mut r.scopes) {
        r.unfinished.push(scope.to_string());
    }
    r.flush().await;

    // The outcome and figures as the run stands: a rebase while closing can
    // change what it recorded, and contention can fail it.
    let took = started.elapsed();
    let outcome_of = |r: &Run<'_>| -> (Outcome, SyncStats) {
        let m = client.metrics();
        let m0 = &r.metrics0;
        let stats = SyncStats {
            requests: m.requests - m0.requests,
            retries: m.retries - m0.retries,
            minimum_requests: r.minimum,
            pages: m.pages - m0.pages,
            items_seen: r.items_seen,
            events_written: r.access_events,
            bytes: m.bytes_received - m0.bytes_received,
            wait_ms: m.wait_ms - m0.wait_ms,
            duration_ms: took.as_millis() as u64,
        };
        // Not one request answered: say so first, whatever scope failed first.
        let unreachable = m.requests > m0.requests
            && m.connection_failures - m0.connection_failures == m.requests - m0.requests;
        let outcome = match (&r.fatal, &r.first_failure) {
            (None, None) if r.unfinished.is_empty() => Outcome::Completed,
            (fatal, first) => Outcome::Failed {
                reason: format!(
                    "{}{}; {}",
                    if unreachable
                        && !fatal
                            .as_deref()
                            .is_some_and(|f| f.contains("could not be reached"))
                    {
                        "Jira could not be reached (no request was answered): "
                    } else {
                        ""
                    },
                    fatal
                        .clone()
                        .or_else(|| first.clone())
                        .unwrap_or_else(|| "some scopes were not listed".into()),
                    figures(&m, m0, r.cancelled, took)
                ),
                unfinished: summarize_unfinished(&r.unfinished),
            },
        };
        (outcome, stats)
    };

    if !opts.dry_run {
        r.close(|r| {
            let (outcome, stats) = outcome_of(r);
            match outcome {
                Outcome::Completed => SyncCompleted {
                    run: run.clone(),
                    stats,
                }
                .into(),
                Outcome::Failed { reason, unfinished } => SyncFailed {
                    run: run.clone(),
                    reason,
                    unfinished_scopes: unfinished,
                    stats,
                }
                .into(),
            }
        })
        .await;
    }
    if let Some(e) = r.log_error.take() {
        return Err(e);
    }
    let (outcome, stats) = outcome_of(&r);

    let mut notes = Vec::new();
    if r.confirm_relists > 0 {
        notes.push(format!(
            "{} that implied removals {} taken twice to confirm them: Jira pages by offset, so an item can shift out of one listing unseen",
            if r.confirm_relists == 1 { "1 listing".to_owned() } else { format!("{} listings", r.confirm_relists) },
            if r.confirm_relists == 1 { "was" } else { "were" }
        ));
    }
    if r.rebases > 0 {
        notes.push(format!(
            "another writer appended to the site's stream during the run: {} {} read and the scopes not yet appended diffed again; grants it changed after a scope's listing began were left to the next sync",
            r.rebases,
            if r.rebases == 1 { "time its records were" } else { "times its records were" }
        ));
    }
    if r.removals_deferred > 0 {
        r.warnings.push(format!(
            "{} scopes recorded no removal after a rebase found removals their listings were not checked for; the next sync decides",
            r.removals_deferred
        ));
    }
    if r.kept_unconfirmed > 0 {
        r.warnings.push(format!(
            "{} items missing from only one of two listings were kept; the next sync decides",
            r.kept_unconfirmed
        ));
    }
    if r.relisted > 0 {
        r.warnings.push(format!(
            "{} listings did not fit together when fetched concurrently and were listed again page by page",
            r.relisted
        ));
    }
    let written = r.span;

    let s = &r.state;
    let counts = Counts {
        users: s.users.len() as u64,
        inactive_users: s.users.values().filter(|u| !u.active).count() as u64,
        groups: s.groups.len() as u64,
        memberships: s.membership_count() as u64,
        projects: s.projects.len() as u64,
        roles: s.roles.values().map(|r| r.len() as u64).sum(),
        role_grants: s.role_grant_count() as u64,
        products: s.products.len() as u64,
    };
    info!(
        requests = stats.requests,
        minimum = stats.minimum_requests,
        events = stats.events_written,
        "sync finished"
    );
    Ok(SyncReport {
        run,
        outcome,
        stats,
        counts,
        events_by_type: r.events_by_type,
        written: if r.access_events > 0 { written } else { None },
        rebases: r.rebases,
        missed_by_refresh: (after_refresh && !opts.refresh).then_some(r.access_events),
        refreshed: r.refresh.take(),
        dry_run_events: r.all_events,
        warnings: r.warnings,
        notes,
        audit,
    })
}

/// Resolves once `cancel` holds `true`; never when there is no signal or its
/// sender is gone.
async fn cancelled(cancel: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    if let Some(rx) = cancel {
        if rx.wait_for(|c| *c).await.is_ok() {
            return;
        }
    }
    std::future::pending::<()>().await
}
