//! Property tests: encode/decode round trips, and stream versioning against a model.

use crate::common;

use std::collections::HashMap;

use grantledger_eventlog::{codec, EventLog, ExpectedVersion, Hash, LogError, NewEvent, Record};
use grantledger_model::*;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    // Any Unicode, including the empty string and multi-byte characters.
    proptest::string::string_regex("(?s).{0,40}").unwrap()
}

fn user_record() -> impl Strategy<Value = UserRecord> {
    (
        text(),
        text(),
        proptest::option::of(text()),
        any::<bool>(),
        0u8..4,
    )
        .prop_map(|(id, name, email, active, t)| UserRecord {
            account_id: AccountId::new(id),
            account_type: [
                AccountType::Atlassian,
                AccountType::App,
                AccountType::Customer,
                AccountType::Unknown,
            ][t as usize],
            display_name: name,
            email,
            active,
        })
}

fn grant() -> impl Strategy<Value = Grant> {
    (text(), text(), text(), any::<bool>(), 0u8..3).prop_map(|(a, b, c, as_group, kind)| {
        let principal = if as_group {
            Principal::Group(GroupId::new(a))
        } else {
            Principal::User(AccountId::new(a))
        };
        let entitlement = match kind {
            0 => Entitlement::GroupMembership {
                group: GroupId::new(b),
            },
            1 => Entitlement::ProjectRole {
                project: ProjectId::new(b),
                role: RoleId::new(c),
            },
            _ => Entitlement::ProductAccess {
                product: ProductKey::new(b),
            },
        };
        Grant {
            principal,
            entitlement,
        }
    })
}

fn cause() -> impl Strategy<Value = GrantCause> {
    (text(), text(), 0u8..4).prop_map(|(a, b, k)| match k {
        0 => GrantCause::ObservedInSync {
            run: SyncRunId::new(a),
        },
        1 => GrantCause::AppliedByRequest {
            request: RequestId::new(a),
            command: CommandId::new(b),
        },
        2 => GrantCause::RemovedByReview {
            campaign: CampaignId::new(a),
            command: CommandId::new(b),
        },
        _ => GrantCause::RemovedAtExpiry {
            request: RequestId::new(a),
            command: CommandId::new(b),
        },
    })
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        user_record().prop_map(|user| Event::UserObserved(UserObserved { user })),
        (user_record(), user_record())
            .prop_map(|(before, after)| Event::UserChanged(UserChanged { before, after })),
        text().prop_map(|a| Event::UserDeactivated(UserDeactivated {
            account_id: AccountId::new(a)
        })),
        (text(), text(), text()).prop_map(|(g, from, to)| Event::GroupRenamed(GroupRenamed {
            group_id: GroupId::new(g),
            from,
            to
        })),
        (text(), proptest::collection::vec(text(), 0..5)).prop_map(|(p, groups)| {
            Event::ProductAccessGroupsChanged(ProductAccessGroupsChanged {
                product: ProductKey::new(p.clone()),
                name: p,
                groups: groups.into_iter().map(GroupId::new).collect(),
            })
        }),
        (grant(), cause())
            .prop_map(|(grant, cause)| Event::GrantAdded(GrantAdded { grant, cause })),
        (grant(), cause())
            .prop_map(|(grant, cause)| Event::GrantRemoved(GrantRemoved { grant, cause })),
        (
            text(),
            text(),
            any::<u64>(),
            proptest::collection::vec(text(), 0..3)
        )
            .prop_map(|(run, reason, n, scopes)| {
                Event::SyncFailed(SyncFailed {
                    run: SyncRunId::new(run),
                    reason,
                    unfinished_scopes: scopes,
                    stats: SyncStats {
                        requests: n,
                        duration_ms: n / 3,
                        ..SyncStats::default()
                    },
                })
            }),
    ]
}

fn causation() -> impl Strategy<Value = Option<Causation>> {
    proptest::option::of((text(), 0u8..5).prop_map(|(a, k)| match k {
        0 => Causation::SyncRun(SyncRunId::new(a)),
        1 => Causation::Request(RequestId::new(a)),
        2 => Causation::Campaign(CampaignId::new(a)),
        3 => Causation::Command(CommandId::new(a)),
        _ => Causation::Operator(a),
    }))
}

proptest! {
    #[test]
    fn records_round_trip_through_the_codec(
        event in event(),
        causation in causation(),
        id in proptest::option::of(text()),
        position in 1u64..u64::MAX,
        version in 1u64..u64::MAX,
        at in any::<i64>(),
        site in "[a-z0-9.-]{1,30}",
        prev in any::<[u8; 32]>(),
    ) {
        let mut record = Record {
            position,
            recorded_at: Timestamp(at),
            stream: StreamId::jira_site(&site),
            stream_version: version,
            event_id: id.map(EventId::new),
            causation,
            event,
            prev_hash: Hash(prev),
            hash: Hash::ZERO,
        };
        let (bytes, hash) = codec::encode(&record);
        record.hash = hash;
        let back = codec::decode_record(&bytes).unwrap();
        prop_assert_eq!(&back, &record);
        prop_assert_eq!(codec::encode(&back).0, bytes);
    }
}

#[derive(Debug, Clone)]
struct Op {
    stream: usize,
    expected: u8,
    offset: i8,
    events: usize,
}

fn op() -> impl Strategy<Value = Op> {
    (0usize..3, 0u8..4, -1i8..2, 1usize..5).prop_map(|(stream, expected, offset, events)| Op {
        stream,
        expected,
        offset,
        events,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn stream_versions_follow_the_model(ops in proptest::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        let streams: Vec<StreamId> = (0..3).map(|i| StreamId::jira_site(&format!("s{i}"))).collect();
        let mut model: HashMap<usize, u64> = HashMap::new();
        let mut head = 0u64;
        let mut n = 0u64;
        for op in ops {
            let current = *model.get(&op.stream).unwrap_or(&0);
            let expected = match op.expected {
                0 => ExpectedVersion::Any,
                1 => ExpectedVersion::NoStream,
                2 => ExpectedVersion::StreamExists,
                _ => ExpectedVersion::Exact(current.saturating_add_signed(op.offset as i64)),
            };
            let admits = match expected {
                ExpectedVersion::Any => true,
                ExpectedVersion::NoStream => current == 0,
                ExpectedVersion::StreamExists => current > 0,
                ExpectedVersion::Exact(v) => v == current,
            };
            let events: Vec<NewEvent> = (0..op.events).map(|_| { n += 1; common::user(n) }).collect();
            match log.append(&streams[op.stream], expected, events) {
                Ok(r) => {
                    prop_assert!(admits);
                    prop_assert_eq!(r.first, head + 1);
                    prop_assert_eq!(r.stream_version, current + op.events as u64);
                    head = r.last;
                    model.insert(op.stream, r.stream_version);
                }
                Err(LogError::WrongExpectedVersion { current: c, .. }) => {
                    prop_assert!(!admits);
                    prop_assert_eq!(c, current);
                }
                Err(e) => prop_assert!(false, "unexpected error {}", e),
            }
        }
        prop_assert_eq!(log.head().position, head);
        let report = log.verify().unwrap();
        prop_assert!(report.is_ok(), "{:?}", report);
        for (i, s) in streams.iter().enumerate() {
            let versions: Vec<u64> = log.read_stream(s, 1).unwrap().iter().map(|r| r.stream_version).collect();
            let want: Vec<u64> = (1..=*model.get(&i).unwrap_or(&0)).collect();
            prop_assert_eq!(versions, want);
        }
    }
}
