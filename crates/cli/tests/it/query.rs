//! `access`, `history` and `diff` through the real binary, on a hand-built log
//! (a fixed clock, unicode names, two users with the same display name, a name
//! with terminal control characters, a group that is both a role actor and a
//! product-access group). The table, JSON and CSV outputs are compared with
//! checked-in files in `tests/expected/`; regenerate them with
//! `GRANTLEDGER_BLESS=1 cargo test -p grantledger-cli --test query`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use grantledger_clock::{Clock, ManualClock};
use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent, OpenOptions};
use grantledger_model::*;

const BIN: &str = env!("CARGO_BIN_EXE_grantledger");
const SITE: &str = "acme.atlassian.net";
/// 2026-01-05T09:00:00Z.
const T0: i64 = 1_767_603_600_000_000;
const HOUR: i64 = 3_600_000_000;

fn user(id: &str, name: &str, email: Option<&str>, active: bool) -> Event {
    UserObserved {
        user: UserRecord {
            account_id: id.into(),
            account_type: AccountType::Atlassian,
            display_name: name.into(),
            email: email.map(str::to_owned),
            active,
        },
    }
    .into()
}

fn group(id: &str, name: &str) -> Event {
    GroupObserved {
        group: GroupRecord {
            group_id: id.into(),
            name: name.into(),
        },
    }
    .into()
}

fn add(grant: Grant, run: &str) -> Event {
    GrantAdded {
        grant,
        cause: GrantCause::ObservedInSync { run: run.into() },
    }
    .into()
}

fn remove(grant: Grant, run: &str) -> Event {
    GrantRemoved {
        grant,
        cause: GrantCause::ObservedInSync { run: run.into() },
    }
    .into()
}

/// One sync run: started, the events, completed; an hour after the previous one.
fn sync(log: &EventLog, clock: &ManualClock, run: &str, events: Vec<Event>) {
    let stream = StreamId::jira_site(SITE);
    let by = || Causation::SyncRun(run.into());
    let mut batch = vec![NewEvent::new(SyncStarted {
        run: run.into(),
        site: SITE.into(),
        started_at: clock.now(),
    })
    .caused_by(by())];
    batch.extend(events.into_iter().map(|e| NewEvent::new(e).caused_by(by())));
    batch.push(
        NewEvent::new(SyncCompleted {
            run: run.into(),
            stats: SyncStats::default(),
        })
        .caused_by(by()),
    );
    log.append(&stream, ExpectedVersion::Any, batch).unwrap();
    clock.advance_micros(HOUR);
}

