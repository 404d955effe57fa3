//! `grantledger review ...` through the real binary against the simulator over
//! loopback HTTP: create from the command line with an owner from the config
//! file, preview, launch, a refused decision, export and an import refused as a
//! whole then accepted, close (the simulator's group loses exactly the revoked
//! members), the next `sync` confirming each removal, `show`, `items` and
//! `verify`.

use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};

use crate::sim_cli::{grantledger, ok, refused, Sim};

#[test]
fn a_campaign_from_the_command_line_revokes_in_jira_and_the_next_sync_confirms_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let org = Org::generate(Preset::Small, 5);
    let admin = Credential::admin_of(&org);
    let server = rt
        .block_on(SimServer::start(org, vec![admin], Faults::default()))
        .unwrap();
    let sim = Sim { server, _rt: rt };
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let d = dir.path();
    ok(&grantledger(d, &sim, &["sync"]));
    let org = sim.server.org();
    let admin = Credential::admin_of(&org).account_id;
    let human = |a: &String| {
        org.users
            .iter()
            .any(|u| &u.account_id == a && u.account_type == "atlassian")
    };
    let group = org
        .groups
        .iter()
        .filter(|g| {
            !["site-admins", "jira-administrators", "org-admins"].contains(&g.name.as_str())
        })
        .find(|g| {
            org.memberships
                .get(&g.group_id)
                .is_some_and(|m| !m.contains(&admin) && m.iter().filter(|a| human(a)).count() >= 3)
        })
        .expect("a group with three human members")
        .clone();
    let owner = org
        .active_humans()
        .find(|u| {
            u.account_id != admin && !org.memberships[&group.group_id].contains(&u.account_id)
        })
        .unwrap()
        .account_id
        .clone();
    std::fs::write(
        d.join("grantledger.toml"),
        format!(
            "[review]\n[[review.owner]]\nname = \"team\"\ngroups = [\"{}\"]\nreviewer = \"{owner}\"\n",
            group.name
        ),
    )
    .unwrap();
    let out = ok(&grantledger(
        d,
        &sim,
        &[
            "review",
            "create",
            "--name",
            "Q3 team",
            "--group",
            &group.name,
            "--fallback",
            &admin,
            "--require-revoke-comment",
            "--as",
            "auditor@example.com",
        ],
    ));
    assert!(out.contains("c1") && out.contains("draft"), "{out}");
    let humans = org.memberships[&group.group_id]
        .iter()
        .filter(|a| human(a))
        .count();
    let out = ok(&grantledger(
        d,
        &sim,
        &["review", "preview", "c1", "--format", "json"],
    ));
    let preview: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(preview["items"], humans);
    assert_eq!(preview["unassigned"].as_array().unwrap().len(), 0);
    ok(&grantledger(
        d,
        &sim,
        &["review", "launch", "c1", "--as", "auditor@example.com"],
    ));

    // Only the owner decides, and a revocation needs a comment.
    let err = refused(&grantledger(
        d,
        &sim,
        &["review", "decide", "c1", "i1", "revoke", "--as", &admin],
    ));
    assert!(err.contains("only its reviewer decides"), "{err}");
    let err = refused(&grantledger(
        d,
        &sim,
        &["review", "decide", "c1", "i1", "revoke", "--as", &owner],
    ));
    assert!(err.contains("requires a comment"), "{err}");
    ok(&grantledger(
        d,
        &sim,
        &[
            "review",
            "decide",
            "c1",
            "i1",
            "revoke",
            "--comment",
            "left",
            "--as",
            &owner,
        ],
    ));

    // The owner's items as CSV; i2 revoked, the rest approved by import.
    let csv_path = d.join("mine.csv");
    ok(&grantledger(
        d,
        &sim,
        &[
            "review",
            "export",
            "c1",
            "--as",
            &owner,
            "-o",
            csv_path.to_str().unwrap(),
        ],
    ));
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("campaign,item,reviewer"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), humans + 1);
    let filled = |bad: bool| -> String {
        let mut out = vec![lines[0].to_owned()];
        for l in &lines[1..] {
            let (head, tail) = l.rsplit_once(',').unwrap();
            let (head, _) = head.rsplit_once(',').unwrap();
            assert!(tail.is_empty() || l.contains(",i1,"), "{l}");
            let row = if l.contains(",i1,") {
                format!("{head},revoke,left")
            } else if l.contains(",i2,") {
                format!("{head},revoke,=not needed")
            } else if bad {
                format!("{head},perhaps,")
            } else {
                format!("{head},approve,")
            };
            out.push(row);
        }
        out.join("\r\n") + "\r\n"
    };
    std::fs::write(&csv_path, filled(true)).unwrap();
    let err = refused(&grantledger(
        d,
        &sim,
        &[
            "review",
            "import",
            "c1",
            csv_path.to_str().unwrap(),
            "--as",
            &owner,
        ],
    ));
    assert!(err.contains("line 4: decision \"perhaps\""), "{err}");
    assert!(err.contains("nothing was applied"), "{err}");
    std::fs::write(&csv_path, filled(false)).unwrap();
    let out = ok(&grantledger(
        d,
        &sim,
        &[
            "review",
            "import",
            "c1",
            csv_path.to_str().unwrap(),
            "--as",
            &owner,
        ],
    ));
    assert!(
        out.contains(&format!("{} decision(s) imported", humans)),
        "{out}"
    );

    // Which accounts are i1 and i2.
    let out = ok(&grantledger(
        d,
        &sim,
        &["review", "items", "c1", "--format", "json"],
    ));
    let items: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let revoked: Vec<String> = items
        .iter()
        .filter(|i| i["decision"] == "revoked")
        .map(|i| i["principal_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(revoked.len(), 2, "{items:?}");
    assert!(items.iter().all(|i| i["signals"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "never reviewed before")));

    let before = sim.server.org().memberships[&group.group_id].clone();
    ok(&grantledger(
        d,
        &sim,
        &["review", "close", "c1", "--as", "auditor@example.com"],
    ));
    let after = sim.server.org().memberships[&group.group_id].clone();
    let expected: std::collections::BTreeSet<String> = before
        .iter()
        .filter(|a| !revoked.contains(a))
        .cloned()
        .collect();
    assert_eq!(
        after, expected,
        "the group lost exactly the revoked members"
    );

    let o = grantledger(d, &sim, &["sync"]);
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("review c1: 2 revocation(s) confirmed by a sync"),
        "{err}"
    );
    let out = ok(&grantledger(
        d,
        &sim,
        &["review", "show", "c1", "--format", "json"],
    ));
    let show: serde_json::Value = serde_json::from_str(&out).unwrap();
    let statuses: Vec<&str> = show["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses
            .iter()
            .all(|s| s.starts_with("verified by sync run")),
        "{statuses:?}"
    );
    let out = ok(&grantledger(d, &sim, &["review", "verify", "c1"]));
    assert!(out.contains("matches"), "{out}");
    let html_path = d.join("c1.html");
    ok(&grantledger(
        d,
        &sim,
        &[
            "review",
            "report",
            "c1",
            "--out",
            html_path.to_str().unwrap(),
        ],
    ));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"),
        "{}",
        &html[..80]
    );
    assert!(html.contains("Q3 team") && html.contains("verified by sync run"));
    let show_digest = show["item_digest"].as_str().unwrap();
    assert!(
        html.contains(show_digest),
        "the report shows the item digest"
    );
    let out = ok(&grantledger(d, &sim, &["review", "list"]));
    assert!(out.contains("closed"), "{out}");
}
