//! Names as a person types them: account ids, emails, display names, group names,
//! project keys (with `:Role`), product keys and names. Case-insensitive; an exact
//! (case-insensitive) match wins; two matches are an error listing both; no match
//! is an error offering the closest names.

use grantledger_model::{AccountId, GroupId, ProjectId};

use crate::effective::Target;
use crate::error::{Candidate, QueryError};
use crate::index::Subject;
use crate::state::SiteState;

/// How many close matches an unknown name offers.
const CLOSEST: usize = 5;

fn user_candidate(state: &SiteState, id: &AccountId) -> Candidate {
    let u = state.users.get(id);
    Candidate {
        kind: "user",
        id: id.to_string(),
        name: u.map_or_else(String::new, |u| u.display_name.clone()),
        detail: u.and_then(|u| u.email.clone()),
    }
}

fn group_candidate(state: &SiteState, id: &GroupId) -> Candidate {
    Candidate {
        kind: "group",
        id: id.to_string(),
        name: state
            .groups
            .get(id)
            .map_or_else(String::new, |g| g.name.clone()),
        detail: None,
    }
}

fn project_candidate(state: &SiteState, id: &ProjectId) -> Candidate {
    let p = state.projects.get(id);
    Candidate {
        kind: "project",
        id: id.to_string(),
        name: p.map_or_else(String::new, |p| p.key.clone()),
        detail: p.map(|p| p.name.clone()),
    }
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// The closest candidates to `asked` among `(name, candidate)` pairs: names that
/// contain it first, then by edit distance.
fn closest(asked: &str, names: impl Iterator<Item = (String, Candidate)>) -> Vec<Candidate> {
    let asked = asked.to_lowercase();
    let mut scored: Vec<(usize, String, Candidate)> = names
        .map(|(name, c)| {
            let name = name.to_lowercase();
            let score = if name.contains(&asked) {
                0
            } else {
                1 + distance(&asked, &name)
            };
            (score, name, c)
        })
        .collect();
    scored.sort_by(|a, b| (a.0, &a.1, &a.2.id).cmp(&(b.0, &b.1, &b.2.id)));
    let limit = asked.chars().count().max(3);
    scored
        .into_iter()
        .filter(|(score, _, _)| *score <= limit)
        .take(CLOSEST)
        .map(|(_, _, c)| c)
        .collect()
}

fn one<T>(
    what: &'static str,
    asked: &str,
    mut found: Vec<(T, Candidate)>,
) -> Result<Option<T>, QueryError> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop().map(|(t, _)| t)),
        _ => Err(QueryError::Ambiguous {
            what,
            asked: asked.to_owned(),
            candidates: found.into_iter().map(|(_, c)| c).collect(),
        }),
    }
}

/// A user by account id, email or display name.
pub fn user(state: &SiteState, asked: &str) -> Result<AccountId, QueryError> {
    let id = AccountId::from(asked.trim());
    if state.users.contains_key(&id) {
        return Ok(id);
    }
    let needle = asked.trim().to_lowercase();
    let by = |f: &dyn Fn(&grantledger_model::UserRecord) -> bool| {
        state
            .users
            .values()
            .filter(|u| f(u))
            .map(|u| (u.account_id.clone(), user_candidate(state, &u.account_id)))
            .collect::<Vec<_>>()
    };
    let email = by(&|u| {
        u.email
            .as_deref()
            .is_some_and(|e| e.to_lowercase() == needle)
    });
    if let Some(found) = one("user", asked, email)? {
        return Ok(found);
    }
    let named = by(&|u| u.display_name.to_lowercase() == needle);
    if let Some(found) = one("user", asked, named)? {
        return Ok(found);
    }
    Err(QueryError::NotFound {
        what: "user",
        asked: asked.to_owned(),
        closest: closest(
            asked,
            state.users.values().flat_map(|u| {
                let c = user_candidate(state, &u.account_id);
                let email = u.email.clone().map(|e| (e, c.clone()));
                std::iter::once((u.display_name.clone(), c)).chain(email)
            }),
        )
        .into_iter()
        .fold(Vec::new(), |mut acc: Vec<Candidate>, c| {
            if !acc.iter().any(|a| a.id == c.id) {
                acc.push(c);
            }
            acc
        }),
    })
}

fn groups_named(state: &SiteState, asked: &str) -> Vec<(GroupId, Candidate)> {
    let needle = asked.trim().to_lowercase();
    state
        .groups
        .values()
        .filter(|g| g.group_id.as_str() == asked.trim() || g.name.to_lowercase() == needle)
        .map(|g| (g.group_id.clone(), group_candidate(state, &g.group_id)))
        .collect()
}

