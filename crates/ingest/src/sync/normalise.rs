//! Normalisation: a completely listed scope turned into model records
//! ([`Listed`]), which are diffed against the state ([`Listed::diff`]) — again
//! after a rebase, so they are kept until the log has the scope's events.

use super::*;

/// A completely listed scope as model records: what its diff needs.
pub(super) enum Listed {
    Users(Vec<UserRecord>),
    Groups(Vec<GroupRecord>),
    Projects(Vec<ProjectRecord>),
    Products(Vec<ProductGroups>),
    Members(GroupId, Vec<AccountId>),
    Roles(ProjectId, Vec<RoleRecord>),
    Actors(ProjectId, RoleId, Vec<Principal>),
}

impl Listed {
    /// The events that make `state` hold this listing, under the scope's
    /// `watermark` (see [`crate::diff`]).
    pub(super) fn diff(
        &self,
        state: &SiteState,
        watermark: Position,
        run: &SyncRunId,
    ) -> Vec<Event> {
        match self {
            Listed::Users(l) => diff::users(state, l),
            Listed::Groups(l) => diff::groups(state, l, watermark, run),
            Listed::Projects(l) => diff::projects(state, l, watermark, run),
            Listed::Products(l) => diff::products(state, l),
            Listed::Members(g, l) => diff::members(state, g, l, watermark, run),
            Listed::Roles(p, l) => diff::roles(state, p, l, watermark, run),
            Listed::Actors(p, r, l) => diff::actors(state, p, r, l, watermark, run),
        }
    }
}

impl Run<'_> {
    pub(super) fn normalise(&mut self, scope: &Scope, data: Data) -> Result<Listed, ScopeFailure> {
        let count = |n: usize, this: &mut Self| {
            this.items_seen += n as u64;
            this.minimum += minimum_requests(scope, n as u64);
        };
        Ok(match data {
            Data::Users(users) => {
                count(users.len(), self);
                if let Some(why) = self.user_listing_impossible(&users) {
                    return Err(why);
                }
                let listed: Vec<UserRecord> = users.iter().map(User::to_record).collect();
                unique(listed.iter().map(|u| &u.account_id), "user")?;
                Listed::Users(listed)
            }
            Data::Groups(groups) => {
                count(groups.len(), self);
                // A group that cannot be identified makes the list incomplete: no
                // group may be called vanished on its strength.
                let listed = groups
                    .iter()
                    .map(|g| g.to_record().map_err(ScopeFailure::Jira))
                    .collect::<Result<Vec<_>, _>>()?;
                unique(listed.iter().map(|g| &g.group_id), "group")?;
                Listed::Groups(listed)
            }
            Data::Projects(projects) => {
                count(projects.len(), self);
                let listed: Vec<ProjectRecord> = projects.iter().map(Project::to_record).collect();
                unique(listed.iter().map(|p| &p.project_id), "project")?;
                Listed::Projects(listed)
            }
            Data::Products(roles) => {
                count(roles.len(), self);
                let mut listed = Vec::with_capacity(roles.len());
                for role in &roles {
                    let mut groups = BTreeSet::new();
                    for name in &role.groups {
                        let id = role
                            .group_details
                            .iter()
                            .find(|g| g.name.as_deref() == Some(name.as_str()))
                            .and_then(|g| g.group_id.clone())
                            .map(GroupId::new)
                            .or_else(|| self.group_index.id_of(name));
                        match id {
                            Some(id) => {
                                groups.insert(id);
                            }
                            None => {
                                return Err(ScopeFailure::UnknownProductGroup {
                                    product: role.key.clone(),
                                    group: name.clone(),
                                })
                            }
                        }
                    }
                    listed.push(ProductGroups {
                        product: ProductKey::new(role.key.clone()),
                        name: role.name.clone().unwrap_or_else(|| role.key.clone()),
                        groups,
                    });
                }
                Listed::Products(listed)
            }
            Data::Members(group, users) => {
                count(users.len(), self);
                let ids: Vec<AccountId> = users
                    .iter()
                    .map(|u| AccountId::new(u.account_id.clone()))
                    .collect();
                unique(ids.iter(), "member")?;
                Listed::Members(group, ids)
            }
            Data::Roles(project, refs) => {
                count(refs.len(), self);
                let listed: Vec<RoleRecord> = refs
                    .iter()
                    .map(|r| RoleRecord {
                        project_id: project.clone(),
                        role_id: r.id.clone(),
                        name: r.name.clone(),
                    })
                    .collect();
                Listed::Roles(project, listed)
            }
            Data::Actors(project, role_id, role) => {
                count(role.actors.len(), self);
                let mut listed = Vec::with_capacity(role.actors.len());
                for actor in &role.actors {
                    if let Some(id) = actor.account_id() {
                        listed.push(Principal::User(AccountId::from(id)));
                    } else if let Some(g) = &actor.actor_group {
                        let id = self.group_index.resolve(g)?;
                        listed.push(Principal::Group(id));
                    } else {
                        return Err(ScopeFailure::UnknownActor(actor.actor_type.clone()));
                    }
                }
                Listed::Actors(project, role_id, listed)
            }
        })
    }
}

/// Fails a listing that names the same id twice: a server that repeats items can
/// also drop some, so nothing may be called gone on its strength.
pub(super) fn unique<'a, T: Ord + std::fmt::Display + 'a>(
    ids: impl Iterator<Item = &'a T>,
    what: &'static str,
) -> Result<(), ScopeFailure> {
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(ScopeFailure::Repeated {
                what,
                id: id.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_ids_make_a_listing_unusable() {
        let ids = [
            GroupId::from("g1"),
            GroupId::from("g2"),
            GroupId::from("g1"),
        ];
        let err = unique(ids.iter(), "group").unwrap_err();
        assert!(err.to_string().contains("g1 twice"), "{err}");
        assert!(unique(ids[..2].iter(), "group").is_ok());
    }
}
