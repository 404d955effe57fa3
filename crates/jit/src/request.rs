//! The request aggregate: its state is a fold of the events of `request:<id>`,
//! and every decision is a pure function of that state, the facts the caller
//! looked up (policy, approver rights, the site's state) and the time: it returns
//! the events to append, or why the action is refused. No I/O here.

use grantledger_model::*;
use serde::Serialize;

use crate::error::RequestError;

/// Where a request is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// No event yet.
    #[default]
    Absent,
    /// Waiting for approvals.
    Pending,
    /// Approved (or break-glass): the grant is being made.
    Approved,
    /// The grant command changed Jira; access runs until `expires_at`.
    Granted,
    /// The beneficiary held the access already; nothing was granted, nothing will be
    /// revoked.
    AlreadyHeld,
    /// Expired or revoked early; the remove command is being run.
    Revoking,
    /// The access the request added is gone (ended).
    Revoked,
    /// Its time ran out with nothing to revoke (ended).
    Expired,
    /// Refused by an approver (ended).
    Denied,
    /// Withdrawn by the requester (ended).
    Cancelled,
    /// The grant command failed; nothing was granted (ended).
    Failed,
    /// The remove command failed: the access is still there and needs a person
    /// (`request revoke` runs a new one).
    RevokeFailed,
}

impl Status {
    /// Its name as shown and as `--status` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Absent => "absent",
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Granted => "granted",
            Status::AlreadyHeld => "already-held",
            Status::Revoking => "revoking",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
            Status::Denied => "denied",
            Status::Cancelled => "cancelled",
            Status::Failed => "failed",
            Status::RevokeFailed => "revoke-failed",
        }
    }

    /// Whether nothing more happens to the request.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Revoked | Status::Expired | Status::Denied | Status::Cancelled | Status::Failed
        )
    }

    /// Whether the beneficiary holds the access within the request's time.
    pub fn is_running(self) -> bool {
        matches!(self, Status::Granted | Status::AlreadyHeld)
    }
}

/// One request, folded from its stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// Its id.
    pub id: RequestId,
    /// The site.
    pub site: String,
    /// Who asked.
    pub requester: AccountId,
    /// The beneficiary and the entitlement.
    pub grant: Option<Grant>,
    /// How long, once granted, in seconds.
    pub duration_secs: u64,
    /// Why.
    pub justification: Option<String>,
    /// The ticket.
    pub ticket: Option<String>,
    /// The policy it was made under.
    pub policy: String,
    /// Approvals it needs.
    pub approvals_needed: u32,
    /// The longest it may last, extensions included.
    pub max_duration_secs: u64,
    /// Break-glass.
    pub break_glass: bool,
    /// When it was asked for.
    pub requested_at: Timestamp,
    /// The approvers so far, in order, with when.
    pub approvals: Vec<(AccountId, Timestamp)>,
    /// Where it is.
    pub status: Status,
    /// When access began (granted, or found held already).
    pub granted_at: Option<Timestamp>,
    /// When access ends.
    pub expires_at: Option<Timestamp>,
    /// Why nothing was granted, when the access pre-existed.
    pub pre_existing: Option<PreExisting>,
    /// Whether this request is the one that removes the access when it ends (it
    /// added it, or took it over from a request that expired).
    pub owns_access: bool,
    /// Requests whose access this one took over.
    pub taken_over_from: Vec<RequestId>,
    /// The remove command under way or last run.
    pub removal_command: Option<CommandId>,
    /// Why the access is being removed (expiry, or an early revoke), once it is.
    pub removal_purpose: Option<RemovalPurpose>,
    /// How many remove commands were issued.
    pub removal_attempts: u32,
    /// How it ended, in words (denial reason, failure, ...).
    pub outcome: Option<String>,
    /// Who ended or changed it last (denier, canceller, revoker, extender).
    pub last_actor: Option<AccountId>,
    /// When its last event was decided.
    pub updated_at: Timestamp,
    /// The number of events folded (the stream's version).
    pub version: u64,
}

