//! The client against the simulator, over real HTTP on 127.0.0.1: paging
//! across page boundaries for each shape, rate limits and faults, error
//! messages, and writes that stay single after a dropped connection.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use grantledger_jira::types::AuditQuery;
use grantledger_jira::{
    ApiToken, JiraClient, JiraConfig, JiraError, RetryPolicy, TokenKind, WriteOutcome,
};
use grantledger_jira_sim::{
    Credential, Faults, Org, Preset, SimGroup, SimProject, SimRole, SimServer, SimUser,
};
use grantledger_model::{AccountId, GroupId, Principal, ProjectId, RoleId};

const EMAIL: &str = Credential::DEFAULT_EMAIL;
const TOKEN: &str = Credential::DEFAULT_TOKEN;

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        max_total_wait: Duration::from_secs(20),
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    }
}

fn client_for(server: &SimServer, email: &str, token: &str) -> JiraClient {
    let mut cfg =
        JiraConfig::for_base_url(&server.base_url(), email, ApiToken::new(token)).unwrap();
    cfg.retry = fast_retry();
    cfg.timeout = Duration::from_secs(10);
    JiraClient::new(cfg).unwrap()
}

async fn start(org: Org, faults: Faults) -> (SimServer, JiraClient) {
    let admin = Credential::admin_of(&org);
    let server = SimServer::start(org, vec![admin], faults).await.unwrap();
    let client = client_for(&server, EMAIL, TOKEN);
    (server, client)
}

fn small() -> Org {
    Org::generate(Preset::Small, 7)
}

/// A small org grown past every page size: > 2,000 users (some app/customer,
/// inactive, email hidden), 120 more groups, one group of 130 members (a third
/// inactive), 230 more projects (every fifth archived).
fn big() -> Org {
    let mut org = small();
    for i in 0..2100 {
        let kind = match i % 10 {
            0 => "app",
            1 => "customer",
            _ => "atlassian",
        };
        let hidden = i % 4 == 0;
        org.users.push(SimUser {
            account_id: format!("557058:test-{i:05}"),
            account_type: kind.into(),
            display_name: format!("Test User {i}"),
            email: Some(format!("test{i}@example.test")),
            email_hidden: hidden,
            active: i % 7 != 0,
        });
    }
    for i in 0..120 {
        org.groups.push(SimGroup {
            group_id: format!("00000000-0000-4000-8000-{i:012}"),
            name: format!("test-group-{i:03}"),
        });
    }
    let big_group = "00000000-0000-4000-8000-000000000000".to_owned();
    let members: BTreeSet<String> = (0..130)
        .map(|i| format!("557058:test-{:05}", i * 3))
        .collect();
    org.memberships.insert(big_group, members);
    for i in 0..230 {
        org.projects.push(SimProject {
            id: format!("{}", 90000 + i),
            key: format!("TP{i}"),
            name: format!("Test project {i}"),
            project_type: "software".into(),
            archived: i % 5 == 0,
            roles: vec![SimRole {
                id: 10002,
                name: "Administrators".into(),
                user_actors: BTreeSet::new(),
                group_actors: BTreeSet::new(),
            }],
        });
    }
    org
}

fn ops(server: &SimServer, op: &str) -> u64 {
    server
        .stats()
        .by_operation
        .get(op)
        .copied()
        .unwrap_or_default()
}

