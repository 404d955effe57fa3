//! `grantledger provision` and `grantledger commands`, through the real binary
//! against the simulator over HTTP on loopback.

use std::path::Path;
use std::process::{Command, Output};

use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};

const BIN: &str = env!("CARGO_BIN_EXE_grantledger");

fn grantledger(data_dir: &Path, sim: &SimServer) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("GRANTLEDGER_DATA_DIR")
        .env_remove("RUST_LOG")
        .env("JIRA_SITE", sim.base_url())
        .env("JIRA_EMAIL", Credential::DEFAULT_EMAIL)
        .env("JIRA_API_TOKEN", Credential::DEFAULT_TOKEN)
        .arg("--data-dir")
        .arg(data_dir);
    c
}

fn run(data_dir: &Path, sim: &SimServer, args: &[&str]) -> (Output, String, String) {
    let o = grantledger(data_dir, sim).args(args).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, out, err)
}

#[test]
fn provision_changes_jira_once_and_commands_tell_how_it_ended() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let org = Org::generate(Preset::Small, 4);
    let admin = Credential::admin_of(&org);
    // An active account with an email, outside a group that exists.
    let group = org.groups[0].clone();
    let members = org
        .memberships
        .get(&group.group_id)
        .cloned()
        .unwrap_or_default();
    let user = org
        .users
        .iter()
        .find(|u| {
            u.active
                && u.account_id != admin.account_id
                && !u.email_hidden
                && u.email.is_some()
                && !members.contains(&u.account_id)
        })
        .unwrap()
        .clone();
    let email = user.email.clone().unwrap();
    let sim = rt
        .block_on(SimServer::start(org, vec![admin], Faults::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let (o, out, err) = run(
        &data,
        &sim,
        &["provision", "add", "--user", &email, "--group", &group.name],
    );
    assert!(!o.status.success());
    assert!(err.contains("run `grantledger sync` first"), "{out}{err}");

    let (o, out, err) = run(&data, &sim, &["sync"]);
    assert!(o.status.success(), "{out}{err}");
    let args = [
        "provision",
        "add",
        "--user",
        &email,
        "--group",
        &group.name,
        "--as",
        "ops@example.test",
    ];
    let (o, out, err) = run(&data, &sim, &args);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("succeeded"), "{out}");
    assert!(out.contains(&format!("to group {}", group.name)), "{out}");
    assert!(out.contains("Jira changed"), "{out}");
    let in_group = |sim: &SimServer| {
        sim.org()
            .memberships
            .get(&group.group_id)
            .is_some_and(|m| m.contains(&user.account_id))
    };
    assert!(in_group(&sim));

    // Again: Jira already holds it; nothing is changed (the new command's
    // first attempt writes at once, Jira refuses it as "already a member", and
    // the state read back says it is in effect).
    let posts = || {
        sim.stats()
            .changes
            .get("POST /rest/api/3/group/user")
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(posts(), 1);
    let (o, out, err) = run(&data, &sim, &args);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("Jira already was so"), "{out}");
    assert_eq!(posts(), 1);

    let (o, out, err) = run(&data, &sim, &["commands", "list"]);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.contains("succeeded")).count(),
        2,
        "{out}"
    );
    let id = out.split_whitespace().next().unwrap().to_owned();
    let (o, out, _) = run(&data, &sim, &["commands", "show", &id]);
    assert!(o.status.success());
    assert!(out.contains("ops@example.test"), "{out}");
    let (o, out, _) = run(&data, &sim, &["commands", "drive"]);
    assert!(o.status.success());
    assert!(out.contains("no unfinished commands"), "{out}");

    let (o, out, err) = run(
        &data,
        &sim,
        &[
            "provision",
            "remove",
            "--user",
            &email,
            "--group",
            &group.name,
        ],
    );
    assert!(o.status.success(), "{out}{err}");
    assert!(!in_group(&sim));

    // Unknown names: a clear error, nothing issued.
    for (args, expected) in [
        (
            vec![
                "--user",
                "nobody@nowhere.test",
                "--group",
                group.name.as_str(),
            ],
            "no user matches",
        ),
        (
            vec!["--user", email.as_str(), "--group", "no-such-group"],
            "no-such-group",
        ),
        (
            vec![
                "--user",
                email.as_str(),
                "--project",
                "NOPE",
                "--role",
                "Viewer",
            ],
            "no project \"NOPE\"",
        ),
    ] {
        let mut full = vec!["provision", "add"];
        full.extend(args);
        let (o, out, err) = run(&data, &sim, &full);
        assert!(!o.status.success(), "{out}");
        assert!(err.contains(expected), "{err}");
    }
    let (_, out, _) = run(&data, &sim, &["commands", "list"]);
    assert_eq!(out.lines().count(), 3, "{out}");
}