impl Default for Request {
    /// The state before the request's first event.
    fn default() -> Self {
        Request {
            id: RequestId::new(""),
            site: String::new(),
            requester: AccountId::new(""),
            grant: None,
            duration_secs: 0,
            justification: None,
            ticket: None,
            policy: String::new(),
            approvals_needed: 0,
            max_duration_secs: 0,
            break_glass: false,
            requested_at: Timestamp::default(),
            approvals: Vec::new(),
            status: Status::Absent,
            granted_at: None,
            expires_at: None,
            pre_existing: None,
            owns_access: false,
            taken_over_from: Vec::new(),
            removal_command: None,
            removal_purpose: None,
            removal_attempts: 0,
            outcome: None,
            last_actor: None,
            updated_at: Timestamp::default(),
            version: 0,
        }
    }
}

/// The id of a request's grant command.
pub fn grant_command_id(request: &RequestId) -> CommandId {
    CommandId::new(format!("{request}-grant"))
}

/// Why a request's access is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemovalPurpose {
    /// Its time ran out.
    Expiry,
    /// Someone revoked it early.
    Revoke,
}

/// The id of a request's `attempt`-th remove command (1-based): `<id>-expire` or
/// `<id>-revoke` for the first, `<id>-expire-<n>` / `<id>-revoke-<n>` after.
pub fn removal_command_id(request: &RequestId, purpose: RemovalPurpose, attempt: u32) -> CommandId {
    let kind = match purpose {
        RemovalPurpose::Expiry => "expire",
        RemovalPurpose::Revoke => "revoke",
    };
    CommandId::new(if attempt <= 1 {
        format!("{request}-{kind}")
    } else {
        format!("{request}-{kind}-{attempt}")
    })
}

