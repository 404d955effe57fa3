//! Shared helpers for grantledger's bench binaries (`benches/`).
//!
//! Each bench prints its figures as medians over a few runs and, where a goal is a
//! ratio, the baseline measured in the same run, so a noisy shared machine moves
//! both sides alike. Run them with `cargo bench -p grantledger-benches`.

use std::time::{Duration, Instant};

/// Runs `f` `runs` times and returns the median duration with the last result.
pub fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed());
    }
    times.sort_unstable();
    (times[times.len() / 2], last.expect("ran at least once"))
}

/// Events per second.
pub fn rate(events: u64, took: Duration) -> f64 {
    events as f64 / took.as_secs_f64()
}

/// Reads an integer setting from the environment.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Bytes under a directory.
pub fn dir_size(path: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// A `kB` field of `/proc/self/status` (`VmHWM` is the peak resident set,
/// `VmRSS` the current one), in bytes; `None` off Linux.
pub fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// Runs `cmd` to its end and returns what it printed; panics, with its standard
/// error, naming `what`, when it fails.
pub fn output_of(cmd: &mut std::process::Command, what: &str) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Bytes as mebibytes.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Syncs `org` once into `log` as site `site`, from a simulator started in this
/// process and reached over loopback (a runtime of its own, two workers).
pub fn sync_from_simulator(
    log: &grantledger_eventlog::EventLog,
    org: grantledger_jira_sim::Org,
    site: &str,
) {
    use grantledger_jira_sim::{Credential, Faults, SimServer};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let admin = Credential::admin_of(&org);
        let sim = SimServer::start(org, vec![admin], Faults::default())
            .await
            .expect("the simulator");
        let config = grantledger_jira::JiraConfig::for_base_url(
            &sim.base_url(),
            Credential::DEFAULT_EMAIL,
            grantledger_jira::ApiToken::new(Credential::DEFAULT_TOKEN),
        )
        .expect("a config");
        let client = grantledger_jira::JiraClient::new(config).expect("a client");
        grantledger_ingest::sync(log, &client, grantledger_ingest::SyncOptions::new(site))
            .await
            .expect("the sync");
    });
}
