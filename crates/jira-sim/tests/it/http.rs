//! The simulator over real HTTP on loopback: paging, auth, permissions,
//! writes, audit, stats.

use crate::common;

use std::collections::BTreeSet;

use common::{start, start_org, Sim};
use grantledger_jira_sim::{Credential, Org, Preset};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Follows `nextPage` from `path` until `isLast`; returns every value and the pages seen.
async fn follow(sim: &Sim, path: &str) -> (Vec<Value>, Vec<Value>) {
    let mut url = sim.url(path);
    let mut values = Vec::new();
    let mut pages = Vec::new();
    for _ in 0..10_000 {
        let r = sim
            .http
            .get(&url)
            .basic_auth(&sim.admin.email, Some(&sim.admin.token))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK);
        let page: Value = r.json().await.expect("json");
        values.extend(page["values"].as_array().expect("values").iter().cloned());
        pages.push(page.clone());
        if page["isLast"] == json!(true) {
            assert!(
                page.get("nextPage").is_none(),
                "last page has no nextPage: {page}"
            );
            return (values, pages);
        }
        url = page["nextPage"]
            .as_str()
            .expect("nextPage on a page that is not last")
            .to_owned();
    }
    panic!("paging did not end");
}

fn ids(values: &[Value], field: &str) -> Vec<String> {
    values
        .iter()
        .map(|v| v[field].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn users_search_is_a_bare_array_capped_at_1000_ending_with_an_empty_page() {
    let sim = start(Preset::Medium).await;
    let org = sim.server.org();
    let first = sim.get_ok("/rest/api/3/users/search").await;
    assert_eq!(
        first.as_array().map(Vec::len),
        Some(50),
        "default page size"
    );
    let big = sim
        .get_ok("/rest/api/3/users/search?startAt=0&maxResults=5000")
        .await;
    assert_eq!(big.as_array().map(Vec::len), Some(1000), "clamped to 1000");

    let mut all = Vec::new();
    let mut start_at = 0;
    loop {
        let page = sim
            .get_ok(&format!(
                "/rest/api/3/users/search?startAt={start_at}&maxResults=1000"
            ))
            .await;
        let page = page.as_array().expect("bare array").clone();
        if page.is_empty() {
            break;
        }
        start_at += page.len();
        all.extend(page);
    }
    assert_eq!(
        ids(&all, "accountId"),
        org.users
            .iter()
            .map(|u| u.account_id.clone())
            .collect::<Vec<_>>()
    );
    let past = sim
        .get_ok("/rest/api/3/users/search?startAt=2500&maxResults=10")
        .await;
    assert_eq!(past, json!([]));

    for (u, v) in org.users.iter().zip(&all) {
        assert_eq!(v["accountType"], json!(u.account_type));
        assert_eq!(v["active"], json!(u.active));
        match (&u.email, u.email_hidden) {
            (Some(e), false) => assert_eq!(v["emailAddress"], json!(e)),
            _ => assert!(
                v.get("emailAddress").is_none(),
                "email must be absent, not null: {v}"
            ),
        }
    }
    assert!(
        all.iter().any(|v| v["accountType"] == "app")
            && all.iter().any(|v| v["accountType"] == "customer")
    );
    assert!(all.iter().any(|v| v["active"] == false));
}

#[tokio::test]
async fn group_bulk_is_a_page_bean_of_at_most_50() {
    let sim = start(Preset::Medium).await;
    let org = sim.server.org();
    let page = sim.get_ok("/rest/api/3/group/bulk?maxResults=500").await;
    assert_eq!(page["maxResults"], json!(50), "clamped value echoed");
    assert_eq!(page["values"].as_array().map(Vec::len), Some(50));
    assert_eq!(page["total"], json!(200));
    assert_eq!(page["isLast"], json!(false));

    let (values, pages) = follow(&sim, "/rest/api/3/group/bulk?maxResults=30").await;
    assert_eq!(pages.len(), 7, "200 groups in pages of 30");
    assert_eq!(
        ids(&values, "groupId"),
        org.groups
            .iter()
            .map(|g| g.group_id.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(pages[6]["startAt"], json!(180));

    let past = sim.get_ok("/rest/api/3/group/bulk?startAt=400").await;
    assert_eq!(past["values"], json!([]));
    assert_eq!(past["isLast"], json!(true));

    let one = sim
        .get_ok("/rest/api/3/group/bulk?groupName=site-admins&groupName=jira-administrators")
        .await;
    assert_eq!(one["total"], json!(2));
}

#[tokio::test]
async fn group_member_defaults_to_active_members_and_pages_by_50() {
    let sim = start(Preset::Medium).await;
    let org = sim.server.org();
    let jsu = org
        .group_by_name("jira-software-users")
        .expect("jsu")
        .clone();
    let all = org.memberships[&jsu.group_id].clone();
    let active: BTreeSet<String> = all
        .iter()
        .filter(|a| org.user(a).is_some_and(|u| u.active))
        .cloned()
        .collect();
    assert!(
        active.len() < all.len(),
        "the group must have inactive members for this test"
    );

    let (values, pages) = follow(
        &sim,
        &format!("/rest/api/3/group/member?groupId={}", jsu.group_id),
    )
    .await;
    assert_eq!(
        ids(&values, "accountId")
            .into_iter()
            .collect::<BTreeSet<_>>(),
        active
    );
    assert_eq!(pages[0]["maxResults"], json!(50));
    assert_eq!(pages.len(), active.len().div_ceil(50));

    let (values, _) = follow(
        &sim,
        &format!(
            "/rest/api/3/group/member?groupId={}&includeInactiveUsers=true&maxResults=1000",
            jsu.group_id
        ),
    )
    .await;
    let got: Vec<String> = ids(&values, "accountId");
    assert_eq!(got.len(), all.len(), "no duplicates, none missed");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), all);

    let p = sim
        .get_ok("/rest/api/3/group/member?groupname=jira-software-users&maxResults=0")
        .await;
    assert_eq!(p["maxResults"], json!(1));
    let p = sim
        .get_ok(&format!(
            "/rest/api/3/group/member?groupId={}&maxResults=77",
            jsu.group_id
        ))
        .await;
    assert_eq!(p["maxResults"], json!(50));
    let hidden = values.iter().find(|v| {
        org.user(v["accountId"].as_str().unwrap_or(""))
            .is_some_and(|u| u.email_hidden)
    });
    assert!(
        hidden.is_some_and(|v| v.get("emailAddress").is_none()),
        "hidden email omitted in members too"
    );

    let both = sim
        .get(&format!(
            "/rest/api/3/group/member?groupId={}&groupname=x",
            jsu.group_id
        ))
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert!(both.json()["errorMessages"][0].is_string());
    let neither = sim.get("/rest/api/3/group/member").await;
    assert_eq!(neither.status, StatusCode::BAD_REQUEST);
    let unknown = sim
        .get("/rest/api/3/group/member?groupId=00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["errors"], json!({}));
    let bad = sim
        .get(&format!(
            "/rest/api/3/group/member?groupId={}&includeInactiveUsers=maybe",
            jsu.group_id
        ))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn project_search_lists_live_projects_unless_archived_are_asked_for() {
    let sim = start(Preset::Medium).await;
    let org = sim.server.org();
    let live = org.projects.iter().filter(|p| !p.archived).count();
    let archived = org.projects.len() - live;
    assert!(archived > 0);

    let (values, pages) = follow(&sim, "/rest/api/3/project/search?maxResults=1000").await;
    assert_eq!(pages[0]["maxResults"], json!(100));
    assert_eq!(values.len(), live);
    let keys = ids(&values, "key");
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "ordered by key");
    assert!(values.iter().all(|v| v.get("archived").is_none()));

    let (values, _) = follow(&sim, "/rest/api/3/project/search?status=archived").await;
    assert_eq!(values.len(), archived);
    assert!(values.iter().all(|v| v["archived"] == json!(true)));
    let (values, pages) = follow(
        &sim,
        "/rest/api/3/project/search?status=live&status=archived&maxResults=40",
    )
    .await;
    assert_eq!(values.len(), org.projects.len());
    assert!(pages[0]["nextPage"]
        .as_str()
        .is_some_and(|n| n.contains("status=live") && n.contains("status=archived")));
    assert_eq!(
        sim.get("/rest/api/3/project/search?status=gone")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn project_roles_are_a_map_of_urls_and_roles_list_user_and_group_actors() {
    let sim = start(Preset::Small).await;
    let org = sim.server.org();
    let project = &org.projects[0];
    let map = sim
        .get_ok(&format!("/rest/api/3/project/{}/role", project.key))
        .await;
    let map = map.as_object().expect("a map");
    assert_eq!(map.len(), project.roles.len());
    for role in &project.roles {
        let url = map[&role.name].as_str().expect("url");
        assert_eq!(
            url,
            format!(
                "{}/rest/api/3/project/{}/role/{}",
                sim.server.base_url(),
                project.id,
                role.id
            )
        );
        let path = url.trim_start_matches(&sim.server.base_url());
        let body = sim.get_ok(path).await;
        assert_eq!(body["id"], json!(role.id));
        assert_eq!(body["name"], json!(role.name));
        let actors = body["actors"].as_array().expect("actors");
        let users: BTreeSet<String> = actors
            .iter()
            .filter(|a| a["type"] == "atlassian-user-role-actor")
            .map(|a| {
                a["actorUser"]["accountId"]
                    .as_str()
                    .expect("accountId")
                    .to_owned()
            })
            .collect();
        let groups: BTreeSet<String> = actors
            .iter()
            .filter(|a| a["type"] == "atlassian-group-role-actor")
            .map(|a| {
                let g = &a["actorGroup"];
                assert!(g["name"].is_string() && g["displayName"].is_string());
                g["groupId"].as_str().expect("groupId").to_owned()
            })
            .collect();
        assert_eq!(users, role.user_actors);
        assert_eq!(groups, role.group_actors);
    }
    // The same role by project id.
    let by_id = sim
        .get_ok(&format!(
            "/rest/api/3/project/{}/role/{}",
            project.id, project.roles[0].id
        ))
        .await;
    assert_eq!(by_id["id"], json!(project.roles[0].id));
    let missing = sim
        .get(&format!("/rest/api/3/project/{}/role/1", project.key))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        sim.get("/rest/api/3/project/NOPE/role").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn large_role_with_over_a_thousand_user_actors_is_served_whole() {
    let sim = start(Preset::Large).await;
    let org = sim.server.org();
    let (p, r) = org
        .projects
        .iter()
        .flat_map(|p| p.roles.iter().map(move |r| (p, r)))
        .max_by_key(|(_, r)| r.user_actors.len())
        .expect("a role");
    let body = sim
        .get_ok(&format!("/rest/api/3/project/{}/role/{}", p.key, r.id))
        .await;
    let users = body["actors"]
        .as_array()
        .expect("actors")
        .iter()
        .filter(|a| a["type"] == "atlassian-user-role-actor")
        .count();
    assert!(users > 1_000);
    assert_eq!(users, r.user_actors.len());
}

#[tokio::test]
async fn basic_auth_is_checked() {
    let sim = start(Preset::Small).await;
    let none = sim
        .send_as(None, Method::GET, "/rest/api/3/myself", None)
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.text.is_empty(), "body-less 401");
    let bad = Credential::new(
        sim.admin.email.clone(),
        "wrong",
        sim.admin.account_id.clone(),
    );
    let wrong = sim
        .send_as(Some(&bad), Method::GET, "/rest/api/3/users/search", None)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let audit = sim
        .send_as(None, Method::GET, "/rest/api/3/auditing/record", None)
        .await;
    assert_eq!(audit.status, StatusCode::UNAUTHORIZED);
    assert!(
        audit.json()["errorMessages"][0].is_string(),
        "audit 401 is an ErrorCollection"
    );

    let me = sim.get("/rest/api/3/myself").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.headers.get("x-aaccountid").and_then(|v| v.to_str().ok()),
        Some(sim.admin.account_id.as_str())
    );
    assert_eq!(me.json()["accountId"], json!(sim.admin.account_id));

    let tenant = sim
        .send_as(None, Method::GET, "/_edge/tenant_info", None)
        .await;
    assert_eq!(tenant.json()["cloudId"], json!(sim.server.org().cloud_id));
}

#[tokio::test]
async fn inactive_accounts_cannot_log_in() {
    let org = Org::generate(Preset::Small, common::SEED);
    let inactive = org
        .users
        .iter()
        .find(|u| !u.active && u.account_type == "atlassian")
        .expect("inactive")
        .account_id
        .clone();
    let cred = Credential::new("gone@example.test", "t", inactive);
    let sim = start_org(org, vec![cred.clone()]).await;
    let r = sim
        .send_as(Some(&cred), Method::GET, "/rest/api/3/myself", None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn group_writes_need_a_site_admin_change_the_org_and_are_audited() {
    let org = Org::generate(Preset::Small, common::SEED);
    let plain = Credential::new(
        "plain@example.test",
        "p",
        org.plain_user().unwrap().account_id.clone(),
    );
    let sim = start_org(org, vec![plain.clone()]).await;
    let org = sim.server.org();
    let group = org
        .groups
        .iter()
        .find(|g| {
            g.name.starts_with("team")
                || g.name.contains('-')
                    && !org.memberships[&g.group_id].is_empty()
                    && g.name != "site-admins"
        })
        .expect("group")
        .clone();
    let outsider = org
        .outsider(&group.group_id, &[])
        .unwrap()
        .account_id
        .clone();
    let add_path = format!("/rest/api/3/group/user?groupId={}", group.group_id);

    let denied = sim
        .send_as(
            Some(&plain),
            Method::POST,
            &add_path,
            Some(json!({ "accountId": outsider })),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(denied.json()["errorMessages"][0].is_string());

    let added = sim
        .send(
            Method::POST,
            &add_path,
            Some(json!({ "accountId": outsider })),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let body = added.json();
    assert_eq!(body["groupId"], json!(group.group_id));
    assert_eq!(body["name"], json!(group.name));
    assert!(sim.server.org().memberships[&group.group_id].contains(&outsider));

    let (values, _) = {
        let p = sim
            .get_ok(&format!(
                "/rest/api/3/group/member?groupId={}&includeInactiveUsers=true",
                group.group_id
            ))
            .await;
        (p["values"].as_array().cloned().unwrap_or_default(), ())
    };
    assert!(
        ids(&values, "accountId").contains(&outsider),
        "a later read sees the write"
    );

    let again = sim
        .send(
            Method::POST,
            &add_path,
            Some(json!({ "accountId": outsider })),
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.text.contains("already a member"));

    let unknown = sim
        .send(
            Method::POST,
            &add_path,
            Some(json!({ "accountId": "no-such-account" })),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.json()["errorMessages"][0],
        json!("Specified user does not exist or you do not have required permissions")
    );
    let no_body = sim.send(Method::POST, &add_path, Some(json!({}))).await;
    assert_eq!(no_body.status, StatusCode::BAD_REQUEST);

    let del_path = format!(
        "/rest/api/3/group/user?groupId={}&accountId={}",
        group.group_id, outsider
    );
    let denied = sim
        .send_as(Some(&plain), Method::DELETE, &del_path, None)
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let removed = sim.send(Method::DELETE, &del_path, None).await;
    assert_eq!(removed.status, StatusCode::OK);
    assert!(!sim.server.org().memberships[&group.group_id].contains(&outsider));
    let twice = sim.send(Method::DELETE, &del_path, None).await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);

    let audit = sim.get_ok("/rest/api/3/auditing/record?limit=2").await;
    let records = audit["records"].as_array().expect("records");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["summary"], json!("User removed from group"));
    assert_eq!(records[1]["summary"], json!("User added to group"));
    for r in records {
        assert_eq!(r["authorAccountId"], json!(sim.admin.account_id));
        assert_eq!(r["objectItem"]["name"], json!(group.name));
        assert_eq!(r["associatedItems"][0]["id"], json!(outsider));
    }
    // The group name in the query works too.
    let by_name = sim
        .send(
            Method::POST,
            &format!("/rest/api/3/group/user?groupname={}", group.name),
            Some(json!({ "accountId": outsider })),
        )
        .await;
    assert_eq!(by_name.status, StatusCode::CREATED);
}

#[tokio::test]
async fn role_actor_writes_answer_the_whole_role_or_204() {
    let org = Org::generate(Preset::Small, common::SEED);
    let plain = Credential::new(
        "plain@example.test",
        "p",
        org.plain_user().unwrap().account_id.clone(),
    );
    let sim = start_org(org, vec![plain.clone()]).await;
    let org = sim.server.org();
    let project = org.projects[1].clone();
    let role = project
        .roles
        .iter()
        .find(|r| r.name == "Member")
        .expect("member role")
        .clone();
    let newcomer = org
        .users
        .iter()
        .find(|u| {
            u.active && u.account_type == "atlassian" && !role.user_actors.contains(&u.account_id)
        })
        .expect("newcomer")
        .account_id
        .clone();
    let group = org
        .groups
        .iter()
        .find(|g| !role.group_actors.contains(&g.group_id))
        .expect("group")
        .clone();
    let path = format!("/rest/api/3/project/{}/role/{}", project.key, role.id);

    let denied = sim
        .send_as(
            Some(&plain),
            Method::POST,
            &path,
            Some(json!({ "user": [newcomer] })),
        )
        .await;
    assert_eq!(
        denied.status,
        StatusCode::NOT_FOUND,
        "non-admins do not see the project's roles"
    );

    let added = sim
        .send(Method::POST, &path, Some(json!({ "user": [newcomer] })))
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    let body = added.json();
    let actors = body["actors"].as_array().expect("actors");
    assert_eq!(
        actors.len(),
        role.user_actors.len() + role.group_actors.len() + 1,
        "the whole role"
    );
    assert!(actors
        .iter()
        .any(|a| a["actorUser"]["accountId"] == json!(newcomer)));

    let dup = sim
        .send(Method::POST, &path, Some(json!({ "user": [newcomer] })))
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    let unknown = sim
        .send(Method::POST, &path, Some(json!({ "user": ["nobody"] })))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let both = sim
        .send(
            Method::POST,
            &path,
            Some(json!({ "group": ["a"], "groupId": ["b"] })),
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);

    let g = sim
        .send(
            Method::POST,
            &path,
            Some(json!({ "groupId": [group.group_id] })),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK);
    let now = sim.server.org();
    let now_role = now.projects[1]
        .roles
        .iter()
        .find(|r| r.id == role.id)
        .expect("role");
    assert!(
        now_role.user_actors.contains(&newcomer) && now_role.group_actors.contains(&group.group_id)
    );

    let del = sim
        .send(Method::DELETE, &format!("{path}?user={newcomer}"), None)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert!(del.text.is_empty());
    let del = sim
        .send(
            Method::DELETE,
            &format!("{path}?groupId={}", group.group_id),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let again = sim
        .send(Method::DELETE, &format!("{path}?user={newcomer}"), None)
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    let read = sim.get_ok(&path).await;
    assert_eq!(
        read["actors"].as_array().map(Vec::len),
        Some(role.user_actors.len() + role.group_actors.len())
    );

    let audit = sim
        .get_ok("/rest/api/3/auditing/record?filter=project%20role")
        .await;
    assert_eq!(audit["total"], json!(4));
    assert!(audit["records"]
        .as_array()
        .expect("records")
        .iter()
        .all(|r| r["authorAccountId"] == json!(sim.admin.account_id)));
}

#[tokio::test]
async fn application_roles_and_audit_paging() {
    let sim = start(Preset::Small).await;
    let org = sim.server.org();
    let roles = sim.get_ok("/rest/api/3/applicationrole").await;
    let roles = roles.as_array().expect("bare array");
    let software = roles
        .iter()
        .find(|r| r["key"] == "jira-software")
        .expect("jira-software");
    assert!(software["groups"]
        .as_array()
        .expect("groups")
        .contains(&json!("jira-software-users")));
    let jsu = org.group_by_name("jira-software-users").expect("jsu");
    assert!(software["groupDetails"]
        .as_array()
        .expect("details")
        .iter()
        .any(|d| d["groupId"] == json!(jsu.group_id)));

    let total = org.audit.len();
    let first = sim
        .get_ok("/rest/api/3/auditing/record?offset=0&limit=5")
        .await;
    assert_eq!(first["total"], json!(total));
    assert_eq!(first["limit"], json!(5));
    let ids_desc: Vec<u64> = first["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["id"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        ids_desc,
        (total as u64 - 4..=total as u64).rev().collect::<Vec<_>>(),
        "newest first"
    );
    let end = sim
        .get_ok(&format!("/rest/api/3/auditing/record?offset={total}"))
        .await;
    assert_eq!(end["records"], json!([]));
    let none = sim
        .get_ok("/rest/api/3/auditing/record?from=2099-01-01")
        .await;
    assert_eq!(none["total"], json!(0));
}

#[tokio::test]
async fn stats_count_requests_per_operation() {
    let sim = start(Preset::Small).await;
    sim.get_ok("/rest/api/3/myself").await;
    sim.get_ok("/rest/api/3/users/search").await;
    sim.get_ok("/rest/api/3/users/search?startAt=50").await;
    let key = sim.server.org().projects[0].key.clone();
    sim.get_ok(&format!("/rest/api/3/project/{key}/role")).await;
    let stats = sim.server.stats();
    assert_eq!(stats.total, 4);
    assert_eq!(stats.by_operation["GET /rest/api/3/users/search"], 2);
    assert_eq!(
        stats.by_operation["GET /rest/api/3/project/{projectIdOrKey}/role"],
        1
    );
    let over_http: Value = sim
        .http
        .get(sim.url("/__sim/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(over_http["total"], json!(4));
    let reset = sim
        .http
        .post(sim.url("/__sim/stats/reset"))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.server.stats().total, 0);
    sim.get_ok("/rest/api/3/myself").await;
    sim.server.reset_stats();
    assert_eq!(sim.server.stats().total, 0);
}

#[tokio::test]
async fn mutate_changes_what_later_reads_see() {
    let sim = start(Preset::Small).await;
    let org = sim.server.org();
    let jsu = org
        .group_by_name("jira-software-users")
        .expect("jsu")
        .clone();
    let victim = org.memberships[&jsu.group_id]
        .iter()
        .find(|a| org.user(a).is_some_and(|u| u.active) && **a != sim.admin.account_id)
        .expect("member")
        .clone();
    sim.server.mutate(|o| {
        if let Some(u) = o.users.iter_mut().find(|u| u.account_id == victim) {
            u.active = false;
        }
    });
    let page = sim
        .get_ok(&format!(
            "/rest/api/3/group/member?groupId={}&maxResults=50",
            jsu.group_id
        ))
        .await;
    let (values, _) = follow(
        &sim,
        &format!("/rest/api/3/group/member?groupId={}", jsu.group_id),
    )
    .await;
    assert!(
        !ids(&values, "accountId").contains(&victim),
        "deactivated user left the active list"
    );
    assert!(page["total"].as_u64().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_org_serves_eight_concurrent_clients() {
    let sim = std::sync::Arc::new(start(Preset::Large).await);
    let org = sim.server.org();
    let jsu = org
        .group_by_name("jira-software-users")
        .expect("jsu")
        .group_id
        .clone();
    let members = org.memberships[&jsu].len();
    let pages = members.div_ceil(50);
    let t = std::time::Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..8usize {
        let sim = sim.clone();
        let jsu = jsu.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for page in (worker..pages).step_by(8) {
                let p = sim.get_ok(&format!("/rest/api/3/group/member?groupId={jsu}&includeInactiveUsers=true&startAt={}", page * 50)).await;
                seen.extend(ids(p["values"].as_array().expect("values"), "accountId"));
            }
            let users = sim.get_ok(&format!("/rest/api/3/users/search?startAt={}&maxResults=1000", worker * 1000)).await;
            (seen, users.as_array().map_or(0, Vec::len))
        }));
    }
    let mut all = BTreeSet::new();
    for t in tasks {
        let (seen, users) = t.await.expect("task");
        assert_eq!(users, 1000);
        all.extend(seen);
    }
    assert_eq!(all, org.memberships[&jsu]);
    eprintln!(
        "{members} members in {pages} pages + 8 user pages over 8 clients: {:?}",
        t.elapsed()
    );
}

/// One manual clock drives the simulator: audit records carry its time, not the
/// system's, so a test can predict them.
#[tokio::test]
async fn audit_records_are_stamped_by_the_injected_clock() {
    use std::sync::Arc;
    use std::time::Duration;

    use grantledger_clock::ManualClock;
    use grantledger_model::Timestamp;

    let sim = start(Preset::Small).await;
    // 2026-06-05T06:00:00Z
    let clock = Arc::new(ManualClock::new(Timestamp::from_micros(
        1_780_639_200_000_000,
    )));
    sim.server.set_clock(clock.clone());
    let org = sim.server.org();
    let group = org.groups.iter().find(|g| g.name != "site-admins").unwrap();
    let outsider = org
        .outsider(&group.group_id, &[])
        .unwrap()
        .account_id
        .clone();
    let add = format!("/rest/api/3/group/user?groupId={}", group.group_id);
    let r = sim
        .send(Method::POST, &add, Some(json!({ "accountId": outsider })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    clock.advance(Duration::from_millis(90_500));
    let remove = format!(
        "/rest/api/3/group/user?groupId={}&accountId={}",
        group.group_id, outsider
    );
    let r = sim.send(Method::DELETE, &remove, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let created: Vec<String> = sim
        .server
        .org()
        .audit
        .iter()
        .rev()
        .take(2)
        .map(|a| a.created.clone())
        .collect();
    assert_eq!(
        created,
        vec!["2026-06-05T06:01:30.500Z", "2026-06-05T06:00:00.000Z"]
    );
}

/// `changes` counts the writes Jira carried out; `by_operation` every request,
/// refused ones included.
#[tokio::test]
async fn stats_tell_changes_from_write_requests() {
    let sim = start(Preset::Small).await;
    let org = sim.server.org();
    let group = org.groups.iter().find(|g| g.name != "site-admins").unwrap();
    let outsider = org
        .outsider(&group.group_id, &[])
        .unwrap()
        .account_id
        .clone();
    let add = format!("/rest/api/3/group/user?groupId={}", group.group_id);
    let remove = format!("{add}&accountId={outsider}");
    let body = || Some(json!({ "accountId": outsider }));
    assert_eq!(
        sim.send(Method::POST, &add, body()).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        sim.send(Method::POST, &add, body()).await.status,
        StatusCode::BAD_REQUEST,
        "already a member"
    );
    assert_eq!(
        sim.send(Method::DELETE, &remove, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        sim.send(Method::DELETE, &remove, None).await.status,
        StatusCode::BAD_REQUEST,
        "not a member"
    );
    let stats = sim.server.stats();
    let n = |m: &std::collections::BTreeMap<String, u64>, op: &str| m.get(op).copied();
    assert_eq!(
        n(&stats.by_operation, "POST /rest/api/3/group/user"),
        Some(2)
    );
    assert_eq!(
        n(&stats.by_operation, "DELETE /rest/api/3/group/user"),
        Some(2)
    );
    assert_eq!(n(&stats.changes, "POST /rest/api/3/group/user"), Some(1));
    assert_eq!(n(&stats.changes, "DELETE /rest/api/3/group/user"), Some(1));
    assert_eq!(stats.changes.len(), 2, "reads are not changes: {stats:?}");
}