impl Request {
    /// Folds a stream's events.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Request {
        let mut r = Request::default();
        for e in events {
            r.apply(e);
        }
        r
    }

    /// The beneficiary (a user).
    pub fn beneficiary(&self) -> Option<&AccountId> {
        match self.grant.as_ref().map(|g| &g.principal) {
            Some(Principal::User(a)) => Some(a),
            _ => None,
        }
    }

    /// Folds one event of this request's stream.
    pub fn apply(&mut self, event: &Event) {
        self.version += 1;
        match event {
            Event::AccessRequested(e) => {
                self.id = e.request.clone();
                self.site = e.site.clone();
                self.requester = e.requester.clone();
                self.grant = Some(e.grant.clone());
                self.duration_secs = e.duration_secs;
                self.justification = e.justification.clone();
                self.ticket = e.ticket.clone();
                self.policy = e.policy.clone();
                self.approvals_needed = e.approvals_needed;
                self.max_duration_secs = e.max_duration_secs;
                self.break_glass = e.break_glass;
                self.requested_at = e.at;
                self.updated_at = e.at;
                self.status = if e.break_glass {
                    Status::Approved
                } else {
                    Status::Pending
                };
            }
            Event::ApprovalGiven(e) => {
                self.approvals.push((e.approver.clone(), e.at));
                self.updated_at = e.at;
            }
            Event::RequestApproved(e) => {
                self.status = Status::Approved;
                self.updated_at = e.at;
            }
            Event::RequestDenied(e) => {
                self.status = Status::Denied;
                self.outcome = e.reason.clone();
                self.last_actor = Some(e.by.clone());
                self.updated_at = e.at;
            }
            Event::RequestCancelled(e) => {
                self.status = Status::Cancelled;
                self.last_actor = Some(e.by.clone());
                self.updated_at = e.at;
            }
            Event::AccessGranted(e) => {
                self.status = Status::Granted;
                self.granted_at = Some(e.at);
                self.expires_at = Some(e.expires_at);
                self.owns_access = true;
                self.updated_at = e.at;
            }
            Event::AccessAlreadyHeld(e) => {
                self.status = Status::AlreadyHeld;
                self.pre_existing = Some(e.why);
                self.granted_at = Some(e.at);
                self.expires_at = Some(e.expires_at);
                self.updated_at = e.at;
            }
            Event::AccessExtended(e) => {
                self.expires_at = Some(e.until);
                self.last_actor = Some(e.by.clone());
                self.updated_at = e.at;
            }
            Event::AccessTakenOver(e) => {
                self.owns_access = true;
                self.taken_over_from.push(e.from.clone());
                if self.status == Status::AlreadyHeld {
                    self.status = Status::Granted;
                }
                self.updated_at = e.at;
            }
            Event::AccessExpired(e) => {
                match &e.action {
                    ExpiryAction::Revoke { command } => {
                        self.status = Status::Revoking;
                        self.removal_command = Some(command.clone());
                        self.removal_purpose = Some(RemovalPurpose::Expiry);
                        self.removal_attempts += 1;
                    }
                    ExpiryAction::NothingToRevoke { .. } => {
                        self.status = Status::Expired;
                        self.outcome = Some("expired; it had granted nothing".into());
                    }
                    ExpiryAction::HandedOver { to } => {
                        self.status = Status::Expired;
                        self.owns_access = false;
                        self.outcome = Some(format!(
                            "expired; request {to} still holds the same access and removes it when it ends"
                        ));
                    }
                }
                self.updated_at = e.at;
            }
            Event::RevocationRequested(e) => {
                self.last_actor = Some(e.by.clone());
                match &e.command {
                    Some(c) => {
                        self.status = Status::Revoking;
                        self.removal_command = Some(c.clone());
                        self.removal_purpose = Some(RemovalPurpose::Revoke);
                        self.removal_attempts += 1;
                    }
                    None => {
                        self.status = Status::Revoked;
                        self.outcome = Some("revoked early; it had granted nothing".into());
                    }
                }
                self.updated_at = e.at;
            }
            Event::RemovalRetried(e) => {
                self.status = Status::Revoking;
                self.removal_command = Some(e.command.clone());
                self.removal_attempts += 1;
                self.updated_at = e.at;
            }
            Event::AccessRevoked(e) => {
                self.status = Status::Revoked;
                self.owns_access = false;
                self.outcome = Some(if e.removed_in_jira {
                    "the access it added was removed in Jira".into()
                } else {
                    "Jira no longer held the access when it was to be removed".into()
                });
                self.updated_at = e.at;
            }
            Event::RequestFailed(e) => {
                self.status = match e.step {
                    RequestStep::Grant => Status::Failed,
                    RequestStep::Revoke => Status::RevokeFailed,
                };
                self.outcome = Some(e.reason.clone());
                self.updated_at = e.at;
            }
            // Not a request's events: a request stream holds none of them.
            Event::SyncStarted(_)
            | Event::SyncCompleted(_)
            | Event::SyncFailed(_)
            | Event::UserObserved(_)
            | Event::UserChanged(_)
            | Event::UserDeactivated(_)
            | Event::UserReactivated(_)
            | Event::UserVanished(_)
            | Event::GroupObserved(_)
            | Event::GroupRenamed(_)
            | Event::GroupVanished(_)
            | Event::ProjectObserved(_)
            | Event::ProjectChanged(_)
            | Event::ProjectVanished(_)
            | Event::ProjectRoleObserved(_)
            | Event::ProjectRoleVanished(_)
            | Event::ProductAccessGroupsChanged(_)
            | Event::GrantAdded(_)
            | Event::GrantRemoved(_)
            | Event::CommandIssued(_)
            | Event::CommandStarted(_)
            | Event::CommandSucceeded(_)
            | Event::CommandFailed(_)
            | Event::CampaignCreated(_)
            | Event::CampaignLaunched(_)
            | Event::CampaignItemsFrozen(_)
            | Event::ItemDecided(_)
            | Event::ItemReassigned(_)
            | Event::CampaignClosed(_)
            | Event::RevocationIssued(_)
            | Event::RemediationVerified(_)
            | Event::RemediationFlagged(_)
            | Event::AuditRecordObserved(_)
            | Event::AuditLogRead(_) => self.version -= 1,
        }
    }

    fn refuse(&self, action: &'static str) -> RequestError {
        RequestError::NotAllowedInState {
            request: self.id.clone(),
            action,
            status: self.status.as_str(),
        }
    }

    fn is_party(&self, who: &AccountId) -> bool {
        *who == self.requester || self.beneficiary() == Some(who)
    }
}

