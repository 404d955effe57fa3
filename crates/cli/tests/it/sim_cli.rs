//! What the request and review tests share: a simulator on loopback and the
//! binary run against it with the environment a person would set.

use std::path::Path;
use std::process::{Command, Output};

use grantledger_jira_sim::{Credential, SimServer};

const BIN: &str = env!("CARGO_BIN_EXE_grantledger");

/// A simulator and the runtime serving it.
pub(crate) struct Sim {
    pub(crate) server: SimServer,
    pub(crate) _rt: tokio::runtime::Runtime,
}

/// Runs the binary on `dir` against `sim`.
pub(crate) fn grantledger(dir: &Path, sim: &Sim, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.env_remove("GRANTLEDGER_DATA_DIR")
        .env_remove("RUST_LOG")
        .env("JIRA_SITE", sim.server.base_url())
        .env("JIRA_EMAIL", Credential::DEFAULT_EMAIL)
        .env("JIRA_API_TOKEN", Credential::DEFAULT_TOKEN)
        .arg("--data-dir")
        .arg(dir)
        .args(args);
    c.output().expect("the binary runs")
}

/// The standard output of a run that succeeded.
pub(crate) fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The standard error of a run refused with exit code 1.
pub(crate) fn refused(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}
