//! Properties of the query side over random logs: snapshots change no answer,
//! effective access equals a naive recomputation, the index agrees with the
//! state, and the follower reads only what is new.

use std::collections::BTreeSet;

use grantledger_eventlog::{EventLog, ExpectedVersion, Follower, NewEvent};
use grantledger_model::*;
use grantledger_projection::query::{STATE_FORMAT, STATE_KIND};
use grantledger_projection::{
    holders, user_access, Entry, HistoryIndex, Queries, Reach, Site, SiteState, SnapshotStore,
    StatePreload, Subject, Target,
};
use proptest::prelude::*;

const SITE: &str = "acme";

fn cause() -> GrantCause {
    GrantCause::ObservedInSync {
        run: SyncRunId::from("r"),
    }
}

/// A random event over a few users, groups, one project with two roles and one
/// product: enough collisions that every path (group actors, product groups,
/// vanishing groups and roles) happens.
fn event(kind: u8, a: u8, b: u8) -> Event {
    let user = AccountId::new(format!("u{}", a % 5));
    let group = GroupId::new(format!("g{}", b % 3));
    let role = RoleId::new(format!("r{}", a % 2));
    let project = ProjectId::from("p1");
    match kind % 12 {
        0 => UserObserved {
            user: UserRecord {
                account_id: user,
                account_type: AccountType::Atlassian,
                display_name: format!("n{b}"),
                email: None,
                active: b % 2 == 0,
            },
        }
        .into(),
        1 => UserDeactivated { account_id: user }.into(),
        2 | 3 => GrantAdded {
            grant: Grant::membership(user, group),
            cause: cause(),
        }
        .into(),
        4 => GrantRemoved {
            grant: Grant::membership(user, group),
            cause: cause(),
        }
        .into(),
        5 => GrantAdded {
            grant: Grant::role(
                if b % 2 == 0 {
                    Principal::Group(group)
                } else {
                    Principal::User(user)
                },
                project,
                role,
            ),
            cause: cause(),
        }
        .into(),
        6 => GrantRemoved {
            grant: Grant::role(Principal::Group(group), project, role),
            cause: cause(),
        }
        .into(),
        7 => GroupObserved {
            group: GroupRecord {
                group_id: group,
                name: format!("n{a}"),
            },
        }
        .into(),
        8 => GroupVanished {
            group_id: group,
            name: String::new(),
        }
        .into(),
        9 => ProductAccessGroupsChanged {
            product: ProductKey::from("jira-software"),
            name: "Jira Software".into(),
            groups: (0..3)
                .filter(|i| (a >> i) & 1 == 1)
                .map(|i| GroupId::new(format!("g{i}")))
                .collect(),
        }
        .into(),
        10 => ProjectRoleVanished {
            project_id: project,
            role_id: role,
        }
        .into(),
        _ => UserReactivated { account_id: user }.into(),
    }
}

/// Batches: (to another site's stream?, events as `event` arguments).
type Batch = (bool, Vec<(u8, u8, u8)>);
type Batches = Vec<Batch>;

fn write(log: &EventLog, batches: &[Batch]) {
    for (other, events) in batches {
        let stream = if *other {
            StreamId::jira_site("other")
        } else {
            StreamId::jira_site(SITE)
        };
        let events = events
            .iter()
            .map(|(k, a, b)| {
                let e = NewEvent::new(event(*k, *a, *b));
                // Some records name their cause, of a few kinds.
                match (k / 12) % 3 {
                    0 => e,
                    1 => e.caused_by(Causation::SyncRun(SyncRunId::new(format!("r{}", a % 2)))),
                    _ => e.caused_by(Causation::SyncRun(SyncRunId::from("other"))),
                }
            })
            .collect();
        log.append(&stream, ExpectedVersion::Any, events).unwrap();
    }
}

fn batches() -> impl Strategy<Value = Batches> {
    prop::collection::vec(
        (
            prop::bool::weighted(0.2),
            prop::collection::vec(any::<(u8, u8, u8)>(), 1..6),
        ),
        1..14,
    )
}

