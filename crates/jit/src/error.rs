//! Why a request action is refused or failed.

use grantledger_model::RequestId;

use crate::policy::format_duration;

/// A request action refused (the request is unchanged), or a failure reading or
/// writing the log.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No group or project role of the site has that name.
    #[error("unknown entitlement: {0}")]
    UnknownEntitlement(String),
    /// The entitlement is not one a request can name.
    #[error("{0} cannot be requested: name a group, or a project role as KEY:Role")]
    NotAnEntitlement(String),
    /// No policy allows requesting it.
    #[error("{}", match policy {
        Some(p) => format!("this entitlement is not requestable (policy {p} says requestable = false)"),
        None => "this entitlement is not requestable: no policy in the config file's [jit] section covers it".to_owned(),
    })]
    NotRequestable {
        /// The policy that said no, if one matched.
        policy: Option<String>,
    },
    /// The duration asked for is longer than the policy allows.
    #[error("{} asked for is over the {}maximum of {}", format_duration(*asked_secs), if *break_glass { "break-glass " } else { "" }, format_duration(*max_secs))]
    DurationOverMax {
        /// Asked (in total, for an extension).
        asked_secs: u64,
        /// Allowed.
        max_secs: u64,
        /// Whether the break-glass maximum applied.
        break_glass: bool,
    },
    /// A zero duration.
    #[error("the duration must be longer than zero")]
    ZeroDuration,
    /// The policy wants a justification.
    #[error("policy {policy} requires a justification: pass --justification")]
    JustificationRequired {
        /// The policy.
        policy: String,
    },
    /// The policy wants a ticket.
    #[error("policy {policy} requires a ticket reference: pass --ticket")]
    TicketRequired {
        /// The policy.
        policy: String,
    },
    /// The beneficiary's account is inactive.
    #[error("the beneficiary's account is inactive in Jira: access cannot be granted to it")]
    InactiveBeneficiary,
    /// The acting person is not an approver of the request's policy.
    #[error("not allowed: the acting account is not an approver under policy {policy}")]
    ApproverNotAllowed {
        /// The policy.
        policy: String,
    },
    /// The requester or beneficiary tried to approve or extend.
    #[error("nobody approves their own request: another approver must act")]
    SelfApproval,
    /// The requester or beneficiary tried to deny.
    #[error("the requester or beneficiary cannot deny the request: cancel it instead")]
    SelfDenial,
    /// Approved twice by the same person.
    #[error("this approver has approved the request already: approvals must come from distinct approvers")]
    AlreadyApproved,
    /// Only the requester cancels.
    #[error("only the requester can cancel a request")]
    NotRequester,
    /// Only the requester, the beneficiary or an approver revokes.
    #[error("only the requester, the beneficiary or an approver can revoke the access")]
    NotAllowedToRevoke,
    /// The action does not fit the request's state.
    #[error("request {request} is {status}: it cannot {action} now")]
    NotAllowedInState {
        /// The request.
        request: RequestId,
        /// The action.
        action: &'static str,
        /// Its state.
        status: &'static str,
    },
    /// An extension must end later.
    #[error("an extension must end later than the current end and later than now")]
    ExtensionNotLater,
    /// Break-glass is not allowed by the policy.
    #[error("policy {policy} does not allow break-glass access (no break_glass_max)")]
    BreakGlassNotAllowed {
        /// The policy.
        policy: String,
    },
    /// Break-glass is for oneself.
    #[error("break-glass access is self-granted: the beneficiary must be the requester")]
    BreakGlassForOthers,
    /// The id is taken.
    #[error("request {0} exists already")]
    AlreadyExists(RequestId),
    /// No such request.
    #[error("no request {0}: `request list` shows the requests")]
    NoSuchRequest(String),
    /// The site's state could not be used (not synced, a name not found...).
    #[error(transparent)]
    Query(#[from] grantledger_projection::QueryError),
    /// Reading or writing the log failed.
    #[error(transparent)]
    Log(#[from] grantledger_eventlog::LogError),
    /// The log or the Jira client could not be opened for a scheduler pass.
    #[error("cannot start a scheduler pass: {0}")]
    Unavailable(String),
    /// Another writer changed the request at the same moment.
    #[error("request {0} changed while this action was decided: try again")]
    Concurrent(RequestId),
    /// A scheduler pass stopped before its tasks ended (the runtime shutting
    /// down): the next pass takes up what is left.
    #[error("the scheduler pass was cut short ({0}); the next pass takes up what is left")]
    Interrupted(String),
}