/// What a new request asks for, resolved and checked against the site.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// Its id.
    pub id: RequestId,
    /// The site.
    pub site: String,
    /// Who asks.
    pub requester: AccountId,
    /// The beneficiary and the entitlement.
    pub grant: Grant,
    /// How long.
    pub duration_secs: u64,
    /// Why.
    pub justification: Option<String>,
    /// A ticket.
    pub ticket: Option<String>,
    /// Break-glass: immediate, self-granted, short.
    pub break_glass: bool,
}

/// What the policy that matched says, as far as a new request needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The policy's name.
    pub policy: String,
    /// Whether the entitlement may be asked for.
    pub requestable: bool,
    /// Approvals needed (privileged groups already raised).
    pub approvals_needed: u32,
    /// Longest access, in seconds.
    pub max_duration_secs: u64,
    /// A justification is required.
    pub require_justification: bool,
    /// A ticket is required.
    pub require_ticket: bool,
    /// Longest break-glass access; `None`: not allowed.
    pub break_glass_max_secs: Option<u64>,
}

impl From<&crate::policy::Matched<'_>> for Rules {
    fn from(m: &crate::policy::Matched<'_>) -> Self {
        Rules {
            policy: m.policy.name.clone(),
            requestable: m.policy.requestable,
            approvals_needed: m.approvals_needed,
            max_duration_secs: m.policy.max_duration_secs,
            require_justification: m.policy.require_justification,
            require_ticket: m.policy.require_ticket,
            break_glass_max_secs: m.policy.break_glass_max_secs,
        }
    }
}

fn given(text: &Option<String>) -> bool {
    text.as_deref().is_some_and(|t| !t.trim().is_empty())
}

/// Asks for access. `beneficiary_active` is the site's view of the beneficiary.
pub fn create(
    state: &Request,
    new: NewRequest,
    rules: &Rules,
    beneficiary_active: bool,
    now: Timestamp,
) -> Result<Vec<Event>, RequestError> {
    if state.status != Status::Absent {
        return Err(RequestError::AlreadyExists(new.id));
    }
    if !rules.requestable {
        return Err(RequestError::NotRequestable {
            policy: Some(rules.policy.clone()),
        });
    }
    if !beneficiary_active {
        return Err(RequestError::InactiveBeneficiary);
    }
    if new.duration_secs == 0 {
        return Err(RequestError::ZeroDuration);
    }
    let max = if new.break_glass {
        let Some(max) = rules.break_glass_max_secs else {
            return Err(RequestError::BreakGlassNotAllowed {
                policy: rules.policy.clone(),
            });
        };
        if Principal::User(new.requester.clone()) != new.grant.principal {
            return Err(RequestError::BreakGlassForOthers);
        }
        max
    } else {
        rules.max_duration_secs
    };
    if new.duration_secs > max {
        return Err(RequestError::DurationOverMax {
            asked_secs: new.duration_secs,
            max_secs: max,
            break_glass: new.break_glass,
        });
    }
    if rules.require_justification && !given(&new.justification) {
        return Err(RequestError::JustificationRequired {
            policy: rules.policy.clone(),
        });
    }
    if rules.require_ticket && !given(&new.ticket) {
        return Err(RequestError::TicketRequired {
            policy: rules.policy.clone(),
        });
    }
    Ok(vec![AccessRequested {
        request: new.id,
        site: new.site,
        requester: new.requester,
        grant: new.grant,
        duration_secs: new.duration_secs,
        justification: new.justification.filter(|t| !t.trim().is_empty()),
        ticket: new.ticket.filter(|t| !t.trim().is_empty()),
        policy: rules.policy.clone(),
        approvals_needed: rules.approvals_needed,
        max_duration_secs: if new.break_glass {
            max
        } else {
            rules.max_duration_secs
        },
        break_glass: new.break_glass,
        at: now,
    }
    .into()])
}

