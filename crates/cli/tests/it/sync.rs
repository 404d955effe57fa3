//! `grantledger sync`, `init` and `demo`, driven through the real binary against
//! the simulator over HTTP on loopback.

use std::path::Path;
use std::process::{Command, Output};

use grantledger_jira_sim::{Credential, Faults, Org, Preset, SimServer};

const BIN: &str = env!("CARGO_BIN_EXE_grantledger");

fn grantledger(data_dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("GRANTLEDGER_DATA_DIR")
        .env_remove("RUST_LOG")
        .env_remove("JIRA_SITE")
        .env_remove("JIRA_EMAIL")
        .env_remove("JIRA_API_TOKEN")
        .arg("--data-dir")
        .arg(data_dir);
    c
}

/// A temporary data directory readable by its owner alone (as grantledger
/// creates one; an existing one that others can read gets a warning).
fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

struct Sim {
    server: SimServer,
    _rt: tokio::runtime::Runtime,
}

fn sim() -> Sim {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let org = Org::generate(Preset::Small, 4);
    let admin = Credential::admin_of(&org);
    let server = rt
        .block_on(SimServer::start(org, vec![admin], Faults::default()))
        .unwrap();
    Sim { server, _rt: rt }
}

fn sync_cmd(dir: &Path, sim: &Sim, token: &str) -> Command {
    let mut c = grantledger(dir);
    c.arg("sync")
        .env("JIRA_SITE", sim.server.base_url())
        .env("JIRA_EMAIL", Credential::DEFAULT_EMAIL)
        .env("JIRA_API_TOKEN", token);
    c
}

