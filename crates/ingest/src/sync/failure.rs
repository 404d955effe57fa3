//! Why a scope was not finished: typed, so that the run can tell a fatal Jira
//! error from a listing that proved nothing, and say either in one line.

use grantledger_jira::JiraError;
use grantledger_model::AccountId;

/// Why a scope was not finished.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScopeFailure {
    /// Jira did not give the listing (or gave one the client refused).
    #[error(transparent)]
    Jira(#[from] JiraError),
    /// Two listings of the scope disagree about what is gone.
    #[error("two listings disagree about what is gone ({first} removals in the first, {second} in the second, {only_first} only in the first, {only_second} only in the second): Jira's answers changed between them, so nothing is removed; the next sync decides")]
    Disagreement {
        /// Removals the first listing implied.
        first: usize,
        /// Removals the second implied.
        second: usize,
        /// Of those, only in the first.
        only_first: usize,
        /// Only in the second.
        only_second: usize,
    },
    /// Two agreeing listings would remove most of what the scope holds.
    #[error("two agreeing listings would remove {removed} of the {held} items this scope holds; a removal that large is held back, because a server answering wrongly looks the same as a mass deletion: nothing is removed; if the site really lost them, run one sync that allows mass removals")]
    MassRemoval {
        /// What the listings would remove.
        removed: usize,
        /// What the scope holds.
        held: usize,
    },
    /// The user listing is empty.
    #[error("the user listing is empty, yet the account running the sync is itself a user: the answer cannot be complete")]
    EmptyUserListing,
    /// The user listing lacks the calling account.
    #[error("the user listing lacks the account running the sync ({0}, as Jira's X-AAccountId header names it): the answer cannot be complete")]
    CallerNotListed(String),
    /// Users the listing no longer holds are still returned by id.
    #[error("the user listing omits accounts that Jira still returns by id ({found} of {asked} looked up, of {missing} missing; first: {first}): the listing is incomplete, so no user is recorded as gone")]
    UsersStillThere {
        /// Looked up and found.
        found: usize,
        /// Looked up.
        asked: usize,
        /// Missing from the listing.
        missing: usize,
        /// The first found.
        first: AccountId,
    },
    /// The listing names an id twice.
    #[error("the listing names {what} {id} twice")]
    Repeated {
        /// "user", "group", "member", "project".
        what: &'static str,
        /// The id.
        id: String,
    },
    /// A product names a group whose id is known nowhere.
    #[error("product {product} names group '{group}', which has no id in the response or the group list")]
    UnknownProductGroup {
        /// The product key.
        product: String,
        /// The group name.
        group: String,
    },
    /// A role actor that is neither a user nor a group.
    #[error("an actor of type {0:?} is neither a user nor a group, so the list of actors is not complete")]
    UnknownActor(Option<String>),
    /// The pages of one listing hold different kinds of items.
    #[error("its pages hold different kinds of items")]
    MixedPages,
    /// A listing holds another kind of item than asked.
    #[error("the listing holds another kind of item than asked")]
    WrongKind,
}