pub(crate) fn data_dir() -> tempfile::TempDir {
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
    let devs = GroupId::from("g-devs");
    let admins = GroupId::from("g-admins");
    let role = |p: Principal, r: &str| Grant::role(p, "10000".into(), r.into());
    sync(
        &log,
        &clock,
        "run-1",
        vec![
            user("u-zoe", "Zoë Ångström", Some("zoe@acme.example"), true),
            user(
                "u-alex1",
                "Alex Smith",
                Some("alex.smith@acme.example"),
                true,
            ),
            user("u-alex2", "Alex Smith", Some("asmith@acme.example"), false),
            user("u-evil", "Mallory\x1b[2J\nroot", None, true),
            group("g-devs", "développeurs"),
            group("g-admins", "jira-administrators"),
            ProjectObserved {
                project: ProjectRecord {
                    project_id: "10000".into(),
                    key: "CS".into(),
                    name: "Customer Service".into(),
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
            ProjectRoleObserved {
                role: RoleRecord {
                    project_id: "10000".into(),
                    role_id: "10100".into(),
                    name: "Developers".into(),
                },
            }
            .into(),
            ProductAccessGroupsChanged {
                product: "jira-software".into(),
                name: "Jira Software".into(),
                groups: vec![devs.clone()],
            }
            .into(),
            add(Grant::membership("u-zoe".into(), devs.clone()), "run-1"),
            add(Grant::membership("u-alex2".into(), devs.clone()), "run-1"),
            add(Grant::membership("u-alex1".into(), admins.clone()), "run-1"),
            add(Grant::membership("u-evil".into(), admins.clone()), "run-1"),
            add(role(Principal::Group(devs.clone()), "10100"), "run-1"),
            add(role(Principal::Group(admins.clone()), "10002"), "run-1"),
            add(role(Principal::User("u-zoe".into()), "10002"), "run-1"),
        ],
    );
    sync(
        &log,
        &clock,
        "run-2",
        vec![
            remove(Grant::membership("u-evil".into(), admins.clone()), "run-2"),
            add(Grant::membership("u-alex1".into(), devs.clone()), "run-2"),
            add(Grant::membership("u-zoe".into(), admins.clone()), "run-2"),
            remove(Grant::membership("u-zoe".into(), admins.clone()), "run-2"),
            UserDeactivated {
                account_id: "u-zoe".into(),
            }
            .into(),
        ],
    );
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .env_remove("GRANTLEDGER_DATA_DIR")
        .env_remove("RUST_LOG")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    assert!(!o.status.success(), "{args:?} should fail");
    String::from_utf8(o.stderr).unwrap()
}

pub(crate) fn expected(name: &str, got: &str) {
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

#[test]
fn outputs_match_the_checked_in_answers() {
    let dir = data_dir();
    let d = dir.path();
    for (name, args) in [
        ("access-user.txt", vec!["access", "user", "zoë ångström"]),
        (
            "access-user.json",
            vec!["access", "user", "u-zoe", "--format", "json"],
        ),
        (
            "access-user.csv",
            vec!["access", "user", "ZOE@acme.example", "--format", "csv"],
        ),
        (
            "access-who-role.txt",
            vec!["access", "who", "cs:administrators"],
        ),
        ("access-who-project.txt", vec!["access", "who", "CS"]),
        (
            "access-who-product.json",
            vec!["access", "who", "Jira Software", "--format", "json"],
        ),
        (
            "access-who-product.csv",
            vec!["access", "who", "jira-software", "--format", "csv"],
        ),
        (
            "access-who-as-of.txt",
            vec![
                "access",
                "who",
                "jira-administrators",
                "--as-of",
                "2026-01-05T09:30:00Z",
            ],
        ),
        ("history-user.txt", vec!["history", "u-zoe"]),
        (
            "history-group.csv",
            vec!["history", "jira-administrators", "--format", "csv"],
        ),
        (
            "history-group.json",
            vec![
                "history",
                "développeurs",
                "--format",
                "json",
                "--limit",
                "3",
            ],
        ),
        ("diff.txt", vec!["diff", "--all"]),
        (
            "diff.json",
            vec!["diff", "--format", "json", "--by", "user"],
        ),
        (
            "diff.csv",
            vec![
                "diff",
                "--from",
                "2026-01-05T09:00:00Z",
                "--to",
                "26",
                "--all",
                "--format",
                "csv",
            ],
        ),
    ] {
        let out = ok(d, &args);
        for line in out.lines() {
            assert!(
                !line.contains('\x1b'),
                "{name}: a raw escape reached the output"
            );
            if name.ends_with(".txt") {
                assert!(
                    line.chars().count() <= 80,
                    "{name}: {line:?} is wider than 80 columns"
                );
            }
        }
        expected(name, &out);
    }
}

#[test]
fn names_are_resolved_like_a_person_expects() {
    let dir = data_dir();
    let d = dir.path();
    let err = fails(d, &["access", "user", "alex smith"]);
    assert!(err.contains("matches 2 users"), "{err}");
    assert!(
        err.contains("u-alex1") && err.contains("asmith@acme.example"),
        "{err}"
    );
    // The candidates stand on lines of their own, not behind escaped breaks.
    assert!(!err.contains("\\u{a}"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("  user ")).count(),
        2,
        "{err}"
    );
    let err = fails(d, &["access", "user", "Zoe Angstrom"]);
    assert!(
        err.contains("no user matches") && err.contains("u-zoe"),
        "{err}"
    );
    let err = fails(d, &["access", "who", "jira-admins"]);
    assert!(
        err.contains("closest") && err.contains("jira-administrators"),
        "{err}"
    );
    // Before the first completed sync, and in the future.
    let err = fails(
        d,
        &["access", "who", "CS", "--as-of", "2025-12-31T00:00:00Z"],
    );
    assert!(err.contains("before the first sync"), "{err}");
    let err = fails(d, &["access", "who", "CS", "--as-of", "3"]);
    assert!(err.contains("before the first sync"), "{err}");
    let err = fails(
        d,
        &["access", "who", "CS", "--as-of", "2999-01-01T00:00:00Z"],
    );
    assert!(err.contains("in the future"), "{err}");
    let err = fails(d, &["access", "who", "CS", "--as-of", "99999"]);
    assert!(err.contains("past the log's head"), "{err}");
    assert!(!err.contains('\x1b'));
}

#[test]
fn deleting_the_snapshot_cache_changes_no_answer() {
    let dir = data_dir();
    let d = dir.path();
    let first = ok(d, &["access", "who", "CS", "--format", "json"]);
    let _ = std::fs::remove_dir_all(d.join("snapshots"));
    assert_eq!(ok(d, &["access", "who", "CS", "--format", "json"]), first);
}

/// A site whose only sync failed: the log holds its records but no complete
/// picture, and the answer says exactly that (not "nothing about the site").
#[test]
fn a_site_whose_syncs_all_failed_is_not_answered() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(dir.path().join("log")).unwrap();
        let by = || Causation::SyncRun("run-f".into());
        log.append(
            &StreamId::jira_site(SITE),
            ExpectedVersion::Any,
            vec![
                NewEvent::new(SyncStarted {
                    run: "run-f".into(),
                    site: SITE.into(),
                    started_at: Timestamp::from_micros(T0),
                })
                .caused_by(by()),
                NewEvent::new(user("u-zoe", "Zoë", None, true)).caused_by(by()),
                NewEvent::new(SyncFailed {
                    run: "run-f".into(),
                    reason: "interrupted".into(),
                    unfinished_scopes: vec!["groups".into()],
                    stats: SyncStats::default(),
                })
                .caused_by(by()),
            ],
        )
        .unwrap();
    }
    let err = fails(dir.path(), &["access", "who", "g-devs"]);
    assert!(
        err.contains(&format!("no sync of site {SITE} has completed yet")),
        "{err}"
    );
    assert!(!err.contains("holds nothing"), "{err}");
}

/// Asked about the head of a log closed in order at the position its newest
/// state snapshot covers, `access` answers without opening the log (ADR 0025);
/// the answer is the opened log's, and a later append is never missed.
#[test]
fn the_head_is_answered_from_the_closed_head_until_the_log_moves() {
    let dir = data_dir();
    let d = dir.path();
    let clock = Arc::new(ManualClock::new(Timestamp::from_micros(T0 + 10 * HOUR)));
    let open = || {
        EventLog::open_with(
            d.join("log"),
            OpenOptions {
                clock: clock.clone(),
                ..OpenOptions::default()
            },
        )
        .unwrap()
    };
    // A tail long enough for the first answer to leave a snapshot at the head.
    let log = open();
    let many = (0..5_000)
        .map(|i| user(&format!("u-{i:05}"), &format!("User {i}"), None, true))
        .collect();
    sync(&log, &clock, "run-3", many);
    drop(log);

    let answer = |args: &[&str]| {
        let o = Command::new(BIN)
            .env_remove("GRANTLEDGER_DATA_DIR")
            .env("RUST_LOG", "grantledger=debug")
            .arg("--data-dir")
            .arg(d)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let fast = String::from_utf8_lossy(&o.stderr).contains("at the closed head");
        (String::from_utf8(o.stdout).unwrap(), fast)
    };
    let who = ["access", "who", "développeurs", "--format", "json"];
    let (opened, fast) = answer(&who);
    assert!(
        !fast,
        "the first answer opens the log and leaves the snapshot"
    );
    let (again, fast) = answer(&who);
    assert!(fast, "the second comes from the closed head");
    assert_eq!(again, opened);
    let (_, fast) = answer(&["access", "user", "u-alex1"]);
    assert!(fast);
    // Asked about another moment, the log is opened.
    let (_, fast) = answer(&["access", "who", "développeurs", "--as-of", "30"]);
    assert!(!fast);

    // Someone appends: the closed head moves with the log, and the next answer
    // opens the log and sees the change.
    let log = open();
    sync(
        &log,
        &clock,
        "run-4",
        vec![add(
            Grant::membership("u-00042".into(), GroupId::from("g-devs")),
            "run-4",
        )],
    );
    drop(log);
    let (after, fast) = answer(&who);
    assert!(!fast, "the snapshot no longer covers the head");
    assert!(after.contains("u-00042") && !opened.contains("u-00042"));
    // A log left open by a crash has no closed head: the answer opens it.
    let log = open();
    std::mem::forget(log);
    assert!(!d
        .join("log")
        .join(grantledger_eventlog::CLOSED_FILE)
        .exists());
}
