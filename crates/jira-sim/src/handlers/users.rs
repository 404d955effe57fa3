//! The user operations: one account, and every account.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::render::{group_self, json_response, slice, user_json, ApiError};
use super::request::{int_param, param, start_at};
use super::{Params, Sh};

/// `GET /user?accountId=`: one account (active or not), or 404.
pub(crate) async fn user(State(shared): Sh, Query(q): Params) -> Result<Response, ApiError> {
    let Some(id) = param(&q, "accountId").filter(|s| !s.is_empty()) else {
        return Err(ApiError::field(
            "accountId",
            "The accountId query parameter needs to be provided.",
        ));
    };
    let world = shared.read();
    let &i = world.index.user_by_id.get(id).ok_or_else(|| {
        ApiError::not_found("Specified user does not exist or you do not have required permissions")
    })?;
    Ok(json_response(
        StatusCode::OK,
        &user_json(&shared.base_url, &world.org.users[i], true),
    ))
}

/// `GET /user/groups?accountId=`: the groups the account (active or not) is a
/// direct member of, as a bare array of `GroupName` in the site's group order;
/// 404 for an account the site does not know.
pub(crate) async fn user_groups(State(shared): Sh, Query(q): Params) -> Result<Response, ApiError> {
    let Some(id) = param(&q, "accountId").filter(|s| !s.is_empty()) else {
        return Err(ApiError::field(
            "accountId",
            "The accountId query parameter needs to be provided.",
        ));
    };
    let world = shared.read();
    if !world.index.user_by_id.contains_key(id) {
        return Err(ApiError::not_found(
            "Specified user does not exist or you do not have required permissions",
        ));
    }
    let groups: Vec<Value> = world
        .org
        .groups
        .iter()
        .filter(|g| {
            world
                .org
                .memberships
                .get(&g.group_id)
                .is_some_and(|m| m.contains(id))
        })
        .map(|g| {
            json!({
                "name": g.name,
                "groupId": g.group_id,
                "self": group_self(&shared.base_url, &g.group_id),
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(groups)))
}

/// `GET /users/search`: a bare array, every account, `maxResults` ≤ 1000.
pub(crate) async fn users_search(
    State(shared): Sh,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let start = start_at(&shared, &q)?;
    let max = int_param(&q, "maxResults", 50)?.clamp(0, 1000) as usize;
    let world = shared.read();
    let values: Vec<Value> = slice(&world.org.users, start, max)
        .iter()
        .map(|u| user_json(&shared.base_url, u, true))
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(values)))
}
