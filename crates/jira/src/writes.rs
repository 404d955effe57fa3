//! The writes: group membership and project role actors, each made idempotent.
//!
//! A write is never repeated blindly. The transport retries a write only after
//! a 429 or 503 (Jira refused it without acting) or when the connection was
//! never made. When the outcome is unknown — a timeout, a dropped connection,
//! a 500/502/504 after the request may have reached Jira — the write reads the
//! current state and only sends again if the change is not in effect. When
//! Jira refuses the write (400/404), the state is read as well, so that "it
//! was already so" is success. The outcome is decided by the state read back,
//! never by the wording of Jira's message:
//!
//! | write | before | outcome unknown | refused (400/404) |
//! |---|---|---|---|
//! | add group member | — | membership check: member → done, else send again | membership check: member → done, else the error |
//! | remove group member | — | membership check: absent → done, else send again | membership check: absent → done (a missing group stays an error), else the error |
//! | add role actor | read the role: present → done, no write | read the role: present → done, else send again | read the role: present → done, else the error |
//! | remove role actor | — | read the role: absent → done, else send again | read the role: absent → done (a missing project/role stays an error), else the error |
//!
//! Group membership and role actors are sets, so a change applied twice lands
//! once; the re-reads keep the number of *writes* at one where Jira already
//! acted (which keeps Jira's audit log honest too). Jira's wording is never
//! read to decide anything: a refusal is classified by its status and checked
//! against the state.
//!
//! The membership check ([`JiraClient::is_group_member`]) reads the account's
//! groups (`/user/groups`, one request whatever the group's size) and, when the
//! group is not among them, the first page of the group's members, which fails
//! with the group's own 404 when the group is gone.
//!
//! The writes take the model's typed ids ([`GroupId`], [`AccountId`],
//! [`ProjectId`], [`RoleId`], and a [`Principal`] for a role actor), so a
//! caller cannot pass a group where an account belongs.

use grantledger_model::{AccountId, GroupId, Principal, ProjectId, RoleId};
use reqwest::Method;
use serde_json::json;

use crate::backoff::backoff_delay;
use crate::client::{decode, Call, JiraClient};
use crate::error::JiraError;
use crate::metrics::Operation;
use crate::types::{ProjectRole, WriteOutcome};

fn describe(actor: &Principal) -> String {
    match actor {
        Principal::User(a) => format!("user '{a}'"),
        Principal::Group(g) => format!("group '{g}'"),
    }
}

fn is_in(actor: &Principal, role: &ProjectRole) -> bool {
    match actor {
        Principal::User(a) => role.has_user(a.as_str()),
        Principal::Group(g) => role.has_group(g.as_str(), None),
    }
}

/// Whether the error leaves the write's outcome unknown.
fn outcome_unknown(e: &JiraError) -> bool {
    matches!(
        e,
        JiraError::Transport { .. }
            | JiraError::Server {
                status: 500 | 502 | 504,
                ..
            }
    )
}

/// Whether Jira refused the write (so the state decides).
fn refused(e: &JiraError) -> bool {
    matches!(
        e,
        JiraError::NotFound { .. }
            | JiraError::Rejected {
                status: 400 | 409,
                ..
            }
    )
}

