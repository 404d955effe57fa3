//! Request parsing: query parameters, paging parameters and JSON bodies.

use axum::http::HeaderValue;
use base64::Engine as _;
use serde_json::Value;

use super::render::ApiError;
use crate::state::{Caller, Shared};

pub(super) fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub(super) fn params<'a>(q: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    q.iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .filter(|v| !v.is_empty())
        .collect()
}

pub(super) fn int_param(q: &[(String, String)], name: &str, default: i64) -> Result<i64, ApiError> {
    match param(q, name) {
        None | Some("") => Ok(default),
        Some(v) => v.trim().parse::<i64>().map_err(|_| {
            ApiError::field(
                name,
                format!("The value '{v}' is not a valid number for {name}."),
            )
        }),
    }
}

pub(super) fn bool_param(
    q: &[(String, String)],
    name: &str,
    default: bool,
) -> Result<bool, ApiError> {
    match param(q, name) {
        None | Some("") => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ApiError::field(
            name,
            format!("The value '{v}' is not a valid boolean for {name}."),
        )),
    }
}

/// `startAt` (negative counts as 0; ignored when the repeat-page fault is on).
pub(super) fn start_at(shared: &Shared, q: &[(String, String)]) -> Result<usize, ApiError> {
    let s = int_param(q, "startAt", 0)?.max(0) as usize;
    Ok(if shared.faults().repeat_page { 0 } else { s })
}

pub(super) fn string_list(v: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::field(field, "Expected a list of strings."))
            })
            .collect(),
        Some(_) => Err(ApiError::field(field, "Expected a list of strings.")),
    }
}

/// The caller behind a Basic `Authorization` header, if the credentials are
/// known and the account exists and is active.
pub(crate) fn caller(shared: &Shared, header: Option<&HeaderValue>) -> Option<Caller> {
    let value = header?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (email, token) = decoded.split_once(':')?;
    let account_id = shared
        .credentials()
        .iter()
        .find(|c| c.email.eq_ignore_ascii_case(email) && c.token == token)?
        .account_id
        .clone();
    let world = shared.read();
    let user = world
        .index
        .user_by_id
        .get(&account_id)
        .map(|&i| &world.org.users[i])?;
    user.active.then_some(Caller(account_id))
}
