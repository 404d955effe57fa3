//! The JSON Schemas of the review answers in `schemas/` are generated from the
//! view types; this test fails when a checked-in copy is stale, and checks a
//! real answer against them. Regenerate with
//! `GRANTLEDGER_BLESS=1 cargo test -p grantledger-review --test it schemas`.

use std::path::PathBuf;

use grantledger_review::bulk::ItemRow;
use grantledger_review::view::{self, ItemView};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

#[test]
fn the_checked_in_review_schemas_are_current() {
    for (name, fresh) in view::schemas() {
        let path = dir().join(name);
        if std::env::var_os("GRANTLEDGER_BLESS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == fresh,
            "{} is stale: regenerate it with GRANTLEDGER_BLESS=1 cargo test -p grantledger-review --test it schemas",
            path.display()
        );
    }
}

#[test]
fn answers_match_their_schemas() {
    let item = ItemView {
        item: "i1".into(),
        principal_id: "a1".into(),
        principal: "Zoë <zoe@example.com>".into(),
        entitlement: "group devs".into(),
        reviewer_id: "r1".into(),
        reviewer: "Rob <rob@example.com>".into(),
        decision: "revoked".into(),
        decided_by: Some("Rob <rob@example.com>".into()),
        decided_at: Some("2026-11-30T20:00:00.000000Z".into()),
        comment: Some("left".into()),
        signals: vec!["never reviewed before".into()],
        remediation: Some("pending".into()),
    };
    let row = ItemRow {
        campaign: "c1".into(),
        item: "i1".into(),
        reviewer: "r1".into(),
        principal_id: "a1".into(),
        principal: "Zoë".into(),
        entitlement: "group devs".into(),
        signals: String::new(),
        decision: "revoke".into(),
        comment: String::new(),
    };
    for (name, value) in [
        (
            "review-items.schema.json",
            serde_json::to_value(vec![item.clone()]).unwrap(),
        ),
        ("review-csv.schema.json", serde_json::to_value(row).unwrap()),
    ] {
        let (_, schema) = view::schemas()
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap();
        let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&value), "{name}: {value:#}");
    }
    // A wrong shape is refused (the schema checks something).
    let (_, schema) = view::schemas().into_iter().next().unwrap();
    let validator = jsonschema::validator_for(&serde_json::from_str(&schema).unwrap()).unwrap();
    assert!(!validator.is_valid(&serde_json::json!([{"item": 1}])));
}

#[test]
fn the_out_of_band_schema_is_current_and_matches_an_answer() {
    use grantledger_review::out_of_band;
    for (name, fresh) in out_of_band::schemas() {
        let path = dir().join(name);
        if std::env::var_os("GRANTLEDGER_BLESS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == fresh,
            "{} is stale: regenerate it with GRANTLEDGER_BLESS=1 cargo test -p grantledger-review --test it schemas",
            path.display()
        );
        let schema: serde_json::Value = serde_json::from_str(&fresh).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let answer = out_of_band::OutOfBandReport {
            site: "acme".into(),
            as_of: grantledger_projection::report::AsOf::after(0, None),
            scope: "privileged".into(),
            privileged_groups: vec!["site-admins".into()],
            privileged_roles: vec!["Administrators".into()],
            since_position: None,
            in_scope: 0,
            explained: Default::default(),
            grants: vec![out_of_band::OutOfBandRow {
                principal: grantledger_projection::report::PrincipalView {
                    kind: "user".into(),
                    id: "a1".into(),
                    name: "Mallory".into(),
                    email: Some("m@acme.com".into()),
                    status: Some("active".into()),
                },
                entitlement: grantledger_projection::report::EntitlementView {
                    kind: "group".into(),
                    id: "g1".into(),
                    name: "site-admins".into(),
                },
                added_position: 12,
                added_at: Some("2026-11-30T20:00:00.000000Z".into()),
                sync_run: Some("run-2".into()),
                in_jira: grantledger_projection::report::JiraAttribution {
                    text: "added by Alice in Jira at 20:00 (2026-11-30, UTC)".into(),
                    audit_record: Some(7),
                    author_account_id: Some("alice".into()),
                    author_name: Some("Alice".into()),
                    at: Some("2026-11-30T20:00:00.000000Z".into()),
                },
            }],
        };
        let value = serde_json::to_value(answer).unwrap();
        assert!(validator.is_valid(&value), "{value:#}");
        assert!(!validator.is_valid(&serde_json::json!({"site": 1})));
    }
}
