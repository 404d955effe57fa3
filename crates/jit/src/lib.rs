//! Just-in-time access: requests for time-bound access to a Jira group or
//! project role, approved under policies from the config file, granted and
//! revoked in Jira through the outbox's commands, and expired on time.
//!
//! - [`policy`]: the `[jit]` section of `grantledger.toml`, parsed and checked as a
//!   whole (line, column and reason for the first error), and matched per
//!   entitlement.
//! - [`request`]: the request aggregate — its state folded from `request:<id>`, and
//!   every decision a pure function (state, facts, time) → events or a refusal.
//! - [`requests`]: the [`Requests`] projection, every request kept current by a
//!   follower of the log.
//! - [`service`]: [`Jit`], the thin layer that resolves names and approver rights
//!   from the site's live state, loads a request and appends a decision's events
//!   with the stream's expected version.
//! - [`scheduler`]: one pass ([`run_once`]) grants what was approved, expires what
//!   ran out and drives unfinished commands through a [`CommandRunner`] (the outbox's `Executor`);
//!   [`run`] repeats passes, waking at the next deadline on the injected clock.
//!
//! Pre-existing access is never revoked: a request records `AccessAlreadyHeld`
//! when the beneficiary held the entitlement before (in the site's state, or
//! Jira answered "already in place"), and its expiry then revokes nothing. Expiry
//! removes only what the request added; when another running request holds the
//! same access, the removal passes to it.

pub mod error;
pub mod policy;
pub mod request;
pub mod requests;
pub mod scheduler;
pub mod service;

pub use error::RequestError;
pub use policy::{EntitlementName, Matched, Policies, Policy, PolicyError};
pub use request::{Request, Status};
pub use requests::Requests;
pub use scheduler::{drive, run, run_once, run_once_spread, CommandRunner, PassReport};
pub use service::{CreateArgs, Jit, ListFilter};
