//! The [`Executor`]: issues commands and drives them to exactly one outcome.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use grantledger_clock::Clock;
use grantledger_eventlog::{EventLog, ExpectedVersion, Follower, LogError, NewEvent};
use grantledger_jira::metrics::Operation;
use grantledger_jira::{JiraClient, JiraError, WriteOutcome};
use grantledger_model::{
    Causation, CommandAction, CommandFailed, CommandFailureKind, CommandId, CommandIssued,
    CommandPurpose, CommandStarted, CommandSucceeded, Entitlement, Event, EventId, Grant,
    GrantAdded, GrantCause, GrantRemoved, JiraOutcome, Principal, SiteOutcome, StreamId,
};
use grantledger_projection::SiteState;
use tracing::{debug, info, warn};

use crate::commands::{CommandStatus, Commands, Outcome};
use crate::error::{OutboxError, Result};

/// How many times the grant is folded and appended again when a sync (or another
/// writer) appends to `jira:<site>` first.
const SITE_ATTEMPTS: u32 = 32;

/// What to change in Jira, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandSpec {
    /// The command's id. `None` lets the executor choose a new one; a caller that
    /// must not issue twice (a request granting its access) derives it from its
    /// own id, so that issuing again is a no-op.
    pub id: Option<CommandId>,
    /// The site (the `<site>` of `jira:<site>`).
    pub site: String,
    /// Add or remove.
    pub action: CommandAction,
    /// The grant: a user's group membership, or a user or group as a project-role
    /// actor.
    pub grant: Grant,
    /// Why: what the resulting grant event's cause names.
    pub purpose: CommandPurpose,
}

/// How long a command keeps trying through transient failures (rate limits after
/// the client's own budget, server errors, dropped connections, Jira unreachable).
/// Waits go through the executor's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrivePolicy {
    /// Attempts per drive, the first included; then the command fails `GaveUp`.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each.
    pub base_delay: Duration,
    /// The cap of that wait. A `Retry-After` from Jira that is longer is honoured
    /// up to [`DrivePolicy::max_retry_after`].
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl Default for DrivePolicy {
    /// 5 attempts, 2 s doubling to at most 60 s apart (on top of the client's own
    /// retries): about two minutes of a Jira outage before a command gives up.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl DrivePolicy {
    /// The wait after failed attempt `attempt` (1-based), given Jira's hint.
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1).min(30))
            .unwrap_or(u32::MAX);
        let backoff = self
            .base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        match retry_after {
            Some(hint) => backoff.max(hint.min(self.max_retry_after)),
            None => backoff,
        }
    }
}

