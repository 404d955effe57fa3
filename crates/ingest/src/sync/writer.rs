//! Appending: batches with exact expected versions of `jira:<site>`, and the
//! rebase when another writer (grantledger's command executor, ADR 0010)
//! appended first.
//!
//! The run keeps two states: `committed`, what the log holds of the stream
//! (every record before the run, the run's acknowledged batches, and the other
//! writers' records it has read), and `state`, that plus the events not yet
//! appended. The scopes diffed since the last acknowledged batch are kept
//! (`diffed`), so that when an append finds the stream moved on, the run reads
//! the records it missed, folds them into `committed`, and diffs those scopes
//! again in order before appending again.

use super::*;

/// A scope diffed whose events the log does not hold yet.
pub(super) struct Diffed {
    pub(super) scope: Scope,
    pub(super) listed: normalise::Listed,
    pub(super) watermark: Position,
    /// The removals its first diff made: those its listings were checked for
    /// (two agreeing listings, the mass-removal guard). A diff after a rebase
    /// records no other.
    pub(super) removals: Vec<Event>,
}

/// Events that take something away (and were confirmed before they are made).
pub(super) fn is_removal(e: &Event) -> bool {
    matches!(
        e,
        Event::GrantRemoved(_)
            | Event::UserVanished(_)
            | Event::GroupVanished(_)
            | Event::ProjectVanished(_)
            | Event::ProjectRoleVanished(_)
    )
}

/// How one append ended.
pub(super) enum Appending {
    Done(Appended),
    /// The stream is not at the version the run expected: another writer.
    Moved,
    Failed(SyncError),
}

/// Appends `events` to `stream` as one batch expecting `version`, off the
/// async runtime.
pub(super) async fn append(
    log: &EventLog,
    stream: &StreamId,
    version: u64,
    run: &SyncRunId,
    events: Vec<Event>,
) -> Appending {
    let (log, stream, run) = (log.clone(), stream.clone(), run.clone());
    let done = tokio::task::spawn_blocking(move || {
        let batch = events
            .into_iter()
            .map(|e| NewEvent::new(e).caused_by(Causation::SyncRun(run.clone())))
            .collect();
        log.append(&stream, ExpectedVersion::Exact(version), batch)
    })
    .await;
    match done {
        Ok(Ok(done)) => Appending::Done(done),
        Ok(Err(LogError::WrongExpectedVersion { .. })) => Appending::Moved,
        Ok(Err(e)) => Appending::Failed(SyncError::Log(e)),
        Err(e) => Appending::Failed(SyncError::Internal(e.to_string())),
    }
}

impl Run<'_> {
    /// Appends the pending events (rebasing as often as needed, up to
    /// `SyncOptions::max_rebases` times in a row). A log failure stops the run.
    pub(super) async fn flush(&mut self) {
        if self.pending.is_empty() || self.writer_gone {
            return;
        }
        if self.opts.dry_run {
            self.all_events.append(&mut self.pending);
            return;
        }
        let mut attempts = 0;
        loop {
            let events = self.pending.clone();
            match append(
                self.log,
                &self.stream,
                self.committed.version,
                &self.run,
                events,
            )
            .await
            {
                Appending::Done(done) => {
                    for e in &self.pending {
                        self.committed.apply_event(e);
                    }
                    self.acknowledged(&done);
                    self.span = Some((self.span.map_or(done.first, |s| s.0), done.last));
                    self.pending.clear();
                    self.diffed.clear();
                    return;
                }
                Appending::Moved if attempts < self.opts.max_rebases => {
                    attempts += 1;
                    if let Err(e) = self.rebase().await {
                        return self.stop(e);
                    }
                    if self.pending.is_empty() {
                        // The other writer's records made this batch's changes.
                        return;
                    }
                }
                Appending::Moved => return self.stop(self.contended(attempts)),
                Appending::Failed(e) => return self.stop(e),
            }
        }
    }

    /// Appends the run's closing event, made by `closing` from the run as it
    /// then is: a rebase can change what the run recorded.
    pub(super) async fn close(&mut self, closing: impl Fn(&Self) -> Event) {
        let mut attempts = 0;
        loop {
            self.flush().await;
            if self
                .log_error
                .as_ref()
                .is_some_and(|e| !matches!(e, SyncError::Contended { .. }))
            {
                return;
            }
            match append(
                self.log,
                &self.stream,
                self.committed.version,
                &self.run,
                vec![closing(self)],
            )
            .await
            {
                Appending::Done(done) => return self.acknowledged(&done),
                Appending::Moved if attempts < self.opts.max_rebases => {
                    attempts += 1;
                    if let Err(e) = self.rebase().await {
                        return self.stop(e);
                    }
                }
                Appending::Moved => return self.stop(self.contended(attempts)),
                Appending::Failed(e) => return self.stop(e),
            }
        }
    }

    fn acknowledged(&mut self, done: &Appended) {
        self.committed.version = done.stream_version;
        self.committed.position = done.last;
        self.state.version = done.stream_version;
        self.state.position = done.last;
    }

    fn contended(&self, attempts: u32) -> SyncError {
        SyncError::Contended {
            stream: self.stream.clone(),
            attempts,
        }
    }

    /// Nothing more is appended: the log failed, or other writers kept it busy.
    fn stop(&mut self, e: SyncError) {
        warn!(error = %e, "the sync stops appending");
        self.writer_gone = true;
        if self.fatal.is_none() {
            self.fatal = Some(e.to_string());
        }
        self.drop_pending();
        for d in std::mem::take(&mut self.diffed) {
            self.unfinished.push(d.scope.to_string());
        }
        self.log_error.get_or_insert(e);
    }

    /// Reads the records other writers appended since the last acknowledged
    /// batch, folds them in, and diffs the scopes not yet appended again.
    async fn rebase(&mut self) -> Result<(), SyncError> {
        let (log, stream) = (self.log.clone(), self.stream.clone());
        let from = self.committed.version + 1;
        let missed = tokio::task::spawn_blocking(move || log.read_stream(&stream, from))
            .await
            .map_err(|e| SyncError::Internal(e.to_string()))??;
        for record in &missed {
            self.committed.apply(record);
        }
        self.rebases += 1;
        info!(
            missed = missed.len(),
            scopes = self.diffed.len(),
            "another writer appended to the site's stream; diffing the scopes not yet appended again"
        );
        self.drop_pending();
        self.state = self.committed.clone();
        for mut d in std::mem::take(&mut self.diffed) {
            let mut events = d.listed.diff(&self.state, d.watermark, &self.run);
            if events
                .iter()
                .any(|e| is_removal(e) && !d.removals.contains(e))
            {
                // Only the removals its listings were checked for may be
                // recorded; the scope removes nothing this run instead.
                events.retain(|e| !is_removal(e));
                self.removals_deferred += 1;
            }
            d.removals = events.iter().filter(|e| is_removal(e)).cloned().collect();
            self.record(events);
            self.diffed.push(d);
        }
        Ok(())
    }

    /// Forgets the events not yet appended, and their counts.
    fn drop_pending(&mut self) {
        for e in std::mem::take(&mut self.pending) {
            self.uncount(&e);
        }
    }

    fn uncount(&mut self, e: &Event) {
        if let Some(n) = self.events_by_type.get_mut(e.event_type()) {
            *n -= 1;
            if *n == 0 {
                self.events_by_type.remove(e.event_type());
            }
        }
        self.access_events -= 1;
    }
}