fn projects_keyed(state: &SiteState, key: &str) -> Vec<(ProjectId, Candidate)> {
    let needle = key.trim().to_lowercase();
    state
        .projects
        .values()
        .filter(|p| p.project_id.as_str() == key.trim() || p.key.to_lowercase() == needle)
        .map(|p| {
            (
                p.project_id.clone(),
                project_candidate(state, &p.project_id),
            )
        })
        .collect()
}

/// What `access who` and `history` can be asked about, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// One target (a group, a project role, a product).
    Target(Target),
    /// A whole project (every role of it).
    Project(ProjectId),
}

/// A group name or id, `PROJECTKEY`, `PROJECTKEY:Role`, or a product key or name.
pub fn target(state: &SiteState, asked: &str) -> Result<Resolved, QueryError> {
    let trimmed = asked.trim();
    let mut found: Vec<(Resolved, Candidate)> = Vec::new();
    for (g, c) in groups_named(state, trimmed) {
        found.push((Resolved::Target(Target::Group { group: g }), c));
    }
    if let Some((key, role)) = trimmed.split_once(':') {
        for (p, c) in projects_keyed(state, key) {
            let needle = role.trim().to_lowercase();
            let roles = state.roles.get(&p).into_iter().flatten();
            for (rid, r) in roles {
                if rid.as_str() == role.trim() || r.name.to_lowercase() == needle {
                    found.push((
                        Resolved::Target(Target::ProjectRole {
                            project: p.clone(),
                            role: rid.clone(),
                        }),
                        Candidate {
                            kind: "role",
                            id: format!("{p}:{rid}"),
                            name: format!("{}:{}", c.name, r.name),
                            detail: None,
                        },
                    ));
                }
            }
        }
    } else {
        for (p, c) in projects_keyed(state, trimmed) {
            found.push((Resolved::Project(p), c));
        }
    }
    let needle = trimmed.to_lowercase();
    for (key, (name, _)) in &state.products {
        if key.as_str().to_lowercase() == needle || name.to_lowercase() == needle {
            found.push((
                Resolved::Target(Target::Product {
                    product: key.clone(),
                }),
                Candidate {
                    kind: "product",
                    id: key.to_string(),
                    name: name.clone(),
                    detail: None,
                },
            ));
        }
    }
    const WHAT: &str = "group, project role or product";
    if let Some(r) = one(WHAT, asked, found)? {
        return Ok(r);
    }
    let names = state
        .groups
        .values()
        .map(|g| (g.name.clone(), group_candidate(state, &g.group_id)))
        .chain(
            state
                .projects
                .values()
                .map(|p| (p.key.clone(), project_candidate(state, &p.project_id))),
        )
        .chain(state.products.iter().map(|(k, (name, _))| {
            (
                k.to_string(),
                Candidate {
                    kind: "product",
                    id: k.to_string(),
                    name: name.clone(),
                    detail: None,
                },
            )
        }));
    Err(QueryError::NotFound {
        what: WHAT,
        asked: asked.to_owned(),
        closest: closest(trimmed.split(':').next().unwrap_or(trimmed), names),
    })
}

/// A history subject: a user, a group, a project or `PROJECTKEY:Role` (a user is
/// tried last, so a group and a user of the same name are ambiguous only if
/// neither is a group, project or role).
pub fn subject(state: &SiteState, asked: &str) -> Result<Subject, QueryError> {
    let as_target = target(state, asked);
    let as_user = user(state, asked);
    match (as_target, as_user) {
        (Ok(t), Ok(u)) => Err(QueryError::Ambiguous {
            what: "user, group or project",
            asked: asked.to_owned(),
            candidates: vec![
                match &t {
                    Resolved::Target(Target::Group { group }) => group_candidate(state, group),
                    Resolved::Project(p) => project_candidate(state, p),
                    Resolved::Target(other) => Candidate {
                        kind: "entitlement",
                        id: format!("{other:?}"),
                        name: asked.to_owned(),
                        detail: None,
                    },
                },
                user_candidate(state, &u),
            ],
        }),
        (Ok(t), Err(_)) => Ok(match t {
            Resolved::Target(Target::Group { group }) => Subject::Group(group),
            Resolved::Target(Target::ProjectRole { project, role }) => Subject::Role(project, role),
            Resolved::Target(Target::Product { product }) => Subject::Product(product),
            Resolved::Project(p) => Subject::Project(p),
        }),
        (Err(_), Ok(u)) => Ok(Subject::User(u)),
        (Err(e @ QueryError::Ambiguous { .. }), _) | (_, Err(e @ QueryError::Ambiguous { .. })) => {
            Err(e)
        }
        (
            Err(QueryError::NotFound { closest: mut a, .. }),
            Err(QueryError::NotFound { closest: b, .. }),
        ) => {
            a.extend(b);
            a.truncate(CLOSEST);
            Err(QueryError::NotFound {
                what: "user, group or project",
                asked: asked.to_owned(),
                closest: a,
            })
        }
        (Err(e), _) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::distance;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("zoë", "zoe"), 1);
    }
}
