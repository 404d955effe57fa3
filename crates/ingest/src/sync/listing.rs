//! Fetching listings: what a sync lists, the jobs that fetch it and what
//! they bring back.

use super::*;

/// A PageBean listing fetched page by page.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum List {
    Groups,
    Projects,
    Members(GroupId),
}

impl List {
    pub(super) fn of(scope: &Scope) -> Option<List> {
        match scope {
            Scope::Groups => Some(List::Groups),
            Scope::Projects => Some(List::Projects),
            Scope::Members(g) => Some(List::Members(g.clone())),
            _ => None,
        }
    }

    pub(super) fn ceiling(&self, client: &JiraClient) -> u64 {
        let l = client.limits();
        match self {
            List::Groups => l.max_groups,
            List::Projects => l.max_projects,
            List::Members(_) => l.max_group_members,
        }
    }

    pub(super) fn scope(&self) -> Scope {
        match self {
            List::Groups => Scope::Groups,
            List::Projects => Scope::Projects,
            List::Members(g) => Scope::Members(g.clone()),
        }
    }

    pub(super) fn endpoint(&self) -> &'static str {
        match self {
            List::Groups => Operation::GroupBulk.endpoint(),
            List::Projects => Operation::ProjectSearch.endpoint(),
            List::Members(_) => Operation::GroupMember.endpoint(),
        }
    }

    pub(super) fn requested_page_size(&self) -> u64 {
        match self {
            List::Groups => GROUPS_PAGE,
            List::Projects => PROJECTS_PAGE,
            List::Members(_) => MEMBERS_PAGE,
        }
    }
}

pub(crate) enum Payload {
    Groups(Vec<Group>),
    Projects(Vec<Project>),
    Users(Vec<User>),
}

impl Payload {
    pub(super) fn len(&self) -> usize {
        match self {
            Payload::Groups(v) => v.len(),
            Payload::Projects(v) => v.len(),
            Payload::Users(v) => v.len(),
        }
    }

    /// Adds the next page's items; `false` (and nothing added) when the page
    /// holds another kind of item than this listing.
    pub(super) fn append(&mut self, other: Payload) -> bool {
        match (self, other) {
            (Payload::Groups(a), Payload::Groups(b)) => a.extend(b),
            (Payload::Projects(a), Payload::Projects(b)) => a.extend(b),
            (Payload::Users(a), Payload::Users(b)) => a.extend(b),
            _ => return false,
        }
        true
    }
}

pub(super) enum Job {
    Users,
    Page(List, u64),
    Relist(List),
    RoleMap(ProjectId),
    Role(ProjectId, RoleId),
    Products,
    UserLookup(AccountId),
}

impl Job {
    /// The scope the job lists (part of).
    pub(super) fn scope(&self) -> Scope {
        match self {
            Job::Users | Job::UserLookup(_) => Scope::Users,
            Job::Page(list, _) | Job::Relist(list) => list.scope(),
            Job::RoleMap(p) => Scope::Roles(p.clone()),
            Job::Role(p, r) => Scope::Actors(p.clone(), r.clone()),
            Job::Products => Scope::Products,
        }
    }

    /// The scope (and page) the job lists, as log lines show it.
    pub(super) fn label(&self) -> String {
        match self {
            Job::Users => "users".to_owned(),
            Job::Page(list, start) => format!("{} from {start}", list.label()),
            Job::Relist(list) => format!("{} (listed again)", list.label()),
            Job::RoleMap(p) => format!("roles of project {p}"),
            Job::Role(p, r) => format!("actors of role {r} in project {p}"),
            Job::Products => "product access".to_owned(),
            Job::UserLookup(a) => format!("user {a} (looked up)"),
        }
    }
}

impl List {
    fn label(&self) -> String {
        match self {
            List::Groups => "groups".to_owned(),
            List::Projects => "projects".to_owned(),
            List::Members(g) => format!("members of group {g}"),
        }
    }
}

pub(super) enum Done {
    Users(Result<Vec<User>, JiraError>),
    Page(List, u64, Result<(PageMeta, Payload), JiraError>),
    Relisted(List, Result<Payload, JiraError>),
    RoleMap(ProjectId, Result<Vec<RoleRef>, JiraError>),
    Role(ProjectId, RoleId, Result<ProjectRole, JiraError>),
    Products(Result<Vec<ApplicationRole>, JiraError>),
    UserLookup(AccountId, Result<Option<User>, JiraError>),
}

pub(super) async fn page(
    client: &JiraClient,
    list: &List,
    start: u64,
) -> Result<(PageMeta, Payload), JiraError> {
    Ok(match list {
        List::Groups => {
            let (m, v) = client.groups_pages().page_at(start).await?;
            (m, Payload::Groups(v))
        }
        List::Projects => {
            let (m, v) = client.projects_pages().page_at(start).await?;
            (m, Payload::Projects(v))
        }
        List::Members(g) => {
            let (m, v) = client
                .group_members_pages(g.as_str())
                .page_at(start)
                .await?;
            (m, Payload::Users(v))
        }
    })
}

pub(super) async fn relist(client: &JiraClient, list: &List) -> Result<Payload, JiraError> {
    Ok(match list {
        List::Groups => Payload::Groups(client.groups().await?),
        List::Projects => Payload::Projects(client.projects().await?),
        List::Members(g) => Payload::Users(client.group_members(g.as_str()).await?),
    })
}

pub(super) async fn run_job(client: JiraClient, job: Job) -> Done {
    match job {
        Job::Users => Done::Users(client.users().await),
        Job::Page(list, start) => {
            let r = page(&client, &list, start).await;
            Done::Page(list, start, r)
        }
        Job::Relist(list) => {
            let r = relist(&client, &list).await;
            Done::Relisted(list, r)
        }
        Job::RoleMap(p) => {
            let r = client.project_roles(p.as_str()).await;
            Done::RoleMap(p, r)
        }
        Job::Role(p, r) => {
            let res = client.role(p.as_str(), r.as_str()).await;
            Done::Role(p, r, res)
        }
        Job::Products => Done::Products(client.application_roles().await),
        Job::UserLookup(id) => {
            let r = client.user(id.as_str()).await;
            Done::UserLookup(id, r)
        }
    }
}

/// What a completely listed scope holds.
pub(crate) enum Data {
    Users(Vec<User>),
    Groups(Vec<Group>),
    Projects(Vec<Project>),
    Products(Vec<ApplicationRole>),
    /// A group's members, keyed by the group.
    Members(GroupId, Vec<User>),
    /// A project's roles, keyed by the project.
    Roles(ProjectId, Vec<RoleRef>),
    /// A role's actors, keyed by project and role.
    Actors(ProjectId, RoleId, ProjectRole),
}

pub(super) enum Status {
    Pending,
    Done(Data),
    Failed(ScopeFailure),
}
