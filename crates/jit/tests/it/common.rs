//! A log holding one completed sync of a small site, written directly as the
//! sync would record it, and the policies the tests use.

use std::sync::Arc;

use grantledger_clock::ManualClock;
use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent};
use grantledger_jit::{Jit, Policies};
use grantledger_model::*;

pub const SITE: &str = "acme";
pub const HOUR: u64 = 3600;

pub const POLICIES: &str = r#"
[jit]
privileged_groups = ["security-*"]

[[jit.policy]]
name = "developers"
groups = ["devs"]
approvers = ["bob@example.com"]
approver_groups = ["team-leads"]
max_duration = "8h"
break_glass_max = "1h"

[[jit.policy]]
name = "admins"
groups = ["site-admins"]
approvers = ["bob", "carol"]
max_duration = "2h"

[[jit.policy]]
name = "ops roles"
projects = ["OPS"]
roles = ["Developers"]
approvers = ["bob"]
max_duration = "1d"
require_ticket = true

[[jit.policy]]
name = "closed"
groups = ["finance"]
requestable = false
"#;

fn user(id: &str, name: &str, active: bool) -> Event {
    UserObserved {
        user: UserRecord {
            account_id: AccountId::from(id),
            account_type: AccountType::Atlassian,
            display_name: name.into(),
            email: Some(format!("{id}@example.com")),
            active,
        },
    }
    .into()
}

fn group(id: &str, name: &str) -> Event {
    GroupObserved {
        group: GroupRecord {
            group_id: GroupId::from(id),
            name: name.into(),
        },
    }
    .into()
}

fn member(user: &str, group: &str) -> Event {
    GrantAdded {
        grant: Grant::membership(AccountId::from(user), GroupId::from(group)),
        cause: GrantCause::ObservedInSync {
            run: SyncRunId::from("run-1"),
        },
    }
    .into()
}

/// The test's world: the log in a temporary directory, a manual clock and the
/// request service on them.
pub struct World {
    pub _dir: tempfile::TempDir,
    pub log: EventLog,
    pub clock: ManualClock,
    pub jit: Jit,
}

pub fn start() -> Timestamp {
    Timestamp::from_micros(1_800_000_000_000_000)
}

/// Users alice, bob, carol, dave (team lead), erin (inactive); groups devs,
/// team-leads (dave), site-admins, finance, ops-oncall (alice is a member
/// already); project OPS with role Developers.
pub fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path().join("log")).unwrap();
    let run = SyncRunId::from("run-1");
    let mut events: Vec<Event> = vec![SyncStarted {
        run: run.clone(),
        site: SITE.into(),
        started_at: start(),
    }
    .into()];
    for (id, name, active) in [
        ("alice", "Alice", true),
        ("bob", "Bob", true),
        ("carol", "Carol", true),
        ("dave", "Dave", true),
        ("erin", "Erin", false),
    ] {
        events.push(user(id, name, active));
    }
    for (id, name) in [
        ("g-devs", "devs"),
        ("g-leads", "team-leads"),
        ("g-admins", "site-admins"),
        ("g-fin", "finance"),
    ] {
        events.push(group(id, name));
    }
    events.push(member("dave", "g-leads"));
    events.push(
        ProjectObserved {
            project: ProjectRecord {
                project_id: ProjectId::from("10000"),
                key: "OPS".into(),
                name: "Operations".into(),
                archived: false,
            },
        }
        .into(),
    );
    events.push(
        ProjectRoleObserved {
            role: RoleRecord {
                project_id: ProjectId::from("10000"),
                role_id: RoleId::from("10002"),
                name: "Developers".into(),
            },
        }
        .into(),
    );
    events.push(
        SyncCompleted {
            run,
            stats: SyncStats::default(),
        }
        .into(),
    );
    log.append(
        &StreamId::jira_site(SITE),
        ExpectedVersion::NoStream,
        events.into_iter().map(NewEvent::new).collect(),
    )
    .unwrap();
    let clock = ManualClock::new(start());
    let jit = Jit::new(
        log.clone(),
        SITE,
        Policies::parse(POLICIES).unwrap(),
        Arc::new(clock.clone()),
    );
    World {
        _dir: dir,
        log,
        clock,
        jit,
    }
}

/// Records, as a sync would, that `user` became a member of `group`.
pub fn observe_member(log: &EventLog, user: &str, group: &str) {
    log.append(
        &StreamId::jira_site(SITE),
        ExpectedVersion::Any,
        vec![NewEvent::new(member(user, group))],
    )
    .unwrap();
}
