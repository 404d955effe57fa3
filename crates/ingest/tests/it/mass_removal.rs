//! A removal of most of a scope is held back unless the run allows it: a server
//! that answers wrongly but consistently looks the same as a mass deletion.

use grantledger_ingest::{sync, Outcome, SyncOptions};
use grantledger_model::{Entitlement, Event, GroupId};
use grantledger_testkit::{assert_state_matches, Harness, Preset, SITE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emptying_a_large_group_is_recorded_only_when_mass_removals_are_allowed() {
    let h = Harness::start(Preset::Small, 5).await;
    let first = sync(&h.log, &h.client, SyncOptions::new(SITE))
        .await
        .unwrap();
    assert!(matches!(first.outcome, Outcome::Completed));
    let org = h.sim.org();
    let (group, members) = org
        .memberships
        .iter()
        .filter(|(g, _)| org.group_name(g) != Some("site-admins"))
        .max_by_key(|(_, m)| m.len())
        .map(|(g, m)| (g.clone(), m.len()))
        .unwrap();
    assert!(members > 3, "the test needs a group of more than 3 members");
    h.sim.mutate(|o| {
        o.memberships.get_mut(&group).unwrap().clear();
    });

    let held_back = sync(&h.log, &h.client, SyncOptions::new(SITE))
        .await
        .unwrap();
    match &held_back.outcome {
        Outcome::Failed { reason, unfinished } => {
            assert!(
                reason.contains(&format!("would remove {members} of the {members} items")),
                "{reason}"
            );
            assert!(
                unfinished.iter().any(|s| s.contains(group.as_str())),
                "{unfinished:?}"
            );
        }
        other => panic!("a mass removal was recorded without leave: {other:?}"),
    }
    assert_eq!(held_back.stats.events_written, 0, "nothing was removed");

    let mut allow = SyncOptions::new(SITE);
    allow.allow_mass_removal = true;
    let recorded = sync(&h.log, &h.client, allow).await.unwrap();
    assert!(
        matches!(recorded.outcome, Outcome::Completed),
        "{:?}",
        recorded.outcome
    );
    let gid = GroupId::new(group.as_str());
    let removed = h
        .log
        .read_from(1)
        .map(|r| r.unwrap().event)
        .filter(|e| {
            matches!(e, Event::GrantRemoved(g)
                if g.grant.entitlement == Entitlement::GroupMembership { group: gid.clone() })
        })
        .count();
    assert_eq!(removed, members);
    assert_state_matches(&h.log, SITE, &h.sim.org());
}
