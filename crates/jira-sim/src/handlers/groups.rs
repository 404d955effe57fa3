//! The group operations: listings, members, and membership writes.

use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::render::{group_self, json_response, page_bean, slice, user_json, ApiError};
use super::request::{bool_param, int_param, param, params, start_at};
use super::{group_item, push_audit, user_item, AuditEntry, Params, Sh};
use crate::state::{Caller, World};

/// `GET /group/bulk`: a `PageBean` of `{groupId, name}`, at most 50 a page.
pub(crate) async fn group_bulk(State(shared): Sh, Query(q): Params) -> Result<Response, ApiError> {
    let start = start_at(&shared, &q)?;
    let max = int_param(&q, "maxResults", 50)?.clamp(1, 50) as usize;
    let world = shared.read();
    let ids = params(&q, "groupId");
    let names = params(&q, "groupName");
    let page = if ids.is_empty() && names.is_empty() {
        let groups = &world.org.groups;
        let values = slice(groups, start, max)
            .iter()
            .map(|g| json!({ "groupId": g.group_id, "name": g.name }))
            .collect();
        page_bean(
            &shared.base_url,
            "/rest/api/3/group/bulk",
            &q,
            start,
            max,
            groups.len(),
            values,
        )
    } else {
        let chosen: Vec<&crate::org::SimGroup> = world
            .org
            .groups
            .iter()
            .filter(|g| ids.contains(&g.group_id.as_str()) || names.contains(&g.name.as_str()))
            .collect();
        let values = slice(&chosen, start, max)
            .iter()
            .map(|g| json!({ "groupId": g.group_id, "name": g.name }))
            .collect();
        page_bean(
            &shared.base_url,
            "/rest/api/3/group/bulk",
            &q,
            start,
            max,
            chosen.len(),
            values,
        )
    };
    Ok(json_response(StatusCode::OK, &page))
}

/// `GET /group/member`: a `PageBean` of users, 1..=50 a page, inactive
/// members only with `includeInactiveUsers=true`.
pub(crate) async fn group_member(
    State(shared): Sh,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let start = start_at(&shared, &q)?;
    let max = int_param(&q, "maxResults", 50)?.clamp(1, 50) as usize;
    let inactive = bool_param(&q, "includeInactiveUsers", false)?;
    let world = shared.read();
    let g = resolve_group(&world, &q)?;
    let gid = &world.org.groups[g].group_id;
    let lists = if inactive {
        &world.index.members_all
    } else {
        &world.index.members_active
    };
    let members = lists.get(gid).map(Vec::as_slice).unwrap_or(&[]);
    let values = slice(members, start, max)
        .iter()
        .map(|&u| user_json(&shared.base_url, &world.org.users[u], false))
        .collect();
    let page = page_bean(
        &shared.base_url,
        "/rest/api/3/group/member",
        &q,
        start,
        max,
        members.len(),
        values,
    );
    Ok(json_response(StatusCode::OK, &page))
}

/// Resolves `groupId` xor `groupname` to a group index.
fn resolve_group(world: &World, q: &[(String, String)]) -> Result<usize, ApiError> {
    match (
        param(q, "groupId"),
        param(q, "groupname").or_else(|| param(q, "groupName")),
    ) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "You must specify either groupname or groupId, not both.",
        )),
        (None, None) => Err(ApiError::bad_request(
            "You must specify a group name or group ID.",
        )),
        (Some(id), None) => world
            .index
            .group_by_id
            .get(id)
            .copied()
            .ok_or_else(|| ApiError::not_found(format!("Group with ID '{id}' does not exist."))),
        (None, Some(name)) => world.index.group_by_name.get(name).copied().ok_or_else(|| {
            ApiError::not_found(format!("Group with name '{name}' does not exist."))
        }),
    }
}

fn group_json(base: &str, world: &World, g: usize) -> Value {
    let group = &world.org.groups[g];
    let size = world
        .index
        .members_all
        .get(&group.group_id)
        .map_or(0, Vec::len);
    json!({
        "name": group.name,
        "groupId": group.group_id,
        "self": group_self(base, &group.group_id),
        "users": { "size": size, "items": [], "max-results": 50, "start-index": 0, "end-index": 0 },
        "expand": "users",
    })
}

/// The group a group write targets, once the caller is known to be a site admin.
fn group_write_target(
    world: &World,
    caller: &Caller,
    q: &[(String, String)],
) -> Result<usize, ApiError> {
    require_site_admin(world, caller)?;
    resolve_group(world, q)
}

/// Jira's answer to a group write naming an account it does not know.
fn unknown_user() -> ApiError {
    ApiError::not_found("Specified user does not exist or you do not have required permissions")
}

fn require_site_admin(world: &World, caller: &Caller) -> Result<(), ApiError> {
    if world.org.site_admins.contains(&caller.0) {
        Ok(())
    } else {
        Err(ApiError::forbidden("You need site administration permission (membership of site-admins) to change group membership."))
    }
}

/// `POST /group/user`: 201 with the group.
pub(crate) async fn group_user_add(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Query(q): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut guard = shared.write();
    let world = &mut *guard;
    let g = group_write_target(world, &caller, &q)?;
    let account_id = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => match v.get("accountId").and_then(Value::as_str) {
            Some(a) if !a.is_empty() => a.to_owned(),
            _ => {
                return Err(ApiError::field(
                    "accountId",
                    "You must specify the account ID of the user to add.",
                ))
            }
        },
        Err(_) => return Err(ApiError::bad_request("The request body is not valid JSON.")),
    };
    if !world.index.user_by_id.contains_key(&account_id) {
        return Err(unknown_user());
    }
    let group = world.org.groups[g].clone();
    let members = world
        .org
        .memberships
        .entry(group.group_id.clone())
        .or_default();
    if !members.insert(account_id.clone()) {
        return Err(ApiError::bad_request(format!(
            "Cannot add user. User is already a member of '{}'.",
            group.name
        )));
    }
    world.index.refresh_group(&world.org, &group.group_id);
    push_audit(
        world,
        Some(&caller.0),
        AuditEntry {
            summary: "User added to group",
            category: "group management",
            object: group_item(&group.name),
            associated: vec![user_item(&account_id)],
            changed: Vec::new(),
        },
    );
    Ok(json_response(
        StatusCode::CREATED,
        &group_json(&shared.base_url, world, g),
    ))
}

/// `DELETE /group/user`: 200, no body.
pub(crate) async fn group_user_remove(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let mut guard = shared.write();
    let world = &mut *guard;
    let g = group_write_target(world, &caller, &q)?;
    let Some(account_id) = param(&q, "accountId")
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
    else {
        return Err(ApiError::field(
            "accountId",
            "You must specify the account ID of the user to remove.",
        ));
    };
    if !world.index.user_by_id.contains_key(&account_id) {
        return Err(unknown_user());
    }
    let group = world.org.groups[g].clone();
    let removed = world
        .org
        .memberships
        .get_mut(&group.group_id)
        .is_some_and(|m| m.remove(&account_id));
    if !removed {
        return Err(ApiError::bad_request(format!(
            "Cannot remove user. User is not a member of '{}'.",
            group.name
        )));
    }
    world.index.refresh_group(&world.org, &group.group_id);
    push_audit(
        world,
        Some(&caller.0),
        AuditEntry {
            summary: "User removed from group",
            category: "group management",
            object: group_item(&group.name),
            associated: vec![user_item(&account_id)],
            changed: Vec::new(),
        },
    );
    Ok(StatusCode::OK.into_response())
}
