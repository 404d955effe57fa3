//! The Jira Cloud operations: request parsing, permission checks, JSON bodies.
//!
//! One file for every operation (over 600 lines on purpose): each handler is
//! short, they share the parameter, paging and JSON helpers at the top, and a
//! reader checking the simulator against Atlassian's document finds every
//! operation in one place. Paging faults live apart, in `paging_faults.rs`.

// Helpers return a finished error `Response` for the handler to hand back;
// it is built once per failed request, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::generate::{mix64, JIRA_ADMINISTRATORS};
use crate::org::{SimAuditItem, SimAuditRecord, SimProject, SimRole, SimUser};
use crate::server::{Caller, Index, Shared, World};

type Sh = State<Arc<Shared>>;
type Params = Query<Vec<(String, String)>>;

// ---------------------------------------------------------------- helpers

/// A JSON response.
fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

/// An `ErrorCollection` response.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "errorMessages": [message], "errors": {} }))
}

/// An `ErrorCollection` response naming the bad parameter.
fn field_error(field: &str, message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "errorMessages": [], "errors": { field: message } }),
    )
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn params<'a>(q: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    q.iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .filter(|v| !v.is_empty())
        .collect()
}

fn int_param(q: &[(String, String)], name: &str, default: i64) -> Result<i64, Response> {
    match param(q, name) {
        None | Some("") => Ok(default),
        Some(v) => v.trim().parse::<i64>().map_err(|_| {
            field_error(
                name,
                &format!("The value '{v}' is not a valid number for {name}."),
            )
        }),
    }
}

fn bool_param(q: &[(String, String)], name: &str, default: bool) -> Result<bool, Response> {
    match param(q, name) {
        None | Some("") => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(field_error(
            name,
            &format!("The value '{v}' is not a valid boolean for {name}."),
        )),
    }
}

/// `startAt` (negative counts as 0; ignored when the repeat-page fault is on).
fn start_at(shared: &Shared, q: &[(String, String)]) -> Result<usize, Response> {
    let s = int_param(q, "startAt", 0)?.max(0) as usize;
    Ok(if shared.faults().repeat_page { 0 } else { s })
}

/// Percent-encodes a query component.
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL of `path` with the request's parameters, `startAt` and
/// `maxResults` replaced.
fn page_url(base: &str, path: &str, q: &[(String, String)], start: usize, max: usize) -> String {
    let mut parts: Vec<String> = q
        .iter()
        .filter(|(k, _)| k != "startAt" && k != "maxResults")
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    parts.push(format!("startAt={start}"));
    parts.push(format!("maxResults={max}"));
    format!("{base}{path}?{}", parts.join("&"))
}

/// A `PageBean` over `total` items of which `values` start at `start`.
fn page_bean(
    base: &str,
    path: &str,
    q: &[(String, String)],
    start: usize,
    max: usize,
    total: usize,
    values: Vec<Value>,
) -> Value {
    let is_last = start + values.len() >= total;
    let mut page = Map::new();
    page.insert("self".into(), json!(page_url(base, path, q, start, max)));
    if !is_last {
        page.insert(
            "nextPage".into(),
            json!(page_url(base, path, q, start + max, max)),
        );
    }
    page.insert("maxResults".into(), json!(max));
    page.insert("startAt".into(), json!(start));
    page.insert("total".into(), json!(total));
    page.insert("isLast".into(), json!(is_last));
    page.insert("values".into(), Value::Array(values));
    Value::Object(page)
}

fn slice<T>(items: &[T], start: usize, max: usize) -> &[T] {
    let from = start.min(items.len());
    let to = start.saturating_add(max).min(items.len());
    &items[from..to]
}

fn initials(name: &str) -> String {
    let s: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    s.to_uppercase()
}

fn avatar_urls(name: &str, account_id: &str) -> Value {
    let n = mix64(fnv(account_id)) % 6;
    let ini = enc(&initials(name));
    let url = |s: u32| {
        format!("https://avatar-management--avatars.us-west-2.prod.public.atl-paas.example/initials/{ini}-{n}.png?size={s}&s={s}")
    };
    json!({ "48x48": url(48), "24x24": url(24), "16x16": url(16), "32x32": url(32) })
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

const TIME_ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Tokyo",
    "Europe/London",
    "America/Los_Angeles",
];

