//! Why a campaign action is refused or failed.

use grantledger_model::{AccountId, CampaignId};

/// A campaign action refused (the campaign is unchanged), or a failure reading or
/// writing the log.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// No such campaign.
    #[error("no campaign {0}")]
    NoSuchCampaign(String),
    /// The id is taken.
    #[error("campaign {0} exists already")]
    AlreadyExists(CampaignId),
    /// The action does not fit the campaign's state.
    #[error("campaign {campaign} is {status}: it cannot {action} now")]
    NotAllowedInState {
        /// The campaign.
        campaign: CampaignId,
        /// The action.
        action: &'static str,
        /// Its state.
        status: &'static str,
    },
    /// The definition is incomplete or inconsistent.
    #[error("invalid campaign definition: {0}")]
    InvalidDefinition(String),
    /// No item with that number.
    #[error("campaign {campaign} has no item {item}")]
    NoSuchItem {
        /// The campaign.
        campaign: CampaignId,
        /// The item as asked.
        item: String,
    },
    /// The acting person is not the item's reviewer.
    #[error("item i{item} is assigned to {reviewer}, not to the acting account: only its reviewer decides or reassigns it")]
    NotReviewer {
        /// The item.
        item: u32,
        /// Its reviewer.
        reviewer: AccountId,
    },
    /// Someone tried to review their own access.
    #[error("item i{item} is the acting account's own access: nobody reviews their own access")]
    SelfReview {
        /// The item.
        item: u32,
    },
    /// A revocation without a comment where the campaign requires one.
    #[error("campaign {0} requires a comment for every revocation")]
    CommentRequired(CampaignId),
    /// A reassignment to the current reviewer.
    #[error("item i{item} is already assigned to that reviewer")]
    SameReviewer {
        /// The item.
        item: u32,
    },
    /// Items that no reviewer rule assigns.
    #[error("{count} item(s) have no reviewer (no rule names one): add a fallback reviewer")]
    Unassigned {
        /// How many.
        count: usize,
    },
    /// An item's only reviewer would review their own access and there is no
    /// fallback (or the fallback is the principal).
    #[error("item {grant} would be reviewed by its own holder and no other fallback reviewer is defined: give it another reviewer (an owner in [review], a manager in --managers) or choose a fallback who does not hold it")]
    NoFallbackForSelfReview {
        /// The grant, in words.
        grant: String,
    },
    /// A bulk import was refused as a whole.
    #[error("the import was refused, nothing was applied: {} problem(s)", .0.len())]
    Import(Vec<crate::bulk::ImportProblem>),
    /// The site's state could not be used (not synced, a name not found...).
    #[error(transparent)]
    Query(#[from] grantledger_projection::QueryError),
    /// Reading or writing the log failed.
    #[error(transparent)]
    Log(#[from] grantledger_eventlog::LogError),
    /// The outbox refused to issue a command.
    #[error(transparent)]
    Outbox(#[from] grantledger_outbox::OutboxError),
    /// Another writer changed the campaign at the same moment.
    #[error("campaign {0} changed while this action was decided: try again")]
    Concurrent(CampaignId),
}
