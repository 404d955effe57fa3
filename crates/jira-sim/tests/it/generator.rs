//! The org generator: determinism, sizes and skew, JSON round trip.

use std::collections::BTreeMap;

use grantledger_jira_sim::{Org, Preset, SimError};

fn group_sizes(org: &Org) -> BTreeMap<String, usize> {
    org.groups
        .iter()
        .map(|g| {
            (
                g.name.clone(),
                org.memberships.get(&g.group_id).map_or(0, |m| m.len()),
            )
        })
        .collect()
}

#[test]
fn same_seed_gives_the_same_org_and_another_seed_another() {
    for preset in [Preset::Small, Preset::Medium] {
        let a = Org::generate(preset, 11);
        let b = Org::generate(preset, 11);
        assert_eq!(a, b, "{preset}: same seed must give the same org");
        let c = Org::generate(preset, 12);
        assert_ne!(
            a.users, c.users,
            "{preset}: another seed must give other users"
        );
        assert_ne!(
            a.memberships, c.memberships,
            "{preset}: another seed must give other memberships"
        );
    }
}

#[test]
fn generated_orgs_are_consistent() {
    for preset in [Preset::Small, Preset::Medium, Preset::Large] {
        let org = Org::generate(preset, 3);
        org.validate().unwrap_or_else(|e| panic!("{preset}: {e}"));
    }
}

#[test]
fn small_is_the_demo_size_with_every_kind_of_account() {
    let org = Org::generate(Preset::Small, 1);
    assert!(
        (45..=55).contains(&org.users.len()),
        "{} users",
        org.users.len()
    );
    for kind in ["atlassian", "app", "customer"] {
        assert!(
            org.users.iter().any(|u| u.account_type == kind),
            "no {kind} account"
        );
    }
    assert!(org.users.iter().any(|u| !u.active), "no inactive account");
    assert!(org.users.iter().any(|u| u.email_hidden), "no hidden email");
    assert!(
        org.users.iter().any(|u| u.email.is_none()),
        "no account without email"
    );
    for name in [
        "jira-software-users",
        "jira-administrators",
        "site-admins",
        "jira-servicedesk-users",
    ] {
        assert!(org.group_by_name(name).is_some(), "no group {name}");
    }
    assert!(
        org.projects.iter().any(|p| p.archived),
        "no archived project"
    );
    assert!(org.projects.iter().all(|p| p.roles.len() == 3));
    assert!(!org.site_admins.is_empty());
    assert_eq!(org.members_of("site-admins"), org.site_admins);
}

#[test]
fn medium_and_large_have_the_promised_sizes_and_skew() {
    for (preset, users, groups, memberships, projects, roles) in [
        (Preset::Medium, 2_000, 200, 20_000, 100, 4),
        (Preset::Large, 20_000, 2_000, 200_000, 1_000, 6),
    ] {
        let org = Org::generate(preset, 5);
        assert_eq!(org.users.len(), users, "{preset} users");
        assert_eq!(org.groups.len(), groups, "{preset} groups");
        let m = org.membership_count();
        assert!(
            m * 10 >= memberships * 9 && m * 10 <= memberships * 11,
            "{preset}: {m} memberships"
        );
        assert_eq!(org.projects.len(), projects, "{preset} projects");
        assert!(
            org.projects.iter().all(|p| p.roles.len() == roles),
            "{preset} roles per project"
        );

        let sizes = group_sizes(&org);
        let jsu = sizes["jira-software-users"];
        let staff = org
            .users
            .iter()
            .filter(|u| u.account_type == "atlassian")
            .count();
        assert!(
            jsu * 10 >= staff * 8,
            "{preset}: jira-software-users has {jsu} of {staff}"
        );
        let huge = sizes.values().filter(|&&s| s > 1_000).count();
        assert!(huge >= 2, "{preset}: {huge} groups over 1,000 members");
        let small = sizes.values().filter(|&&s| s <= 20).count();
        assert!(small * 3 >= groups, "{preset}: only {small} small groups");

        let hidden = org.users.iter().filter(|u| u.email_hidden).count() as f64 / staff as f64;
        assert!(
            (0.15..0.25).contains(&hidden),
            "{preset}: hidden email ratio {hidden}"
        );
        assert!(
            org.users.iter().filter(|u| !u.active).count() > users / 50,
            "{preset}: too few inactive"
        );
        assert!(org.users.iter().filter(|u| u.account_type == "app").count() >= 30);
        assert!(
            org.users
                .iter()
                .filter(|u| u.account_type == "customer")
                .count()
                >= 150
        );
        assert!(
            org.users
                .iter()
                .any(|u| u.display_name == "Former user" && !u.active && u.email.is_none()),
            "{preset}: no deleted account"
        );
        let group_actors: usize = org
            .projects
            .iter()
            .flat_map(|p| &p.roles)
            .map(|r| r.group_actors.len())
            .sum();
        assert!(
            group_actors >= projects,
            "{preset}: {group_actors} group actors"
        );
        assert!(org
            .application_roles
            .iter()
            .any(|a| a.key == "jira-software"));
        assert!(org
            .application_roles
            .iter()
            .any(|a| a.key == "jira-servicedesk"));
    }
}

#[test]
fn large_has_a_role_with_more_than_a_thousand_user_actors() {
    let org = Org::generate(Preset::Large, 9);
    let biggest = org
        .projects
        .iter()
        .flat_map(|p| &p.roles)
        .map(|r| r.user_actors.len())
        .max()
        .unwrap_or(0);
    assert!(biggest > 1_000, "biggest role has {biggest} user actors");
}

#[test]
fn large_generation_time() {
    let t = std::time::Instant::now();
    let org = Org::generate(Preset::Large, 1);
    // Reported, not asserted: timings belong to benchmarks.
    eprintln!(
        "large org: {} memberships generated in {:?}",
        org.membership_count(),
        t.elapsed()
    );
}

#[test]
fn save_and_load_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("org.json");
    let org = Org::generate(Preset::Small, 21);
    org.save_json(&path).expect("save");
    let back = Org::load_json(&path).expect("load");
    assert_eq!(org, back);
}

#[test]
fn loading_rejects_broken_files_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none.json");
    assert!(matches!(Org::load_json(&missing), Err(SimError::Io { .. })));

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, b"{\"users\": 3").expect("write");
    assert!(matches!(
        Org::load_json(&garbage),
        Err(SimError::Json { .. })
    ));

    let mut org = Org::generate(Preset::Small, 21);
    let gid = org.groups[0].group_id.clone();
    org.memberships
        .entry(gid.clone())
        .or_default()
        .insert("nobody".into());
    let dangling = dir.path().join("dangling.json");
    org.save_json(&dangling).expect("save");
    match Org::load_json(&dangling) {
        Err(SimError::InvalidOrg { reason }) => assert!(
            reason.contains("nobody") && reason.contains(&gid),
            "{reason}"
        ),
        other => panic!("expected InvalidOrg, got {other:?}"),
    }
}

#[test]
fn presets_parse_from_their_names() {
    assert_eq!("small".parse::<Preset>().ok(), Some(Preset::Small));
    assert_eq!("Medium".parse::<Preset>().ok(), Some(Preset::Medium));
    assert_eq!("large".parse::<Preset>().ok(), Some(Preset::Large));
    assert!(matches!(
        "huge".parse::<Preset>(),
        Err(SimError::UnknownPreset(_))
    ));
}
