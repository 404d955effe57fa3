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

use crate::generate::{DIRECTORY_ID, DIRECTORY_NAME, JIRA_ADMINISTRATORS};
use crate::org::{SimAuditChange, SimAuditItem, SimAuditRecord};
use crate::state::{Shared, World};

mod admin;
mod groups;
mod products;
mod projects;
mod render;
mod request;
mod users;

pub(crate) use admin::{audit_records, myself, tenant_info};

/// Records a deactivation (`active: false`) or reactivation of `account_id`
/// by `author` (`None`: made outside Jira) as Jira does: `User updated` with
/// `Active / Inactive` changed.
pub(crate) fn record_user_activity(
    world: &mut World,
    account_id: &str,
    active: bool,
    author: Option<&str>,
) {
    let state = |a: bool| Some(if a { "Active" } else { "Inactive" }.to_owned());
    let user = user_item(account_id);
    push_audit(
        world,
        author,
        AuditEntry {
            summary: "User updated",
            category: "user management",
            object: user.clone(),
            associated: vec![user],
            changed: vec![SimAuditChange {
                field_name: "Active / Inactive".into(),
                changed_from: state(!active),
                changed_to: state(active),
            }],
        },
    );
}
pub(crate) use groups::{group_bulk, group_member, group_user_add, group_user_remove};
pub(crate) use products::application_roles;
pub(crate) use projects::{
    project_role, project_roles, project_search, role_actor_add, role_actor_remove,
};
pub(crate) use render::ApiError;
pub(crate) use request::caller;
pub(crate) use users::{user, user_groups, users_search};

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

/// What one audit record says, before it is stamped and numbered.
pub(crate) struct AuditEntry {
    pub summary: &'static str,
    pub category: &'static str,
    pub object: SimAuditItem,
    pub associated: Vec<SimAuditItem>,
    pub changed: Vec<SimAuditChange>,
}

/// Records an audit entry by `author` (`None`: made outside Jira, served
/// without an author) stamped by the world's clock.
pub(crate) fn push_audit(world: &mut World, author: Option<&str>, entry: AuditEntry) {
    let created = jira_time(world.clock.now());
    let org = &mut world.org;
    let id = org.audit.last().map_or(1, |r| r.id + 1);
    org.audit.push(SimAuditRecord {
        id,
        created,
        summary: entry.summary.into(),
        category: entry.category.into(),
        author_account_id: author.map(str::to_owned),
        object_item: entry.object,
        associated_items: entry.associated,
        changed_values: entry.changed,
    });
}

/// A group as Jira names it in a record: by name, without an id.
pub(crate) fn group_item(name: &str) -> SimAuditItem {
    SimAuditItem {
        id: String::new(),
        name: name.into(),
        type_name: "GROUP".into(),
        directory: Some((DIRECTORY_ID.into(), DIRECTORY_NAME.into())),
    }
}

/// A user as a record names it (id and name both the account id).
pub(crate) fn user_item(account_id: &str) -> SimAuditItem {
    SimAuditItem {
        id: account_id.into(),
        name: account_id.into(),
        type_name: "USER".into(),
        directory: Some((DIRECTORY_ID.into(), DIRECTORY_NAME.into())),
    }
}

/// A project or a project role (id and name, no directory).
pub(crate) fn plain_item(id: &str, name: &str, type_name: &str) -> SimAuditItem {
    SimAuditItem {
        id: id.into(),
        name: name.into(),
        type_name: type_name.into(),
        directory: None,
    }
}

/// One `changedValues` entry of a list field (`Users`, `Groups`): the whole
/// list before and after, joined with `", "`, an empty side omitted.
pub(crate) fn list_change(field: &str, before: &[String], after: &[String]) -> SimAuditChange {
    let side = |l: &[String]| (!l.is_empty()).then(|| l.join(", "));
    SimAuditChange {
        field_name: field.into(),
        changed_from: side(before),
        changed_to: side(after),
    }
}
