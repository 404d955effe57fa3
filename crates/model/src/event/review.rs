//! Access review campaigns: a frozen population of grants, a reviewer for each,
//! decisions, and revocations carried out in Jira and confirmed by a sync.
//!
//! A campaign lives in its own stream, `campaign:<id>`. Its lifecycle:
//! [`CampaignCreated`] (the definition: scope, reviewer rules, due date, rules for
//! undecided items and comments) → [`CampaignLaunched`] (the log position the
//! items were frozen at, the head's hash there, the item count and digest),
//! followed in the same append by [`CampaignItemsFrozen`] chunks holding the items
//! and an [`ItemReassigned`] for every item whose reviewer would have reviewed
//! their own access → [`ItemDecided`] and [`ItemReassigned`] while open →
//! [`CampaignClosed`] (undecided items follow the campaign's rule) →
//! [`RevocationIssued`] per revoked item (the outbox command that removes it) →
//! [`RemediationVerified`] once a sync no longer sees the grant, or
//! [`RemediationFlagged`] when it stays or comes back.
//!
//! Every event carries the time its decision was taken (`at`), so a campaign's
//! state is a pure fold of its own stream.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::access::Grant;
use crate::directory::AccountType;
use crate::ids::{AccountId, CampaignId, CommandId, ProductKey, SyncRunId};
use crate::time::Timestamp;

/// One part of a campaign's scope: which direct grants it reviews. A grant is in
/// scope when any selector takes it (and the account-type filter keeps it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum ScopeSelector {
    /// Every group membership and every project-role actor of the site.
    AllGrants,
    /// Memberships of the groups whose names match (names or globs: `*`, `?`,
    /// case-insensitive), by the names the site had at launch.
    Groups {
        /// Names or globs.
        patterns: Vec<String>,
    },
    /// Memberships of privileged groups: the built-in administration groups and
    /// the configured ones, frozen here when the campaign was created.
    PrivilegedGroups {
        /// Names or globs.
        patterns: Vec<String>,
    },
    /// Actors of project roles: projects by key (or glob), roles by name (or
    /// glob; none listed means every role).
    ProjectRoles {
        /// Project keys or globs.
        projects: Vec<String>,
        /// Role names or globs; empty for every role.
        roles: Vec<String>,
    },
    /// Memberships of the groups that give access to these products (product
    /// access is derived from them; the membership is what is reviewed).
    ProductAccess {
        /// Product keys, e.g. `jira-software`.
        products: Vec<ProductKey>,
    },
}

/// "Only grants added since ..." (a delta review).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Since {
    /// Added after this log position.
    Position(u64),
    /// Added after the last record at or before this time.
    Time(Timestamp),
    /// Added after that campaign's launch position.
    Campaign(CampaignId),
}

/// Which grants a campaign reviews.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignScope {
    /// The selectors (a grant in any of them is in scope).
    pub selectors: Vec<ScopeSelector>,
    /// The account types of user principals kept (humans, `Atlassian`, by
    /// default). Group principals (role actors) are always kept.
    pub account_types: Vec<AccountType>,
    /// Only grants whose last addition is after this point.
    pub since: Option<Since>,
}

/// Who reviews an item: the first rule (in order) that names a reviewer wins.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum ReviewerRule {
    /// The owner of groups or projects, from the config file.
    Owner {
        /// The owner entry's name (for the record).
        name: String,
        /// Group names or globs whose memberships this owner reviews.
        groups: Vec<String>,
        /// Project keys or globs whose role actors this owner reviews.
        projects: Vec<String>,
        /// The owner.
        reviewer: AccountId,
    },
    /// A user's manager, from a mapping loaded from a CSV file when the campaign
    /// was created (user → manager).
    Manager {
        /// Who manages whom, sorted by user.
        managers: Vec<ManagerOf>,
    },
    /// Everyone else's reviewer; also takes items whose reviewer is their
    /// principal.
    Fallback {
        /// The reviewer.
        reviewer: AccountId,
    },
}

/// One line of a manager mapping.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagerOf {
    /// The user.
    pub user: AccountId,
    /// Their manager.
    pub manager: AccountId,
}

/// What happens to items without a decision when the campaign closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum UndecidedRule {
    /// They are kept (as if approved, recorded as undecided).
    Keep,
    /// They are revoked.
    Revoke,
}

/// A campaign was defined; nothing is frozen yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignCreated {
    /// The campaign.
    pub campaign: CampaignId,
    /// The site (`jira:<site>`) reviewed.
    pub site: String,
    /// Its name, e.g. `Q3 2026 Jira admins`.
    pub name: String,
    /// Which grants.
    pub scope: CampaignScope,
    /// Who reviews them, first match wins.
    pub reviewers: Vec<ReviewerRule>,
    /// When decisions are due.
    pub due: Option<Timestamp>,
    /// What happens to undecided items at close.
    pub undecided: UndecidedRule,
    /// Whether a revocation needs a comment.
    pub comment_required_for_revoke: bool,
    /// How many completed syncs after a revocation's command may still show the
    /// grant before the revocation is flagged.
    pub remediation_sync_limit: u32,
    /// Who created it (account id or email, as given).
    pub created_by: String,
    /// When.
    pub at: Timestamp,
}

