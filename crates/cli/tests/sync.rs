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
