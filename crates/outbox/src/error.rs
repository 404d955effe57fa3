//! The executor's errors. A refusal by Jira or a retry budget running out is not an
//! error here: it is the command's outcome (`CommandFailed`), recorded in the log.
//! These errors leave the command as it was (unfinished if it had no outcome), so
//! that driving it again after the cause is fixed finishes it.

use grantledger_eventlog::LogError;
use grantledger_jira::JiraError;
use grantledger_model::CommandId;

/// What stopped the executor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// No command with this id is in the log.
    #[error("no command '{0}' is in the log (list them with `grantledger commands list`)")]
    UnknownCommand(CommandId),

    /// The command names a site for which the executor has no Jira client.
    #[error("command '{command}' changes site '{site}', but no Jira client is configured for that site; configure it and drive the command again")]
    UnknownSite {
        /// The command.
        command: CommandId,
        /// The site.
        site: String,
    },

    /// The command cannot be carried out as given (nothing was recorded).
    #[error("invalid command: {0}")]
    Invalid(String),

    /// A command with this id is already in the log with a different intent.
    #[error("command '{command}' is already in the log with a different intent ({detail}); choose another id")]
    Conflict {
        /// The command.
        command: CommandId,
        /// How it differs.
        detail: String,
    },

    /// Jira could not be used for a reason that no retry and no refusal covers
    /// (the credentials were refused, the configuration is wrong): the command
    /// stays unfinished.
    #[error("command '{command}' was not carried out and stays unfinished: {source}; fix this and drive it again")]
    Jira {
        /// The command.
        command: CommandId,
        /// What the client said.
        #[source]
        source: JiraError,
    },

    /// Another writer of the site's stream appended before every one of the
    /// executor's attempts to record the grant.
    #[error("the grant of command '{command}' could not be recorded in jira:{site}: the stream changed before each of {attempts} attempts; drive the command again")]
    SiteContention {
        /// The command.
        command: CommandId,
        /// The site.
        site: String,
        /// Attempts made.
        attempts: u32,
    },

    /// The log failed.
    #[error("the event log failed: {0}")]
    Log(#[from] LogError),
}

/// The executor's result type.
pub type Result<T, E = OutboxError> = std::result::Result<T, E>;