/// An approval. `may_approve` is whether the policy names `by` as an approver
/// (checked by the caller against the live projection).
pub fn approve(
    state: &Request,
    by: &AccountId,
    may_approve: bool,
    comment: Option<String>,
    now: Timestamp,
) -> Result<Vec<Event>, RequestError> {
    if state.status != Status::Pending {
        return Err(state.refuse("approve"));
    }
    if state.is_party(by) {
        return Err(RequestError::SelfApproval);
    }
    if !may_approve {
        return Err(RequestError::ApproverNotAllowed {
            policy: state.policy.clone(),
        });
    }
    if state.approvals.iter().any(|(a, _)| a == by) {
        return Err(RequestError::AlreadyApproved);
    }
    let mut events: Vec<Event> = vec![ApprovalGiven {
        request: state.id.clone(),
        approver: by.clone(),
        comment: comment.filter(|c| !c.trim().is_empty()),
        at: now,
    }
    .into()];
    if state.approvals.len() as u32 + 1 >= state.approvals_needed {
        let mut approvers: Vec<AccountId> =
            state.approvals.iter().map(|(a, _)| a.clone()).collect();
        approvers.push(by.clone());
        events.push(
            RequestApproved {
                request: state.id.clone(),
                approvers,
                at: now,
            }
            .into(),
        );
    }
    Ok(events)
}

/// A denial by an approver.
pub fn deny(
    state: &Request,
    by: &AccountId,
    may_approve: bool,
    reason: Option<String>,
    now: Timestamp,
) -> Result<Vec<Event>, RequestError> {
    if state.status != Status::Pending {
        return Err(state.refuse("deny"));
    }
    if state.is_party(by) {
        return Err(RequestError::SelfDenial);
    }
    if !may_approve {
        return Err(RequestError::ApproverNotAllowed {
            policy: state.policy.clone(),
        });
    }
    Ok(vec![RequestDenied {
        request: state.id.clone(),
        by: by.clone(),
        reason: reason.filter(|r| !r.trim().is_empty()),
        at: now,
    }
    .into()])
}

/// The requester withdraws a request that is still waiting for approvals.
pub fn cancel(state: &Request, by: &AccountId, now: Timestamp) -> Result<Vec<Event>, RequestError> {
    if state.status != Status::Pending {
        return Err(state.refuse("cancel"));
    }
    if *by != state.requester {
        return Err(RequestError::NotRequester);
    }
    Ok(vec![RequestCancelled {
        request: state.id.clone(),
        by: by.clone(),
        at: now,
    }
    .into()])
}

/// An approver moves the end of running access to `until`, within the policy's
/// maximum counted from when the access began.
pub fn extend(
    state: &Request,
    by: &AccountId,
    may_approve: bool,
    until: Timestamp,
    now: Timestamp,
) -> Result<Vec<Event>, RequestError> {
    if !state.status.is_running() {
        return Err(state.refuse("extend"));
    }
    if state.is_party(by) {
        return Err(RequestError::SelfApproval);
    }
    if !may_approve {
        return Err(RequestError::ApproverNotAllowed {
            policy: state.policy.clone(),
        });
    }
    let (Some(from), Some(began)) = (state.expires_at, state.granted_at) else {
        return Err(state.refuse("extend"));
    };
    if until <= from || until <= now {
        return Err(RequestError::ExtensionNotLater);
    }
    let total = ((until.as_micros() - began.as_micros()) / 1_000_000) as u64;
    if total > state.max_duration_secs {
        return Err(RequestError::DurationOverMax {
            asked_secs: total,
            max_secs: state.max_duration_secs,
            break_glass: state.break_glass,
        });
    }
    Ok(vec![AccessExtended {
        request: state.id.clone(),
        by: by.clone(),
        from,
        until,
        at: now,
    }
    .into()])
}

