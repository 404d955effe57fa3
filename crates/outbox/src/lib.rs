//! The command executor (the outbox): every change grantledger makes in Jira —
//! adding or removing a group member, adding or removing a project-role actor —
//! is a command whose intent is in the log before Jira is called and whose
//! outcome is in the log after, and Jira is changed once per command whatever
//! crashes in between.
//!
//! # A command's life (ADR 0010, ADR 0011)
//! 1. [`Executor::issue`] appends `CommandIssued` to `command:<id>` with an event id
//!    derived from the command id: issuing the same command again is a no-op.
//! 2. [`Executor::drive`] appends `CommandStarted`, then makes the change through
//!    the client's reconciling writes (which re-read the state whenever an outcome
//!    is unknown, never resending blindly, and turn Jira's "already a member" /
//!    "not a member" refusal into done by reading the state back:
//!    [`JiraOutcome::AlreadyInPlace`]). A command that may have written before (it
//!    has `CommandStarted` from a drive that crashed, or an earlier attempt's
//!    outcome stayed unknown) reads Jira first instead and sends nothing if the
//!    change is in effect; a first attempt skips that read, as it cannot have
//!    written: one round trip per command when nothing goes wrong.
//! 3. It folds `jira:<site>`: if the site's state already shows the result, no grant
//!    event is appended ([`SiteOutcome::AlreadyInState`]); else one `GrantAdded` or
//!    `GrantRemoved` whose cause names the command, with an id derived from the
//!    command id and the stream's version read just before (a sync appending at the
//!    same moment makes the executor fold again and retry).
//! 4. It appends `CommandSucceeded`, or `CommandFailed` when Jira refused
//!    ([`CommandFailureKind::Refused`]: 403, not found, invalid, inactive account)
//!    or transient failures outlasted the [`DrivePolicy`]
//!    ([`CommandFailureKind::GaveUp`]). Both carry the same derived id, so a
//!    command has at most one outcome.
//!
//! [`Executor::issue_and_drive`] does steps 1 and 2 for a scheduler running many
//! commands at once: a new command's `CommandIssued` and `CommandStarted` in one
//! batch (one flush, both durable before Jira is called), and Jira called only
//! while holding a permit of the caller's semaphore, which the log's appends do
//! not need (ADR 0022).
//!
//! A crash at any point leaves a command with an intent and no outcome;
//! [`Executor::drive_unfinished`] finds those through the [`Commands`] projection
//! and drives them again. `CommandStarted` tells a re-drive that finds the change
//! in effect that the change was (in all likelihood) this command's.
//!
//! Nothing here prints; errors are [`OutboxError`]s, and a refusal by Jira is an
//! outcome, not an error.

mod commands;
mod concurrent;
mod error;
mod executor;

pub use commands::{CommandStatus, Commands, Outcome};
pub use concurrent::bounded;
pub use error::{OutboxError, Result};
pub use executor::{describe, CommandSpec, DrivePolicy, Executor, Step, StepHook};

pub use grantledger_model::{
    CommandAction, CommandFailureKind, CommandId, CommandPurpose, JiraOutcome, SiteOutcome,
};
