//! The Jira Cloud operations, one module per area.
//!
//! `request` parses what comes in (query parameters, paging, bodies) and
//! `render` writes what goes out (Jira's JSON for users, groups, pages and
//! errors); `users`, `groups`, `projects`, `products` and `admin` (tenant,
//! `myself`, audit log) hold the operations. They return
//! `Result<Response, ApiError>`: a failure is an [`ApiError`], rendered as
//! Jira renders it. Paging faults live apart, in `paging_faults.rs`. What
//! several areas share, the Jira-admin check and the audit records that
//! writes append, is here.

use std::sync::Arc;

use axum::extract::{Query, State};

use crate::generate::JIRA_ADMINISTRATORS;
use crate::org::{SimAuditItem, SimAuditRecord};
use crate::state::{Shared, World};

mod admin;
mod groups;
mod products;
mod projects;
mod render;
mod request;
mod users;

pub(crate) use admin::{audit_records, myself, tenant_info};
pub(crate) use groups::{group_bulk, group_member, group_user_add, group_user_remove};
pub(crate) use products::application_roles;
pub(crate) use projects::{
    project_role, project_roles, project_search, role_actor_add, role_actor_remove,
};
pub(crate) use render::ApiError;
pub(crate) use request::caller;
pub(crate) use users::{user, users_search};

type Sh = State<Arc<Shared>>;
type Params = Query<Vec<(String, String)>>;

fn is_jira_admin(world: &World, account_id: &str) -> bool {
    world.org.site_admins.contains(account_id)
        || world
            .index
            .group_by_name
            .get(JIRA_ADMINISTRATORS)
            .and_then(|&g| world.org.memberships.get(&world.org.groups[g].group_id))
            .is_some_and(|m| m.contains(account_id))
}

/// `now` as Jira writes audit times (`2026-06-05T05:59:00.123Z`).
fn jira_time(now: grantledger_model::Timestamp) -> String {
    grantledger_clock::utc(now).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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
