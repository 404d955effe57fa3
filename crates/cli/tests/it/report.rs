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

mod snapshots {
    //! The table, JSON and CSV of `report out-of-band` on a hand-built log (a
    //! fixed clock), compared with checked-in files in `tests/expected/`;
    //! regenerate them with
    //! `GRANTLEDGER_BLESS=1 cargo test -p grantledger-cli --test it report::`.

    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use grantledger_clock::{Clock, ManualClock};
    use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent, OpenOptions};
    use grantledger_model::*;

    use super::BIN;

    const SITE: &str = "acme.atlassian.net";
    /// 2026-01-05T09:00:00Z.
    const T0: i64 = 1_767_603_600_000_000;
    const HOUR: i64 = 3_600_000_000;

    fn user(id: &str, name: &str, email: &str) -> Event {
        UserObserved {
            user: UserRecord {
                account_id: id.into(),
                account_type: AccountType::Atlassian,
                display_name: name.into(),
                email: Some(email.into()),
                active: true,
            },
        }
        .into()
    }

    fn seen(run: &str, grant: Grant) -> Event {
        GrantAdded {
            grant,
            cause: GrantCause::ObservedInSync { run: run.into() },
        }
        .into()
    }

    fn batch(log: &EventLog, stream: StreamId, run: &str, events: Vec<Event>) {
        let by = || Causation::SyncRun(run.into());
        log.append(
            &stream,
            ExpectedVersion::Any,
            events
                .into_iter()
                .map(|e| NewEvent::new(e).caused_by(by()))
                .collect(),
        )
        .unwrap();
    }

    fn sync(log: &EventLog, clock: &ManualClock, run: &str, events: Vec<Event>) {
        let mut all = vec![SyncStarted {
            run: run.into(),
            site: SITE.into(),
            started_at: clock.now(),
        }
        .into()];
        all.extend(events);
        all.push(
            SyncCompleted {
                run: run.into(),
                stats: SyncStats::default(),
            }
            .into(),
        );
        batch(log, StreamId::jira_site(SITE), run, all);
    }

    fn audit_read(log: &EventLog, clock: &ManualClock, run: &str, records: Vec<Event>) {
        let mut all = records;
        all.push(
            AuditLogRead {
                run: run.into(),
                from: None,
                to: clock.now(),
                records_read: 1,
                records_new: 1,
                oldest: Some(Timestamp::from_micros(T0 - 24 * HOUR)),
            }
            .into(),
        );
        batch(log, StreamId::audit_site(SITE), run, all);
    }

    /// Run 1 sees the directory and three privileged grants (one allowed by
    /// the config file); between the runs Alex adds Mallory in Jira and a
    /// request adds Erin; run 2 sees Mallory.
    fn data_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp::from_micros(T0)));
        let log = EventLog::open_with(
            dir.path().join("log"),
            OpenOptions {
                clock: clock.clone(),
                ..OpenOptions::default()
            },
        )
        .unwrap();
        let admins = || GroupId::from("g-admins");
        audit_read(&log, &clock, "run-1", vec![]);
        sync(
            &log,
            &clock,
            "run-1",
            vec![
                user("u-alex", "Alex Kim", "alex@acme.example"),
                user("u-zoe", "Zoë Ångström", "zoe@acme.example"),
                user("u-mal", "=HYPERLINK(\"x\") Mallory", "mal@acme.example"),
                user("u-erin", "Erin", "erin@acme.example"),
                user("u-bot", "Build bot", "bot@acme.example"),
                GroupObserved {
                    group: GroupRecord {
                        group_id: admins(),
                        name: "site-admins".into(),
                    },
                }
                .into(),
                ProjectObserved {
                    project: ProjectRecord {
                        project_id: "10000".into(),
                        key: "OPS".into(),
                        name: "Operations".into(),
                        archived: false,
                    },
                }
                .into(),
                ProjectRoleObserved {
                    role: RoleRecord {
                        project_id: "10000".into(),
                        role_id: "10002".into(),
                        name: "Administrators".into(),
                    },
                }
                .into(),
                seen("run-1", Grant::membership("u-alex".into(), admins())),
                seen("run-1", Grant::membership("u-zoe".into(), admins())),
                seen(
                    "run-1",
                    Grant::role(
                        Principal::User("u-bot".into()),
                        "10000".into(),
                        "10002".into(),
                    ),
                ),
            ],
        );
        clock.advance_micros(HOUR / 2);
        let added_at = clock.now();
        clock.advance_micros(HOUR / 2);
        log.append(
            &StreamId::jira_site(SITE),
            ExpectedVersion::Any,
            vec![NewEvent::new(GrantAdded {
                grant: Grant::membership("u-erin".into(), admins()),
                cause: GrantCause::AppliedByRequest {
                    request: "r1".into(),
                    command: "r1-grant".into(),
                },
            })
            .caused_by(Causation::Request("r1".into()))],
        )
        .unwrap();
        audit_read(
            &log,
            &clock,
            "run-2",
            vec![AuditRecordObserved {
                run: "run-2".into(),
                record_id: 4242,
                created: added_at,
                summary: "User added to group".into(),
                category: "group management".into(),
                author: Some("u-alex".into()),
                object: Some(AuditItem {
                    id: None,
                    name: Some("site-admins".into()),
                    type_name: Some("GROUP".into()),
                }),
                associated: vec![AuditItem {
                    id: Some("u-mal".into()),
                    name: None,
                    type_name: Some("USER".into()),
                }],
                changed: vec![],
            }
            .into()],
        );
        sync(
            &log,
            &clock,
            "run-2",
            vec![seen("run-2", Grant::membership("u-mal".into(), admins()))],
        );
        std::fs::write(
            dir.path().join("grantledger.toml"),
            "[[out_of_band.allow]]\nprincipal = \"zoe@acme.example\"\ngroup = \"site-admins\"\nreason = \"security lead, SEC-7\"\n",
        )
        .unwrap();
        dir
    }

    fn expected(name: &str, got: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/expected")
            .join(name);
        if std::env::var_os("GRANTLEDGER_BLESS").is_some() {
            std::fs::write(&path, got).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            want == got,
            "{} differs (GRANTLEDGER_BLESS=1 to accept):\n--- want\n{want}\n--- got\n{got}",
            path.display()
        );
    }

    fn ok(dir: &Path, args: &[&str]) -> String {
        let o = std::process::Command::new(BIN)
            .env_remove("GRANTLEDGER_DATA_DIR")
            .env_remove("RUST_LOG")
            .arg("--data-dir")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{args:?}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    }

    #[test]
    fn outputs_match_the_checked_in_answers() {
        let dir = data_dir();
        let d = dir.path();
        let table = ok(d, &["report", "out-of-band"]);
        assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
        expected("out-of-band.txt", &table);
        let json = ok(d, &["report", "out-of-band", "--format", "json"]);
        crate::assert_matches_schema("out-of-band.schema.json", &json);
        expected("out-of-band.json", &json);
        expected(
            "out-of-band.csv",
            &ok(d, &["report", "out-of-band", "--format", "csv"]),
        );
        // Since run 1 ended: only Mallory.
        expected(
            "out-of-band-since.txt",
            &ok(
                d,
                &["report", "out-of-band", "--since", "2026-01-05T09:00:00Z"],
            ),
        );
    }
}
