//! Just-in-time access requests: asked for, approved, granted in Jira through the
//! outbox, and taken away again when their time runs out.
//!
//! A request lives in its own stream, `request:<id>`. Its lifecycle:
//! [`AccessRequested`] → [`ApprovalGiven`] (one per distinct approver) →
//! [`RequestApproved`] (enough approvals) → [`AccessGranted`] (the grant command
//! succeeded and changed Jira) or [`AccessAlreadyHeld`] (the beneficiary already held
//! the entitlement: nothing was granted, so nothing will be revoked) → optionally
//! [`AccessExtended`] → [`AccessExpired`] (its deadline passed) or
//! [`RevocationRequested`] (revoked early) → [`AccessRevoked`] (the remove command
//! succeeded). Or it ends [`RequestDenied`], [`RequestCancelled`] or
//! [`RequestFailed`]. A break-glass request is approved by its own
//! [`AccessRequested`] (flagged, for review after the fact).
//!
//! Every event carries the time the decision was taken (`at`), so the request's
//! state is a pure fold of its own events.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::access::Grant;
use crate::ids::{AccountId, CommandId, RequestId};
use crate::time::Timestamp;

/// Someone asked for access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRequested {
    /// The request.
    pub request: RequestId,
    /// The site (`jira:<site>`) whose access is asked for.
    pub site: String,
    /// Who asked.
    pub requester: AccountId,
    /// What is asked for: the beneficiary (a user, often the requester) and the
    /// entitlement (a group membership or a project role).
    pub grant: Grant,
    /// How long the access is to last once granted, in seconds.
    pub duration_secs: u64,
    /// Why, in the requester's words.
    pub justification: Option<String>,
    /// A ticket reference (e.g. `OPS-123`).
    pub ticket: Option<String>,
    /// The policy that matched the entitlement (its name in the config file).
    pub policy: String,
    /// Distinct approvals the policy asked for when the request was made.
    pub approvals_needed: u32,
    /// The longest the policy allowed the access to last, extensions included, in
    /// seconds.
    pub max_duration_secs: u64,
    /// Break-glass: granted at once without approval, flagged for review after the
    /// fact.
    pub break_glass: bool,
    /// When.
    pub at: Timestamp,
}

/// One approver approved (one event per distinct approver).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalGiven {
    /// The request.
    pub request: RequestId,
    /// Who approved.
    pub approver: AccountId,
    /// An optional comment.
    pub comment: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// The request has all the approvals it needs; the grant command follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestApproved {
    /// The request.
    pub request: RequestId,
    /// The approvers, in the order they approved.
    pub approvers: Vec<AccountId>,
    /// When.
    pub at: Timestamp,
}

/// An approver refused the request; it ends here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestDenied {
    /// The request.
    pub request: RequestId,
    /// Who denied it.
    pub by: AccountId,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// The requester withdrew the request before anything was granted; it ends here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestCancelled {
    /// The request.
    pub request: RequestId,
    /// Who cancelled it.
    pub by: AccountId,
    /// When.
    pub at: Timestamp,
}

/// The grant command changed Jira: the beneficiary holds the entitlement because
/// of this request, until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessGranted {
    /// The request.
    pub request: RequestId,
    /// The command that changed Jira.
    pub command: CommandId,
    /// When the access ends.
    pub expires_at: Timestamp,
    /// When.
    pub at: Timestamp,
}

/// Why a request granted nothing although it was approved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PreExisting {
    /// The site's state already showed the grant when the request was approved: no
    /// command was issued.
    InState,
    /// The grant command found Jira already as asked (the executor answered
    /// "already in place"): Jira was not changed by it.
    InJira,
}

/// The beneficiary already held the entitlement when the grant would have been
/// made: nothing was granted, and expiry revokes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessAlreadyHeld {
    /// The request.
    pub request: RequestId,
    /// The grant command, when one was issued.
    pub command: Option<CommandId>,
    /// How it was found to be held already.
    pub why: PreExisting,
    /// When the request's time ends (nothing is revoked then).
    pub expires_at: Timestamp,
    /// When.
    pub at: Timestamp,
}

/// An approver moved the end of granted access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessExtended {
    /// The request.
    pub request: RequestId,
    /// Who extended it.
    pub by: AccountId,
    /// The end before.
    pub from: Timestamp,
    /// The new end.
    pub until: Timestamp,
    /// When.
    pub at: Timestamp,
}

/// What an expiry does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ExpiryAction {
    /// The request added the access: the remove command named here takes it away.
    Revoke {
        /// The remove command.
        command: CommandId,
    },
    /// The request added nothing (the access pre-existed): nothing is revoked.
    NothingToRevoke {
        /// Why nothing was added.
        why: PreExisting,
    },
    /// Another request that is still running holds the same access: this one's
    /// responsibility for removing it passes to that request.
    HandedOver {
        /// The request that now removes it when its own time ends.
        to: RequestId,
    },
}

/// The access's time ran out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessExpired {
    /// The request.
    pub request: RequestId,
    /// The deadline that passed.
    pub deadline: Timestamp,
    /// What happens to the access.
    pub action: ExpiryAction,
    /// When.
    pub at: Timestamp,
}

/// A running request took over the removal of access another request added (that
/// request expired while this one still holds the same entitlement).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessTakenOver {
    /// The request that now owns the removal.
    pub request: RequestId,
    /// The request that added the access and expired.
    pub from: RequestId,
    /// When.
    pub at: Timestamp,
}

/// The requester or an approver asked for granted access to end before its time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequested {
    /// The request.
    pub request: RequestId,
    /// Who.
    pub by: AccountId,
    /// Why.
    pub reason: Option<String>,
    /// The remove command, when the request added the access (else nothing is
    /// revoked and the request ends here).
    pub command: Option<CommandId>,
    /// When.
    pub at: Timestamp,
}

/// The remove command finished: the access the request added is gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRevoked {
    /// The request.
    pub request: RequestId,
    /// The remove command.
    pub command: CommandId,
    /// False when Jira no longer held the access (someone removed it first).
    pub removed_in_jira: bool,
    /// When.
    pub at: Timestamp,
}

/// Which step of a request a failed command was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum RequestStep {
    /// Granting the access.
    Grant,
    /// Revoking it (at expiry or early).
    Revoke,
}

/// A command of the request failed: Jira was not changed by it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestFailed {
    /// The request.
    pub request: RequestId,
    /// The command that failed.
    pub command: CommandId,
    /// Granting or revoking.
    pub step: RequestStep,
    /// What went wrong and what to do, for a person (from the command's failure).
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// The scheduler issued a new remove command after the request's last one failed:
/// access a request added is taken away without waiting for a person, retried with
/// growing waits for as long as it stays in Jira.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemovalRetried {
    /// The request.
    pub request: RequestId,
    /// The new remove command.
    pub command: CommandId,
    /// Which attempt this is (2 for the first retry).
    pub attempt: u32,
    /// When.
    pub at: Timestamp,
}
