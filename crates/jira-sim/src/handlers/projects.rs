//! The project operations: search, roles, and role actor writes.

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::render::{fnv, json_response, page_bean, slice, ApiError};
use super::request::{bool_param, int_param, param, params, start_at, string_list};
use super::{is_jira_admin, list_change, plain_item, push_audit, AuditEntry, Params, Sh};
use crate::generate::mix64;
use crate::org::{SimProject, SimRole};
use crate::state::{Caller, Index, World};

fn project_json(base: &str, p: &SimProject) -> Value {
    let avatar = |size: &str| {
        format!("{base}/rest/api/3/universal_avatar/view/type/project/avatar/10400?size={size}")
    };
    let mut m = Map::new();
    m.insert(
        "self".into(),
        json!(format!("{base}/rest/api/3/project/{}", p.id)),
    );
    m.insert("id".into(), json!(p.id));
    m.insert("key".into(), json!(p.key));
    m.insert("name".into(), json!(p.name));
    m.insert(
        "avatarUrls".into(),
        json!({ "48x48": avatar("large"), "24x24": avatar("small"), "16x16": avatar("xsmall"), "32x32": avatar("medium") }),
    );
    m.insert("projectTypeKey".into(), json!(p.project_type));
    m.insert("simplified".into(), json!(false));
    m.insert("style".into(), json!("classic"));
    m.insert("isPrivate".into(), json!(false));
    m.insert("properties".into(), json!({}));
    if p.archived {
        m.insert("archived".into(), json!(true));
        m.insert("archivedDate".into(), json!("2025-03-01T10:00:00.000+0000"));
    }
    Value::Object(m)
}

/// `GET /project/search`: a `PageBean` of projects by key, at most 100 a
/// page; live projects unless `status` asks for archived ones.
pub(crate) async fn project_search(
    State(shared): Sh,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let start = start_at(&shared, &q)?;
    let max = int_param(&q, "maxResults", 50)?.clamp(1, 100) as usize;
    let statuses = params(&q, "status");
    if let Some(bad) = statuses
        .iter()
        .find(|s| !matches!(**s, "live" | "archived" | "deleted"))
    {
        return Err(ApiError::field(
            "status",
            format!("Invalid status '{bad}': use live, archived or deleted."),
        ));
    }
    let (live, archived) = if statuses.is_empty() {
        (true, false)
    } else {
        (statuses.contains(&"live"), statuses.contains(&"archived"))
    };
    let keys = params(&q, "keys");
    let text = param(&q, "query")
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let world = shared.read();
    let chosen: Vec<&SimProject> = world
        .index
        .projects_by_key
        .iter()
        .map(|&i| &world.org.projects[i])
        .filter(|p| if p.archived { archived } else { live })
        .filter(|p| keys.is_empty() || keys.contains(&p.key.as_str()))
        .filter(|p| {
            text.as_ref().is_none_or(|t| {
                p.key.to_lowercase().contains(t) || p.name.to_lowercase().contains(t)
            })
        })
        .collect();
    let values = slice(&chosen, start, max)
        .iter()
        .map(|p| project_json(&shared.base_url, p))
        .collect();
    let page = page_bean(
        &shared.base_url,
        "/rest/api/3/project/search",
        &q,
        start,
        max,
        chosen.len(),
        values,
    );
    Ok(json_response(StatusCode::OK, &page))
}

fn find_project(index: &Index, key_or_id: &str) -> Option<usize> {
    index
        .project_by_key
        .get(key_or_id)
        .or_else(|| index.project_by_id.get(key_or_id))
        .copied()
}

fn no_project(key: &str) -> ApiError {
    ApiError::not_found(format!("No project could be found with key '{key}'."))
}

/// Project administration: Jira admins and user actors of the project's
/// Administrators role.
fn can_admin_project(world: &World, p: usize, caller: &Caller) -> bool {
    is_jira_admin(world, &caller.0)
        || world.org.projects[p]
            .roles
            .iter()
            .any(|r| r.name == "Administrators" && r.user_actors.contains(&caller.0))
}

fn role_url(base: &str, p: &SimProject, role_id: u64) -> String {
    format!("{base}/rest/api/3/project/{}/role/{role_id}", p.id)
}

/// `GET /project/{k}/role`: a map from role name to role URL.
pub(crate) async fn project_roles(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let world = shared.read();
    let p = find_project(&world.index, &key).ok_or_else(|| no_project(&key))?;
    if !can_admin_project(&world, p, &caller) {
        return Err(no_project(&key));
    }
    let project = &world.org.projects[p];
    let map: Map<String, Value> = project
        .roles
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                json!(role_url(&shared.base_url, project, r.id)),
            )
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Object(map)))
}

