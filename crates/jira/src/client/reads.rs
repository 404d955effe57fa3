//! The read operations a sync needs, and the listings behind them.

use super::*;

impl JiraClient {
    pub(super) fn pager<T>(&self, spec: ListSpec, decoder: PageDecoder<T>) -> Pager<T> {
        let max_pages = match spec.shape {
            Shape::Map => 1,
            _ => page_budget(
                spec.ceiling,
                spec.page_size,
                self.inner.config.limits.page_shrink,
            ),
        };
        Pager {
            client: self.clone(),
            cursor: Cursor::bounded(
                spec.shape,
                spec.op.endpoint(),
                spec.start_param,
                spec.ceiling,
                max_pages,
            ),
            spec,
            decoder,
            _items: PhantomData,
        }
    }

    pub(super) async fn get_json<T: DeserializeOwned>(
        &self,
        op: Operation,
        url: Url,
        resource: String,
    ) -> Result<T, JiraError> {
        let answer = self
            .execute(&Call {
                op,
                method: Method::GET,
                url,
                body: None,
                resource,
                repeatable: true,
            })
            .await?;
        decode(op, &answer.body)
    }

    // ----- reads -----------------------------------------------------------

    /// `GET /myself`: the calling account (the cheap credential check).
    pub async fn myself(&self) -> Result<User, JiraError> {
        self.get_json(
            Operation::Myself,
            self.api_url(&["myself"]),
            "the calling account".into(),
        )
        .await
    }

    /// Every user (`/users/search`, bare arrays of up to 1,000): all account
    /// types, inactive included, `emailAddress` kept whenever Jira shows it.
    pub fn users_pages(&self) -> Pager<User> {
        self.pager(
            ListSpec {
                op: Operation::UsersSearch,
                url: self.api_url(&["users", "search"]),
                ceiling: self.inner.config.limits.max_users,
                shape: Shape::BareArray,
                start_param: "startAt",
                size_param: "maxResults",
                page_size: USERS_PAGE,
                resource: "the user list".into(),
            },
            decode_bare_array::<User>,
        )
    }

