//! Identifiers. Every id is a newtype over the string Jira (or grantledger) uses,
//! so an `AccountId` can never be passed where a `GroupId` is expected.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Wraps a raw id.
            pub fn new(raw: impl Into<String>) -> Self {
                Self(raw.into())
            }

            /// The raw id as Jira or grantledger spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl From<&str> for $name {
            fn from(raw: &str) -> Self {
                Self(raw.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(raw: String) -> Self {
                Self(raw)
            }
        }
    };
}

string_id!(
    /// A Jira account id: opaque, at most 128 characters.
    AccountId
);
string_id!(
    /// A Jira group id (`groupId`, a UUID). Names change; this does not.
    GroupId
);
string_id!(
    /// A Jira project id (numeric, as a string). Keys change; this does not.
    ProjectId
);
string_id!(
    /// A Jira project role id (numeric, as a string; the last segment of the role URL).
    RoleId
);
string_id!(
    /// A Jira product key, e.g. `jira-software`, as listed by `/applicationrole`.
    ProductKey
);
string_id!(
    /// One sync run.
    SyncRunId
);
string_id!(
    /// A review campaign.
    CampaignId
);
string_id!(
    /// A just-in-time access request.
    RequestId
);
string_id!(
    /// A command sent to Jira through the outbox.
    CommandId
);
string_id!(
    /// A deterministic event id, where the domain gives one (a command's intent, a
    /// request's creation). Appending an id that is already in the log is a no-op.
    EventId
);
