//! Drives the real `grantledger` binary on temporary data directories.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent};
use grantledger_model::{AccountId, StreamId, UserVanished};

const BIN: &str = env!("CARGO_BIN_EXE_grantledger");

/// The binary with a clean environment for what it reads.
fn grantledger() -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("GRANTLEDGER_DATA_DIR").env_remove("RUST_LOG");
    c
}

fn run(args: &[&str]) -> Output {
    grantledger().args(args).output().expect("the binary runs")
}

fn run_in(data_dir: &Path, args: &[&str]) -> Output {
    grantledger()
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

fn events(stream: &str, from: usize, n: usize) -> Vec<NewEvent> {
    (from..from + n)
        .map(|i| {
            NewEvent::new(UserVanished {
                account_id: AccountId::from(format!("acct-{stream}-{i:04}")),
            })
        })
        .collect()
}

/// A data directory whose log holds 10 records in 3 streams: acme 1-3, beta
/// 4-6, acme 7-8, gamma 9-10 (acme at version 5, beta 3, gamma 2).
fn data_dir_with_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path().join("log")).unwrap();
    let acme = StreamId::jira_site("acme");
    let beta = StreamId::jira_site("beta");
    let gamma = StreamId::jira_site("gamma");
    log.append(&acme, ExpectedVersion::NoStream, events("acme", 0, 3))
        .unwrap();
    log.append(&beta, ExpectedVersion::NoStream, events("beta", 0, 3))
        .unwrap();
    log.append(&acme, ExpectedVersion::Exact(3), events("acme", 3, 2))
        .unwrap();
    log.append(&gamma, ExpectedVersion::NoStream, events("gamma", 0, 2))
        .unwrap();
    assert_eq!(log.head().position, 10);
    drop(log);
    dir
}

/// The hash of `head POSITION:HASH` in a line.
fn head_hash_of(line: &str) -> String {
    let after = &line[line.find("head ").expect("a head") + "head ".len()..];
    let start = after.find(':').expect("POSITION:HASH") + 1;
    let hash = &after[start..start + 64];
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{line}");
    hash.to_owned()
}