fn role_description(name: &str) -> String {
    match name {
        "Administrators" => "A project role that represents administrators in a project".into(),
        "Member" => "A project role that represents members of a project".into(),
        "Viewer" => "A project role that represents viewers of a project".into(),
        "atlassian-addons-project-access" => "A project role that represents Connect add-ons declaring a scope that requires more than read permission".into(),
        other => format!("A project role that represents {other} in a project"),
    }
}

fn actor_id(project: &SimProject, role: u64, actor: &str) -> u64 {
    10_000 + mix64(fnv(actor) ^ role.rotate_left(17) ^ fnv(&project.id)) % 90_000_000
}

/// A `ProjectRole`: group actors (not expanded) then user actors.
fn role_json(base: &str, world: &World, p: usize, role: &SimRole, exclude_inactive: bool) -> Value {
    let project = &world.org.projects[p];
    let mut actors = Vec::with_capacity(role.group_actors.len() + role.user_actors.len());
    for gid in &role.group_actors {
        let Some(&g) = world.index.group_by_id.get(gid) else {
            continue;
        };
        let name = &world.org.groups[g].name;
        actors.push(json!({
            "id": actor_id(project, role.id, gid),
            "displayName": name,
            "type": "atlassian-group-role-actor",
            "name": name,
            "actorGroup": { "name": name, "displayName": name, "groupId": gid },
        }));
    }
    for account in &role.user_actors {
        let Some(&u) = world.index.user_by_id.get(account) else {
            continue;
        };
        let user = &world.org.users[u];
        if exclude_inactive && !user.active {
            continue;
        }
        actors.push(json!({
            "id": actor_id(project, role.id, account),
            "displayName": user.display_name,
            "type": "atlassian-user-role-actor",
            "actorUser": { "accountId": account },
        }));
    }
    json!({
        "self": role_url(base, project, role.id),
        "name": role.name,
        "id": role.id,
        "description": role_description(&role.name),
        "actors": actors,
    })
}

/// Resolves the project and role of a role path, checking project admin rights.
fn resolve_role(
    world: &World,
    caller: &Caller,
    key: &str,
    id: &str,
) -> Result<(usize, usize), ApiError> {
    let p = find_project(&world.index, key).ok_or_else(|| no_project(key))?;
    if !can_admin_project(world, p, caller) {
        return Err(no_project(key));
    }
    let r = id
        .parse::<u64>()
        .ok()
        .and_then(|id| world.org.projects[p].roles.iter().position(|r| r.id == id))
        .ok_or_else(|| ApiError::not_found("Role with given id not found."))?;
    Ok((p, r))
}

/// `GET /project/{k}/role/{id}`.
pub(crate) async fn project_role(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Path((key, id)): Path<(String, String)>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let exclude = bool_param(&q, "excludeInactiveUsers", false)?;
    let world = shared.read();
    let (p, r) = resolve_role(&world, &caller, &key, &id)?;
    let role = &world.org.projects[p].roles[r];
    Ok(json_response(
        StatusCode::OK,
        &role_json(&shared.base_url, &world, p, role, exclude),
    ))
}