/// The campaign's items were frozen from the site's state at `position`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignLaunched {
    /// The campaign.
    pub campaign: CampaignId,
    /// The log position whose state the items were taken from (inclusive).
    pub position: u64,
    /// The hash of the record at `position` (lowercase hex).
    pub head_hash: String,
    /// The position a delta scope's "since" resolved to.
    pub since_position: Option<u64>,
    /// How many items.
    pub item_count: u64,
    /// SHA-256 of the canonical item lines (docs/review-digest.md), lowercase hex.
    pub digest: String,
    /// How many [`CampaignItemsFrozen`] events follow.
    pub chunks: u32,
    /// Who launched it.
    pub launched_by: String,
    /// When.
    pub at: Timestamp,
}

/// One item: a principal's direct grant, and who reviews it at launch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignItem {
    /// The item's number (1-based, in canonical order; shown as `i<N>`).
    pub item: u32,
    /// The grant reviewed.
    pub grant: Grant,
    /// The reviewer the rules named.
    pub reviewer: AccountId,
    /// The index of the reviewer rule that named them.
    pub rule: u32,
}

/// A chunk of the campaign's items (chunks keep every record small).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignItemsFrozen {
    /// The campaign.
    pub campaign: CampaignId,
    /// The chunk's number, from 0.
    pub chunk: u32,
    /// Its items, in item order.
    pub items: Vec<CampaignItem>,
}

/// A reviewer's decision on an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Decision {
    /// The access stays.
    Approve,
    /// The access goes at close.
    Revoke,
}

/// A reviewer decided (or changed their decision on) an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemDecided {
    /// The campaign.
    pub campaign: CampaignId,
    /// The item.
    pub item: u32,
    /// Approve or revoke.
    pub decision: Decision,
    /// The reviewer.
    pub by: AccountId,
    /// Why.
    pub comment: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// Why an item changed reviewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ReassignReason {
    /// Its reviewer handed it to someone else.
    Requested,
    /// The reviewer named would have reviewed their own access: it went to the
    /// fallback reviewer automatically.
    SelfReview,
}

/// An item changed reviewer. Its decision, if any, is dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemReassigned {
    /// The campaign.
    pub campaign: CampaignId,
    /// The item.
    pub item: u32,
    /// The reviewer before.
    pub from: AccountId,
    /// The reviewer now.
    pub to: AccountId,
    /// Who asked (`None` when grantledger reassigned it automatically).
    pub by: Option<AccountId>,
    /// Why.
    pub reason: ReassignReason,
    /// A comment.
    pub comment: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// The campaign closed: decisions are final, undecided items follow its rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignClosed {
    /// The campaign.
    pub campaign: CampaignId,
    /// Who closed it.
    pub closed_by: String,
    /// How many items had no decision (they follow the campaign's rule).
    pub undecided: u64,
    /// The log's head when it closed: position ...
    pub head_position: u64,
    /// ... and that record's hash (lowercase hex).
    pub head_hash: String,
    /// When.
    pub at: Timestamp,
}

/// The outbox command that removes a revoked item's grant was issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationIssued {
    /// The campaign.
    pub campaign: CampaignId,
    /// The item.
    pub item: u32,
    /// The remove command.
    pub command: CommandId,
    /// The log's head position when it was issued (syncs completed after it
    /// count towards the remediation limit).
    pub position: u64,
    /// When.
    pub at: Timestamp,
}

/// A completed sync no longer saw a revoked item's grant: the removal is
/// confirmed by Jira itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemediationVerified {
    /// The campaign.
    pub campaign: CampaignId,
    /// The item.
    pub item: u32,
    /// The sync run that confirmed it.
    pub run: SyncRunId,
    /// The position of that run's `SyncCompleted`.
    pub position: u64,
    /// When.
    pub at: Timestamp,
}

/// Why a revocation needs a person's attention.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FlagReason {
    /// The grant was still there after this many completed syncs.
    NotRemoved {
        /// Completed syncs that still showed it.
        syncs: u32,
    },
    /// The grant was removed, then appeared again (at this position).
    Reappeared {
        /// The position of the record that added it again.
        position: u64,
    },
    /// The remove command failed.
    CommandFailed {
        /// The command's reason.
        reason: String,
    },
}

/// A revocation did not take, or did not stay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemediationFlagged {
    /// The campaign.
    pub campaign: CampaignId,
    /// The item.
    pub item: u32,
    /// Why.
    pub reason: FlagReason,
    /// When.
    pub at: Timestamp,
}
