//! The client decodes every documentation example for the operations it uses:
//! the files in `vendor/jira/examples/` (vendored with their provenance, see
//! `vendor/jira/PROVENANCE.md`) and the matching entries of
//! `spec-examples.json`. Older (2022) examples lack `groupId` (and
//! `accountType`); these tests pin down what the client does then.

use std::collections::BTreeMap;
use std::path::PathBuf;

use grantledger_jira::paging::{decode_bare_array, decode_page_bean};
use grantledger_jira::types::{
    ApplicationRole, ErrorCollection, Group, GroupIndex, Project, ProjectRole, RoleRef, User,
};
use grantledger_jira::JiraError;
use grantledger_model::AccountType;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vendor/jira/examples")
}

fn read(name: &str) -> Vec<u8> {
    let p = examples_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

#[test]
fn every_example_file_decodes() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        let body = read(&name);
        let n = match name.as_str() {
            "users-search.json" | "user-search.json" => {
                decode_bare_array::<User>(&body).unwrap().1.len()
            }
            "user-bulk.json" | "group-member.json" => {
                decode_page_bean::<User>(&body).unwrap().1.len()
            }
            "group-bulk.json" => decode_page_bean::<Group>(&body).unwrap().1.len(),
            // The `Group` answer of a group write (`POST /group/user` returns it).
            "group-create.json" => {
                serde_json::from_slice::<Group>(&body).unwrap();
                1
            }
            "user-groups.json" => serde_json::from_slice::<Vec<Group>>(&body).unwrap().len(),
            "project-search.json" => decode_page_bean::<Project>(&body).unwrap().1.len(),
            "project-roles-map.json" => {
                let map: BTreeMap<String, String> = serde_json::from_slice(&body).unwrap();
                RoleRef::from_map(&map).unwrap().len()
            }
            "project-role-actors.json" | "project-role-add-actors.json" => {
                serde_json::from_slice::<ProjectRole>(&body)
                    .unwrap()
                    .actors
                    .len()
            }
            "project-roledetails.json" | "role-all.json" => {
                serde_json::from_slice::<Vec<ProjectRole>>(&body)
                    .unwrap()
                    .len()
            }
            "applicationrole-all.json" => serde_json::from_slice::<Vec<ApplicationRole>>(&body)
                .unwrap()
                .len(),
            "no_role.json" => {
                let ec: ErrorCollection = serde_json::from_slice(&body).unwrap();
                assert_eq!(
                    ec.summary().as_deref(),
                    Some("Role with given id not found.")
                );
                1
            }
            "spec-examples.json" => continue,
            other => panic!("an example file this test does not know: {other}"),
        };
        assert!(n > 0, "{name} decoded to nothing");
        seen.push(name);
    }
    assert_eq!(seen.len(), 15, "{seen:?}");
}

#[test]
fn spec_examples_for_the_operations_used_decode() {
    let all: serde_json::Value = serde_json::from_slice(&read("spec-examples.json")).unwrap();
    let examples = all["examples"].as_object().unwrap();
    let mut checked = 0;
    for (op, by_status) in examples {
        for (status, body) in by_status.as_object().unwrap() {
            let bytes = serde_json::to_vec(body).unwrap();
            let ok = status.starts_with('2');
            match (op.as_str(), ok) {
                ("GET /rest/api/3/users/search", true) => {
                    let (_, users) = decode_bare_array::<User>(&bytes).unwrap();
                    assert!(users
                        .iter()
                        .all(|u| u.account_type() != AccountType::Unknown));
                }
                ("GET /rest/api/3/myself", true) => {
                    serde_json::from_slice::<User>(&bytes).unwrap();
                }
                ("GET /rest/api/3/group/bulk", true) => {
                    let (_, groups) = decode_page_bean::<Group>(&bytes).unwrap();
                    for g in &groups {
                        g.to_record().unwrap();
                    }
                }
                ("GET /rest/api/3/group/member", true) => {
                    let (meta, _) = decode_page_bean::<User>(&bytes).unwrap();
                    assert!(meta.next_page.is_some());
                }
                ("GET /rest/api/3/project/search", true) => {
                    decode_page_bean::<Project>(&bytes).unwrap();
                }
                ("GET /rest/api/3/project/{projectIdOrKey}/role", true) => {
                    let map: BTreeMap<String, String> = serde_json::from_slice(&bytes).unwrap();
                    let roles = RoleRef::from_map(&map).unwrap();
                    assert_eq!(roles[0].name, "Administrators");
                    assert_eq!(roles[0].id.as_str(), "10002");
                }
                ("GET /rest/api/3/project/{projectIdOrKey}/role/{id}", true)
                | ("POST /rest/api/3/project/{projectIdOrKey}/role/{id}", true) => {
                    let role: ProjectRole = serde_json::from_slice(&bytes).unwrap();
                    // Current examples carry group ids: resolution needs no index.
                    let index = GroupIndex::default();
                    for a in &role.actors {
                        if let Some(g) = &a.actor_group {
                            index.resolve(g).unwrap();
                        }
                    }
                    assert!(role.has_user("5b10a2844c20165700ede21g"));
                }
                ("GET /rest/api/3/applicationrole", true) => {
                    let roles: Vec<ApplicationRole> = serde_json::from_slice(&bytes).unwrap();
                    assert!(!roles[0].groups.is_empty());
                }
                ("POST /rest/api/3/group/user", _) => {
                    // Only a request body is documented: `{"accountId"}`.
                    assert!(body.get("accountId").is_some());
                }
                ("POST /rest/api/3/project/{projectIdOrKey}/role/{id}", false) => {
                    assert!(body.get("groupId").is_some() || body.get("user").is_some());
                }
                (
                    "GET /rest/api/3/group/bulk"
                    | "GET /rest/api/3/users/search"
                    | "GET /rest/api/3/group/member",
                    false,
                ) => {
                    let ec: ErrorCollection = serde_json::from_slice(&bytes).unwrap();
                    assert!(ec.summary().is_some());
                }
                _ => continue,
            }
            checked += 1;
        }
    }
    assert!(checked >= 11, "only {checked} spec examples checked");
}

