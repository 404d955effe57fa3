//! `grantledger report out-of-band` through the real binary against the
//! simulator over loopback: after a sync, a second site admin adds someone to
//! an administration group in Jira, and grantledger provisions someone else
//! into the same group; the report since the first sync lists exactly the
//! first, with the admin who added them.

use std::path::Path;
use std::process::{Command, Output};

use grantledger_jira::{ApiToken, JiraClient, JiraConfig};
use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};
use grantledger_model::{AccountId, GroupId};

const BIN: &str = env!("CARGO_BIN_EXE_grantledger");

fn run(data_dir: &Path, sim: &SimServer, args: &[&str]) -> (Output, String, String) {
    let o = Command::new(BIN)
        .env_remove("GRANTLEDGER_DATA_DIR")
        .env_remove("RUST_LOG")
        .env("JIRA_SITE", sim.base_url())
        .env("JIRA_EMAIL", Credential::DEFAULT_EMAIL)
        .env("JIRA_API_TOKEN", Credential::DEFAULT_TOKEN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, out, err)
}

fn json(data: &Path, sim: &SimServer, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["report", "out-of-band", "--format", "json"];
    args.extend_from_slice(extra);
    let (o, out, err) = run(data, sim, &args);
    assert!(o.status.success(), "{out}{err}");
    crate::assert_matches_schema("out-of-band.schema.json", &out);
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_grant_made_in_jira_is_out_of_band_and_one_made_through_grantledger_is_not() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let org = Org::generate(Preset::Small, 7);
    let admin = Credential::admin_of(&org);
    let alex = org
        .site_admins
        .iter()
        .find(|a| **a != admin.account_id && org.user(a).is_some_and(|u| u.active))
        .expect("a second active site admin")
        .clone();
    let alex_name = org.user(&alex).unwrap().display_name.clone();
    let group = org
        .groups
        .iter()
        .find(|g| g.name == "jira-administrators")
        .or_else(|| org.groups.iter().find(|g| g.name == "site-admins"))
        .expect("an administration group")
        .clone();
    let first = org
        .outsider(&group.group_id, &[])
        .unwrap()
        .account_id
        .clone();
    let second = org
        .outsider(&group.group_id, &[first.as_str()])
        .unwrap()
        .account_id
        .clone();
    let sim = rt
        .block_on(SimServer::start(
            org,
            vec![
                admin,
                Credential::new("alex@example.test", "alex-token", alex.clone()),
            ],
            Faults::default(),
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (o, out, err) = run(&data, &sim, &["sync"]);
    assert!(o.status.success(), "{out}{err}");
    let baseline = json(&data, &sim, &[]);
    let after_first_sync = baseline["as_of"]["position"].as_u64().unwrap().to_string();

    // Alex adds `first` in Jira; grantledger provisions `second`.
    let alex_client = JiraClient::new(
        JiraConfig::for_base_url(
            &sim.base_url(),
            "alex@example.test",
            ApiToken::new("alex-token"),
        )
        .unwrap(),
    )
    .unwrap();
    rt.block_on(alex_client.add_group_member(
        &GroupId::from(group.group_id.as_str()),
        &AccountId::from(first.as_str()),
    ))
    .unwrap();
    let (o, out, err) = run(
        &data,
        &sim,
        &[
            "provision",
            "add",
            "--user",
            &second,
            "--group",
            &group.name,
            "--as",
            "ops@example.test",
        ],
    );
    assert!(o.status.success(), "{out}{err}");
    let (o, out, err) = run(&data, &sim, &["sync"]);
    assert!(o.status.success(), "{out}{err}");

    let r = json(&data, &sim, &["--since", &after_first_sync]);
    let grants = r["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "{r:#}");
    let g = &grants[0];
    assert_eq!(g["principal"]["id"], first.as_str());
    assert_eq!(g["entitlement"]["name"], group.name.as_str());
    assert_eq!(g["in_jira"]["author_account_id"], alex.as_str());
    assert_eq!(g["in_jira"]["author_name"], alex_name.as_str());
    let text = g["in_jira"]["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("added by {alex_name} in Jira at ")),
        "{text}"
    );
    assert!(g["sync_run"].is_string());
    assert_eq!(r["explained"]["by_grantledger"], 1, "{r:#}");

    // Table and CSV say the same, the table within 80 columns.
    let (o, out, _) = run(
        &data,
        &sim,
        &["report", "out-of-band", "--since", &after_first_sync],
    );
    assert!(o.status.success());
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    assert!(out.contains("1 out-of-band grant(s)"), "{out}");
    let (o, out, _) = run(
        &data,
        &sim,
        &[
            "report",
            "out-of-band",
            "--since",
            &after_first_sync,
            "--format",
            "csv",
        ],
    );
    assert!(o.status.success());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].starts_with(&format!("user,{first},")), "{out}");
    assert!(lines[1].contains(&alex), "{out}");

    // Since that grant: nothing, said plainly, exit 0.
    let at = g["added_position"].as_u64().unwrap().to_string();
    let (o, out, err) = run(&data, &sim, &["report", "out-of-band", "--since", &at]);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("no out-of-band grants"), "{out}");

    // An unknown campaign for --since is refused by name.
    let (o, _, err) = run(&data, &sim, &["report", "out-of-band", "--since", "q9"]);
    assert!(!o.status.success());
    assert!(err.contains("q9"), "{err}");
    rt.block_on(sim.shutdown());
}
