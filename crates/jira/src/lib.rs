//! grantledger's Jira Cloud REST client: auth, paging, rate limits, typed errors.
//!
//! This is the only crate that speaks HTTP to Jira. It reads the directory
//! (users, groups, members, projects, roles, product access, the admin audit
//! log) and makes the four kinds of writes grantledger needs (add / remove a
//! group member, add / remove a project role actor).
//!
//! # Main types
//! - [`JiraConfig`]: the site (`acme`, `acme.atlassian.net` or a full
//!   `https://` URL), the admin's email, the [`ApiToken`] (read with
//!   [`ApiToken::from_env`] or [`ApiToken::from_file`], never from argv; its
//!   `Debug`/`Display` print a mask), the [`TokenKind`] (classic, or scoped —
//!   resolved through `/_edge/tenant_info` to
//!   `https://api.atlassian.com/ex/jira/<cloudId>`), an optional base-URL
//!   override (the simulator; plain `http://` only on loopback), the
//!   concurrency (default 8), the per-request timeout and the [`RetryPolicy`].
//! - [`JiraClient`]: built with [`JiraClient::new`] or, for scoped tokens,
//!   [`JiraClient::connect`]. Cheap to clone. Reads: [`JiraClient::myself`],
//!   [`JiraClient::users`], [`JiraClient::groups`], [`JiraClient::group_members`],
//!   [`JiraClient::projects`], [`JiraClient::project_roles`], [`JiraClient::role`],
//!   [`JiraClient::application_roles`], [`JiraClient::audit_records`]; each list
//!   also comes page by page (`users_pages`, `groups_pages`, ...) as a
//!   [`Pager`], so a sync can process pages without holding everything.
//!   Writes: [`JiraClient::add_group_member`], [`JiraClient::remove_group_member`],
//!   [`JiraClient::add_role_actor`], [`JiraClient::remove_role_actor`], each
//!   idempotent (see [`writes`]: state is re-read whenever an outcome is
//!   unknown, never a blind resend) and returning a [`WriteOutcome`].
//!   [`JiraClient::metrics`] snapshots the counters ([`Metrics`]).
//! - [`types`]: the responses, typed with serde, and their conversion to the
//!   model's records. Missing `groupId` (older responses) is kept as `None`;
//!   converting such a group fails with [`JiraError::MissingField`], and role
//!   group actors can be resolved by name through [`types::GroupIndex`].
//! - [`JiraError`]: what went wrong, with the endpoint, the resource and what
//!   to do (401: check the email and token; 403: which permission; rate limited
//!   past the retry budget; undecodable body with a short excerpt; paging that
//!   does not advance). No error, log line or `Debug` output holds the token.
//!
//! # Behaviour
//! - Paging is written once ([`paging`]) for Jira's three shapes: PageBean
//!   (follow `isLast`/`nextPage`, else `total`, else an empty page), bare
//!   arrays (raise `startAt` by what was received until an empty page) and
//!   maps (one response). A short page never ends a listing; a server that
//!   does not advance is detected and reported, never looped on.
//! - Rate limits: `Retry-After` (seconds) on 429 and 503, else
//!   `X-RateLimit-Reset` (ISO-8601, minute precision), else capped
//!   exponential backoff with jitter ×0.7–1.3, within a budget of attempts and
//!   total wait. After a 429 every caller of the client pauses until the retry
//!   time, and one permit of the concurrency limit is withheld until things
//!   are calm again. Time comes from an injectable [`Clock`].
//!
//! # Example
//! ```no_run
//! use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
//! # async fn run() -> Result<(), grantledger_jira::JiraError> {
//! let token = ApiToken::from_env("JIRA_API_TOKEN")?;
//! let client = JiraClient::connect(JiraConfig::new("acme", "admin@acme.com", token)).await?;
//! let me = client.myself().await?;
//! let mut pages = client.users_pages();
//! while let Some(page) = pages.next_page().await? {
//!     println!("{} users", page.len());
//! }
//! println!("{} requests as {}", client.metrics().requests, me.account_id);
//! # Ok(()) }
//! ```
//!
//! # What it does not do
//! It keeps no state beyond counters and the rate-limit pause: no caching, no
//! persistence, no diffing (that is `grantledger-ingest`'s job), and no
//! decisions about *what* to grant. It speaks only the operations above
//! (Jira Cloud platform REST v3), not Jira Server/Data Center, and it does not
//! create or delete groups, users or projects.

pub mod backoff;
mod client;
pub mod config;
mod error;
pub mod metrics;
pub mod paging;
mod secret;
pub mod types;
pub mod writes;

pub use client::{
    JiraClient, Pager, AUDIT_PAGE, GROUPS_PAGE, MEMBERS_PAGE, PROJECTS_PAGE, PROJECT_STATUSES,
    USERS_PAGE,
};
pub use config::{JiraConfig, Limits, RetryPolicy, TokenKind};
pub use error::JiraError;
pub use grantledger_clock::{Clock, ManualClock, SystemClock};
pub use metrics::{Metrics, Operation};
pub use secret::{ApiToken, TokenError};
pub use types::WriteOutcome;
