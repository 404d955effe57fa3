//! The item digest recomputed from an export of the log by an independent
//! implementation (tools/review_digest.py, Python standard library, written from
//! docs/review-digest.md) matches what the launch recorded — for a scope using
//! every kind of selector and for a delta scope — and a tampered export does not.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use grantledger_clock::ManualClock;
use grantledger_ingest::SyncOptions;
use grantledger_model::*;
use grantledger_review::{NewCampaign, Reviews};
use grantledger_testkit::{Harness, Preset, SITE};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn recompute(export: &Path, campaign: &str) -> (bool, String) {
    let probe = Command::new("python3").arg("--version").output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "python3 is needed to run tools/review_digest.py (standard library only)"
    );
    let o = Command::new("python3")
        .arg(repo().join("tools/review_digest.py"))
        .arg(export)
        .arg(campaign)
        .output()
        .expect("python3 runs");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn campaign(
    name: &str,
    selectors: Vec<ScopeSelector>,
    since: Option<Since>,
    fallback: &str,
    managers: &str,
) -> NewCampaign {
    NewCampaign {
        id: None,
        name: name.into(),
        scope: CampaignScope {
            selectors,
            account_types: vec![AccountType::Atlassian, AccountType::App],
            since,
        },
        owners: Vec::new(),
        managers_csv: Some(managers.into()),
        fallback: Some(fallback.into()),
        due: None,
        undecided: UndecidedRule::Keep,
        comment_required_for_revoke: false,
        remediation_sync_limit: 2,
        actor: "auditor".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_recompute_from_the_export_matches_the_launch() {
    let h = Harness::start(Preset::Small, 21).await;
    let clock = Arc::new(ManualClock::auto_advancing(Timestamp(
        1_764_288_000_000_000,
    )));
    let opts = || SyncOptions {
        clock: clock.clone(),
        ..SyncOptions::new(SITE)
    };
    grantledger_ingest::sync(&h.log, &h.client, opts())
        .await
        .unwrap();
    let org = h.sim.org();
    let project = org.project_with_roles().expect("a project with roles");
    let product = org
        .application_roles
        .first()
        .expect("a product")
        .key
        .clone();
    let some_group = org
        .groups
        .iter()
        .find(|g| g.name.len() > 2)
        .unwrap()
        .name
        .clone();
    let glob = format!("{}*", &some_group[..2]);
    let reviews = Reviews::new(h.log.clone(), SITE, clock.clone());
    // The fallback reviews everything but their own access, which their
    // manager (from a manager mapping) reviews.
    let mut humans = org.active_humans();
    let fallback = humans.next().unwrap().account_id.clone();
    let manager = humans.next().unwrap().account_id.clone();
    let managers = format!("{fallback},{manager}\n");
    let second = campaign(
        "wide",
        vec![
            ScopeSelector::Groups {
                patterns: vec![glob.clone()],
            },
            ScopeSelector::PrivilegedGroups {
                patterns: vec!["site-admins".into(), "jira-*".into()],
            },
            ScopeSelector::ProjectRoles {
                projects: vec![project.key.clone()],
                roles: Vec::new(),
            },
            ScopeSelector::ProductAccess {
                products: vec![ProductKey::from(product.as_str())],
            },
        ],
        None,
        &fallback,
        &managers,
    );
    let c1 = reviews.create(second).unwrap();
    let c1 = match reviews.launch(c1.id.as_str(), "auditor") {
        Ok(c) => c,
        Err(e) => panic!("launch: {e}"),
    };
    assert!(
        c1.items.len() > 5,
        "a scope of some size: {}",
        c1.items.len()
    );
    let since = c1.launch.as_ref().unwrap().position;
    // Sync again (nothing changed in Jira); every grant since position 0, and
    // only the grants added since c1's launch (none).
    grantledger_ingest::sync(&h.log, &h.client, opts())
        .await
        .unwrap();
    let c2 = reviews
        .create(campaign(
            "everything",
            vec![ScopeSelector::AllGrants],
            Some(Since::Position(0)),
            &fallback,
            &managers,
        ))
        .unwrap();
    let c2 = reviews
        .launch(c2.id.as_str(), "auditor")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c2.items.len() > c1.items.len());
    let c3 = reviews
        .create(campaign(
            "delta",
            vec![ScopeSelector::AllGrants],
            Some(Since::Position(since)),
            &fallback,
            &managers,
        ))
        .unwrap();
    let c3 = reviews
        .launch(c3.id.as_str(), "auditor")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c3.items.is_empty(), "nothing was added since c1");

    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.jsonl");
    let mut file = std::fs::File::create(&export).unwrap();
    h.log.export_jsonl(1, &mut file).unwrap();
    drop(file);
    for c in [&c1, &c2, &c3] {
        let (ok, out) = recompute(&export, c.id.as_str());
        assert!(ok, "{}: {out}", c.id);
        assert!(
            out.contains(&format!(
                "{} items {}",
                c.items.len(),
                c.launch.as_ref().unwrap().digest
            )),
            "{out}"
        );
        assert!(reviews.verify(c.id.as_str()).unwrap().ok());
    }

    // Drop one in-scope grant from the export: the recompute no longer matches.
    let text = std::fs::read_to_string(&export).unwrap();
    let Principal::User(victim) = &c1.items[0].grant.principal else {
        panic!("a user item first")
    };
    let mut dropped = false;
    let tampered: String = text
        .lines()
        .filter(|l| {
            let hit = !dropped
                && l.contains("\"event_type\":\"GrantAdded\"")
                && l.contains(victim.as_str())
                && match &c1.items[0].grant.entitlement {
                    Entitlement::GroupMembership { group } => l.contains(group.as_str()),
                    Entitlement::ProjectRole { role, .. } => l.contains(role.as_str()),
                    Entitlement::ProductAccess { .. } => false,
                };
            dropped |= hit;
            !hit
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(dropped);
    let bad = dir.path().join("tampered.jsonl");
    std::fs::write(&bad, tampered).unwrap();
    let (ok, out) = recompute(&bad, c1.id.as_str());
    assert!(!ok && out.contains("MISMATCH"), "{out}");
}