#[test]
fn sync_records_the_site_then_nothing_on_an_unchanged_site() {
    let sim = sim();
    let dir = private_dir();
    let first = sync_cmd(dir.path(), &sim, Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    let (out, err) = text(&first);
    assert!(first.status.success(), "{out}{err}");
    assert!(out.contains("completed"), "{out}");
    assert!(out.contains("GrantAdded"), "{out}");
    let second = sync_cmd(dir.path(), &sim, Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    let (out, _) = text(&second);
    assert!(second.status.success());
    assert!(out.contains("(no change)"), "{out}");
    let verify = grantledger(dir.path())
        .args(["log", "verify"])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{:?}", text(&verify));
}

#[test]
fn bad_credentials_fail_with_one_clear_line_and_a_recorded_failure() {
    let sim = sim();
    let dir = private_dir();
    let o = sync_cmd(dir.path(), &sim, "not-the-token")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    // The failure is one line on stderr; the summary stays on stdout.
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: sync of ") && err.contains("check the email and API token"),
        "{err}"
    );
    assert!(out.contains("failed after"), "{out}");
    assert!(!out.contains("FAILED"), "{out}");
    assert!(!out.contains("not-the-token") && !err.contains("not-the-token"));
    let export = grantledger(dir.path())
        .args(["log", "export"])
        .output()
        .unwrap();
    let (lines, _) = text(&export);
    assert!(
        lines.lines().last().unwrap().contains("\"SyncFailed\""),
        "{lines}"
    );
}

#[test]
fn a_dry_run_prints_events_and_appends_nothing() {
    let sim = sim();
    let dir = private_dir();
    let o = sync_cmd(dir.path(), &sim, Credential::DEFAULT_TOKEN)
        .arg("--dry-run")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("nothing was appended"), "{err}");
    let n = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event_type"] == "GrantAdded")
        .count();
    assert!(n > 10);
    // Nothing was created in the data directory.
    assert!(!dir.path().join("log").exists());
    // On an existing log, a dry run previews the difference and appends nothing.
    assert!(sync_cmd(dir.path(), &sim, Credential::DEFAULT_TOKEN)
        .output()
        .unwrap()
        .status
        .success());
    let events = |dir: &Path| {
        let o = grantledger(dir)
            .args(["log", "stats", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["events"].clone()
    };
    let before = events(dir.path());
    let o = sync_cmd(dir.path(), &sim, Credential::DEFAULT_TOKEN)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        o.stdout.is_empty(),
        "an unchanged site has nothing to preview"
    );
    assert_eq!(before, events(dir.path()));
}

#[test]
fn init_writes_a_private_config_and_checks_the_credentials() {
    let sim = sim();
    let dir = private_dir();
    let o = grantledger(dir.path())
        .args([
            "init",
            "--site",
            &sim.server.base_url(),
            "--email",
            Credential::DEFAULT_EMAIL,
        ])
        .env("JIRA_API_TOKEN", Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("credentials OK"), "{out}");
    let path = dir.path().join("grantledger.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The config file now supplies site and email; the token still comes from the environment.
    let o = grantledger(dir.path())
        .arg("sync")
        .env("JIRA_API_TOKEN", Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    // A second init does not overwrite.
    let again = grantledger(dir.path())
        .args(["init", "--site", "acme", "--email", "x@y.z"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).1.contains("--force"));
}

#[cfg(unix)]
#[test]
fn a_config_file_with_a_token_that_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = private_dir();
    let path = dir.path().join("grantledger.toml");
    std::fs::write(
        &path,
        "[jira]\nsite = \"acme\"\nemail = \"a@b.c\"\napi_token = \"hunter2\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = grantledger(dir.path()).arg("sync").output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!out.contains("hunter2") && !err.contains("hunter2"));
}

#[test]
fn the_demo_runs_offline_and_leaves_a_verifiable_log() {
    let dir = private_dir();
    let data = dir.path().join("demo");
    let o = grantledger(&data).arg("demo").output().unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    for needle in [
        "first sync",
        "second sync",
        "what the second sync recorded",
        "user deactivated",
        "+ ",
        "- ",
        "ok: ",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    // The outbox step: the grant it made is recorded once, as the command's, and
    // the third sync finds nothing to record again.
    let outbox = out
        .split("through the outbox")
        .nth(1)
        .expect("the demo shows a change made through the outbox");
    assert!(outbox.contains("changed by operator demo"), "{outbox}");
    assert!(outbox.contains("succeeded"), "{outbox}");
    let third = outbox
        .split("third sync")
        .nth(1)
        .expect("a third sync after the outbox's change");
    assert!(third.contains("(no change)"), "{third}");
    let verify = grantledger(&data).args(["log", "verify"]).output().unwrap();
    assert!(verify.status.success());
    // The demo refuses a data directory that already holds a log.
    let again = grantledger(&data).arg("demo").output().unwrap();
    assert_eq!(again.status.code(), Some(1));
}

#[test]
fn verify_checks_a_head_noted_earlier() {
    let dir = private_dir();
    let data = dir.path().join("demo");
    assert!(grantledger(&data)
        .arg("demo")
        .output()
        .unwrap()
        .status
        .success());
    let o = grantledger(&data).args(["log", "verify"]).output().unwrap();
    let (out, _) = text(&o);
    // "ok: N records in M streams, head P:H", the form --expect-head takes.
    let noted = out.split("head ").nth(1).unwrap().trim().to_owned();
    let (position, hash) = noted.split_once(':').unwrap();
    assert_eq!(hash.len(), 64, "{out}");
    let ok = grantledger(&data)
        .args(["log", "verify", "--expect-head", &noted])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{:?}", text(&ok));
    // An unambiguous prefix of 16 hex digits is enough.
    let short = format!("{position}:{}", &hash[..16]);
    let ok = grantledger(&data)
        .args(["log", "verify", "--expect-head", &short])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{:?}", text(&ok));
    let wrong = format!("{position}:{}", "0".repeat(16));
    let bad = grantledger(&data)
        .args(["log", "verify", "--expect-head", &wrong])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).0.contains("rewritten"), "{:?}", text(&bad));
    let forged = format!("{position}:{}", "0".repeat(64));
    let bad = grantledger(&data)
        .args(["log", "verify", "--expect-head", &forged])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).0.contains("rewritten"), "{:?}", text(&bad));
    let malformed = grantledger(&data)
        .args(["log", "verify", "--expect-head", "12"])
        .output()
        .unwrap();
    assert_eq!(malformed.status.code(), Some(2));
}

fn slow_sim(latency_ms: u64) -> Sim {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let org = Org::generate(Preset::Small, 4);
    let admin = Credential::admin_of(&org);
    let faults = Faults {
        latency: std::time::Duration::from_millis(latency_ms),
        ..Faults::default()
    };
    let server = rt
        .block_on(SimServer::start(org, vec![admin], faults))
        .unwrap();
    Sim { server, _rt: rt }
}

