//! Shared by the ingest tests: start a simulator, build a client, compare the
//! projection with the simulator's org.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use grantledger_eventlog::EventLog;
use grantledger_ingest::{sync, SyncOptions, SyncReport};
use grantledger_jira::{ApiToken, JiraClient, JiraConfig, RetryPolicy};
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};
use grantledger_model::*;
use grantledger_projection::SiteState;

pub const SITE: &str = "sim.atlassian.net";

pub async fn start(preset: Preset, seed: u64) -> SimServer {
    let org = Org::generate(preset, seed);
    let admin = Credential::admin_of(&org);
    SimServer::start(org, vec![admin], Faults::default())
        .await
        .unwrap()
}

pub fn client(sim: &SimServer) -> JiraClient {
    client_with(sim, |_| {})
}

pub fn client_with(sim: &SimServer, tweak: impl FnOnce(&mut JiraConfig)) -> JiraClient {
    let mut config = JiraConfig::for_base_url(
        &sim.base_url(),
        Credential::DEFAULT_EMAIL,
        ApiToken::new(Credential::DEFAULT_TOKEN),
    )
    .unwrap();
    config.retry = RetryPolicy {
        max_attempts: 8,
        max_total_wait: std::time::Duration::from_secs(30),
        base_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(200),
    };
    tweak(&mut config);
    JiraClient::new(config).unwrap()
}

pub async fn run(log: &EventLog, client: &JiraClient) -> SyncReport {
    sync(log, client, SyncOptions::new(SITE)).await.unwrap()
}

pub fn open(dir: &std::path::Path) -> EventLog {
    EventLog::open(dir).unwrap()
}

/// The state a correct sync must leave: exactly the simulator's org.
pub fn expected(org: &Org) -> SiteState {
    let mut s = SiteState::default();
    for u in &org.users {
        let user = UserRecord {
            account_id: AccountId::new(u.account_id.clone()),
            account_type: AccountType::from_jira(&u.account_type),
            display_name: u.display_name.clone(),
            email: if u.email_hidden {
                None
            } else {
                u.email.clone()
            },
            active: u.active,
        };
        s.users.insert(user.account_id.clone(), user);
    }
    let mut by_name = BTreeMap::new();
    for g in &org.groups {
        let id = GroupId::new(g.group_id.clone());
        by_name.insert(g.name.clone(), id.clone());
        s.groups.insert(
            id.clone(),
            GroupRecord {
                group_id: id,
                name: g.name.clone(),
            },
        );
    }
    for (g, members) in &org.memberships {
        if !members.is_empty() {
            s.members.insert(
                GroupId::new(g.clone()),
                members.iter().map(|a| AccountId::new(a.clone())).collect(),
            );
        }
    }
    for p in &org.projects {
        let pid = ProjectId::new(p.id.clone());
        s.projects.insert(
            pid.clone(),
            ProjectRecord {
                project_id: pid.clone(),
                key: p.key.clone(),
                name: p.name.clone(),
                archived: p.archived,
            },
        );
        for r in &p.roles {
            let rid = RoleId::new(r.id.to_string());
            s.roles.entry(pid.clone()).or_default().insert(
                rid.clone(),
                RoleRecord {
                    project_id: pid.clone(),
                    role_id: rid.clone(),
                    name: r.name.clone(),
                },
            );
            let actors: std::collections::BTreeSet<Principal> = r
                .user_actors
                .iter()
                .map(|a| Principal::User(AccountId::new(a.clone())))
                .chain(
                    r.group_actors
                        .iter()
                        .map(|g| Principal::Group(GroupId::new(g.clone()))),
                )
                .collect();
            if !actors.is_empty() {
                s.role_actors.insert((pid.clone(), rid), actors);
            }
        }
    }
    for a in &org.application_roles {
        let groups: std::collections::BTreeSet<GroupId> =
            a.groups.iter().map(|n| by_name[n].clone()).collect();
        if !groups.is_empty() {
            s.products
                .insert(ProductKey::new(a.key.clone()), (a.name.clone(), groups));
        }
    }
    s
}

/// Compares the log's projection with the org, field by field, with a readable
/// message for the first difference.
pub fn assert_state_matches(log: &EventLog, org: &Org) {
    let got = SiteState::load(log, SITE).unwrap();
    let want = expected(org);
    assert_eq!(got.users.len(), want.users.len(), "user count");
    for (id, u) in &want.users {
        assert_eq!(got.users.get(id), Some(u), "user {id}");
    }
    assert_eq!(got.groups, want.groups, "groups");
    for (g, m) in &want.members {
        assert_eq!(got.members.get(g), Some(m), "members of {g}");
    }
    assert_eq!(got.members.len(), want.members.len(), "groups with members");
    assert_eq!(got.projects, want.projects, "projects");
    assert_eq!(got.roles, want.roles, "roles");
    assert_eq!(got.role_actors, want.role_actors, "role actors");
    assert_eq!(got.products, want.products, "products");
}

pub fn access_events_after(log: &EventLog, position: u64) -> Vec<Event> {
    log.read_from(position + 1)
        .map(|r| r.unwrap().event)
        .filter(Event::is_access_event)
        .collect()
}

pub fn arc<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