    /// `GET <path>?accountId=`: `None` when Jira answers 404 (no such account,
    /// or not visible to the caller).
    async fn get_by_account(
        &self,
        op: Operation,
        path: &[&str],
        account_id: &str,
        resource: String,
    ) -> Result<Option<Answer>, JiraError> {
        let mut url = self.api_url(path);
        url.query_pairs_mut().append_pair("accountId", account_id);
        let call = Call {
            op,
            method: Method::GET,
            url,
            body: None,
            resource,
            repeatable: true,
        };
        match self.execute(&call).await {
            Ok(answer) => Ok(Some(answer)),
            Err(JiraError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One user by account id (`GET /user?accountId=`): `None` when Jira
    /// answers 404 (no such account, or not visible). An answer naming another
    /// account is a decode error.
    pub async fn user(&self, account_id: &str) -> Result<Option<User>, JiraError> {
        let op = Operation::User;
        let Some(answer) = self
            .get_by_account(op, &["user"], account_id, format!("user '{account_id}'"))
            .await?
        else {
            return Ok(None);
        };
        let user: User = decode(op, &answer.body)?;
        if user.account_id != account_id {
            return Err(JiraError::Decode {
                endpoint: op.endpoint(),
                reason: format!(
                    "asked for account '{account_id}', Jira answered account '{}'",
                    crate::error::excerpt(user.account_id.as_bytes(), 100)
                ),
                excerpt: excerpt(&answer.body, 200),
            });
        }
        self.check_lengths(op.endpoint(), std::slice::from_ref(&user))?;
        Ok(Some(user))
    }

    /// The groups an account is a direct member of (`GET /user/groups?accountId=`,
    /// one request whatever the groups' sizes): `None` when Jira answers 404 (no
    /// such account, or not visible).
    pub async fn user_groups(&self, account_id: &str) -> Result<Option<Vec<Group>>, JiraError> {
        let op = Operation::UserGroups;
        let resource = format!("the groups of user '{account_id}'");
        let Some(answer) = self
            .get_by_account(op, &["user", "groups"], account_id, resource)
            .await?
        else {
            return Ok(None);
        };
        let groups: Vec<Group> = decode(op, &answer.body)?;
        Ok(Some(groups))
    }

    /// Every user, collected.
    pub async fn users(&self) -> Result<Vec<User>, JiraError> {
        self.users_pages().collect_all().await
    }

    /// Every group (`/group/bulk`, pages of 50).
    pub fn groups_pages(&self) -> Pager<Group> {
        self.pager(
            ListSpec {
                op: Operation::GroupBulk,
                url: self.api_url(&["group", "bulk"]),
                ceiling: self.inner.config.limits.max_groups,
                shape: Shape::PageBean,
                start_param: "startAt",
                size_param: "maxResults",
                page_size: GROUPS_PAGE,
                resource: "the group list".into(),
            },
            decode_page_bean::<Group>,
        )
    }

    /// Every group, collected.
    pub async fn groups(&self) -> Result<Vec<Group>, JiraError> {
        self.groups_pages().collect_all().await
    }

    /// The members of a group, by group id, inactive users included
    /// (`/group/member?includeInactiveUsers=true`, pages of 50).
    pub fn group_members_pages(&self, group_id: &str) -> Pager<User> {
        let mut url = self.api_url(&["group", "member"]);
        url.query_pairs_mut()
            .append_pair("groupId", group_id)
            .append_pair("includeInactiveUsers", "true");
        self.pager(
            ListSpec {
                op: Operation::GroupMember,
                url,
                ceiling: self.inner.config.limits.max_group_members,
                shape: Shape::PageBean,
                start_param: "startAt",
                size_param: "maxResults",
                page_size: MEMBERS_PAGE,
                resource: format!("group '{group_id}'"),
            },
            decode_page_bean::<User>,
        )
    }

    /// The members of a group, collected.
    pub async fn group_members(&self, group_id: &str) -> Result<Vec<User>, JiraError> {
        self.group_members_pages(group_id).collect_all().await
    }

    /// Every project, live and archived (`/project/search?status=live&status=archived`,
    /// pages of 100).
    pub fn projects_pages(&self) -> Pager<Project> {
        let mut url = self.api_url(&["project", "search"]);
        {
            let mut q = url.query_pairs_mut();
            for s in PROJECT_STATUSES {
                q.append_pair("status", s);
            }
        }
        self.pager(
            ListSpec {
                op: Operation::ProjectSearch,
                url,
                ceiling: self.inner.config.limits.max_projects,
                shape: Shape::PageBean,
                start_param: "startAt",
                size_param: "maxResults",
                page_size: PROJECTS_PAGE,
                resource: "the project list".into(),
            },
            decode_page_bean::<Project>,
        )
    }

    /// Every project, collected.
    pub async fn projects(&self) -> Result<Vec<Project>, JiraError> {
        self.projects_pages().collect_all().await
    }

    /// A project's roles (`/project/{k}/role`, a map of name → URL), in name
    /// order, each with its id (the URL's last segment).
    pub async fn project_roles(&self, project: &str) -> Result<Vec<RoleRef>, JiraError> {
        let op = Operation::ProjectRoles;
        let url = self.api_url(&["project", project, "role"]);
        let answer = self
            .execute(&Call {
                op,
                method: Method::GET,
                url,
                body: None,
                resource: format!("project '{project}'"),
                repeatable: true,
            })
            .await?;
        self.inner.counters.page();
        let map: BTreeMap<String, String> = decode(op, &answer.body)?;
        let roles = RoleRef::from_map(&map).map_err(|reason| JiraError::Decode {
            endpoint: op.endpoint(),
            reason,
            excerpt: excerpt(&answer.body, 200),
        })?;
        self.check_lengths(op.endpoint(), &roles)?;
        Ok(roles)
    }

    /// A role of a project with its actors (`/project/{k}/role/{id}`): users and
    /// groups (group actors are not expanded).
    pub async fn role(&self, project: &str, role_id: &str) -> Result<ProjectRole, JiraError> {
        /// The field that makes a role body a role with actors.
        #[derive(serde::Deserialize)]
        struct WithActors {
            #[allow(dead_code)]
            actors: serde::de::IgnoredAny,
        }
        let op = Operation::ProjectRole;
        let answer = self
            .execute(&Call {
                op,
                method: Method::GET,
                url: self.api_url(&["project", project, "role", role_id]),
                body: None,
                resource: format!("role {role_id} of project '{project}'"),
                repeatable: true,
            })
            .await?;
        if let Some(msg) = error_body_200(&answer.body) {
            return Err(JiraError::Decode {
                endpoint: op.endpoint(),
                reason: format!("Jira answered with status 200 but an error body: {msg}"),
                excerpt: excerpt(&answer.body, 200),
            });
        }
        decode::<WithActors>(op, &answer.body)?;
        let role: ProjectRole = decode(op, &answer.body)?;
        self.check_lengths(
            Operation::ProjectRole.endpoint(),
            std::slice::from_ref(&role),
        )?;
        Ok(role)
    }

    /// Product access (`/applicationrole`): which groups grant which product.
    pub async fn application_roles(&self) -> Result<Vec<ApplicationRole>, JiraError> {
        let roles: Vec<ApplicationRole> = self
            .get_json(
                Operation::ApplicationRoles,
                self.api_url(&["applicationrole"]),
                "product access".into(),
            )
            .await?;
        self.inner.counters.page();
        self.check_lengths(Operation::ApplicationRoles.endpoint(), &roles)?;
        Ok(roles)
    }

    /// The admin audit log (`/auditing/record`, offset/limit pages of 1,000).
    pub fn audit_records_pages(&self, query: &AuditQuery) -> Pager<AuditRecord> {
        let mut url = self.api_url(&["auditing", "record"]);
        {
            let mut q = url.query_pairs_mut();
            if let Some(f) = &query.from {
                q.append_pair("from", f);
            }
            if let Some(t) = &query.to {
                q.append_pair("to", t);
            }
            if let Some(f) = &query.filter {
                q.append_pair("filter", f);
            }
        }
        self.pager(
            ListSpec {
                op: Operation::AuditRecords,
                url,
                ceiling: self.inner.config.limits.max_audit_records,
                shape: Shape::PageBean,
                start_param: "offset",
                size_param: "limit",
                page_size: AUDIT_PAGE,
                resource: "the audit log".into(),
            },
            decode_audit,
        )
    }

    /// The admin audit log, collected.
    pub async fn audit_records(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, JiraError> {
        self.audit_records_pages(query).collect_all().await
    }

    /// Fails with [`JiraError::Limit`] when an item holds an id or name longer
    /// than the limits.
    pub(crate) fn check_lengths<T: Bounded>(
        &self,
        endpoint: &'static str,
        items: &[T],
    ) -> Result<(), JiraError> {
        let l = &self.inner.config.limits;
        match items
            .iter()
            .find_map(|i| i.too_long(l.max_id_len, l.max_name_len))
        {
            None => Ok(()),
            Some(t) => Err(JiraError::Limit {
                endpoint,
                what: format!("a {} of {} bytes", t.field, t.len),
                limit: t.limit as u64,
                unit: " bytes",
            }),
        }
    }
}