/// A user as `UserDetails` (`full` adds the `User`-only field `locale`).
/// `emailAddress` is absent when the account has none or hides it.
fn user_json(base: &str, u: &SimUser, full: bool) -> Value {
    let mut m = Map::new();
    m.insert(
        "self".into(),
        json!(format!(
            "{base}/rest/api/3/user?accountId={}",
            enc(&u.account_id)
        )),
    );
    m.insert("accountId".into(), json!(u.account_id));
    m.insert("accountType".into(), json!(u.account_type));
    if let (Some(email), false) = (&u.email, u.email_hidden) {
        m.insert("emailAddress".into(), json!(email));
    }
    m.insert(
        "avatarUrls".into(),
        avatar_urls(&u.display_name, &u.account_id),
    );
    m.insert("displayName".into(), json!(u.display_name));
    m.insert("active".into(), json!(u.active));
    if u.account_type != "app" {
        let tz = TIME_ZONES[(fnv(&u.account_id) % TIME_ZONES.len() as u64) as usize];
        m.insert("timeZone".into(), json!(tz));
    }
    if full {
        m.insert("locale".into(), json!("en_US"));
    }
    Value::Object(m)
}

fn group_self(base: &str, group_id: &str) -> String {
    format!("{base}/rest/api/3/group?groupId={}", enc(group_id))
}

fn is_jira_admin(world: &World, account_id: &str) -> bool {
    world.org.site_admins.contains(account_id)
        || world
            .index
            .group_by_name
            .get(JIRA_ADMINISTRATORS)
            .and_then(|&g| world.org.memberships.get(&world.org.groups[g].group_id))
            .is_some_and(|m| m.contains(account_id))
}

/// Resolves `groupId` xor `groupname` to a group index.
fn resolve_group(world: &World, q: &[(String, String)]) -> Result<usize, Response> {
    match (
        param(q, "groupId"),
        param(q, "groupname").or_else(|| param(q, "groupName")),
    ) {
        (Some(_), Some(_)) => Err(error(
            StatusCode::BAD_REQUEST,
            "You must specify either groupname or groupId, not both.",
        )),
        (None, None) => Err(error(
            StatusCode::BAD_REQUEST,
            "You must specify a group name or group ID.",
        )),
        (Some(id), None) => world.index.group_by_id.get(id).copied().ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                &format!("Group with ID '{id}' does not exist."),
            )
        }),
        (None, Some(name)) => world.index.group_by_name.get(name).copied().ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                &format!("Group with name '{name}' does not exist."),
            )
        }),
    }
}

/// `now` as Jira writes audit times (`2026-06-05T05:59:00.123Z`).
fn jira_time(now: grantledger_model::Timestamp) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(now.as_micros())
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Records an audit entry stamped by the world's clock.
fn push_audit(
    world: &mut World,
    author: &str,
    summary: &str,
    category: &str,
    object: SimAuditItem,
    associated: Vec<SimAuditItem>,
) {
    let created = jira_time(world.clock.now());
    let org = &mut world.org;
    let id = org.audit.last().map_or(1, |r| r.id + 1);
    org.audit.push(SimAuditRecord {
        id,
        created,
        summary: summary.into(),
        category: category.into(),
        author_account_id: author.into(),
        object_item: object,
        associated_items: associated,
    });
}

fn item(id: &str, name: &str, type_name: &str) -> SimAuditItem {
    SimAuditItem {
        id: id.into(),
        name: name.into(),
        type_name: type_name.into(),
    }
}

// ---------------------------------------------------------------- users

pub(crate) async fn tenant_info(State(shared): Sh) -> Response {
    let world = shared.read();
    json_response(StatusCode::OK, &json!({ "cloudId": world.org.cloud_id }))
}

