//! The outbox: every change grantledger makes in Jira is a command whose intent is
//! recorded before Jira is called and whose outcome is recorded after.
//!
//! A command lives in its own stream, `command:<id>`. Its intent
//! ([`CommandIssued`]) is appended before any request to Jira; exactly one outcome
//! ([`CommandSucceeded`] or [`CommandFailed`]) follows. A command with an intent and no
//! outcome is unfinished: it is driven again on start and on a schedule, and driving
//! again is idempotent (Jira's current state is read first).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::access::Grant;
use crate::ids::{CampaignId, CommandId, RequestId};

/// What a command does to its grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CommandAction {
    /// Give the principal the entitlement (add a member, add a role actor).
    Add,
    /// Take the entitlement away (remove a member, remove a role actor).
    Remove,
}

/// Why a command was issued: what the resulting grant event's cause names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum CommandPurpose {
    /// Grant the access an approved request asked for.
    GrantForRequest {
        /// The request.
        request: RequestId,
    },
    /// Take away what a request added, because its time ran out.
    ExpireRequest {
        /// The request.
        request: RequestId,
    },
    /// Take away what a request added before its time ran out (revoked early by the
    /// requester or an approver).
    RevokeRequest {
        /// The request.
        request: RequestId,
    },
    /// Take away a grant that a review campaign decided to revoke.
    ReviewRevocation {
        /// The campaign.
        campaign: CampaignId,
    },
    /// An operator provisioning by hand (`grantledger` CLI, later the server).
    Operator {
        /// Who, as given by the operator (account id or email).
        operator: String,
    },
}

/// A command's intent, appended before Jira is called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandIssued {
    /// The command.
    pub command: CommandId,
    /// The site (the `<site>` of `jira:<site>`) whose Jira is changed.
    pub site: String,
    /// Add or remove.
    pub action: CommandAction,
    /// The grant added or removed. Its entitlement is a group membership or a
    /// project role; product access is never changed directly.
    pub grant: Grant,
    /// Why.
    pub purpose: CommandPurpose,
}

/// Jira was read and did not yet hold the command's change: the change is about to
/// be sent. Appended at most once per command, before its first write to Jira.
///
/// A command with this event and no outcome may have changed Jira before a crash,
/// so a later drive that finds the change in effect counts it as this command's
/// ([`JiraOutcome::Changed`]); a command without it that finds the change in
/// effect did not make it ([`JiraOutcome::AlreadyInPlace`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandStarted {
    /// The command.
    pub command: CommandId,
}

/// What Jira held when the command's change was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum JiraOutcome {
    /// Jira changed: the member or actor was added or removed by this command.
    Changed,
    /// Jira already was as asked (already a member, or not a member); nothing was
    /// changed in Jira by this command.
    AlreadyInPlace,
}

/// How the command's result reached the site stream (`jira:<site>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SiteOutcome {
    /// A `GrantAdded` or `GrantRemoved` naming this command was appended.
    Recorded,
    /// The site's state already showed the result (it pre-existed, or a sync
    /// observed it first); no grant event was appended.
    AlreadyInState,
}

/// A command's change is in Jira and in the site's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandSucceeded {
    /// The command.
    pub command: CommandId,
    /// Whether Jira was changed by it.
    pub jira: JiraOutcome,
    /// Whether a grant event was appended for it.
    pub site: SiteOutcome,
    /// How many attempts it took (1 when the first call went through).
    pub attempts: u32,
}

/// Why a command failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CommandFailureKind {
    /// Jira refused for good: no permission, the user, group, project or role does
    /// not exist, the account is inactive, the request was invalid.
    Refused,
    /// Transient failures (rate limits, server errors, dropped connections) went on
    /// past the executor's retry budget.
    GaveUp,
}

/// A command ended without its change: Jira was not changed by it — except
/// possibly after [`CommandFailureKind::GaveUp`] following [`CommandStarted`], when
/// the last attempt's outcome stayed unknown (the reason says so, and the next sync
/// records what Jira holds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandFailed {
    /// The command.
    pub command: CommandId,
    /// Refused or given up.
    pub kind: CommandFailureKind,
    /// What went wrong and what to do, for a person; never a secret.
    pub reason: String,
    /// How many attempts were made.
    pub attempts: u32,
}
