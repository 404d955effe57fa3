//! Helpers shared by the eventlog test files.
#![allow(dead_code)]

use grantledger_eventlog::NewEvent;
use grantledger_model::{
    AccountId, AccountType, Grant, GrantAdded, GrantCause, GroupId, SyncRunId, UserObserved,
    UserRecord,
};

pub fn user(n: u64) -> NewEvent {
    NewEvent::new(UserObserved {
        user: UserRecord {
            account_id: AccountId::new(format!("acct-{n:08}")),
            account_type: AccountType::Atlassian,
            display_name: format!("User {n}"),
            email: Some(format!("user{n}@example.test")),
            active: n % 7 != 0,
        },
    })
}

pub fn grant(n: u64) -> NewEvent {
    NewEvent::new(GrantAdded {
        grant: Grant::membership(
            AccountId::new(format!("acct-{n:08}")),
            GroupId::new(format!("group-{}", n % 13)),
        ),
        cause: GrantCause::ObservedInSync {
            run: SyncRunId::from("run-1"),
        },
    })
}