pub(crate) async fn myself(State(shared): Sh, Extension(caller): Extension<Caller>) -> Response {
    let world = shared.read();
    match world.index.user_by_id.get(&caller.0) {
        Some(&i) => json_response(
            StatusCode::OK,
            &user_json(&shared.base_url, &world.org.users[i], true),
        ),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

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

// ---------------------------------------------------------------- groups

/// `GET /group/bulk`: a `PageBean` of `{groupId, name}`, at most 50 a page.
pub(crate) async fn group_bulk(State(shared): Sh, Query(q): Params) -> Response {
    let start = match start_at(&shared, &q) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let max = match int_param(&q, "maxResults", 50) {
        Ok(m) => m.clamp(1, 50) as usize,
        Err(r) => return r,
    };
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
    json_response(StatusCode::OK, &page)
}

/// `GET /group/member`: a `PageBean` of users, 1..=50 a page, inactive
/// members only with `includeInactiveUsers=true`.
pub(crate) async fn group_member(State(shared): Sh, Query(q): Params) -> Response {
    let start = match start_at(&shared, &q) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let max = match int_param(&q, "maxResults", 50) {
        Ok(m) => m.clamp(1, 50) as usize,
        Err(r) => return r,
    };
    let inactive = match bool_param(&q, "includeInactiveUsers", false) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let world = shared.read();
    let g = match resolve_group(&world, &q) {
        Ok(g) => g,
        Err(r) => return r,
    };
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
    json_response(StatusCode::OK, &page)
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
) -> Result<usize, Response> {
    require_site_admin(world, caller)?;
    resolve_group(world, q)
}

/// Jira's answer to a group write naming an account it does not know.
fn unknown_user() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Specified user does not exist or you do not have required permissions",
    )
}

fn require_site_admin(world: &World, caller: &Caller) -> Result<(), Response> {
    if world.org.site_admins.contains(&caller.0) {
        Ok(())
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            "You need site administration permission (membership of site-admins) to change group membership.",
        ))
    }
}

/// `POST /group/user`: 201 with the group.
pub(crate) async fn group_user_add(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    let mut guard = shared.write();
    let world = &mut *guard;
    let g = match group_write_target(world, &caller, &q) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let account_id = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => match v.get("accountId").and_then(Value::as_str) {
            Some(a) if !a.is_empty() => a.to_owned(),
            _ => {
                return field_error(
                    "accountId",
                    "You must specify the account ID of the user to add.",
                )
            }
        },
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "The request body is not valid JSON.",
            )
        }
    };
    if !world.index.user_by_id.contains_key(&account_id) {
        return unknown_user();
    }
    let group = world.org.groups[g].clone();
    let members = world
        .org
        .memberships
        .entry(group.group_id.clone())
        .or_default();
    if !members.insert(account_id.clone()) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Cannot add user. User is already a member of '{}'.",
                group.name
            ),
        );
    }
    world.index.refresh_group(&world.org, &group.group_id);
    push_audit(
        world,
        &caller.0,
        "User added to group",
        "group management",
        item(&group.name, &group.name, "GROUP"),
        vec![item(&account_id, &account_id, "USER")],
    );
    json_response(StatusCode::CREATED, &group_json(&shared.base_url, world, g))
}

/// `DELETE /group/user`: 200, no body.
pub(crate) async fn group_user_remove(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Query(q): Params,
) -> Response {
    let mut guard = shared.write();
    let world = &mut *guard;
    let g = match group_write_target(world, &caller, &q) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let Some(account_id) = param(&q, "accountId")
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
    else {
        return field_error(
            "accountId",
            "You must specify the account ID of the user to remove.",
        );
    };
    if !world.index.user_by_id.contains_key(&account_id) {
        return unknown_user();
    }
    let group = world.org.groups[g].clone();
    let removed = world
        .org
        .memberships
        .get_mut(&group.group_id)
        .is_some_and(|m| m.remove(&account_id));
    if !removed {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Cannot remove user. User is not a member of '{}'.",
                group.name
            ),
        );
    }
    world.index.refresh_group(&world.org, &group.group_id);
    push_audit(
        world,
        &caller.0,
        "User removed from group",
        "group management",
        item(&group.name, &group.name, "GROUP"),
        vec![item(&account_id, &account_id, "USER")],
    );
    StatusCode::OK.into_response()
}

