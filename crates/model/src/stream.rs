//! Streams: every event in the log belongs to exactly one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::ids::{CampaignId, CommandId, RequestId};

/// The longest stream name the log accepts, in bytes.
pub const MAX_STREAM_LEN: usize = 512;

/// A stream name: `jira:<site>`, `campaign:<id>`, `request:<id>` or `command:<id>`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct StreamId(String);

/// Why a string is not a valid stream name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidStreamId {
    /// What is wrong, in words.
    pub reason: &'static str,
}

impl fmt::Display for InvalidStreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid stream name: {}", self.reason)
    }
}

impl std::error::Error for InvalidStreamId {}

impl StreamId {
    /// Parses and checks a stream name: `<kind>:<rest>`, non-empty, at most
    /// [`MAX_STREAM_LEN`] bytes, no control characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidStreamId> {
        if raw.is_empty() {
            return Err(InvalidStreamId {
                reason: "it is empty",
            });
        }
        if raw.len() > MAX_STREAM_LEN {
            return Err(InvalidStreamId {
                reason: "it is longer than 512 bytes",
            });
        }
        if raw.chars().any(char::is_control) {
            return Err(InvalidStreamId {
                reason: "it contains a control character",
            });
        }
        match raw.split_once(':') {
            Some((kind, rest)) if !kind.is_empty() && !rest.is_empty() => Ok(Self(raw.to_owned())),
            _ => Err(InvalidStreamId {
                reason: "it must look like `<kind>:<name>`, e.g. `jira:acme`",
            }),
        }
    }

    /// The stream of everything observed on one Jira site.
    pub fn jira_site(site: &str) -> Self {
        Self(format!("jira:{site}"))
    }

    /// The stream of one site's Jira admin audit records, as syncs read them
    /// (ADR 0019).
    pub fn audit_site(site: &str) -> Self {
        Self(format!("audit:{site}"))
    }

    /// The stream of one review campaign.
    pub fn campaign(id: &CampaignId) -> Self {
        Self(format!("campaign:{id}"))
    }

    /// The stream of one access request.
    pub fn request(id: &RequestId) -> Self {
        Self(format!("request:{id}"))
    }

    /// The stream of one outbox command.
    pub fn command(id: &CommandId) -> Self {
        Self(format!("command:{id}"))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_kinds() {
        assert_eq!(
            StreamId::parse("jira:acme").unwrap(),
            StreamId::jira_site("acme")
        );
        assert_eq!(
            StreamId::campaign(&CampaignId::from("q1")).as_str(),
            "campaign:q1"
        );
        assert_eq!(
            StreamId::request(&RequestId::from("r7")).as_str(),
            "request:r7"
        );
        assert_eq!(
            StreamId::command(&CommandId::from("c9")).as_str(),
            "command:c9"
        );
    }

    #[test]
    fn rejects_malformed_names_with_a_reason() {
        for bad in ["", "nocolon", ":x", "x:", "jira:a\nb"] {
            let err = StreamId::parse(bad).unwrap_err();
            assert!(!err.reason.is_empty(), "{bad:?}");
        }
        assert!(StreamId::parse(&format!("jira:{}", "x".repeat(600))).is_err());
    }
}