#[tokio::test]
async fn paging_crosses_page_boundaries_for_every_shape() {
    let org = big();
    let (server, client) = start(org.clone(), Faults::default()).await;

    // Bare array: pages of 1,000, then the empty page that ends it.
    let users = client.users().await.unwrap();
    assert_eq!(users.len(), org.users.len());
    let want: BTreeSet<&str> = org.users.iter().map(|u| u.account_id.as_str()).collect();
    let got: BTreeSet<&str> = users.iter().map(|u| u.account_id.as_str()).collect();
    assert_eq!(got, want);
    // Bare arrays end on an empty page: one request more than the pages of data.
    let pages = org.users.len().div_ceil(1000) as u64 + 1;
    assert_eq!(pages, 4);
    assert_eq!(ops(&server, "GET /rest/api/3/users/search"), pages);
    for u in &users {
        let sim = org.user(&u.account_id).unwrap();
        assert_eq!(u.account_type.as_deref(), Some(sim.account_type.as_str()));
        assert_eq!(u.is_active(), sim.active);
        if sim.email_hidden {
            assert_eq!(u.email_address, None, "{}", u.account_id);
        } else {
            assert_eq!(u.email_address, sim.email, "{}", u.account_id);
        }
    }
    assert!(users
        .iter()
        .any(|u| u.account_type.as_deref() == Some("app")));
    assert!(users
        .iter()
        .any(|u| u.account_type.as_deref() == Some("customer")));

    // PageBean: groups in pages of 50, stopped by isLast (no extra request).
    let groups = client.groups().await.unwrap();
    assert_eq!(groups.len(), org.groups.len());
    assert_eq!(
        ops(&server, "GET /rest/api/3/group/bulk"),
        org.groups.len().div_ceil(50) as u64
    );
    for g in &groups {
        g.to_record().unwrap();
    }

    // Group members: pages of 50, inactive members included.
    let members = client
        .group_members("00000000-0000-4000-8000-000000000000")
        .await
        .unwrap();
    let want = &org.memberships["00000000-0000-4000-8000-000000000000"];
    let got: BTreeSet<String> = members.iter().map(|u| u.account_id.clone()).collect();
    assert_eq!(&got, want);
    assert!(members.iter().any(|u| !u.is_active()));
    assert_eq!(ops(&server, "GET /rest/api/3/group/member"), 3);

    // Projects: pages of 100, archived included.
    let projects = client.projects().await.unwrap();
    assert_eq!(projects.len(), org.projects.len());
    let archived = projects.iter().filter(|p| p.to_record().archived).count();
    assert_eq!(archived, org.projects.iter().filter(|p| p.archived).count());
    assert!(archived > 0);

    // Map: a project's roles, then each role's actors.
    let p = org
        .projects
        .iter()
        .find(|p| p.roles.iter().any(|r| !r.group_actors.is_empty()))
        .expect("the generated org has group actors");
    let roles = client.project_roles(&p.key).await.unwrap();
    assert_eq!(roles.len(), p.roles.len());
    for r in &roles {
        let sim = p
            .roles
            .iter()
            .find(|s| s.id.to_string() == r.id.as_str())
            .unwrap();
        assert_eq!(r.name, sim.name);
        let role = client.role(&p.key, r.id.as_str()).await.unwrap();
        let users: BTreeSet<String> = role
            .actors
            .iter()
            .filter_map(|a| a.account_id().map(str::to_owned))
            .collect();
        assert_eq!(users, sim.user_actors);
        let groups: BTreeSet<String> = role
            .actors
            .iter()
            .filter_map(|a| a.actor_group.as_ref()?.group_id.clone())
            .collect();
        assert_eq!(groups, sim.group_actors);
    }

    let apps = client.application_roles().await.unwrap();
    assert_eq!(apps.len(), org.application_roles.len());

    // The client's counters agree with the simulator's.
    let m = client.metrics();
    let stats = server.stats();
    assert_eq!(m.requests, stats.total);
    for (op, n) in &m.by_operation {
        assert_eq!(stats.by_operation.get(*op), Some(n), "{op}");
    }
    assert_eq!(m.retries, 0);
    assert!(m.bytes_received > 100_000);
    server.shutdown().await;
}