/// Effective access, recomputed the slow way from the list of grants.
fn naive_access(state: &SiteState, user: &AccountId) -> BTreeSet<Reach> {
    let grants: Vec<Grant> = state.grants().collect();
    let member_of = |g: &GroupId| {
        grants
            .iter()
            .any(|x| *x == Grant::membership(user.clone(), g.clone()))
    };
    let mut out = BTreeSet::new();
    for g in &grants {
        match (&g.principal, &g.entitlement) {
            (Principal::User(u), Entitlement::GroupMembership { group }) if u == user => {
                out.insert(Reach {
                    target: Target::Group {
                        group: group.clone(),
                    },
                    via: None,
                });
            }
            (p, Entitlement::ProjectRole { project, role }) => {
                let via = match p {
                    Principal::User(u) if u == user => None,
                    Principal::Group(g) if member_of(g) => Some(g.clone()),
                    _ => continue,
                };
                out.insert(Reach {
                    target: Target::ProjectRole {
                        project: project.clone(),
                        role: role.clone(),
                    },
                    via,
                });
            }
            _ => {}
        }
    }
    for (product, (_, groups)) in &state.products {
        for g in groups.iter().filter(|g| member_of(g)) {
            out.insert(Reach {
                target: Target::Product {
                    product: product.clone(),
                },
                via: Some(g.clone()),
            });
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn answers_are_the_same_with_without_and_after_deleting_snapshots(
        batches in batches(),
        every in 1u64..7,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path().join("log")).unwrap();
        write(&log, &batches);
        let head = log.head().position;
        let plain = Queries::new(log.clone(), SITE);
        let store = SnapshotStore::new(dir.path().join("snapshots"));
        let cached = Queries::new(log.clone(), SITE).with_snapshots(store.clone(), every);
        // Fill the cache first (walking to the head writes every periodic snapshot).
        cached.current().unwrap();
        prop_assert!(every > head || !store.list("state", SITE).unwrap().is_empty());
        for at in 0..=head {
            let want = SiteState::as_of(&log, SITE, at).unwrap();
            prop_assert_eq!(&plain.state_at(at).unwrap(), &want, "without snapshots at {}", at);
            prop_assert_eq!(&cached.state_at(at).unwrap(), &want, "with snapshots at {}", at);
        }
        if store.dir().exists() {
            std::fs::remove_dir_all(store.dir()).unwrap();
        }
        for at in (0..=head).rev() {
            let want = SiteState::as_of(&log, SITE, at).unwrap();
            prop_assert_eq!(&cached.state_at(at).unwrap(), &want, "after deleting at {}", at);
        }
    }

    #[test]
    fn effective_access_equals_a_naive_recomputation(batches in batches()) {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        write(&log, &batches);
        let q = Queries::new(log.clone(), SITE);
        for at in 0..=log.head().position {
            let state = q.state_at(at).unwrap();
            for u in 0..5 {
                let user = AccountId::new(format!("u{u}"));
                let got: BTreeSet<Reach> = user_access(&state, &user).into_iter().collect();
                prop_assert_eq!(&got, &naive_access(&state, &user), "user {} at {}", u, at);
                // And `holders` is its inverse.
                for reach in &got {
                    let h = holders(&state, &reach.target);
                    prop_assert!(h.iter().any(|h| h.principal == Principal::User(user.clone()) && h.via == reach.via));
                }
            }
        }
    }

    /// The long fold (grant subjects derived from the rows at the end) builds the
    /// index the record-by-record fold builds, from nothing or from any position.
    #[test]
    fn the_long_index_fold_equals_the_plain_one(batches in batches(), split in any::<u16>()) {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        write(&log, &batches);
        let head = log.head().position;
        let mut plain = HistoryIndex::new(SITE);
        grantledger_eventlog::fold_until(&log, &mut plain, head).unwrap();
        let mut long = HistoryIndex::new(SITE);
        prop_assert_eq!(long.fold_long(&log, head).unwrap(), head);
        prop_assert_eq!(&long, &plain);
        // Part of the way record by record, the rest the long way.
        let split = u64::from(split) % (head + 1);
        let mut both = HistoryIndex::new(SITE);
        grantledger_eventlog::fold_until(&log, &mut both, split).unwrap();
        prop_assert_eq!(both.fold_long(&log, head).unwrap(), head - split);
        prop_assert_eq!(&both, &plain);
    }

    #[test]
    fn the_index_agrees_with_the_state_at_every_position(batches in batches()) {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        write(&log, &batches);
        let q = Queries::new(log.clone(), SITE);
        let index = q.index().unwrap();
        let head = log.head().position;
        for at in 0..=head {
            let state = q.state_at(at).unwrap();
            for u in 0..5 {
                for g in 0..3 {
                    let m = Grant::membership(AccountId::new(format!("u{u}")), GroupId::new(format!("g{g}")));
                    prop_assert_eq!(q.grant_held_at(&index, &m, at).unwrap(), state.has_grant(&m), "{:?} at {}", m, at);
                }
            }
            for g in 0..3 {
                for r in 0..2 {
                    let grant = Grant::role(Principal::Group(GroupId::new(format!("g{g}"))), "p1".into(), RoleId::new(format!("r{r}")));
                    prop_assert_eq!(q.grant_held_at(&index, &grant, at).unwrap(), state.has_grant(&grant), "{:?} at {}", grant, at);
                }
            }
        }
        // History of a user: exactly the site's records that name them, newest first.
        let user = AccountId::from("u1");
        let (got, total) = q.history(&index, &Subject::User(user.clone()), head, None).unwrap();
        let mut want: Vec<u64> = log
            .read_from(1)
            .map(Result::unwrap)
            .filter(|r| r.stream == StreamId::jira_site(SITE) && names_user(&r.event, &user))
            .map(|r| r.position)
            .collect();
        want.reverse();
        prop_assert_eq!(got.iter().map(|r| r.position).collect::<Vec<_>>(), want.clone());
        prop_assert_eq!(total, want.len());
        // Every history's entries are the log's records at those positions, field
        // for field, whether the index holds them whole or they are read.
        let subjects = (0..5)
            .map(|u| Subject::User(AccountId::new(format!("u{u}"))))
            .chain((0..3).map(|g| Subject::Group(GroupId::new(format!("g{g}")))))
            .chain((0..2).map(|r| Subject::Role("p1".into(), RoleId::new(format!("r{r}")))))
            .chain([Subject::Project("p1".into()), Subject::Product("jira-software".into())]);
        for subject in subjects {
            let until = head / 2;
            let (got, _) = q.history(&index, &subject, until, Some(7)).unwrap();
            let mut want: Vec<Entry> = index
                .positions(&subject)
                .iter()
                .filter(|p| **p <= until)
                .map(|p| log.get(*p).unwrap().unwrap().into())
                .collect();
            want.reverse();
            want.truncate(7);
            prop_assert_eq!(got, want, "{:?}", subject);
        }
    }
}

fn names_user(e: &Event, user: &AccountId) -> bool {
    match e {
        Event::UserObserved(x) => &x.user.account_id == user,
        Event::UserDeactivated(x) => &x.account_id == user,
        Event::UserReactivated(x) => &x.account_id == user,
        Event::GrantAdded(GrantAdded { grant, .. })
        | Event::GrantRemoved(GrantRemoved { grant, .. }) => {
            grant.principal == Principal::User(user.clone())
        }
        _ => false,
    }
}

#[test]
fn a_snapshot_of_another_log_or_format_is_ignored_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path().join("log")).unwrap();
    let batch = vec![(false, (0..20).map(|i| (2, i, i)).collect::<Vec<_>>())];
    write(&log, &batch);
    let store = SnapshotStore::new(dir.path().join("snapshots"));
    // A snapshot whose content is wrong but whose key is right for another log:
    // the hash at its position disagrees with this log's.
    let other_dir = tempfile::tempdir().unwrap();
    let other = EventLog::open(other_dir.path()).unwrap();
    write(&other, &[(false, vec![(8, 0, 0); 20])]);
    let mut wrong = Site::new(SITE);
    wrong.state.position = 10;
    store.save(&other, "state", 1, SITE, 10, &wrong).unwrap();
    let q = Queries::new(log.clone(), SITE).with_snapshots(store.clone(), 1000);
    assert_eq!(
        q.state_at(15).unwrap(),
        SiteState::as_of(&log, SITE, 15).unwrap()
    );
    assert!(
        store.list("state", SITE).unwrap().is_empty(),
        "the bad snapshot is removed"
    );
    // A snapshot of another format is ignored too.
    store.save(&log, "state", 99, SITE, 10, &wrong).unwrap();
    assert_eq!(
        q.state_at(15).unwrap(),
        SiteState::as_of(&log, SITE, 15).unwrap()
    );
    // A good one is used: tamper with nothing, and the answer is the same.
    let good = Queries::new(log.clone(), SITE).with_snapshots(store.clone(), 5);
    assert_eq!(
        good.current().unwrap(),
        SiteState::load(&log, SITE).unwrap()
    );
    let files = store.list("state", SITE).unwrap();
    assert_eq!(
        files.iter().map(|f| f.position).collect::<Vec<_>>(),
        vec![5, 10, 15, 20]
    );
}