/// Ends running access early (the requester, the beneficiary or an approver), or
/// runs a new remove command after one failed.
pub fn revoke(
    state: &Request,
    by: &AccountId,
    may_approve: bool,
    reason: Option<String>,
    now: Timestamp,
) -> Result<Vec<Event>, RequestError> {
    if !(state.status.is_running() || state.status == Status::RevokeFailed) {
        return Err(state.refuse("revoke"));
    }
    if !(state.is_party(by) || may_approve) {
        return Err(RequestError::NotAllowedToRevoke);
    }
    let command = state.owns_access.then(|| {
        removal_command_id(
            &state.id,
            RemovalPurpose::Revoke,
            state.removal_attempts + 1,
        )
    });
    Ok(vec![RevocationRequested {
        request: state.id.clone(),
        by: by.clone(),
        reason: reason.filter(|r| !r.trim().is_empty()),
        command,
        at: now,
    }
    .into()])
}

/// What to do about the grant of an approved request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantStep {
    /// Nothing (not approved, or already done).
    Nothing,
    /// The site already shows the grant: record it, issue nothing.
    Record(Vec<Event>),
    /// Issue (or drive again) this command.
    Issue(CommandIssued),
}

/// The grant step of an approved request. `held_in_state`: whether the site's
/// state shows the grant now; `issued`: whether the grant command's stream
/// exists already (then it is driven again, never replaced).
pub fn grant_step(state: &Request, held_in_state: bool, issued: bool, now: Timestamp) -> GrantStep {
    let Some(grant) = &state.grant else {
        return GrantStep::Nothing;
    };
    if state.status != Status::Approved {
        return GrantStep::Nothing;
    }
    let command = grant_command_id(&state.id);
    if !issued && held_in_state {
        return GrantStep::Record(vec![AccessAlreadyHeld {
            request: state.id.clone(),
            command: None,
            why: PreExisting::InState,
            expires_at: after(now, state.duration_secs),
            at: now,
        }
        .into()]);
    }
    GrantStep::Issue(CommandIssued {
        command,
        site: state.site.clone(),
        action: CommandAction::Add,
        grant: grant.clone(),
        purpose: CommandPurpose::GrantForRequest {
            request: state.id.clone(),
        },
    })
}

/// The wait before the scheduler retries a failed removal: a minute after the
/// first failure, doubling with each further attempt, at most an hour.
pub const REMOVAL_RETRY_FIRST_SECS: u64 = 60;
/// The longest wait between two removal attempts.
pub const REMOVAL_RETRY_MAX_SECS: u64 = 3_600;

/// When the scheduler retries the removal of a request whose last remove command
/// failed (`revoke-failed` and still owning access), or `None` if it does not.
pub fn removal_retry_due(state: &Request) -> Option<Timestamp> {
    if state.status != Status::RevokeFailed || !state.owns_access || state.grant.is_none() {
        return None;
    }
    let doublings = state.removal_attempts.saturating_sub(1).min(16);
    let wait = (REMOVAL_RETRY_FIRST_SECS << doublings).min(REMOVAL_RETRY_MAX_SECS);
    Some(after(state.updated_at, wait))
}

/// A new remove command for a request whose last one failed, once its wait is
/// over: access a request added is taken away without waiting for a person. The
/// new command keeps the purpose of the one that failed (expiry or early revoke).
pub fn retry_removal(state: &Request, now: Timestamp) -> Option<Vec<Event>> {
    let due = removal_retry_due(state)?;
    if now < due {
        return None;
    }
    let attempt = state.removal_attempts + 1;
    let purpose = state.removal_purpose.unwrap_or(RemovalPurpose::Expiry);
    Some(vec![RemovalRetried {
        request: state.id.clone(),
        command: removal_command_id(&state.id, purpose, attempt),
        attempt,
        at: now,
    }
    .into()])
}

/// The remove command a revoking request runs, if it is in that state.
pub fn removal_command(state: &Request) -> Option<CommandIssued> {
    if state.status != Status::Revoking {
        return None;
    }
    let command = state.removal_command.clone()?;
    let grant = state.grant.clone()?;
    let request = state.id.clone();
    Some(CommandIssued {
        command,
        site: state.site.clone(),
        action: CommandAction::Remove,
        grant,
        purpose: match state.removal_purpose? {
            RemovalPurpose::Revoke => CommandPurpose::RevokeRequest { request },
            RemovalPurpose::Expiry => CommandPurpose::ExpireRequest { request },
        },
    })
}