#[test]
fn commands_drive_exits_1_when_a_driven_command_fails() {
    use std::sync::Arc;

    use grantledger_clock::SystemClock;
    use grantledger_eventlog::EventLog;
    use grantledger_model::{AccountId, Grant, GroupId};
    use grantledger_outbox::{CommandAction, CommandPurpose, CommandSpec, DrivePolicy, Executor};

    let rt = tokio::runtime::Runtime::new().unwrap();
    let org = Org::generate(Preset::Small, 4);
    let admin = Credential::admin_of(&org);
    let group = org.groups[0].group_id.clone();
    let inactive = org.users.iter().find(|u| !u.active).unwrap().clone();
    let sim = rt
        .block_on(SimServer::start(org, vec![admin], Faults::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (o, out, err) = run(&data, &sim, &["sync"]);
    assert!(o.status.success(), "{out}{err}");

    // An unfinished command (issued, not driven: as after a crash) that Jira's
    // state refuses: the account is deactivated.
    let site = sim.base_url().trim_start_matches("http://").to_owned();
    {
        let log = EventLog::open(data.join("log")).unwrap();
        let executor = Executor::new(log, Arc::new(SystemClock::new()), DrivePolicy::default());
        executor
            .issue(CommandSpec {
                id: None,
                site,
                action: CommandAction::Add,
                grant: Grant::membership(AccountId(inactive.account_id.clone()), GroupId(group)),
                purpose: CommandPurpose::Operator {
                    operator: "test".into(),
                },
            })
            .unwrap();
    }
    let (o, out, err) = run(&data, &sim, &["commands", "drive"]);
    assert!(out.contains("failed"), "{out}{err}");
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
}

#[test]
fn provision_names_a_group_among_groups_and_a_role_among_the_projects_roles() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut org = Org::generate(Preset::Small, 4);
    let admin = Credential::admin_of(&org);
    // A group named like a project's key: `--group` means the group.
    let project = org.projects[0].clone();
    let user = org
        .users
        .iter()
        .find(|u| u.active && u.account_id != admin.account_id)
        .unwrap()
        .account_id
        .clone();
    // Not a product's group (those are named in the application roles).
    let product_groups: Vec<String> = org
        .application_roles
        .iter()
        .flat_map(|r| r.groups.iter().chain(&r.default_groups).cloned())
        .collect();
    let group = org
        .groups
        .iter_mut()
        .find(|g| {
            !product_groups.contains(&g.name)
                && !org
                    .memberships
                    .get(&g.group_id)
                    .is_some_and(|m| m.contains(&user))
        })
        .unwrap();
    group.name = project.key.clone();
    let group_id = group.group_id.clone();
    let sim = rt
        .block_on(SimServer::start(org, vec![admin], Faults::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (o, out, err) = run(&data, &sim, &["sync"]);
    assert!(o.status.success(), "{out}{err}");

    let (o, out, err) = run(
        &data,
        &sim,
        &["provision", "add", "--user", &user, "--group", &project.key],
    );
    assert!(o.status.success(), "{out}{err}");
    assert!(sim
        .org()
        .memberships
        .get(&group_id)
        .is_some_and(|m| m.contains(&user)));

    // A role the project lacks: the error names the roles it has, and no
    // command is issued.
    let (o, out, err) = run(
        &data,
        &sim,
        &[
            "provision",
            "add",
            "--user",
            &user,
            "--project",
            &project.key,
            "--role",
            "No Such Role",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("has no role"), "{err}");
    for role in &project.roles {
        assert!(err.contains(&role.name), "{} missing: {err}", role.name);
    }
    // An unknown group is offered groups, not projects or products.
    let (o, _, err) = run(
        &data,
        &sim,
        &["provision", "add", "--user", &user, "--group", "no-such"],
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("its groups include"), "{err}");
    assert!(!err.contains("product"), "{err}");
    let (_, out, _) = run(&data, &sim, &["commands", "list"]);
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn ctrl_c_during_provision_leaves_the_command_unfinished_and_says_how_to_finish_it() {
    use std::time::{Duration, Instant};

    let rt = tokio::runtime::Runtime::new().unwrap();
    let org = Org::generate(Preset::Small, 4);
    let admin = Credential::admin_of(&org);
    let group = org.groups[0].clone();
    let members = org
        .memberships
        .get(&group.group_id)
        .cloned()
        .unwrap_or_default();
    let user = org
        .users
        .iter()
        .find(|u| u.active && u.account_id != admin.account_id && !members.contains(&u.account_id))
        .unwrap()
        .account_id
        .clone();
    let sim = rt
        .block_on(SimServer::start(org, vec![admin], Faults::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (o, out, err) = run(&data, &sim, &["sync"]);
    assert!(o.status.success(), "{out}{err}");

    // Jira hangs: the command is issued, started, and waits on its write (a
    // first attempt writes at once, with no read before it).
    sim.set_faults(Faults {
        latency: Duration::from_secs(60),
        ..Faults::default()
    });
    let child = grantledger(&data, &sim)
        .args(["provision", "add", "--user", &user, "--group", &group.name])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let since = Instant::now();
    loop {
        let (_, out, _) = run(&data, &sim, &["commands", "list", "--unfinished"]);
        if out
            .lines()
            .any(|l| l.contains("unfinished (started)") && l.contains(" add"))
        {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "never issued: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("stays unfinished"), "{err}");
    assert!(err.contains("may or may not hold the change"), "{err}");
    assert!(err.contains("grantledger commands drive"), "{err}");

    // Once Jira answers again, drive finishes it: the user is in the group.
    sim.set_faults(Faults::default());
    let (o, out, err) = run(&data, &sim, &["commands", "drive"]);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("succeeded"), "{out}");
    assert!(sim
        .org()
        .memberships
        .get(&group.group_id)
        .is_some_and(|m| m.contains(&user)));
}

#[test]
fn provision_makes_a_group_a_role_actor_and_names_bad_input_clearly() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut org = Org::generate(Preset::Small, 5);
    let admin = Credential::admin_of(&org);
    let project = org.projects.iter().find(|p| !p.archived).unwrap().clone();
    let role = project.roles[0].clone();
    let group = org
        .groups
        .iter()
        .find(|g| !role.group_actors.contains(&g.group_id))
        .unwrap()
        .clone();
    // Two active accounts share a display name: a name that is ambiguous.
    let twins: Vec<String> = org
        .users
        .iter()
        .filter(|u| u.active && u.account_id != admin.account_id)
        .take(2)
        .map(|u| u.account_id.clone())
        .collect();
    for u in org
        .users
        .iter_mut()
        .filter(|u| twins.contains(&u.account_id))
    {
        u.display_name = "Sam Twin".into();
    }
    let sim = rt
        .block_on(SimServer::start(org, vec![admin], Faults::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (o, out, err) = run(&data, &sim, &["sync"]);
    assert!(o.status.success(), "{out}{err}");
    let role_id = role.id.to_string();
    let actor_args = |action: &'static str| {
        vec![
            "provision".to_string(),
            action.to_string(),
            "--group-actor".into(),
            group.name.clone(),
            "--project".into(),
            project.key.clone(),
            "--role".into(),
            role.name.clone(),
        ]
    };
    let is_actor = || {
        sim.org()
            .projects
            .iter()
            .find(|p| p.id == project.id)
            .and_then(|p| p.roles.iter().find(|r| r.id.to_string() == role_id))
            .is_some_and(|r| r.group_actors.contains(&group.group_id))
    };
    let mut args = actor_args("add");
    args.extend(["--format".to_string(), "json".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (o, out, err) = run(&data, &sim, &args);
    assert!(o.status.success(), "{out}{err}");
    crate::assert_matches_schema("command.schema.json", &out);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["state"], "succeeded", "{out}");
    assert_eq!(v["principal_kind"], "group", "{out}");
    assert_eq!(v["principal"], group.group_id.as_str(), "{out}");
    assert_eq!(v["entitlement_kind"], "project-role", "{out}");
    assert_eq!(v["outcome"]["jira"], "changed", "{out}");
    assert!(
        v["change"]
            .as_str()
            .unwrap()
            .contains(&format!("group {}", group.name)),
        "{out}"
    );
    assert!(is_actor(), "the group is the role's actor in Jira");
    let args = actor_args("remove");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (o, out, err) = run(&data, &sim, &args);
    assert!(o.status.success(), "{out}{err}");
    assert!(!is_actor(), "the group is no longer the role's actor");

    // Bad input: a clear error, exit 1, and no command issued.
    let unknown_group = [
        "provision",
        "add",
        "--group-actor",
        "no-such-group",
        "--project",
        &project.key,
        "--role",
        &role.name,
    ];
    let (o, _, err) = run(&data, &sim, &unknown_group);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no group") && err.contains("its groups include"),
        "{err}"
    );
    let unknown_user = [
        "provision",
        "add",
        "--user",
        "nobody-at-all",
        "--group",
        &group.name,
    ];
    let (o, _, err) = run(&data, &sim, &unknown_user);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("nobody-at-all"),
        "the error names what was asked: {err}"
    );
    let ambiguous = [
        "provision",
        "add",
        "--user",
        "Sam Twin",
        "--group",
        &group.name,
    ];
    let (o, _, err) = run(&data, &sim, &ambiguous);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for twin in &twins {
        assert!(
            err.contains(twin.as_str()),
            "the candidates are listed: {err}"
        );
    }
    let (_, out, _) = run(&data, &sim, &["commands", "list"]);
    assert_eq!(out.lines().count(), 2, "only the two role changes: {out}");
    let (o, out, err) = run(&data, &sim, &["commands", "list", "--format", "json"]);
    assert!(o.status.success(), "{err}");
    crate::assert_matches_schema("command-list.schema.json", &out);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let listed = v.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{out}");
    assert!(listed.iter().any(|c| c["action"] == "remove"), "{out}");
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let (o, out, err) = run(&data, &sim, &["commands", "show", &id, "--format", "json"]);
    assert!(o.status.success(), "{err}");
    crate::assert_matches_schema("command.schema.json", &out);
    let (o, out, err) = run(&data, &sim, &["commands", "drive", "--format", "json"]);
    assert!(o.status.success(), "{err}");
    assert_eq!(out.trim(), "[]", "nothing unfinished: {out}");

    // Usage errors (exit 2): a group actor with a group membership, or without a
    // project and role; neither a user nor a group actor.
    for bad in [
        vec![
            "provision",
            "add",
            "--group-actor",
            &group.name,
            "--group",
            &group.name,
        ],
        vec!["provision", "add", "--group-actor", &group.name],
        vec!["provision", "add", "--group", &group.name],
        vec![
            "provision",
            "add",
            "--user",
            &twins[0],
            "--group-actor",
            &group.name,
            "--project",
            &project.key,
            "--role",
            &role.name,
        ],
    ] {
        let (o, _, err) = run(&data, &sim, &bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {err}");
    }
}