#[test]
fn a_preloaded_state_is_used_only_when_the_log_has_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path().join("log")).unwrap();
    write(&log, &[(false, (0..20).map(|i| (2, i, i)).collect())]);
    let store = SnapshotStore::new(dir.path().join("snapshots"));
    let queries = || Queries::new(log.clone(), SITE).with_snapshots(store.clone(), 1000);
    // Nothing to read ahead.
    assert!(StatePreload::start(&store, None).is_none());

    // Another log's state at position 10: read ahead, then refused and removed.
    let other_dir = tempfile::tempdir().unwrap();
    let other = EventLog::open(other_dir.path()).unwrap();
    write(&other, &[(false, vec![(8, 0, 0); 20])]);
    let mut wrong = Site::new(SITE);
    wrong.state.position = 10;
    store
        .save(&other, STATE_KIND, STATE_FORMAT, SITE, 10, &wrong)
        .unwrap();
    let q = queries().with_preload(StatePreload::start(&store, None));
    assert_eq!(
        q.state_at(15).unwrap(),
        SiteState::as_of(&log, SITE, 15).unwrap()
    );
    assert!(store.list(STATE_KIND, SITE).unwrap().is_empty());

    // A state saved at this log's position 20, marked so that its use shows:
    // read ahead and used, as any snapshot whose hash the log has.
    let mut marked = Site::new(SITE);
    marked.state.position = 20;
    marked.state.version = 12345;
    store
        .save(&log, STATE_KIND, STATE_FORMAT, SITE, 20, &marked)
        .unwrap();
    let q = queries().with_preload(StatePreload::start(&store, None));
    assert_eq!(q.current().unwrap().version, 12345);
    // Used once: the next answer reads the file the usual way, to the same end.
    assert_eq!(q.current().unwrap().version, 12345);
    // Not for an earlier position, nor for another site.
    let q = queries().with_preload(StatePreload::start(&store, Some(SITE)));
    assert_eq!(
        q.state_at(19).unwrap(),
        SiteState::as_of(&log, SITE, 19).unwrap()
    );
    let q =
        Queries::new(log.clone(), "other").with_preload(StatePreload::start(&store, Some(SITE)));
    assert_eq!(q.current().unwrap().version, 0);
}

