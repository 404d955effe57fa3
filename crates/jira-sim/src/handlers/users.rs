//! The user operations: one account, and every account.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::render::{error, field_error, json_response, slice, user_json};
use super::request::{int_param, param, start_at};
use super::{Params, Sh};

/// `GET /user?accountId=`: one account (active or not), or 404.
pub(crate) async fn user(State(shared): Sh, Query(q): Params) -> Response {
    let Some(id) = param(&q, "accountId").filter(|s| !s.is_empty()) else {
        return field_error(
            "accountId",
            "The accountId query parameter needs to be provided.",
        );
    };
    let world = shared.read();
    match world.index.user_by_id.get(id) {
        Some(&i) => json_response(
            StatusCode::OK,
            &user_json(&shared.base_url, &world.org.users[i], true),
        ),
        None => error(
            StatusCode::NOT_FOUND,
            "Specified user does not exist or you do not have required permissions",
        ),
    }
}

/// `GET /users/search`: a bare array, every account, `maxResults` ≤ 1000.
pub(crate) async fn users_search(State(shared): Sh, Query(q): Params) -> Response {
    let start = match start_at(&shared, &q) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let max = match int_param(&q, "maxResults", 50) {
        Ok(m) => m.clamp(0, 1000) as usize,
        Err(r) => return r,
    };
    let world = shared.read();
    let values: Vec<Value> = slice(&world.org.users, start, max)
        .iter()
        .map(|u| user_json(&shared.base_url, u, true))
        .collect();
    json_response(StatusCode::OK, &Value::Array(values))
}
