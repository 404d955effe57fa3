//! Property: the state as of any position equals folding, by hand, the site's
//! events up to that position — whatever the batch sizes and the other streams
//! interleaved.

use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent};
use grantledger_model::*;
use grantledger_projection::SiteState;
use proptest::prelude::*;

fn event(kind: u8, a: u8, b: u8) -> Event {
    let user = AccountId::new(format!("u{}", a % 6));
    let group = GroupId::new(format!("g{}", b % 3));
    let cause = GrantCause::ObservedInSync {
        run: SyncRunId::from("r"),
    };
    match kind % 6 {
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
        2 => GrantAdded {
            grant: Grant::membership(user, group),
            cause,
        }
        .into(),
        3 => GrantRemoved {
            grant: Grant::membership(user, group),
            cause,
        }
        .into(),
        4 => GroupObserved {
            group: GroupRecord {
                group_id: group,
                name: format!("n{a}"),
            },
        }
        .into(),
        _ => GroupVanished {
            group_id: group,
            name: String::new(),
        }
        .into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn as_of_equals_a_fold_of_the_prefix(
        batches in proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 1..40)),
            1..12,
        ),
        probes in proptest::collection::vec(any::<u16>(), 1..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        let mine = StreamId::jira_site("acme");
        let other = StreamId::jira_site("other");
        // (position, event) of the site's own stream, in order.
        let mut ours: Vec<(u64, Event)> = Vec::new();
        for (is_other, events) in batches {
            let events: Vec<Event> = events.into_iter().map(|(k, a, b)| event(k, a, b)).collect();
            let stream = if is_other { &other } else { &mine };
            let done = log
                .append(stream, ExpectedVersion::Any, events.iter().cloned().map(NewEvent::new).collect())
                .unwrap();
            if !is_other {
                ours.extend((done.first..=done.last).zip(events));
            }
        }
        let head = log.head().position;
        for probe in probes {
            let at = u64::from(probe) % (head + 1);
            let mut want = SiteState::default();
            for (_, e) in ours.iter().take_while(|(p, _)| *p <= at) {
                want.apply_event(e);
            }
            let got = SiteState::as_of(&log, "acme", at).unwrap();
            prop_assert_eq!(&got.users, &want.users);
            prop_assert_eq!(&got.groups, &want.groups);
            prop_assert_eq!(&got.members, &want.members);
            prop_assert_eq!(got.position, at);
        }
    }
}