impl JiraClient {
    /// Sends a write and makes sure its effect holds, never resending blindly:
    /// - answered: `check_answer` validates the body, and the write was applied;
    /// - refused (400/404/409): a re-read showing the desired state (`holds`)
    ///   means it is in effect; otherwise the refusal stands;
    /// - outcome unknown (timeout, dropped connection, 500/502/504): re-read; if
    ///   the desired state holds, the write took effect; else pause and resend, up
    ///   to the retry budget.
    async fn reconcile<F, Fut>(
        &self,
        call: &Call,
        holds: F,
        check_answer: impl Fn(&[u8]) -> Result<(), JiraError>,
    ) -> Result<WriteOutcome, JiraError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<bool, JiraError>>,
    {
        let rounds = self.inner.config.retry.max_attempts;
        let mut unsure = false;
        for round in 1..=rounds {
            let done = if unsure {
                WriteOutcome::ConfirmedAfterRetry
            } else {
                WriteOutcome::AlreadyInEffect
            };
            match self.execute(call).await {
                Ok(answer) => {
                    check_answer(&answer.body)?;
                    return Ok(WriteOutcome::Applied);
                }
                Err(e) if refused(&e) => {
                    if holds().await? {
                        return Ok(done);
                    }
                    return Err(e);
                }
                Err(e) if outcome_unknown(&e) => {
                    tracing::warn!(resource = %call.resource, "a write's outcome is unknown ({e}); re-checking");
                    unsure = true;
                    if holds().await? {
                        return Ok(WriteOutcome::ConfirmedAfterRetry);
                    }
                    if round == rounds {
                        return Err(e);
                    }
                    self.pause_before_resend(round).await;
                }
                Err(e) => return Err(e),
            }
        }
        unreachable_rounds(call.op)
    }

    async fn pause_before_resend(&self, round: u32) {
        let policy = &self.inner.config.retry;
        let wait = backoff_delay(policy, round.saturating_sub(1), 1.0);
        self.inner.counters.waited(wait);
        self.inner.clock.sleep(wait).await;
    }

    /// Whether `account_id` is a member of the group (inactive users included).
    ///
    /// One request for a member: the account's groups (`/user/groups`), whatever
    /// the group's size. When the group is not among them (or the account is
    /// unknown to Jira, which makes it a member of nothing), one page of the
    /// group's members is read as well, so that a missing group stays an error
    /// (`NotFound` for the group) as it always was. Only if Jira lists a group
    /// without its `groupId` does this fall back to paging through the group's
    /// members.
    pub async fn is_group_member(
        &self,
        group_id: &GroupId,
        account_id: &AccountId,
    ) -> Result<bool, JiraError> {
        let groups = self.user_groups(account_id.as_str()).await?;
        let listed = groups.as_deref().unwrap_or(&[]);
        if listed
            .iter()
            .any(|g| g.group_id.as_deref() == Some(group_id.as_str()))
        {
            return Ok(true);
        }
        let mut pages = self.group_members_pages(group_id.as_str());
        let first = pages.next_page().await?;
        if listed.iter().all(|g| g.group_id.is_some()) {
            return Ok(false);
        }
        // Some group came without its id: decide from the group's own listing.
        let mut page = first;
        while let Some(members) = page {
            if members.iter().any(|u| u.account_id == account_id.as_str()) {
                return Ok(true);
            }
            page = pages.next_page().await?;
        }
        Ok(false)
    }

    /// Adds a user to a group (`POST /group/user?groupId`, body `{"accountId"}`).
    /// Needs site-admin rights. Idempotent: see the module docs.
    pub async fn add_group_member(
        &self,
        group_id: &GroupId,
        account_id: &AccountId,
    ) -> Result<WriteOutcome, JiraError> {
        let mut url = self.api_url(&["group", "user"]);
        url.query_pairs_mut()
            .append_pair("groupId", group_id.as_str());
        let call = Call {
            op: Operation::AddGroupMember,
            method: Method::POST,
            url,
            body: Some(json!({ "accountId": account_id.as_str() })),
            resource: format!("group '{group_id}' (adding account '{account_id}')"),
            repeatable: false,
        };
        self.reconcile(
            &call,
            || self.is_group_member(group_id, account_id),
            |_| Ok(()),
        )
        .await
    }

    /// Removes a user from a group (`DELETE /group/user?groupId&accountId`).
    /// Needs site-admin rights. Idempotent: see the module docs.
    pub async fn remove_group_member(
        &self,
        group_id: &GroupId,
        account_id: &AccountId,
    ) -> Result<WriteOutcome, JiraError> {
        let mut url = self.api_url(&["group", "user"]);
        url.query_pairs_mut()
            .append_pair("groupId", group_id.as_str())
            .append_pair("accountId", account_id.as_str());
        let call = Call {
            op: Operation::RemoveGroupMember,
            method: Method::DELETE,
            url,
            body: None,
            resource: format!("group '{group_id}' (removing account '{account_id}')"),
            repeatable: false,
        };
        // A missing group makes the listing fail with its own 404.
        self.reconcile(
            &call,
            || async { Ok(!self.is_group_member(group_id, account_id).await?) },
            |_| Ok(()),
        )
        .await
    }

