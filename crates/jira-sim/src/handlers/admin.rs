//! Site-level operations: the tenant, the caller (`myself`) and the audit log.

use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::render::{json_response, slice, user_json, ApiError};
use super::request::{int_param, param};
use super::{is_jira_admin, Params, Sh};
use crate::org::{SimAuditChange, SimAuditItem, SimAuditRecord};
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
    let mut o = Map::new();
    if !i.id.is_empty() {
        o.insert("id".into(), json!(i.id));
    }
    o.insert("name".into(), json!(i.name));
    o.insert("typeName".into(), json!(i.type_name));
    if let Some((id, name)) = &i.directory {
        o.insert("parentId".into(), json!(id));
        o.insert("parentName".into(), json!(name));
    }
    Value::Object(o)
}

fn audit_change_json(c: &SimAuditChange) -> Value {
    let mut o = Map::new();
    o.insert("fieldName".into(), json!(c.field_name));
    if let Some(from) = &c.changed_from {
        o.insert("changedFrom".into(), json!(from));
    }
    if let Some(to) = &c.changed_to {
        o.insert("changedTo".into(), json!(to));
    }
    Value::Object(o)
}

/// A record as Jira serves it: keys omitted, never null; no author, key or
/// address on a change made outside Jira; `changedValues` absent when empty.
fn audit_record_json(r: &SimAuditRecord) -> Value {
    let created = parse_time(&r.created)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string())
        .unwrap_or_else(|| r.created.clone());
    let mut o = Map::new();
    o.insert("id".into(), json!(r.id));
    o.insert("summary".into(), json!(r.summary));
    if let Some(author) = &r.author_account_id {
        o.insert("remoteAddress".into(), json!("127.0.0.1"));
        o.insert("authorKey".into(), json!(author));
        o.insert("authorAccountId".into(), json!(author));
    }
    o.insert("created".into(), json!(created));
    o.insert("category".into(), json!(r.category));
    o.insert("eventSource".into(), json!(""));
    o.insert("objectItem".into(), audit_item_json(&r.object_item));
    if !r.changed_values.is_empty() {
        o.insert(
            "changedValues".into(),
            r.changed_values.iter().map(audit_change_json).collect(),
        );
    }
    o.insert(
        "associatedItems".into(),
        r.associated_items.iter().map(audit_item_json).collect(),
    );
    Value::Object(o)
}

/// The text a `filter` token is looked for in (lower-cased): summary,
/// category, the items' names and types, the changed values.
fn audit_search_text(r: &SimAuditRecord) -> String {
    let mut text = format!("{} {}", r.summary, r.category);
    for i in std::iter::once(&r.object_item).chain(&r.associated_items) {
        text.push(' ');
        text.push_str(&i.name);
        text.push(' ');
        text.push_str(&i.type_name);
    }
    for c in &r.changed_values {
        for v in [&c.changed_from, &c.changed_to].into_iter().flatten() {
            text.push(' ');
            text.push_str(v);
        }
    }
    text.to_lowercase()
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
            // Jira answers nothing when `from` is not before `to`.
            if let [Some(from), Some(to)] = bounds {
                if from >= to {
                    return false;
                }
            }
            let t = parse_time(&r.created);
            bounds[0].is_none_or(|from| t.is_some_and(|t| t >= from))
                && bounds[1].is_none_or(|to| t.is_some_and(|t| t <= to))
        })
        .filter(|r| {
            if words.is_empty() {
                return true;
            }
            let text = audit_search_text(r);
            words.iter().all(|w| text.contains(w.as_str()))
        })
        .collect();
    let records: Vec<Value> = slice(&matching, offset, limit)
        .iter()
        .map(|r| audit_record_json(r))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "offset": offset, "limit": limit, "total": matching.len(), "records": records }),
    ))
}