/// A log long enough for the read-ahead and the long folds (numbered state,
/// deferred index): the answers equal a fold record by record on this thread.
#[test]
fn long_folds_equal_a_fold_record_by_record() {
    use grantledger_eventlog::{Projection, READ_AHEAD_MIN};
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    // A deterministic mix of every kind of event `event` makes, in batches on
    // this site and another.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let batches: Batches = (0..(READ_AHEAD_MIN / 500 + 10))
        .map(|i| {
            let events = (0..500)
                .map(|_| {
                    let r = next();
                    (r as u8, (r >> 8) as u8, (r >> 16) as u8)
                })
                .collect();
            (i % 7 == 3, events)
        })
        .collect();
    write(&log, &batches);
    let head = log.head().position;
    assert!(head > READ_AHEAD_MIN + 4_000);

    let mut site = Site::new(SITE);
    let mut index = HistoryIndex::new(SITE);
    for r in log.read_from(1) {
        let r = r.unwrap();
        site.apply(&r);
        index.apply(&r);
    }
    assert_eq!(
        Queries::new(log.clone(), SITE).current().unwrap(),
        site.state
    );
    let mut long = HistoryIndex::new(SITE);
    assert_eq!(long.fold_long(&log, head).unwrap(), head);
    assert_eq!(long, index);
    assert_eq!(Queries::new(log.clone(), SITE).index().unwrap(), index);
}

