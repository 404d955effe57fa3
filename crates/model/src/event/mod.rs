//! The events. Every event is a fact in the past tense; nothing is ever updated or
//! deleted, a correction is a new event.
//!
//! The list of event types lives in one place, [`for_each_event_type!`], which the
//! codec and the schema generator expand, so adding a variant cannot be forgotten by
//! either.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod audit;
mod command;
mod directory;
mod grants;
mod request;
mod review;
mod sync;

pub use audit::*;
pub use command::*;
pub use directory::*;
pub use grants::*;
pub use request::*;
pub use review::*;
pub use sync::*;

/// Calls `$callback!` with every event type as `Name = schema_version`.
///
/// The schema version of a type goes up whenever its payload's shape changes; the
/// codec keeps a decoder for every old version and upcasts it.
#[macro_export]
macro_rules! for_each_event_type {
    ($callback:ident) => {
        $callback! {
            SyncStarted = 1,
            SyncCompleted = 1,
            SyncFailed = 1,
            UserObserved = 1,
            UserChanged = 1,
            UserDeactivated = 1,
            UserReactivated = 1,
            UserVanished = 1,
            GroupObserved = 1,
            GroupRenamed = 1,
            GroupVanished = 1,
            ProjectObserved = 1,
            ProjectChanged = 1,
            ProjectVanished = 1,
            ProjectRoleObserved = 1,
            ProjectRoleVanished = 1,
            ProductAccessGroupsChanged = 1,
            GrantAdded = 1,
            GrantRemoved = 1,
            CommandIssued = 1,
            CommandStarted = 1,
            CommandSucceeded = 1,
            CommandFailed = 1,
            AccessRequested = 1,
            ApprovalGiven = 1,
            RequestApproved = 1,
            RequestDenied = 1,
            RequestCancelled = 1,
            AccessGranted = 1,
            AccessAlreadyHeld = 1,
            AccessExtended = 1,
            AccessExpired = 1,
            AccessTakenOver = 1,
            RevocationRequested = 1,
            AccessRevoked = 1,
            RequestFailed = 1,
            RemovalRetried = 1,
            CampaignCreated = 1,
            CampaignLaunched = 1,
            CampaignItemsFrozen = 1,
            ItemDecided = 1,
            ItemReassigned = 1,
            CampaignClosed = 1,
            RevocationIssued = 1,
            RemediationVerified = 1,
            RemediationFlagged = 1,
            AuditRecordObserved = 1,
            AuditLogRead = 1,
        }
    };
}

macro_rules! define_event_enum {
    ($($name:ident = $version:literal,)*) => {
        /// Every event grantledger records.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        pub enum Event {
            $(
                #[allow(missing_docs)]
                $name($name),
            )*
        }

        /// The name and current schema version of every event type.
        pub const EVENT_TYPES: &[(&str, u16)] = &[$((stringify!($name), $version),)*];

        impl Event {
            /// The event type's name, as stored in the record header.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Event::$name(_) => stringify!($name),)*
                }
            }

            /// The current schema version of this event's type.
            pub fn schema_version(&self) -> u16 {
                match self {
                    $(Event::$name(_) => $version,)*
                }
            }
        }

        $(
            impl From<$name> for Event {
                fn from(payload: $name) -> Self {
                    Event::$name(payload)
                }
            }
        )*
    };
}

for_each_event_type!(define_event_enum);

/// The bounded context an event type belongs to. Every type is listed by name in
/// [`Event::category`]; a new event type does not compile until it is given one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventCategory {
    /// A sync run's own bookkeeping: `SyncStarted`, `SyncCompleted`, `SyncFailed`.
    SyncLifecycle,
    /// What the site holds: `UserObserved`, `UserChanged`, `UserDeactivated`,
    /// `UserReactivated`, `UserVanished`, `GroupObserved`, `GroupRenamed`,
    /// `GroupVanished`, `ProjectObserved`, `ProjectChanged`, `ProjectVanished`,
    /// `ProjectRoleObserved`, `ProjectRoleVanished`, `ProductAccessGroupsChanged`.
    Directory,
    /// Who holds what: `GrantAdded`, `GrantRemoved`.
    Grant,
    /// The outbox of changes grantledger makes in Jira: `CommandIssued`,
    /// `CommandStarted`, `CommandSucceeded`, `CommandFailed`.
    Command,
    /// Just-in-time access requests: `AccessRequested`, `ApprovalGiven`,
    /// `RequestApproved`, `RequestDenied`, `RequestCancelled`, `AccessGranted`,
    /// `AccessAlreadyHeld`, `AccessExtended`, `AccessExpired`, `AccessTakenOver`,
    /// `RevocationRequested`, `AccessRevoked`, `RequestFailed`, `RemovalRetried`.
    Request,
    /// Access review campaigns: `CampaignCreated`, `CampaignLaunched`,
    /// `CampaignItemsFrozen`, `ItemDecided`, `ItemReassigned`, `CampaignClosed`,
    /// `RevocationIssued`, `RemediationVerified`, `RemediationFlagged`.
    Review,
    /// Jira's admin audit log as read by syncs: `AuditRecordObserved`,
    /// `AuditLogRead` (evidence of who changed what; not access events).
    Audit,
}

