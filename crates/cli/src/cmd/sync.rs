//! `grantledger sync`: record what changed on the Jira site since the last sync.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;
use grantledger_ingest::{Outcome, Progress, SyncObserver, SyncOptions};
use grantledger_jira::JiraClient;

use crate::settings::{self, ConnectArgs};
use crate::summary::{failure_line, sync_summary};
use crate::Globals;

/// The exit code of a sync stopped by Ctrl-C (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

/// `grantledger sync`
#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Listing requests in flight at once [default: 8, or `concurrency` in the config file]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    concurrency: Option<u64>,
    /// Print the events a sync would append (JSON lines on stdout) without appending
    #[arg(long)]
    dry_run: bool,
    /// End the sync as failed (recording what it finished) after this many minutes [default: 240]
    #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u64).range(1..))]
    deadline: Option<u64>,
    /// Record removals of more than 3 items and at least half of a scope (a group's
    /// members, the user list...), which a sync otherwise holds back as a possible
    /// wrong answer from Jira. Use it for one run after a real mass deletion.
    #[arg(long)]
    allow_mass_removal: bool,
    /// Read Jira's audit log since the last sync and list again only what it says
    /// changed (those groups' members, those projects' roles) plus the users,
    /// groups, projects and product access: a few requests instead of a full
    /// sync's thousands. A full sync stays the safety net for what the audit log
    /// does not show (ADR 0020).
    #[arg(long)]
    refresh: bool,
}

/// Progress bars on a terminal; nothing otherwise (tracing logs the run with -v).
pub struct Bars {
    bar: indicatif::ProgressBar,
}

impl Bars {
    /// Bars drawn on stderr when it is a terminal.
    pub fn on_terminal() -> Option<Arc<Bars>> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} scopes  {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        Some(Arc::new(Bars { bar }))
    }

    /// Removes the bars.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl SyncObserver for Bars {
    fn progress(&self, p: &Progress) {
        self.bar.set_length(p.scopes_known);
        self.bar.set_position(p.scopes_done);
        self.bar.set_message(format!(
            "{} requests, {} retries, {} events",
            p.requests, p.retries, p.events
        ));
    }
}

/// Progress as plain tracing lines (shown with `-v`), at most one every few
/// seconds, when stderr is not a terminal.
pub struct LogLines {
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl LogLines {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(5);

    /// A throttled line logger.
    pub fn new() -> Arc<LogLines> {
        Arc::new(LogLines {
            last: std::sync::Mutex::new(None),
        })
    }
}

impl SyncObserver for LogLines {
    fn progress(&self, p: &Progress) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < Self::EVERY) {
            return;
        }
        *last = Some(now);
        tracing::info!(
            scopes_done = p.scopes_done,
            scopes_known = p.scopes_known,
            requests = p.requests,
            retries = p.retries,
            events = p.events,
            "sync progress"
        );
    }
}

/// Runs `grantledger sync`.
pub fn run(args: SyncArgs, globals: &Globals) -> Result<ExitCode> {
    let data_dir = globals.data_dir()?;
    let conn = settings::resolve(&args.connect, data_dir.root())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // A dry run on a data directory without a log previews a first sync against an
    // empty log in a private temporary directory (random name, mode 0700, removed
    // on drop): it creates nothing here.
    let scratch = if args.dry_run && !data_dir.has_log() {
        Some(
            crate::datadir::private_tempdir("grantledger-dry-run-")
                .context("cannot create a temporary directory for the dry run")?,
        )
    } else {
        None
    };
    let log = match &scratch {
        Some(dir) => grantledger_eventlog::EventLog::open(dir.path())?,
        None => data_dir.open_log()?,
    };
    let mut jira = conn.jira;
    if let Some(c) = args.concurrency {
        jira.concurrency = usize::try_from(c).unwrap_or(1);
    }
    let concurrency = jira.concurrency;
    let bars = Bars::on_terminal();
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let report = runtime.block_on(async {
        watch_interrupts(cancel_tx, bars.clone());
        let client = JiraClient::connect(jira).await?;
        let mut opts = SyncOptions::new(conn.site_name.clone());
        opts.concurrency = concurrency;
        opts.dry_run = args.dry_run;
        opts.allow_mass_removal = args.allow_mass_removal;
        opts.refresh = args.refresh;
        if let Some(minutes) = args.deadline {
            opts.deadline = std::time::Duration::from_secs(minutes.max(1).saturating_mul(60));
        }
        opts.cancel = Some(cancel_rx.clone());
        opts.observer = Some(match &bars {
            Some(b) => b.clone() as Arc<dyn SyncObserver>,
            None => LogLines::new() as Arc<dyn SyncObserver>,
        });
        anyhow::Ok(grantledger_ingest::sync(&log, &client, opts).await?)
    });
    if let Some(b) = &bars {
        b.finish();
    }
    let interrupted = *cancel_rx.borrow();
    // The review campaigns' verification step: revocations this sync confirms
    // (or still finds in Jira) are recorded now.
    if scratch.is_none() && !args.dry_run && report.is_ok() {
        let clock: Arc<dyn grantledger_clock::Clock> =
            Arc::new(grantledger_clock::SystemClock::new());
        crate::cmd::review::remediate_and_tell(&grantledger_review::Reviews::new(
            log.clone(),
            conn.site_name.clone(),
            clock,
        ));
    }
    // The log before its directory.
    drop(log);
    drop(scratch);
    let report = report?;
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        for e in &report.dry_run_events {
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({ "event_type": e.event_type(), "event": e }),
            )?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        eprintln!("dry run: nothing was appended");
        eprint!(
            "{}",
            sync_summary(&conn.site_name, &report, globals.verbose)
        );
    } else {
        print!(
            "{}",
            sync_summary(&conn.site_name, &report, globals.verbose)
        );
    }
    if interrupted && matches!(report.outcome, Outcome::Failed { .. }) {
        eprintln!(
            "error: sync of {} interrupted: the scopes listed before Ctrl-C are recorded, the run is closed as failed, and the next sync converges",
            crate::output::safe(&conn.site_name)
        );
        return Ok(ExitCode::from(INTERRUPTED));
    }
    if let Some(line) = failure_line(&conn.site_name, &report) {
        eprintln!("error: {line}");
    }
    Ok(match report.outcome {
        Outcome::Completed => ExitCode::SUCCESS,
        Outcome::Failed { .. } => ExitCode::FAILURE,
    })
}

/// The first Ctrl-C (or SIGTERM) asks the sync to stop; a second one ends the
/// process at once (the log stays valid: appends are atomic). The signals are
/// listened for from this call on.
fn watch_interrupts(cancel: tokio::sync::watch::Sender<bool>, bars: Option<Arc<Bars>>) {
    let mut stop = match crate::signals::Stop::install() {
        Ok(stop) => stop,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C: it will end the sync abruptly");
            return;
        }
    };
    tokio::spawn(async move {
        if stop.wait().await.is_err() {
            return;
        }
        if let Some(b) = &bars {
            b.finish();
        }
        cancel.send_replace(true);
        if stop.wait().await.is_ok() {
            std::process::exit(i32::from(INTERRUPTED));
        }
    });
}