/// How a command of the request ended (read from its `command:<id>` stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandOutcome {
    /// It succeeded; whether it changed Jira.
    Succeeded {
        /// Jira's side.
        jira: JiraOutcome,
    },
    /// It failed; Jira was not changed by it.
    Failed {
        /// Why, for a person.
        reason: String,
    },
}

/// Records the outcome of the request's grant or remove command `command`.
pub fn command_finished(
    state: &Request,
    command: &CommandId,
    outcome: &CommandOutcome,
    now: Timestamp,
) -> Vec<Event> {
    let id = state.id.clone();
    match state.status {
        Status::Approved if *command == grant_command_id(&id) => match outcome {
            CommandOutcome::Succeeded {
                jira: JiraOutcome::Changed,
            } => vec![AccessGranted {
                request: id,
                command: command.clone(),
                expires_at: after(now, state.duration_secs),
                at: now,
            }
            .into()],
            CommandOutcome::Succeeded {
                jira: JiraOutcome::AlreadyInPlace,
            } => vec![AccessAlreadyHeld {
                request: id,
                command: Some(command.clone()),
                why: PreExisting::InJira,
                expires_at: after(now, state.duration_secs),
                at: now,
            }
            .into()],
            CommandOutcome::Failed { reason } => vec![RequestFailed {
                request: id,
                command: command.clone(),
                step: RequestStep::Grant,
                reason: reason.clone(),
                at: now,
            }
            .into()],
        },
        Status::Revoking if state.removal_command.as_ref() == Some(command) => match outcome {
            CommandOutcome::Succeeded { jira } => vec![AccessRevoked {
                request: id,
                command: command.clone(),
                removed_in_jira: *jira == JiraOutcome::Changed,
                at: now,
            }
            .into()],
            CommandOutcome::Failed { reason } => vec![RequestFailed {
                request: id,
                command: command.clone(),
                step: RequestStep::Revoke,
                reason: reason.clone(),
                at: now,
            }
            .into()],
        },
        _ => Vec::new(),
    }
}

/// Expiry: when running access has reached its deadline. `successor`: another
/// request of the same site and grant that is still running and ends later (its
/// id), which then takes over the removal of what this one added.
pub fn expire(state: &Request, successor: Option<&RequestId>, now: Timestamp) -> Vec<Event> {
    let Some(deadline) = state.expires_at else {
        return Vec::new();
    };
    if !state.status.is_running() || now < deadline {
        return Vec::new();
    }
    let action = if !state.owns_access {
        ExpiryAction::NothingToRevoke {
            why: state.pre_existing.unwrap_or(PreExisting::InState),
        }
    } else if let Some(to) = successor {
        ExpiryAction::HandedOver { to: to.clone() }
    } else {
        // The first removal at expiry: a running request has made none before.
        ExpiryAction::Revoke {
            command: removal_command_id(&state.id, RemovalPurpose::Expiry, 1),
        }
    };
    vec![AccessExpired {
        request: state.id.clone(),
        deadline,
        action,
        at: now,
    }
    .into()]
}

/// The successor's side of a hand-over: it now removes the access when it ends.
pub fn take_over(state: &Request, from: &RequestId, now: Timestamp) -> Vec<Event> {
    if !state.status.is_running() || state.owns_access || state.taken_over_from.contains(from) {
        return Vec::new();
    }
    vec![AccessTakenOver {
        request: state.id.clone(),
        from: from.clone(),
        at: now,
    }
    .into()]
}

/// `now` plus `secs`.
pub fn after(now: Timestamp, secs: u64) -> Timestamp {
    Timestamp::from_micros(
        now.as_micros()
            .saturating_add((secs as i64).saturating_mul(1_000_000)),
    )
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
