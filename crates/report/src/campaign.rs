//! The view model: a campaign as the report shows it, plain data.
//!
//! Text is raw (unescaped) here; [`crate::render_html`] escapes everything.
//! The review crate maps its campaign state into these types; this crate
//! depends on none of ours.

use serde::{Deserialize, Serialize};

/// Everything a campaign's report shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignReport {
    /// The campaign's id.
    pub campaign_id: String,
    /// The campaign's name.
    pub name: String,
    /// "draft", "open" or "closed" (free text, shown as is).
    pub status: String,
    /// One human line per scope selector.
    pub scope: Vec<String>,
    /// When the campaign was created (RFC 3339).
    pub created_at: String,
    /// When decisions are due (RFC 3339).
    pub due: Option<String>,
    /// When the campaign was closed (RFC 3339).
    pub closed_at: Option<String>,
    /// What happens to undecided items at close, e.g. "kept" or "revoked".
    pub undecided_rule: String,
    /// The campaign's counts.
    pub totals: Totals,
    /// Progress per reviewer.
    pub reviewers: Vec<ReviewerProgress>,
    /// Every item with its decision.
    pub items: Vec<ItemRow>,
    /// What became of the revoked items.
    pub remediation: Vec<RemediationRow>,
    /// The values an auditor checks, and how.
    pub evidence: Evidence,
    /// When the report was generated (RFC 3339).
    pub generated_at: String,
    /// What generated it, e.g. "grantledger 0.1.0".
    pub generator: String,
}

/// The campaign's counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Items in the campaign.
    pub items: u64,
    /// Items approved.
    pub approved: u64,
    /// Items revoked.
    pub revoked: u64,
    /// Items not decided.
    pub undecided: u64,
    /// Items reassigned to another reviewer.
    pub reassigned: u64,
}

/// One reviewer's progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerProgress {
    /// The reviewer (display name, email or id).
    pub reviewer: String,
    /// Items assigned to them.
    pub assigned: u64,
    /// Items they decided.
    pub decided: u64,
    /// Items they approved.
    pub approved: u64,
    /// Items they revoked.
    pub revoked: u64,
}

/// One item: a principal's entitlement, its reviewer and decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRow {
    /// The item's id in the campaign.
    pub item_id: String,
    /// Display name (email) or group name.
    pub principal: String,
    /// Account id or group id.
    pub principal_id: String,
    /// What is held, e.g. "group jira-administrators" or "Developers of CS".
    pub entitlement: String,
    /// The assigned reviewer.
    pub reviewer: String,
    /// "approved", "revoked" or "undecided".
    pub decision: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When it was decided (RFC 3339).
    pub decided_at: Option<String>,
    /// The decision's comment.
    pub comment: Option<String>,
    /// Context shown to the reviewer: "inactive in Jira", "app account", "privileged", ...
    pub signals: Vec<String>,
    /// "pending", "removed in Jira", "verified by sync run R", "flagged: ..."
    pub remediation: Option<String>,
}

/// What became of one revoked item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemediationRow {
    /// The item's id in the campaign.
    pub item_id: String,
    /// Display name (email) or group name.
    pub principal: String,
    /// What was revoked.
    pub entitlement: String,
    /// The revoke command's id, once issued.
    pub command_id: Option<String>,
    /// E.g. "pending", "removed in Jira", "verified", "flagged".
    pub status: String,
    /// More about the status (a sync run, a reason).
    pub detail: String,
}

/// The values an auditor checks, and the commands that check them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The log position the items were frozen at.
    pub launch_position: u64,
    /// When the campaign was launched (RFC 3339).
    pub launch_time: String,
    /// "POSITION:HASH" of the log at launch.
    pub launch_head: String,
    /// How many items were frozen.
    pub item_count: u64,
    /// The item set's digest (hex).
    pub item_digest: String,
    /// Repository path of the document that specifies the digest, e.g. "docs/review-digest.md".
    pub digest_doc: String,
    /// "POSITION:HASH" of the log when the campaign was closed.
    pub head_at_close: Option<String>,
    /// Exact command lines an auditor runs.
    pub verify_commands: Vec<String>,
}
