//! Who has what: principals, entitlements, grants and why a grant changed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{
    AccountId, CampaignId, CommandId, GroupId, ProductKey, ProjectId, RequestId, RoleId, SyncRunId,
};

/// Who holds an entitlement.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Principal {
    /// A Jira account (of any account type).
    User(AccountId),
    /// A Jira group (as a project role actor).
    Group(GroupId),
}

/// What is held.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub enum Entitlement {
    /// Membership of a group (principal is always a user).
    GroupMembership {
        /// The group.
        group: GroupId,
    },
    /// A project role; the actor is a user or a group. Group actors are not expanded
    /// here: the projection derives effective access through membership.
    ProjectRole {
        /// The project.
        project: ProjectId,
        /// The role within it.
        role: RoleId,
    },
    /// Access to a Jira product. Derived from group membership and the product's
    /// groups; never observed directly.
    ProductAccess {
        /// The product.
        product: ProductKey,
    },
}

/// One principal holding one entitlement.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Who.
    pub principal: Principal,
    /// What.
    pub entitlement: Entitlement,
}

impl Grant {
    /// A user's membership of a group.
    pub fn membership(user: AccountId, group: GroupId) -> Self {
        Self {
            principal: Principal::User(user),
            entitlement: Entitlement::GroupMembership { group },
        }
    }

    /// A role actor (user or group) in a project.
    pub fn role(principal: Principal, project: ProjectId, role: RoleId) -> Self {
        Self {
            principal,
            entitlement: Entitlement::ProjectRole { project, role },
        }
    }
}

/// Why a grant was added or removed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum GrantCause {
    /// A sync saw it (added outside grantledger, or removed outside grantledger).
    ObservedInSync {
        /// The sync run.
        run: SyncRunId,
    },
    /// grantledger applied it for an approved access request.
    AppliedByRequest {
        /// The request.
        request: RequestId,
        /// The command that changed Jira.
        command: CommandId,
    },
    /// grantledger removed it after a review decision.
    RemovedByReview {
        /// The campaign.
        campaign: CampaignId,
        /// The command that changed Jira.
        command: CommandId,
    },
    /// grantledger removed it when a request's time ran out.
    RemovedAtExpiry {
        /// The request.
        request: RequestId,
        /// The command that changed Jira.
        command: CommandId,
    },
    /// grantledger removed what a request added before its time ran out (revoked
    /// early by the requester or an approver).
    RevokedForRequest {
        /// The request.
        request: RequestId,
        /// The command that changed Jira.
        command: CommandId,
    },
    /// grantledger added or removed it for an operator provisioning by hand.
    ChangedByOperator {
        /// Who, as the operator named themselves.
        operator: String,
        /// The command that changed Jira.
        command: CommandId,
    },
}

/// What caused a record to be written: stored beside every event.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Causation {
    /// A sync run.
    SyncRun(SyncRunId),
    /// An access request.
    Request(RequestId),
    /// A review campaign.
    Campaign(CampaignId),
    /// An outbox command.
    Command(CommandId),
    /// A named operator acting by hand (CLI).
    Operator(String),
}