// ---------------------------------------------------------------- projects

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
pub(crate) async fn project_search(State(shared): Sh, Query(q): Params) -> Response {
    let start = match start_at(&shared, &q) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let max = match int_param(&q, "maxResults", 50) {
        Ok(m) => m.clamp(1, 100) as usize,
        Err(r) => return r,
    };
    let statuses = params(&q, "status");
    if let Some(bad) = statuses
        .iter()
        .find(|s| !matches!(**s, "live" | "archived" | "deleted"))
    {
        return field_error(
            "status",
            &format!("Invalid status '{bad}': use live, archived or deleted."),
        );
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
    json_response(StatusCode::OK, &page)
}

fn find_project(index: &Index, key_or_id: &str) -> Option<usize> {
    index
        .project_by_key
        .get(key_or_id)
        .or_else(|| index.project_by_id.get(key_or_id))
        .copied()
}

fn no_project(key: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("No project could be found with key '{key}'."),
    )
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
) -> Response {
    let world = shared.read();
    let Some(p) = find_project(&world.index, &key) else {
        return no_project(&key);
    };
    if !can_admin_project(&world, p, &caller) {
        return no_project(&key);
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
    json_response(StatusCode::OK, &Value::Object(map))
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
) -> Result<(usize, usize), Response> {
    let p = find_project(&world.index, key).ok_or_else(|| no_project(key))?;
    if !can_admin_project(world, p, caller) {
        return Err(no_project(key));
    }
    let r = id
        .parse::<u64>()
        .ok()
        .and_then(|id| world.org.projects[p].roles.iter().position(|r| r.id == id))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Role with given id not found."))?;
    Ok((p, r))
}

/// `GET /project/{k}/role/{id}`.
pub(crate) async fn project_role(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Path((key, id)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let exclude = match bool_param(&q, "excludeInactiveUsers", false) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let world = shared.read();
    match resolve_role(&world, &caller, &key, &id) {
        Ok((p, r)) => {
            let role = &world.org.projects[p].roles[r];
            json_response(
                StatusCode::OK,
                &role_json(&shared.base_url, &world, p, role, exclude),
            )
        }
        Err(resp) => resp,
    }
}

fn string_list(v: &Value, field: &str) -> Result<Vec<String>, Response> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| field_error(field, "Expected a list of strings."))
            })
            .collect(),
        Some(_) => Err(field_error(field, "Expected a list of strings.")),
    }
}

/// `POST /project/{k}/role/{id}` with an `ActorsMap`: 200 with the whole role.
pub(crate) async fn role_actor_add(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Path((key, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut guard = shared.write();
    let world = &mut *guard;
    let (p, r) = match resolve_role(world, &caller, &key, &id) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON.",
        );
    };
    if let Some(extra) = body.as_object().and_then(|o| {
        o.keys()
            .find(|k| !matches!(k.as_str(), "user" | "group" | "groupId"))
    }) {
        return field_error(extra, "Unrecognized field: use user, group or groupId.");
    }
    let (users, names, ids) = match (
        string_list(&body, "user"),
        string_list(&body, "group"),
        string_list(&body, "groupId"),
    ) {
        (Ok(u), Ok(n), Ok(i)) => (u, n, i),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    if !names.is_empty() && !ids.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "You cannot specify both group and groupId.",
        );
    }
    if users.is_empty() && names.is_empty() && ids.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "You must specify at least one user or group to add.",
        );
    }
    // Validate everything before changing anything.
    for u in &users {
        match world.index.user_by_id.get(u) {
            Some(&i) if world.org.users[i].active => {}
            _ => {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("The user with account ID '{u}' does not exist or is not active."),
                )
            }
        }
    }
    let mut group_ids = Vec::new();
    for n in &names {
        match world.index.group_by_name.get(n) {
            Some(&g) => group_ids.push(world.org.groups[g].group_id.clone()),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("The group '{n}' does not exist."),
                )
            }
        }
    }
    for i in &ids {
        if !world.index.group_by_id.contains_key(i) {
            return error(
                StatusCode::NOT_FOUND,
                &format!("The group with ID '{i}' does not exist."),
            );
        }
        group_ids.push(i.clone());
    }
    let role = &world.org.projects[p].roles[r];
    let dup_user = users.iter().find(|u| role.user_actors.contains(*u));
    let dup_group = group_ids.iter().find(|g| role.group_actors.contains(*g));
    if let Some(dup) = dup_user.or(dup_group) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("'{dup}' is already a member of the project role."),
        );
    }
    let project_item = item(
        &world.org.projects[p].id,
        &world.org.projects[p].name,
        "PROJECT",
    );
    let role_item = item(&role.id.to_string(), &role.name, "PROJECT_ROLE");
    let role = &mut world.org.projects[p].roles[r];
    role.user_actors.extend(users.iter().cloned());
    role.group_actors.extend(group_ids.iter().cloned());
    let mut associated = vec![project_item];
    associated.extend(users.iter().map(|u| item(u, u, "USER")));
    associated.extend(group_ids.iter().map(|g| item(g, g, "GROUP")));
    push_audit(
        world,
        &caller.0,
        "Project role actors added",
        "projects",
        role_item,
        associated,
    );
    let role = &world.org.projects[p].roles[r];
    json_response(
        StatusCode::OK,
        &role_json(&shared.base_url, world, p, role, false),
    )
}

