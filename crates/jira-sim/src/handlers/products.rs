//! The product operation: application roles with their groups and seats.

use std::collections::HashSet;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::render::{group_self, json_response, ApiError};
use super::{is_jira_admin, Sh};
use crate::state::Caller;

/// `GET /applicationrole`: a bare array of products with their groups.
pub(crate) async fn application_roles(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let world = shared.read();
    if !is_jira_admin(&world, &caller.0) {
        return Err(ApiError::forbidden(
            "You must be a Jira administrator to view application roles.",
        ));
    }
    let base = &shared.base_url;
    let details = |names: &[String]| -> Vec<Value> {
        names
            .iter()
            .filter_map(|n| world.index.group_by_name.get(n))
            .map(|&g| {
                let group = &world.org.groups[g];
                json!({ "name": group.name, "groupId": group.group_id, "self": group_self(base, &group.group_id) })
            })
            .collect()
    };
    let roles: Vec<Value> = world
        .org
        .application_roles
        .iter()
        .map(|a| {
            let mut seated = HashSet::new();
            for n in &a.groups {
                if let Some(&g) = world.index.group_by_name.get(n) {
                    let gid = &world.org.groups[g].group_id;
                    for &u in world
                        .index
                        .members_active
                        .get(gid)
                        .map(Vec::as_slice)
                        .unwrap_or(&[])
                    {
                        if world.org.users[u].account_type == "atlassian" {
                            seated.insert(u);
                        }
                    }
                }
            }
            let count = seated.len() as u32;
            json!({
                "key": a.key,
                "groups": a.groups,
                "groupDetails": details(&a.groups),
                "name": a.name,
                "defaultGroups": a.default_groups,
                "defaultGroupsDetails": details(&a.default_groups),
                "selectedByDefault": false,
                "defined": false,
                "numberOfSeats": a.number_of_seats,
                "remainingSeats": a.number_of_seats.saturating_sub(count),
                "userCount": count,
                "userCountDescription": "users",
                "hasUnlimitedSeats": false,
                "platform": false,
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(roles)))
}