#[test]
fn older_user_examples_lack_account_type_and_email() {
    let (_, users) = decode_bare_array::<User>(&read("users-search.json")).unwrap();
    let u = &users[0];
    assert_eq!(u.account_type(), AccountType::Unknown);
    assert_eq!(u.email_address, None, "a hidden email stays None");
    assert!(!u.is_active());
    let rec = u.to_record();
    assert_eq!(rec.email, None);

    let (_, members) = decode_page_bean::<User>(&read("group-member.json")).unwrap();
    assert_eq!(members[0].email_address.as_deref(), Some("mia@example.com"));
    assert_eq!(members[0].account_type(), AccountType::Atlassian);
    assert!(members[0].is_active() && !members[1].is_active());
}

#[test]
fn a_group_without_group_id_is_a_clear_error_not_an_invented_id() {
    let groups: Vec<Group> = serde_json::from_slice(&read("user-groups.json")).unwrap();
    let e = groups[0].to_record().unwrap_err();
    assert!(matches!(
        e,
        JiraError::MissingField {
            field: "groupId",
            ..
        }
    ));
    assert!(e.to_string().contains("jira-administrators"), "{e}");

    let created: Group = serde_json::from_slice(&read("group-create.json")).unwrap();
    assert_eq!(created.group_id, None);
    assert!(created.to_record().is_err());
}

#[test]
fn group_actors_without_group_id_resolve_by_name_or_fail_clearly() {
    let role: ProjectRole = serde_json::from_slice(&read("project-role-actors.json")).unwrap();
    let actor = role
        .actors
        .iter()
        .find_map(|a| a.actor_group.as_ref())
        .unwrap();
    assert_eq!(actor.group_id, None);

    // The group listing (group-bulk.json) does not know 'jira-developers'.
    let (_, listed) = decode_page_bean::<Group>(&read("group-bulk.json")).unwrap();
    let e = GroupIndex::from_groups(&listed).resolve(actor).unwrap_err();
    assert!(e.to_string().contains("jira-developers"), "{e}");

    // A listing that does know it resolves the id.
    let mut listed = listed;
    listed.push(Group {
        group_id: Some("952d12c3-5b5b-4d04-bb32-44d383afc4b2".into()),
        name: Some("jira-developers".into()),
    });
    let id = GroupIndex::from_groups(&listed).resolve(actor).unwrap();
    assert_eq!(id.as_str(), "952d12c3-5b5b-4d04-bb32-44d383afc4b2");
    // Matching by id needs the id; by name it is found.
    assert!(!role.has_group("952d12c3-5b5b-4d04-bb32-44d383afc4b2", None));
    assert!(role.has_group(
        "952d12c3-5b5b-4d04-bb32-44d383afc4b2",
        Some("jira-developers")
    ));
}

#[test]
fn projects_and_role_maps_carry_what_the_sync_needs() {
    let (meta, projects) = decode_page_bean::<Project>(&read("project-search.json")).unwrap();
    assert_eq!(meta.is_last, Some(false));
    assert!(meta.next_page.is_some());
    let rec = projects[0].to_record();
    assert_eq!((rec.key.as_str(), rec.archived), ("EX", false));

    let map: BTreeMap<String, String> =
        serde_json::from_slice(&read("project-roles-map.json")).unwrap();
    let roles = RoleRef::from_map(&map).unwrap();
    let ids: Vec<&str> = roles.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["10002", "10000", "10001"]);
    assert!(RoleRef::from_entry("X", "https://h/rest/api/3/project/MKY/role/").is_err());
    assert!(RoleRef::from_entry("X", "https://h/rest/api/3/project/MKY/role/abc").is_err());
}
