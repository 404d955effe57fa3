//! The audit records the simulator writes for its writes: Jira Cloud's shapes
//! (see the reference notes on `GET /auditing/record`), stamped by the
//! injected clock, authored by the account that called.

use std::sync::Arc;

use grantledger_clock::ManualClock;
use grantledger_jira_sim::{Credential, Preset};
use grantledger_model::Timestamp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::start;

/// 2026-06-05T10:42:00Z
const TEN_FORTY_TWO: i64 = 1_780_656_120_000_000;

async fn newest(sim: &crate::common::Sim, n: usize) -> Vec<Value> {
    let page = sim
        .get_ok(&format!("/rest/api/3/auditing/record?limit={n}"))
        .await;
    page["records"].as_array().expect("records").clone()
}

#[tokio::test]
async fn a_named_admin_s_writes_are_recorded_in_jira_s_format() {
    let sim = start(Preset::Small).await;
    sim.server
        .set_clock(Arc::new(ManualClock::new(Timestamp(TEN_FORTY_TWO))));
    let org = sim.server.org();
    // A second site admin acts with a credential of their own.
    let alex = org
        .site_admins
        .iter()
        .find(|a| **a != sim.admin.account_id && org.user(a).is_some_and(|u| u.active))
        .expect("a second active site admin")
        .clone();
    let cred = Credential::new("alex@example.test", "alex-token", alex.clone());
    sim.server.add_credential(cred.clone());

    let group = org
        .groups
        .iter()
        .find(|g| g.name.starts_with("team-") || g.name == "jira-software-users")
        .expect("a group");
    let outsider = org
        .outsider(&group.group_id, &[])
        .expect("an outsider")
        .account_id
        .clone();
    let add = format!("/rest/api/3/group/user?groupId={}", group.group_id);
    let r = sim
        .send_as(
            Some(&cred),
            Method::POST,
            &add,
            Some(json!({ "accountId": outsider })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let project = org.project_with_roles().expect("a project with roles");
    let role = &project.roles[0];
    let newcomer = org
        .active_humans()
        .find(|u| !role.user_actors.contains(&u.account_id))
        .expect("a user not in the role")
        .account_id
        .clone();
    let path = format!("/rest/api/3/project/{}/role/{}", project.key, role.id);
    let r = sim
        .send_as(
            Some(&cred),
            Method::POST,
            &path,
            Some(json!({ "user": [newcomer] })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let records = newest(&sim, 2).await;
    let (role_rec, group_rec) = (&records[0], &records[1]);
    assert_eq!(group_rec["summary"], json!("User added to group"));
    assert_eq!(group_rec["category"], json!("group management"));
    assert_eq!(group_rec["authorAccountId"], json!(alex));
    assert_eq!(group_rec["created"], json!("2026-06-05T10:42:00.000+0000"));
    // A group is named without an id, in Jira Cloud's directory.
    let object = group_rec["objectItem"].as_object().expect("objectItem");
    assert!(!object.contains_key("id"));
    assert_eq!(object["name"], json!(group.name));
    assert_eq!(object["typeName"], json!("GROUP"));
    assert_eq!(object["parentId"], json!("10000"));
    assert_eq!(group_rec["associatedItems"][0]["id"], json!(outsider));
    assert_eq!(group_rec["associatedItems"][0]["typeName"], json!("USER"));
    assert!(group_rec.get("changedValues").is_none());

    assert_eq!(role_rec["summary"], json!("Project roles changed"));
    assert_eq!(role_rec["category"], json!("projects"));
    assert_eq!(role_rec["authorAccountId"], json!(alex));
    assert_eq!(role_rec["objectItem"]["id"], json!(role.id.to_string()));
    assert_eq!(role_rec["objectItem"]["typeName"], json!("PROJECT_ROLE"));
    assert_eq!(role_rec["associatedItems"][0]["id"], json!(project.id));
    assert_eq!(role_rec["associatedItems"][0]["typeName"], json!("PROJECT"));
    // The whole user list before and after; the group list did not change.
    let changed = role_rec["changedValues"].as_array().expect("changedValues");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["fieldName"], json!("Users"));
    let list = |v: &Value| -> Vec<String> {
        v.as_str()
            .map(|s| s.split(", ").map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let before: Vec<String> = role.user_actors.iter().cloned().collect();
    let mut after = before.clone();
    after.push(newcomer.clone());
    after.sort();
    assert_eq!(list(&changed[0]["changedFrom"]), before);
    assert_eq!(list(&changed[0]["changedTo"]), after);
}

#[tokio::test]
async fn a_deactivation_outside_jira_has_no_author_and_a_role_s_groups_are_named() {
    let sim = start(Preset::Small).await;
    let org = sim.server.org();
    let user = org.plain_user().expect("a plain user").account_id.clone();
    assert!(sim.server.set_user_active(&user, false, None));
    assert!(
        !sim.server.set_user_active(&user, false, None),
        "already inactive"
    );
    let rec = &newest(&sim, 1).await[0];
    assert_eq!(rec["summary"], json!("User updated"));
    assert_eq!(rec["category"], json!("user management"));
    for absent in ["authorAccountId", "authorKey", "remoteAddress"] {
        assert!(rec.get(absent).is_none(), "{absent} in {rec}");
    }
    assert_eq!(rec["objectItem"]["id"], json!(user));
    assert_eq!(
        rec["changedValues"],
        json!([{ "fieldName": "Active / Inactive", "changedFrom": "Active", "changedTo": "Inactive" }])
    );

    // A group actor removed: the Groups list by name, the empty side omitted.
    let (project, role, group_id) = org
        .projects
        .iter()
        .find_map(|p| {
            p.roles.iter().find(|r| r.group_actors.len() == 1).map(|r| {
                (
                    p,
                    r,
                    r.group_actors.iter().next().cloned().unwrap_or_default(),
                )
            })
        })
        .expect("a role with one group actor");
    let path = format!(
        "/rest/api/3/project/{}/role/{}?groupId={group_id}",
        project.key, role.id
    );
    let r = sim.send(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let rec = &newest(&sim, 1).await[0];
    let name = org.group_name(&group_id).expect("the group's name");
    assert_eq!(
        rec["changedValues"],
        json!([{ "fieldName": "Groups", "changedFrom": name }])
    );
    assert_eq!(rec["authorAccountId"], json!(sim.admin.account_id));
    // The filter looks into changed values too.
    let found = sim
        .get_ok(&format!("/rest/api/3/auditing/record?filter={name}"))
        .await;
    assert!(found["records"]
        .as_array()
        .expect("records")
        .iter()
        .any(|r| r["id"] == rec["id"]));
}
