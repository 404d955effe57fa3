//! End to end: simulated orgs synced over loopback HTTP, then every user's
//! effective access and every product's and role's holders, as the projection
//! answers them, compared with what the simulator's own org says.

use std::collections::{BTreeMap, BTreeSet};

use grantledger_eventlog::{EventLog, Follower};
use grantledger_ingest::{sync, SyncOptions};
use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};
use grantledger_model::*;
use grantledger_projection::{
    holders, resolve, user_access, Holder, Queries, QueryError, Reach, Site, SiteState,
    SnapshotStore, Target,
};

const SITE: &str = "sim.atlassian.net";

/// Syncs `org` into a fresh log twice, `change` applied to the simulator between
/// the two syncs; returns the log, the org as it ends, and the data directory.
fn synced(org: Org, change: impl FnOnce(&mut Org)) -> (EventLog, Org, tempfile::TempDir) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path().join("log")).unwrap();
    let org = rt.block_on(async {
        let admin = Credential::admin_of(&org);
        let sim = SimServer::start(org, vec![admin], Faults::default())
            .await
            .unwrap();
        let config = JiraConfig::for_base_url(
            &sim.base_url(),
            Credential::DEFAULT_EMAIL,
            ApiToken::new(Credential::DEFAULT_TOKEN),
        )
        .unwrap();
        let client = JiraClient::new(config).unwrap();
        sync(&log, &client, SyncOptions::new(SITE)).await.unwrap();
        sim.mutate(change);
        sync(&log, &client, SyncOptions::new(SITE)).await.unwrap();
        sim.org()
    });
    (log, org, dir)
}

/// What each user reaches, straight from the simulator's org.
fn oracle(org: &Org) -> BTreeMap<AccountId, BTreeSet<Reach>> {
    let by_name: BTreeMap<&str, &str> = org
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.group_id.as_str()))
        .collect();
    let member = |u: &str, g: &str| org.memberships.get(g).is_some_and(|m| m.contains(u));
    let mut out = BTreeMap::new();
    for u in &org.users {
        let id = u.account_id.as_str();
        let mut reach = BTreeSet::new();
        for g in &org.groups {
            if member(id, &g.group_id) {
                reach.insert(Reach {
                    target: Target::Group {
                        group: GroupId::new(g.group_id.clone()),
                    },
                    via: None,
                });
            }
        }
        for p in &org.projects {
            for r in &p.roles {
                let target = Target::ProjectRole {
                    project: ProjectId::new(p.id.clone()),
                    role: RoleId::new(r.id.to_string()),
                };
                if r.user_actors.contains(id) {
                    reach.insert(Reach {
                        target: target.clone(),
                        via: None,
                    });
                }
                for g in r.group_actors.iter().filter(|g| member(id, g)) {
                    reach.insert(Reach {
                        target: target.clone(),
                        via: Some(GroupId::new(g.clone())),
                    });
                }
            }
        }
        for a in &org.application_roles {
            for g in a.groups.iter().map(|n| by_name[n.as_str()]) {
                if member(id, g) {
                    reach.insert(Reach {
                        target: Target::Product {
                            product: ProductKey::new(a.key.clone()),
                        },
                        via: Some(GroupId::new(g.to_owned())),
                    });
                }
            }
        }
        out.insert(AccountId::new(u.account_id.clone()), reach);
    }
    out
}

/// Every current answer equals the org's: each user's access (inactive users
/// included, with their status), and the holders of each product and role.
fn assert_answers_match(log: &EventLog, org: &Org, snapshots: &std::path::Path) {
    let plain = Queries::new(log.clone(), SITE);
    let state = plain.current().unwrap();
    let cached =
        Queries::new(log.clone(), SITE).with_snapshots(SnapshotStore::new(snapshots), 4_096);
    assert_eq!(
        cached.current().unwrap(),
        state,
        "snapshots change no answer"
    );
    let want = oracle(org);
    assert_eq!(state.users.len(), org.users.len());
    for (user, reach) in &want {
        let got: BTreeSet<Reach> = user_access(&state, user).into_iter().collect();
        assert_eq!(&got, reach, "access of {user}");
        let active = org
            .users
            .iter()
            .find(|u| u.account_id == user.as_str())
            .unwrap()
            .active;
        assert_eq!(state.users[user].active, active, "status of {user}");
    }
    // Holders are the inverse of the same relation.
    let mut targets: BTreeMap<Target, BTreeSet<Holder>> = BTreeMap::new();
    for (user, reach) in &want {
        for r in reach {
            targets.entry(r.target.clone()).or_default().insert(Holder {
                principal: Principal::User(user.clone()),
                via: r.via.clone(),
            });
        }
    }
    for (target, users) in &targets {
        let got: BTreeSet<Holder> = holders(&state, target)
            .into_iter()
            .filter(|h| matches!(h.principal, Principal::User(_)))
            .collect();
        assert_eq!(&got, users, "holders of {target:?}");
    }
}

