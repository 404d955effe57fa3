//! The JSON Schemas of the query answers in `schemas/` are generated from the
//! report types; this test fails when a checked-in copy is stale, and checks real
//! answers against them. Regenerate with
//! `GRANTLEDGER_BLESS=1 cargo test -p grantledger-projection --test schemas`.

use std::path::PathBuf;

use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent};
use grantledger_model::*;
use grantledger_projection::report::{self, AsOf, GroupBy};
use grantledger_projection::{Queries, Subject, Target};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

#[test]
fn the_checked_in_query_schemas_are_current() {
    for (name, fresh) in report::schemas() {
        let path = dir().join(name);
        if std::env::var_os("GRANTLEDGER_BLESS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == fresh,
            "{} is stale: regenerate it with GRANTLEDGER_BLESS=1 cargo test -p grantledger-projection --test schemas",
            path.display()
        );
    }
}

fn check(name: &str, value: serde_json::Value) {
    let (_, schema) = report::schemas()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}\n{value:#}");
}

#[test]
fn answers_match_their_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).unwrap();
    let s = StreamId::jira_site("acme");
    let run = SyncRunId::from("r1");
    let cause = GrantCause::ObservedInSync { run: run.clone() };
    let events: Vec<Event> = vec![
        UserObserved {
            user: UserRecord {
                account_id: "u1".into(),
                account_type: AccountType::Atlassian,
                display_name: "Zoë".into(),
                email: Some("zoe@example.com".into()),
                active: false,
            },
        }
        .into(),
        GroupObserved {
            group: GroupRecord {
                group_id: "g1".into(),
                name: "devs".into(),
            },
        }
        .into(),
        GrantAdded {
            grant: Grant::membership("u1".into(), "g1".into()),
            cause: cause.clone(),
        }
        .into(),
        GrantAdded {
            grant: Grant::role(Principal::Group("g1".into()), "p1".into(), "r1".into()),
            cause,
        }
        .into(),
    ];
    for e in events {
        log.append(
            &s,
            ExpectedVersion::Any,
            vec![NewEvent::new(e).caused_by(Causation::SyncRun(run.clone()))],
        )
        .unwrap();
    }
    let q = Queries::new(log.clone(), "acme");
    let state = q.current().unwrap();
    let as_of = AsOf::after(4, log.get(4).unwrap().as_ref());
    let user = report::access_user("acme", &state, as_of.clone(), &"u1".into());
    assert_eq!(user.access.len(), 2);
    check(
        "access-user.schema.json",
        serde_json::to_value(&user).unwrap(),
    );
    let who = report::access_who(
        "acme",
        &state,
        as_of.clone(),
        &[Target::ProjectRole {
            project: "p1".into(),
            role: "r1".into(),
        }],
    );
    assert_eq!(who.holders.len(), 2);
    check(
        "access-who.schema.json",
        serde_json::to_value(&who).unwrap(),
    );
    let index = q.index().unwrap();
    let subject = Subject::User("u1".into());
    let (records, total) = q.history(&index, &subject, 4, None).unwrap();
    let h = report::history("acme", &state, as_of.clone(), &subject, &records, total);
    assert_eq!(h.entries.len(), 2);
    check("history.schema.json", serde_json::to_value(&h).unwrap());
    let d = q.diff(1, 4).unwrap();
    let d = report::diff(
        "acme",
        &d,
        AsOf::after(1, None),
        as_of,
        true,
        GroupBy::Principal,
    );
    assert_eq!(d.net.len(), 2);
    check("diff.schema.json", serde_json::to_value(&d).unwrap());
}
