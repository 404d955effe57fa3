//! The commands projection: every command's intent, whether it started, and its
//! outcome, folded from the `command:<id>` streams. Kept current by a
//! [`grantledger_eventlog::Follower`], so finding the unfinished commands never
//! scans the log again.

use std::collections::{BTreeMap, BTreeSet};

use grantledger_eventlog::{Position, Projection, Record};
use grantledger_model::{
    CommandFailed, CommandId, CommandIssued, CommandSucceeded, Event, Timestamp,
};

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its change is in Jira and in the site's state.
    Succeeded(CommandSucceeded),
    /// It ended without its change.
    Failed(CommandFailed),
}

impl Outcome {
    /// True for [`Outcome::Succeeded`].
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Succeeded(_))
    }
}

/// One command as the log tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandStatus {
    /// Its intent.
    pub issued: CommandIssued,
    /// Where its intent is.
    pub issued_position: Position,
    /// When its intent was recorded.
    pub issued_at: Timestamp,
    /// Whether Jira was found without the change and the change was about to be
    /// sent (`CommandStarted`).
    pub started: bool,
    /// Its outcome, once it has one.
    pub outcome: Option<Outcome>,
    /// Where the outcome is.
    pub outcome_position: Option<Position>,
    /// The version of its stream (`command:<id>`).
    pub version: u64,
}

impl CommandStatus {
    /// True while the command has an intent and no outcome.
    pub fn is_unfinished(&self) -> bool {
        self.outcome.is_none()
    }
}

/// Every command in the log.
#[derive(Clone, Debug, Default)]
pub struct Commands {
    position: Position,
    by_id: BTreeMap<CommandId, CommandStatus>,
    unfinished: BTreeSet<CommandId>,
}

impl Commands {
    /// A command by id.
    pub fn get(&self, id: &CommandId) -> Option<&CommandStatus> {
        self.by_id.get(id)
    }

    /// Every command, by id.
    pub fn all(&self) -> impl Iterator<Item = &CommandStatus> + '_ {
        self.by_id.values()
    }

    /// The ids of the commands with an intent and no outcome, in id order.
    pub fn unfinished(&self) -> impl Iterator<Item = &CommandId> + '_ {
        self.unfinished.iter()
    }

    /// How many commands there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when the log holds no command.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn finish(&mut self, id: &CommandId, outcome: Outcome, record: &Record) {
        if let Some(status) = self.by_id.get_mut(id) {
            status.outcome = Some(outcome);
            status.outcome_position = Some(record.position);
            status.version = record.stream_version;
        }
        self.unfinished.remove(id);
    }
}

impl Projection for Commands {
    fn apply(&mut self, record: &Record) {
        self.position = record.position;
        match &record.event {
            Event::CommandIssued(e) => {
                self.unfinished.insert(e.command.clone());
                self.by_id.insert(
                    e.command.clone(),
                    CommandStatus {
                        issued: e.clone(),
                        issued_position: record.position,
                        issued_at: record.recorded_at,
                        started: false,
                        outcome: None,
                        outcome_position: None,
                        version: record.stream_version,
                    },
                );
            }
            Event::CommandStarted(e) => {
                if let Some(status) = self.by_id.get_mut(&e.command) {
                    status.started = true;
                    status.version = record.stream_version;
                }
            }
            Event::CommandSucceeded(e) => {
                self.finish(&e.command, Outcome::Succeeded(e.clone()), record)
            }
            Event::CommandFailed(e) => self.finish(&e.command, Outcome::Failed(e.clone()), record),
            _ => {}
        }
    }

    fn position(&self) -> Position {
        self.position
    }
}