/// Kills the child if a test fails before it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(unix)]
fn signal(child: &std::process::Child, name: &str) {
    let ok = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn export_json(dir: &Path) -> Vec<serde_json::Value> {
    let o = grantledger(dir).args(["log", "export"]).output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A sync holds the log in a child process: readers still work (through a
/// copy; `log verify`, `log export`, `request list`), a second writer is told
/// who holds it; then Ctrl-C stops the sync,
/// which records what it finished, closes the run as interrupted and exits 130.
#[cfg(unix)]
#[test]
fn a_held_log_is_readable_names_its_holder_and_ctrl_c_closes_the_run() {
    let sim = slow_sim(300);
    let dir = private_dir();
    let first = sync_cmd(dir.path(), &sim, Credential::DEFAULT_TOKEN)
        .args(["--concurrency", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = Child(first);
    let holder = dir.path().join("log").join("holder");
    wait_for("the holder file", || holder.exists());
    // A few scopes listed.
    std::thread::sleep(std::time::Duration::from_millis(1500));

    let verify = grantledger(dir.path())
        .args(["log", "verify"])
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{:?}", text(&verify));
    assert!(text(&verify).0.starts_with("ok: "), "{:?}", text(&verify));
    let out = dir.path().join("while-held.jsonl");
    let export = grantledger(dir.path())
        .args(["log", "export", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(export.status.code(), Some(0), "{:?}", text(&export));
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("SyncStarted"));
    // Requests are listed too (as while `jit run` holds the log).
    let requests = grantledger(dir.path())
        .args(["request", "list", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(requests.status.code(), Some(0), "{:?}", text(&requests));
    assert_eq!(text(&requests).0.trim(), "[]", "{:?}", text(&requests));

    let second = sync_cmd(dir.path(), &sim, Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    let (_, err) = text(&second);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("in use by process {}", first.0.id())),
        "{err}"
    );
    assert!(
        err.contains("sync") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(!err.contains("sled") && !err.contains("IO error"), "{err}");

    signal(&first.0, "-INT");
    let status = first.0.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut first.0.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(!holder.exists(), "the holder file goes with the holder");

    let verify = grantledger(dir.path())
        .args(["log", "verify"])
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{:?}", text(&verify));
    let records = export_json(dir.path());
    let last = records.last().unwrap();
    assert_eq!(last["event_type"], "SyncFailed", "{last}");
    let reason = last["event"]["SyncFailed"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("interrupted; "), "{last}");
    assert!(reason.contains(" requests sent in "), "{last}");
    // What was listed before Ctrl-C is recorded.
    assert!(records.iter().any(|r| r["event_type"] == "UserObserved"));
}

/// A second Ctrl-C ends the sync at once; the log stays valid.
#[cfg(unix)]
#[test]
fn a_second_ctrl_c_exits_at_once() {
    let sim = slow_sim(2000);
    let dir = private_dir();
    let child = sync_cmd(dir.path(), &sim, Credential::DEFAULT_TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Child(child);
    wait_for("the holder file", || dir.path().join("log/holder").exists());
    std::thread::sleep(std::time::Duration::from_millis(200));
    signal(&child.0, "-INT");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let started = std::time::Instant::now();
    signal(&child.0, "-INT");
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let verify = grantledger(dir.path())
        .args(["log", "verify"])
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{:?}", text(&verify));
}

/// A small tmpfs mounted on a temporary directory, unmounted on drop. `None`
/// where this process may not mount (not root): the tests that need one say so
/// and check what they can without it.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("cannot mount a tmpfs here (not root?): checking without one");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount_read_only(&self) {
        let ok = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(self.path())
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Fills the file system up.
    fn fill(&self) {
        use std::io::Write as _;
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        for size in [64 * 1024, 4096, 1] {
            let block = vec![0u8; size];
            while f.write_all(&block).is_ok() {}
        }
        let _ = f.sync_all();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.path()).status();
    }
}

#[test]
fn a_full_disk_gets_one_line_and_reads_still_work() {
    let sim = sim();
    let Some(disk) = Tmpfs::mount("24m") else {
        return;
    };
    let dir = disk.path().join("data");
    let first = sync_cmd(&dir, &sim, Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    assert!(first.status.success(), "{:?}", text(&first));
    let before = export_json(&dir).len();
    disk.fill();
    // The storage engine preallocates its segments, so a log that has room left
    // in its segment still appends on a full disk; a new one cannot start.
    let other = disk.path().join("other");
    let o = sync_cmd(&other, &sim, Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: the disk holding the event log in "),
        "{err}"
    );
    assert!(err.contains(" is full: "), "{err}");
    assert!(!err.contains("os error"), "{err}");
    assert!(
        err.contains("nothing acknowledged was lost") && err.contains("free space"),
        "{err}"
    );
    assert!(
        !err.contains("Os {") && !err.contains("StorageFull"),
        "{err}"
    );
    let v = sync_cmd(&other, &sim, Credential::DEFAULT_TOKEN)
        .arg("-v")
        .output()
        .unwrap();
    assert!(text(&v).1.contains("caused by"), "{:?}", text(&v));
    // Reading needs no space on that disk.
    for args in [&["log", "verify"][..], &["log", "stats"][..]] {
        let o = grantledger(&dir).args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {:?}", text(&o));
    }
    assert_eq!(
        export_json(&dir).len(),
        before,
        "nothing acknowledged was lost"
    );
}

#[test]
fn reading_works_on_a_read_only_data_dir() {
    let sim = sim();
    let Some(disk) = Tmpfs::mount("32m") else {
        return;
    };
    let dir = disk.path().join("data");
    let o = sync_cmd(&dir, &sim, Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let records = export_json(&dir).len();
    disk.remount_read_only();
    let o = grantledger(&dir).args(["log", "verify"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = grantledger(&dir).args(["log", "stats"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(export_json(&dir).len(), records);
    // A writer is told why it cannot write, in one line.
    let o = sync_cmd(&dir, &sim, Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no write access") && err.contains("nothing was changed"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn the_data_dir_is_private_and_a_readable_one_is_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let sim = sim();
    let base = private_dir();
    let dir = base.path().join("new");
    let o = sync_cmd(&dir, &sim, Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(
        text(&o).1,
        "",
        "no warning for a directory grantledger made"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("log")), 0o700);
    for entry in std::fs::read_dir(dir.join("log")).unwrap() {
        let p = entry.unwrap().path();
        assert_eq!(mode(&p) & 0o077, 0, "{}", p.display());
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = sync_cmd(&dir, &sim, Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.starts_with("warning: other users can access the data directory"),
        "{err}"
    );
    assert!(err.contains("chmod 700"), "{err}");
}

#[test]
fn demos_started_together_get_their_own_directories_and_explain_themselves() {
    let run = || {
        let mut c = Command::new(BIN);
        c.env_remove("GRANTLEDGER_DATA_DIR")
            .env_remove("RUST_LOG")
            .args(["-v", "demo"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..3).map(|_| run()).collect();
    let mut dirs = Vec::new();
    for child in children {
        let o = child.wait_with_output().unwrap();
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}{err}");
        assert!(!out.contains("warning:"), "{out}");
        assert!(
            out.contains("info: 1 listing that implied removals was taken twice"),
            "{out}"
        );
        assert!(out.contains("are the run's start and end records"), "{out}");
        let dir = out
            .lines()
            .find_map(|l| l.strip_prefix("== first sync into "))
            .unwrap()
            .to_owned();
        // The printed commands work as printed.
        let explore = out
            .lines()
            .skip_while(|l| !l.starts_with("== explore it"))
            .nth(1)
            .unwrap()
            .trim()
            .to_owned();
        let words: Vec<&str> = explore.split_whitespace().collect();
        assert_eq!(words[words.len() - 2..], ["log", "stats"], "{explore}");
        let o = Command::new(words[0]).args(&words[1..]).output().unwrap();
        assert!(o.status.success(), "{explore}: {:?}", text(&o));
        // As many events as the demo's own verification counted.
        let records = out
            .lines()
            .find_map(|l| l.strip_prefix("ok: "))
            .and_then(|l| l.split_whitespace().next())
            .expect("the demo prints its verification");
        assert!(
            text(&o).0.contains(&format!("events:        {records}\n")),
            "{records}: {:?}",
            text(&o)
        );
        // Human-readable exports carry names.
        let o = Command::new(BIN)
            .args(["--data-dir", &dir, "log", "export", "--format", "text"])
            .output()
            .unwrap();
        let listing = text(&o).0;
        assert!(
            listing.contains("in group jira-administrators"),
            "{listing}"
        );
        assert!(
            listing.contains("as Administrators of project"),
            "{listing}"
        );
        dirs.push(dir);
    }
    let unique: std::collections::BTreeSet<_> = dirs.iter().collect();
    assert_eq!(unique.len(), 3, "{dirs:?}");
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    // Without -v the routine confirmation is not shown at all.
    let o = Command::new(BIN)
        .env_remove("GRANTLEDGER_DATA_DIR")
        .arg("demo")
        .output()
        .unwrap();
    let out = text(&o).0;
    assert!(
        !out.contains("taken twice") && !out.contains("warning"),
        "{out}"
    );
    if let Some(d) = out
        .lines()
        .find_map(|l| l.strip_prefix("== first sync into "))
    {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn init_failures_go_to_stderr_and_jira_names_are_escaped() {
    let sim = sim();
    let dir = private_dir();
    let o = grantledger(dir.path())
        .args([
            "init",
            "--site",
            &sim.server.base_url(),
            "--email",
            Credential::DEFAULT_EMAIL,
        ])
        .env("JIRA_API_TOKEN", "wrong-token")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        out.starts_with("wrote ") && !out.contains("FAILED"),
        "{out}"
    );
    assert!(err.starts_with("error: credentials check FAILED"), "{err}");
    assert!(!err.contains("wrong-token"), "{err}");

    // A display name from Jira holding terminal escapes is printed escaped.
    sim.server.mutate(|o| {
        let u = o.users.iter_mut().find(|u| u.active).unwrap();
        u.display_name = "Mallory\u{1b}]0;owned\u{7}\u{1b}[2J".into();
    });
    let o = sync_cmd(dir.path(), &sim, Credential::DEFAULT_TOKEN)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let o = grantledger(dir.path())
        .args(["log", "export", "--format", "text"])
        .output()
        .unwrap();
    let (listing, _) = text(&o);
    assert!(listing.contains("Mallory\\u{1b}]0;owned"), "{listing}");
    assert!(!listing.contains('\u{1b}') && !listing.contains('\u{7}'));
}