#[test]
fn small_and_medium_orgs_answer_as_the_simulator_says() {
    for (preset, seed) in [(Preset::Small, 7), (Preset::Medium, 11)] {
        let (log, org, dir) = synced(Org::generate(preset, seed), |org| {
            // Churn between the syncs: a user leaves a group, one is deactivated.
            let g = org.groups[3].group_id.clone();
            let first = org
                .memberships
                .get(&g)
                .and_then(|m| m.iter().next().cloned());
            if let Some(u) = first {
                org.memberships.get_mut(&g).unwrap().remove(&u);
            }
            org.users[5].active = false;
        });
        assert_answers_match(&log, &org, &dir.path().join("snapshots"));
        // The diff between the two syncs holds the membership that went.
        let q = Queries::new(log.clone(), SITE);
        let head = q.current().unwrap();
        let (from, to) = Queries::default_window(&head).unwrap();
        let diff = q.diff(from, to).unwrap();
        assert!(
            diff.net.iter().any(|n| !n.added),
            "{preset:?}: {:?}",
            diff.net
        );
    }
}

#[test]
fn a_hand_built_org_with_unicode_duplicates_and_dual_role_groups() {
    let mut org = Org::generate(Preset::Small, 3);
    org.users[1].display_name = "Zoë Ångström".into();
    org.users[2].display_name = "李小龍".into();
    org.users[3].display_name = "Alex Smith".into();
    org.users[4].display_name = "Alex Smith".into();
    org.users[4].active = false;
    // Rename a group that no product names (products name their groups).
    let dept = org
        .groups
        .iter()
        .position(|g| {
            g.name.starts_with("dept-")
                && !org
                    .application_roles
                    .iter()
                    .any(|a| a.groups.contains(&g.name))
        })
        .expect("a department group");
    org.groups[dept].name = "développeurs".into();
    // A group that gives a product is also a role actor, and a renamed group
    // is both too.
    let software = org
        .groups
        .iter()
        .find(|g| g.name == "jira-software-users")
        .unwrap()
        .group_id
        .clone();
    let devs = org.groups[dept].group_id.clone();
    org.projects[0].roles[0]
        .group_actors
        .insert(software.clone());
    org.projects[1].roles[0].group_actors.insert(devs.clone());
    org.application_roles[0].groups.push("développeurs".into());
    for u in [1, 2, 3, 4] {
        let id = org.users[u].account_id.clone();
        org.memberships.entry(devs.clone()).or_default().insert(id);
    }
    let (log, org, dir) = synced(org, |_| {});
    assert_answers_match(&log, &org, &dir.path().join("snapshots"));

    let state = SiteState::load(&log, SITE).unwrap();
    match resolve::user(&state, "ALEX SMITH") {
        Err(QueryError::Ambiguous { candidates, .. }) => assert_eq!(candidates.len(), 2),
        other => panic!("two Alex Smiths are ambiguous, got {other:?}"),
    }
    assert_eq!(
        resolve::user(&state, "zoë ångström").unwrap().as_str(),
        org.users[1].account_id
    );
    assert_eq!(
        resolve::target(&state, "DÉVELOPPEURS").unwrap(),
        resolve::Resolved::Target(Target::Group {
            group: GroupId::new(devs.clone())
        })
    );
    // Zoë reaches the first product through développeurs, with that path.
    let zoe = AccountId::new(org.users[1].account_id.clone());
    let product = ProductKey::new(org.application_roles[0].key.clone());
    assert!(user_access(&state, &zoe).contains(&Reach {
        target: Target::Product { product },
        via: Some(GroupId::new(devs)),
    }));

    // A follower started on an empty projection reaches the same state.
    let mut f = Follower::new(log.clone(), Site::new(SITE));
    f.catch_up().unwrap();
    assert_eq!(f.projection().state, state);
}