/// A project that vanishes clears the timelines of its roles, also of a role
/// whose steps the long fold has still to derive when the project vanishes.
#[test]
fn a_vanished_project_clears_its_roles_in_the_long_index_fold() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let role = |r: &str| Grant::role(Principal::User("u1".into()), "p1".into(), r.into());
    let events: Vec<Event> = vec![
        GrantAdded {
            grant: role("r0"),
            cause: cause(),
        }
        .into(),
        GrantAdded {
            grant: role("r1"),
            cause: cause(),
        }
        .into(),
        ProjectVanished {
            project_id: "p1".into(),
            key: "P1".into(),
        }
        .into(),
        GrantAdded {
            grant: role("r1"),
            cause: cause(),
        }
        .into(),
    ];
    log.append(
        &StreamId::jira_site(SITE),
        ExpectedVersion::Any,
        events.into_iter().map(NewEvent::new).collect(),
    )
    .unwrap();
    let mut plain = HistoryIndex::new(SITE);
    grantledger_eventlog::fold_until(&log, &mut plain, 4).unwrap();
    let mut long = HistoryIndex::new(SITE);
    long.fold_long(&log, 4).unwrap();
    assert_eq!(long, plain);
    let kinds = |r: &str| {
        long.timeline(&Subject::Role("p1".into(), r.into()))
            .iter()
            .map(|s| (s.position, s.kind))
            .collect::<Vec<_>>()
    };
    use grantledger_projection::index::StepKind::{Added, Cleared};
    assert_eq!(kinds("r0"), vec![(1, Added), (3, Cleared)]);
    assert_eq!(kinds("r1"), vec![(2, Added), (3, Cleared), (4, Added)]);
}