/// `DELETE /project/{k}/role/{id}?user=|group=|groupId=`: 204.
pub(crate) async fn role_actor_remove(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
    Path((key, id)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let mut guard = shared.write();
    let world = &mut *guard;
    let (p, r) = match resolve_role(world, &caller, &key, &id) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let given: Vec<(&str, &str)> = ["user", "group", "groupId"]
        .into_iter()
        .filter_map(|k| param(&q, k).filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
    let (kind, value) = match given.as_slice() {
        [one] => *one,
        [] => {
            return error(
                StatusCode::BAD_REQUEST,
                "You must specify a user, group or groupId to remove.",
            )
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "Specify only one of user, group and groupId.",
            )
        }
    };
    let (is_user, actor) = match kind {
        "user" => (true, value.to_owned()),
        "group" => match world.index.group_by_name.get(value) {
            Some(&g) => (false, world.org.groups[g].group_id.clone()),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("The group '{value}' does not exist."),
                )
            }
        },
        _ => (false, value.to_owned()),
    };
    let project_item = item(
        &world.org.projects[p].id,
        &world.org.projects[p].name,
        "PROJECT",
    );
    let role = &mut world.org.projects[p].roles[r];
    let removed = if is_user {
        role.user_actors.remove(&actor)
    } else {
        role.group_actors.remove(&actor)
    };
    if !removed {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("'{value}' is not a member of the project role."),
        );
    }
    let role_item = item(&role.id.to_string(), &role.name, "PROJECT_ROLE");
    let actor_item = item(&actor, &actor, if is_user { "USER" } else { "GROUP" });
    push_audit(
        world,
        &caller.0,
        "Project role actors removed",
        "projects",
        role_item,
        vec![project_item, actor_item],
    );
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------- products, audit

/// `GET /applicationrole`: a bare array of products with their groups.
pub(crate) async fn application_roles(
    State(shared): Sh,
    Extension(caller): Extension<Caller>,
) -> Response {
    let world = shared.read();
    if !is_jira_admin(&world, &caller.0) {
        return error(
            StatusCode::FORBIDDEN,
            "You must be a Jira administrator to view application roles.",
        );
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
    json_response(StatusCode::OK, &Value::Array(roles))
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
) -> Response {
    let offset = match int_param(&q, "offset", 0) {
        Ok(o) => o.max(0) as usize,
        Err(r) => return r,
    };
    let limit = match int_param(&q, "limit", 1000) {
        Ok(l) => l.clamp(0, 1000) as usize,
        Err(r) => return r,
    };
    let mut bounds = [None, None];
    for (slot, name) in bounds.iter_mut().zip(["from", "to"]) {
        if let Some(v) = param(&q, name).filter(|v| !v.is_empty()) {
            match parse_time(v) {
                Some(t) => *slot = Some(t),
                None => return field_error(name, &format!("'{v}' is not a valid date.")),
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
        return error(
            StatusCode::FORBIDDEN,
            "You do not have permission to view the audit log.",
        );
    }
    let matching: Vec<&SimAuditRecord> = world
        .org
        .audit
        .iter()
        .rev()
        .filter(|r| {
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
    json_response(
        StatusCode::OK,
        &json!({ "offset": offset, "limit": limit, "total": matching.len(), "records": records }),
    )
}