#[tokio::test]
async fn page_at_a_time_access() {
    let org = big();
    let (server, client) = start(org.clone(), Faults::default()).await;
    let mut pager = client.projects_pages();
    let mut sizes = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        sizes.push(page.len());
    }
    assert!(pager.is_done());
    assert_eq!(sizes.iter().sum::<usize>(), org.projects.len());
    assert!(sizes.iter().all(|s| *s <= 100));
    assert!(sizes.len() >= 3);
    assert!(pager.next_page().await.unwrap().is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn retry_after_is_honoured_and_nothing_is_sent_before() {
    // Every 2nd request answers 429 with Retry-After: 1.
    let faults = Faults {
        rate_limit_every: Some(2),
        retry_after_secs: 1,
        ..Faults::default()
    };
    let (server, client) = start(small(), faults).await;
    client.myself().await.unwrap(); // request 1
    let t0 = Instant::now();
    let task = {
        let client = client.clone();
        tokio::spawn(async move { client.myself().await }) // 2 → 429, then 3
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        server.stats().total,
        2,
        "a request was sent during the wait"
    );
    task.await.unwrap().unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(server.stats().total, 3);
    let m = client.metrics();
    assert_eq!((m.requests, m.retries, m.rate_limited), (3, 1, 1));
    assert!(m.wait_ms >= 900, "{m:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn after_a_429_every_caller_pauses() {
    let (server, client) = start(small(), Faults::default()).await;
    server.set_faults(Faults {
        rate_limit_every: Some(1),
        retry_after_secs: 1,
        ..Faults::default()
    });
    let t0 = Instant::now();
    let first = {
        let c = client.clone();
        tokio::spawn(async move { c.myself().await })
    };
    while server.stats().total < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.set_faults(Faults::default());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let others: Vec<_> = (0..3)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.myself().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.stats().total, 1, "callers did not pause");
    first.await.unwrap().unwrap();
    for o in others {
        o.await.unwrap().unwrap();
    }
    assert!(t0.elapsed() >= Duration::from_secs(1));
    assert_eq!(server.stats().total, 5);
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limited_past_the_budget_is_a_clear_error() {
    let faults = Faults {
        rate_limit_every: Some(1),
        retry_after_secs: 1,
        ..Faults::default()
    };
    let (server, _) = start(small(), faults).await;
    let mut cfg =
        JiraConfig::for_base_url(&server.base_url(), EMAIL, ApiToken::new(TOKEN)).unwrap();
    cfg.retry = RetryPolicy {
        max_attempts: 2,
        ..fast_retry()
    };
    let client = JiraClient::new(cfg).unwrap();
    let e = client.users().await.unwrap_err();
    assert!(
        matches!(e, JiraError::RateLimited { attempts: 2, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("GET /rest/api/3/users/search"));
    assert_eq!(server.stats().total, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn service_unavailable_is_retried_with_backoff() {
    let org = big();
    let faults = Faults {
        server_error_every: Some(3),
        retry_after_secs: 0,
        ..Faults::default()
    };
    let (server, client) = start(org.clone(), faults).await;
    let groups = client.groups().await.unwrap();
    assert_eq!(groups.len(), org.groups.len());
    let m = client.metrics();
    assert!(m.retries >= 1, "{m:?}");
    assert_eq!(m.requests, server.stats().total);
    assert_eq!(
        server.stats().faults_by_kind.get("server_error").copied(),
        Some(m.retries)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_json_names_the_endpoint() {
    let faults = Faults {
        malformed_every: Some(1),
        ..Faults::default()
    };
    let (server, client) = start(small(), faults).await;
    let e = client.users().await.unwrap_err();
    match &e {
        JiraError::Decode {
            endpoint, excerpt, ..
        } => {
            assert_eq!(*endpoint, "GET /rest/api/3/users/search");
            assert!(!excerpt.is_empty() && excerpt.chars().count() <= 201);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(e.to_string().contains("cannot decode"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_that_repeats_pages_is_stopped() {
    let faults = Faults {
        repeat_page: true,
        ..Faults::default()
    };
    let (server, client) = start(big(), faults).await;
    for e in [
        client.groups().await.unwrap_err(),
        client.users().await.unwrap_err(),
        client.projects().await.unwrap_err(),
    ] {
        assert!(matches!(e, JiraError::Pagination { .. }), "{e:?}");
        assert!(e.to_string().contains("paging does not advance"), "{e}");
    }
    // Two pages each at most: the repeat is caught on the second.
    assert!(server.stats().total <= 6, "{:?}", server.stats());
    server.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_and_missing_rights_say_what_to_do() {
    let org = small();
    let admin = Credential::admin_of(&org);
    let plain = org.plain_user().unwrap().account_id.clone();
    let user = Credential::new("user@example.test", "user-token", plain.clone());
    let server = SimServer::start(org.clone(), vec![admin, user], Faults::default())
        .await
        .unwrap();

    let wrong = client_for(&server, EMAIL, "not-the-token-XYZ");
    let e = wrong.myself().await.unwrap_err();
    assert!(e.is_unauthorized());
    assert!(
        e.to_string().contains("check the email and API token"),
        "{e}"
    );
    assert!(!e.to_string().contains("XYZ"));
    assert!(!format!("{e:?}").contains("XYZ"));

    let client = client_for(&server, "user@example.test", "user-token");
    assert_eq!(client.myself().await.unwrap().account_id, plain);
    let g = &org.groups[0].group_id;
    let e = client
        .add_group_member(&GroupId::new(g.as_str()), &AccountId::new(plain.as_str()))
        .await
        .unwrap_err();
    assert!(matches!(e, JiraError::Forbidden { .. }), "{e:?}");
    assert!(e.to_string().contains("site-admin"), "{e}");
    assert!(e.to_string().contains(g.as_str()), "{e}");
    let e = client.application_roles().await.unwrap_err();
    assert!(e.to_string().contains("Administer Jira"), "{e}");
    // Not found names the resource.
    let admin = client_for(&server, EMAIL, TOKEN);
    let e = admin.project_roles("NOPE").await.unwrap_err();
    assert!(matches!(e, JiraError::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("project 'NOPE'"), "{e}");
    server.shutdown().await;
}

#[tokio::test]
async fn writes_apply_once_and_repeat_as_no_ops() {
    let org = small();
    let (server, client) = start(org.clone(), Faults::default()).await;
    let group = org.groups.iter().find(|g| g.name != "site-admins").unwrap();
    let account = org
        .outsider(&group.group_id, &[])
        .unwrap()
        .account_id
        .clone();

    let gid = GroupId::new(group.group_id.as_str());
    let aid = AccountId::new(account.as_str());
    let add = |c: &JiraClient| {
        let (c, g, a) = (c.clone(), gid.clone(), aid.clone());
        async move { c.add_group_member(&g, &a).await }
    };
    assert_eq!(add(&client).await.unwrap(), WriteOutcome::Applied);
    assert_eq!(add(&client).await.unwrap(), WriteOutcome::AlreadyInEffect);
    assert!(server.org().memberships[&group.group_id].contains(&account));
    assert!(client.is_group_member(&gid, &aid).await.unwrap());
    assert_eq!(
        client.remove_group_member(&gid, &aid).await.unwrap(),
        WriteOutcome::Applied
    );
    let listings = ops(&server, "GET /rest/api/3/group/member");
    assert_eq!(
        client.remove_group_member(&gid, &aid).await.unwrap(),
        WriteOutcome::AlreadyInEffect
    );
    assert_eq!(
        ops(&server, "GET /rest/api/3/group/member"),
        listings + 1,
        "Jira's refusal is checked against the state (one listing), not read for its wording"
    );
    assert!(!server.org().memberships[&group.group_id].contains(&account));

    // Role actors: a user and a group.
    let p = &org.projects[0];
    let role = &p.roles[0];
    let rid = role.id.to_string();
    let (pid, role_id) = (ProjectId::new(p.id.as_str()), RoleId::new(rid.as_str()));
    let user = Principal::User(aid.clone());
    let posts_before = ops(
        &server,
        "POST /rest/api/3/project/{projectIdOrKey}/role/{id}",
    );
    assert_eq!(
        client.add_role_actor(&pid, &role_id, &user).await.unwrap(),
        WriteOutcome::Applied
    );
    assert_eq!(
        client.add_role_actor(&pid, &role_id, &user).await.unwrap(),
        WriteOutcome::AlreadyInEffect
    );
    assert_eq!(
        ops(
            &server,
            "POST /rest/api/3/project/{projectIdOrKey}/role/{id}"
        ),
        posts_before + 1,
        "the second add read the role and wrote nothing"
    );
    let grp = Principal::Group(gid.clone());
    if !role.group_actors.contains(&group.group_id) {
        assert_eq!(
            client.add_role_actor(&pid, &role_id, &grp).await.unwrap(),
            WriteOutcome::Applied
        );
    }
    let after = client.role(&p.key, &rid).await.unwrap();
    assert!(after.has_user(&account) && after.has_group(&group.group_id, None));
    for actor in [&user, &grp] {
        assert_eq!(
            client
                .remove_role_actor(&pid, &role_id, actor)
                .await
                .unwrap(),
            WriteOutcome::Applied
        );
        assert_eq!(
            client
                .remove_role_actor(&pid, &role_id, actor)
                .await
                .unwrap(),
            WriteOutcome::AlreadyInEffect
        );
    }
    let after = client.role(&p.key, &rid).await.unwrap();
    assert!(!after.has_user(&account) && !after.has_group(&group.group_id, None));

    // The audit log saw each group write once.
    let records = client
        .audit_records(&AuditQuery {
            filter: Some(group.name.clone()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let about = |summary: &str| {
        records
            .iter()
            .filter(|r| {
                r.summary.as_deref() == Some(summary)
                    && r.associated_items
                        .iter()
                        .any(|i| i.id.as_deref() == Some(account.as_str()))
            })
            .count()
    };
    let (added, removed) = (
        about("User added to group"),
        about("User removed from group"),
    );
    assert_eq!((added, removed), (1, 1), "{records:#?}");
    server.shutdown().await;
}

#[tokio::test]
async fn writes_after_a_dropped_connection_are_not_doubled() {
    let org = small();
    let group = org.groups.iter().find(|g| g.name != "site-admins").unwrap();
    let account = org
        .outsider(&group.group_id, &[])
        .unwrap()
        .account_id
        .clone();
    let (server, client) = start(org.clone(), Faults::default()).await;
    // Request 1 is this read; request 2 (the POST) is carried out and dropped.
    client.myself().await.unwrap();
    server.set_faults(Faults {
        drop_every: Some(2),
        ..Faults::default()
    });
    let out = client
        .add_group_member(
            &GroupId::new(group.group_id.as_str()),
            &AccountId::new(account.as_str()),
        )
        .await
        .unwrap();
    assert_eq!(out, WriteOutcome::ConfirmedAfterRetry);
    assert_eq!(ops(&server, "POST /rest/api/3/group/user"), 1);
    assert_eq!(server.stats().faults_injected, 1);
    assert!(server.org().memberships[&group.group_id].contains(&account));
    let audit_adds = server
        .org()
        .audit
        .iter()
        .filter(|r| {
            r.summary == "User added to group" && r.associated_items.iter().any(|i| i.id == account)
        })
        .count();
    assert_eq!(audit_adds, 1);

    // A dropped role-actor add: the role is re-read, the POST is not repeated.
    server.set_faults(Faults::default());
    server.reset_stats();
    let p = &org.projects[0];
    let rid = p.roles[0].id.to_string();
    // Every request so far came from this client; the simulator numbers them
    // from 1. The pre-read is the next one, the POST the one after.
    let post_seq = client.metrics().requests + 2;
    server.set_faults(Faults {
        drop_every: Some(post_seq),
        ..Faults::default()
    });
    let out = client
        .add_role_actor(
            &ProjectId::new(p.id.as_str()),
            &RoleId::new(rid.as_str()),
            &Principal::User(AccountId::new(account.as_str())),
        )
        .await
        .unwrap();
    server.set_faults(Faults::default());
    assert_eq!(out, WriteOutcome::ConfirmedAfterRetry);
    assert_eq!(
        ops(
            &server,
            "POST /rest/api/3/project/{projectIdOrKey}/role/{id}"
        ),
        1
    );
    let sim_role = server.org().projects[0].roles[0].clone();
    assert!(sim_role.user_actors.contains(&account));
    server.shutdown().await;
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let faults = Faults {
        slow_every: Some(1),
        slow_by: Duration::from_secs(2),
        ..Faults::default()
    };
    let (server, _) = start(small(), faults).await;
    let mut cfg =
        JiraConfig::for_base_url(&server.base_url(), EMAIL, ApiToken::new(TOKEN)).unwrap();
    cfg.timeout = Duration::from_millis(200);
    cfg.retry = RetryPolicy {
        max_attempts: 2,
        ..fast_retry()
    };
    let client = JiraClient::new(cfg).unwrap();
    let e = client.myself().await.unwrap_err();
    assert!(
        matches!(e, JiraError::Transport { attempts: 2, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("timed out"), "{e}");
    server.shutdown().await;
}

#[tokio::test]
async fn scoped_tokens_resolve_the_cloud_id() {
    let org = small();
    let (server, _) = start(org.clone(), Faults::default()).await;
    let mut cfg =
        JiraConfig::for_base_url(&server.base_url(), EMAIL, ApiToken::new(TOKEN)).unwrap();
    cfg.token_kind = TokenKind::Scoped;
    cfg.gateway_url = Some(url::Url::parse("https://gateway.example.test").unwrap());
    let client = JiraClient::connect(cfg).await.unwrap();
    assert_eq!(
        client.api_base().as_str(),
        format!("https://gateway.example.test/ex/jira/{}", org.cloud_id)
    );
    assert_eq!(ops(&server, "GET /_edge/tenant_info"), 1);
    assert_eq!(
        client.metrics().by_operation.get("GET /_edge/tenant_info"),
        Some(&1)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn concurrency_is_bounded() {
    // 150 ms per request, 2 in flight: 6 requests need at least 3 rounds.
    let faults = Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    };
    let (server, _) = start(small(), faults).await;
    let mut cfg =
        JiraConfig::for_base_url(&server.base_url(), EMAIL, ApiToken::new(TOKEN)).unwrap();
    cfg.concurrency = 2;
    let client = JiraClient::new(cfg).unwrap();
    let t0 = Instant::now();
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.myself().await })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(450),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(server.stats().total, 6);
    server.shutdown().await;
}

/// A site whose host name does not resolve is one clear error at once, told by
/// the resolver's typed error (no request leaves the machine: `.invalid` never
/// resolves).
#[tokio::test]
async fn a_host_that_does_not_resolve_is_one_error_without_retries() {
    let cfg = JiraConfig::for_base_url(
        "https://grantledger-test.invalid",
        EMAIL,
        ApiToken::new(TOKEN),
    )
    .unwrap();
    let client = JiraClient::new(cfg).unwrap();
    let t = Instant::now();
    let e = client.myself().await.unwrap_err();
    assert!(
        matches!(&e, JiraError::UnknownHost { host, .. } if host == "grantledger-test.invalid"),
        "{e:?}"
    );
    assert_eq!(client.metrics().retries, 0, "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "{e}");
}

/// The membership check behind the reconciling writes and the executor reads
/// the account's groups (one request) whatever the group's size, reads one
/// page of the group only to tell "not a member" from "no such group", and
/// keeps a missing group an error.
#[tokio::test]
async fn membership_checks_do_not_page_through_big_groups() {
    let org = Org::generate(Preset::Medium, 7);
    let (server, client) = start(org.clone(), Faults::default()).await;
    let (size, group) = org
        .groups
        .iter()
        .map(|g| (org.memberships.get(&g.group_id).map_or(0, |m| m.len()), g))
        .max_by_key(|(size, _)| *size)
        .unwrap();
    assert!(
        size > 150,
        "the biggest group has {size} members: too few pages"
    );
    let gid = GroupId::new(group.group_id.as_str());
    let last = org.memberships[&group.group_id].iter().last().unwrap();
    let total = |s: &SimServer| s.stats().total;

    let before = total(&server);
    assert!(client
        .is_group_member(&gid, &AccountId::new(last.as_str()))
        .await
        .unwrap());
    assert_eq!(total(&server) - before, 1, "one request for a member");
    assert_eq!(ops(&server, "GET /rest/api/3/user/groups"), 1);
    assert_eq!(ops(&server, "GET /rest/api/3/group/member"), 0);

    let outsider = org
        .outsider(&group.group_id, &[])
        .unwrap()
        .account_id
        .clone();
    let before = total(&server);
    assert!(!client
        .is_group_member(&gid, &AccountId::new(outsider.as_str()))
        .await
        .unwrap());
    assert_eq!(
        total(&server) - before,
        2,
        "the account's groups, then one page of the group (it exists)"
    );

    // An account Jira does not know is a member of nothing.
    assert!(!client
        .is_group_member(&gid, &AccountId::new("nobody"))
        .await
        .unwrap());
    // A group that does not exist stays an error naming it.
    let e = client
        .is_group_member(
            &GroupId::new("no-such-group"),
            &AccountId::new(last.as_str()),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, JiraError::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("no-such-group"), "{e}");
    server.shutdown().await;
}
