//! The operations the client performs, and counters of what they cost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// One REST operation of the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `GET /_edge/tenant_info`
    TenantInfo,
    /// `GET /rest/api/3/myself`
    Myself,
    /// `GET /rest/api/3/users/search`
    UsersSearch,
    /// `GET /rest/api/3/group/bulk`
    GroupBulk,
    /// `GET /rest/api/3/group/member`
    GroupMember,
    /// `POST /rest/api/3/group/user`
    AddGroupMember,
    /// `DELETE /rest/api/3/group/user`
    RemoveGroupMember,
    /// `GET /rest/api/3/project/search`
    ProjectSearch,
    /// `GET /rest/api/3/project/{projectIdOrKey}/role`
    ProjectRoles,
    /// `GET /rest/api/3/project/{projectIdOrKey}/role/{id}`
    ProjectRole,
    /// `POST /rest/api/3/project/{projectIdOrKey}/role/{id}`
    AddRoleActor,
    /// `DELETE /rest/api/3/project/{projectIdOrKey}/role/{id}`
    RemoveRoleActor,
    /// `GET /rest/api/3/applicationrole`
    ApplicationRoles,
    /// `GET /rest/api/3/auditing/record`
    AuditRecords,
    /// `GET /rest/api/3/user?accountId=`
    User,
    /// `GET /rest/api/3/user/groups?accountId=`
    UserGroups,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const ALL: [Operation; 16] = [
        Operation::TenantInfo,
        Operation::Myself,
        Operation::UsersSearch,
        Operation::GroupBulk,
        Operation::GroupMember,
        Operation::AddGroupMember,
        Operation::RemoveGroupMember,
        Operation::ProjectSearch,
        Operation::ProjectRoles,
        Operation::ProjectRole,
        Operation::AddRoleActor,
        Operation::RemoveRoleActor,
        Operation::ApplicationRoles,
        Operation::AuditRecords,
        Operation::User,
        Operation::UserGroups,
    ];

    /// `METHOD path-template`, as errors and metrics name it.
    pub fn endpoint(self) -> &'static str {
        match self {
            Operation::TenantInfo => "GET /_edge/tenant_info",
            Operation::Myself => "GET /rest/api/3/myself",
            Operation::UsersSearch => "GET /rest/api/3/users/search",
            Operation::GroupBulk => "GET /rest/api/3/group/bulk",
            Operation::GroupMember => "GET /rest/api/3/group/member",
            Operation::AddGroupMember => "POST /rest/api/3/group/user",
            Operation::RemoveGroupMember => "DELETE /rest/api/3/group/user",
            Operation::ProjectSearch => "GET /rest/api/3/project/search",
            Operation::ProjectRoles => "GET /rest/api/3/project/{projectIdOrKey}/role",
            Operation::ProjectRole => "GET /rest/api/3/project/{projectIdOrKey}/role/{id}",
            Operation::AddRoleActor => "POST /rest/api/3/project/{projectIdOrKey}/role/{id}",
            Operation::RemoveRoleActor => "DELETE /rest/api/3/project/{projectIdOrKey}/role/{id}",
            Operation::ApplicationRoles => "GET /rest/api/3/applicationrole",
            Operation::AuditRecords => "GET /rest/api/3/auditing/record",
            Operation::User => "GET /rest/api/3/user",
            Operation::UserGroups => "GET /rest/api/3/user/groups",
        }
    }

    /// Whether the operation changes Jira.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Operation::AddGroupMember
                | Operation::RemoveGroupMember
                | Operation::AddRoleActor
                | Operation::RemoveRoleActor
        )
    }

    /// The permission a 403 from this operation points at.
    pub fn permission(self) -> &'static str {
        match self {
            Operation::AddGroupMember | Operation::RemoveGroupMember => {
                "site-admin rights (group membership writes need a site admin, not just a Jira admin)"
            }
            Operation::UsersSearch
            | Operation::GroupBulk
            | Operation::User
            | Operation::UserGroups => {
                "the 'Browse users and groups' global permission"
            }
            Operation::GroupMember => {
                "the 'Browse users and groups' global permission (Jira documents 'Administer Jira' for listing members)"
            }
            Operation::ProjectRoles
            | Operation::ProjectRole
            | Operation::AddRoleActor
            | Operation::RemoveRoleActor => {
                "'Administer Projects' on the project (or the 'Administer Jira' global permission)"
            }
            Operation::ApplicationRoles | Operation::AuditRecords => {
                "the 'Administer Jira' global permission"
            }
            Operation::ProjectSearch => "'Browse Projects' on the projects",
            Operation::Myself | Operation::TenantInfo => "a valid, active account",
        }
    }

    fn index(self) -> usize {
        Operation::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// Live counters, shared by every clone of a client.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    pages: AtomicU64,
    bytes: AtomicU64,
    wait_ms: AtomicU64,
    connection_wait_ms: AtomicU64,
    connection_failures: AtomicU64,
    rate_limited: AtomicU64,
    by_op: [AtomicU64; 16],
}