/// The grant changes of a state read from a snapshot stay in the file until
/// used (ADR 0025): the answer is the same, they are read from the file as it
/// was opened, a damaged tail is refused at load, and one written over in place
/// after loading fails loudly at use, naming the file.
#[test]
fn a_snapshot_leaves_its_grant_changes_on_disk_until_used() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path().join("log")).unwrap();
    write(
        &log,
        &[(false, (0..40).map(|i| (2 + i % 3, i, i / 2)).collect())],
    );
    let store = SnapshotStore::new(dir.path().join("snapshots"));
    let queries = || Queries::new(log.clone(), SITE).with_snapshots(store.clone(), 20);
    let replayed = SiteState::load(&log, SITE).unwrap();
    assert!(replayed.grant_changes.len() > 3, "a fixture with grants");
    // Writes the snapshots at 20 and 40.
    assert_eq!(queries().current().unwrap(), replayed);
    let file = store.list(STATE_KIND, SITE).unwrap().pop().unwrap();
    assert_eq!(file.position, 40);

    let loaded = queries().current().unwrap();
    assert!(!loaded.grant_changes.is_decoded(), "left in the file");
    assert_eq!(loaded.grant_changes.len(), replayed.grant_changes.len());
    // Read from the file as it was opened, even once it is gone.
    let bytes = std::fs::read(&file.path).unwrap();
    std::fs::remove_file(&file.path).unwrap();
    assert_eq!(loaded.grant_changes.map(), replayed.grant_changes.map());
    assert_eq!(loaded, replayed);
    drop(loaded);

    // The tail is the end of the file: a byte changed in it is refused at load
    // (the file is removed and the state rebuilt), not at first use.
    let mut damaged = bytes.clone();
    let last = damaged.len() - 3;
    damaged[last] ^= 0x20;
    std::fs::write(&file.path, &damaged).unwrap();
    let rebuilt = queries().current().unwrap();
    assert!(rebuilt.grant_changes.is_decoded(), "replayed, not loaded");
    assert_eq!(rebuilt, replayed);
    assert_eq!(std::fs::read(&file.path).unwrap(), bytes, "written again");

    // Written over in place after it was loaded and checked: its first use
    // fails, saying which file, rather than answering from other bytes.
    let loaded = queries().current().unwrap();
    assert!(!loaded.grant_changes.is_decoded());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&file.path)
        .unwrap();
    std::io::Write::write_all(&mut f, &damaged).unwrap();
    drop(f);
    let failed =
        std::panic::catch_unwind(|| loaded.grant_changes.len() + loaded.grant_changes.map().len())
            .unwrap_err();
    let message = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains(&file.path.display().to_string()) && message.contains("changed on disk"),
        "{message}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_follower_wakes_on_new_appends_and_keeps_the_index_current() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    write(&log, &[(false, vec![(2, 1, 1)])]);
    let mut f = Follower::new(log.clone(), HistoryIndex::new(SITE));
    assert_eq!(f.catch_up().unwrap(), 1);
    let writer = log.clone();
    let task = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        write(&writer, &[(false, vec![(2, 1, 2), (4, 1, 1)])]);
    });
    let folded = tokio::time::timeout(std::time::Duration::from_secs(5), f.wait())
        .await
        .expect("woken by the append")
        .unwrap();
    task.await.unwrap();
    assert_eq!(folded, 2);
    let grant = Grant::membership("u1".into(), "g1".into());
    assert_eq!(f.projection().positions(&Subject::Grant(grant)), &[1, 3]);
    let mut site = Follower::new(log.clone(), Site::new(SITE));
    site.catch_up().unwrap();
    assert_eq!(
        site.projection().state,
        SiteState::load(&log, SITE).unwrap()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// One entitlement's holders, folded from its own records through the index,
    /// equal the full state's at every position.
    #[test]
    fn one_entitlement_as_of_equals_the_full_state(batches in batches()) {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        write(&log, &batches);
        let q = Queries::new(log.clone(), SITE);
        let index = q.index().unwrap();
        for at in 0..=log.head().position {
            let state = q.state_at(at).unwrap();
            for g in 0..3 {
                let group = GroupId::new(format!("g{g}"));
                let want: BTreeSet<Principal> = state.members.get(&group).into_iter().flatten().map(|u| Principal::User(u.clone())).collect();
                prop_assert_eq!(q.direct_holders_at(&index, &Target::Group { group }, at).unwrap(), want, "g{} at {}", g, at);
            }
            for r in 0..2 {
                let (project, role) = (ProjectId::from("p1"), RoleId::new(format!("r{r}")));
                let want = state.role_actors.get(&(project.clone(), role.clone())).cloned().unwrap_or_default();
                prop_assert_eq!(q.direct_holders_at(&index, &Target::ProjectRole { project, role }, at).unwrap(), want, "r{} at {}", r, at);
            }
        }
    }
}

/// A server moves these into blocking tasks and shares them across requests.
#[test]
fn the_query_handles_can_cross_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Queries>();
    shareable::<SnapshotStore>();
    shareable::<SiteState>();
    shareable::<HistoryIndex>();
}