/// `POST /project/{k}/role/{id}` with an `ActorsMap`: 200 with the whole role.
pub(crate) async fn role_actor_add(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Path((key, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut guard = shared.write();
    let world = &mut *guard;
    let (p, r) = resolve_role(world, &caller, &key, &id)?;
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return Err(ApiError::bad_request("The request body is not valid JSON."));
    };
    if let Some(extra) = body.as_object().and_then(|o| {
        o.keys()
            .find(|k| !matches!(k.as_str(), "user" | "group" | "groupId"))
    }) {
        return Err(ApiError::field(
            extra,
            "Unrecognized field: use user, group or groupId.",
        ));
    }
    let users = string_list(&body, "user")?;
    let names = string_list(&body, "group")?;
    let ids = string_list(&body, "groupId")?;
    if !names.is_empty() && !ids.is_empty() {
        return Err(ApiError::bad_request(
            "You cannot specify both group and groupId.",
        ));
    }
    if users.is_empty() && names.is_empty() && ids.is_empty() {
        return Err(ApiError::bad_request(
            "You must specify at least one user or group to add.",
        ));
    }
    // Validate everything before changing anything.
    for u in &users {
        match world.index.user_by_id.get(u) {
            Some(&i) if world.org.users[i].active => {}
            _ => {
                return Err(ApiError::not_found(format!(
                    "The user with account ID '{u}' does not exist or is not active."
                )))
            }
        }
    }
    let mut group_ids = Vec::new();
    for n in &names {
        match world.index.group_by_name.get(n) {
            Some(&g) => group_ids.push(world.org.groups[g].group_id.clone()),
            None => {
                return Err(ApiError::not_found(format!(
                    "The group '{n}' does not exist."
                )))
            }
        }
    }
    for i in &ids {
        if !world.index.group_by_id.contains_key(i) {
            return Err(ApiError::not_found(format!(
                "The group with ID '{i}' does not exist."
            )));
        }
        group_ids.push(i.clone());
    }
    let role = &world.org.projects[p].roles[r];
    let dup_user = users.iter().find(|u| role.user_actors.contains(*u));
    let dup_group = group_ids.iter().find(|g| role.group_actors.contains(*g));
    if let Some(dup) = dup_user.or(dup_group) {
        return Err(ApiError::bad_request(format!(
            "'{dup}' is already a member of the project role."
        )));
    }
    let before = world.org.projects[p].roles[r].clone();
    let role = &mut world.org.projects[p].roles[r];
    role.user_actors.extend(users.iter().cloned());
    role.group_actors.extend(group_ids.iter().cloned());
    let entry = roles_changed(world, p, &before, &world.org.projects[p].roles[r]);
    push_audit(world, Some(&caller.0), entry);
    let role = &world.org.projects[p].roles[r];
    Ok(json_response(
        StatusCode::OK,
        &role_json(&shared.base_url, world, p, role, false),
    ))
}

/// `DELETE /project/{k}/role/{id}?user=|group=|groupId=`: 204.
pub(crate) async fn role_actor_remove(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Path((key, id)): Path<(String, String)>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let mut guard = shared.write();
    let world = &mut *guard;
    let (p, r) = resolve_role(world, &caller, &key, &id)?;
    let given: Vec<(&str, &str)> = ["user", "group", "groupId"]
        .into_iter()
        .filter_map(|k| param(&q, k).filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
    let (kind, value) = match given.as_slice() {
        [one] => *one,
        [] => {
            return Err(ApiError::bad_request(
                "You must specify a user, group or groupId to remove.",
            ))
        }
        _ => {
            return Err(ApiError::bad_request(
                "Specify only one of user, group and groupId.",
            ))
        }
    };
    let (is_user, actor) = match kind {
        "user" => (true, value.to_owned()),
        "group" => match world.index.group_by_name.get(value) {
            Some(&g) => (false, world.org.groups[g].group_id.clone()),
            None => {
                return Err(ApiError::not_found(format!(
                    "The group '{value}' does not exist."
                )))
            }
        },
        _ => (false, value.to_owned()),
    };
    let before = world.org.projects[p].roles[r].clone();
    let role = &mut world.org.projects[p].roles[r];
    let removed = if is_user {
        role.user_actors.remove(&actor)
    } else {
        role.group_actors.remove(&actor)
    };
    if !removed {
        return Err(ApiError::bad_request(format!(
            "'{value}' is not a member of the project role."
        )));
    }
    let entry = roles_changed(world, p, &before, &world.org.projects[p].roles[r]);
    push_audit(world, Some(&caller.0), entry);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Jira's `Project roles changed` record for a change of project `p`'s role
/// from `before` to `after`: the role as the object, the project associated,
/// and the whole `Users` (account ids) and `Groups` (group names) lists before
/// and after, each only when it changed.
fn roles_changed(world: &World, p: usize, before: &SimRole, after: &SimRole) -> AuditEntry {
    let project = &world.org.projects[p];
    let group_names = |role: &SimRole| -> Vec<String> {
        let mut names: Vec<String> = role
            .group_actors
            .iter()
            .map(|g| match world.index.group_by_id.get(g) {
                Some(&i) => world.org.groups[i].name.clone(),
                None => g.clone(),
            })
            .collect();
        names.sort();
        names
    };
    let users = |role: &SimRole| role.user_actors.iter().cloned().collect::<Vec<_>>();
    let mut changed = Vec::new();
    if before.user_actors != after.user_actors {
        changed.push(list_change("Users", &users(before), &users(after)));
    }
    if before.group_actors != after.group_actors {
        changed.push(list_change(
            "Groups",
            &group_names(before),
            &group_names(after),
        ));
    }
    AuditEntry {
        summary: "Project roles changed",
        category: "projects",
        object: plain_item(&after.id.to_string(), &after.name, "PROJECT_ROLE"),
        associated: vec![plain_item(&project.id, &project.name, "PROJECT")],
        changed,
    }
}