/// A point in a command's drive, after which the [`StepHook`] is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// `CommandIssued` is in the log.
    Issued,
    /// `CommandStarted` is in the log; Jira is about to be changed.
    Started,
    /// Jira holds the change (changed now or already so); nothing of it is in the
    /// site's stream yet.
    JiraDone,
    /// The site's stream shows the result (a grant event appended, or none
    /// needed); the grant event is made durable by the outcome's flush.
    GrantRecorded,
    /// The outcome is in the log.
    Finished,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 5] = [
        Step::Issued,
        Step::Started,
        Step::JiraDone,
        Step::GrantRecorded,
        Step::Finished,
    ];

    /// The step's name (`issued`, `started`, `jira-done`, `grant-recorded`,
    /// `finished`).
    pub fn name(self) -> &'static str {
        match self {
            Step::Issued => "issued",
            Step::Started => "started",
            Step::JiraDone => "jira-done",
            Step::GrantRecorded => "grant-recorded",
            Step::Finished => "finished",
        }
    }

    /// The step with this name.
    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Called after each [`Step`] of a command (metrics, and crash tests that stop a
/// process at an exact step). It runs on the driving task: keep it short.
pub type StepHook = Arc<dyn Fn(&CommandId, Step) + Send + Sync>;

/// Issues commands and drives them. One executor per log (the log admits one
/// process); share it behind an `Arc`. Drives of the same command are serialized.
pub struct Executor {
    log: EventLog,
    clients: HashMap<String, JiraClient>,
    clock: Arc<dyn Clock>,
    policy: DrivePolicy,
    hook: Option<StepHook>,
    commands: Mutex<Follower<Commands>>,
    sites: Mutex<HashMap<String, SiteState>>,
    running: Mutex<HashMap<CommandId, Arc<tokio::sync::Mutex<()>>>>,
    issued_here: AtomicU64,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("log", &self.log)
            .field("sites", &self.clients.keys().collect::<Vec<_>>())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Why one attempt at Jira stopped.
enum Attempt {
    Jira(JiraError),
    Log(LogError),
}

impl From<JiraError> for Attempt {
    fn from(e: JiraError) -> Self {
        Attempt::Jira(e)
    }
}

impl From<LogError> for Attempt {
    fn from(e: LogError) -> Self {
        Attempt::Log(e)
    }
}

/// What a Jira error means for a command.
enum Class {
    /// Jira refused for good: fail the command.
    Refused,
    /// Worth another attempt later, after at least this hint.
    Transient(Option<Duration>),
    /// Neither: stop, leave the command unfinished.
    Stop,
}

fn classify(e: &JiraError) -> Class {
    match e {
        JiraError::Forbidden { .. } | JiraError::NotFound { .. } | JiraError::Rejected { .. } => {
            Class::Refused
        }
        JiraError::RateLimited { retry_after, .. } => Class::Transient(*retry_after),
        JiraError::Server { .. }
        | JiraError::Transport { .. }
        | JiraError::Unreachable { .. }
        | JiraError::Decode { .. }
        | JiraError::Pagination { .. } => Class::Transient(None),
        _ => Class::Stop,
    }
}

/// A command's `CommandStarted`: Jira was read without the change and the
/// change is about to be sent (one id per command, so it is recorded once).
fn started_event(id: &CommandId) -> NewEvent {
    NewEvent::new(CommandStarted {
        command: id.clone(),
    })
    .with_id(event_id(id, "started"))
    .caused_by(Causation::Command(id.clone()))
}

fn event_id(command: &CommandId, what: &str) -> EventId {
    EventId::new(format!("command:{command}/{what}"))
}

fn principal_text(p: &Principal) -> String {
    match p {
        Principal::User(a) => format!("user '{a}'"),
        Principal::Group(g) => format!("group '{g}'"),
    }
}

/// A command's change in words: "adding user 'a1' to group 'g1' on site 'acme'".
pub fn describe(c: &CommandIssued) -> String {
    let who = principal_text(&c.grant.principal);
    let what = match &c.grant.entitlement {
        Entitlement::GroupMembership { group } => format!("group '{group}'"),
        Entitlement::ProjectRole { project, role } => {
            format!("role {role} of project {project}")
        }
        Entitlement::ProductAccess { product } => format!("product access '{product}'"),
    };
    match c.action {
        CommandAction::Add => format!("adding {who} to {what} on site '{}'", c.site),
        CommandAction::Remove => format!("removing {who} from {what} on site '{}'", c.site),
    }
}

/// The grant event's cause for a command, or why the command is not valid.
fn cause_for(
    command: &CommandId,
    action: CommandAction,
    purpose: &CommandPurpose,
) -> Result<GrantCause> {
    let command = command.clone();
    let wrong = |what: &str| {
        Err(OutboxError::Invalid(format!(
            "{what} can only {} access",
            match action {
                CommandAction::Add => "remove",
                CommandAction::Remove => "add",
            }
        )))
    };
    match (purpose, action) {
        (CommandPurpose::GrantForRequest { request }, CommandAction::Add) => {
            Ok(GrantCause::AppliedByRequest {
                request: request.clone(),
                command,
            })
        }
        (CommandPurpose::ExpireRequest { request }, CommandAction::Remove) => {
            Ok(GrantCause::RemovedAtExpiry {
                request: request.clone(),
                command,
            })
        }
        (CommandPurpose::RevokeRequest { request }, CommandAction::Remove) => {
            Ok(GrantCause::RevokedForRequest {
                request: request.clone(),
                command,
            })
        }
        (CommandPurpose::ReviewRevocation { campaign }, CommandAction::Remove) => {
            Ok(GrantCause::RemovedByReview {
                campaign: campaign.clone(),
                command,
            })
        }
        (CommandPurpose::Operator { operator }, _) => Ok(GrantCause::ChangedByOperator {
            operator: operator.clone(),
            command,
        }),
        (CommandPurpose::GrantForRequest { .. }, _) => wrong("granting a request's access"),
        (CommandPurpose::ExpireRequest { .. }, _) => wrong("expiring a request"),
        (CommandPurpose::RevokeRequest { .. }, _) => wrong("revoking a request"),
        (CommandPurpose::ReviewRevocation { .. }, _) => wrong("a review's revocation"),
    }
}

fn causation_for(purpose: &CommandPurpose) -> Causation {
    match purpose {
        CommandPurpose::GrantForRequest { request }
        | CommandPurpose::ExpireRequest { request }
        | CommandPurpose::RevokeRequest { request } => Causation::Request(request.clone()),
        CommandPurpose::ReviewRevocation { campaign } => Causation::Campaign(campaign.clone()),
        CommandPurpose::Operator { operator } => Causation::Operator(operator.clone()),
    }
}

/// Checks what grantledger can change: a user's group membership, or a user or
/// group as a project-role actor.
fn check_grant(grant: &Grant) -> Result<()> {
    match (&grant.principal, &grant.entitlement) {
        (Principal::User(_), Entitlement::GroupMembership { .. })
        | (_, Entitlement::ProjectRole { .. }) => Ok(()),
        (Principal::Group(_), Entitlement::GroupMembership { .. }) => Err(OutboxError::Invalid(
            "a group cannot be a member of a group in Jira Cloud".into(),
        )),
        (_, Entitlement::ProductAccess { .. }) => Err(OutboxError::Invalid(
            "product access is not changed directly: it follows from the product's groups; add or remove the group membership instead".into(),
        )),
    }
}

impl Executor {
    /// An executor over `log`, with no site yet (add them with
    /// [`Executor::with_site`]). `clock` times the waits between attempts.
    pub fn new(log: EventLog, clock: Arc<dyn Clock>, policy: DrivePolicy) -> Self {
        let commands = Follower::new(log.clone(), Commands::default());
        Self {
            log,
            clients: HashMap::new(),
            clock,
            policy,
            hook: None,
            commands: Mutex::new(commands),
            sites: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            issued_here: AtomicU64::new(0),
        }
    }

    /// Uses `client` for the commands of `site`.
    pub fn with_site(mut self, site: impl Into<String>, client: JiraClient) -> Self {
        self.clients.insert(site.into(), client);
        self
    }

    /// Calls `hook` after every [`Step`].
    pub fn with_hook(mut self, hook: StepHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// The log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    fn step(&self, id: &CommandId, step: Step) {
        if let Some(hook) = &self.hook {
            hook(id, step);
        }
    }

    fn commands(&self) -> Result<MutexGuard<'_, Follower<Commands>>> {
        let mut guard = self
            .commands
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.catch_up()?;
        Ok(guard)
    }

    /// A command as the log tells it now, if there is one.
    pub fn status(&self, id: &CommandId) -> Result<Option<CommandStatus>> {
        Ok(self.commands()?.projection().get(id).cloned())
    }

    /// Every command, in id order.
    pub fn list(&self) -> Result<Vec<CommandStatus>> {
        Ok(self.commands()?.projection().all().cloned().collect())
    }

    /// The ids of the commands with an intent and no outcome.
    pub fn unfinished(&self) -> Result<Vec<CommandId>> {
        Ok(self
            .commands()?
            .projection()
            .unfinished()
            .cloned()
            .collect())
    }

    fn new_id(&self) -> CommandId {
        let n = self.issued_here.fetch_add(1, Ordering::Relaxed);
        CommandId::new(format!(
            "cmd-{}-{}-{n}",
            self.clock.now().0,
            std::process::id()
        ))
    }

    /// Records a command's intent (`CommandIssued` in `command:<id>`) and returns
    /// its id. Nothing is sent to Jira: [`Executor::drive`] does that. Issuing
    /// the same command (same id, same intent) again is a no-op; the same id with
    /// another intent is [`OutboxError::Conflict`].
    pub fn issue(&self, spec: CommandSpec) -> Result<CommandId> {
        let (id, stream, event) = self.intent(spec)?;
        let appended = self
            .log
            .append(&stream, ExpectedVersion::NoStream, vec![event]);
        self.issued(id, appended)
    }

    /// [`Executor::issue`] for async tasks: awaits the append's durability
    /// instead of blocking the thread, so that concurrent commands share flushes
    /// (ADR 0024).
    pub async fn issue_async(&self, spec: CommandSpec) -> Result<CommandId> {
        let (id, stream, event) = self.intent(spec)?;
        self.append_intent(id, &stream, event).await
    }

    /// Appends a command's intent alone, as the first record of its stream.
    async fn append_intent(
        &self,
        id: CommandId,
        stream: &StreamId,
        event: NewEvent,
    ) -> Result<CommandId> {
        let appended = self
            .log
            .append_async(stream, ExpectedVersion::NoStream, vec![event])
            .await;
        self.issued(id, appended)
    }

    /// The checked intent: the command's id, stream and `CommandIssued`.
    fn intent(&self, spec: CommandSpec) -> Result<(CommandId, StreamId, NewEvent)> {
        check_grant(&spec.grant)?;
        if spec.site.trim().is_empty() {
            return Err(OutboxError::Invalid("the site is empty".into()));
        }
        let id = spec.id.unwrap_or_else(|| self.new_id());
        let stream = StreamId::parse(&format!("command:{id}"))
            .map_err(|e| OutboxError::Invalid(format!("'{id}' cannot be a command id: {e}")))?;
        cause_for(&id, spec.action, &spec.purpose)?;
        let issued = CommandIssued {
            command: id.clone(),
            site: spec.site,
            action: spec.action,
            grant: spec.grant,
            purpose: spec.purpose,
        };
        let causation = causation_for(&issued.purpose);
        let event = NewEvent::new(issued)
            .with_id(event_id(&id, "issued"))
            .caused_by(causation);
        Ok((id, stream, event))
    }

    /// The intent's append, as `issue` reports it.
    fn issued(
        &self,
        id: CommandId,
        appended: std::result::Result<grantledger_eventlog::Appended, LogError>,
    ) -> Result<CommandId> {
        match appended {
            Ok(_) => {}
            Err(LogError::IdConflict { detail, .. }) => {
                return Err(OutboxError::Conflict {
                    command: id,
                    detail,
                })
            }
            Err(LogError::WrongExpectedVersion { .. }) => {
                return Err(OutboxError::Conflict {
                    command: id,
                    detail: "its stream already holds other events".into(),
                })
            }
            Err(e) => return Err(e.into()),
        }
        self.step(&id, Step::Issued);
        Ok(id)
    }

    /// Drives every command with an intent and no outcome, one after the other;
    /// returns each one's result (an error for one command does not stop the
    /// others).
    pub async fn drive_unfinished(&self) -> Result<Vec<(CommandId, Result<Outcome>)>> {
        let ids = self.unfinished()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let result = self.drive(&id).await;
            out.push((id, result));
        }
        Ok(out)
    }

    /// [`Executor::drive_unfinished`] with up to `limit` commands driven at once
    /// ([`Executor::drive_all`]).
    pub async fn drive_unfinished_concurrently(
        &self,
        limit: usize,
    ) -> Result<Vec<(CommandId, Result<Outcome>)>> {
        let ids = self.unfinished()?;
        Ok(self.drive_all(&ids, limit).await)
    }

    /// Drives `ids` with up to `limit` (at least 1) of them at once and returns each
    /// one's result in the order given. Commands that change the same grant (the
    /// same principal and entitlement on the same site) are driven one after the
    /// other in the order given, never at once, so an addition and a removal of
    /// one membership cannot race in Jira. Each command is still one write to
    /// Jira; the grant events of concurrent drives are appended one at a time (the
    /// executor folds and appends to `jira:<site>` under one lock per executor),
    /// so they never contend with each other, only with another writer such as a
    /// sync (which they fold in and append after, as a single drive does).
    pub async fn drive_all(
        &self,
        ids: &[CommandId],
        limit: usize,
    ) -> Vec<(CommandId, Result<Outcome>)> {
        // Chains of commands by grant, in first-appearance order; a command whose
        // intent cannot be read has a chain of its own (its drive reports why).
        let mut chains: Vec<Vec<usize>> = Vec::new();
        let mut chain_of: HashMap<(String, Grant), usize> = HashMap::new();
        for (i, id) in ids.iter().enumerate() {
            let key = match self.status(id) {
                Ok(Some(status)) => Some((status.issued.site, status.issued.grant)),
                _ => None,
            };
            match key {
                Some(key) => match chain_of.get(&key) {
                    Some(&c) => chains[c].push(i),
                    None => {
                        chain_of.insert(key, chains.len());
                        chains.push(vec![i]);
                    }
                },
                None => chains.push(vec![i]),
            }
        }
        let runs = chains.into_iter().map(|chain| async move {
            let mut out = Vec::with_capacity(chain.len());
            for i in chain {
                out.push((i, self.drive(&ids[i]).await));
            }
            out
        });
        let mut results: Vec<(usize, Result<Outcome>)> = crate::concurrent::bounded(runs, limit)
            .await
            .into_iter()
            .flatten()
            .collect();
        results.sort_by_key(|(i, _)| *i);
        results
            .into_iter()
            .map(|(i, r)| (ids[i].clone(), r))
            .collect()
    }

    /// Carries a command out and returns its outcome; a command that already has
    /// one returns it without calling Jira. See the crate's docs for the steps.
    pub async fn drive(&self, id: &CommandId) -> Result<Outcome> {
        let lock = self.drive_lock(id);
        let result = {
            let _serial = lock.lock().await;
            self.drive_alone(id, false, None).await
        };
        self.forget_drive_lock(id, lock);
        result
    }

    /// Issues a command and drives it, as [`Executor::issue_async`] then
    /// [`Executor::drive`] would, with two differences for a scheduler running
    /// many commands at once:
    ///
    /// - A new command's `CommandIssued` and `CommandStarted` are appended as one
    ///   batch, made durable by one flush before Jira is called (a command issued
    ///   before, or one whose intent says it cannot run, goes the two-step way).
    /// - Jira is called only while holding a permit of `jira` (the attempt's
    ///   read, if any, and its write), so that at most its number of permits of
    ///   commands are in Jira at once, while others record their intent or their
    ///   outcome meanwhile. Log appends and the waits between attempts hold none.
    ///
    /// The outbox's order is unchanged: the intent and `CommandStarted` are
    /// durable before the write is sent, the outcome is appended after.
    pub async fn issue_and_drive(
        &self,
        spec: CommandSpec,
        jira: &tokio::sync::Semaphore,
    ) -> Result<(CommandId, Outcome)> {
        let (id, stream, event) = self.intent(spec)?;
        let lock = self.drive_lock(&id);
        let result = {
            let _serial = lock.lock().await;
            self.issue_and_drive_alone(&id, &stream, event, jira).await
        };
        self.forget_drive_lock(&id, lock);
        result.map(|outcome| (id, outcome))
    }

    /// [`Executor::issue_and_drive`], with no other drive of the command running.
    async fn issue_and_drive_alone(
        &self,
        id: &CommandId,
        stream: &StreamId,
        issued: NewEvent,
        jira: &tokio::sync::Semaphore,
    ) -> Result<Outcome> {
        if let Some(started) = self.start_with_intent(id, &issued)? {
            let appended = self
                .log
                .append_async(
                    stream,
                    ExpectedVersion::NoStream,
                    vec![issued.clone(), started],
                )
                .await;
            match appended {
                Ok(a) if !a.duplicate => {
                    self.step(id, Step::Issued);
                    self.step(id, Step::Started);
                    return self.drive_alone(id, true, Some(jira)).await;
                }
                // The same batch from an earlier run: the command may have
                // written; the drive reads its state.
                Ok(_) => {
                    self.step(id, Step::Issued);
                    return self.drive_alone(id, false, Some(jira)).await;
                }
                // The stream holds the intent alone (issued the two-step way),
                // or something else: issuing it alone tells which.
                Err(LogError::IdConflict { .. } | LogError::WrongExpectedVersion { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.append_intent(id.clone(), stream, issued).await?;
        self.drive_alone(id, false, Some(jira)).await
    }

    /// The `CommandStarted` to append with a new command's intent ([`started_event`]), or `None`
    /// when the drive would not start it (no client for its site, an inactive
    /// beneficiary: the drive records why).
    fn start_with_intent(&self, id: &CommandId, issued: &NewEvent) -> Result<Option<NewEvent>> {
        let Event::CommandIssued(intent) = &issued.event else {
            return Ok(None);
        };
        if !self.clients.contains_key(&intent.site) || self.inactive_beneficiary(intent)?.is_some()
        {
            return Ok(None);
        }
        Ok(Some(started_event(id)))
    }

    /// The lock that serializes the drives of command `id`.
    fn drive_lock(&self, id: &CommandId) -> Arc<tokio::sync::Mutex<()>> {
        let mut running = self.running();
        running.entry(id.clone()).or_default().clone()
    }

    /// Forgets the command's lock unless another drive of it holds or awaits it.
    fn forget_drive_lock(&self, id: &CommandId, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut running = self.running();
        if Arc::strong_count(&lock) == 2 {
            running.remove(id);
        }
    }

    fn running(&self) -> MutexGuard<'_, HashMap<CommandId, Arc<tokio::sync::Mutex<()>>>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// [`Executor::drive`], with no other drive of the command running.
    /// `started_here`: this call appended the command's `CommandStarted` just
    /// now, with its intent, and nothing was sent to Jira for it yet. `jira`:
    /// the permits to hold while calling Jira, if bounded.
    async fn drive_alone(
        &self,
        id: &CommandId,
        started_here: bool,
        jira: Option<&tokio::sync::Semaphore>,
    ) -> Result<Outcome> {
        let status = self
            .status(id)?
            .ok_or_else(|| OutboxError::UnknownCommand(id.clone()))?;
        if let Some(outcome) = status.outcome {
            return Ok(outcome);
        }
        let issued = status.issued.clone();
        check_grant(&issued.grant)?;
        let cause = cause_for(id, issued.action, &issued.purpose)?;
        let client = self
            .clients
            .get(&issued.site)
            .ok_or_else(|| OutboxError::UnknownSite {
                command: id.clone(),
                site: issued.site.clone(),
            })?;

        if !status.started {
            if let Some(reason) = self.inactive_beneficiary(&issued)? {
                return self
                    .fail(&status, CommandFailureKind::Refused, reason, 0)
                    .await;
            }
        }

        // A command started by an earlier drive may have written; one started
        // here with its intent has not.
        let resumed = status.started && !started_here;
        let mut started = status.started;
        let mut version = status.version;
        let mut attempts = 0;
        // Whether an attempt of this drive sent a write whose effect is not known
        // to be nil (only Jira refusing the write itself without acting — a rate
        // limit, a 503 — tells that it changed nothing).
        let mut may_have_written = false;
        let jira = loop {
            attempts += 1;
            let maybe_ours = resumed || may_have_written;
            match self
                .change_jira(
                    client,
                    &issued,
                    &mut started,
                    &mut version,
                    maybe_ours,
                    jira,
                )
                .await
            {
                Ok(outcome) => break outcome,
                Err(Attempt::Log(e)) => return Err(e.into()),
                Err(Attempt::Jira(e)) => match classify(&e) {
                    Class::Refused => {
                        let reason = refusal_reason(&issued, &e);
                        let status = self.status_for(id)?;
                        return self
                            .fail(&status, CommandFailureKind::Refused, reason, attempts)
                            .await;
                    }
                    Class::Transient(hint) if attempts < self.policy.max_attempts => {
                        may_have_written |= started && !certainly_unapplied(&e);
                        let wait = self.policy.delay(attempts, hint);
                        warn!(command = %id, attempt = attempts, ?wait, "a transient failure ({e}); trying again");
                        self.clock.sleep(wait).await;
                    }
                    Class::Transient(_) => {
                        may_have_written |= started && !certainly_unapplied(&e);
                        let mut reason = format!(
                            "{}: gave up after {attempts} attempts; the last failure: {e}",
                            describe(&issued)
                        );
                        if resumed || may_have_written {
                            reason.push_str(". Jira may or may not hold the change: the next sync records what it holds; issue a new command to try again");
                        } else {
                            reason.push_str(". Jira was not changed; issue a new command to try again once Jira answers");
                        }
                        let status = self.status_for(id)?;
                        return self
                            .fail(&status, CommandFailureKind::GaveUp, reason, attempts)
                            .await;
                    }
                    Class::Stop => {
                        return Err(OutboxError::Jira {
                            command: id.clone(),
                            source: e,
                        })
                    }
                },
            }
        };
        self.step(id, Step::JiraDone);

        let (site, grant) = self.record_grant(&issued, cause).await?;
        self.step(id, Step::GrantRecorded);

        let succeeded = CommandSucceeded {
            command: id.clone(),
            jira,
            site,
            attempts,
        };
        let outcome = self.append_outcome(id, version, succeeded.into()).await?;
        // Durable already when the outcome is (flushes keep the log's order);
        // awaited for the case where another drive's outcome was found instead.
        if let Some(grant) = grant {
            grant.durable().await?;
        }
        info!(command = %id, ?jira, ?site, attempts, "{} done", describe(&issued));
        self.step(id, Step::Finished);
        Ok(outcome)
    }

    fn status_for(&self, id: &CommandId) -> Result<CommandStatus> {
        self.status(id)?
            .ok_or_else(|| OutboxError::UnknownCommand(id.clone()))
    }

    /// For an addition of a user: the account's deactivation, if the site's state
    /// knows of it.
    fn inactive_beneficiary(&self, issued: &CommandIssued) -> Result<Option<String>> {
        let (CommandAction::Add, Principal::User(account)) =
            (issued.action, &issued.grant.principal)
        else {
            return Ok(None);
        };
        let inactive = self.with_site_state(&issued.site, |state| {
            state
                .users
                .get(account)
                .filter(|u| !u.active)
                .map(|u| u.display_name.clone())
        })?;
        Ok(inactive.map(|name| {
            format!(
                "{}: the account '{account}' ({name}) is deactivated in Jira; reactivate it in Atlassian administration or grant the access to an active account",
                describe(issued)
            )
        }))
    }

    /// Records `CommandStarted` (once) and makes the change. `maybe_ours`: this
    /// command may have written before (an earlier drive that crashed, or an
    /// earlier attempt whose outcome stayed unknown), so a change found in effect
    /// after `CommandStarted` counts as its own.
    ///
    /// Such a command reads Jira first and sends nothing when the change is in
    /// effect: Jira sees one write per command. A command on its first attempt
    /// that has not started cannot have written before, so it writes at once (one
    /// round trip instead of two): the client's reconciling write turns Jira's
    /// "already a member" / "not a member" refusal into `AlreadyInEffect` by
    /// reading the state back, which is the read skipped here, paid only then.
    ///
    /// The calls to Jira (the read and the write) are made holding a permit of
    /// `jira`, if given; appending `CommandStarted` holds none.
    async fn change_jira(
        &self,
        client: &JiraClient,
        issued: &CommandIssued,
        started: &mut bool,
        version: &mut u64,
        maybe_ours: bool,
        jira: Option<&tokio::sync::Semaphore>,
    ) -> std::result::Result<JiraOutcome, Attempt> {
        let id = &issued.command;
        // A command that may have written before has started (`maybe_ours`
        // implies `started`), so this append never comes between the read
        // below and the write.
        if !*started {
            let stream = StreamId::command(id);
            let appended = self
                .log
                .append_async(
                    &stream,
                    ExpectedVersion::Exact(*version),
                    vec![started_event(id)],
                )
                .await?;
            *version = appended.stream_version;
            *started = true;
            self.step(id, Step::Started);
        }
        // Held until Jira answered (dropped with the function's locals). A
        // closed semaphore (never closed here) would admit every call.
        let _permit = match jira {
            Some(permits) => permits.acquire().await.ok(),
            None => None,
        };
        // Read first when this command may have written before: a change already
        // in effect is never sent again, so Jira sees one write per command.
        if maybe_ours && holds(client, issued).await? {
            return Ok(if *started && maybe_ours {
                JiraOutcome::Changed
            } else {
                JiraOutcome::AlreadyInPlace
            });
        }
        let written = write(client, issued).await?;
        Ok(match written {
            WriteOutcome::Applied | WriteOutcome::ConfirmedAfterRetry => JiraOutcome::Changed,
            // Found in effect after this command may already have written (before a
            // crash, or in an attempt whose outcome stayed unknown): its change.
            WriteOutcome::AlreadyInEffect if maybe_ours => JiraOutcome::Changed,
            // Someone else made it between the read above and the write.
            WriteOutcome::AlreadyInEffect => JiraOutcome::AlreadyInPlace,
        })
    }

    fn with_site_state<T>(&self, site: &str, f: impl FnOnce(&SiteState) -> T) -> Result<T> {
        let mut sites = self.sites();
        let state = self.caught_up(&mut sites, site)?;
        Ok(f(state))
    }

    fn sites(&self) -> MutexGuard<'_, HashMap<String, SiteState>> {
        self.sites
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The site's state folded up to the stream's end, batches still being made
    /// durable included: the executor appends to the stream with the version it
    /// folded, which the log checks against every applied batch (group commit,
    /// ADR 0024); a fold of durable records alone would lag any writer's batch
    /// in flight and never match while another writer keeps appending.
    fn caught_up<'s>(
        &self,
        sites: &'s mut HashMap<String, SiteState>,
        site: &str,
    ) -> Result<&'s SiteState> {
        let state = sites.entry(site.to_owned()).or_default();
        let stream = StreamId::jira_site(site);
        for record in self
            .log
            .read_stream_for_append(&stream, state.version + 1)?
        {
            state.apply(&record);
        }
        Ok(state)
    }

    /// Appends the grant event to `jira:<site>` unless the state already shows the
    /// result (or this command's grant event is already there). The append is
    /// applied, not awaited: the outcome's append, after it, makes it durable
    /// with its own flush (the log flushes in order), so a drive waits for one
    /// flush, not two; the caller awaits the returned append after the outcome.
    /// A crash before that flush loses both, and the re-drive records them.
    async fn record_grant(
        &self,
        issued: &CommandIssued,
        cause: GrantCause,
    ) -> Result<(SiteOutcome, Option<grantledger_eventlog::PendingAppend>)> {
        let id = &issued.command;
        let grant_id = event_id(id, "grant");
        if self.log.position_of(&grant_id)?.is_some() {
            return Ok((SiteOutcome::Recorded, None));
        }
        let stream = StreamId::jira_site(&issued.site);
        let wanted = issued.action == CommandAction::Add;
        for _ in 0..SITE_ATTEMPTS {
            // The fold and the append under one lock: concurrent drives of this
            // executor append one after the other and never make each other retry;
            // only another writer of the stream (a sync) can move it in between.
            // The batch is applied under the lock and folded into the state at
            // once (readers of the log see it only once durable); its durability
            // is awaited outside the lock, so the drives share flushes.
            let pending = {
                let mut sites = self.sites();
                let (present, version) = {
                    let s = self.caught_up(&mut sites, &issued.site)?;
                    (s.has_grant(&issued.grant), s.version)
                };
                if present == wanted {
                    return Ok((SiteOutcome::AlreadyInState, None));
                }
                let event: Event = match issued.action {
                    CommandAction::Add => GrantAdded {
                        grant: issued.grant.clone(),
                        cause: cause.clone(),
                    }
                    .into(),
                    CommandAction::Remove => GrantRemoved {
                        grant: issued.grant.clone(),
                        cause: cause.clone(),
                    }
                    .into(),
                };
                let event = NewEvent::new(event)
                    .with_id(grant_id.clone())
                    .caused_by(Causation::Command(id.clone()));
                match self
                    .log
                    .begin_append(&stream, ExpectedVersion::Exact(version), vec![event])
                {
                    Ok(pending) => {
                        if let Some(state) = sites.get_mut(&issued.site) {
                            for record in pending.records() {
                                state.apply(record);
                            }
                        }
                        Some(pending)
                    }
                    Err(LogError::WrongExpectedVersion { current, .. }) => {
                        debug!(command = %id, expected = version, current, "the site stream moved; folding again");
                        None
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            let Some(pending) = pending else {
                continue;
            };
            return Ok((SiteOutcome::Recorded, Some(pending)));
        }
        Err(OutboxError::SiteContention {
            command: id.clone(),
            site: issued.site.clone(),
            attempts: SITE_ATTEMPTS,
        })
    }

    async fn fail(
        &self,
        status: &CommandStatus,
        kind: CommandFailureKind,
        reason: String,
        attempts: u32,
    ) -> Result<Outcome> {
        let id = &status.issued.command;
        warn!(command = %id, ?kind, "{reason}");
        let failed = CommandFailed {
            command: id.clone(),
            kind,
            reason,
            attempts,
        };
        let outcome = self
            .append_outcome(id, status.version, failed.into())
            .await?;
        self.step(id, Step::Finished);
        Ok(outcome)
    }

    /// Appends the command's one outcome; if another drive recorded one first, that
    /// one is the outcome.
    async fn append_outcome(&self, id: &CommandId, version: u64, event: Event) -> Result<Outcome> {
        let outcome = match &event {
            Event::CommandSucceeded(e) => Outcome::Succeeded(e.clone()),
            Event::CommandFailed(e) => Outcome::Failed(e.clone()),
            other => {
                return Err(OutboxError::Invalid(format!(
                    "{} is not an outcome",
                    other.event_type()
                )))
            }
        };
        let event = NewEvent::new(event)
            .with_id(event_id(id, "outcome"))
            .caused_by(Causation::Command(id.clone()));
        match self
            .log
            .append_async(
                &StreamId::command(id),
                ExpectedVersion::Exact(version),
                vec![event],
            )
            .await
        {
            Ok(_) => Ok(outcome),
            Err(e @ (LogError::IdConflict { .. } | LogError::WrongExpectedVersion { .. })) => {
                match self.status(id)?.and_then(|s| s.outcome) {
                    Some(recorded) => Ok(recorded),
                    None => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether Jira already holds what the command asks.
async fn holds(
    client: &JiraClient,
    issued: &CommandIssued,
) -> std::result::Result<bool, JiraError> {
    let present = match (&issued.grant.principal, &issued.grant.entitlement) {
        (Principal::User(account), Entitlement::GroupMembership { group }) => {
            client.is_group_member(group, account).await?
        }
        (principal, Entitlement::ProjectRole { project, role }) => {
            let role = client.role(project.as_str(), role.as_str()).await?;
            match principal {
                Principal::User(a) => role.has_user(a.as_str()),
                Principal::Group(g) => role.has_group(g.as_str(), None),
            }
        }
        // Refused by `check_grant` before any call.
        _ => {
            return Err(JiraError::Config(format!(
                "{} is not a change grantledger makes",
                describe(issued)
            )))
        }
    };
    Ok(present == (issued.action == CommandAction::Add))
}

/// Whether a write that failed with `e` certainly changed nothing: the write
/// itself (not a read made to check its outcome) was refused by Jira without
/// acting — rate limited, or unavailable (503) — until the client's retries ran
/// out. A read's failure, a timeout, a dropped connection or another 5xx leave
/// the write's effect unknown.
fn certainly_unapplied(e: &JiraError) -> bool {
    let endpoint = match e {
        JiraError::RateLimited { endpoint, .. }
        | JiraError::Server {
            endpoint,
            status: 503,
            ..
        } => *endpoint,
        _ => return false,
    };
    Operation::ALL
        .iter()
        .any(|op| op.is_write() && op.endpoint() == endpoint)
}

/// Makes the command's change through the client's reconciling writes.
async fn write(
    client: &JiraClient,
    issued: &CommandIssued,
) -> std::result::Result<WriteOutcome, JiraError> {
    let grant = &issued.grant;
    match (&grant.principal, &grant.entitlement, issued.action) {
        (Principal::User(account), Entitlement::GroupMembership { group }, CommandAction::Add) => {
            client.add_group_member(group, account).await
        }
        (
            Principal::User(account),
            Entitlement::GroupMembership { group },
            CommandAction::Remove,
        ) => client.remove_group_member(group, account).await,
        (principal, Entitlement::ProjectRole { project, role }, CommandAction::Add) => {
            client.add_role_actor(project, role, principal).await
        }
        (principal, Entitlement::ProjectRole { project, role }, CommandAction::Remove) => {
            client.remove_role_actor(project, role, principal).await
        }
        _ => Err(JiraError::Config(format!(
            "{} is not a change grantledger makes",
            describe(issued)
        ))),
    }
}

/// A refusal in words a person can act on.
fn refusal_reason(issued: &CommandIssued, e: &JiraError) -> String {
    let hint = match e {
        JiraError::Forbidden { .. } => {
            "; give grantledger's Jira account that permission, or make the change by hand"
        }
        JiraError::NotFound { .. } => {
            "; check that the account, group, project and role still exist and the account is active (a sync shows what the site holds)"
        }
        _ => "; Jira refused the request: check the names and ids the command uses",
    };
    format!("{}: {e}{hint}", describe(issued))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap_and_honours_a_longer_hint() {
        let p = DrivePolicy {
            max_attempts: 9,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        };
        assert_eq!(p.delay(1, None), Duration::from_secs(1));
        assert_eq!(p.delay(2, None), Duration::from_secs(2));
        assert_eq!(p.delay(3, None), Duration::from_secs(4));
        assert_eq!(p.delay(4, None), Duration::from_secs(5));
        assert_eq!(p.delay(40, None), Duration::from_secs(5));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(12))),
            Duration::from_secs(12)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(600))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn purposes_admit_only_their_action() {
        let c = CommandId::from("c1");
        let request = CommandPurpose::GrantForRequest {
            request: "r1".into(),
        };
        assert!(cause_for(&c, CommandAction::Add, &request).is_ok());
        let e = cause_for(&c, CommandAction::Remove, &request).unwrap_err();
        assert!(e.to_string().contains("can only add"), "{e}");
        let expire = CommandPurpose::ExpireRequest {
            request: "r1".into(),
        };
        assert!(matches!(
            cause_for(&c, CommandAction::Remove, &expire),
            Ok(GrantCause::RemovedAtExpiry { .. })
        ));
        assert!(cause_for(&c, CommandAction::Add, &expire).is_err());
        let operator = CommandPurpose::Operator {
            operator: "ops".into(),
        };
        for action in [CommandAction::Add, CommandAction::Remove] {
            assert!(matches!(
                cause_for(&c, action, &operator),
                Ok(GrantCause::ChangedByOperator { .. })
            ));
        }
    }

    #[test]
    fn only_memberships_and_role_actors_are_changed() {
        use grantledger_model::{AccountId, GroupId, ProductKey};
        assert!(check_grant(&Grant::membership(AccountId::from("a"), GroupId::from("g"))).is_ok());
        let product = Grant {
            principal: Principal::User(AccountId::from("a")),
            entitlement: Entitlement::ProductAccess {
                product: ProductKey::from("jira-software"),
            },
        };
        assert!(check_grant(&product)
            .unwrap_err()
            .to_string()
            .contains("product's groups"));
        let nested = Grant {
            principal: Principal::Group(GroupId::from("g2")),
            entitlement: Entitlement::GroupMembership {
                group: GroupId::from("g"),
            },
        };
        assert!(check_grant(&nested).is_err());
    }

    #[test]
    fn steps_round_trip_by_name() {
        for step in Step::ALL {
            assert_eq!(Step::from_name(step.name()), Some(step));
        }
        assert_eq!(Step::from_name("nope"), None);
    }
}