fn export_lines(dir: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["log", "export"];
    args.extend_from_slice(extra);
    let o = run_in(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn verify_reports_counts_and_head() {
    let dir = data_dir_with_log();
    let o = run_in(dir.path(), &["log", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("ok: 10 records in 3 streams, head 10:"),
        "{out}"
    );
    head_hash_of(&out);
}

#[test]
fn stats_as_text_and_json() {
    let dir = data_dir_with_log();
    let o = run_in(dir.path(), &["log", "stats"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("events:        10\n"), "{text}");
    assert!(text.contains("streams:       3\n"), "{text}");
    assert!(text.contains("head:          10:"), "{text}");
    // Meaningless at this size: explained instead of shown.
    assert!(text.contains("bytes/event:   not shown below"), "{text}");
    assert!(text.contains(" bytes)\n"), "{text}");
    assert!(!text.contains("jira:acme"), "streams listed only with -v");

    let o = run_in(dir.path(), &["-v", "log", "stats"]);
    let text = stdout(&o);
    assert!(text.contains("jira:acme  version 5\n"), "{text}");
    assert!(text.contains("jira:beta  version 3\n"), "{text}");
    assert!(text.contains("jira:gamma  version 2\n"), "{text}");

    let o = run_in(dir.path(), &["log", "stats", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["events"], 10);
    assert_eq!(v["streams"], 3);
    assert_eq!(v["head"]["position"], 10);
    assert_eq!(v["stream_versions"][0]["stream"], "jira:acme");
    assert_eq!(v["stream_versions"][0]["version"], 5);
    let size = v["size_on_disk_bytes"].as_u64().expect("bytes");
    assert!(size > 0);
    let per_event = v["bytes_per_event"].as_f64().expect("a number");
    assert!((per_event - size as f64 / 10.0).abs() < 1e-6);

    let verify = stdout(&run_in(dir.path(), &["log", "verify"]));
    assert_eq!(v["head"]["hash"], head_hash_of(&verify));
    assert_eq!(
        text.lines().find(|l| l.starts_with("head:")).unwrap(),
        format!("head:          10:{}", head_hash_of(&verify))
    );
}

#[test]
fn export_writes_one_json_line_per_record() {
    let dir = data_dir_with_log();
    let all = export_lines(dir.path(), &[]);
    assert_eq!(all.len(), 10);
    let positions: Vec<u64> = all
        .iter()
        .map(|l| l["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, (1..=10).collect::<Vec<_>>());
    assert_eq!(all[0]["stream"], "jira:acme");
    assert_eq!(all[0]["event_type"], "UserVanished");

    let tail = export_lines(dir.path(), &["--from", "4", "--format", "jsonl"]);
    assert_eq!(tail.len(), 7);
    assert_eq!(tail[0]["position"], 4);
    assert_eq!(tail[0], all[3]);

    assert!(export_lines(dir.path(), &["--from", "11"]).is_empty());
}

#[test]
fn an_export_verifies_offline_with_the_logs_head() {
    let dir = data_dir_with_log();
    let file = dir.path().join("export.jsonl");
    let o = run_in(
        dir.path(),
        &["log", "export", "--output", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("exported 10 records to"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 10);

    // Offline: no data directory at all.
    let nowhere = dir.path().join("nowhere");
    let o = grantledger()
        .env("GRANTLEDGER_DATA_DIR", &nowhere)
        .args(["log", "verify", "--export"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("ok: export chain intact, positions 1..10 (10 records), head 10:"),
        "{out}"
    );
    assert!(!nowhere.exists());

    let log_verify = stdout(&run_in(dir.path(), &["log", "verify"]));
    assert_eq!(head_hash_of(&out), head_hash_of(&log_verify));

    // A start past the head, or before position 1, exports nothing and says so.
    let o = run_in(dir.path(), &["log", "export", "--from", "99999"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("past the log's head") && stdout(&o).is_empty(),
        "{}",
        stderr(&o)
    );
    let o = run_in(dir.path(), &["log", "export", "--from", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // From standard input, and an export that starts later.
    let tail = dir.path().join("tail.jsonl");
    let o = run_in(
        dir.path(),
        &["log", "export", "--from", "6", "-o", tail.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = grantledger()
        .args(["log", "verify", "--export", "-", "--from", "6"])
        .stdin(std::fs::File::open(&tail).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(head_hash_of(&stdout(&o)), head_hash_of(&log_verify));
    // Without --from, an export that does not start at 1 is a truncated export.
    let o = grantledger()
        .args(["log", "verify", "--export", "-"])
        .stdin(std::fs::File::open(&tail).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    // The log's head, noted earlier, must be in the export.
    let noted = format!("10:{}", head_hash_of(&log_verify));
    let o = grantledger()
        .args(["log", "verify", "--export"])
        .arg(&file)
        .args(["--expect-head", &noted])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

/// `grantledger log verify --export FILE ARGS...`, offline.
fn verify_export_file(file: &Path, args: &[&str]) -> Output {
    grantledger()
        .args(["log", "verify", "--export"])
        .arg(file)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_tail_export_continues_a_head_noted_earlier_and_nothing_else() {
    let dir = data_dir_with_log();
    // The auditor notes the head at 10, the log grows to 14, the auditor gets the
    // records after their head.
    let noted_line = stdout(&run_in(dir.path(), &["log", "verify"]));
    let noted = format!("10:{}", head_hash_of(&noted_line));
    let log = EventLog::open(dir.path().join("log")).unwrap();
    let delta = StreamId::jira_site("delta");
    log.append(&delta, ExpectedVersion::NoStream, events("delta", 0, 4))
        .unwrap();
    drop(log);
    let tail = dir.path().join("tail.jsonl");
    let o = run_in(
        dir.path(),
        &[
            "log",
            "export",
            "--from",
            "11",
            "-o",
            tail.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let o = verify_export_file(&tail, &["--from", "11", "--expect-head", &noted]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.starts_with("ok: export chain intact, positions 11..14 (4 records), head 14:")
            && out.contains(&format!("continues from the head noted earlier, {noted}")),
        "{out}"
    );
    // A prefix of the noted hash is enough: the tail's first line links to it.
    let o = verify_export_file(&tail, &["--from", "11", "--expect-head", &noted[..19]]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // A head the tail does not continue from (another log's, or a rewritten
    // history's) is refused, in the export's terms.
    let other = format!("10:{}", "ab".repeat(32));
    let o = verify_export_file(&tail, &["--from", "11", "--expect-head", &other]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.starts_with("export verification FAILED at position 11: the export does not continue from the head noted earlier"),
        "{out}"
    );
    // A head further back than the tail reaches cannot be checked by it.
    let o = verify_export_file(
        &tail,
        &[
            "--from",
            "11",
            "--expect-head",
            &format!("9:{}", "cd".repeat(32)),
        ],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("can neither hold nor continue that head"),
        "{out}"
    );

    // The same tail cut short at its end still verifies alone, and says that only
    // a head noted earlier shows the cut, with the command that checks it.
    let full_head = head_hash_of(&stdout(&run_in(dir.path(), &["log", "verify"])));
    let text = std::fs::read_to_string(&tail).unwrap();
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(
        &cut,
        text.lines()
            .take(2)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let o = verify_export_file(&cut, &["--from", "11"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("a cut tail (records removed from the end) is only detectable against a head noted earlier"), "{out}");
    let cut_head = format!("12:{}", head_hash_of(&out));
    assert!(
        out.contains(&format!(
            "`grantledger log verify --export {} --from 11 --expect-head {cut_head}`",
            cut.display()
        )) && out.contains(&format!("--from 13 --expect-head {cut_head}")),
        "{out}"
    );
    // Against the head at 14, noted before the cut, the cut shows, in the
    // export's terms (not the database's).
    let o = verify_export_file(
        &cut,
        &["--from", "11", "--expect-head", &format!("14:{full_head}")],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.starts_with("export verification FAILED at position 13: the export ends at position 12, before the head noted earlier at position 14")
            && !out.contains("database"),
        "{out}"
    );
}

fn edited_export(dir: &Path, edit: impl Fn(&mut Vec<serde_json::Value>)) -> PathBuf {
    let mut lines = export_lines(dir, &[]);
    edit(&mut lines);
    let path = dir.join("edited.jsonl");
    let mut text = String::new();
    for l in &lines {
        text.push_str(&serde_json::to_string(l).unwrap());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn an_edited_export_fails_naming_the_position() {
    let dir = data_dir_with_log();

    let changed = edited_export(dir.path(), |lines| {
        let body = &mut lines[4]["event"]["UserVanished"]["account_id"];
        assert!(body.is_string(), "the event's shape: {}", lines[4]);
        *body = "acct-someone-else".into();
    });
    let o = run(&["log", "verify", "--export", changed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("export verification FAILED at position 5: "),
        "{out}"
    );
    assert!(out.contains("the record was changed"), "{out}");

    let dropped = edited_export(dir.path(), |lines| {
        lines.remove(6);
    });
    let o = run(&["log", "verify", "--export", dropped.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("export verification FAILED at position 7: "),
        "{}",
        stdout(&o)
    );

    let garbage = dir.path().join("garbage.jsonl");
    std::fs::write(&garbage, "this is not json\n").unwrap();
    let o = run(&["log", "verify", "--export", garbage.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("FAILED"), "{}", stdout(&o));
}

#[test]
fn read_commands_on_an_empty_data_dir_create_nothing() {
    let base = tempfile::tempdir().unwrap();
    let missing = base.path().join("missing");
    for args in [
        &["log", "verify"][..],
        &["log", "stats"][..],
        &["log", "stats", "--json"][..],
        &["log", "export"][..],
    ] {
        let o = run_in(&missing, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("error: no event log in {}: ", missing.display())),
            "{err}"
        );
        assert!(err.contains("grantledger sync"), "{err}");
        assert!(err.contains("prints the directory it used"), "{err}");
        assert!(!missing.exists(), "{args:?} created the data directory");
    }
    // An existing but empty directory stays empty too.
    let o = run_in(base.path(), &["log", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 0);

    // An export to a file is not started either.
    let out = base.path().join("out.jsonl");
    let o = run_in(
        &missing,
        &["log", "export", "--output", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 0);
}

#[test]
fn the_data_dir_comes_from_the_environment() {
    let dir = data_dir_with_log();
    let o = grantledger()
        .env("GRANTLEDGER_DATA_DIR", dir.path())
        .args(["log", "verify"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("ok: 10 records"));

    // --data-dir wins over the environment.
    let empty = tempfile::tempdir().unwrap();
    // Set but empty is the same as unset (the platform default, not a usage error).
    let file = dir.path().join("export.jsonl");
    assert!(
        run_in(dir.path(), &["log", "export", "-o", file.to_str().unwrap()])
            .status
            .success()
    );
    let o = grantledger()
        .env("GRANTLEDGER_DATA_DIR", "")
        .args(["log", "verify", "--export", "-"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = grantledger()
        .env("GRANTLEDGER_DATA_DIR", dir.path())
        .arg("--data-dir")
        .arg(empty.path())
        .args(["log", "verify"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_damaged_log_is_an_error_not_a_panic() {
    let dir = data_dir_with_log();
    let db = dir.path().join("log").join("db");
    let full = std::fs::read(&db).unwrap();
    for len in [full.len() / 2, 100, 0] {
        std::fs::write(&db, &full[..len]).unwrap();
        for args in [&["log", "verify"][..], &["log", "stats"][..]] {
            let o = run_in(dir.path(), args);
            let err = stderr(&o);
            assert!(!err.contains("panicked"), "{len} bytes, {args:?}: {err}");
            // Either sled recovers a consistent earlier state, or the open fails.
            match o.status.code() {
                Some(0) => assert_eq!(err, ""),
                Some(1) => assert!(err.starts_with("error: ") || stdout(&o).contains("FAILED")),
                other => panic!("{len} bytes, {args:?}: exit {other:?}: {err}"),
            }
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    let long = "o".repeat(201);
    for args in [
        &["log", "export", "--format", "csv"][..],
        &["log", "export", "--from", "minus-one"][..],
        &["log", "frobnicate"][..],
        &["sim", "--preset", "huge"][..],
        &["sim", "--org", "x.json", "--seed", "3"][..],
        &["log", "verify", "--export", "x.jsonl", "--from", "0"][..],
        &["provision", "add", "--user", "u", "--project", "P"][..],
        &[
            "provision",
            "add",
            "--user",
            "u",
            "--group",
            "g",
            "--role",
            "r",
        ][..],
        &["commands", "show"][..],
        &["commands", "show", ""][..],
        &["provision", "add", "--user", "", "--group", "g"][..],
        &["provision", "add", "--user", "u", "--group", ""][..],
        &[
            "provision",
            "add",
            "--user",
            "u",
            "--group",
            "g",
            "--as",
            "",
        ][..],
        &[
            "provision",
            "add",
            "--user",
            "u",
            "--group",
            "g",
            "--as",
            "  ",
        ][..],
        &[
            "provision",
            "add",
            "--user",
            "u",
            "--group",
            "g",
            "--as",
            "a\u{1b}[2Jb",
        ][..],
        &[
            "provision",
            "add",
            "--user",
            "u",
            "--group",
            "g",
            "--as",
            &long,
        ][..],
        &[][..],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("log"));
}

#[test]
fn operational_errors_are_one_line_and_exit_1() {
    let base = tempfile::tempdir().unwrap();
    let missing = base.path().join("no-such-export.jsonl");
    let o = run(&["log", "verify", "--export", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: cannot open export file "), "{err}");
    assert!(err.contains("No such file"), "{err}");

    // With -v, the causes come on lines of their own.
    let o = run(&["-v", "log", "verify", "--export", missing.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(err.contains("\n  caused by: "), "{err}");

    let data = data_dir_with_log();
    let o = run_in(
        data.path(),
        &["log", "export", "-o", base.path().to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 0);

    let o = run(&["sim", "--org", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: cannot load the org"));
}

#[test]
fn a_closed_stdout_ends_an_export_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path().join("log")).unwrap();
    let stream = StreamId::jira_site("acme");
    // Enough output (about 1 MB) to outlast any pipe buffer.
    for batch in 0..4 {
        let expected = if batch == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(batch * 1000)
        };
        log.append(
            &stream,
            expected,
            events("acme", batch as usize * 1000, 1000),
        )
        .unwrap();
    }
    drop(log);

    let mut child = grantledger()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["log", "export"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader (and the pipe) is gone now, like `| head -1`.
    assert!(first.contains("\"position\":1"), "{first}");
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(err, "");
}

/// Kills the child when dropped, so a failing test leaves no server behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Printed {
    url: String,
    email: String,
    token: String,
    lines: Vec<String>,
}

/// Starts `grantledger sim --port 0 <args>` and reads what it prints up to "Ctrl-C".
fn start_sim(args: &[&str]) -> (Running, Printed) {
    let mut child = grantledger()
        .args(["sim", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the simulator prints its address");
        let done = line.contains("Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    let creds = lines
        .iter()
        .find(|l| l.starts_with("JIRA_SITE="))
        .expect("a credentials line");
    let mut url = String::new();
    let mut email = String::new();
    let mut token = String::new();
    for pair in creds.split_whitespace() {
        match pair.split_once('=') {
            Some(("JIRA_SITE", v)) => url = v.to_owned(),
            Some(("JIRA_EMAIL", v)) => email = v.to_owned(),
            Some(("JIRA_API_TOKEN", v)) => token = v.to_owned(),
            _ => {}
        }
    }
    (
        running,
        Printed {
            url,
            email,
            token,
            lines,
        },
    )
}

/// A minimal HTTP/1.1 GET: returns the status code and the body.
fn http_get(base_url: &str, path: &str, basic: Option<(&str, &str)>) -> (u16, String) {
    let authority = base_url
        .strip_prefix("http://")
        .expect("an http URL")
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    if let Some((user, password)) = basic {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        request.push_str(&format!("Authorization: Basic {encoded}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn sim_serves_with_the_printed_credentials() {
    let (_sim, printed) = start_sim(&["--preset", "small", "--seed", "7"]);
    assert!(
        printed.url.starts_with("http://127.0.0.1:"),
        "{:?}",
        printed.lines
    );
    assert!(!printed.email.is_empty() && !printed.token.is_empty());
    assert!(
        printed.lines.iter().any(|l| l.contains("/__sim/stats")),
        "{:?}",
        printed.lines
    );

    let (status, body) = http_get(
        &printed.url,
        "/rest/api/3/myself",
        Some((&printed.email, &printed.token)),
    );
    assert_eq!(status, 200, "{body}");
    let me: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(me["accountId"].as_str().is_some_and(|s| !s.is_empty()));

    let (status, _) = http_get(&printed.url, "/rest/api/3/myself", Some(("x@y.z", "wrong")));
    assert_eq!(status, 401);

    let (status, body) = http_get(&printed.url, "/__sim/stats", None);
    assert_eq!(status, 200);
    assert!(body.contains("/rest/api/3/myself"), "{body}");
}

#[cfg(unix)]
#[test]
fn sim_saves_its_org_on_sigterm_and_serves_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let org = dir.path().join("org.json");
    let (mut sim, printed) = start_sim(&["--save-org", org.to_str().unwrap()]);
    assert!(org.is_file(), "saved at start");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&org).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the org file holds emails: owner only");
    }
    let status = Command::new("kill")
        .args(["-TERM", &sim.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = sim.0.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    let mut err = String::new();
    sim.0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("saved the org"), "{err}");

    let (_again, reloaded) = start_sim(&["--org", org.to_str().unwrap()]);
    assert_ne!(reloaded.url, "");
    // The same org: the same site and counts, now "loaded from" the file.
    let counts = |line: &str| line.rsplit_once("): ").map(|(_, c)| c.to_owned());
    assert!(
        reloaded.lines[0].contains("loaded from"),
        "{:?}",
        reloaded.lines
    );
    assert_eq!(counts(&printed.lines[0]), counts(&reloaded.lines[0]));
    assert!(counts(&printed.lines[0]).is_some());
    let (status, _) = http_get(
        &reloaded.url,
        "/rest/api/3/myself",
        Some((&reloaded.email, &reloaded.token)),
    );
    assert_eq!(status, 200);
}

/// The binary with site and email given, so that what is checked next is the token.
fn connect_in(data_dir: &Path) -> Command {
    let mut c = grantledger();
    c.env_remove("JIRA_SITE")
        .env_remove("JIRA_EMAIL")
        .env_remove("JIRA_API_TOKEN")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["sync", "--site", "acme", "--email", "a@b.c"]);
    c
}

fn private_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

#[test]
fn a_config_value_of_the_wrong_type_is_not_echoed() {
    let dir = private_tempdir();
    std::fs::write(
        dir.path().join("grantledger.toml"),
        "[jira]\nsite = \"acme\"\nscoped = \"CFGSECRET77\"\n",
    )
    .unwrap();
    let o = run_in(dir.path(), &["sync"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("line 3") && err.contains("expected a boolean"),
        "{err}"
    );
    assert!(!err.contains("CFGSECRET77") && !stdout(&o).contains("CFGSECRET77"));
}

#[test]
fn missing_site_email_or_token_are_usage_errors() {
    let dir = private_tempdir();
    let base = || {
        let mut c = grantledger();
        c.env_remove("JIRA_SITE")
            .env_remove("JIRA_EMAIL")
            .env_remove("JIRA_API_TOKEN")
            .arg("--data-dir")
            .arg(dir.path())
            .arg("sync");
        c
    };
    for (extra, needle) in [
        (&[][..], "no Jira site"),
        (&["--site", "acme"][..], "no admin email"),
        (&["--site", "acme", "--email", "a@b.c"][..], "no API token"),
    ] {
        let o = base().args(extra).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[cfg(unix)]
#[test]
fn token_files_must_be_small_regular_text() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = private_tempdir();
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'a'; 64 * 1024]).unwrap();
    let binary = dir.path().join("binary");
    std::fs::write(&binary, [0xff, 0xfe, 0x41]).unwrap();
    for f in [&big, &binary] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for (file, needle) in [
        (fifo, "not a regular file"),
        (dir.path().to_path_buf(), "not a regular file"),
        (PathBuf::from("/dev/zero"), "not a regular file"),
        (big, "larger than"),
        (binary, "not valid UTF-8"),
    ] {
        let started = std::time::Instant::now();
        let o = connect_in(dir.path())
            .arg("--token-file")
            .arg(&file)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", file.display());
        assert!(err.contains(needle), "{}: {err}", file.display());
        assert!(!err.contains("chmod"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    // A token in the environment that is not UTF-8 is named as such.
    use std::os::unix::ffi::OsStrExt as _;
    let o = connect_in(dir.path())
        .env("JIRA_API_TOKEN", std::ffi::OsStr::from_bytes(&[0xff, 0x41]))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(
        err.contains("JIRA_API_TOKEN is set but is not valid UTF-8"),
        "{err}"
    );
}

#[test]
fn init_checks_the_site_before_writing_anything() {
    let dir = private_tempdir();
    let config = dir.path().join("grantledger.toml");
    for site in [
        "ftp://acme.example",
        "http://user:password@acme.example",
        "https://admin:hunter2@acme.atlassian.net",
        "acme site",
    ] {
        let o = grantledger()
            .env_remove("JIRA_API_TOKEN")
            .arg("--data-dir")
            .arg(dir.path())
            .args(["init", "--site", site, "--email", "a@b.c"])
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{site}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            !err.contains("password") && !err.contains("hunter2"),
            "{err}"
        );
        assert!(!config.exists(), "{site}: the config file was written");
    }
    let o = grantledger()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["init", "--site", "acme", "--email", "not-an-email"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!config.exists());
}

#[test]
fn an_empty_export_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let o = run(&["log", "verify", "--export", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("holds no records"), "{}", stdout(&o));
    let o = grantledger()
        .args(["log", "verify", "--export", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[cfg(unix)]
#[test]
fn exports_are_written_through_an_exclusive_temporary_file() {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    let dir = data_dir_with_log();
    let out_dir = tempfile::tempdir().unwrap();
    let victim = out_dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    // The name the export used to write first: a planted link is not followed.
    std::os::unix::fs::symlink(&victim, out_dir.path().join(".out.jsonl.partial")).unwrap();
    let target = out_dir.path().join("out.jsonl");
    let o = run_in(
        dir.path(),
        &["log", "export", "-o", target.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap().lines().count(),
        10
    );
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");

    // A link as the output is refused, and so is a device.
    let link = out_dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    for (output, needle) in [
        (link.clone(), "symbolic link"),
        (PathBuf::from("/dev/null"), "not a regular file"),
    ] {
        let o = run_in(
            dir.path(),
            &["log", "export", "-o", output.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn a_data_dir_that_is_a_file_or_lost_its_database_is_explained() {
    let base = tempfile::tempdir().unwrap();
    let file = base.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for args in [&["log", "stats"][..], &["sync", "--site", "acme"][..]] {
        let o = run_in(&file, args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("is not a directory"), "{err}");
        assert!(err.contains("--data-dir"), "{err}");
    }

    let dir = data_dir_with_log();
    std::fs::remove_file(dir.path().join("log").join("db")).unwrap();
    for args in [&["log", "stats"][..], &["log", "verify"][..]] {
        let o = run_in(dir.path(), args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("missing, but its anchor says a log of 10 records"),
            "{err}"
        );
        assert!(err.contains("restore"), "{err}");
        assert!(!err.contains("grantledger demo first"), "{err}");
    }
    assert!(
        !dir.path().join("log").join("db").exists(),
        "nothing recreated"
    );
}

#[test]
fn a_damaged_database_gets_one_line_and_the_raw_cause_only_with_v() {
    // A log larger than one 8 MiB segment, so that the storage engine keeps a
    // snapshot that points into it.
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path().join("log")).unwrap();
    let stream = StreamId::jira_site("acme");
    for batch in 0..60 {
        log.append(
            &stream,
            ExpectedVersion::Any,
            events("acme", batch * 1000, 1000),
        )
        .unwrap();
    }
    drop(log);
    let db = dir.path().join("log").join("db");
    let mut bytes = std::fs::read(&db).unwrap();
    // Damage one stretch in each MiB of the file.
    for start in (0..bytes.len()).step_by(1 << 20).skip(1) {
        let end = (start + 4096).min(bytes.len());
        for b in &mut bytes[start..end] {
            *b ^= 0x5A;
        }
    }
    std::fs::write(&db, &bytes).unwrap();
    let o = run_in(dir.path(), &["log", "verify"]);
    let (out, err) = (stdout(&o), stderr(&o));
    eprintln!("damaged log: {out}{err}");
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(!err.contains("panicked"), "{err}");
    if out.is_empty() {
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("is damaged") && err.contains("backup"),
            "{err}"
        );
        assert!(
            !err.contains("offset") && !err.contains("backtrace"),
            "{err}"
        );
        let v = run_in(dir.path(), &["-v", "log", "verify"]);
        assert!(stderr(&v).contains("caused by"), "{}", stderr(&v));
    } else {
        assert!(out.starts_with("log verification FAILED at "), "{out}");
    }
}

#[test]
fn every_help_shows_examples_and_sim_hides_what_it_ignores() {
    for args in [
        &["--help"][..],
        &["demo", "--help"][..],
        &["sync", "--help"][..],
        &["init", "--help"][..],
        &["sim", "--help"][..],
        &["log", "verify", "--help"][..],
        &["log", "stats", "--help"][..],
        &["log", "export", "--help"][..],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let out = stdout(&o);
        let examples = out
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{args:?}: no examples in\n{out}"));
        let lines = examples
            .lines()
            .take_while(|l| l.starts_with("  "))
            .filter(|l| l.trim_start().starts_with("grantledger") || l.contains(" grantledger "))
            .count();
        assert!(
            (2..=3).contains(&lines),
            "{args:?}: {lines} examples in\n{out}"
        );
    }
    let sim = stdout(&run(&["sim", "--help"]));
    assert!(!sim.contains("--data-dir"), "{sim}");
    assert!(sim.contains("--preset"), "{sim}");
}

#[test]
fn a_hostile_org_file_is_bounded_and_its_names_escaped() {
    let base = tempfile::tempdir().unwrap();
    let o = run(&["sim", "--org", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    let huge = base.path().join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(300 * 1024 * 1024)
        .unwrap();
    let o = run(&["sim", "--org", huge.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("larger than"), "{}", stderr(&o));

    let saved = base.path().join("org.json");
    {
        let (_sim, _) = start_sim(&["--save-org", saved.to_str().unwrap()]);
    }
    let mut org: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    org["site"] = "evil\u{1b}]0;pwned\u{7}\u{1b}[2J".into();
    std::fs::write(&saved, serde_json::to_string(&org).unwrap()).unwrap();
    let (_sim, printed) = start_sim(&["--org", saved.to_str().unwrap()]);
    let all = printed.lines.join("\n");
    assert!(!all.contains('\u{1b}') && !all.contains('\u{7}'), "{all:?}");
    assert!(all.contains("evil\\u{1b}]0;pwned"), "{all}");
}

#[test]
fn sync_limits_out_of_range_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--deadline", "0"),
        ("--concurrency", "0"),
        ("--concurrency", "65"),
    ] {
        let o = run_in(dir.path(), &["sync", flag, value]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{}", stderr(&o));
    }
    assert!(
        !dir.path().join("log").exists(),
        "a usage error creates nothing"
    );
}

#[test]
fn a_prefix_head_check_of_a_file_that_is_no_export_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("3:{}", "ab".repeat(8));
    // No line break in 17 MiB: not read whole, and not "ends before the head".
    let endless = dir.path().join("endless.jsonl");
    std::fs::write(&endless, vec![b'{'; 17 << 20]).unwrap();
    let o = verify_export_file(&endless, &["--expect-head", &prefix]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("longer than 16 MiB"), "{}", stderr(&o));
    // Bytes that are not text: the verification names the line.
    let binary = dir.path().join("binary.jsonl");
    std::fs::write(&binary, b"\xff\xfe\x00\n").unwrap();
    let o = verify_export_file(&binary, &["--expect-head", &prefix]);
    assert_eq!(o.status.code(), Some(1));
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert!(out.contains("not UTF-8"), "{out}");
}
