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

impl std::fmt::Display for Principal {
    /// The principal by id, for messages where no name is at hand: `user 5b10…`,
    /// `group 276f…`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::User(a) => write!(f, "user {a}"),
            Principal::Group(g) => write!(f, "group {g}"),
        }
    }
}

impl std::fmt::Display for Grant {
    /// The grant by ids, for messages where no names are at hand:
    /// `user u1 in group g1`, `group g1 in role 10002 of project 10000`,
    /// `user u1 with product jira-software`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.entitlement {
            Entitlement::GroupMembership { group } => {
                write!(f, "{} in group {group}", self.principal)
            }
            Entitlement::ProjectRole { project, role } => {
                write!(f, "{} in role {role} of project {project}", self.principal)
            }
            Entitlement::ProductAccess { product } => {
                write!(f, "{} with product {product}", self.principal)
            }
        }
    }
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn grants_read_as_words() {
        let m = Grant::membership("u1".into(), "g1".into());
        assert_eq!(m.to_string(), "user u1 in group g1");
        let r = Grant::role(
            Principal::Group("g1".into()),
            "10000".into(),
            "10002".into(),
        );
        assert_eq!(r.to_string(), "group g1 in role 10002 of project 10000");
    }
}
