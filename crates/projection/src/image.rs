//! Reading a state snapshot fast. A [`Site`] is stored as its own bincode (maps as
//! a length and their entries in key order); decoded through serde's map and set
//! impls, each entry is inserted alone, a descent with string comparisons per
//! membership. [`SiteImage`] reads the same bytes as lists (bincode encodes a map
//! and a list of pairs alike) and builds each map from its sorted list in bulk.
//! The bytes on disk do not change.

use std::collections::{BTreeMap, BTreeSet};

use grantledger_eventlog::Position;
use grantledger_model::*;
use serde::Deserialize;

use crate::changes::GrantChanges;
use crate::state::{Site, SiteState, SyncRun};

/// [`Site`]'s fields in its serialized order, each map read as a list of pairs.
#[derive(Deserialize)]
pub(crate) struct SiteImage {
    stream: StreamId,
    state: StateImage,
}

/// [`SiteState`]'s fields, in its serialized order.
#[derive(Deserialize)]
struct StateImage {
    users: Vec<(AccountId, UserRecord)>,
    groups: Vec<(GroupId, GroupRecord)>,
    members: Vec<(GroupId, Vec<AccountId>)>,
    projects: Vec<(ProjectId, ProjectRecord)>,
    roles: Vec<(ProjectId, Vec<(RoleId, RoleRecord)>)>,
    role_actors: Vec<((ProjectId, RoleId), Vec<Principal>)>,
    products: Vec<(ProductKey, (String, Vec<GroupId>))>,
    position: Position,
    version: u64,
    last_completed_sync: Option<(SyncRunId, Position)>,
    runs: Vec<SyncRun>,
    // `grant_changes` comes last and is not read here: a snapshot leaves it in
    // the file until it is used ([`SiteImage::into_site`]).
}

fn set<T: Ord>(items: Vec<T>) -> BTreeSet<T> {
    // Sorted already: `from_iter` checks that in one pass and builds in bulk.
    items.into_iter().collect()
}

impl SiteImage {
    /// The site, with the grant changes read after the image (the last part
    /// of a state's encoding).
    pub(crate) fn into_site(self, grant_changes: GrantChanges) -> Site {
        let s = self.state;
        // Every field named (no `..`): a field added to `SiteState` must be added
        // here too, or this does not compile.
        let state = SiteState {
            users: s.users.into_iter().collect(),
            groups: s.groups.into_iter().collect(),
            members: s.members.into_iter().map(|(g, m)| (g, set(m))).collect(),
            projects: s.projects.into_iter().collect(),
            roles: s
                .roles
                .into_iter()
                .map(|(p, r)| (p, r.into_iter().collect::<BTreeMap<_, _>>()))
                .collect(),
            role_actors: s
                .role_actors
                .into_iter()
                .map(|(k, a)| (k, set(a)))
                .collect(),
            products: s
                .products
                .into_iter()
                .map(|(k, (name, groups))| (k, (name, set(groups))))
                .collect(),
            grant_changes,
            remember_removals: false,
            position: s.position,
            version: s.version,
            last_completed_sync: s.last_completed_sync,
            runs: s.runs,
        };
        Site {
            stream: self.stream,
            state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_reads_a_site_as_serde_does() {
        let mut site = Site::new("acme");
        let s = &mut site.state;
        for u in ["u3", "u1", "u2"] {
            s.users.insert(
                u.into(),
                UserRecord {
                    account_id: u.into(),
                    account_type: AccountType::Atlassian,
                    display_name: u.to_uppercase(),
                    email: Some(format!("{u}@example.com")),
                    active: u != "u2",
                },
            );
        }
        for (g, users) in [("g2", vec!["u1", "u3"]), ("g1", vec!["u2", "u9"])] {
            s.groups.insert(
                g.into(),
                GroupRecord {
                    group_id: g.into(),
                    name: format!("group {g}"),
                },
            );
            s.members
                .insert(g.into(), users.into_iter().map(AccountId::from).collect());
        }
        s.roles.entry("p1".into()).or_default().insert(
            "r1".into(),
            RoleRecord {
                project_id: "p1".into(),
                role_id: "r1".into(),
                name: "Developers".into(),
            },
        );
        s.role_actors.insert(
            ("p1".into(), "r1".into()),
            [Principal::Group("g1".into()), Principal::User("u3".into())].into(),
        );
        s.products.insert(
            "jira-software".into(),
            ("Jira Software".into(), ["g2".into(), "g1".into()].into()),
        );
        s.grant_changes
            .insert(Grant::membership("u1".into(), "g2".into()), 17);
        s.grant_changes.insert(
            Grant::role(Principal::Group("g1".into()), "p1".into(), "r1".into()),
            21,
        );
        s.position = 42;
        s.version = 40;
        s.last_completed_sync = Some(("r1".into(), 41));
        s.runs.push(SyncRun {
            run: "r1".into(),
            started: 1,
            started_at: Timestamp::from_micros(5),
            ended: None,
        });
        let bytes = bincode::serialize(&site).unwrap();
        // The image, then the grant changes: every byte, read the way serde reads
        // the site.
        let mut read = &bytes[..];
        let image: SiteImage = bincode::deserialize_from(&mut read).unwrap();
        let changes: GrantChanges = bincode::deserialize(read).unwrap();
        assert_eq!(
            bincode::serialized_size(&changes).unwrap(),
            read.len() as u64,
            "the grant changes are the last part"
        );
        assert_eq!(image.into_site(changes), site);
        // A truncated image fails alike.
        let cut = bytes.len() - read.len() - 1;
        assert!(bincode::deserialize::<SiteImage>(&bytes[..cut]).is_err());
    }
}