impl Event {
    /// The category of this event's type (an exhaustive list, no default).
    pub fn category(&self) -> EventCategory {
        match self {
            Event::SyncStarted(_) | Event::SyncCompleted(_) | Event::SyncFailed(_) => {
                EventCategory::SyncLifecycle
            }
            Event::UserObserved(_)
            | Event::UserChanged(_)
            | Event::UserDeactivated(_)
            | Event::UserReactivated(_)
            | Event::UserVanished(_)
            | Event::GroupObserved(_)
            | Event::GroupRenamed(_)
            | Event::GroupVanished(_)
            | Event::ProjectObserved(_)
            | Event::ProjectChanged(_)
            | Event::ProjectVanished(_)
            | Event::ProjectRoleObserved(_)
            | Event::ProjectRoleVanished(_)
            | Event::ProductAccessGroupsChanged(_) => EventCategory::Directory,
            Event::GrantAdded(_) | Event::GrantRemoved(_) => EventCategory::Grant,
            Event::CommandIssued(_)
            | Event::CommandStarted(_)
            | Event::CommandSucceeded(_)
            | Event::CommandFailed(_) => EventCategory::Command,
            Event::AccessRequested(_)
            | Event::ApprovalGiven(_)
            | Event::RequestApproved(_)
            | Event::RequestDenied(_)
            | Event::RequestCancelled(_)
            | Event::AccessGranted(_)
            | Event::AccessAlreadyHeld(_)
            | Event::AccessExtended(_)
            | Event::AccessExpired(_)
            | Event::AccessTakenOver(_)
            | Event::RevocationRequested(_)
            | Event::AccessRevoked(_)
            | Event::RequestFailed(_)
            | Event::RemovalRetried(_) => EventCategory::Request,
            Event::CampaignCreated(_)
            | Event::CampaignLaunched(_)
            | Event::CampaignItemsFrozen(_)
            | Event::ItemDecided(_)
            | Event::ItemReassigned(_)
            | Event::CampaignClosed(_)
            | Event::RevocationIssued(_)
            | Event::RemediationVerified(_)
            | Event::RemediationFlagged(_) => EventCategory::Review,
            Event::AuditRecordObserved(_) | Event::AuditLogRead(_) => EventCategory::Audit,
        }
    }

    /// Whether this event records what the site holds or who holds what: the
    /// [`EventCategory::Directory`] and [`EventCategory::Grant`] events, and no
    /// others (a sync's bookkeeping, requests, commands and campaigns are not
    /// access events).
    pub fn is_access_event(&self) -> bool {
        matches!(
            self.category(),
            EventCategory::Directory | EventCategory::Grant
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, SyncRunId};
    use crate::time::Timestamp;

    #[test]
    fn every_event_type_is_listed_once() {
        let mut names: Vec<&str> = EVENT_TYPES.iter().map(|(n, _)| *n).collect();
        let before = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), before);
        assert!(EVENT_TYPES.iter().all(|(_, v)| *v >= 1));
    }

    #[test]
    fn event_type_names_match_variants() {
        let e: Event = UserVanished {
            account_id: AccountId::from("a1"),
        }
        .into();
        assert_eq!(e.event_type(), "UserVanished");
        assert!(e.is_access_event());
        let s: Event = SyncStarted {
            run: SyncRunId::from("r"),
            site: "acme".into(),
            started_at: Timestamp(0),
        }
        .into();
        assert!(!s.is_access_event());
        assert_eq!(s.category(), EventCategory::SyncLifecycle);
    }

    #[test]
    fn categories_are_the_documented_lists() {
        use crate::access::{Grant, GrantCause};
        use crate::ids::GroupId;
        let grant = Grant::membership(AccountId::from("a1"), GroupId::from("g1"));
        let cause = GrantCause::ObservedInSync {
            run: SyncRunId::from("r"),
        };
        let added: Event = GrantAdded {
            grant: grant.clone(),
            cause: cause.clone(),
        }
        .into();
        let removed: Event = GrantRemoved { grant, cause }.into();
        for e in [&added, &removed] {
            assert_eq!(e.category(), EventCategory::Grant);
            assert!(e.is_access_event());
        }
        let renamed: Event = GroupRenamed {
            group_id: GroupId::from("g1"),
            from: "a".into(),
            to: "b".into(),
        }
        .into();
        assert_eq!(renamed.category(), EventCategory::Directory);
        let failed: Event = SyncFailed {
            run: SyncRunId::from("r"),
            reason: "x".into(),
            unfinished_scopes: vec![],
            stats: SyncStats::default(),
        }
        .into();
        assert_eq!(failed.category(), EventCategory::SyncLifecycle);
        assert!(!failed.is_access_event());
        let cancelled: Event = RequestCancelled {
            request: crate::ids::RequestId::from("r1"),
            by: AccountId::from("a1"),
            at: Timestamp(1),
        }
        .into();
        assert_eq!(cancelled.category(), EventCategory::Request);
        assert!(!cancelled.is_access_event());
        let decided: Event = ItemDecided {
            campaign: crate::ids::CampaignId::from("c1"),
            item: 1,
            decision: Decision::Approve,
            by: AccountId::from("a2"),
            comment: None,
            at: Timestamp(1),
        }
        .into();
        assert_eq!(decided.category(), EventCategory::Review);
        assert!(!decided.is_access_event());
    }
}
