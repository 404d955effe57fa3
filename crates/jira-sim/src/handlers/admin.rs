//! Site-level operations: the tenant, the caller (`myself`) and the audit log.

use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::render::{json_response, slice, user_json, ApiError};
use super::request::{int_param, param};
use super::{is_jira_admin, Params, Sh};
use crate::org::{SimAuditItem, SimAuditRecord};
use crate::state::Caller;

pub(crate) async fn tenant_info(State(shared): Sh) -> Response {
    let world = shared.read();
    json_response(StatusCode::OK, &json!({ "cloudId": world.org.cloud_id }))
}

pub(crate) async fn myself(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let world = shared.read();
    let &i = world
        .index
        .user_by_id
        .get(&caller.0)
        .ok_or(ApiError::bare(StatusCode::UNAUTHORIZED))?;
    Ok(json_response(
        StatusCode::OK,
        &user_json(&shared.base_url, &world.org.users[i], true),
    ))
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{DateTime, NaiveDate, Utc};
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    s.parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
}

fn audit_item_json(i: &SimAuditItem) -> Value {
    json!({ "id": i.id, "name": i.name, "typeName": i.type_name, "parentId": "1", "parentName": "Jira Internal Directory" })
}

/// `GET /auditing/record`: newest first, `offset`/`limit`, `filter`, `from`, `to`.
pub(crate) async fn audit_records(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let offset = int_param(&q, "offset", 0)?.max(0) as usize;
    let limit = int_param(&q, "limit", 1000)?.clamp(0, 1000) as usize;
    let mut bounds = [None, None];
    for (slot, name) in bounds.iter_mut().zip(["from", "to"]) {
        if let Some(v) = param(&q, name).filter(|v| !v.is_empty()) {
            match parse_time(v) {
                Some(t) => *slot = Some(t),
                None => return Err(ApiError::field(name, format!("'{v}' is not a valid date."))),
            }
        }
    }
    let words: Vec<String> = param(&q, "filter")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let world = shared.read();
    if !is_jira_admin(&world, &caller.0) {
        return Err(ApiError::forbidden(
            "You do not have permission to view the audit log.",
        ));
    }
    let matching: Vec<&SimAuditRecord> = world
        .org
        .audit
        .iter()
        .rev()
        .filter(|r| {
            if bounds.iter().all(Option::is_none) {
                return true;
            }
            let t = parse_time(&r.created);
            bounds[0].is_none_or(|from| t.is_some_and(|t| t >= from))
                && bounds[1].is_none_or(|to| t.is_some_and(|t| t <= to))
        })
        .filter(|r| {
            words.iter().all(|w| {
                [
                    &r.summary,
                    &r.category,
                    &r.object_item.name,
                    &r.object_item.type_name,
                ]
                .iter()
                .any(|f| f.to_lowercase().contains(w.as_str()))
            })
        })
        .collect();
    let records: Vec<Value> = slice(&matching, offset, limit)
        .iter()
        .map(|r| {
            let created = parse_time(&r.created)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string())
                .unwrap_or_else(|| r.created.clone());
            json!({
                "id": r.id,
                "summary": r.summary,
                "remoteAddress": "127.0.0.1",
                "authorKey": r.author_account_id,
                "authorAccountId": r.author_account_id,
                "created": created,
                "category": r.category,
                "eventSource": "",
                "objectItem": audit_item_json(&r.object_item),
                "changedValues": [],
                "associatedItems": r.associated_items.iter().map(audit_item_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "offset": offset, "limit": limit, "total": matching.len(), "records": records }),
    ))
}