    /// Adds a user or group actor to a project role (`POST /project/{k}/role/{id}`,
    /// body `{"user":[..]}` or `{"groupId":[..]}`). Reads the role first and
    /// writes nothing if the actor is already there. Idempotent: see the module docs.
    pub async fn add_role_actor(
        &self,
        project_id: &ProjectId,
        role_id: &RoleId,
        actor: &Principal,
    ) -> Result<WriteOutcome, JiraError> {
        let (project, role_id) = (project_id.as_str(), role_id.as_str());
        if is_in(actor, &self.role(project, role_id).await?) {
            return Ok(WriteOutcome::AlreadyInEffect);
        }
        let body = match actor {
            Principal::User(a) => json!({ "user": [a.as_str()] }),
            Principal::Group(g) => json!({ "groupId": [g.as_str()] }),
        };
        let call = Call {
            op: Operation::AddRoleActor,
            method: Method::POST,
            url: self.api_url(&["project", project, "role", role_id]),
            body: Some(body),
            resource: format!(
                "role {role_id} of project '{project}' (adding {})",
                describe(actor)
            ),
            repeatable: false,
        };
        self.reconcile(
            &call,
            || async { Ok(is_in(actor, &self.role(project, role_id).await?)) },
            // The answer is the whole role; decoding checks it is one.
            |body| decode::<ProjectRole>(Operation::AddRoleActor, body).map(|_| ()),
        )
        .await
    }

    /// Removes a user or group actor from a project role
    /// (`DELETE /project/{k}/role/{id}?user=` or `?groupId=`). Idempotent: see
    /// the module docs.
    pub async fn remove_role_actor(
        &self,
        project_id: &ProjectId,
        role_id: &RoleId,
        actor: &Principal,
    ) -> Result<WriteOutcome, JiraError> {
        let (project, role_id) = (project_id.as_str(), role_id.as_str());
        let mut url = self.api_url(&["project", project, "role", role_id]);
        match actor {
            Principal::User(a) => url.query_pairs_mut().append_pair("user", a.as_str()),
            Principal::Group(g) => url.query_pairs_mut().append_pair("groupId", g.as_str()),
        };
        let call = Call {
            op: Operation::RemoveRoleActor,
            method: Method::DELETE,
            url,
            body: None,
            resource: format!(
                "role {role_id} of project '{project}' (removing {})",
                describe(actor)
            ),
            repeatable: false,
        };
        // A missing project or role makes the read fail with its own 404.
        self.reconcile(
            &call,
            || async { Ok(!is_in(actor, &self.role(project, role_id).await?)) },
            |_| Ok(()),
        )
        .await
    }
}

/// The loops above return from their last round; this keeps the compiler (and
/// a zero `max_attempts`, which `JiraClient::new` refuses) honest without a panic.
fn unreachable_rounds(op: Operation) -> Result<WriteOutcome, JiraError> {
    Err(JiraError::Config(format!(
        "{}: retry.max_attempts must be at least 1",
        op.endpoint()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_errors_leave_the_outcome_unknown() {
        let t = JiraError::Transport {
            endpoint: "x",
            reason: "r".into(),
            attempts: 1,
        };
        assert!(outcome_unknown(&t));
        let s = |status| JiraError::Server {
            endpoint: "x",
            status,
            attempts: 1,
            message: None,
        };
        assert!(outcome_unknown(&s(502)));
        assert!(outcome_unknown(&s(504)));
        assert!(!outcome_unknown(&s(503)), "503 is retried by the transport");
        let r = JiraError::Rejected {
            endpoint: "x",
            status: 400,
            resource: "g".into(),
            message: Some("Cannot add user. User is already a member of 'g'".into()),
        };
        assert!(!outcome_unknown(&r));
        assert!(refused(&r));
    }
}
