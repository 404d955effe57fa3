//! `grantledger request ...` and `grantledger jit run --once`, driven through the
//! real binary against the simulator over HTTP on loopback: the errors a person
//! meets, the grant and the revocation in Jira, break-glass listing, `history`
//! naming the request, and a policy file with an error refused as a whole.

use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};

use crate::sim_cli::{grantledger, ok, refused, Sim};

fn sim() -> Sim {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let org = Org::generate(Preset::Small, 5);
    let admin = Credential::admin_of(&org);
    let server = rt
        .block_on(SimServer::start(org, vec![admin], Faults::default()))
        .unwrap();
    Sim { server, _rt: rt }
}

fn member(sim: &Sim, group: &str, account: &str) -> bool {
    sim.server
        .org()
        .memberships
        .get(group)
        .is_some_and(|m| m.contains(account))
}

#[test]
fn request_commands_and_the_scheduler_grant_and_revoke_in_jira() {
    let sim = sim();
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
    let (group, name, user) = org
        .groups
        .iter()
        .filter(|g| {
            !["site-admins", "jira-administrators", "org-admins"].contains(&g.name.as_str())
        })
        .find_map(|g| {
            let u = org.outsider(&g.group_id, &[admin.as_str()])?;
            (!org.is_admin(&u.account_id))
                .then(|| (g.group_id.clone(), g.name.clone(), u.account_id.clone()))
        })
        .expect("a group and an outsider");
    let approver = org
        .active_humans()
        .find(|u| u.account_id != admin && u.account_id != user)
        .unwrap()
        .account_id
        .clone();
    std::fs::write(
        d.join("grantledger.toml"),
        format!(
            "[jit]\n\n[[jit.policy]]\nname = \"team\"\ngroups = [\"{name}\"]\napprovers = [\"{approver}\"]\nmax_duration = \"8h\"\nrequire_justification = true\nbreak_glass_max = \"1h\"\n"
        ),
    )
    .unwrap();

    // Errors a person meets.
    let err = refused(&grantledger(
        d,
        &sim,
        &[
            "request",
            "create",
            &name,
            "--duration",
            "2h",
            "--as",
            &user,
        ],
    ));
    assert!(err.contains("requires a justification"), "{err}");
    let err = refused(&grantledger(
        d,
        &sim,
        &[
            "request",
            "create",
            &name,
            "--duration",
            "9h",
            "--justification",
            "x",
            "--as",
            &user,
        ],
    ));
    assert!(err.contains("over the maximum of 8h"), "{err}");
    let err = refused(&grantledger(
        d,
        &sim,
        &[
            "request",
            "create",
            "no-such-group-anywhere",
            "--duration",
            "1h",
            "--as",
            &user,
        ],
    ));
    assert!(err.contains("unknown entitlement"), "{err}");

    let out = ok(&grantledger(
        d,
        &sim,
        &[
            "request",
            "create",
            &name,
            "--duration",
            "2h",
            "--justification",
            "incident",
            "--as",
            &user,
        ],
    ));
    assert!(out.contains("r1") && out.contains("pending"), "{out}");
    let err = refused(&grantledger(
        d,
        &sim,
        &["request", "approve", "r1", "--as", &user],
    ));
    assert!(err.contains("nobody approves their own request"), "{err}");
    let err = refused(&grantledger(
        d,
        &sim,
        &["request", "approve", "r1", "--as", &admin],
    ));
    assert!(err.contains("not an approver"), "{err}");
    let out = ok(&grantledger(
        d,
        &sim,
        &["request", "approve", "r1", "--as", &approver],
    ));
    assert!(out.contains("approved"), "{out}");
    let err = refused(&grantledger(
        d,
        &sim,
        &["request", "cancel", "r1", "--as", &user],
    ));
    assert!(err.contains("is approved: it cannot cancel now"), "{err}");

    // The scheduler grants it in Jira.
    assert!(!member(&sim, &group, &user));
    let out = ok(&grantledger(d, &sim, &["jit", "run", "--once"]));
    assert!(out.contains("1 granted"), "{out}");
    assert!(
        member(&sim, &group, &user),
        "the simulator's group gained the member"
    );
    let json = ok(&grantledger(
        d,
        &sim,
        &["request", "show", "r1", "--format", "json"],
    ));
    crate::assert_matches_schema("request.schema.json", &json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["status"], "granted");
    assert_eq!(v["approvers"].as_array().unwrap().len(), 1);

    // Extended by the approver within the maximum; not beyond it.
    let before = v["expires_at"].as_str().unwrap().to_owned();
    let json = ok(&grantledger(
        d,
        &sim,
        &[
            "request", "extend", "r1", "--by", "1h", "--as", &approver, "--format", "json",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        v["expires_at"].as_str().unwrap() > before.as_str(),
        "{json}"
    );
    let err = refused(&grantledger(
        d,
        &sim,
        &["request", "extend", "r1", "--by", "6h", "--as", &approver],
    ));
    assert!(err.contains("over the maximum of 8h"), "{err}");

    // Revoked early by the approver; the next pass removes it from Jira.
    ok(&grantledger(
        d,
        &sim,
        &[
            "request", "revoke", "r1", "--as", &approver, "--reason", "done",
        ],
    ));
    let out = ok(&grantledger(d, &sim, &["jit", "run", "--once"]));
    assert!(out.contains("1 revoked"), "{out}");
    assert!(
        !member(&sim, &group, &user),
        "the simulator's group lost the member"
    );
    let history = ok(&grantledger(
        d,
        &sim,
        &["history", &name, "--format", "json"],
    ));
    assert!(history.contains("applied by request r1"), "{history}");
    assert!(
        history.contains("revoked early for request r1"),
        "{history}"
    );

    // A denial ends a request.
    ok(&grantledger(
        d,
        &sim,
        &[
            "request",
            "create",
            &name,
            "--duration",
            "1h",
            "--justification",
            "again",
            "--as",
            &user,
        ],
    ));
    let out = ok(&grantledger(
        d,
        &sim,
        &[
            "request", "deny", "r2", "--as", &approver, "--reason", "not now",
        ],
    ));
    assert!(out.contains("denied") && out.contains("not now"), "{out}");

    // Break-glass: approved at once, listed apart.
    let out = ok(&grantledger(
        d,
        &sim,
        &[
            "request",
            "create",
            &name,
            "--duration",
            "30m",
            "--justification",
            "outage",
            "--break-glass",
            "--as",
            &approver,
        ],
    ));
    assert!(
        out.contains("approved") && out.contains("break-glass"),
        "{out}"
    );
    let list = ok(&grantledger(d, &sim, &["request", "list", "--break-glass"]));
    assert!(
        list.contains("r3") && !list.contains("r1 ") && !list.contains("r2 "),
        "{list}"
    );
    let all = ok(&grantledger(
        d,
        &sim,
        &["request", "list", "--format", "json"],
    ));
    crate::assert_matches_schema("request-list.schema.json", &all);
    let v: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);

    // A policy file with one error is refused as a whole, with its line.
    std::fs::write(
        d.join("grantledger.toml"),
        format!("[jit]\n\n[[jit.policy]]\nname = \"team\"\ngroups = [\"{name}\"]\napprovers = [\"{approver}\"]\nmax_duration = \"SECRET-ish\"\n"),
    )
    .unwrap();
    let err = refused(&grantledger(d, &sim, &["request", "list"]));
    assert!(
        err.contains("line 7") && err.contains("max_duration"),
        "{err}"
    );
    assert!(!err.contains("SECRET-ish"), "{err}");
}