impl Counters {
    pub(crate) fn request(&self, op: Operation) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.by_op[op.index()].fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn page(&self) {
        self.pages.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn bytes(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub(crate) fn waited(&self, d: std::time::Duration) {
        self.wait_ms.fetch_add(
            d.as_millis().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    /// Time waited after a connection failure (not a rate limit).
    pub(crate) fn connection_waited(&self, d: std::time::Duration) {
        self.connection_wait_ms.fetch_add(
            d.as_millis().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }
    pub(crate) fn connection_failure(&self) {
        self.connection_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        let mut by_operation = BTreeMap::new();
        for op in Operation::ALL {
            let n = self.by_op[op.index()].load(Ordering::Relaxed);
            if n > 0 {
                by_operation.insert(op.endpoint(), n);
            }
        }
        Metrics {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            pages: self.pages.load(Ordering::Relaxed),
            bytes_received: self.bytes.load(Ordering::Relaxed),
            wait_ms: self.wait_ms.load(Ordering::Relaxed),
            connection_wait_ms: self.connection_wait_ms.load(Ordering::Relaxed),
            connection_failures: self.connection_failures.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            by_operation,
        }
    }
}

/// A snapshot of what the client has cost so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Of those, retries.
    pub retries: u64,
    /// List pages received.
    pub pages: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
    /// Milliseconds spent waiting on Jira's pushback (`Retry-After`, site-wide
    /// pauses, backoff after 429/5xx answers). Waiting after a connection
    /// failure is counted in `connection_wait_ms` instead.
    pub wait_ms: u64,
    /// Milliseconds spent waiting after connection failures (refused, timed
    /// out, dropped) before trying again.
    pub connection_wait_ms: u64,
    /// Requests that got no answer (refused, timed out, dropped).
    pub connection_failures: u64,
    /// 429 responses seen.
    pub rate_limited: u64,
    /// Requests per operation (`METHOD path-template`), only those used.
    pub by_operation: BTreeMap<&'static str, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_snapshot_per_operation() {
        let c = Counters::default();
        c.request(Operation::UsersSearch);
        c.request(Operation::UsersSearch);
        c.request(Operation::GroupMember);
        c.retry();
        c.bytes(10);
        c.waited(std::time::Duration::from_millis(1500));
        let m = c.snapshot();
        assert_eq!(m.requests, 3);
        assert_eq!(m.retries, 1);
        assert_eq!(m.bytes_received, 10);
        assert_eq!(m.wait_ms, 1500);
        assert_eq!(m.by_operation["GET /rest/api/3/users/search"], 2);
        assert_eq!(m.by_operation.len(), 2);
        let mut eps: Vec<_> = Operation::ALL.iter().map(|o| o.endpoint()).collect();
        eps.dedup();
        assert_eq!(eps.len(), Operation::ALL.len());
    }
}
