//! Access review campaigns: a population of direct grants frozen from the
//! site's state at a recorded log position (with a digest an auditor can
//! recompute from an export), a reviewer for each item, decisions recorded with
//! who and when, and revocations carried out in Jira through the outbox and
//! confirmed by a later sync.
//!
//! - [`campaign`]: the aggregate — [`Campaign`] folded from `campaign:<id>`, and
//!   every decision (create, launch, decide, reassign, close, revocation issued,
//!   the verification step) a pure function (state, facts, time) → events or a
//!   refusal, tested given/when/then.
//! - [`scope`]: which grants a scope selects from a [`grantledger_projection::SiteState`],
//!   who reviews each (reviewer rules, first match wins), and the item digest
//!   (`docs/review-digest.md`).
//! - [`bulk`]: a reviewer's items as Excel-safe CSV, and an import of decisions
//!   validated as a whole.
//! - [`config`]: the `[review]` section of `grantledger.toml` (owners, privileged
//!   groups, campaign definitions).
//! - [`out_of_band`]: the direct grants in scope that no request, operator
//!   command, campaign approval or `[out_of_band]` allow-list entry explains,
//!   with who added them in Jira when an audit record says so.
//! - [`service`]: [`Reviews`], the thin layer that resolves people from the live
//!   projection, appends with the stream's expected version, issues revocations
//!   through the outbox's `Executor` and runs the verification step.
//!
//! Nothing here prints; errors are [`ReviewError`]s.

pub mod bulk;
pub mod campaign;
pub mod compare;
pub mod config;
pub mod error;
pub mod out_of_band;
pub mod report;
pub mod scope;
pub mod service;
pub mod view;

pub use campaign::{Campaign, Item, Outcome, Remediation, Status};
pub use config::ReviewConfig;
pub use error::ReviewError;
pub use service::{NewCampaign, OwnerArg, Preview, Reviews, Verification};
